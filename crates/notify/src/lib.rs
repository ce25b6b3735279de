//! Notifications (通知): the channels a message can go out on and a durable outbox in front of them.
//!
//! **Channels** are configured in the `[channels.NAME]` tables of `jicha.toml` ([`parse_channels`]):
//! an HTTP SMS gateway (短信网关, `sms_http`), a 企业微信 group robot (`wecom`), a 钉钉 group robot
//! with optional signing (`dingtalk`) and SMTP mail (`smtp`). Everything is blocking (std threads and
//! sockets, every network step under the channel's `timeout_secs`): callers run it on a blocking thread.
//!
//! **The outbox** ([`Outbox`], `outbox.sqlite` in the data dir) is where a message is written first.
//! [`Outbox::deliver_due`] (or [`run_worker`] on a thread) sends what is due, logs every attempt in
//! the `deliveries` table and retries failures with exponential backoff (30 s doubling to 1 hour).
//!
//! # Delivery guarantee
//!
//! *At least once, never silently lost.* Once [`Outbox::enqueue`] has returned, the message is on
//! disk (WAL, `synchronous=FULL`) and stays listed until it has been sent — a message is never
//! deleted. A message whose channel is not configured waits, with the reason recorded, until it is.
//! After [`RetryPolicy::give_up_after`] (48 hours) of failed attempts a message becomes `failed`; it
//! stays listed and [`Outbox::retry`] puts it back in the queue. A message that can never go out as
//! addressed (a mail recipient that is not an address, an SMS without a phone) is `failed` at once.
//!
//! `sent` means the far side *accepted* the message: the SMS gateway answered 2xx (and, when the
//! channel has `success = "..."`, with that text in its answer), the robot answered `errcode` 0, the
//! mail server answered 250 to the end of DATA. What happens after that (a handset switched off, a
//! full mailbox) is beyond what the outbox can see.
//!
//! Each attempt is two transactions: the message is marked `sending` *before* the network call and
//! `sent` (or rescheduled) *after* it. The window where a message can go out twice is:
//! - the process dies between the network call and the second transaction: the message stays
//!   `sending` (visible in [`Outbox::list`]); after [`RetryPolicy::stale_sending`] (15 minutes) it is
//!   sent again and the `deliveries` log says the first outcome is unknown;
//! - the far side took the message but its answer was lost (a timeout after the gateway or the
//!   mail server accepted it): that attempt counts as failed and the message is sent again.
//!
//! So a recipient may, rarely, get a message twice (a mail keeps the same Message-ID, so clients
//! can tell); a message the outbox shows `sent` has been accepted by the far side.
//!
//! Enqueueing is idempotent through the message's `dedupe_key`: a scheduler that runs again after a
//! crash enqueues the same keys and gets the existing messages back, so it never sends twice.
//!
//! Several threads or processes may deliver from the same outbox: a message is claimed (`pending` →
//! `sending`) in a transaction, so only one of them sends it. In one round, a channel that does not
//! answer [`TRIP`] times in a row (down, or dropping packets) is left for the next round so that it
//! does not hold up the other channels.

#![warn(missing_docs)]

mod config;
mod http;
mod outbox;
mod smtp;

pub use config::{
    CONFIG_FILE, Channel, ChannelKind, Channels, ContentType, DingTalk, HttpMethod, Secret, Security,
    SmsHttp, Smtp, WeCom, parse_channels,
};
pub use outbox::{
    DeliveryRow, DeliveryStats, ListFilter, MessageRow, NewMessage, OUTBOX_FILE, Outbox, RetryPolicy, Status,
    StatusCounts, TRIP, run_worker,
};

/// The result of one send on a channel, as recorded in the `deliveries` log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The HTTP status, or the SMTP reply code to the end of DATA.
    pub code: Option<u16>,
    /// The start of the answer: the HTTP response body, or the SMTP reply (often with the queue id).
    pub reply: String,
}

/// Why one send failed: the error for people ("中文 / English") plus what the far side answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct SendFailure {
    /// What went wrong, "中文 / English".
    pub error: String,
    /// The HTTP status or SMTP reply code, when the far side answered.
    pub code: Option<u16>,
    /// The start of the answer, when there was one.
    pub reply: Option<String>,
    /// True when sending it again cannot succeed (e.g. the recipient is not an e-mail address):
    /// the outbox marks the message `failed` at once instead of retrying for two days.
    pub permanent: bool,
}

impl SendFailure {
    pub(crate) fn new(error: impl Into<String>) -> SendFailure {
        SendFailure { error: error.into(), code: None, reply: None, permanent: false }
    }

    pub(crate) fn answered(error: impl Into<String>, code: u16, reply: impl Into<String>) -> SendFailure {
        SendFailure { error: error.into(), code: Some(code), reply: Some(reply.into()), permanent: false }
    }

    pub(crate) fn permanent(error: impl Into<String>) -> SendFailure {
        SendFailure { error: error.into(), code: None, reply: None, permanent: true }
    }
}

/// What can go wrong in the outbox. The messages are for people: Chinese first.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The request is wrong (empty dedupe key, empty channel name...).
    #[error("{0}")]
    Invalid(String),
    /// No message of that id.
    #[error("消息不存在：{0} / no such message: {0}")]
    NotFound(i64),
    /// The message cannot be requeued in its present status.
    #[error("消息 {id} 状态为“{status}”，不能重发 / message {id} is {status_en}, it cannot be requeued")]
    NotRetryable {
        /// The message.
        id: i64,
        /// Its status in Chinese.
        status: &'static str,
        /// Its status in English.
        status_en: &'static str,
    },
    /// The outbox database.
    #[error("发件箱数据库错误 / outbox database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Files.
    #[error("文件错误 / file error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result of the outbox.
pub type NotifyResult<T> = Result<T, NotifyError>;

/// Cuts `text` to at most `max` bytes on a character boundary.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
