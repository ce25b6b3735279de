//! `[channels.NAME]` in `jicha.toml`: parsed and validated, every problem named with its line.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use toml::Value;

use crate::{Receipt, SendFailure};

/// The config file of the data dir.
pub const CONFIG_FILE: &str = "jicha.toml";

/// Default for `timeout_secs`.
const DEFAULT_TIMEOUT_SECS: i64 = 10;
/// Largest `timeout_secs`: one SMTP conversation is about eight round trips, each under this
/// timeout, and must end well before the outbox takes a `sending` message for lost (15 minutes).
const MAX_TIMEOUT_SECS: i64 = 60;

const KINDS: &str = "sms_http（短信网关）、wecom（企业微信群机器人）、dingtalk（钉钉群机器人）、smtp（邮件）";

/// Every configured channel, by name (the `NAME` of `[channels.NAME]`).
#[derive(Debug, Clone, Default)]
pub struct Channels {
    by_name: BTreeMap<String, Channel>,
}

impl Channels {
    /// Reads the `[channels]` of `jicha.toml` in `data_dir`; no file means no channel.
    pub fn load(data_dir: &Path) -> Result<Channels, Vec<String>> {
        let path = data_dir.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => parse_channels(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Channels::default()),
            Err(e) => Err(vec![format!("{}：无法读取 / cannot read: {e}", path.display())]),
        }
    }

    /// The channel called `name`.
    pub fn get(&self, name: &str) -> Option<&Channel> {
        self.by_name.get(name)
    }

    /// The channels in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Channel> {
        self.by_name.values()
    }

    /// The channel names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// How many channels there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when no channel is configured.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// One configured channel.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Its name, the `NAME` of `[channels.NAME]`; messages name their channel by it.
    pub name: String,
    /// What it is and where it sends.
    pub kind: ChannelKind,
    /// The timeout of each network step (connect, each read and write); `timeout_secs`, default 10 s.
    pub timeout: Duration,
    /// The TLS client settings: the Mozilla roots, plus the certificates of `ca_file` when given
    /// (for an intranet gateway or mail server with its own CA).
    pub(crate) tls: Arc<rustls::ClientConfig>,
}

impl Channel {
    /// Sends one message now, outside the outbox (e.g. a "send a test message" button). `recipient`
    /// is the phone for `sms_http`, the e-mail address for `smtp`, and for the group robots empty
    /// or a mobile number to @-mention.
    pub fn send(&self, recipient: &str, subject: &str, body: &str) -> Result<Receipt, SendFailure> {
        self.send_keyed(recipient, subject, body, "")
    }

    /// As [`Channel::send`]; `key` (the outbox dedupe key) makes the mail's Message-ID stable.
    pub(crate) fn send_keyed(
        &self,
        recipient: &str,
        subject: &str,
        body: &str,
        key: &str,
    ) -> Result<Receipt, SendFailure> {
        match &self.kind {
            ChannelKind::SmsHttp(c) => crate::http::send_sms(self, c, recipient, subject, body),
            ChannelKind::WeCom(c) => crate::http::send_wecom(self, c, recipient, subject, body),
            ChannelKind::DingTalk(c) => crate::http::send_dingtalk(self, c, recipient, subject, body),
            ChannelKind::Smtp(c) => crate::smtp::send_mail(self, c, recipient, subject, body, key),
        }
    }
}

/// What a channel is.
#[derive(Debug, Clone)]
pub enum ChannelKind {
    /// `sms_http`: an HTTP SMS gateway (短信网关).
    SmsHttp(SmsHttp),
    /// `wecom`: a 企业微信 group robot.
    WeCom(WeCom),
    /// `dingtalk`: a 钉钉 group robot.
    DingTalk(DingTalk),
    /// `smtp`: mail.
    Smtp(Smtp),
}

impl ChannelKind {
    /// The `kind` as written in `jicha.toml`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChannelKind::SmsHttp(_) => "sms_http",
            ChannelKind::WeCom(_) => "wecom",
            ChannelKind::DingTalk(_) => "dingtalk",
            ChannelKind::Smtp(_) => "smtp",
        }
    }
}

/// A string kept out of `Debug` output and logs (passwords, signing secrets, auth headers).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// GET or POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// The message goes in the URL's placeholders.
    Get,
    /// The message goes in the body template (and any placeholders of the URL).
    Post,
}

/// How the body template's placeholders are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// `application/json`: as the inside of a JSON string (write the quotes in the template).
    Json,
    /// `application/x-www-form-urlencoded`: percent-encoded.
    Form,
}

/// An HTTP SMS gateway (`kind = "sms_http"`).
///
/// The templates take `{phone}` (the recipient), `{subject}` and `{text}`. `{text}` is the body; when
/// the templates do not place `{subject}` themselves, it is the subject, a newline and the body, so
/// that the subject is never lost.
#[derive(Debug, Clone)]
pub struct SmsHttp {
    /// The URL template; its placeholders are always percent-encoded.
    pub url: String,
    /// GET or POST (default).
    pub method: HttpMethod,
    /// How placeholders of `body` are escaped.
    pub content_type: ContentType,
    /// The `Content-Type` header as written.
    pub content_type_header: String,
    /// The body template (POST only).
    pub body: Option<String>,
    /// Extra request headers.
    pub headers: Vec<(String, Secret)>,
    /// A substring the response body must contain for the message to count as delivered; without
    /// it any 2xx answer does.
    pub success: Option<String>,
    /// True when the templates place `{subject}` themselves.
    pub(crate) has_subject: bool,
}

/// A 企业微信 group robot (`kind = "wecom"`).
#[derive(Debug, Clone)]
pub struct WeCom {
    /// `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...` (a secret: never logged).
    pub webhook: Secret,
}

/// A 钉钉 group robot (`kind = "dingtalk"`).
#[derive(Debug, Clone)]
pub struct DingTalk {
    /// `https://oapi.dingtalk.com/robot/send?access_token=...` (a secret: never logged).
    pub webhook: Secret,
    /// The signing secret (加签, `SEC...`): each request carries `timestamp` and `sign`.
    pub secret: Option<Secret>,
}

/// Transport security of an SMTP channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text (an intranet relay on port 25). With `username`, the login travels in clear too.
    None,
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server does not offer it.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// SMTP mail (`kind = "smtp"`).
#[derive(Debug, Clone)]
pub struct Smtp {
    /// The server.
    pub host: String,
    /// Its port: default 25, 587 with STARTTLS, 465 with TLS.
    pub port: u16,
    /// The display name of `from`, if any (`稽查中心` in `稽查中心 <audit@example.cn>`).
    pub from_name: Option<String>,
    /// The address of `from`: the envelope sender and the From header.
    pub from_addr: String,
    /// Login name (AUTH PLAIN or LOGIN, whichever the server offers).
    pub username: Option<String>,
    /// Password, with `username`.
    pub password: Option<Secret>,
    /// Transport security.
    pub security: Security,
}

/// Parses the whole text of `jicha.toml` at `path` and validates its top-level `channels` table
/// (other top-level keys are not looked at). Every problem is reported at once, each naming the
/// file, the line and the problem in "中文 / English". A file without `[channels]` has no channel.
pub fn parse_channels(path: &Path, text: &str) -> Result<Channels, Vec<String>> {
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let line = e.span().map(|s| line_at(text, s.start));
            let msg = e.message().trim().to_string();
            return Err(vec![problem(path, line, &format!("不是有效的 TOML / not valid TOML: {msg}"))]);
        }
    };
    let Some(value) = table.get("channels") else {
        return Ok(Channels::default());
    };
    let file = Located { path, lines: key_lines(text) };
    let Some(channels) = value.as_table() else {
        return Err(vec![
            file.problem(&["channels"], "channels 应为表 [channels.名称] / must be a table [channels.NAME]"),
        ]);
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();
    let mut out = Channels::default();
    for (name, body) in channels {
        if let Some(ch) = parse_channel(&file, base, name, body, &mut problems) {
            out.by_name.insert(name.clone(), ch);
        }
    }
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

fn parse_channel(
    file: &Located,
    base: &Path,
    name: &str,
    body: &Value,
    problems: &mut Vec<String>,
) -> Option<Channel> {
    let Some(table) = body.as_table() else {
        problems
            .push(file.problem(&["channels", name], &format!("[channels.{name}] 应为表 / must be a table")));
        return None;
    };
    let mut r = Reader { file, name, table, problems, bad: false };
    let kind = r.string("kind", true);
    let timeout = match r.integer("timeout_secs") {
        Some(t) if (1..=MAX_TIMEOUT_SECS).contains(&t) => t,
        Some(_) => {
            r.bad(
                "timeout_secs",
                &format!("应为 1 到 {MAX_TIMEOUT_SECS} 秒 / must be 1 to {MAX_TIMEOUT_SECS} seconds"),
            );
            DEFAULT_TIMEOUT_SECS
        }
        None => DEFAULT_TIMEOUT_SECS,
    };
    let roots = r.ca_file(base);
    let common = ["kind", "timeout_secs", "ca_file"];
    let (kind, known): (Option<ChannelKind>, &[&str]) = match kind.as_deref() {
        None => (None, &[]),
        Some("sms_http") => (r.sms_http(), &["url", "method", "content_type", "body", "headers", "success"]),
        Some("wecom") => {
            (r.webhook("webhook").map(|webhook| ChannelKind::WeCom(WeCom { webhook })), &["webhook"])
        }
        Some("dingtalk") => {
            let webhook = r.webhook("webhook");
            let secret = r.string("secret", false).map(Secret);
            if secret.as_ref().is_some_and(|s| s.0.trim().is_empty()) {
                r.bad("secret", "不能为空 / must not be empty");
            }
            (
                webhook.map(|webhook| ChannelKind::DingTalk(DingTalk { webhook, secret })),
                &["webhook", "secret"],
            )
        }
        Some("smtp") => (r.smtp(), &["host", "port", "from", "username", "password", "security"]),
        Some(other) => {
            r.bad("kind", &format!("未知的渠道类型 “{other}”，可用 {KINDS} / unknown kind “{other}”"));
            (None, &[])
        }
    };
    if !known.is_empty() {
        for key in table.keys() {
            if !common.contains(&key.as_str()) && !known.contains(&key.as_str()) {
                let mut all: Vec<&str> = known.to_vec();
                all.extend(common);
                r.bad(key, &format!("未知的配置项 / unknown key; 可用 known: {}", all.join(", ")));
            }
        }
    }
    let tls = match tls_config(&roots) {
        Ok(t) => t,
        Err(e) => {
            r.bad("ca_file", &e);
            return None;
        }
    };
    let bad = r.bad;
    match kind {
        Some(kind) if !bad => {
            Some(Channel { name: name.to_string(), kind, timeout: Duration::from_secs(timeout as u64), tls })
        }
        _ => None,
    }
}

/// Reads the keys of one channel, recording problems.
struct Reader<'a> {
    file: &'a Located<'a>,
    name: &'a str,
    table: &'a toml::Table,
    problems: &'a mut Vec<String>,
    bad: bool,
}

impl Reader<'_> {
    fn bad(&mut self, key: &str, what: &str) {
        let name = self.name;
        let p = self.file.problem(&["channels", name, key], &format!("[channels.{name}] {key}: {what}"));
        self.problems.push(p);
        self.bad = true;
    }

    fn missing(&mut self, key: &str) {
        let name = self.name;
        let p = self
            .file
            .problem(&["channels", name], &format!("[channels.{name}] 缺少 {key} / {key} is missing"));
        self.problems.push(p);
        self.bad = true;
    }

    fn string(&mut self, key: &str, required: bool) -> Option<String> {
        match self.table.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.bad(key, "应为字符串（加引号）/ must be a string (in quotes)");
                None
            }
            None => {
                if required {
                    self.missing(key);
                }
                None
            }
        }
    }

    fn integer(&mut self, key: &str) -> Option<i64> {
        match self.table.get(key) {
            Some(Value::Integer(i)) => Some(*i),
            Some(_) => {
                self.bad(key, "应为整数（不加引号）/ must be a whole number (no quotes)");
                None
            }
            None => None,
        }
    }

    /// A required http(s) URL.
    fn url(&mut self, key: &str, template: bool) -> Option<String> {
        let s = self.string(key, true)?;
        let probe = if template { fill(&s, |_| Some("x".to_string())) } else { s.clone() };
        match url::Url::parse(probe.trim()) {
            Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => {
                Some(s.trim().to_string())
            }
            Ok(u) => {
                self.bad(
                    key,
                    &format!(
                        "应为 http:// 或 https:// 地址，而不是 {}: / must be an http:// or https:// URL",
                        u.scheme()
                    ),
                );
                None
            }
            Err(e) => {
                self.bad(key, &format!("不是有效的网址 / not a valid URL: {e}"));
                None
            }
        }
    }

    fn webhook(&mut self, key: &str) -> Option<Secret> {
        self.url(key, false).map(Secret)
    }

    fn ca_file(&mut self, base: &Path) -> Vec<CertificateDer<'static>> {
        let Some(p) = self.string("ca_file", false) else {
            return Vec::new();
        };
        let path = base.join(PathBuf::from(&p));
        let certs: Result<Vec<_>, _> = match CertificateDer::pem_file_iter(&path) {
            Ok(it) => it.collect(),
            Err(e) => Err(e),
        };
        match certs {
            Ok(c) if !c.is_empty() => c,
            Ok(_) => {
                self.bad("ca_file", &format!("{} 中没有证书 / holds no PEM certificate", path.display()));
                Vec::new()
            }
            Err(e) => {
                self.bad(
                    "ca_file",
                    &format!("无法读取证书 {} / cannot read certificates: {e}", path.display()),
                );
                Vec::new()
            }
        }
    }

    fn sms_http(&mut self) -> Option<ChannelKind> {
        let url = self.url("url", true);
        let method = match self.string("method", false).as_deref().map(str::trim) {
            None => Some(HttpMethod::Post),
            Some(m) if m.eq_ignore_ascii_case("post") => Some(HttpMethod::Post),
            Some(m) if m.eq_ignore_ascii_case("get") => Some(HttpMethod::Get),
            Some(_) => {
                self.bad("method", "应为 POST 或 GET / must be POST or GET");
                None
            }
        };
        let ct_header = self.string("content_type", false).unwrap_or_else(|| "application/json".to_string());
        let mime = ct_header.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let content_type = match mime.as_str() {
            "application/json" => Some(ContentType::Json),
            "application/x-www-form-urlencoded" => Some(ContentType::Form),
            _ => {
                self.bad(
                    "content_type",
                    "应为 application/json 或 application/x-www-form-urlencoded / \
                     must be application/json or application/x-www-form-urlencoded",
                );
                None
            }
        };
        let body = self.string("body", false);
        match (method, &body) {
            (Some(HttpMethod::Post), None) => self.missing("body"),
            (Some(HttpMethod::Get), Some(_)) => self.bad(
                "body",
                "GET 请求不带请求体，请把占位符写在 url 中 / a GET has no body: put the placeholders in url",
            ),
            _ => {}
        }
        let mut headers = Vec::new();
        match self.table.get("headers") {
            None => {}
            Some(Value::Table(t)) => {
                for (k, v) in t {
                    match v.as_str() {
                        Some(_) if k.eq_ignore_ascii_case("content-type") => {
                            self.bad(
                                "headers",
                                "请用 content_type 设置 Content-Type / set Content-Type with content_type",
                            );
                        }
                        Some(v) => headers.push((k.clone(), Secret(v.to_string()))),
                        None => self.bad("headers", &format!("{k} 应为字符串 / {k} must be a string")),
                    }
                }
            }
            Some(_) => self.bad("headers", "应为表，如 { Authorization = \"...\" } / must be a table"),
        }
        let success = self.string("success", false).filter(|s| !s.is_empty());
        // Placeholders: only {phone} {text} {subject}; {phone} and {text} must appear somewhere.
        let mut seen = Vec::new();
        for (key, t) in [("url", url.as_deref()), ("body", body.as_deref())] {
            for p in placeholders(t.unwrap_or("")) {
                if !["phone", "text", "subject"].contains(&p) {
                    self.bad(
                        key,
                        &format!("未知的占位符 {{{p}}}，可用 {{phone}} {{text}} {{subject}} / unknown placeholder {{{p}}}"),
                    );
                }
                seen.push(p.to_string());
            }
        }
        if url.is_some() {
            for p in ["phone", "text"] {
                if !seen.iter().any(|s| s == p) {
                    let key = if method == Some(HttpMethod::Get) { "url" } else { "body" };
                    self.bad(key, &format!("模板中没有 {{{p}}} / the template lacks {{{p}}}"));
                }
            }
        }
        let has_subject = seen.iter().any(|s| s == "subject");
        Some(ChannelKind::SmsHttp(SmsHttp {
            url: url?,
            method: method?,
            content_type: content_type?,
            content_type_header: ct_header,
            body,
            headers,
            success,
            has_subject,
        }))
    }

    fn smtp(&mut self) -> Option<ChannelKind> {
        let host = self.string("host", true).map(|h| h.trim().to_string());
        if host.as_deref().is_some_and(|h| h.is_empty() || h.contains(['/', ' ', ':'])) {
            self.bad("host", "应为主机名或 IP 地址，如 mail.example.cn / must be a host name or IP address");
        }
        let security = match self.string("security", false).as_deref().map(str::trim) {
            None | Some("none") => Some(Security::None),
            Some("starttls") => Some(Security::StartTls),
            Some("tls") => Some(Security::Tls),
            Some(_) => {
                self.bad("security", "应为 none、starttls 或 tls / must be none, starttls or tls");
                None
            }
        };
        let port = match self.integer("port") {
            Some(p) if (1..=65535).contains(&p) => Some(p as u16),
            Some(_) => {
                self.bad("port", "应为 1 到 65535 的端口号 / must be a port number from 1 to 65535");
                None
            }
            None if self.table.contains_key("port") => None,
            None => Some(match security {
                Some(Security::Tls) => 465,
                Some(Security::StartTls) => 587,
                _ => 25,
            }),
        };
        let from = self.string("from", true).and_then(|f| match parse_mailbox(&f) {
            Some(m) => Some(m),
            None => {
                self.bad(
                    "from",
                    "应为 邮箱地址 或 “名称 <邮箱地址>” / must be an address or “Name <address>”",
                );
                None
            }
        });
        let username = self.string("username", false);
        let password = self.string("password", false).map(Secret);
        match (&username, &password) {
            (Some(_), None) => self.missing("password"),
            (None, Some(_)) => self.missing("username"),
            _ => {}
        }
        let (from_name, from_addr) = from?;
        Some(ChannelKind::Smtp(Smtp {
            host: host?,
            port: port?,
            from_name,
            from_addr,
            username,
            password,
            security: security?,
        }))
    }
}

/// Builds the TLS client settings: Mozilla's roots and `extra`.
fn tls_config(extra: &[CertificateDer<'static>]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    for c in extra {
        roots.add(c.clone()).map_err(|e| format!("证书无效 / invalid certificate: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS 设置错误 / TLS setup error: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `Name <addr>` or `addr` → (name, addr); the address must be plain ASCII `local@domain`.
pub(crate) fn parse_mailbox(s: &str) -> Option<(Option<String>, String)> {
    let s = s.trim();
    let (name, addr) = match (s.rfind('<'), s.ends_with('>')) {
        (Some(i), true) => {
            let name = s[..i].trim().trim_matches('"').trim();
            (if name.is_empty() { None } else { Some(name.to_string()) }, &s[i + 1..s.len() - 1])
        }
        (None, false) => (None, s),
        _ => return None,
    };
    valid_address(addr.trim()).then(|| (name, addr.trim().to_string()))
}

/// A plain ASCII `local@domain` address without spaces or brackets.
pub(crate) fn valid_address(addr: &str) -> bool {
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && addr.bytes().all(|b| b.is_ascii_graphic() && !b"<>()[]\\,;:\"".contains(&b))
        && !local.contains('@')
}

/// The names of the `{name}` placeholders of a template (a brace followed by anything but a name,
/// as in JSON, is literal).
pub(crate) fn placeholders(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        rest = &rest[i + 1..];
        if let Some(n) = placeholder_at(rest) {
            out.push(&rest[..n]);
            rest = &rest[n + 1..];
        }
    }
    out
}

/// The length of the name when `s` starts with `name}`.
fn placeholder_at(s: &str) -> Option<usize> {
    let n = s.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    (n > 0 && s.as_bytes().get(n) == Some(&b'}') && !s.as_bytes()[0].is_ascii_digit()).then_some(n)
}

/// Replaces each `{name}` for which `value` answers, in one pass (a value is never scanned again).
pub(crate) fn fill(t: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(t.len() + 64);
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match placeholder_at(after).and_then(|n| value(&after[..n]).map(|v| (n, v))) {
            Some((n, v)) => {
                out.push_str(&v);
                rest = &after[n + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The config text's path and the line of every key path (`channels`, `channels.sms`,
/// `channels.sms.url`...).
struct Located<'a> {
    path: &'a Path,
    lines: HashMap<Vec<String>, usize>,
}

impl Located<'_> {
    /// A problem at the line of `keys`, or of the closest enclosing key that has one.
    fn problem(&self, keys: &[&str], what: &str) -> String {
        let line = (1..=keys.len()).rev().find_map(|n| {
            let k: Vec<String> = keys[..n].iter().map(|s| s.to_string()).collect();
            self.lines.get(&k).copied()
        });
        problem(self.path, line, what)
    }
}

fn problem(path: &Path, line: Option<usize>, what: &str) -> String {
    match line {
        Some(l) => format!("{} 第 {l} 行 / line {l}: {what}", path.display()),
        None => format!("{}: {what}", path.display()),
    }
}

/// The line where each key path is first written, from the spans of toml's parser.
fn key_lines(text: &str) -> HashMap<Vec<String>, usize> {
    fn walk(
        text: &str,
        table: &toml::de::DeTable<'_>,
        prefix: &mut Vec<String>,
        out: &mut HashMap<Vec<String>, usize>,
    ) {
        for (k, v) in table.iter() {
            prefix.push(k.get_ref().to_string());
            out.entry(prefix.clone()).or_insert_with(|| line_at(text, k.span().start));
            if let toml::de::DeValue::Table(t) = v.get_ref() {
                walk(text, t, prefix, out);
            }
            prefix.pop();
        }
    }
    let mut out = HashMap::new();
    if let Ok(doc) = toml::de::DeTable::parse(text) {
        walk(text, doc.get_ref(), &mut Vec::new(), &mut out);
    }
    out
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_fill() {
        let t = r#"{"mobile":"{phone}","content":"{text}","x":{1},"y":"{ab_c}"}"#;
        assert_eq!(placeholders(t), vec!["phone", "text", "ab_c"]);
        let out = fill(t, |p| match p {
            "phone" => Some("138".into()),
            "text" => Some("{phone}".into()),
            _ => None,
        });
        assert_eq!(out, r#"{"mobile":"138","content":"{phone}","x":{1},"y":"{ab_c}"}"#);
    }

    #[test]
    fn mailboxes() {
        assert_eq!(
            parse_mailbox("稽查中心 <audit@example.cn>"),
            Some((Some("稽查中心".into()), "audit@example.cn".into()))
        );
        assert_eq!(parse_mailbox("audit@example.cn"), Some((None, "audit@example.cn".into())));
        assert_eq!(parse_mailbox("稽查中心 audit@example.cn"), None);
        assert_eq!(parse_mailbox("<audit>"), None);
        assert!(!valid_address("a b@c.cn"));
        assert!(!valid_address("ab@"));
    }

    #[test]
    fn lines_of_keys() {
        let text = "a = 1\n\n[channels.sms]\nkind = \"x\"\n[channels.mail]\nport = 2\n";
        let l = key_lines(text);
        assert_eq!(l[&vec!["channels".to_string(), "sms".to_string()]], 3);
        assert_eq!(l[&vec!["channels".to_string(), "sms".to_string(), "kind".to_string()]], 4);
        assert_eq!(l[&vec!["channels".to_string(), "mail".to_string(), "port".to_string()]], 6);
    }
}
