//! The HTTP channels: an SMS gateway and the 企业微信 / 钉钉 group robots (ureq, blocking).

use std::io::Read;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::config::{Channel, ContentType, DingTalk, HttpMethod, SmsHttp, WeCom, fill};
use crate::{Receipt, SendFailure, excerpt};

/// How much of an answer is kept in the delivery log.
const REPLY_MAX: usize = 2000;
/// 企业微信: a text message holds at most 2048 bytes.
const WECOM_MAX: usize = 2048;
/// 钉钉: a text message is kept well under its 20,000-byte limit.
const DINGTALK_MAX: usize = 18_000;
const TRUNCATED: &str = "\n…（内容过长已截断 / truncated）";

fn agent(ch: &Channel) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(ch.timeout)
        .timeout_read(ch.timeout)
        .timeout_write(ch.timeout)
        .timeout(ch.timeout * 3)
        .redirects(0)
        .tls_config(ch.tls.clone())
        .user_agent(concat!("jicha-notify/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends on an `sms_http` channel.
pub(crate) fn send_sms(
    ch: &Channel,
    c: &SmsHttp,
    phone: &str,
    subject: &str,
    body: &str,
) -> Result<Receipt, SendFailure> {
    let phone = phone.trim();
    if phone.is_empty() {
        return Err(SendFailure::permanent("短信收件人（手机号）为空 / the SMS recipient (phone) is empty"));
    }
    let text = if c.has_subject || subject.trim().is_empty() {
        body.to_string()
    } else {
        format!("{subject}\n{body}")
    };
    let value = |p: &str| match p {
        "phone" => Some(phone.to_string()),
        "text" => Some(text.clone()),
        "subject" => Some(subject.to_string()),
        _ => None,
    };
    let url = fill(&c.url, |p| value(p).map(|v| percent_encode(&v)));
    let mut req = agent(ch).request(if c.method == HttpMethod::Get { "GET" } else { "POST" }, &url);
    for (k, v) in &c.headers {
        req = req.set(k, v.expose());
    }
    let result = match (&c.method, &c.body) {
        (HttpMethod::Post, Some(template)) => {
            let payload = fill(template, |p| {
                value(p).map(|v| match c.content_type {
                    ContentType::Json => json_escape(&v),
                    ContentType::Form => percent_encode(&v),
                })
            });
            req.set("Content-Type", &c.content_type_header).send_string(&payload)
        }
        _ => req.call(),
    };
    let (status, answer) = answer(result)?;
    if let Some(needle) = &c.success
        && !answer.contains(needle.as_str())
    {
        return Err(SendFailure::answered(
            format!(
                "网关回执不含 “{needle}”，视为未送达 / the gateway's answer lacks “{needle}”: not delivered"
            ),
            status,
            excerpt(&answer, REPLY_MAX),
        ));
    }
    Ok(Receipt { code: Some(status), reply: excerpt(&answer, REPLY_MAX) })
}

/// The robots' text: the subject on the first line, then the body, cut to `max` bytes.
fn robot_text(subject: &str, body: &str, max: usize) -> String {
    let text =
        if subject.trim().is_empty() { body.to_string() } else { format!("{}\n{body}", subject.trim()) };
    if text.len() <= max {
        return text;
    }
    let mut end = max - TRUNCATED.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{TRUNCATED}", &text[..end])
}

/// Sends on a `wecom` channel. A non-empty recipient (a mobile number, or `@all`) is @-mentioned.
pub(crate) fn send_wecom(
    ch: &Channel,
    c: &WeCom,
    recipient: &str,
    subject: &str,
    body: &str,
) -> Result<Receipt, SendFailure> {
    let mut text = json!({ "content": robot_text(subject, body, WECOM_MAX) });
    if !recipient.trim().is_empty() {
        text["mentioned_mobile_list"] = json!([recipient.trim()]);
    }
    let payload = json!({ "msgtype": "text", "text": text });
    robot_post(ch, c.webhook.expose(), &payload)
}

/// Sends on a `dingtalk` channel, signed when it has a secret. A non-empty recipient (a mobile
/// number, or `@all`) is @-mentioned.
pub(crate) fn send_dingtalk(
    ch: &Channel,
    c: &DingTalk,
    recipient: &str,
    subject: &str,
    body: &str,
) -> Result<Receipt, SendFailure> {
    let recipient = recipient.trim();
    let mut content = robot_text(subject, body, DINGTALK_MAX);
    let at = match recipient {
        "" => json!({ "isAtAll": false }),
        "@all" => json!({ "isAtAll": true }),
        phone => {
            content.push_str(&format!("\n@{phone}"));
            json!({ "atMobiles": [phone], "isAtAll": false })
        }
    };
    let payload = json!({ "msgtype": "text", "text": { "content": content }, "at": at });
    let mut url = c.webhook.expose().to_string();
    if let Some(secret) = &c.secret {
        // The robot checks the timestamp against its own clock (within an hour): the real clock,
        // not the outbox's `now`.
        let ts = chrono::Utc::now().timestamp_millis();
        let sep = if url.contains('?') { '&' } else { '?' };
        url =
            format!("{url}{sep}timestamp={ts}&sign={}", percent_encode(&dingtalk_sign(secret.expose(), ts)));
    }
    robot_post(ch, &url, &payload)
}

/// 钉钉 加签: base64 of HMAC-SHA256, keyed by the secret, of `timestamp + "\n" + secret`.
fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// POSTs a robot message and reads `{"errcode":0,...}`: any other errcode is a failed delivery.
fn robot_post(ch: &Channel, url: &str, payload: &serde_json::Value) -> Result<Receipt, SendFailure> {
    let result = agent(ch)
        .post(url)
        .set("Content-Type", "application/json; charset=utf-8")
        .send_string(&payload.to_string());
    let (status, answer) = answer(result)?;
    let reply = excerpt(&answer, REPLY_MAX);
    let parsed: Option<serde_json::Value> = serde_json::from_str(&answer).ok();
    let Some(errcode) = parsed.as_ref().and_then(|v| v.get("errcode")).and_then(|c| c.as_i64()) else {
        return Err(SendFailure::answered(
            "机器人回执中没有 errcode，无法确认送达 / the robot's answer has no errcode: delivery not confirmed",
            status,
            reply,
        ));
    };
    if errcode != 0 {
        let errmsg = parsed.as_ref().and_then(|v| v.get("errmsg")).and_then(|m| m.as_str()).unwrap_or("");
        return Err(SendFailure::answered(
            format!("机器人拒收 / the robot refused: errcode {errcode}: {errmsg}"),
            status,
            reply,
        ));
    }
    Ok(Receipt { code: Some(status), reply })
}

/// A 2xx answer's status and body; anything else is a failure (with the answer when there was one).
fn answer(result: Result<ureq::Response, ureq::Error>) -> Result<(u16, String), SendFailure> {
    match result {
        Ok(resp) => {
            let status = resp.status();
            let text = read_body(resp);
            if (200..300).contains(&status) {
                Ok((status, text))
            } else {
                Err(SendFailure::answered(
                    format!("HTTP {status}（未送达 / not delivered）"),
                    status,
                    excerpt(&text, REPLY_MAX),
                ))
            }
        }
        Err(ureq::Error::Status(status, resp)) => Err(SendFailure::answered(
            format!("HTTP {status}（未送达 / not delivered）"),
            status,
            excerpt(&read_body(resp), REPLY_MAX),
        )),
        Err(ureq::Error::Transport(t)) => Err(SendFailure::new(transport_error(&t))),
    }
}

/// At most 64 KiB of a response body, as text.
fn read_body(resp: ureq::Response) -> String {
    let mut buf = Vec::new();
    let _ = resp.into_reader().take(64 * 1024).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// A transport error in words, without the URL (a webhook's URL carries its key).
fn transport_error(t: &ureq::Transport) -> String {
    use ureq::ErrorKind as K;
    let zh = match t.kind() {
        K::Dns => "域名解析失败",
        K::ConnectionFailed => "连接失败",
        K::Io => "网络读写失败或超时",
        K::InvalidUrl | K::UnknownScheme => "网址无效",
        K::TooManyRedirects => "跳转过多",
        K::BadStatus | K::BadHeader => "对方回应不是有效的 HTTP",
        K::InsecureRequestHttpsOnly => "只允许 https",
        K::InvalidProxyUrl | K::ProxyConnect | K::ProxyUnauthorized => "代理错误",
        K::HTTP => "HTTP 错误",
    };
    let mut detail = t.message().map(str::to_string).unwrap_or_default();
    let mut source = std::error::Error::source(t);
    while let Some(s) = source {
        if !detail.is_empty() {
            detail.push_str(": ");
        }
        detail.push_str(&s.to_string());
        source = s.source();
    }
    format!("{zh} / {}: {detail}", t.kind())
}

/// Percent-encodes everything but the unreserved characters (RFC 3986), as UTF-8.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inside of a JSON string literal.
fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(percent_encode("稽查 a+b&c=d"), "%E7%A8%BD%E6%9F%A5%20a%2Bb%26c%3Dd");
        assert_eq!(json_escape("a\"b\\c\n稽查"), "a\\\"b\\\\c\\n稽查");
    }

    #[test]
    fn robot_text_is_cut_on_a_char_boundary() {
        let long = "稽".repeat(1000);
        let t = robot_text("标题", &long, WECOM_MAX);
        assert!(t.len() <= WECOM_MAX, "{}", t.len());
        assert!(t.starts_with("标题\n稽"));
        assert!(t.ends_with("truncated）"));
        assert_eq!(robot_text("", "正文", WECOM_MAX), "正文");
    }

    #[test]
    fn known_dingtalk_signature() {
        // Computed independently (Python's hmac): HMAC-SHA256(key = secret, "1700000000000\nSECabc").
        assert_eq!(
            dingtalk_sign("SECabc", 1_700_000_000_000),
            "jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM="
        );
    }
}
