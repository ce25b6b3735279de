//! One audit run: the chosen themes over a window, each either run (with its findings and time)
//! or not run with the reason.

use std::time::Instant;

use std::path::Path;

use crate::config::{Config, ConfigProblem};
use crate::custom::{Broken, load_all};
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
    /// A custom theme's query failed: the error (the other themes still ran).
    Failed(String),
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
    /// Seconds spent loading the relational tables the themes read.
    pub load_seconds: f64,
}

/// The catalogue of one process: the built-in themes, the custom themes of the data dir (and the
/// custom files that could not be loaded), and the validated `jicha.toml`.
pub struct Catalogue {
    /// Every theme, built-in first in catalogue order, then the custom ones by file name.
    pub themes: Vec<&'static dyn Theme>,
    /// Custom theme files that were skipped, with why.
    pub broken: Vec<Broken>,
    /// Settings per theme.
    pub config: Config,
}

impl Catalogue {
    /// Loads the custom themes and `jicha.toml` of the data dir at `root`. A broken custom theme
    /// is skipped (and listed); a bad `jicha.toml` stops everything, every problem named.
    pub fn load(root: &Path) -> Result<Catalogue, Vec<ConfigProblem>> {
        let builtin = registry();
        let (custom, broken) = load_all(root, builtin);
        let mut themes: Vec<&'static dyn Theme> = builtin.to_vec();
        themes.extend(custom.into_iter().map(|c| c as &'static dyn Theme));
        let config = Config::load(root, &themes)?;
        Ok(Catalogue { themes, broken, config })
    }

    /// The built-in themes only, every default (for tests and tools without a data dir).
    pub fn builtin() -> Catalogue {
        Catalogue { themes: registry().to_vec(), broken: Vec::new(), config: Config::default() }
    }

    /// A theme by code.
    pub fn get(&self, code: &str) -> Option<&'static dyn Theme> {
        self.themes.iter().copied().find(|t| t.code() == code)
    }

    /// The monthly (`daily` false) or daily themes of `codes` (all of that kind when empty), in
    /// catalogue order; an unknown code, or one of the other kind, is bad input.
    pub fn select(&self, codes: &[String], daily: bool) -> EngineResult<Vec<&'static dyn Theme>> {
        let of_kind: Vec<&'static dyn Theme> =
            self.themes.iter().copied().filter(|t| t.daily() == daily).collect();
        if codes.is_empty() {
            return Ok(of_kind);
        }
        let mut out: Vec<&'static dyn Theme> = Vec::new();
        for code in codes {
            let code = code.trim().to_ascii_uppercase();
            let Some(t) = of_kind.iter().find(|t| t.code() == code) else {
                let known: Vec<&str> = of_kind.iter().map(|t| t.code()).collect();
                let hint = if self.get(&code).is_some() {
                    if daily {
                        "（月度主题请用 jicha audit / a monthly theme: use jicha audit）"
                    } else {
                        "（日监测主题请用 jicha daily / a daily theme: use jicha daily）"
                    }
                } else {
                    ""
                };
                return Err(EngineError::BadInput(format!(
                    "未知的稽查主题 {code}{hint}；可用：{} / unknown theme {code}; known: {}",
                    known.join(", "),
                    known.join(", ")
                )));
            };
            if !out.iter().any(|o| o.code() == t.code()) {
                out.push(*t);
            }
        }
        out.sort_by_key(|t| of_kind.iter().position(|a| a.code() == t.code()));
        Ok(out)
    }
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

/// Runs `themes` over `window` with the catalogue's settings (parameters, on/off, severity).
/// A custom theme whose query fails is reported as failed and the others still run.
pub fn run(
    session: &mut Session,
    window: Window,
    catalogue: &Catalogue,
    themes: &[&'static dyn Theme],
) -> EngineResult<AuditRun> {
    // Every table the themes read, loaded at once (in parallel) before the first theme runs.
    let loading = Instant::now();
    let mut tables: Vec<&str> = themes.iter().flat_map(|t| t.needs().iter().map(|n| n.table)).collect();
    tables.sort_unstable();
    tables.dedup();
    session.require(&tables)?;
    let load_seconds = loading.elapsed().as_secs_f64();
    // What cannot run is settled first; the rest run side by side (see `run_side_by_side`).
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(themes.len());
    let mut params_of = Vec::with_capacity(themes.len());
    let mut runnable = Vec::new();
    for (i, &theme) in themes.iter().enumerate() {
        let settings = catalogue.config.settings(theme);
        let outcome = if !settings.enabled {
            Some(Outcome::NotRun("已在 jicha.toml 中停用 / switched off in jicha.toml".to_string()))
        } else if let Some(reason) = theme.unconfigured(&settings.params) {
            Some(Outcome::NotRun(reason))
        } else {
            not_run_reason(session, theme)?.map(Outcome::NotRun)
        };
        if outcome.is_none() {
            runnable.push(i);
        }
        outcomes.push(outcome);
        params_of.push((settings.params, settings.severity));
    }
    let mut results = run_side_by_side(session, &window, themes, &params_of, &runnable);
    // A built-in theme's error fails the run (the themes not started after it have no result).
    let built_in_failed = runnable
        .iter()
        .zip(&results)
        .position(|(i, r)| themes[*i].custom_source().is_none() && matches!(r, Some(Err(_))));
    if let Some(k) = built_in_failed
        && let Some(Err(e)) = results.swap_remove(k)
    {
        return Err(e);
    }
    let mut findings = Vec::new();
    for (i, result) in runnable.into_iter().zip(results) {
        outcomes[i] = Some(match result.expect("every theme ran when none failed") {
            Ok((mut found, seconds)) => {
                if let Some(sev) = params_of[i].1 {
                    found.iter_mut().for_each(|f| f.severity = sev);
                }
                let n = found.len();
                findings.append(&mut found);
                Outcome::Ran { findings: n, seconds }
            }
            // Only a custom theme's error is left: its own failure, the others ran.
            Err(e) => Outcome::Failed(e.to_string()),
        });
    }
    let runs = themes
        .iter()
        .zip(params_of)
        .zip(outcomes)
        .map(|((theme, (params, _)), outcome)| ThemeRun {
            code: theme.code(),
            params,
            outcome: outcome.expect("every theme has an outcome"),
        })
        .collect();
    findings.sort_by(|a, b| (a.theme, &a.entity_id).cmp(&(b.theme, &b.entity_id)));
    Ok(AuditRun { window, themes: runs, findings, load_seconds })
}

/// What one theme run gave: its findings and its wall time, or its error.
type Ran = EngineResult<(Vec<Finding>, f64)>;

/// Runs `themes[i]` for each `i` of `runnable` on as many threads as the machine has cores (at
/// most four: each running theme holds its own intermediate results), long-running themes
/// first; the results come back in the order of `runnable` (None for a theme not started because a
/// built-in one failed). Themes share the session's memo, so
/// two asking for one intermediate result compute it once. After a built-in theme fails no
/// further theme starts. A theme's time is its own wall time, which other themes running beside
/// it lengthen.
fn run_side_by_side(
    session: &Session,
    window: &Window,
    themes: &[&'static dyn Theme],
    params_of: &[(Params, Option<crate::finding::Severity>)],
    runnable: &[usize],
) -> Vec<Option<Ran>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let mut order: Vec<usize> = (0..runnable.len()).collect();
    order.sort_by_key(|k| !themes[runnable[*k]].long_running());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4).min(order.len());
    let (next, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
    let results: Mutex<Vec<Option<Ran>>> = Mutex::new((0..runnable.len()).map(|_| None).collect());
    let work = || {
        loop {
            let at = next.fetch_add(1, Ordering::SeqCst);
            if at >= order.len() || stop.load(Ordering::SeqCst) {
                return;
            }
            let k = order[at];
            let theme = themes[runnable[k]];
            let started = Instant::now();
            let result = theme
                .run(session, window, &params_of[runnable[k]].0)
                .map(|found| (found, started.elapsed().as_secs_f64()));
            if result.is_err() && theme.custom_source().is_none() {
                stop.store(true, Ordering::SeqCst);
            }
            if let Ok(mut r) = results.lock() {
                r[k] = Some(result);
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(work);
        }
        work();
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}
