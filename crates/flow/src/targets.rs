//! Targets and control lines of indicators (预警目标线), set by administrators per indicator,
//! station (empty: the company) and period (`YYYY`, `YYYY-Qn`, `YYYY-MM`), and the weekly checks
//! recorded against them (what the indicator stood at, where it was projected to end, and the
//! warning raised). Every change is in the trail.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

use crate::{Actor, FlowError, FlowResult, Role, now_text, trail};

/// A target line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// Id.
    pub target_id: i64,
    /// Indicator code (`outage_customer_hours`, `recovery_rate`, ...).
    pub indicator: String,
    /// Station id, empty for the company.
    pub station_id: String,
    /// The period the line holds for.
    pub period: String,
    /// The line: a budget for a sum, a floor or ceiling for a ratio (as a fraction).
    pub line: f64,
    /// Why (free text).
    pub note: String,
    /// Set by.
    pub created_by: String,
    /// Set at.
    pub created_at: String,
}

/// One weekly check of a target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// The target.
    pub target_id: i64,
    /// The last day counted (`YYYY-MM-DD`).
    pub week_end: String,
    /// The indicator then.
    pub actual: Option<f64>,
    /// Projected to the period's end.
    pub projection: Option<f64>,
    /// The line as it stood that day (a budget prorated by days).
    pub line_now: Option<f64>,
    /// `ok`, `warning` (projected to cross), `breached` (crossed), `unknown` (no data).
    pub status: String,
    /// When it was checked.
    pub checked_at: String,
}

fn check_period(p: &str) -> FlowResult<()> {
    match jicha_core::calendar::Span::parse(p) {
        Some(span) if !matches!(span, jicha_core::calendar::Span::Day(_)) && span.label() == p => Ok(()),
        _ => Err(FlowError::Invalid(format!(
            "期间应为 YYYY、YYYY-Qn 或 YYYY-MM：{p} / the period must be YYYY, YYYY-Qn or YYYY-MM: {p}"
        ))),
    }
}

/// Sets (or replaces) the line of an indicator for a station and period (administrators).
pub fn set(
    conn: &mut Connection,
    actor: &Actor,
    indicator: &str,
    station_id: &str,
    period: &str,
    line: f64,
    note: &str,
) -> FlowResult<Target> {
    if actor.role != Role::Admin {
        return Err(FlowError::Forbidden(
            "只有系统管理员可设置目标线 / only administrators set targets".into(),
        ));
    }
    check_period(period)?;
    if !line.is_finite() || line < 0.0 {
        return Err(FlowError::Invalid(format!(
            "目标线应为非负数：{line} / the line must be a non-negative number"
        )));
    }
    let tx = conn.transaction()?;
    let before = get_by(&tx, indicator, station_id, period)?;
    let now = now_text();
    tx.execute(
        "INSERT INTO targets (indicator, station_id, period, line, note, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (indicator, station_id, period) DO UPDATE SET line = ?4, note = ?5, created_by = ?6, created_at = ?7",
        params![indicator, station_id, period, line, note, actor.username, now],
    )?;
    let t =
        get_by(&tx, indicator, station_id, period)?.ok_or_else(|| FlowError::NotFound("target".into()))?;
    if before.as_ref().is_some_and(|b| b.line != line) {
        // A moved line: the checks against the old one no longer say anything.
        tx.execute("DELETE FROM target_checks WHERE target_id = ?1", [t.target_id])?;
    }
    trail::append(
        &tx,
        &actor.username,
        "target.set",
        &format!("target:{}", t.target_id),
        before.as_ref().map(|b| json!(b)).as_ref(),
        Some(&json!(t)),
    )?;
    tx.commit()?;
    Ok(t)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Target> {
    Ok(Target {
        target_id: r.get(0)?,
        indicator: r.get(1)?,
        station_id: r.get(2)?,
        period: r.get(3)?,
        line: r.get(4)?,
        note: r.get(5)?,
        created_by: r.get(6)?,
        created_at: r.get(7)?,
    })
}

const COLUMNS: &str = "target_id, indicator, station_id, period, line, note, created_by, created_at";

fn get_by(conn: &Connection, indicator: &str, station: &str, period: &str) -> FlowResult<Option<Target>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM targets WHERE indicator = ?1 AND station_id = ?2 AND period = ?3"
            ),
            params![indicator, station, period],
            row,
        )
        .optional()?)
}

/// Removes a target and its checks (administrators).
pub fn remove(conn: &mut Connection, actor: &Actor, target_id: i64) -> FlowResult<()> {
    if actor.role != Role::Admin {
        return Err(FlowError::Forbidden(
            "只有系统管理员可删除目标线 / only administrators remove targets".into(),
        ));
    }
    let tx = conn.transaction()?;
    let before = tx
        .query_row(&format!("SELECT {COLUMNS} FROM targets WHERE target_id = ?1"), [target_id], row)
        .optional()?
        .ok_or_else(|| FlowError::NotFound(format!("目标线 {target_id} / target {target_id}")))?;
    tx.execute("DELETE FROM target_checks WHERE target_id = ?1", [target_id])?;
    tx.execute("DELETE FROM targets WHERE target_id = ?1", [target_id])?;
    trail::append(
        &tx,
        &actor.username,
        "target.remove",
        &format!("target:{target_id}"),
        Some(&json!(before)),
        None,
    )?;
    tx.commit()?;
    Ok(())
}

/// The targets the actor may see (a station role: its station's), by period and indicator.
pub fn list(conn: &Connection, actor: &Actor) -> FlowResult<Vec<Target>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM targets WHERE ?1 IS NULL OR station_id = ?1 ORDER BY period DESC, indicator, station_id"
    ))?;
    let rows = stmt.query_map([actor.station_scope()], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The status of the latest check of a target (weeks before it are kept as `history`), so that a
/// warning is raised only when it first appears.
pub fn last_status(conn: &Connection, target_id: i64) -> FlowResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT status FROM target_checks WHERE target_id = ?1 AND status <> 'history'
             ORDER BY week_end DESC LIMIT 1",
            [target_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Records a weekly check (replacing an earlier check of the same week).
pub fn record_check(conn: &Connection, c: &Check) -> FlowResult<()> {
    conn.execute(
        "INSERT OR REPLACE INTO target_checks (target_id, week_end, actual, projection, line_now, status, checked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![c.target_id, c.week_end, c.actual, c.projection, c.line_now, c.status, c.checked_at],
    )?;
    Ok(())
}

/// The checks of a target, oldest first.
pub fn checks(conn: &Connection, target_id: i64) -> FlowResult<Vec<Check>> {
    let mut stmt = conn.prepare(
        "SELECT target_id, week_end, actual, projection, line_now, status, checked_at FROM target_checks
         WHERE target_id = ?1 ORDER BY week_end",
    )?;
    let rows = stmt.query_map([target_id], |r| {
        Ok(Check {
            target_id: r.get(0)?,
            week_end: r.get(1)?,
            actual: r.get(2)?,
            projection: r.get(3)?,
            line_now: r.get(4)?,
            status: r.get(5)?,
            checked_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
