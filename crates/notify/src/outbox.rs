//! The durable outbox: `outbox.sqlite` in the data dir, the `messages` queue and the `deliveries`
//! log of every attempt.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::config::Channels;
use crate::{NotifyError, NotifyResult, SendFailure};

/// The outbox database in the data dir.
pub const OUTBOX_FILE: &str = "outbox.sqlite";

const SCHEMA_VERSION: i64 = 1;

/// After this many messages in a row that a channel did not answer at all (connection refused,
/// timeout), [`Outbox::deliver_due`] leaves that channel's other messages for its next call.
pub const TRIP: u32 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,        -- times: Unix milliseconds, UTC
    next_attempt_at INTEGER NOT NULL,   -- while pending: not before then
    first_attempt_at INTEGER,           -- the first attempt since enqueue or retry: the give-up clock
    claimed_at INTEGER,                 -- marked sending at
    last_attempt_at INTEGER,
    sent_at INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id),
    at INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT,
    duration_ms INTEGER NOT NULL,
    code INTEGER,                       -- HTTP status or SMTP reply code
    reply TEXT                          -- the start of the answer
);
CREATE INDEX IF NOT EXISTS deliveries_message ON deliveries (message_id, id);
";

const MESSAGE_COLUMNS: &str = "id, dedupe_key, channel, recipient, subject, body, kind, status, attempts, \
     created_at, next_attempt_at, last_attempt_at, sent_at, last_error";

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The channel's name in `jicha.toml` (`sms` for `[channels.sms]`).
    pub channel: String,
    /// The phone number (sms), the e-mail address (smtp), or empty for a group robot (or a mobile
    /// number to @-mention there).
    pub recipient: String,
    /// The subject (a mail's subject; the first line on the robots and, unless the SMS template
    /// places `{subject}`, in an SMS).
    pub subject: String,
    /// The text.
    pub body: String,
    /// What it is, free text: `briefing`, `warning`, `escalation`...
    pub kind: String,
    /// Unique per message: enqueueing a key that is already in the outbox does nothing and returns
    /// the existing message's id (whatever the new content), so a scheduler that runs again after
    /// a crash never sends twice. E.g. `briefing:2025-06-03:sms:13800000000`.
    pub dedupe_key: String,
}

impl NewMessage {
    /// A message with every field.
    pub fn new(
        channel: impl Into<String>,
        recipient: impl Into<String>,
        subject: impl Into<String>,
        body: impl Into<String>,
        kind: impl Into<String>,
        dedupe_key: impl Into<String>,
    ) -> NewMessage {
        NewMessage {
            channel: channel.into(),
            recipient: recipient.into(),
            subject: subject.into(),
            body: body.into(),
            kind: kind.into(),
            dedupe_key: dedupe_key.into(),
        }
    }
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for its next attempt (or for its channel to be configured).
    Pending,
    /// Being sent; left so by a crash, it is sent again after [`RetryPolicy::stale_sending`].
    Sending,
    /// Delivered (the far side accepted it).
    Sent,
    /// Given up after [`RetryPolicy::give_up_after`] of failures, or undeliverable as addressed;
    /// [`Outbox::retry`] queues it again.
    Failed,
}

impl Status {
    /// As stored: `pending`, `sending`, `sent`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
        }
    }

    /// In Chinese, for pages.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pending => "待发送",
            Status::Sending => "发送中",
            Status::Sent => "已发送",
            Status::Failed => "发送失败",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "sending" => Status::Sending,
            "sent" => Status::Sent,
            "failed" => Status::Failed,
            _ => Status::Pending,
        }
    }
}

/// A message as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    /// Its id.
    pub id: i64,
    /// Its dedupe key.
    pub dedupe_key: String,
    /// The channel's name.
    pub channel: String,
    /// The recipient.
    pub recipient: String,
    /// The subject.
    pub subject: String,
    /// The text.
    pub body: String,
    /// What it is (`briefing`...).
    pub kind: String,
    /// Where it is.
    pub status: Status,
    /// Attempts so far (a message waiting for its channel to be configured has made none).
    pub attempts: u32,
    /// Enqueued at.
    pub created_at: DateTime<Utc>,
    /// While pending: its next attempt is not before then.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Its last attempt started at.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Delivered at.
    pub sent_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed, or why it waits ("中文 / English"); none once sent.
    pub last_error: Option<String>,
}

/// One attempt, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    /// Its id.
    pub id: i64,
    /// The message.
    pub message_id: i64,
    /// The attempt started at.
    pub at: DateTime<Utc>,
    /// Delivered.
    pub ok: bool,
    /// Why not ("中文 / English").
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: i64,
    /// The HTTP status or SMTP reply code.
    pub code: Option<u16>,
    /// The start of the answer (response body, SMTP reply).
    pub reply: Option<String>,
}

/// Which messages [`Outbox::list`] returns, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilter {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this channel.
    pub channel: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only ids below this one (the next page: the last id of the previous page).
    pub before_id: Option<i64>,
    /// At most this many (default 100).
    pub limit: usize,
}

impl Default for ListFilter {
    fn default() -> ListFilter {
        ListFilter { status: None, channel: None, kind: None, before_id: None, limit: 100 }
    }
}

/// How many messages are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatusCounts {
    /// Waiting.
    pub pending: u64,
    /// Being sent.
    pub sending: u64,
    /// Delivered.
    pub sent: u64,
    /// Given up.
    pub failed: u64,
}

/// What one [`Outbox::deliver_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryStats {
    /// Messages sent on a channel (each at most once per call).
    pub attempted: usize,
    /// Delivered.
    pub sent: usize,
    /// Failed this time, scheduled again.
    pub retrying: usize,
    /// Failed and given up (now `failed`).
    pub failed: usize,
    /// Due, but their channel is not configured: left pending with the reason.
    pub waiting_for_channel: usize,
    /// Found `sending` for too long (a crash mid-send): queued to be sent again.
    pub interrupted: usize,
    /// Due but not tried in this call: their channel failed to answer at all (refused, timed out)
    /// [`TRIP`] times in a row, so it is probably down; they are tried on the next call.
    pub deferred: usize,
}

/// When to try again and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure (30 s); it doubles after each further failure...
    pub first_delay: Duration,
    /// ...up to this (1 hour).
    pub max_delay: Duration,
    /// After failing for this long since its first attempt (48 hours) a message becomes `failed`.
    pub give_up_after: Duration,
    /// A message `sending` for longer than this (15 minutes; every send is over well before) was
    /// interrupted by a crash: its outcome is unknown and it is sent again.
    pub stale_sending: Duration,
    /// Messages read per query (100).
    pub batch: usize,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(48 * 3600),
            stale_sending: Duration::from_secs(15 * 60),
            batch: 100,
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempts`-th failed attempt (1-based): `first_delay` doubling, capped.
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first_delay.max(Duration::from_secs(1)).saturating_mul(1 << doublings).min(self.max_delay)
    }
}

/// The durable outbox (`outbox.sqlite`). Safe to share between threads (`&Outbox` is `Sync`); the
/// database lock is never held while a message is on the network.
pub struct Outbox {
    conn: Mutex<Connection>,
    path: PathBuf,
    policy: RetryPolicy,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("path", &self.path).field("policy", &self.policy).finish()
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Outbox {
    /// Opens (creating when absent) `outbox.sqlite` in `data_dir`, with its schema. WAL and
    /// `synchronous=FULL`: an enqueue that returned survives a power cut.
    pub fn open(data_dir: &Path) -> NotifyResult<Outbox> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(OUTBOX_FILE);
        let conn = Connection::open(&path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(NotifyError::Invalid(format!(
                "{} 由更新版本的稽查系统创建（版本 {version}）/ was made by a newer Jicha (version {version})",
                path.display()
            )));
        }
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Outbox { conn: Mutex::new(conn), path, policy: RetryPolicy::default() })
    }

    /// The same outbox with another retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Outbox {
        self.policy = policy;
        self
    }

    /// The retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Enqueues `msgs` in one transaction, due now; returns their ids in order. A dedupe key that
    /// is already in the outbox returns the existing message's id and changes nothing.
    pub fn enqueue(&self, msgs: &[NewMessage]) -> NotifyResult<Vec<i64>> {
        self.enqueue_at(msgs, Utc::now())
    }

    /// As [`Outbox::enqueue`], with the clock given: the messages are due from `now`.
    pub fn enqueue_at(&self, msgs: &[NewMessage], now: DateTime<Utc>) -> NotifyResult<Vec<i64>> {
        for m in msgs {
            if m.dedupe_key.trim().is_empty() {
                return Err(NotifyError::Invalid("消息缺少 dedupe_key / a message has no dedupe_key".into()));
            }
            if m.channel.trim().is_empty() {
                return Err(NotifyError::Invalid(format!(
                    "消息 {} 没有指定渠道 / message {} names no channel",
                    m.dedupe_key, m.dedupe_key
                )));
            }
            if m.subject.trim().is_empty() && m.body.trim().is_empty() {
                return Err(NotifyError::Invalid(format!(
                    "消息 {} 没有内容 / message {} is empty",
                    m.dedupe_key, m.dedupe_key
                )));
            }
        }
        let mut db = self.db();
        let tx = db.transaction()?;
        let mut ids = Vec::with_capacity(msgs.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (dedupe_key, channel, recipient, subject, body, kind, status, \
                 attempts, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7) \
                 ON CONFLICT (dedupe_key) DO NOTHING",
            )?;
            let mut find = tx.prepare_cached("SELECT id FROM messages WHERE dedupe_key = ?1")?;
            for m in msgs {
                insert.execute(params![
                    m.dedupe_key,
                    m.channel.trim(),
                    m.recipient.trim(),
                    m.subject,
                    m.body,
                    m.kind,
                    ms(now)
                ])?;
                ids.push(find.query_row([&m.dedupe_key], |r| r.get(0))?);
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Sends every message that is due at `now`, once each, logging each attempt in `deliveries`.
    ///
    /// A delivered message becomes `sent`; a failed one is scheduled again after
    /// [`RetryPolicy::delay_after`], or becomes `failed` once it has failed for
    /// [`RetryPolicy::give_up_after`] (at once if it is undeliverable as addressed, e.g. a mail
    /// recipient that is not an address). A message whose channel is not in `channels` stays
    /// pending with the reason in `last_error`, and goes out on the first call after the channel
    /// is configured. A message left `sending` by a crash is sent again (see the crate docs).
    ///
    /// Errors are the database's only; a failed send is an outcome, not an error.
    pub fn deliver_due(&self, channels: &Channels, now: DateTime<Utc>) -> NotifyResult<DeliveryStats> {
        let started = Instant::now();
        let clock = || now + delta(started.elapsed());
        let mut stats = DeliveryStats {
            interrupted: self.recover_interrupted(now)?,
            waiting_for_channel: self.note_unconfigured(channels, now)?,
            ..DeliveryStats::default()
        };
        // Channels still tried in this round: one that fails to answer TRIP times in a row (down,
        // or dropping packets so that every message waits out its timeout) is left for the next
        // round, so that it does not hold up the others.
        let mut names: Vec<String> = channels.names().map(str::to_string).collect();
        let mut silent: HashMap<String, u32> = HashMap::new();
        let mut tripped: Vec<String> = Vec::new();
        while !names.is_empty() {
            type Due = (i64, String, String, String, String, String, u32, Option<i64>);
            let due: Vec<Due> = {
                let marks = vec!["?"; names.len()].join(", ");
                let select = format!(
                    "SELECT id, channel, recipient, subject, body, dedupe_key, attempts, first_attempt_at \
                     FROM messages WHERE status = 'pending' AND next_attempt_at <= ? AND channel IN ({marks}) \
                     ORDER BY next_attempt_at, id LIMIT ?"
                );
                let db = self.db();
                let mut stmt = db.prepare_cached(&select)?;
                let mut args: Vec<rusqlite::types::Value> = vec![ms(now).into()];
                args.extend(names.iter().map(|n| rusqlite::types::Value::from(n.clone())));
                args.push((self.policy.batch.max(1) as i64).into());
                let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            if due.is_empty() {
                break;
            }
            for (id, channel, recipient, subject, body, key, attempts, first) in due {
                if !names.contains(&channel) {
                    continue;
                }
                let Some(ch) = channels.get(&channel) else { continue };
                // Transaction 1: mark it sending. Another worker that got here first wins.
                let claimed_at = clock();
                let claimed = self.db().execute(
                    "UPDATE messages SET status = 'sending', claimed_at = ?2, last_attempt_at = ?2, \
                     attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, ?2) \
                     WHERE id = ?1 AND status = 'pending'",
                    params![id, ms(claimed_at)],
                )?;
                if claimed == 0 {
                    continue;
                }
                stats.attempted += 1;
                let sending = Instant::now();
                let result = ch.send_keyed(&recipient, &subject, &body, &key);
                let took = sending.elapsed();
                let ended = clock();
                // Transaction 2: log the attempt and mark it sent or schedule it again.
                let attempts = attempts + 1;
                let first = first.map(time).unwrap_or(claimed_at);
                let mut db = self.db();
                let tx = db.transaction()?;
                let (code, reply, error) = match &result {
                    Ok(r) => (r.code, Some(r.reply.clone()), None),
                    Err(f) => (f.code, f.reply.clone(), Some(f.error.clone())),
                };
                tx.execute(
                    "INSERT INTO deliveries (message_id, at, ok, error, duration_ms, code, reply) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![id, ms(claimed_at), result.is_ok(), error, took.as_millis() as i64, code, reply],
                )?;
                match &result {
                    Ok(_) => {
                        tx.execute(
                            "UPDATE messages SET status = 'sent', sent_at = ?2, last_error = NULL, \
                             claimed_at = NULL WHERE id = ?1",
                            params![id, ms(ended)],
                        )?;
                        stats.sent += 1;
                        tracing::debug!(id, channel, "notification sent");
                    }
                    Err(f) if self.gives_up(f, first, ended) => {
                        let why = if f.permanent {
                            f.error.clone()
                        } else {
                            format!(
                                "{}（已连续失败 {} 小时，停止重试 / failing for {} hours: given up）",
                                f.error,
                                self.policy.give_up_after.as_secs() / 3600,
                                self.policy.give_up_after.as_secs() / 3600
                            )
                        };
                        tx.execute(
                            "UPDATE messages SET status = 'failed', last_error = ?2, claimed_at = NULL \
                             WHERE id = ?1",
                            params![id, why],
                        )?;
                        stats.failed += 1;
                        tracing::warn!(id, channel, attempts, error = %f.error, "notification given up");
                    }
                    Err(f) => {
                        let next = ended + delta(self.policy.delay_after(attempts));
                        tx.execute(
                            "UPDATE messages SET status = 'pending', next_attempt_at = ?2, last_error = ?3, \
                             claimed_at = NULL WHERE id = ?1",
                            params![id, ms(next), f.error],
                        )?;
                        stats.retrying += 1;
                        tracing::warn!(id, channel, attempts, error = %f.error, "notification failed, will retry");
                    }
                }
                tx.commit()?;
                match &result {
                    Err(f) if f.code.is_none() && !f.permanent => {
                        let n = silent.entry(channel.clone()).or_default();
                        *n += 1;
                        if *n >= TRIP {
                            tracing::warn!(
                                channel,
                                "channel not answering: its other messages wait for the next round"
                            );
                            names.retain(|c| *c != channel);
                            tripped.push(channel);
                        }
                    }
                    _ => {
                        silent.remove(&channel);
                    }
                }
            }
        }
        if !tripped.is_empty() {
            let db = self.db();
            let mut stmt = db.prepare_cached(
                "SELECT COUNT(*) FROM messages WHERE status = 'pending' AND next_attempt_at <= ?1 AND channel = ?2",
            )?;
            for c in &tripped {
                stats.deferred += stmt.query_row(params![ms(now), c], |r| r.get::<_, i64>(0))? as usize;
            }
        }
        Ok(stats)
    }

    fn gives_up(&self, f: &SendFailure, first: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        f.permanent || now - first >= delta(self.policy.give_up_after)
    }

    /// Messages left `sending` for longer than the policy allows: log the unknown outcome and queue
    /// them again.
    fn recover_interrupted(&self, now: DateTime<Utc>) -> NotifyResult<usize> {
        const WHY: &str = "发送中断（发送时进程退出），结果未知，将重新发送 / \
                           interrupted while sending (the process stopped): outcome unknown, sending again";
        let cutoff = ms(now - delta(self.policy.stale_sending));
        let mut db = self.db();
        let tx = db.transaction()?;
        let stale: Vec<(i64, i64)> = {
            let mut stmt = tx.prepare(
                "SELECT id, COALESCE(claimed_at, 0) FROM messages WHERE status = 'sending' \
                 AND COALESCE(claimed_at, 0) <= ?1",
            )?;
            stmt.query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
        };
        for (id, claimed_at) in &stale {
            tx.execute(
                "INSERT INTO deliveries (message_id, at, ok, error, duration_ms) VALUES (?1, ?2, 0, ?3, 0)",
                params![id, claimed_at, WHY],
            )?;
            tx.execute(
                "UPDATE messages SET status = 'pending', next_attempt_at = ?2, last_error = ?3, claimed_at = NULL \
                 WHERE id = ?1",
                params![id, ms(now), WHY],
            )?;
            tracing::warn!(id, "notification interrupted while sending; sending again");
        }
        tx.commit()?;
        Ok(stale.len())
    }

    /// Due messages whose channel is not configured: record why they wait; how many there are.
    fn note_unconfigured(&self, channels: &Channels, now: DateTime<Utc>) -> NotifyResult<usize> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let missing: Vec<(String, usize)> = {
            let mut stmt = tx.prepare(
                "SELECT channel, COUNT(*) FROM messages WHERE status = 'pending' AND next_attempt_at <= ?1 \
                 GROUP BY channel",
            )?;
            let rows =
                stmt.query_map([ms(now)], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize)))?;
            rows.filter(|r| r.as_ref().map_or(true, |(c, _)| channels.get(c).is_none()))
                .collect::<Result<_, _>>()?
        };
        let mut waiting = 0;
        for (channel, n) in &missing {
            let why = format!(
                "渠道 “{channel}” 未在 jicha.toml 中配置，消息等待配置后发送 / channel “{channel}” is not configured \
                 in jicha.toml: the message waits until it is"
            );
            tx.execute(
                "UPDATE messages SET last_error = ?2 WHERE status = 'pending' AND channel = ?1 \
                 AND next_attempt_at <= ?3 AND last_error IS NOT ?2",
                params![channel, why, ms(now)],
            )?;
            waiting += n;
        }
        tx.commit()?;
        Ok(waiting)
    }

    /// Queues message `id` again, due at `now`, with a fresh give-up clock: a `failed` message, or a
    /// `pending` one to send without waiting for its backoff. A `sent` or `sending` one is refused.
    pub fn retry(&self, id: i64, now: DateTime<Utc>) -> NotifyResult<()> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let status: Option<String> =
            tx.query_row("SELECT status FROM messages WHERE id = ?1", [id], |r| r.get(0)).optional()?;
        match status.as_deref().map(Status::parse) {
            None => return Err(NotifyError::NotFound(id)),
            Some(s @ (Status::Sent | Status::Sending)) => {
                return Err(NotifyError::NotRetryable { id, status: s.label(), status_en: s.as_str() });
            }
            Some(_) => {}
        }
        tx.execute(
            "UPDATE messages SET status = 'pending', next_attempt_at = ?2, first_attempt_at = NULL WHERE id = ?1",
            params![id, ms(now)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Message `id`.
    pub fn get(&self, id: i64) -> NotifyResult<Option<MessageRow>> {
        let db = self.db();
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1");
        Ok(db.query_row(&sql, [id], message_row).optional()?)
    }

    /// Messages, newest first.
    pub fn list(&self, filter: &ListFilter) -> NotifyResult<Vec<MessageRow>> {
        let mut sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(s) = filter.status {
            sql.push_str(" AND status = ?");
            args.push(s.as_str().to_string().into());
        }
        if let Some(c) = &filter.channel {
            sql.push_str(" AND channel = ?");
            args.push(c.clone().into());
        }
        if let Some(k) = &filter.kind {
            sql.push_str(" AND kind = ?");
            args.push(k.clone().into());
        }
        if let Some(b) = filter.before_id {
            sql.push_str(" AND id < ?");
            args.push(b.into());
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        args.push((filter.limit as i64).into());
        let db = self.db();
        let mut stmt = db.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), message_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The attempts of message `id`, oldest first.
    pub fn deliveries(&self, id: i64) -> NotifyResult<Vec<DeliveryRow>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(
            "SELECT id, message_id, at, ok, error, duration_ms, code, reply FROM deliveries \
             WHERE message_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(DeliveryRow {
                id: r.get(0)?,
                message_id: r.get(1)?,
                at: time(r.get(2)?),
                ok: r.get(3)?,
                error: r.get(4)?,
                duration_ms: r.get(5)?,
                code: r.get(6)?,
                reply: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many messages are in each status.
    pub fn counts(&self) -> NotifyResult<StatusCounts> {
        let db = self.db();
        let mut stmt = db.prepare_cached("SELECT status, COUNT(*) FROM messages GROUP BY status")?;
        let mut counts = StatusCounts::default();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        for row in rows {
            let (s, n) = row?;
            match Status::parse(&s) {
                Status::Pending => counts.pending = n,
                Status::Sending => counts.sending = n,
                Status::Sent => counts.sent = n,
                Status::Failed => counts.failed = n,
            }
        }
        Ok(counts)
    }
}

fn message_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
    let status = Status::parse(&r.get::<_, String>(7)?);
    Ok(MessageRow {
        id: r.get(0)?,
        dedupe_key: r.get(1)?,
        channel: r.get(2)?,
        recipient: r.get(3)?,
        subject: r.get(4)?,
        body: r.get(5)?,
        kind: r.get(6)?,
        status,
        attempts: r.get(8)?,
        created_at: time(r.get(9)?),
        next_attempt_at: (status == Status::Pending).then(|| r.get(10).map(time)).transpose()?,
        last_attempt_at: r.get::<_, Option<i64>>(11)?.map(time),
        sent_at: r.get::<_, Option<i64>>(12)?.map(time),
        last_error: r.get(13)?,
    })
}

/// Delivers what is due every `every` until `stop` is set, then returns (within about 50 ms).
/// Run it on a thread of its own; a database error is logged and tried again on the next round.
/// It reads `channels` as given: to pick up an edited `jicha.toml`, stop it and start it again.
pub fn run_worker(outbox: &Outbox, channels: &Channels, stop: &AtomicBool, every: Duration) {
    const SLICE: Duration = Duration::from_millis(50);
    while !stop.load(Ordering::Relaxed) {
        match outbox.deliver_due(channels, Utc::now()) {
            Ok(s) if s.attempted > 0 || s.interrupted > 0 => {
                tracing::info!(
                    sent = s.sent,
                    retrying = s.retrying,
                    failed = s.failed,
                    "notifications delivered"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "outbox delivery round failed"),
        }
        let mut slept = Duration::ZERO;
        while slept < every && !stop.load(Ordering::Relaxed) {
            let step = SLICE.min(every - slept);
            std::thread::sleep(step);
            slept += step;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let p = RetryPolicy::default();
        let secs: Vec<u64> = (1..=9).map(|a| p.delay_after(a).as_secs()).collect();
        assert_eq!(secs, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(p.delay_after(1000).as_secs(), 3600);
    }
}
