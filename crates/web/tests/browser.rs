//! The pages in a real headless Chromium (Debian's `chromium` and `chromium-driver`), driven over
//! WebDriver: an auditor logs in, opens a finding with its chart and dispatches an order; station
//! staff verify, record a result, upload a file and submit; the auditor accepts. Every page is in
//! Chinese. Screenshots are kept in `target/browser-screenshots/`.
//!
//! Runs when `JICHA_BROWSER_TESTS=1` (set by `.ci/run`, which installs Chromium); without it the
//! test says so and passes, so that `cargo test` works on a machine without a browser.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{PASSWORD, county};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    base: String,
    session: String,
    child: Child,
    shots: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn call(method: &str, url: &str, body: Option<Value>) -> Value {
    let req = ureq::request(method, url);
    let res = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let res = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            panic!("WebDriver {method} {url}: {code} {}", r.into_string().unwrap_or_default())
        }
        Err(e) => panic!("WebDriver {method} {url}: {e}"),
    };
    res.into_json::<Value>().unwrap()["value"].clone()
}

fn base64(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

impl Driver {
    fn start(shots: PathBuf) -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium chromium-driver)");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--lang=zh-CN"]}}}});
        let v = call("POST", &format!("{base}/session"), Some(caps));
        let session = v["sessionId"].as_str().unwrap().to_string();
        std::fs::create_dir_all(&shots).unwrap();
        Driver { base, session, child, shots }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    fn go(&self, url: &str) {
        call("POST", &self.url("/url"), Some(json!({"url": url})));
    }

    fn find(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let r =
                ureq::post(&self.url("/element")).send_json(json!({"using": "css selector", "value": css}));
            let last = match r {
                Ok(r) => r.into_json::<Value>().unwrap_or_default(),
                Err(ureq::Error::Status(_, r)) => r.into_json::<Value>().unwrap_or_default(),
                Err(e) => json!({"transport": e.to_string()}),
            };
            if let Some(id) = last["value"][ELEMENT].as_str() {
                return id.to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no element {css} ({last}) on {} {}",
                self.current(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        call("POST", &self.url(&format!("/element/{e}/click")), Some(json!({})));
    }

    fn fill(&self, css: &str, text: &str) {
        let e = self.find(css);
        call("POST", &self.url(&format!("/element/{e}/clear")), Some(json!({})));
        call("POST", &self.url(&format!("/element/{e}/value")), Some(json!({"text": text})));
    }

    /// Waits (up to 10 s) until the page holds `text`: a click that submits a form returns
    /// before the next page has loaded.
    fn wait_text(&self, text: &str) {
        let started = Instant::now();
        while !self.source().contains(text) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no {text} on {} {}",
                self.current(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn source(&self) -> String {
        call("GET", &self.url("/source"), None).as_str().unwrap_or("").to_string()
    }

    fn current(&self) -> String {
        call("GET", &self.url("/url"), None).as_str().unwrap_or("").to_string()
    }

    fn script(&self, js: &str) -> Value {
        call("POST", &self.url("/execute/sync"), Some(json!({"script": js, "args": []})))
    }

    fn shot(&self, name: &str) {
        let png = call("GET", &self.url("/screenshot"), None);
        std::fs::write(self.shots.join(format!("{name}.png")), base64(png.as_str().unwrap())).unwrap();
    }

    fn login(&self, site: &str, user: &str) {
        self.go(&format!("{site}/login"));
        self.fill("input[name=username]", user);
        self.fill("input[name=password]", PASSWORD);
        self.click("form.card button[type=submit]");
        self.find("header.top");
    }

    fn logout(&self) {
        self.click("header.top form button.link");
        self.find("form.card");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_order_from_login_to_acceptance_in_chromium() {
    if std::env::var("JICHA_BROWSER_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: set JICHA_BROWSER_TESTS=1 (with chromium and chromium-driver installed) to run");
        return;
    }
    let c = county();
    common::fresh_flow(c);
    let app = jicha_web::App::new(&c.root).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, jicha_web::router(app)).await.unwrap();
        });
    });
    let site = format!("http://{addr}");
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
    let d = Driver::start(shots.clone());

    // The auditor logs in: the dashboard, in Chinese, with its charts drawn.
    d.login(&site, "auditor");
    let page = d.source();
    assert!(page.contains("公司总览") && page.contains("疑似问题") && page.contains("稽查工单"), "{page}");
    d.find("#chart-themes[data-drawn=true]");
    d.shot("01-dashboard");

    // A customer finding of the first station with its chart.
    let station = &c.stations[0];
    d.go(&format!("{site}/findings?station={station}&per_page=500"));
    d.shot("02-findings");
    let id = d
        .script(
            "var rows = document.querySelectorAll('table.findings tr');\
             for (var i = 1; i < rows.length; i++) { if (rows[i].textContent.indexOf('用户') >= 0) {\
               var a = rows[i].querySelector('a[href^=\"/findings/\"]'); if (a) return a.getAttribute('href'); } }\
             return null;",
        )
        .as_str()
        .expect("a customer finding in the list")
        .to_string();
    d.go(&format!("{site}{id}"));
    d.find("#chart-finding[data-drawn=true]");
    d.wait_text("证据");
    d.shot("03-finding-chart");

    // Dispatch an order from it.
    d.click("main form.inline button[type=submit]");
    d.wait_text("流转记录");
    assert!(d.current().contains("/orders/"), "{}", d.current());
    let order_url = d.current().split('?').next().unwrap().to_string();
    d.wait_text("已派发");
    d.shot("04-order-dispatched");
    d.logout();

    // Station staff: verify, result, rectify, upload, submit.
    d.login(&site, "staff_a");
    d.go(&order_url);
    d.click("button[value=start]");
    d.wait_text("核查中");
    d.fill("main form.inline input[name=cause]", "现场核实：表计接线错误");
    d.fill("main form.inline input[name=recovered]", "88.50");
    d.click("main form.inline button[type=submit]");
    d.wait_text("已保存核查结论");
    d.click("button[value=rectify]");
    d.wait_text("整改中");
    let file = std::env::temp_dir().join(format!("jicha-browser-{}.txt", std::process::id()));
    std::fs::write(&file, "整改完成：已更换电能表并加封。").unwrap();
    let input = d.find("input[type=file]");
    call("POST", &d.url(&format!("/element/{input}/value")), Some(json!({"text": file.to_string_lossy()})));
    d.click("form[enctype='multipart/form-data'] button[type=submit]");
    d.wait_text("已上传");
    d.click("button[value=submit]");
    d.wait_text("已提交待验收");
    d.shot("05-order-submitted");
    d.logout();

    // The auditor accepts.
    d.login(&site, "auditor");
    d.go(&order_url);
    d.click("button[value=accept]");
    d.wait_text("已验收");
    let page = d.source();
    assert!(
        page.contains("已验收")
            && page.contains("流转记录")
            && page.contains(&*file.file_name().unwrap().to_string_lossy())
    );
    d.shot("06-order-accepted");
    let _ = std::fs::remove_file(&file);
    eprintln!("screenshots: {}", shots.display());
}
