//! One audit run: the chosen themes over a window, each either run (with its findings and time)
//! or not run with the reason.

use std::time::Instant;

use crate::error::{EngineError, EngineResult};
use crate::finding::Finding;
use crate::session::Session;
use crate::theme::{Params, Theme, Window};
use crate::themes::registry;

/// What became of one theme in a run.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Ran: how many findings, in how many seconds.
    Ran {
        /// Findings.
        findings: usize,
        /// Wall time.
        seconds: f64,
    },
    /// Not run, never "clean": why.
    NotRun(String),
}

/// One theme's line of the run record.
#[derive(Debug, Clone)]
pub struct ThemeRun {
    /// Theme code.
    pub code: &'static str,
    /// Parameters used.
    pub params: Params,
    /// What happened.
    pub outcome: Outcome,
}

/// The result of an audit run.
#[derive(Debug, Clone)]
pub struct AuditRun {
    /// The window.
    pub window: Window,
    /// Every theme asked for, in catalogue order.
    pub themes: Vec<ThemeRun>,
    /// The findings, sorted by theme and entity.
    pub findings: Vec<Finding>,
}

/// The themes of `codes` (every theme when empty), in catalogue order; an unknown code is bad input.
pub fn select(codes: &[String]) -> EngineResult<Vec<&'static dyn Theme>> {
    let all = registry();
    if codes.is_empty() {
        return Ok(all.to_vec());
    }
    let mut out = Vec::new();
    for code in codes {
        let code = code.trim().to_ascii_uppercase();
        let Some(t) = all.iter().find(|t| t.code() == code) else {
            let known: Vec<&str> = all.iter().map(|t| t.code()).collect();
            return Err(EngineError::BadInput(format!(
                "未知的稽查主题 {code}；可用：{} / unknown theme {code}; known: {}",
                known.join(", "),
                known.join(", ")
            )));
        };
        if !out.iter().any(|o: &&dyn Theme| o.code() == t.code()) {
            out.push(*t);
        }
    }
    out.sort_by_key(|t| all.iter().position(|a| a.code() == t.code()));
    Ok(out)
}

/// Why a theme cannot run on the stored data, or `None` when it can (loads what it reads).
pub fn not_run_reason(session: &mut Session, theme: &dyn Theme) -> EngineResult<Option<String>> {
    let tables: Vec<&str> = theme.needs().iter().map(|n| n.table).collect();
    session.require(&tables)?;
    let mut reasons = Vec::new();
    for n in theme.needs() {
        if let Some(r) = session.missing(n.table, n.columns)? {
            reasons.push(r);
        }
    }
    Ok((!reasons.is_empty()).then(|| reasons.join("; ")))
}

/// Runs `themes` over `window` with their default parameters.
pub fn run(session: &mut Session, window: Window, themes: &[&'static dyn Theme]) -> EngineResult<AuditRun> {
    let mut runs = Vec::new();
    let mut findings = Vec::new();
    for &theme in themes {
        let params = Params::defaults(theme);
        let outcome = match not_run_reason(session, theme)? {
            Some(reason) => Outcome::NotRun(reason),
            None => {
                let started = Instant::now();
                let mut found = theme.run(session, &window, &params)?;
                let seconds = started.elapsed().as_secs_f64();
                let n = found.len();
                findings.append(&mut found);
                Outcome::Ran { findings: n, seconds }
            }
        };
        runs.push(ThemeRun { code: theme.code(), params, outcome });
    }
    findings.sort_by(|a, b| (a.theme, &a.entity_id).cmp(&(b.theme, &b.entity_id)));
    Ok(AuditRun { window, themes: runs, findings })
}
