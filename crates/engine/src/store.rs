//! Keeping an audit run in the data dir: its findings and run record (see `jicha_store::findings`).

use jicha_store::findings::{FindingRow, RunRecord, ThemeRecord, save};

use crate::audit::{AuditRun, Outcome};
use crate::error::EngineResult;
use crate::finding::Finding;
use crate::session::Session;

/// The stored form of a finding.
pub fn row(f: &Finding) -> FindingRow {
    FindingRow {
        finding_id: f.finding_id.clone(),
        theme: f.theme.to_string(),
        entity_type: f.entity_type.code().to_string(),
        entity_id: f.entity_id.clone(),
        station_id: f.station_id.clone(),
        period: f.period.clone(),
        severity: f.severity.code().to_string(),
        evidence: serde_json::Value::Object(f.evidence.clone()).to_string(),
        amount_at_risk: f.amount_at_risk,
    }
}

/// Stores a run: replaces the period's findings of the themes that ran; returns the run id.
pub fn keep(session: &Session, run: &AuditRun, started_at: &str) -> EngineResult<i64> {
    let themes = run
        .themes
        .iter()
        .map(|t| {
            let (outcome, findings, seconds) = match &t.outcome {
                Outcome::Ran { findings, seconds } => ("ran".to_string(), *findings as u64, *seconds),
                Outcome::NotRun(reason) => (format!("not run: {reason}"), 0, 0.0),
                Outcome::Failed(reason) => (format!("failed: {reason}"), 0, 0.0),
            };
            ThemeRecord {
                theme: t.code.to_string(),
                parameters: t.params.to_json().to_string(),
                outcome,
                findings,
                seconds,
            }
        })
        .collect();
    let record = RunRecord {
        period: run.window.label(),
        as_of: run.window.as_of.to_string(),
        started_at: started_at.to_string(),
        themes,
    };
    let rows: Vec<FindingRow> = run.findings.iter().map(row).collect();
    Ok(save(session.dir(), &record, &rows)?)
}
