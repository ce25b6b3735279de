//! The on-site audit programme (现场稽查): each month a plan over the nine specialties with a rotating
//! monthly lead (月度责任人); problems recorded on site go into the station's on-site order of the
//! month and through the same closed loop as findings.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use crate::orders::{self, FindingSnapshot};
use crate::users::{self, User};
use crate::{Actor, FlowError, FlowResult, Role, now_text, trail};

/// A problem found on site.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// Id (0 before it is recorded).
    #[serde(default)]
    pub problem_id: i64,
    /// Month `YYYY-MM`.
    pub month: String,
    /// Station.
    pub station_id: String,
    /// Specialty code (one of the nine).
    pub specialty: String,
    /// What it concerns: `station`, `customer`, `meter`, ...
    #[serde(default = "station_entity")]
    pub entity_type: String,
    /// Its id (the station's id for a station-wide problem).
    #[serde(default)]
    pub entity_id: String,
    /// 发现问题.
    pub description: String,
    /// 整改措施.
    pub measure: String,
    /// 责任人.
    pub responsible: String,
    /// 整改期限.
    #[serde(default)]
    pub deadline: String,
    /// The order it went into.
    #[serde(default)]
    pub order_id: i64,
    /// Who recorded it.
    #[serde(default)]
    pub recorded_by: String,
}

fn station_entity() -> String {
    "station".into()
}

/// The month's lead: the users with the lead role take turns month by month.
pub fn lead_of(conn: &Connection, month: &str) -> FlowResult<Option<User>> {
    let leads = users::with_role(conn, Role::Lead, None)?;
    if leads.is_empty() {
        return Ok(None);
    }
    let (y, m) = parse_month(month)?;
    let index = (y as usize * 12 + m as usize - 1) % leads.len();
    Ok(leads.into_iter().nth(index))
}

fn parse_month(month: &str) -> FlowResult<(u32, u32)> {
    let bad = || FlowError::Invalid(format!("月份应为 YYYY-MM：{month} / a month is YYYY-MM: {month}"));
    let (y, m) = month.split_once('-').ok_or_else(bad)?;
    let (y, m): (u32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if y < 2000 || !(1..=12).contains(&m) || month.len() != 7 {
        return Err(bad());
    }
    Ok((y, m))
}

/// The theme code an on-site problem of a specialty carries in an order.
pub fn theme_of(specialty: &str) -> String {
    format!("ONSITE-{}", specialty.to_ascii_uppercase())
}

/// Records a problem found on site (audit centre); it joins the station's open on-site order of
/// the month or starts one. `specialties` are the valid specialty codes.
pub fn record(
    conn: &mut Connection,
    actor: &Actor,
    specialties: &[&str],
    mut p: Problem,
) -> FlowResult<Problem> {
    if !actor.role.is_audit_centre() {
        return Err(FlowError::Forbidden(
            "现场问题由稽查人员登记 / on-site problems are recorded by auditors".into(),
        ));
    }
    parse_month(&p.month)?;
    if !specialties.contains(&p.specialty.as_str()) {
        return Err(FlowError::Invalid(format!(
            "未知专业：{} / unknown specialty: {}",
            p.specialty, p.specialty
        )));
    }
    for (value, zh, en) in [
        (&p.station_id, "供电所", "station"),
        (&p.description, "发现问题", "problem"),
        (&p.measure, "整改措施", "measure"),
        (&p.responsible, "责任人", "person responsible"),
    ] {
        if value.trim().is_empty() {
            return Err(FlowError::Invalid(format!("{zh}不能为空 / {en} is required")));
        }
    }
    if p.entity_id.trim().is_empty() {
        p.entity_type = "station".into();
        p.entity_id = p.station_id.clone();
    }
    if p.deadline.is_empty() {
        p.deadline = default_deadline(&p.month)?;
    }
    let title = format!("{} 现场稽查问题整改", p.month);
    let existing: Option<i64> = conn
        .query_row(
            "SELECT order_id FROM orders WHERE source = 'onsite' AND station_id = ?1 AND title = ?2
             AND state IN ('dispatched', 'verifying', 'rectifying') ORDER BY order_id DESC LIMIT 1",
            params![p.station_id, title],
            |r| r.get(0),
        )
        .optional()?;
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO onsite_problems (month, station_id, specialty, entity_type, entity_id, description, measure,
             responsible, recorded_by, recorded_at, order_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)",
        params![
            p.month,
            p.station_id,
            p.specialty,
            p.entity_type,
            p.entity_id,
            p.description.trim(),
            p.measure.trim(),
            p.responsible.trim(),
            actor.username,
            now_text()
        ],
    )?;
    p.problem_id = tx.last_insert_rowid();
    p.recorded_by = actor.username.clone();
    let snapshot = FindingSnapshot {
        finding_id: format!("onsite-{}", p.problem_id),
        theme: theme_of(&p.specialty),
        entity_type: p.entity_type.clone(),
        entity_id: p.entity_id.clone(),
        station_id: Some(p.station_id.clone()),
        period: p.month.clone(),
        severity: "medium".into(),
        evidence: json!({"description": p.description.trim(), "measure": p.measure.trim(),
                         "responsible": p.responsible.trim()})
        .to_string(),
        amount_at_risk: None,
    };
    let order_id = match existing {
        Some(id) => {
            orders::add_item(&tx, &actor.username, id, &snapshot)?;
            id
        }
        None => orders::new_order(&tx, actor, &p.station_id, "onsite", &title, &p.deadline)?.0,
    };
    if existing.is_none() {
        orders::add_item(&tx, &actor.username, order_id, &snapshot)?;
    }
    tx.execute(
        "UPDATE onsite_problems SET order_id = ?1 WHERE problem_id = ?2",
        params![order_id, p.problem_id],
    )?;
    p.order_id = order_id;
    trail::append(
        &tx,
        &actor.username,
        "onsite.record",
        &format!("onsite:{}", p.problem_id),
        None,
        Some(&serde_json::to_value(&p).unwrap_or_default()),
    )?;
    tx.commit()?;
    Ok(p)
}

/// The 10th of the month after, the usual rectification deadline of an on-site problem.
fn default_deadline(month: &str) -> FlowResult<String> {
    let (y, m) = parse_month(month)?;
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Ok(format!("{y:04}-{m:02}-10"))
}

/// The problems of a month as the user may see them, with their order's state.
pub fn problems(conn: &Connection, actor: &Actor, month: &str) -> FlowResult<Vec<(Problem, String)>> {
    let mut stmt = conn.prepare(
        "SELECT p.problem_id, p.month, p.station_id, p.specialty, p.entity_type, p.entity_id, p.description,
                p.measure, p.responsible, o.deadline, p.order_id, p.recorded_by, o.state
         FROM onsite_problems p JOIN orders o ON o.order_id = p.order_id
         WHERE p.month = ?1 AND (?2 IS NULL OR p.station_id = ?2) ORDER BY p.station_id, p.specialty, p.problem_id",
    )?;
    let rows = stmt.query_map(params![month, actor.station_scope()], |r| {
        Ok((
            Problem {
                problem_id: r.get(0)?,
                month: r.get(1)?,
                station_id: r.get(2)?,
                specialty: r.get(3)?,
                entity_type: r.get(4)?,
                entity_id: r.get(5)?,
                description: r.get(6)?,
                measure: r.get(7)?,
                responsible: r.get(8)?,
                deadline: r.get(9)?,
                order_id: r.get(10)?,
                recorded_by: r.get(11)?,
            },
            r.get(12)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Flow;

    #[test]
    fn problems_of_a_station_and_month_share_one_order_and_leads_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Flow::new(dir.path()).open().unwrap();
        let sys = Actor::system();
        users::add(&mut conn, &sys, "lead1", "", Role::Lead, None, "password1").unwrap();
        users::add(&mut conn, &sys, "lead2", "", Role::Lead, None, "password1").unwrap();
        let a = lead_of(&conn, "2025-11").unwrap().unwrap().username;
        let b = lead_of(&conn, "2025-12").unwrap().unwrap().username;
        assert_ne!(a, b);
        let p = |spec: &str| Problem {
            problem_id: 0,
            month: "2025-12".into(),
            station_id: "S1".into(),
            specialty: spec.into(),
            entity_type: String::new(),
            entity_id: String::new(),
            description: "台账不全".into(),
            measure: "补齐台账".into(),
            responsible: "张三".into(),
            deadline: String::new(),
            order_id: 0,
            recorded_by: String::new(),
        };
        let specs = ["billing", "metering"];
        let one = record(&mut conn, &sys, &specs, p("billing")).unwrap();
        let two = record(&mut conn, &sys, &specs, p("metering")).unwrap();
        assert_eq!(one.order_id, two.order_id);
        assert_eq!(one.deadline, "2026-01-10");
        assert!(record(&mut conn, &sys, &specs, p("astrology")).is_err());
        assert_eq!(problems(&conn, &sys, "2025-12").unwrap().len(), 2);
        let d = orders::get(&conn, &sys, one.order_id).unwrap();
        assert_eq!(d.items.len(), 2);
        assert_eq!(d.order.source, "onsite");
    }
}
