//! `jicha serve`: the web app and the JSON API from one binary, every asset embedded.
//!
//! Pages are rendered on the server (maud) in Simplified Chinese, English by a switch; charts are
//! drawn by ECharts, installed from the npm registry at build time and served from the binary. The
//! API under `/api` has the same authorization as the pages: both go through [`auth`], and every
//! query a station user makes is limited to their station by [`jicha_flow::Actor::station_scope`].

pub mod api;
pub mod assess;
pub mod auth;
pub mod briefing;
pub mod census;
pub mod data;
pub mod i18n;
pub mod indicators;
pub mod monthly;
pub mod notices;
pub mod openapi;
pub mod pages;
pub mod schedule;
pub mod warnings;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use jicha_engine::audit::Catalogue;
use jicha_flow::{Flow, FlowError};
use jicha_store::layout::DataDir;
use rusqlite::Connection;

/// A small pool of SQLite connections (opening one costs more than a query).
struct Pool {
    idle: Mutex<Vec<Connection>>,
    open: Box<dyn Fn() -> Result<Connection, AppError> + Send + Sync>,
}

impl Pool {
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, AppError>) -> Result<T, AppError> {
        let conn = self.idle.lock().map_err(|_| AppError::internal("pool"))?.pop();
        let mut conn = match conn {
            Some(c) => c,
            None => (self.open)()?,
        };
        let out = f(&mut conn);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < 64
        {
            idle.push(conn);
        }
        out
    }
}

/// (latest audit run, station scope, period).
type SummaryKey = (i64, Option<String>, String);

/// What every request handler shares.
pub struct App {
    root: PathBuf,
    flow: Flow,
    catalogue: Catalogue,
    flow_pool: Pool,
    data_pool: Pool,
    /// Dashboard figures by (latest audit run, station scope, period): they change only when an
    /// audit stores findings, and a county's dashboard is read far more often than it is audited.
    summaries: Mutex<HashMap<SummaryKey, data::Summary>>,
    /// How many findings match each filter of the list, per audit run.
    counts: data::Counts,
    /// The stored series as of the latest import, opened once per import (the Parquet footers,
    /// statistics and page indexes are read once, not per request).
    series: Mutex<Option<(i64, Arc<Stored>)>>,
    /// Indicators computed per (import, span), kept a few minutes (the closed loop's figures in
    /// them change as orders move).
    pub indicators: indicators::Cache,
}

/// The stored series as one import left them.
pub struct Stored {
    /// The query engine (area supply).
    pub session: jicha_engine::Session,
    /// Point reads of customers' daily consumption (charts, customer pages), with the windows
    /// read recently kept in memory.
    pub consumption: jicha_store::lookup::ConsumptionIndex,
}

/// Shared state.
pub type Shared = Arc<App>;

impl App {
    /// The app over the data dir at `root` (the closed loop's database is created if needed).
    pub fn new(root: &Path) -> anyhow::Result<Shared> {
        let flow = Flow::new(root);
        flow.open()?;
        let catalogue = match Catalogue::load(root) {
            Ok(c) => c,
            Err(problems) => {
                for p in &problems {
                    tracing::warn!(problem = %p, "jicha.toml or a custom theme has a problem; using the built-in catalogue");
                }
                Catalogue::builtin()
            }
        };
        let f = flow.clone();
        let dir = DataDir::new(root);
        Ok(Arc::new(App {
            root: root.to_owned(),
            flow: flow.clone(),
            catalogue,
            summaries: Mutex::new(HashMap::new()),
            counts: data::Counts::default(),
            series: Mutex::new(None),
            indicators: indicators::Cache::default(),
            flow_pool: Pool {
                idle: Mutex::new(Vec::new()),
                open: Box::new(move || f.connect().map_err(AppError::from)),
            },
            data_pool: Pool {
                idle: Mutex::new(Vec::new()),
                open: Box::new(move || {
                    if !dir.database().exists() {
                        return Err(AppError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "还没有导入数据（jicha import）/ nothing imported yet (jicha import)",
                        ));
                    }
                    let conn = jicha_store::relational::open_read_only(&dir.database())
                        .map_err(|e| AppError::internal(&e.to_string()))?;
                    // Pages read the same findings and archive rows again and again: keep them in
                    // memory (64 MiB of cache per connection, the file mapped rather than read).
                    conn.execute_batch("PRAGMA cache_size = -65536; PRAGMA mmap_size = 1073741824;")?;
                    Ok(conn)
                }),
            },
        }))
    }

    /// The data dir.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The closed loop.
    pub fn flow(&self) -> &Flow {
        &self.flow
    }

    /// The theme catalogue (names, specialties).
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The findings list's counts per filter.
    pub fn counts(&self) -> &data::Counts {
        &self.counts
    }

    /// Runs `f` with a connection to `flow.sqlite`.
    pub fn with_flow<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        self.flow_pool.with(f)
    }

    /// Runs `f` with a read-only connection to the imported data.
    pub fn with_data<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        self.data_pool.with(f)
    }

    /// The dashboard's figures, computed once per audit run, scope and period.
    pub fn summary(
        &self,
        conn: &Connection,
        scope: Option<&str>,
        period: &str,
    ) -> Result<data::Summary, AppError> {
        let run = data::latest_run(conn);
        let key = (run, scope.map(str::to_owned), period.to_owned());
        if let Some(s) = self.summaries.lock().map_err(|_| AppError::internal("cache"))?.get(&key) {
            return Ok(s.clone());
        }
        let s = data::summary(conn, &self.catalogue, scope, period)?;
        let mut cache = self.summaries.lock().map_err(|_| AppError::internal("cache"))?;
        cache.retain(|k, _| k.0 == run);
        cache.insert(key, s.clone());
        Ok(s)
    }

    /// The stored series as of the latest import.
    pub fn series(&self) -> Result<Arc<Stored>, AppError> {
        let import: i64 = self.with_data(|c| {
            Ok(c.query_row("SELECT COALESCE(MAX(import_id), 0) FROM imports", [], |r| r.get(0)).unwrap_or(0))
        })?;
        let mut cached = self.series.lock().map_err(|_| AppError::internal("series cache"))?;
        if let Some((at, session)) = cached.as_ref()
            && *at == import
        {
            return Ok(session.clone());
        }
        let dir = DataDir::new(&self.root);
        let session = jicha_engine::Session::open(&dir).map_err(data::engine_err)?;
        let consumption = jicha_store::lookup::ConsumptionIndex::open(&dir).map_err(data::store_err)?;
        let stored = Arc::new(Stored { session, consumption });
        *cached = Some((import, stored.clone()));
        Ok(stored)
    }

    /// Whether anything was imported.
    pub fn has_data(&self) -> bool {
        DataDir::new(&self.root).database().exists()
    }
}

impl Drop for App {
    /// The query engine owns a runtime, which may not be dropped on an async thread (where the
    /// app usually ends): it is dropped on a thread of its own.
    fn drop(&mut self) {
        if let Ok(mut cached) = self.series.lock()
            && let Some(session) = cached.take()
        {
            let _ = std::thread::spawn(move || drop(session)).join();
        }
    }
}

/// Runs blocking work (SQLite, Parquet) off the async threads.
///
/// At most twice the cores such jobs run at once, admitted first come, first served (a fair
/// semaphore, awaited on the async side): a hundred clients then share a few warm connections and
/// caches in arrival order, instead of a hundred threads thrashing two cores and the unlucky ones
/// waiting longest.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    static GATE: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let gate = GATE.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()) * 2)
    });
    let _pass = gate.acquire().await.map_err(|e| AppError::internal(&e.to_string()))?;
    tokio::task::spawn_blocking(f).await.map_err(|e| AppError::internal(&e.to_string()))?
}

/// An error answered to a request.
#[derive(Debug, Clone)]
pub struct AppError {
    /// HTTP status.
    pub status: StatusCode,
    /// For people, Chinese first.
    pub message: String,
}

impl AppError {
    /// An error with a status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> AppError {
        AppError { status, message: message.into() }
    }

    /// 400.
    pub fn bad(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(what: &str) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, format!("不存在：{what} / not found: {what}"))
    }

    /// 500, logged.
    pub fn internal(detail: &str) -> AppError {
        tracing::error!(detail, "internal error");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "服务器内部错误 / internal error")
    }
}

impl From<FlowError> for AppError {
    fn from(e: FlowError) -> AppError {
        let status = match &e {
            FlowError::Forbidden(_) => StatusCode::FORBIDDEN,
            FlowError::NotFound(_) => StatusCode::NOT_FOUND,
            FlowError::Invalid(_) => StatusCode::BAD_REQUEST,
            FlowError::Login(_) => StatusCode::UNAUTHORIZED,
            FlowError::Sqlite(_) | FlowError::Io(_) => return AppError::internal(&e.to_string()),
        };
        AppError::new(status, e.to_string())
    }
}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> AppError {
        AppError::internal(&e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}

/// Every route: pages, API, assets.
pub fn router(app: Shared) -> Router {
    let protected = Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .layer(axum::middleware::from_fn_with_state(app.clone(), auth::require_user));
    Router::new()
        .merge(auth::public_routes())
        .merge(protected)
        .layer(axum::extract::DefaultBodyLimit::max(jicha_flow::orders::MAX_FILE_BYTES + (1 << 20)))
        .layer(axum::middleware::from_fn(auth::security_headers))
        .with_state(app)
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight. Every hour (and at
/// start) overdue orders are escalated and, once a month, the spot checks drawn; the scheduler
/// (`schedule`) and the outbox's delivery run beside.
pub async fn serve(root: &Path, bind: SocketAddr) -> anyhow::Result<()> {
    let app = App::new(root)?;
    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!(addr = %listener.local_addr()?, data = %root.display(), "jicha serve: listening");
    let ticker = app.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            let app = ticker.clone();
            let done = blocking(move || app.with_flow(|c| Ok(hourly(c)?))).await;
            match done {
                Ok((escalated, drawn)) if escalated + drawn > 0 => {
                    tracing::info!(escalated, drawn, "overdue orders escalated, spot checks drawn")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e.message, "hourly closed-loop work failed"),
            }
        }
    });
    // The scheduler (daily watch and briefing, monthly audit, drop-folder imports) and the
    // notification outbox's delivery, on threads of their own.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads = schedule::spawn(root, stop.clone());
    axum::serve(listener, router(app)).with_graceful_shutdown(shutdown()).await?;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in threads {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    tracing::info!("jicha serve: stopped");
    Ok(())
}

/// Share of each month's archived orders drawn for spot checks (抽查).
pub const SPOT_CHECK_SHARE: f64 = 0.1;

/// The closed loop's hourly work: escalate overdue orders; once a month, draw the spot checks of
/// the month before (reproducibly: the month is the seed). Returns (escalated, drawn).
fn hourly(conn: &mut rusqlite::Connection) -> Result<(usize, usize), jicha_flow::FlowError> {
    let escalated = jicha_flow::orders::escalate_overdue(conn)?.len();
    let today = chrono::Local::now().date_naive();
    let last_month = today.with_day(1).and_then(|d| d.pred_opt()).map(|d| d.format("%Y-%m").to_string());
    let mut drawn = 0;
    if let Some(month) = last_month {
        let done: i64 =
            conn.query_row("SELECT COUNT(*) FROM spot_checks WHERE month = ?1", [&month], |r| r.get(0))?;
        if done == 0 {
            let seed = month.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
            let system = jicha_flow::Actor::system();
            drawn =
                jicha_flow::orders::draw_spot_checks(conn, &system, &month, SPOT_CHECK_SHARE, seed)?.len();
        }
    }
    Ok((escalated, drawn))
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("jicha serve: shutting down, finishing requests in flight");
}
