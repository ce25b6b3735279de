//! Assessment schemes and published results (考核). A scheme is JSON (checked by the engine
//! before it is kept), versioned: saving one makes a new version, valid from a month on, and the
//! scheme of a period is the newest version valid by its first month. A published result is
//! never changed or deleted (the database refuses it); publishing a period again, after a data
//! correction, adds the next version beside the old one.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

use crate::{Actor, FlowError, FlowResult, Role, now_text, trail};

/// A kept scheme version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemeVersion {
    /// Version, from 1.
    pub version: i64,
    /// First month it applies to (`YYYY-MM`).
    pub valid_from: String,
    /// The scheme (JSON).
    pub body: String,
    /// Saved by.
    pub created_by: String,
    /// Saved at.
    pub created_at: String,
}

/// A published result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Published {
    /// The period.
    pub period: String,
    /// Version of this period's results, from 1.
    pub version: i64,
    /// The scheme version used.
    pub scheme_version: i64,
    /// What data it was computed on (the import).
    pub data_version: String,
    /// Published by.
    pub published_by: String,
    /// Published at.
    pub published_at: String,
    /// The assessment (JSON).
    pub body: String,
}

/// Keeps a new scheme version (administrators). `body` must already be a checked scheme.
pub fn save_scheme(
    conn: &mut Connection,
    actor: &Actor,
    body: &str,
    valid_from: &str,
) -> FlowResult<SchemeVersion> {
    if actor.role != Role::Admin {
        return Err(FlowError::Forbidden(
            "只有系统管理员可编辑考核方案 / only administrators edit schemes".into(),
        ));
    }
    if chrono::NaiveDate::parse_from_str(&format!("{valid_from}-01"), "%Y-%m-%d").is_err()
        || valid_from.len() != 7
    {
        return Err(FlowError::Invalid(format!(
            "生效月份应为 YYYY-MM：{valid_from} / valid_from must be YYYY-MM"
        )));
    }
    let tx = conn.transaction()?;
    let version: i64 = tx.query_row("SELECT COALESCE(MAX(version), 0) + 1 FROM schemes", [], |r| r.get(0))?;
    let now = now_text();
    tx.execute(
        "INSERT INTO schemes (version, valid_from, body, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![version, valid_from, body, actor.username, now],
    )?;
    let v = SchemeVersion {
        version,
        valid_from: valid_from.into(),
        body: body.into(),
        created_by: actor.username.clone(),
        created_at: now,
    };
    trail::append(&tx, &actor.username, "scheme.save", &format!("scheme:{version}"), None, Some(&json!(v)))?;
    tx.commit()?;
    Ok(v)
}

fn scheme_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SchemeVersion> {
    Ok(SchemeVersion {
        version: r.get(0)?,
        valid_from: r.get(1)?,
        body: r.get(2)?,
        created_by: r.get(3)?,
        created_at: r.get(4)?,
    })
}

/// The scheme of a period whose first month is `month` (`YYYY-MM`).
pub fn active_scheme(conn: &Connection, month: &str) -> FlowResult<Option<SchemeVersion>> {
    Ok(conn
        .query_row(
            "SELECT version, valid_from, body, created_by, created_at FROM schemes
             WHERE valid_from <= ?1 ORDER BY valid_from DESC, version DESC LIMIT 1",
            [month],
            scheme_row,
        )
        .optional()?)
}

/// Every scheme version, newest first.
pub fn schemes(conn: &Connection) -> FlowResult<Vec<SchemeVersion>> {
    let mut stmt = conn.prepare(
        "SELECT version, valid_from, body, created_by, created_at FROM schemes ORDER BY version DESC",
    )?;
    let rows = stmt.query_map([], scheme_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Publishes a period's result as its next version (administrators and the audit centre).
pub fn publish(
    conn: &mut Connection,
    actor: &Actor,
    period: &str,
    scheme_version: i64,
    data_version: &str,
    body: &str,
) -> FlowResult<Published> {
    if !matches!(actor.role, Role::Admin | Role::Auditor) {
        return Err(FlowError::Forbidden(
            "只有系统管理员和稽查员可发布考核结果 / only administrators and auditors publish".into(),
        ));
    }
    let tx = conn.transaction()?;
    let version: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM assessments WHERE period = ?1",
        [period],
        |r| r.get(0),
    )?;
    let now = now_text();
    tx.execute(
        "INSERT INTO assessments (period, version, scheme_version, data_version, published_by, published_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![period, version, scheme_version, data_version, actor.username, now, body],
    )?;
    trail::append(
        &tx,
        &actor.username,
        "assessment.publish",
        &format!("assessment:{period}:{version}"),
        None,
        Some(
            &json!({"period": period, "version": version, "scheme_version": scheme_version, "data_version": data_version}),
        ),
    )?;
    tx.commit()?;
    Ok(Published {
        period: period.into(),
        version,
        scheme_version,
        data_version: data_version.into(),
        published_by: actor.username.clone(),
        published_at: now,
        body: body.into(),
    })
}

/// Every published version of a period, newest first.
pub fn published(conn: &Connection, period: &str) -> FlowResult<Vec<Published>> {
    let mut stmt = conn.prepare(
        "SELECT period, version, scheme_version, data_version, published_by, published_at, body FROM assessments
         WHERE period = ?1 ORDER BY version DESC",
    )?;
    let rows = stmt.query_map([period], |r| {
        Ok(Published {
            period: r.get(0)?,
            version: r.get(1)?,
            scheme_version: r.get(2)?,
            data_version: r.get(3)?,
            published_by: r.get(4)?,
            published_at: r.get(5)?,
            body: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
