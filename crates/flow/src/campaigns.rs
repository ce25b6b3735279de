//! Census and special-audit campaigns (用电营业普查、专项稽查): a named selection of customers
//! (kept, so that the forms, the results and the findings refer to the same list), made by the
//! audit centre.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

use crate::{Actor, FlowError, FlowResult, Role, now_text, trail};

/// A campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    /// Id.
    pub campaign_id: i64,
    /// Name, e.g. 2026年营业普查.
    pub name: String,
    /// `census` or `audit`.
    pub kind: String,
    /// Share of residents sampled.
    pub share: f64,
    /// Seed of the sample.
    pub seed: i64,
    /// Customers selected.
    pub customers: i64,
    /// Made by.
    pub created_by: String,
    /// Made at.
    pub created_at: String,
}

const COLUMNS: &str = "c.campaign_id, c.name, c.kind, c.share, c.seed,
    (SELECT COUNT(*) FROM campaign_customers x WHERE x.campaign_id = c.campaign_id), c.created_by, c.created_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Campaign> {
    Ok(Campaign {
        campaign_id: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        share: r.get(3)?,
        seed: r.get(4)?,
        customers: r.get(5)?,
        created_by: r.get(6)?,
        created_at: r.get(7)?,
    })
}

/// Keeps a campaign and its selection of (customer, station) (administrators and auditors).
pub fn create(
    conn: &mut Connection,
    actor: &Actor,
    name: &str,
    kind: &str,
    share: f64,
    seed: i64,
    selected: &[(String, String)],
) -> FlowResult<Campaign> {
    if !matches!(actor.role, Role::Admin | Role::Auditor) {
        return Err(FlowError::Forbidden(
            "只有稽查中心可发起普查或专项稽查 / only the audit centre starts campaigns".into(),
        ));
    }
    if !matches!(kind, "census" | "audit") {
        return Err(FlowError::Invalid(format!(
            "类型应为 census 或 audit：{kind} / kind must be census or audit"
        )));
    }
    if name.trim().is_empty() {
        return Err(FlowError::Invalid("请填写名称 / a name is needed".into()));
    }
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO campaigns (name, kind, share, seed, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![name.trim(), kind, share, seed, actor.username, now_text()],
    )?;
    let id = tx.last_insert_rowid();
    {
        let mut stmt = tx.prepare(
            "INSERT INTO campaign_customers (campaign_id, customer_id, station_id, check_id) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (i, (customer, station)) in selected.iter().enumerate() {
            stmt.execute(params![id, customer, station, format!("C{id:03}-{:06}", i + 1)])?;
        }
    }
    let c =
        tx.query_row(&format!("SELECT {COLUMNS} FROM campaigns c WHERE c.campaign_id = ?1"), [id], row)?;
    trail::append(&tx, &actor.username, "campaign.create", &format!("campaign:{id}"), None, Some(&json!(c)))?;
    tx.commit()?;
    Ok(c)
}

/// A campaign by id.
pub fn get(conn: &Connection, id: i64) -> FlowResult<Campaign> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM campaigns c WHERE c.campaign_id = ?1"), [id], row)
        .optional()?
        .ok_or_else(|| FlowError::NotFound(format!("普查 {id} / campaign {id}")))
}

/// Every campaign, newest first.
pub fn list(conn: &Connection) -> FlowResult<Vec<Campaign>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM campaigns c ORDER BY c.campaign_id DESC"))?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The campaign's customers: (customer, station, check id), in selection order.
pub fn customers(conn: &Connection, id: i64) -> FlowResult<Vec<(String, String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT customer_id, station_id, check_id FROM campaign_customers WHERE campaign_id = ?1 ORDER BY check_id",
    )?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
