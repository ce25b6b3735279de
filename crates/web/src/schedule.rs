//! The scheduler inside `jicha serve`: the daily themes and the daily briefing at a configured
//! time (Asia/Shanghai, UTC+8 all year), the monthly audit of the month before, and imports from
//! a drop folder. Each run is recorded in `schedule.sqlite`; a slot missed while the server was
//! down is run once when it comes back (only the latest missed slot of each job, never a backlog).
//! The monthly audit waits until its month's data is in, the daily run until yesterday's is
//! (shown as waiting, with why); a later slot ends a slot still waiting.
//!
//! ```toml
//! [schedule]
//! time = "07:30"            # daily themes and briefing for yesterday (and the monthly audit)
//! monthly_day = 1           # the monthly audit of the month before on this day (0: never)
//! drop = "/data/drop"       # import every data set put here (moved to done/ or failed/)
//! drop_every_minutes = 10
//! daily_wait_hours = 4      # the daily run waits at most this long for yesterday's data
//!
//! [briefing]
//! loss_line = 0.10          # an area over this loss rate is "high loss"
//! sms_channel = "sms"       # each station's SMS to its heads (staff with role manager and a phone)
//! phones = ["13800000000"]  # the company's SMS to these
//! chat = ["wecom"]          # the long form to these group robots
//! mail_channel = "mail"
//! emails = ["audit@example.cn"]
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use jicha_core::calendar::Period;
use jicha_engine::audit::Catalogue;
use jicha_engine::{Session, Window};
use jicha_flow::Flow;
use jicha_notify::{NewMessage, Outbox};
use jicha_store::DataDir;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;

/// The scheduler's record of runs, in the data dir.
pub const SCHEDULE_FILE: &str = "schedule.sqlite";

/// Asia/Shanghai: UTC+8, no daylight saving since 1991.
pub fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// Today in Asia/Shanghai, whatever the server's time zone.
pub fn today() -> NaiveDate {
    local(Utc::now()).date()
}

/// `[schedule]` of `jicha.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Local time of the daily run, `HH:MM`.
    #[serde(default = "default_time")]
    pub time: String,
    /// Day of the month of the monthly audit (0: none).
    #[serde(default = "default_monthly_day")]
    pub monthly_day: u32,
    /// Drop folder of data sets to import.
    #[serde(default)]
    pub drop: Option<PathBuf>,
    /// Minutes between looks at the drop folder.
    #[serde(default = "default_drop_every")]
    pub drop_every_minutes: u64,
    /// Hours after `time` the daily run waits at most for yesterday's data; then it runs with
    /// what is there, and its briefing says what is missing (0: it never waits).
    #[serde(default = "default_daily_wait_hours")]
    pub daily_wait_hours: u32,
}

fn default_time() -> String {
    "07:30".into()
}
fn default_monthly_day() -> u32 {
    1
}
fn default_drop_every() -> u64 {
    10
}
fn default_daily_wait_hours() -> u32 {
    4
}

impl Default for ScheduleConfig {
    fn default() -> ScheduleConfig {
        ScheduleConfig {
            time: default_time(),
            monthly_day: default_monthly_day(),
            drop: None,
            drop_every_minutes: default_drop_every(),
            daily_wait_hours: default_daily_wait_hours(),
        }
    }
}

/// `[briefing]` of `jicha.toml`: who receives the daily briefing, by which channel.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BriefingConfig {
    /// The loss line (default 0.10).
    #[serde(default)]
    pub loss_line: Option<f64>,
    /// SMS channel for the stations' heads and `phones`.
    #[serde(default)]
    pub sms_channel: Option<String>,
    /// Phones receiving the company's SMS.
    #[serde(default)]
    pub phones: Vec<String>,
    /// Chat robot channels receiving the long form.
    #[serde(default)]
    pub chat: Vec<String>,
    /// Mail channel.
    #[serde(default)]
    pub mail_channel: Option<String>,
    /// Addresses receiving the long form.
    #[serde(default)]
    pub emails: Vec<String>,
}

/// Both sections, validated.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// `[schedule]`.
    pub schedule: ScheduleConfig,
    /// `[briefing]` (absent: no briefing is sent, it is still computed and recorded).
    pub briefing: Option<BriefingConfig>,
    /// `[warnings]`: who receives the early warnings (same keys as `[briefing]`; station heads
    /// receive their station's by SMS).
    pub warnings: Option<BriefingConfig>,
    /// The daily run's time.
    pub at: NaiveTime,
}

/// Reads `[schedule]` and `[briefing]` from the text of `jicha.toml`; every problem names the
/// file and the section.
pub fn parse_plan(path: &Path, text: &str) -> Result<Plan, Vec<String>> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        vec![format!("{}：不是有效的 TOML / not valid TOML: {}", path.display(), e.message())]
    })?;
    let mut problems = Vec::new();
    let mut plan = Plan::default();
    if let Some(v) = table.get("schedule") {
        match v.clone().try_into::<ScheduleConfig>() {
            Ok(s) => plan.schedule = s,
            Err(e) => {
                problems.push(format!("{} [schedule]：{} / {}", path.display(), e.message(), e.message()))
            }
        }
    }
    if let Some(v) = table.get("briefing") {
        match v.clone().try_into::<BriefingConfig>() {
            Ok(b) => {
                if b.loss_line.is_some_and(|l| !(0.0..1.0).contains(&l)) {
                    problems.push(format!(
                        "{} [briefing] loss_line 应在 0 与 1 之间 / must be between 0 and 1",
                        path.display()
                    ));
                }
                plan.briefing = Some(b);
            }
            Err(e) => problems.push(format!("{} [briefing]：{}", path.display(), e.message())),
        }
    }
    if let Some(v) = table.get("warnings") {
        match v.clone().try_into::<BriefingConfig>() {
            Ok(b) => plan.warnings = Some(b),
            Err(e) => problems.push(format!("{} [warnings]：{}", path.display(), e.message())),
        }
    }
    match NaiveTime::parse_from_str(&plan.schedule.time, "%H:%M") {
        Ok(t) => plan.at = t,
        Err(_) => problems.push(format!(
            "{} [schedule] time “{}” 应为 HH:MM / must be HH:MM",
            path.display(),
            plan.schedule.time
        )),
    }
    if plan.schedule.daily_wait_hours > 23 {
        problems.push(format!(
            "{} [schedule] daily_wait_hours 应在 0 到 23 之间 / must be 0 to 23",
            path.display()
        ));
    }
    if plan.schedule.monthly_day > 28 {
        problems
            .push(format!("{} [schedule] monthly_day 应在 0 到 28 之间 / must be 0 to 28", path.display()));
    }
    if problems.is_empty() { Ok(plan) } else { Err(problems) }
}

/// Reads the plan of the data dir at `root` (no file: defaults, no briefing recipients).
pub fn load_plan(root: &Path) -> Result<Plan, Vec<String>> {
    let path = root.join(jicha_engine::config::CONFIG_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_plan(&path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(Plan { at: NaiveTime::from_hms_opt(7, 30, 0).expect("valid"), ..Plan::default() })
        }
        Err(e) => Err(vec![format!("{}：无法读取 / cannot read: {e}", path.display())]),
    }
}

/// The latest slot of a daily job at `at` not after `now` (local time).
pub fn daily_slot(now: NaiveDateTime, at: NaiveTime) -> NaiveDateTime {
    let today = now.date().and_time(at);
    if today <= now { today } else { (now.date() - chrono::Days::new(1)).and_time(at) }
}

/// The latest slot of the monthly job (day `day` at `at`) not after `now`.
pub fn monthly_slot(now: NaiveDateTime, day: u32, at: NaiveTime) -> Option<NaiveDateTime> {
    if day == 0 {
        return None;
    }
    let this = NaiveDate::from_ymd_opt(now.year(), now.month(), day)?.and_time(at);
    if this <= now {
        return Some(this);
    }
    let prev = Period::of(now.date()).prev();
    Some(NaiveDate::from_ymd_opt(prev.year(), prev.month(), day)?.and_time(at))
}

/// A run row that waits for its data: not finished, with a message (a run under way has none).
const WAITING: &str = "finished_at IS NULL AND message <> ''";

/// The run record.
pub struct Runs {
    conn: Connection,
}

/// One recorded run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRow {
    /// Job: `daily`, `monthly`, `drop`.
    pub job: String,
    /// The slot it ran for (local time).
    pub slot: String,
    /// Started (local time).
    pub started_at: String,
    /// Finished, when it did.
    pub finished_at: Option<String>,
    /// Whether it succeeded.
    pub ok: Option<bool>,
    /// What it did or why it failed.
    pub message: String,
}

impl RunRow {
    /// Whether the run waits for its data ([`WAITING`]).
    pub fn waiting(&self) -> bool {
        self.finished_at.is_none() && !self.message.is_empty()
    }
}

impl Runs {
    /// Opens (creating) `schedule.sqlite` in the data dir.
    pub fn open(root: &Path) -> rusqlite::Result<Runs> {
        std::fs::create_dir_all(root).ok();
        let conn = Connection::open(root.join(SCHEDULE_FILE))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS runs (run_id INTEGER PRIMARY KEY, job TEXT NOT NULL, slot TEXT NOT NULL,
                 started_at TEXT NOT NULL, finished_at TEXT, ok INTEGER, message TEXT NOT NULL DEFAULT '',
                 UNIQUE (job, slot));",
        )?;
        Ok(Runs { conn })
    }

    /// Claims a slot: `false` when the job already ran (or started) for it. A slot that was
    /// [waiting](Runs::wait) is claimed by the first run that finds its data in.
    pub fn claim(&self, job: &str, slot: &str, now: &str) -> rusqlite::Result<bool> {
        self.supersede(job, slot, now)?;
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO runs (job, slot, started_at) VALUES (?1, ?2, ?3)",
            params![job, slot, now],
        )?;
        Ok(n == 1
            || self.conn.execute(
                &format!(
                    "UPDATE runs SET started_at = ?3, message = '' WHERE job = ?1 AND slot = ?2 AND {WAITING}"
                ),
                params![job, slot, now],
            )? == 1)
    }

    /// Records that a job's slot waits for its data, with why (kept up to date); `true` the first
    /// time. A waiting slot has neither an end nor an outcome, and counts as not run.
    pub fn wait(&self, job: &str, slot: &str, now: &str, why: &str) -> rusqlite::Result<bool> {
        self.supersede(job, slot, now)?;
        let new = self.conn.execute(
            "INSERT OR IGNORE INTO runs (job, slot, started_at, message) VALUES (?1, ?2, ?3, ?4)",
            params![job, slot, now, why],
        )? == 1;
        if !new {
            self.conn.execute(
                &format!("UPDATE runs SET message = ?3 WHERE job = ?1 AND slot = ?2 AND {WAITING}"),
                params![job, slot, why],
            )?;
        }
        Ok(new)
    }

    /// Records how a claimed run ended.
    pub fn finish(&self, job: &str, slot: &str, ok: bool, message: &str, now: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE runs SET finished_at = ?3, ok = ?4, message = ?5 WHERE job = ?1 AND slot = ?2",
            params![job, slot, now, ok, message],
        )?;
        Ok(())
    }

    /// Ends the job's slots before `slot` that still wait: only the latest slot of a job runs, so
    /// they never will (recorded as not run, and why).
    fn supersede(&self, job: &str, slot: &str, now: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            &format!(
                "UPDATE runs SET finished_at = ?3, ok = 0,
                     message = message || '；未运行：已由 ' || ?2 || ' 的运行取代 / not run: superseded by the run of ' || ?2
                 WHERE job = ?1 AND slot < ?2 AND {WAITING}"
            ),
            params![job, slot, now],
        )?;
        Ok(())
    }

    /// The latest slot a job ran for (or started to; not one that waits).
    pub fn last_slot(&self, job: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row(
                &format!("SELECT MAX(slot) FROM runs WHERE job = ?1 AND NOT ({WAITING})"),
                [job],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
    }

    /// The latest runs, newest first.
    pub fn list(&self, limit: u32) -> rusqlite::Result<Vec<RunRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT job, slot, started_at, finished_at, ok, message FROM runs ORDER BY run_id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(RunRow {
                job: r.get(0)?,
                slot: r.get(1)?,
                started_at: r.get(2)?,
                finished_at: r.get(3)?,
                ok: r.get(4)?,
                message: r.get(5)?,
            })
        })?;
        rows.collect()
    }
}

fn local(now: DateTime<Utc>) -> NaiveDateTime {
    now.with_timezone(&shanghai()).naive_local()
}

fn stamp(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// One look at the clock: runs every job whose latest slot has not run yet. Returns the jobs run
/// with their outcome. `now` is passed so that a test can move the clock.
pub fn tick(root: &Path, now: DateTime<Utc>) -> anyhow::Result<Vec<(String, Result<String, String>)>> {
    let plan = load_plan(root).map_err(|p| anyhow::anyhow!(p.join("\n")))?;
    let runs = Runs::open(root)?;
    let t = local(now);
    let mut done = Vec::new();
    // A job's latest slot runs once, when `waits` has no reason (else it is recorded as waiting).
    let mut job = |name: &str,
                   slot: NaiveDateTime,
                   waits: &dyn Fn() -> Option<String>,
                   work: &mut dyn FnMut() -> anyhow::Result<String>|
     -> anyhow::Result<()> {
        let slot = stamp(slot);
        if runs.last_slot(name)?.is_some_and(|s| s >= slot) {
            return Ok(());
        }
        if let Some(why) = waits() {
            if runs.wait(name, &slot, &stamp(t), &why)? {
                tracing::info!(job = name, slot, "{why}");
            }
            return Ok(());
        }
        if !runs.claim(name, &slot, &stamp(t))? {
            return Ok(());
        }
        let outcome = work().map_err(|e| format!("{e:#}"));
        let (ok, msg) = match &outcome {
            Ok(m) => (true, m.clone()),
            Err(e) => (false, e.clone()),
        };
        runs.finish(name, &slot, ok, &msg, &stamp(local(Utc::now())))?;
        if ok {
            tracing::info!(job = name, slot, "{msg}");
        } else {
            tracing::warn!(job = name, slot, error = %msg, "scheduled run failed");
        }
        done.push((name.to_string(), outcome));
        Ok(())
    };
    if let Some(drop) = &plan.schedule.drop {
        let every = plan.schedule.drop_every_minutes.max(1) as i64;
        let minutes = t.and_utc().timestamp() / 60;
        let slot = chrono::DateTime::from_timestamp((minutes - minutes % every) * 60, 0)
            .map_or(t, |d| d.naive_utc());
        job("drop", slot, &|| None, &mut || import_drop(root, drop))?;
    }
    if let Some(slot) = monthly_slot(t, plan.schedule.monthly_day, plan.at) {
        // The month's audit waits until its data is in (the drop folder above may just have
        // brought it): audited before, every customer would be missing its readings. A store
        // that cannot be read does not hold it: the audit then fails and says so.
        let period = Period::of(slot.date()).prev();
        let not_in = || jicha_store::month_not_in(&DataDir::new(root), period).unwrap_or(None);
        job("monthly", slot, &not_in, &mut || monthly(root, period))?;
    }
    // Yesterday's watch and briefing wait the same way for yesterday's consumption and supply
    // (sent before them, the briefing would give every station's supply as unknown and no drop),
    // but only `daily_wait_hours`: the morning's orders due today must not wait for ever. Run
    // later, the briefing says what is missing.
    let slot = daily_slot(t, plan.at);
    let yesterday = slot.date() - chrono::Days::new(1);
    let give_up = slot + chrono::Duration::hours(i64::from(plan.schedule.daily_wait_hours));
    let not_in = || {
        if t >= give_up {
            return None;
        }
        jicha_store::day_not_in(&DataDir::new(root), yesterday).unwrap_or(None)
    };
    job("daily", slot, &not_in, &mut || daily(root, &plan, yesterday))?;
    // The weekly check of the target lines, on Mondays (the latest Monday's slot).
    let monday = slot.date() - chrono::Days::new(u64::from(slot.date().weekday().num_days_from_monday()));
    let weekly = monday.and_time(plan.at);
    job("warnings", weekly, &|| None, &mut || warnings(root, &plan, weekly.date()))?;
    Ok(done)
}

/// Imports each data set in the drop folder (oldest name first); moves it to `done/` or, with the
/// problems written beside it, to `failed/`.
fn import_drop(root: &Path, drop: &Path) -> anyhow::Result<String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(drop)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name != "done" && name != "failed" && !name.starts_with('.')
        })
        .collect();
    entries.sort();
    let dir = DataDir::new(root);
    let mut lines = Vec::new();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        let outcome = jicha_ingest::import(&dir, &p, &jicha_ingest::pipeline::NoProgress)?;
        let stamp = local(Utc::now()).format("%Y%m%d-%H%M%S");
        match outcome {
            jicha_ingest::ImportOutcome::Committed { .. } => {
                let to = drop.join("done");
                std::fs::create_dir_all(&to)?;
                std::fs::rename(&p, to.join(format!("{stamp}-{name}")))?;
                lines.push(format!("已导入 / imported {name}"));
            }
            jicha_ingest::ImportOutcome::Rejected { rejection, .. } => {
                let to = drop.join("failed");
                std::fs::create_dir_all(&to)?;
                let report: Vec<String> = rejection.problems.iter().map(ToString::to_string).collect();
                std::fs::write(to.join(format!("{stamp}-{name}.problems.txt")), report.join("\n"))?;
                std::fs::rename(&p, to.join(format!("{stamp}-{name}")))?;
                lines.push(format!("未导入 / rejected {name}: {} problems", report.len()));
            }
        }
    }
    Ok(if lines.is_empty() { "投递目录为空 / nothing dropped".into() } else { lines.join("; ") })
}

/// Runs themes over a window and keeps the findings (new ones join open orders).
fn audit(root: &Path, window: Window, daily: bool) -> anyhow::Result<(Session, Catalogue, usize)> {
    let dir = DataDir::new(root);
    let cat = Catalogue::load(root).map_err(|p| {
        anyhow::anyhow!("{}", p.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
    })?;
    let mut session = Session::open(&dir)?;
    let themes = cat.select(&[], daily)?;
    let result = jicha_engine::audit::run(&mut session, window, &cat, &themes)?;
    let now = jicha_flow::now_text();
    jicha_engine::store::keep(&session, &result, &now)?;
    join_open_orders(&dir, &result.findings)?;
    Ok((session, cat, result.findings.len()))
}

/// A persisting problem found again under a new finding id joins the open audit order of its
/// theme and entity (only when the closed loop has begun: `flow.sqlite` exists). Returns how many
/// joined.
pub fn join_open_orders(dir: &DataDir, findings: &[jicha_engine::Finding]) -> anyhow::Result<usize> {
    let flow = Flow::new(dir.root());
    if !flow.database().exists() || findings.is_empty() {
        return Ok(0);
    }
    let mut periods: Vec<&str> = findings.iter().map(|f| f.period.as_str()).collect();
    periods.sort_unstable();
    periods.dedup();
    let mut rows = Vec::new();
    for p in periods {
        rows.extend(jicha_store::findings::load(dir, p)?);
    }
    let mut conn = flow.open()?;
    Ok(jicha_flow::orders::join_open(&mut conn, &rows)?)
}

/// The monthly audit of `period`, then its two documents written into `reports/<period>/` of the
/// data dir for the monthly lead to review.
fn monthly(root: &Path, period: Period) -> anyhow::Result<String> {
    let (session, cat, n) = audit(root, Window::new(period, None), false)?;
    drop_off_thread(session);
    let out = root.join("reports").join(period.to_string());
    let (docx, xlsx) = crate::monthly::write(root, &cat, period, &out)?;
    Ok(format!(
        "月度稽查 {period}：{n} 条疑似问题；月度文件 {} 与 {} / monthly audit {period}: {n} findings; documents written",
        docx.display(),
        xlsx.display()
    ))
}

/// The daily themes for `day`, then the briefing, queued for its recipients.
fn daily(root: &Path, plan: &Plan, day: NaiveDate) -> anyhow::Result<String> {
    let (mut session, cat, n) = audit(root, Window::daily(day), true)?;
    let flow = Flow::new(root);
    let line = plan.briefing.as_ref().and_then(|b| b.loss_line).unwrap_or(0.10);
    let b = crate::briefing::compute(&mut session, &cat, &flow, day, line);
    drop_off_thread(session);
    let b = b?;
    let queued = queue(root, &messages(&b, plan.briefing.as_ref(), &station_heads(root)?))?;
    let mut said = format!(
        "日监测 {day}：{n} 条疑似问题；简报已排队 {queued} 条 / daily watch {day}: {n} findings; {queued} briefing messages queued"
    );
    if let Some(why) = &b.not_in {
        said += &format!("；数据未到齐，按已有数据运行 / run on the data there was: {why}");
    }
    Ok(said)
}

/// Checks every target line and queues the new warnings.
fn warnings(root: &Path, plan: &Plan, today: NaiveDate) -> anyhow::Result<String> {
    let heads = if plan.warnings.is_some() { station_heads(root)? } else { Vec::new() };
    let (checked, messages) = crate::warnings::check_all(root, today, plan.warnings.as_ref(), &heads)?;
    let queued = queue(root, &messages)?;
    Ok(format!(
        "目标线检查 {checked} 条，预警排队 {queued} 条 / {checked} lines checked, {queued} warnings queued"
    ))
}

/// Puts messages in the outbox; how many.
fn queue(root: &Path, messages: &[NewMessage]) -> anyhow::Result<usize> {
    Ok(if messages.is_empty() { 0 } else { Outbox::open(root)?.enqueue(messages)?.len() })
}

/// The query engine owns a runtime, which may not be dropped inside another one.
fn drop_off_thread(session: Session) {
    let _ = std::thread::spawn(move || drop(session)).join();
}

/// Each station's heads' phones: staff with role `manager` and a phone, read from the stored
/// archive (no query-engine session for one small table).
fn station_heads(root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let conn = jicha_store::relational::open_read_only(&DataDir::new(root).database())?;
    let mut stmt = conn.prepare(
        "SELECT station_id, phone FROM staff
         WHERE role = 'manager' AND phone IS NOT NULL AND phone <> '' AND station_id IS NOT NULL",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The briefing's messages: each station's SMS to its heads, the company's SMS to `phones`, the
/// long form to the chat robots and by mail. Each has a key of (day, channel, recipient, form),
/// so a rerun of the day queues nothing twice.
pub fn messages(
    b: &crate::briefing::Briefing,
    to: Option<&BriefingConfig>,
    heads: &[(String, String)],
) -> Vec<NewMessage> {
    let Some(to) = to else { return Vec::new() };
    let day = b.day.to_string();
    let mut out = Vec::new();
    let key =
        |channel: &str, recipient: &str, form: &str| format!("briefing:{day}:{channel}:{recipient}:{form}");
    if let Some(sms) = &to.sms_channel {
        for s in &b.stations {
            for (_, phone) in heads.iter().filter(|(st, _)| *st == s.station_id) {
                out.push(NewMessage::new(
                    sms,
                    phone,
                    "",
                    s.sms(b.day, b.not_in.is_some()),
                    "briefing",
                    key(sms, phone, &s.station_id),
                ));
            }
        }
        for phone in &to.phones {
            out.push(NewMessage::new(
                sms,
                phone,
                "",
                b.company.sms(b.day, b.not_in.is_some()),
                "briefing",
                key(sms, phone, "company"),
            ));
        }
    }
    let long = b.long_text();
    for chat in &to.chat {
        out.push(NewMessage::new(chat, "", b.subject(), &long, "briefing", key(chat, "", "long")));
    }
    if let Some(mail) = &to.mail_channel {
        for e in &to.emails {
            out.push(NewMessage::new(mail, e, b.subject(), &long, "briefing", key(mail, e, "long")));
        }
    }
    out
}

/// Runs the scheduler and the outbox's delivery on threads of their own until `stop`.
pub fn spawn(root: &Path, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let mut handles = Vec::new();
    let r = root.to_path_buf();
    let s = stop.clone();
    handles.push(std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            if let Err(e) = tick(&r, Utc::now()) {
                tracing::warn!(error = %format!("{e:#}"), "scheduler");
            }
            for _ in 0..30 {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }));
    match (jicha_notify::Channels::load(root), Outbox::open(root)) {
        (Ok(channels), Ok(outbox)) => {
            handles.push(std::thread::spawn(move || {
                jicha_notify::run_worker(&outbox, &channels, &stop, Duration::from_secs(5));
            }));
        }
        (Err(problems), _) => {
            for p in problems {
                tracing::warn!(problem = %p, "notification channels: nothing is sent until jicha.toml is fixed");
            }
        }
        (_, Err(e)) => tracing::warn!(error = %e, "outbox unavailable"),
    }
    handles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn slots_are_the_latest_passed() {
        let t = NaiveTime::from_hms_opt(7, 30, 0).unwrap();
        assert_eq!(daily_slot(at("2026-11-28 07:29"), t), at("2026-11-27 07:30"));
        assert_eq!(daily_slot(at("2026-11-28 07:30"), t), at("2026-11-28 07:30"));
        assert_eq!(monthly_slot(at("2026-11-28 09:00"), 1, t), Some(at("2026-11-01 07:30")));
        assert_eq!(monthly_slot(at("2026-12-01 07:00"), 1, t), Some(at("2026-11-01 07:30")));
        assert_eq!(monthly_slot(at("2026-01-01 07:00"), 1, t), Some(at("2025-12-01 07:30")));
        assert_eq!(monthly_slot(at("2026-01-01 07:00"), 0, t), None);
    }

    #[test]
    fn a_waiting_slot_runs_once_its_data_is_in_or_ends_when_a_later_slot_comes() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = Runs::open(tmp.path()).unwrap();
        let row = |slot: &str| runs.list(10).unwrap().into_iter().find(|r| r.slot == slot).unwrap();
        assert!(runs.wait("monthly", "2026-04-01 07:30", "2026-04-01 08:00", "March not in").unwrap());
        assert!(!runs.wait("monthly", "2026-04-01 07:30", "2026-04-01 08:01", "still not in").unwrap());
        assert!(row("2026-04-01 07:30").waiting());
        assert_eq!(row("2026-04-01 07:30").message, "still not in");
        assert_eq!(runs.last_slot("monthly").unwrap(), None, "a waiting slot has not run");
        // May's slot comes while April's still waits: April's is ended, never to run.
        assert!(runs.wait("monthly", "2026-05-01 07:30", "2026-05-01 08:00", "April not in").unwrap());
        let april = row("2026-04-01 07:30");
        assert!(!april.waiting() && april.ok == Some(false), "{april:?}");
        assert!(april.message.contains("superseded by the run of 2026-05-01 07:30"), "{april:?}");
        assert!(!runs.claim("monthly", "2026-04-01 07:30", "2026-05-01 08:01").unwrap());
        // May's data comes: its slot is claimed once and runs.
        assert!(runs.claim("monthly", "2026-05-01 07:30", "2026-05-01 09:00").unwrap());
        assert!(!runs.claim("monthly", "2026-05-01 07:30", "2026-05-01 09:01").unwrap());
        assert_eq!(runs.last_slot("monthly").unwrap().as_deref(), Some("2026-05-01 07:30"));
        runs.finish("monthly", "2026-05-01 07:30", true, "done", "2026-05-01 09:05").unwrap();
        assert_eq!(row("2026-05-01 07:30").ok, Some(true));
    }

    #[test]
    fn with_nothing_imported_the_monthly_and_daily_runs_wait_and_the_weekly_one_still_runs() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("jicha.toml"), "[schedule]\ntime = \"07:30\"\nmonthly_day = 1\n")
            .unwrap();
        let now = at("2026-04-01 08:00").and_local_timezone(shanghai()).unwrap().with_timezone(&Utc);
        let ran = tick(tmp.path(), now).unwrap();
        let names: Vec<&str> = ran.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(names, ["warnings"], "{ran:?}");
        let runs = Runs::open(tmp.path()).unwrap().list(10).unwrap();
        for (job, what) in [("monthly", "2026-03"), ("daily", "2026-03-31")] {
            let rows: Vec<_> = runs.iter().filter(|r| r.job == job).collect();
            assert_eq!(rows.len(), 1, "{runs:?}");
            assert!(rows[0].waiting(), "{rows:?}");
            assert!(
                rows[0].message.contains(&format!("{what} 的数据尚未导入：还没有导入任何数据")),
                "{rows:?}"
            );
        }
    }

    #[test]
    fn the_plan_is_validated() {
        let p = Path::new("jicha.toml");
        let ok = parse_plan(p, "[schedule]\ntime = \"06:15\"\n[briefing]\nchat = [\"wecom\"]\n").unwrap();
        assert_eq!(ok.at, NaiveTime::from_hms_opt(6, 15, 0).unwrap());
        let bad = parse_plan(p, "[schedule]\ntime = \"25:00\"\nmonthly_day = 31\n[briefing]\nphone = []\n")
            .unwrap_err();
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(bad.iter().any(|b| b.contains("phone")), "{bad:?}");
        let bad = parse_plan(p, "[schedule]\ndaily_wait_hours = 24\n").unwrap_err();
        assert!(bad.len() == 1 && bad[0].contains("daily_wait_hours 应在 0 到 23 之间"), "{bad:?}");
        assert_eq!(ok.schedule.daily_wait_hours, 4, "the default");
    }
}
