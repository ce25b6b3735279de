//! Findings (疑似问题) and audit runs in the data dir: rerunning a period replaces that period's
//! findings of the themes run, in one transaction, under the data dir's lock.

use rusqlite::{Connection, params};

use crate::error::{StoreError, StoreResult};
use crate::layout::DataDir;

/// One finding as stored (and as an audit order keeps its copy).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FindingRow {
    /// Stable id of (theme, entity type, entity id, period).
    pub finding_id: String,
    /// Theme code.
    pub theme: String,
    /// Entity type.
    pub entity_type: String,
    /// Entity id.
    pub entity_id: String,
    /// 供电单位编码.
    pub station_id: Option<String>,
    /// The audited month `YYYY-MM`.
    pub period: String,
    /// `high`, `medium` or `low`.
    pub severity: String,
    /// Evidence, a JSON object of named numbers.
    pub evidence: String,
    /// 涉及电费, yuan.
    pub amount_at_risk: Option<f64>,
}

/// One theme's part of an audit run.
#[derive(Debug, Clone, PartialEq)]
pub struct ThemeRecord {
    /// Theme code.
    pub theme: String,
    /// Parameters used, JSON.
    pub parameters: String,
    /// `ran` or `not run: <reason>`.
    pub outcome: String,
    /// Findings.
    pub findings: u64,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// An audit run to record.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The audited month.
    pub period: String,
    /// The as-of date.
    pub as_of: String,
    /// When it started, local time.
    pub started_at: String,
    /// Each theme asked for.
    pub themes: Vec<ThemeRecord>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_runs (run_id INTEGER PRIMARY KEY, period TEXT NOT NULL,
    as_of TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
    data_version TEXT NOT NULL, themes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS findings (finding_id TEXT PRIMARY KEY, theme TEXT NOT NULL,
    entity_type TEXT NOT NULL, entity_id TEXT NOT NULL, station_id TEXT, period TEXT NOT NULL,
    severity TEXT NOT NULL, evidence TEXT NOT NULL, amount_at_risk REAL, run_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS findings_period_theme ON findings (period, theme);
DROP INDEX IF EXISTS findings_period_station;
DROP INDEX IF EXISTS findings_period_amount;
CREATE INDEX IF NOT EXISTS findings_list_station ON findings
    (period, station_id, amount_at_risk, finding_id, severity, theme);
CREATE INDEX IF NOT EXISTS findings_list ON findings
    (period, amount_at_risk, finding_id, station_id, severity, theme);
CREATE INDEX IF NOT EXISTS findings_entity ON findings (entity_type, entity_id);";

// The findings list (the web app) pages through a period's findings by money, whole or of one
// station, filtered by severity or theme: its two indexes hold every column it filters and sorts
// on, so counting the matches and skipping to a page never reads the findings' evidence.

/// Replaces the findings of `run.period` for the themes that ran and records the run; returns the
/// run id. Themes that did not run keep their earlier findings: "not run" is not "clean".
pub fn save(dir: &DataDir, run: &RunRecord, findings: &[FindingRow]) -> StoreResult<i64> {
    if !dir.exists() {
        return Err(StoreError::Missing(dir.root().to_owned()));
    }
    let lock = dir.lock()?;
    let mut conn = Connection::open(dir.database())?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.execute_batch(SCHEMA)?;
    let tx = conn.transaction()?;
    let data_version = crate::relational::data_version(&tx).ok().flatten().unwrap_or_else(|| "0".to_string());
    let themes_json = serde_json::Value::Array(
        run.themes
            .iter()
            .map(|t| {
                serde_json::json!({
                    "theme": t.theme,
                    "parameters": serde_json::from_str::<serde_json::Value>(&t.parameters).unwrap_or_default(),
                    "outcome": t.outcome,
                    "findings": t.findings,
                    "seconds": t.seconds,
                })
            })
            .collect(),
    );
    let finished = chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
    tx.execute(
        "INSERT INTO audit_runs (period, as_of, started_at, finished_at, data_version, themes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![run.period, run.as_of, run.started_at, finished, data_version, themes_json.to_string()],
    )?;
    let run_id = tx.last_insert_rowid();
    {
        let mut delete = tx.prepare("DELETE FROM findings WHERE period = ?1 AND theme = ?2")?;
        for t in run.themes.iter().filter(|t| t.outcome == "ran") {
            delete.execute(params![run.period, t.theme])?;
        }
        let mut insert = tx.prepare(
            "INSERT OR REPLACE INTO findings (finding_id, theme, entity_type, entity_id, station_id, period,
                severity, evidence, amount_at_risk, run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for f in findings {
            insert.execute(params![
                f.finding_id,
                f.theme,
                f.entity_type,
                f.entity_id,
                f.station_id,
                f.period,
                f.severity,
                f.evidence,
                f.amount_at_risk,
                run_id
            ])?;
        }
    }
    tx.commit()?;
    drop(lock);
    Ok(run_id)
}

/// The stored findings of a period, ordered by theme and entity.
pub fn load(dir: &DataDir, period: &str) -> StoreResult<Vec<FindingRow>> {
    let conn = crate::relational::open_read_only(&dir.database())?;
    let exists: bool = conn
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'findings'", [], |r| r.get::<_, i64>(0))
        .map(|n| n > 0)?;
    if !exists {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare(
        "SELECT finding_id, theme, entity_type, entity_id, station_id, period, severity, evidence, amount_at_risk
         FROM findings WHERE period = ?1 ORDER BY theme, entity_id",
    )?;
    let rows = stmt.query_map([period], |r| {
        Ok(FindingRow {
            finding_id: r.get(0)?,
            theme: r.get(1)?,
            entity_type: r.get(2)?,
            entity_id: r.get(3)?,
            station_id: r.get(4)?,
            period: r.get(5)?,
            severity: r.get(6)?,
            evidence: r.get(7)?,
            amount_at_risk: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
