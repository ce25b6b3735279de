//! A small SMTP client (RFC 5321): EHLO (HELO as fallback), optional STARTTLS or TLS, AUTH PLAIN or
//! LOGIN, MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT. The mail is text/plain UTF-8 in base64
//! with an RFC 2047 subject, so any Chinese text goes through any server.

use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::config::{Channel, Security, Smtp, valid_address};
use crate::{Receipt, SendFailure, excerpt};

/// The longest reply line accepted (RFC 5321 says 512; servers are generous).
const MAX_LINE: usize = 8192;

/// Sends one mail on an `smtp` channel. `key` (the dedupe key) makes the Message-ID stable across
/// retries, so a mail delivered twice can be recognised as one.
pub(crate) fn send_mail(
    ch: &Channel,
    c: &Smtp,
    to: &str,
    subject: &str,
    body: &str,
    key: &str,
) -> Result<Receipt, SendFailure> {
    let to = to.trim();
    if !valid_address(to) {
        return Err(SendFailure::permanent(format!(
            "收件人 “{to}” 不是有效的邮箱地址 / the recipient “{to}” is not an e-mail address"
        )));
    }
    let message = format_message(c, to, subject, body, key);
    let mut conn = Conn::connect(ch, c)?;
    let result = conversation(&mut conn, ch, c, to, &message);
    // QUIT is a courtesy: the mail is accepted (or not) by then.
    let _ = conn.command("QUIT");
    result
}

fn conversation(
    conn: &mut Conn,
    ch: &Channel,
    c: &Smtp,
    to: &str,
    message: &str,
) -> Result<Receipt, SendFailure> {
    conn.expect("greeting", &[220], None)?;
    let mut caps = conn.hello()?;
    if c.security == Security::StartTls {
        if !caps.iter().any(|l| l.eq_ignore_ascii_case("STARTTLS")) {
            return Err(SendFailure::new(
                "邮件服务器不支持 STARTTLS（security = \"starttls\"）/ the mail server does not offer STARTTLS",
            ));
        }
        conn.expect("STARTTLS", &[220], Some("STARTTLS"))?;
        conn.start_tls(ch, &c.host)?;
        caps = conn.hello()?;
    }
    if let (Some(user), Some(pass)) = (&c.username, &c.password) {
        auth(conn, &caps, user, pass.expose())?;
    }
    conn.expect("MAIL FROM", &[250], Some(&format!("MAIL FROM:<{}>", c.from_addr)))?;
    conn.expect("RCPT TO", &[250, 251], Some(&format!("RCPT TO:<{to}>")))?;
    conn.expect("DATA", &[354], Some("DATA"))?;
    conn.write_all(dot_stuff(message).as_bytes())?;
    let (code, text) = conn.expect("DATA", &[250], None)?;
    Ok(Receipt { code: Some(code), reply: excerpt(&format!("{code} {text}"), 2000) })
}

fn auth(conn: &mut Conn, caps: &[String], user: &str, pass: &str) -> Result<(), SendFailure> {
    let mechs: Vec<String> = caps
        .iter()
        .filter_map(|l| {
            let up = l.to_ascii_uppercase();
            up.strip_prefix("AUTH ").or_else(|| up.strip_prefix("AUTH=")).map(str::to_string)
        })
        .flat_map(|m| m.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    if mechs.iter().any(|m| m == "PLAIN") {
        let token = B64.encode(format!("\0{user}\0{pass}"));
        conn.expect("AUTH PLAIN", &[235], Some(&format!("AUTH PLAIN {token}")))?;
    } else if mechs.iter().any(|m| m == "LOGIN") {
        conn.expect("AUTH LOGIN", &[334], Some("AUTH LOGIN"))?;
        conn.expect("AUTH LOGIN", &[334], Some(&B64.encode(user)))?;
        conn.expect("AUTH LOGIN", &[235], Some(&B64.encode(pass)))?;
    } else {
        return Err(SendFailure::new(
            "邮件服务器不提供 AUTH PLAIN 或 LOGIN 登录 / the mail server offers neither AUTH PLAIN nor LOGIN",
        ));
    }
    Ok(())
}

/// The whole mail: headers and a base64 text/plain UTF-8 body, CRLF line ends.
fn format_message(c: &Smtp, to: &str, subject: &str, body: &str, key: &str) -> String {
    let domain = c.from_addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    let id_seed = if key.is_empty() {
        format!("{}.{}", chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0), std::process::id())
    } else {
        key.to_string()
    };
    let digest = Sha256::digest(id_seed.as_bytes());
    let id: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let from = match &c.from_name {
        Some(name) => format!("{} <{}>", display_name(name), c.from_addr),
        None => format!("<{}>", c.from_addr),
    };
    let mut m = String::new();
    m.push_str(&format!("Date: {}\r\n", chrono::Local::now().to_rfc2822()));
    m.push_str(&format!("From: {from}\r\n"));
    m.push_str(&format!("To: <{to}>\r\n"));
    m.push_str(&format!("Subject: {}\r\n", encode_header(subject)));
    m.push_str(&format!("Message-ID: <{id}.jicha@{domain}>\r\n"));
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str("Content-Type: text/plain; charset=UTF-8\r\n");
    m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    let canonical = body.replace("\r\n", "\n").replace('\n', "\r\n");
    let encoded = B64.encode(canonical.as_bytes());
    for chunk in encoded.as_bytes().chunks(76) {
        m.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        m.push_str("\r\n");
    }
    m
}

/// A header value: printable ASCII as is, anything else as RFC 2047 `=?UTF-8?B?...?=` words of at
/// most 75 characters, folded. Line breaks never reach the header (no header injection).
pub(crate) fn encode_header(value: &str) -> String {
    let value: String =
        value.chars().map(|c| if c == '\r' || c == '\n' || c == '\t' { ' ' } else { c }).collect();
    if value.bytes().all(|b| (0x20..0x7f).contains(&b)) && value.len() <= 900 {
        return value;
    }
    // 36 bytes of UTF-8 make 48 base64 characters: with "=?UTF-8?B?" and "?=" a word is 60 long,
    // so even the first line ("Subject: " and a word) stays under 78 characters.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for ch in value.chars() {
        if chunk.len() + ch.len_utf8() > 36 {
            words.push(format!("=?UTF-8?B?{}?=", B64.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(ch);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", B64.encode(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

/// A From display name: an encoded word for non-ASCII, else a quoted string.
fn display_name(name: &str) -> String {
    if name.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        encode_header(name)
    }
}

/// The DATA payload: CRLF line ends, a leading dot doubled on every line, ended by `CRLF.CRLF`.
pub(crate) fn dot_stuff(message: &str) -> String {
    let canonical = message.replace("\r\n", "\n");
    let mut out = String::with_capacity(canonical.len() + 64);
    for line in canonical.trim_end_matches('\n').split('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    /// Only while switching to TLS.
    Gone,
}

/// One SMTP connection with its read buffer.
struct Conn {
    stream: Stream,
    buf: Vec<u8>,
}

/// A network error talking to the mail server, `zh` / `en` saying while doing what.
fn io_failure(zh: &str, en: &str, e: &io::Error) -> SendFailure {
    let why = match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "超时",
        io::ErrorKind::ConnectionRefused => "连接被拒绝",
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
            "连接被对方关闭"
        }
        _ => "网络错误",
    };
    SendFailure::new(format!("{zh}{why} / {en}: {e}"))
}

impl Conn {
    fn connect(ch: &Channel, c: &Smtp) -> Result<Conn, SendFailure> {
        let addrs: Vec<_> = (c.host.as_str(), c.port)
            .to_socket_addrs()
            .map_err(|e| SendFailure::new(format!("无法解析邮件服务器 {} / cannot resolve: {e}", c.host)))?
            .collect();
        let mut last = None;
        let mut tcp = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, ch.timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some(tcp) = tcp else {
            let e = last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"));
            return Err(io_failure(
                &format!("连接邮件服务器 {}:{} 时", c.host, c.port),
                &format!("connecting to the mail server {}:{}", c.host, c.port),
                &e,
            ));
        };
        let setup = |s: &TcpStream| -> io::Result<()> {
            s.set_read_timeout(Some(ch.timeout))?;
            s.set_write_timeout(Some(ch.timeout))?;
            s.set_nodelay(true)
        };
        setup(&tcp).map_err(|e| io_failure("设置连接时", "setting up the connection", &e))?;
        let mut conn = Conn { stream: Stream::Plain(tcp), buf: Vec::new() };
        if c.security == Security::Tls {
            conn.start_tls(ch, &c.host)?;
        }
        Ok(conn)
    }

    /// Wraps the connection in TLS, checking the server's certificate against `host`.
    fn start_tls(&mut self, ch: &Channel, host: &str) -> Result<(), SendFailure> {
        if !self.buf.is_empty() {
            return Err(SendFailure::new(
                "邮件服务器在 TLS 握手前多发了数据 / the mail server sent data before the TLS handshake",
            ));
        }
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(SendFailure::new("连接已加密 / already encrypted"));
        };
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::IpAddress(ip.into()),
            Err(_) => rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| SendFailure::new(format!("主机名无效 / invalid host name for TLS: {e}")))?,
        };
        let conn = rustls::ClientConnection::new(Arc::clone(&ch.tls), name)
            .map_err(|e| SendFailure::new(format!("TLS 错误 / TLS error: {e}")))?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        // Handshake now, so a certificate problem is named as such.
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| SendFailure::new(format!("TLS 握手失败 / TLS handshake failed: {e}")))?;
        }
        self.stream = Stream::Tls(Box::new(tls));
        Ok(())
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), SendFailure> {
        let r = match &mut self.stream {
            Stream::Plain(s) => s.write_all(data).and_then(|_| s.flush()),
            Stream::Tls(s) => s.write_all(data).and_then(|_| s.flush()),
            Stream::Gone => Err(io::Error::new(io::ErrorKind::NotConnected, "closed")),
        };
        r.map_err(|e| io_failure("向邮件服务器发送时", "writing to the mail server", &e))
    }

    fn read_line(&mut self) -> Result<String, SendFailure> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line);
                return Ok(text.trim_end_matches(['\r', '\n']).to_string());
            }
            if self.buf.len() > MAX_LINE {
                return Err(SendFailure::new(
                    "邮件服务器回应行过长 / the mail server's reply line is too long",
                ));
            }
            let mut chunk = [0u8; 4096];
            let n = match &mut self.stream {
                Stream::Plain(s) => s.read(&mut chunk),
                Stream::Tls(s) => s.read(&mut chunk),
                Stream::Gone => Ok(0),
            }
            .map_err(|e| io_failure("读取邮件服务器回应时", "reading the mail server's reply", &e))?;
            if n == 0 {
                return Err(io_failure(
                    "读取邮件服务器回应时",
                    "reading the mail server's reply",
                    &io::Error::from(io::ErrorKind::UnexpectedEof),
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// One reply, possibly multi-line (`250-...` then `250 ...`): its code and its lines' text.
    fn reply(&mut self) -> Result<(u16, Vec<String>), SendFailure> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line()?;
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok()).ok_or_else(|| {
                SendFailure::new(format!(
                    "邮件服务器的回应无效 / the mail server's reply is not SMTP: {}",
                    excerpt(&line, 200)
                ))
            })?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Ok((code, lines));
            }
        }
    }

    fn command(&mut self, line: &str) -> Result<(u16, Vec<String>), SendFailure> {
        self.write_all(format!("{line}\r\n").as_bytes())?;
        self.reply()
    }

    /// Sends `line` (when given), reads the reply and checks its code.
    fn expect(&mut self, step: &str, ok: &[u16], line: Option<&str>) -> Result<(u16, String), SendFailure> {
        let (code, lines) = match line {
            Some(l) => self.command(l)?,
            None => self.reply()?,
        };
        let text = lines.join(" ");
        if ok.contains(&code) {
            Ok((code, text))
        } else {
            Err(SendFailure::answered(
                format!("邮件服务器拒绝（{step}）：{code} {text} / the mail server refused {step}"),
                code,
                excerpt(&format!("{code} {text}"), 2000),
            ))
        }
    }

    /// EHLO (HELO when refused); the capability lines.
    fn hello(&mut self) -> Result<Vec<String>, SendFailure> {
        let me = match &self.stream {
            Stream::Plain(s) => s.local_addr().ok(),
            Stream::Tls(s) => s.sock.local_addr().ok(),
            Stream::Gone => None,
        };
        let literal = match me.map(|a| a.ip()) {
            Some(IpAddr::V4(ip)) => format!("[{ip}]"),
            Some(IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
            None => "localhost".to_string(),
        };
        let (code, lines) = self.command(&format!("EHLO {literal}"))?;
        if code == 250 {
            return Ok(lines.into_iter().skip(1).collect());
        }
        self.expect("HELO", &[250], Some(&format!("HELO {literal}")))?;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_words_are_short_and_decode_back() {
        let s = "【稽查预警】供电所 A01 本周新增 12 条高风险线索，请于三日内处理完毕";
        let enc = encode_header(s);
        let mut decoded = Vec::new();
        for word in enc.split("\r\n ") {
            assert!(word.len() <= 75, "{word}");
            let b64 = word.strip_prefix("=?UTF-8?B?").unwrap().strip_suffix("?=").unwrap();
            decoded.extend(B64.decode(b64).unwrap());
        }
        assert_eq!(String::from_utf8(decoded).unwrap(), s);
        assert_eq!(encode_header("plain\r\nBcc: x@y.cn"), "plain  Bcc: x@y.cn");
    }

    #[test]
    fn dots_are_stuffed() {
        assert_eq!(dot_stuff("a\n.b\r\n..c\n"), "a\r\n..b\r\n...c\r\n.\r\n");
    }
}
