//! The closed loop (闭环整改): users and roles, audit orders (稽查工单) from findings to archive,
//! the on-site audit programme (现场稽查), spot checks (抽查) and the tamper-evident audit trail.
//!
//! Everything lives in `flow.sqlite` in the data dir, beside (not inside) the imported data: an
//! import or an audit rerun never touches an order, a user or the trail. Every change is made in
//! one SQLite transaction together with its trail entry, so a crash leaves either both or neither.

pub mod assess;
pub mod campaigns;
pub mod onsite;
pub mod orders;
pub mod targets;
pub mod trail;
pub mod users;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// What can go wrong in the closed loop. The messages are for people: Chinese first.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Not allowed for this user's role or station.
    #[error("无权限：{0} / forbidden: {0}")]
    Forbidden(String),
    /// Nothing of that id the user may see.
    #[error("不存在：{0} / not found: {0}")]
    NotFound(String),
    /// The request is wrong (illegal transition, missing reason, bad value).
    #[error("{0}")]
    Invalid(String),
    /// Login refused.
    #[error("{0}")]
    Login(String),
    /// The database.
    #[error("数据库错误 / database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Files.
    #[error("文件错误 / file error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result of the closed loop.
pub type FlowResult<T> = Result<T, FlowError>;

/// A role (角色).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 系统管理员: users, parameters, everything.
    Admin,
    /// 稽查员 (audit centre): findings, orders, review, spot checks.
    Auditor,
    /// 月度责任人: an auditor who also leads the month's on-site programme.
    Lead,
    /// 供电所人员: only their station's data; verifies, rectifies, submits.
    StationStaff,
    /// 供电所所长: their station's data; receives escalations.
    StationHead,
    /// 管理人员: reads everything, changes nothing.
    Manager,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] =
        [Role::Admin, Role::Auditor, Role::Lead, Role::StationStaff, Role::StationHead, Role::Manager];

    /// The code stored and typed on the command line.
    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Lead => "lead",
            Role::StationStaff => "station_staff",
            Role::StationHead => "station_head",
            Role::Manager => "manager",
        }
    }

    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::Auditor => "稽查员",
            Role::Lead => "月度责任人",
            Role::StationStaff => "供电所人员",
            Role::StationHead => "供电所所长",
            Role::Manager => "管理人员",
        }
    }

    /// The English name.
    pub fn name_en(self) -> &'static str {
        match self {
            Role::Admin => "administrator",
            Role::Auditor => "auditor",
            Role::Lead => "monthly lead",
            Role::StationStaff => "station staff",
            Role::StationHead => "station head",
            Role::Manager => "manager",
        }
    }

    /// Parses a code.
    pub fn parse(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Station roles see and act on their own station only.
    pub fn is_station(self) -> bool {
        matches!(self, Role::StationStaff | Role::StationHead)
    }

    /// The audit centre: makes orders, reviews them, draws spot checks.
    pub fn is_audit_centre(self) -> bool {
        matches!(self, Role::Admin | Role::Auditor | Role::Lead)
    }
}

/// The signed-in user a request acts as.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Actor {
    /// Internal id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// Name shown.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// The station of a station role.
    pub station_id: Option<String>,
}

impl Actor {
    /// Whether this user may see data of `station` (None: data of no station, e.g. the company).
    pub fn sees_station(&self, station: Option<&str>) -> bool {
        if !self.role.is_station() {
            return true;
        }
        matches!((self.station_id.as_deref(), station), (Some(a), Some(b)) if a == b)
    }

    /// The station filter for queries: None = every station.
    pub fn station_scope(&self) -> Option<&str> {
        if self.role.is_station() { Some(self.station_id.as_deref().unwrap_or("\u{0}")) } else { None }
    }

    /// The command line acting as itself (`jicha user add`, scheduled work).
    pub fn system() -> Actor {
        Actor {
            user_id: 0,
            username: "system".into(),
            display_name: "系统 / system".into(),
            role: Role::Admin,
            station_id: None,
        }
    }
}

/// The closed loop's database in a data dir.
#[derive(Debug, Clone)]
pub struct Flow {
    root: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (user_id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL, role TEXT NOT NULL, station_id TEXT, password_hash TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0, locked_until TEXT, disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL,
    csrf TEXT NOT NULL, created_at TEXT NOT NULL, last_seen TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (order_id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE,
    station_id TEXT NOT NULL, state TEXT NOT NULL, source TEXT NOT NULL, title TEXT NOT NULL,
    deadline TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    escalated_at TEXT, archived_at TEXT, recovered REAL NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS orders_station ON orders (station_id, state);
CREATE TABLE IF NOT EXISTS order_items (order_id INTEGER NOT NULL, finding_id TEXT NOT NULL,
    theme TEXT NOT NULL, entity_type TEXT NOT NULL, entity_id TEXT NOT NULL, period TEXT NOT NULL,
    severity TEXT NOT NULL, evidence TEXT NOT NULL, amount_at_risk REAL, joined_at TEXT NOT NULL,
    result TEXT, cause TEXT, recovered REAL, PRIMARY KEY (order_id, finding_id));
CREATE INDEX IF NOT EXISTS order_items_entity ON order_items (theme, entity_type, entity_id);
CREATE INDEX IF NOT EXISTS order_items_finding ON order_items (finding_id);
CREATE TABLE IF NOT EXISTS order_events (event_id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL,
    at TEXT NOT NULL, actor TEXT NOT NULL, kind TEXT NOT NULL, from_state TEXT, to_state TEXT,
    text TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS order_events_order ON order_events (order_id);
CREATE TABLE IF NOT EXISTS files (file_id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL,
    sha256 TEXT NOT NULL, name TEXT NOT NULL, mime TEXT NOT NULL, size INTEGER NOT NULL,
    uploaded_by TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spot_checks (order_id INTEGER PRIMARY KEY, month TEXT NOT NULL,
    drawn_at TEXT NOT NULL, drawn_by TEXT NOT NULL, result TEXT, note TEXT, checked_by TEXT,
    checked_at TEXT);
CREATE TABLE IF NOT EXISTS onsite_problems (problem_id INTEGER PRIMARY KEY, month TEXT NOT NULL,
    station_id TEXT NOT NULL, specialty TEXT NOT NULL, entity_type TEXT NOT NULL, entity_id TEXT NOT NULL,
    description TEXT NOT NULL, measure TEXT NOT NULL, responsible TEXT NOT NULL, recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL, order_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS trail (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, object TEXT NOT NULL, before TEXT, after TEXT, prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS trail_object ON trail (object);
CREATE TABLE IF NOT EXISTS targets (target_id INTEGER PRIMARY KEY, indicator TEXT NOT NULL,
    station_id TEXT NOT NULL DEFAULT '', period TEXT NOT NULL, line REAL NOT NULL, note TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (indicator, station_id, period));
CREATE TABLE IF NOT EXISTS target_checks (target_id INTEGER NOT NULL, week_end TEXT NOT NULL, actual REAL,
    projection REAL, line_now REAL, status TEXT NOT NULL, checked_at TEXT NOT NULL, PRIMARY KEY (target_id, week_end));
CREATE TABLE IF NOT EXISTS campaigns (campaign_id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
    share REAL NOT NULL, seed INTEGER NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaign_customers (campaign_id INTEGER NOT NULL, customer_id TEXT NOT NULL,
    station_id TEXT NOT NULL, check_id TEXT NOT NULL UNIQUE, PRIMARY KEY (campaign_id, customer_id));
CREATE TABLE IF NOT EXISTS schemes (version INTEGER PRIMARY KEY, valid_from TEXT NOT NULL, body TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assessments (period TEXT NOT NULL, version INTEGER NOT NULL, scheme_version INTEGER NOT NULL,
    data_version TEXT NOT NULL, published_by TEXT NOT NULL, published_at TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (period, version));
CREATE TRIGGER IF NOT EXISTS assessments_never_change BEFORE UPDATE ON assessments
    BEGIN SELECT RAISE(ABORT, '已发布的考核结果不可修改 / a published assessment never changes'); END;
CREATE TRIGGER IF NOT EXISTS assessments_never_go BEFORE DELETE ON assessments
    BEGIN SELECT RAISE(ABORT, '已发布的考核结果不可删除 / a published assessment is never deleted'); END;
CREATE TRIGGER IF NOT EXISTS schemes_never_change BEFORE UPDATE ON schemes
    BEGIN SELECT RAISE(ABORT, '考核方案只能新建版本 / a scheme changes only by a new version'); END;";

impl Flow {
    /// The closed loop of the data dir at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Flow {
        Flow { root: root.into() }
    }

    /// The data dir.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `flow.sqlite`.
    pub fn database(&self) -> PathBuf {
        self.root.join("flow.sqlite")
    }

    /// Where evidence files are kept, by content hash.
    pub fn files_dir(&self) -> PathBuf {
        self.root.join("files")
    }

    /// Opens the database (creating the data dir's `flow.sqlite` and its tables if needed). WAL, so
    /// that pages read while an order is written; full sync, so that a committed change survives a
    /// power cut.
    pub fn open(&self) -> FlowResult<Connection> {
        std::fs::create_dir_all(&self.root)?;
        let conn = self.connect()?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(conn)
    }

    /// Another connection to a database [`Flow::open`] has made ready (a server's pool): the
    /// per-connection settings only.
    pub fn connect(&self) -> FlowResult<Connection> {
        let conn = Connection::open(self.database())?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        Ok(conn)
    }
}

/// Now, local time, as stored (`YYYY-MM-DD HH:MM:SS`).
pub fn now_text() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Lower-case hex of SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A random token of 32 bytes as hex (sessions, CSRF, one-time passwords are shorter).
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
