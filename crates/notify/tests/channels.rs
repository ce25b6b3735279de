//! The channels and the outbox against real servers on loopback, started here: an HTTP server that
//! records every request and can be down (refusing connections, or answering 503) or up, and a
//! minimal SMTP server. Time is passed explicitly, so nothing waits for a backoff.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use hmac::{Hmac, Mac};
use jicha_notify::{Channels, ListFilter, NewMessage, Outbox, Status, parse_channels, run_worker};
use sha2::Sha256;

// ---------------------------------------------------------------- the HTTP server

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Not listening: connections are refused.
    Refuse,
    /// Listening, answering 503 to everything.
    Unavailable,
    /// Answering as the real service would.
    Up,
}

#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    headers: HashMap<String, String>,
    body: String,
    /// The server was up when it got this request (it answered as the real service).
    up: bool,
}

impl Request {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap()
    }

    fn query(&self) -> HashMap<String, String> {
        let q = self.target.split_once('?').map(|(_, q)| q).unwrap_or("");
        form_decode(q)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

type Responder = Box<dyn Fn(&Request) -> (u16, String) + Send>;

struct HttpState {
    listener: Option<TcpListener>,
    mode: Mode,
    requests: Vec<Request>,
    respond: Responder,
}

struct HttpServer {
    addr: SocketAddr,
    state: Arc<Mutex<HttpState>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    fn start(respond: impl Fn(&Request) -> (u16, String) + Send + 'static) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(HttpState {
            listener: Some(listener),
            mode: Mode::Up,
            requests: Vec::new(),
            respond: Box::new(respond),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let accepted = state.lock().unwrap().listener.as_ref().map(|l| l.accept());
                    match accepted {
                        Some(Ok((stream, _))) => serve(stream, &state),
                        _ => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        HttpServer { addr, state, stop, thread: Some(thread) }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Switches the mode; done when it returns (a refusing server has closed its socket).
    fn set_mode(&self, mode: Mode) {
        let mut s = self.state.lock().unwrap();
        s.mode = mode;
        if mode == Mode::Refuse {
            s.listener = None;
        } else if s.listener.is_none() {
            let l = TcpListener::bind(self.addr).unwrap();
            l.set_nonblocking(true).unwrap();
            s.listener = Some(l);
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, state: &Mutex<HttpState>) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers.get("content-length").map_or(0, |l| l.parse().unwrap());
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).unwrap();
    let body = String::from_utf8(body).unwrap();
    let (status, answer) = {
        let mut s = state.lock().unwrap();
        let up = s.mode == Mode::Up;
        let req = Request { method, target, headers, body, up };
        let answer = if up { (s.respond)(&req) } else { (503, "service unavailable".to_string()) };
        s.requests.push(req);
        answer
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = stream.flush();
}

fn form_decode(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------- helpers

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 3, 0, 30, 0).unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(secs)
}

fn channels(text: &str) -> Channels {
    parse_channels(Path::new("jicha.toml"), text).unwrap_or_else(|p| panic!("{p:#?}"))
}

fn all(outbox: &Outbox) -> Vec<jicha_notify::MessageRow> {
    outbox.list(&ListFilter { limit: 1000, ..ListFilter::default() }).unwrap()
}

const SECRET: &str = "SEC0123456789abcdef";

fn http_channels(server: &HttpServer) -> String {
    format!(
        r#"
[themes.VOL-ZERO]
enabled = false

[channels.sms]
kind = "sms_http"
url = "{sms}"
content_type = "application/json"
body = '{{"mobile":"{{phone}}","content":"{{text}}"}}'
headers = {{ Authorization = "Bearer t0ken" }}
success = "\"code\":0"
timeout_secs = 2

[channels.wecom]
kind = "wecom"
webhook = "{wecom}"
timeout_secs = 2

[channels.dingtalk]
kind = "dingtalk"
webhook = "{ding}"
secret = "{SECRET}"
timeout_secs = 2
"#,
        sms = server.url("/sms/send"),
        wecom = server.url("/wecom/send?key=k1"),
        ding = server.url("/robot/send?access_token=t1"),
    )
}

/// The real services' answers.
fn services(req: &Request) -> (u16, String) {
    match req.path() {
        "/sms/send" => (200, r#"{"code":0,"msg":"ok"}"#.into()),
        _ => (200, r#"{"errcode":0,"errmsg":"ok"}"#.into()),
    }
}

/// Which message a request carried: the `#N` tag in its text.
fn tag_of(req: &Request) -> String {
    let v = req.json();
    let text = v["content"].as_str().or_else(|| v["text"]["content"].as_str()).unwrap().to_string();
    let i = text.find('#').unwrap();
    text[i..].split_whitespace().next().unwrap().to_string()
}

// ---------------------------------------------------------------- the tests

#[test]
fn outage_then_restart_then_recovery_delivers_every_message_exactly_once() {
    let server = HttpServer::start(services);
    let chans = channels(&http_channels(&server));
    let dir = tempfile::tempdir().unwrap();
    server.set_mode(Mode::Refuse);

    let msgs: Vec<NewMessage> = [
        ("sms", "13800000001"),
        ("sms", "13800000002"),
        ("wecom", ""),
        ("wecom", ""),
        ("dingtalk", ""),
        ("dingtalk", ""),
    ]
    .iter()
    .enumerate()
    .map(|(i, (ch, to))| {
        NewMessage::new(
            *ch,
            *to,
            "【稽查预警】",
            format!("消息 #{i} 供电所 A01 \"零电量\" 新增 3 户\n请核查"),
            "warning",
            format!("warning:2025-06-03:{ch}:{i}"),
        )
    })
    .collect();
    let ids = {
        let outbox = Outbox::open(dir.path()).unwrap();
        let ids = outbox.enqueue_at(&msgs, t0()).unwrap();
        assert_eq!(ids.len(), 6);

        // Down (connection refused): every message attempted, none lost, the error recorded.
        let s = outbox.deliver_due(&chans, t0()).unwrap();
        assert_eq!((s.attempted, s.sent, s.retrying, s.failed), (6, 0, 6, 0), "{s:?}");
        for m in all(&outbox) {
            assert_eq!(m.status, Status::Pending, "{m:?}");
            assert_eq!(m.attempts, 1);
            assert!(m.last_error.as_deref().unwrap().contains("连接失败"), "{m:?}");
            let next = m.next_attempt_at.unwrap();
            assert!(next >= at(30) && next < at(31), "first backoff is 30 s after the attempt: {next}");
        }
        // Not due again before the backoff.
        assert_eq!(outbox.deliver_due(&chans, at(20)).unwrap().attempted, 0);

        // Down (503): attempted again, the status recorded.
        server.set_mode(Mode::Unavailable);
        let s = outbox.deliver_due(&chans, at(31)).unwrap();
        assert_eq!((s.attempted, s.retrying), (6, 6));
        for id in &ids {
            let d = outbox.deliveries(*id).unwrap();
            assert_eq!(d.len(), 2);
            assert!(!d[0].ok && !d[1].ok);
            assert_eq!(d[1].code, Some(503));
            assert!(d[1].error.as_deref().unwrap().contains("HTTP 503"), "{d:?}");
        }
        assert_eq!(server.requests().len(), 6);
        ids
    };

    // Restart: the outbox reopened from disk still holds everything.
    let outbox = Outbox::open(dir.path()).unwrap();
    let rows = all(&outbox);
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|m| m.status == Status::Pending && m.attempts == 2));
    // The second backoff is 60 s from the second attempt.
    server.set_mode(Mode::Up);
    assert_eq!(outbox.deliver_due(&chans, at(60)).unwrap().attempted, 0);
    let s = outbox.deliver_due(&chans, at(120)).unwrap();
    assert_eq!((s.attempted, s.sent, s.retrying), (6, 6, 0), "{s:?}");
    // Later rounds send nothing more.
    assert_eq!(outbox.deliver_due(&chans, at(3 * 3600)).unwrap().attempted, 0);

    let up: Vec<Request> = server.requests().into_iter().filter(|r| r.up).collect();
    let mut per_message: HashMap<String, usize> = HashMap::new();
    for r in &up {
        *per_message.entry(tag_of(r)).or_default() += 1;
    }
    let expected: HashMap<String, usize> = (0..6).map(|i| (format!("#{i}"), 1)).collect();
    assert_eq!(per_message, expected, "each message delivered exactly once");

    for m in all(&outbox) {
        assert_eq!(m.status, Status::Sent, "{m:?}");
        assert_eq!(m.attempts, 3);
        assert!(m.sent_at.is_some() && m.last_error.is_none());
        assert!(m.next_attempt_at.is_none());
    }
    for id in &ids {
        let d = outbox.deliveries(*id).unwrap();
        assert_eq!(d.iter().map(|d| d.ok).collect::<Vec<_>>(), vec![false, false, true]);
        assert_eq!(d[2].code, Some(200));
        assert!(
            d[2].reply.as_deref().unwrap().contains("\"code\":0")
                || d[2].reply.as_deref().unwrap().contains("\"errcode\":0")
        );
    }

    // What the services received.
    for r in up.iter().filter(|r| r.path() == "/sms/send") {
        assert_eq!(r.method, "POST");
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["authorization"], "Bearer t0ken");
        let v = r.json();
        assert!(["13800000001", "13800000002"].contains(&v["mobile"].as_str().unwrap()));
        let content = v["content"].as_str().unwrap();
        assert!(content.starts_with("【稽查预警】\n消息 #"), "subject on the first line: {content}");
        assert!(content.contains("\"零电量\" 新增 3 户\n请核查"), "quotes and newline survive: {content}");
    }
    for r in up.iter().filter(|r| r.path() == "/wecom/send") {
        assert_eq!(r.query()["key"], "k1");
        let v = r.json();
        assert_eq!(v["msgtype"], "text");
        assert!(v["text"]["content"].as_str().unwrap().starts_with("【稽查预警】\n消息 #"));
    }
    let ding: Vec<&Request> = up.iter().filter(|r| r.path() == "/robot/send").collect();
    assert_eq!(ding.len(), 2);
    for r in ding {
        let q = r.query();
        assert_eq!(q["access_token"], "t1");
        let ts: i64 = q["timestamp"].parse().unwrap();
        assert!((Utc::now().timestamp_millis() - ts).abs() < 3_600_000, "timestamp is the real clock, in ms");
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{ts}\n{SECRET}").as_bytes());
        assert_eq!(q["sign"], B64.encode(mac.finalize().into_bytes()), "the signature recomputes");
        assert_eq!(r.json()["msgtype"], "text");
    }
}

#[test]
fn wecom_errcode_is_a_failed_delivery_with_its_errmsg() {
    let server = HttpServer::start(|_| (200, r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#.into()));
    let chans = channels(&format!(
        "[channels.wecom]\nkind = \"wecom\"\nwebhook = \"{}\"\n",
        server.url("/send?key=x")
    ));
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let id = outbox
        .enqueue_at(&[NewMessage::new("wecom", "", "日报", "今日无新增", "briefing", "b1")], t0())
        .unwrap()[0];
    let s = outbox.deliver_due(&chans, t0()).unwrap();
    assert_eq!((s.attempted, s.sent, s.retrying), (1, 0, 1));
    let m = outbox.get(id).unwrap().unwrap();
    assert_eq!(m.status, Status::Pending);
    assert!(m.last_error.as_deref().unwrap().contains("errcode 93000: invalid webhook url"), "{m:?}");
    let d = outbox.deliveries(id).unwrap();
    assert_eq!(d.len(), 1);
    assert!(!d[0].ok);
    assert_eq!(d[0].code, Some(200));
    assert!(d[0].error.as_deref().unwrap().contains("invalid webhook url"));
    assert!(d[0].reply.as_deref().unwrap().contains("93000"));
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn sms_success_marker_missing_is_a_failure_and_get_puts_the_message_in_the_url() {
    let server = HttpServer::start(|r| {
        if r.query().get("to").map(String::as_str) == Some("13900000000") {
            (200, "result=ok".into())
        } else {
            (200, "result=error".into())
        }
    });
    let text = format!(
        "[channels.sms]\nkind = \"sms_http\"\nmethod = \"GET\"\n\
         url = \"{}\"\nsuccess = \"result=ok\"\n",
        server.url("/send?to={phone}&subject={subject}&msg={text}")
    );
    let chans = channels(&text);
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let ids = outbox
        .enqueue_at(
            &[
                NewMessage::new(
                    "sms",
                    "13900000000",
                    "升级",
                    "工单 #7 已超期 & 未整改 100%",
                    "escalation",
                    "e1",
                ),
                NewMessage::new("sms", "13900000009", "升级", "工单 #8", "escalation", "e2"),
            ],
            t0(),
        )
        .unwrap();
    let s = outbox.deliver_due(&chans, t0()).unwrap();
    assert_eq!((s.sent, s.retrying), (1, 1));
    let reqs = server.requests();
    let first = reqs.iter().find(|r| r.query()["to"] == "13900000000").unwrap();
    assert_eq!(first.method, "GET");
    let q = first.query();
    assert_eq!(
        q["msg"], "工单 #7 已超期 & 未整改 100%",
        "the text is url-encoded (no subject line: the template places it)"
    );
    assert_eq!(q["subject"], "升级");
    let failed = outbox.get(ids[1]).unwrap().unwrap();
    assert_eq!(failed.status, Status::Pending);
    assert!(failed.last_error.unwrap().contains("result=ok"));
    assert_eq!(outbox.get(ids[0]).unwrap().unwrap().status, Status::Sent);
}

#[test]
fn dedupe_key_enqueued_twice_is_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let m = NewMessage::new(
        "sms",
        "13800000000",
        "简报",
        "6 月 3 日简报",
        "briefing",
        "briefing:2025-06-03:13800000000",
    );
    let a = outbox.enqueue_at(std::slice::from_ref(&m), t0()).unwrap();
    let mut changed = m.clone();
    changed.body = "另一段文字".into();
    let b = outbox.enqueue_at(&[m.clone(), changed], at(60)).unwrap();
    assert_eq!(b, vec![a[0], a[0]]);
    let rows = all(&outbox);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].body, "6 月 3 日简报", "the first enqueue wins");
    assert_eq!(rows[0].created_at, t0());
    // Also after a restart.
    drop(outbox);
    let outbox = Outbox::open(dir.path()).unwrap();
    assert_eq!(outbox.enqueue(&[m]).unwrap(), a);
    assert_eq!(outbox.counts().unwrap().pending, 1);
}

#[test]
fn a_message_for_an_unconfigured_channel_waits_with_the_reason_and_goes_out_once_configured() {
    let server = HttpServer::start(services);
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let id = outbox
        .enqueue_at(&[NewMessage::new("wecom", "", "周报", "本周 5 条", "briefing", "w1")], t0())
        .unwrap()[0];
    let none = Channels::default();
    for i in 0..3 {
        let s = outbox.deliver_due(&none, at(i * 3600)).unwrap();
        assert_eq!((s.attempted, s.waiting_for_channel), (0, 1));
    }
    let m = outbox.get(id).unwrap().unwrap();
    assert_eq!((m.status, m.attempts), (Status::Pending, 0));
    assert!(m.last_error.unwrap().contains("未在 jicha.toml 中配置"));
    assert!(outbox.deliveries(id).unwrap().is_empty());
    // Four days later the channel is configured: it goes out (no give-up for a message never tried).
    let chans =
        channels(&format!("[channels.wecom]\nkind = \"wecom\"\nwebhook = \"{}\"\n", server.url("/w")));
    let s = outbox.deliver_due(&chans, at(4 * 86400)).unwrap();
    assert_eq!((s.sent, s.waiting_for_channel), (1, 0));
    assert_eq!(outbox.get(id).unwrap().unwrap().status, Status::Sent);
}

#[test]
fn after_48_hours_of_failures_it_is_failed_listed_and_can_be_requeued() {
    let server = HttpServer::start(services);
    server.set_mode(Mode::Unavailable);
    let chans =
        channels(&format!("[channels.wecom]\nkind = \"wecom\"\nwebhook = \"{}\"\n", server.url("/w")));
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let id =
        outbox.enqueue_at(&[NewMessage::new("wecom", "", "预警", "A01", "warning", "x1")], t0()).unwrap()[0];
    assert_eq!(outbox.deliver_due(&chans, t0()).unwrap().retrying, 1);
    assert_eq!(outbox.deliver_due(&chans, at(47 * 3600)).unwrap().retrying, 1);
    let s = outbox.deliver_due(&chans, at(49 * 3600)).unwrap();
    assert_eq!(s.failed, 1);
    let failed = outbox.list(&ListFilter { status: Some(Status::Failed), ..ListFilter::default() }).unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, id);
    assert!(failed[0].last_error.as_deref().unwrap().contains("停止重试"));
    assert_eq!(
        outbox.deliver_due(&chans, at(100 * 3600)).unwrap().attempted,
        0,
        "failed is not retried by itself"
    );

    server.set_mode(Mode::Up);
    outbox.retry(id, at(100 * 3600)).unwrap();
    let s = outbox.deliver_due(&chans, at(100 * 3600)).unwrap();
    assert_eq!(s.sent, 1);
    let m = outbox.get(id).unwrap().unwrap();
    assert_eq!((m.status, m.attempts), (Status::Sent, 4));
    assert!(outbox.retry(id, at(101 * 3600)).is_err(), "a sent message is not sent again");
    assert!(matches!(outbox.retry(999, t0()), Err(jicha_notify::NotifyError::NotFound(999))));
}

#[test]
fn a_crash_while_sending_is_visible_and_the_message_is_sent_again() {
    let server = HttpServer::start(services);
    let chans =
        channels(&format!("[channels.wecom]\nkind = \"wecom\"\nwebhook = \"{}\"\n", server.url("/w")));
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let outbox = Outbox::open(dir.path()).unwrap();
        outbox.enqueue_at(&[NewMessage::new("wecom", "", "预警", "#1", "warning", "c1")], t0()).unwrap()[0]
    };
    // What a crash between "mark sending" and "mark sent" leaves behind.
    let db = rusqlite::Connection::open(dir.path().join("outbox.sqlite")).unwrap();
    db.execute(
        "UPDATE messages SET status = 'sending', attempts = 1, claimed_at = ?1 WHERE id = ?2",
        rusqlite::params![t0().timestamp_millis(), id],
    )
    .unwrap();
    drop(db);
    let outbox = Outbox::open(dir.path()).unwrap();
    assert_eq!(outbox.get(id).unwrap().unwrap().status, Status::Sending, "visible after restart");
    let s = outbox.deliver_due(&chans, at(60)).unwrap();
    assert_eq!((s.interrupted, s.attempted), (0, 0), "maybe still being sent elsewhere");
    let s = outbox.deliver_due(&chans, at(16 * 60)).unwrap();
    assert_eq!((s.interrupted, s.sent), (1, 1));
    let d = outbox.deliveries(id).unwrap();
    assert_eq!(d.len(), 2);
    assert!(!d[0].ok && d[0].error.as_deref().unwrap().contains("结果未知"));
    assert!(d[1].ok);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn worker_delivers_on_its_thread_and_stops_when_asked() {
    let server = HttpServer::start(services);
    let chans =
        channels(&format!("[channels.wecom]\nkind = \"wecom\"\nwebhook = \"{}\"\n", server.url("/w")));
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let worker = s.spawn(|| run_worker(&outbox, &chans, &stop, Duration::from_millis(20)));
        let id = outbox.enqueue(&[NewMessage::new("wecom", "", "预警", "#w", "warning", "k")]).unwrap()[0];
        let mut sent = false;
        for _ in 0..250 {
            if outbox.get(id).unwrap().unwrap().status == Status::Sent {
                sent = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        let t = std::time::Instant::now();
        worker.join().unwrap();
        assert!(sent, "the worker delivered the message");
        assert!(t.elapsed() < Duration::from_secs(1), "the worker stopped promptly");
    });
    assert_eq!(server.requests().len(), 1);
}

// ---------------------------------------------------------------- SMTP

/// What the SMTP server saw in one session.
#[derive(Debug, Default, Clone)]
struct Mail {
    commands: Vec<String>,
    auth: Option<String>,
    from: String,
    rcpt: Vec<String>,
    data: String,
}

/// A minimal SMTP server: one session, then it stops.
fn smtp_server() -> (SocketAddr, JoinHandle<Mail>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut out = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        let mut mail = Mail::default();
        let mut say = |s: &str| out.write_all(format!("{s}\r\n").as_bytes()).unwrap();
        say("220 test.local ESMTP ready");
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap() == 0 {
                break;
            }
            let line = line.trim_end().to_string();
            mail.commands.push(line.clone());
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("EHLO") {
                say("250-test.local hello");
                say("250-8BITMIME");
                say("250 AUTH LOGIN PLAIN");
            } else if let Some(token) = line.strip_prefix("AUTH PLAIN ") {
                mail.auth = Some(String::from_utf8(B64.decode(token).unwrap()).unwrap());
                say("235 2.7.0 Authentication successful");
            } else if upper.starts_with("MAIL FROM:") {
                mail.from = line[10..].to_string();
                say("250 2.1.0 Ok");
            } else if upper.starts_with("RCPT TO:") {
                mail.rcpt.push(line[8..].to_string());
                say("250 2.1.5 Ok");
            } else if upper == "DATA" {
                say("354 End data with <CR><LF>.<CR><LF>");
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    r.read_line(&mut l).unwrap();
                    assert!(l.ends_with("\r\n"), "CRLF line ends: {l:?}");
                    if l == ".\r\n" {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                mail.data = data;
                say("250 2.0.0 Ok: queued as 4F3A2B");
            } else if upper == "QUIT" {
                say("221 2.0.0 Bye");
                break;
            } else {
                say("502 5.5.2 Error: command not recognized");
            }
        }
        mail
    });
    (addr, handle)
}

/// Decodes a header value made of RFC 2047 base64 words (and plain text).
fn decode_words(value: &str) -> String {
    let mut bytes = Vec::new();
    for w in value.split_whitespace() {
        match w.strip_prefix("=?UTF-8?B?").and_then(|w| w.strip_suffix("?=")) {
            Some(b64) => bytes.extend(B64.decode(b64).unwrap()),
            None => bytes.extend(w.as_bytes()),
        }
    }
    String::from_utf8(bytes).unwrap()
}

#[test]
fn smtp_mail_with_chinese_subject_and_body_arrives_decodable() {
    let (addr, server) = smtp_server();
    let chans = channels(&format!(
        "[channels.mail]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\n\
         from = \"稽查中心 <audit@example.cn>\"\nusername = \"audit\"\npassword = \"p@ss 密码\"\n\
         security = \"none\"\ntimeout_secs = 5\n",
        addr.port()
    ));
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let subject = "【稽查简报】2025 年 6 月 3 日：新增高风险线索 12 条，超期工单 3 张，请各供电所及时处理";
    let body = "各位同事：\n\n今日新增线索 12 条。\n.以点开头的一行\n\n稽查中心";
    let ids = outbox
        .enqueue_at(
            &[
                NewMessage::new("mail", "zhang.san@example.cn", subject, body, "briefing", "m1"),
                NewMessage::new("mail", "不是邮箱", subject, body, "briefing", "m2"),
            ],
            t0(),
        )
        .unwrap();
    let s = outbox.deliver_due(&chans, t0()).unwrap();
    assert_eq!((s.sent, s.failed), (1, 1), "{s:?}");
    let mail = server.join().unwrap();

    assert_eq!(mail.auth.as_deref(), Some("\0audit\0p@ss 密码"));
    assert_eq!(mail.from, "<audit@example.cn>");
    assert_eq!(mail.rcpt, vec!["<zhang.san@example.cn>".to_string()]);
    assert_eq!(mail.commands.last().map(String::as_str), Some("QUIT"));

    let (head, encoded_body) = mail.data.split_once("\r\n\r\n").unwrap();
    let unfolded = head.replace("\r\n ", " ");
    let headers: HashMap<String, String> = unfolded
        .split("\r\n")
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.to_ascii_lowercase(), v.to_string())
        })
        .collect();
    assert!(head.split("\r\n").all(|l| l.len() <= 78), "header lines are folded: {head}");
    assert_eq!(decode_words(&headers["subject"]), subject);
    assert_eq!(headers["to"], "<zhang.san@example.cn>");
    let from = &headers["from"];
    assert!(from.ends_with("<audit@example.cn>"));
    assert_eq!(decode_words(from.trim_end_matches("<audit@example.cn>")), "稽查中心");
    assert_eq!(headers["content-type"], "text/plain; charset=UTF-8");
    assert_eq!(headers["content-transfer-encoding"], "base64");
    assert!(headers["message-id"].ends_with("@example.cn>"));
    let decoded = B64.decode(encoded_body.replace("\r\n", "")).unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), body.replace('\n', "\r\n"));

    let d = outbox.deliveries(ids[0]).unwrap();
    assert_eq!(d.len(), 1);
    assert!(d[0].ok);
    assert_eq!(d[0].code, Some(250));
    assert!(d[0].reply.as_deref().unwrap().contains("queued as 4F3A2B"));
    // A recipient that is not an address cannot ever be delivered: failed at once, still listed.
    let bad = outbox.get(ids[1]).unwrap().unwrap();
    assert_eq!(bad.status, Status::Failed);
    assert!(bad.last_error.unwrap().contains("不是有效的邮箱地址"));
}

// ---------------------------------------------------------------- config

#[test]
fn config_problems_are_all_reported_with_their_lines() {
    let text = "\
[themes.VOL-ZERO]
enabled = false

[channels.fax]
kind = \"fax\"
number = \"010-1234\"

[channels.sms]
kind = \"sms_http\"
body = '{\"m\":\"{phone}\",\"c\":\"{text}\"}'

[channels.mail]
kind = \"smtp\"
host = \"mail.example.cn\"
port = 70000
from = \"稽查中心 <audit@example.cn>\"

[channels.ding]
kind = \"dingtalk\"
webhook = \"ftp://oapi.dingtalk.com/robot/send\"
";
    let problems = parse_channels(Path::new("/data/jicha.toml"), text).unwrap_err();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    let find = |needle: &str| {
        problems
            .iter()
            .find(|p| p.contains(needle))
            .unwrap_or_else(|| panic!("no “{needle}” in {problems:#?}"))
    };
    let kind = find("未知的渠道类型");
    assert!(kind.starts_with("/data/jicha.toml 第 5 行 / line 5:"), "{kind}");
    assert!(kind.contains("“fax”") && kind.contains("unknown kind"));
    let url = find("缺少 url");
    assert!(url.contains("第 8 行 / line 8") && url.contains("url is missing"), "{url}");
    let port = find("port");
    assert!(port.contains("第 15 行 / line 15") && port.contains("1 to 65535"), "{port}");
    let ding = find("ding]");
    assert!(ding.contains("第 20 行") && ding.contains("http://"), "{ding}");

    // Mistyped values and unknown keys.
    let problems = parse_channels(
        Path::new("jicha.toml"),
        "[channels.mail]\nkind = \"smtp\"\nhost = \"m\"\nport = \"25\"\nfrom = \"a@b.cn\"\nsecurity = \"ssl\"\npasword = \"x\"\n",
    )
    .unwrap_err();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("第 4 行") && p.contains("no quotes")));
    assert!(problems.iter().any(|p| p.contains("第 6 行") && p.contains("starttls")));
    assert!(problems.iter().any(|p| p.contains("第 7 行") && p.contains("unknown key")));

    // Broken TOML names its line; no [channels] is no channel.
    let bad = parse_channels(Path::new("jicha.toml"), "[channels.a]\nkind \"wecom\"\n").unwrap_err();
    assert!(bad[0].contains("第 2 行") && bad[0].contains("TOML"), "{bad:?}");
    assert!(parse_channels(Path::new("jicha.toml"), "[themes.X]\na = 1\n").unwrap().is_empty());
}

#[test]
fn a_valid_config_parses_with_defaults() {
    let c = channels(
        "[channels.mail]\nkind = \"smtp\"\nhost = \"mail.example.cn\"\nfrom = \"audit@example.cn\"\nsecurity = \"tls\"\n\
         [channels.wecom]\nkind = \"wecom\"\nwebhook = \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc\"\n",
    );
    assert_eq!(c.names().collect::<Vec<_>>(), vec!["mail", "wecom"]);
    let mail = c.get("mail").unwrap();
    assert_eq!(mail.timeout, Duration::from_secs(10));
    match &mail.kind {
        jicha_notify::ChannelKind::Smtp(s) => {
            assert_eq!((s.port, s.security), (465, jicha_notify::Security::Tls));
            assert_eq!(s.from_name, None);
        }
        other => panic!("{other:?}"),
    }
    // Secrets stay out of Debug output.
    let secret = channels(
        "[channels.d]\nkind = \"dingtalk\"\nwebhook = \"https://x.cn/r?access_token=TOKEN\"\nsecret = \"SECxyz\"\n",
    );
    let dbg = format!("{secret:?}");
    assert!(!dbg.contains("SECxyz") && !dbg.contains("TOKEN"), "{dbg}");
}

#[test]
fn a_channel_that_does_not_answer_does_not_hold_up_the_round() {
    let server = HttpServer::start(services);
    let chans = channels(&http_channels(&server));
    server.set_mode(Mode::Refuse);
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let msgs: Vec<NewMessage> = (0..5)
        .map(|i| {
            NewMessage::new("sms", format!("1380000000{i}"), "", format!("#{i}"), "warning", format!("s{i}"))
        })
        .collect();
    outbox.enqueue_at(&msgs, t0()).unwrap();
    let s = outbox.deliver_due(&chans, t0()).unwrap();
    assert_eq!((s.attempted, s.retrying, s.deferred), (3, 3, 2), "{s:?}");
    let waiting: Vec<_> = all(&outbox).into_iter().filter(|m| m.attempts == 0).collect();
    assert_eq!(waiting.len(), 2);
    assert!(waiting.iter().all(|m| m.status == Status::Pending));
    // The next round takes them.
    let s = outbox.deliver_due(&chans, at(5)).unwrap();
    assert_eq!((s.attempted, s.deferred), (2, 0), "{s:?}");
    server.set_mode(Mode::Up);
    let s = outbox.deliver_due(&chans, at(3600)).unwrap();
    assert_eq!(s.sent, 5, "{s:?}");
    assert_eq!(server.requests().len(), 5);
}

#[test]
fn smtp_failures_are_named() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (plain, plain_server) = smtp_server();
    let (no_starttls, no_starttls_server) = smtp_server();
    let chans = channels(&format!(
        "[channels.down]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\nfrom = \"a@example.cn\"\ntimeout_secs = 2\n\
         [channels.tls]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\nfrom = \"a@example.cn\"\nsecurity = \"tls\"\ntimeout_secs = 2\n\
         [channels.starttls]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\nfrom = \"a@example.cn\"\nsecurity = \"starttls\"\ntimeout_secs = 2\n",
        closed.port(),
        plain.port(),
        no_starttls.port()
    ));
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path()).unwrap();
    let ids = outbox
        .enqueue_at(
            &["down", "tls", "starttls"]
                .map(|c| NewMessage::new(c, "b@example.cn", "主题", "正文", "warning", c)),
            t0(),
        )
        .unwrap();
    let s = outbox.deliver_due(&chans, t0()).unwrap();
    assert_eq!((s.attempted, s.retrying), (3, 3), "{s:?}");
    let error = |id: i64| outbox.get(id).unwrap().unwrap().last_error.unwrap();
    assert!(error(ids[0]).contains("连接被拒绝"), "{}", error(ids[0]));
    assert!(error(ids[1]).contains("TLS"), "{}", error(ids[1]));
    assert!(error(ids[2]).contains("STARTTLS"), "{}", error(ids[2]));
    let _ = plain_server.join();
    let mail = no_starttls_server.join().unwrap();
    assert!(mail.rcpt.is_empty(), "nothing sent in clear when STARTTLS was asked for");
}
