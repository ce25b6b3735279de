//! The API and the pages over a generated, imported and audited county: every role, every
//! transition, station scoping everywhere, CSRF, lockout, the trail. Requests go through the
//! whole router (middleware included) without a network.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use common::{PASSWORD, county};

/// A fresh closed loop (users, orders) over the shared county: each test its own flow.sqlite.
struct Env {
    app: Router,
    a: String,
    b: String,
    _guard: std::sync::MutexGuard<'static, ()>,
}

fn env() -> Env {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let c = county();
    common::fresh_flow(c);
    let (a, b) = (c.stations[0].clone(), c.stations[1].clone());
    let app = jicha_web::router(jicha_web::App::new(&c.root).unwrap());
    Env { app, a, b, _guard: guard }
}

struct Session2 {
    cookie: String,
    csrf: String,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec();
    Reply { status, headers, body }
}

async fn login(app: &Router, user: &str) -> Session2 {
    let r = send(
        app,
        Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"username": user, "password": PASSWORD}).to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let cookie = r.headers[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    Session2 { cookie, csrf: r.json()["csrf"].as_str().unwrap().to_string() }
}

async fn get(app: &Router, s: &Session2, uri: &str) -> Reply {
    send(app, Request::get(uri).header(header::COOKIE, &s.cookie).body(Body::empty()).unwrap()).await
}

async fn post(app: &Router, s: &Session2, uri: &str, body: Value) -> Reply {
    send(
        app,
        Request::post(uri)
            .header(header::COOKIE, &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

async fn upload(app: &Router, s: &Session2, uri: &str, name: &str, content: &[u8]) -> Reply {
    let boundary = "XjichaBoundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    send(
        app,
        Request::post(uri)
            .header(header::COOKIE, &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// Findings of a station (ids), at most n.
async fn findings_of(app: &Router, s: &Session2, station: &str, n: usize) -> Vec<Value> {
    let r = get(app, s, &format!("/api/findings?station={station}&per_page=500")).await;
    assert_eq!(r.status, StatusCode::OK);
    r.json()["findings"].as_array().unwrap().iter().take(n).cloned().collect()
}

#[tokio::test]
async fn without_a_session_nothing_is_shown_and_changes_need_the_csrf_token() {
    let e = env();
    let r = send(&e.app, Request::get("/api/findings").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(&e.app, Request::get("/orders").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.headers[header::LOCATION].to_str().unwrap().starts_with("/login"));
    let r = send(&e.app, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert!(r.text().contains("用户名") && r.text().contains("密码"), "the login page is in Chinese");
    for h in ["content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"] {
        assert!(r.headers.contains_key(h), "security header {h}");
    }
    let auditor = login(&e.app, "auditor").await;
    let ids: Vec<Value> =
        findings_of(&e.app, &auditor, &e.a, 1).await.iter().map(|f| f["finding_id"].clone()).collect();
    let without = send(
        &e.app,
        Request::post("/api/orders")
            .header(header::COOKIE, &auditor.cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"finding_ids": ids, "deadline": "2099-01-01"}).to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(without.status, StatusCode::FORBIDDEN, "no CSRF token");
    let other_site = send(
        &e.app,
        Request::post("/api/orders")
            .header(header::COOKIE, &auditor.cookie)
            .header("x-csrf-token", &auditor.csrf)
            .header(header::ORIGIN, "http://evil.example")
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"finding_ids": ids, "deadline": "2099-01-01"}).to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(other_site.status, StatusCode::FORBIDDEN, "cross-origin");
    let list = get(&e.app, &auditor, "/api/orders").await;
    assert_eq!(list.json()["orders"].as_array().unwrap().len(), 0, "nothing was made");
    let doc = send(&e.app, Request::get("/api/openapi.json").body(Body::empty()).unwrap()).await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/orders/{id}/transition"]["post"].is_object());
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account() {
    let e = env();
    for _ in 0..5 {
        let r = send(
            &e.app,
            Request::post("/api/login")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({"username": "staff_a", "password": "wrong"}).to_string()))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = send(
        &e.app,
        Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"username": "staff_a", "password": PASSWORD}).to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["error"].as_str().unwrap().contains("锁定"));
}

#[tokio::test]
async fn a_station_user_reaches_nothing_of_another_station() {
    let e = env();
    let auditor = login(&e.app, "auditor").await;
    let of_a = findings_of(&e.app, &auditor, &e.a, 2).await;
    let of_b = findings_of(&e.app, &auditor, &e.b, 2).await;
    let ids: Vec<Value> = of_a.iter().chain(of_b.iter()).map(|f| f["finding_id"].clone()).collect();
    let made =
        post(&e.app, &auditor, "/api/orders", json!({"finding_ids": ids, "deadline": "2099-01-31"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let orders = made.json()["orders"].as_array().unwrap().clone();
    assert_eq!(orders.len(), 2, "one order per station");
    let order_b = {
        let list = get(&e.app, &auditor, &format!("/api/orders?station={}", e.b)).await.json();
        list["orders"][0]["order_id"].as_i64().unwrap()
    };
    // Evidence on B's order, uploaded by B.
    let staff_b = login(&e.app, "staff_b").await;
    assert_eq!(
        post(&e.app, &staff_b, &format!("/api/orders/{order_b}/transition"), json!({"action": "start"}))
            .await
            .status,
        StatusCode::OK
    );
    let up = upload(
        &e.app,
        &staff_b,
        &format!("/api/orders/{order_b}/files"),
        "照片.png",
        b"\x89PNG\r\n\x1a\n0000",
    )
    .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text());
    let file_b = up.json()["file_id"].as_i64().unwrap();

    let staff = login(&e.app, "staff_a").await;
    // Lists: only their station, whatever the filter asks.
    let mine = get(&e.app, &staff, &format!("/api/findings?station={}&per_page=500", e.b)).await.json();
    let rows = mine["findings"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|f| f["station_id"] == e.a.as_str()), "station filter cannot widen the scope");
    let orders_seen = get(&e.app, &staff, "/api/orders").await.json();
    assert!(orders_seen["orders"].as_array().unwrap().iter().all(|o| o["station_id"] == e.a.as_str()));
    // Another station's finding, order, customer, file, area, station: not found.
    let fb = of_b[0]["finding_id"].as_str().unwrap();
    let customer_b = of_b
        .iter()
        .chain(findings_of(&e.app, &auditor, &e.b, 500).await.iter())
        .find(|f| f["entity_type"] == "customer")
        .map(|f| f["entity_id"].as_str().unwrap().to_string());
    let mut forbidden = vec![
        format!("/api/findings/{fb}"),
        format!("/api/orders/{order_b}"),
        format!("/api/files/{file_b}"),
        format!("/files/{file_b}"),
        format!("/api/stations/{}", e.b),
        format!("/findings/{fb}"),
        format!("/orders/{order_b}"),
    ];
    if let Some(c) = customer_b {
        forbidden.push(format!("/api/customers/{c}"));
        forbidden.push(format!("/customers/{c}"));
    }
    for uri in &forbidden {
        let r = get(&e.app, &staff, uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {}", r.text());
    }
    // Changes to another station's order: not found as well.
    let r = post(&e.app, &staff, &format!("/api/orders/{order_b}/transition"), json!({"action": "rectify"}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post(&e.app, &staff, &format!("/api/orders/{order_b}/comments"), json!({"text": "x"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = upload(&e.app, &staff, &format!("/api/orders/{order_b}/files"), "a.txt", b"hello").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The export holds only their station's rows.
    let x = get(&e.app, &staff, "/api/findings.xlsx").await;
    assert_eq!(x.status, StatusCode::OK);
    let path = county().root.join("scoped-export.xlsx");
    std::fs::write(&path, &x.body).unwrap();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    let sheet = book.worksheet_range("疑似问题").unwrap();
    let station_col = 6;
    let rows: Vec<String> = sheet.rows().skip(1).map(|r| r[station_col].to_string()).collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|s| s.contains(e.a.as_str())), "export rows: {rows:?}");
    // Station users cannot make orders, read the whole trail or manage users.
    let r = post(
        &e.app,
        &staff,
        "/api/orders",
        json!({"finding_ids": [of_a[0]["finding_id"]], "deadline": "2099-01-31"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&e.app, &staff, "/api/trail").await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&e.app, &staff, "/api/users").await.status, StatusCode::FORBIDDEN);
    // The manager reads everything and changes nothing.
    let manager = login(&e.app, "manager").await;
    assert_eq!(get(&e.app, &manager, &format!("/api/orders/{order_b}")).await.status, StatusCode::OK);
    let r = post(
        &e.app,
        &manager,
        "/api/orders",
        json!({"finding_ids": [of_a[0]["finding_id"]], "deadline": "2099-01-31"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post(&e.app, &manager, &format!("/api/orders/{order_b}/comments"), json!({"text": "看看"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_order_goes_through_every_state_and_a_return_keeps_its_history() {
    let e = env();
    let auditor = login(&e.app, "auditor").await;
    let staff = login(&e.app, "staff_a").await;
    let f = findings_of(&e.app, &auditor, &e.a, 1).await.remove(0);
    let fid = f["finding_id"].as_str().unwrap().to_string();
    let made =
        post(&e.app, &auditor, "/api/orders", json!({"finding_ids": [fid], "deadline": "2099-01-31"})).await;
    let id = made.json()["orders"][0][0].as_i64().unwrap();
    let go = |who: &Session2, action: &str, reason: &str| {
        let (app, who_cookie, who_csrf) = (e.app.clone(), who.cookie.clone(), who.csrf.clone());
        let body = json!({"action": action, "reason": reason});
        async move {
            let s = Session2 { cookie: who_cookie, csrf: who_csrf };
            post(&app, &s, &format!("/api/orders/{id}/transition"), body).await
        }
    };
    // Illegal: out of order, or by the wrong side.
    assert_eq!(go(&staff, "submit", "").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(go(&auditor, "start", "").await.status, StatusCode::FORBIDDEN);
    assert_eq!(go(&staff, "accept", "").await.status, StatusCode::FORBIDDEN);
    assert_eq!(go(&staff, "start", "").await.status, StatusCode::OK);
    assert_eq!(go(&staff, "rectify", "").await.status, StatusCode::BAD_REQUEST, "no result yet");
    let r = post(
        &e.app,
        &staff,
        &format!("/api/orders/{id}/items/{fid}"),
        json!({"result": "confirmed", "cause": "表计接线错误", "recovered": 123.45}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(go(&staff, "rectify", "").await.status, StatusCode::OK);
    let bad = upload(&e.app, &staff, &format!("/api/orders/{id}/files"), "evil.pdf", b"MZ\x90\x00").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "content must match the type");
    let up =
        upload(&e.app, &staff, &format!("/api/orders/{id}/files"), "整改说明.txt", "已更换电能表".as_bytes())
            .await;
    assert_eq!(up.status, StatusCode::CREATED);
    assert_eq!(go(&staff, "submit", "").await.status, StatusCode::OK);
    assert_eq!(go(&auditor, "return", "").await.status, StatusCode::BAD_REQUEST, "a return needs reasons");
    assert_eq!(go(&auditor, "return", "照片不清晰，请补拍").await.status, StatusCode::OK);
    let d = get(&e.app, &staff, &format!("/api/orders/{id}")).await.json();
    assert_eq!(d["order"]["state"], "verifying");
    assert!(d["events"].as_array().unwrap().iter().any(|ev| ev["text"] == "照片不清晰，请补拍"));
    assert_eq!(d["items"][0]["result"], "confirmed", "results survive a return");
    assert_eq!(d["files"].as_array().unwrap().len(), 1);
    assert_eq!(go(&staff, "rectify", "").await.status, StatusCode::OK);
    assert_eq!(go(&staff, "submit", "").await.status, StatusCode::OK);
    assert_eq!(go(&auditor, "accept", "").await.status, StatusCode::OK);
    assert_eq!(go(&auditor, "archive", "").await.status, StatusCode::OK);
    assert_eq!(go(&auditor, "archive", "").await.status, StatusCode::BAD_REQUEST);
    let d = get(&e.app, &auditor, &format!("/api/orders/{id}")).await.json();
    assert_eq!(d["order"]["recovered"], 123.45);
    let states: Vec<&str> =
        d["events"].as_array().unwrap().iter().filter_map(|ev| ev["to_state"].as_str()).collect();
    assert_eq!(
        states,
        [
            "dispatched",
            "verifying",
            "rectifying",
            "submitted",
            "verifying",
            "rectifying",
            "submitted",
            "accepted",
            "archived"
        ]
    );
    assert!(d["trail"].as_array().unwrap().len() >= 9, "the trail holds every change");
    let month = &d["order"]["archived_at"].as_str().unwrap()[0..7];
    let drawn =
        post(&e.app, &auditor, "/api/spot-checks", json!({"month": month, "share": 1.0})).await.json();
    assert_eq!(drawn["drawn"], json!([id]));
    assert_eq!(
        post(&e.app, &auditor, &format!("/api/orders/{id}/spot-check"), json!({"result": "pass"}))
            .await
            .status,
        StatusCode::OK
    );
    let p = get(&e.app, &auditor, "/api/precision").await.json();
    assert_eq!(p["precision"][0]["precision"], 1.0);
    // The download is the file uploaded.
    let file_id = d["files"][0]["file_id"].as_i64().unwrap();
    let dl = get(&e.app, &staff, &format!("/api/files/{file_id}")).await;
    assert_eq!(dl.body, "已更换电能表".as_bytes());
}

#[tokio::test]
async fn pages_are_in_chinese_and_show_the_evidence_with_its_chart() {
    let e = env();
    let auditor = login(&e.app, "auditor").await;
    let home = get(&e.app, &auditor, "/").await;
    assert_eq!(home.status, StatusCode::OK);
    let html = home.text();
    for text in ["总览", "疑似问题", "稽查工单", "涉及金额", "按供电所", "chart-themes"] {
        assert!(html.contains(text), "dashboard lacks {text}: {}", &html[..html.len().min(3000)]);
    }
    let customer_finding = findings_of(&e.app, &auditor, &e.a, 500)
        .await
        .into_iter()
        .find(|f| f["entity_type"] == "customer" && f["evidence"]["baseline_mean_kwh"].is_number())
        .expect("a customer finding with a baseline");
    let page =
        get(&e.app, &auditor, &format!("/findings/{}", customer_finding["finding_id"].as_str().unwrap()))
            .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("证据") && html.contains("日电量与基线") && html.contains("chart-finding-option"));
    let api =
        get(&e.app, &auditor, &format!("/api/findings/{}", customer_finding["finding_id"].as_str().unwrap()))
            .await
            .json();
    let days = api["chart"]["days"].as_array().unwrap();
    assert!(days.len() >= 28 && days.iter().any(|d| d["kwh"].is_number()), "the customer's daily series");
    // The chart shows exactly the stored consumption: every day of the window, unknown days empty.
    let stored = jicha_store::scan::daily_consumption(&jicha_store::DataDir::new(&county().root)).unwrap();
    let customer = customer_finding["entity_id"].as_str().unwrap();
    for d in days {
        let date = d["date"].as_str().unwrap();
        let kwh = stored.iter().find(|r| r.0 == customer && r.1 == date).and_then(|r| r.2);
        assert_eq!(d["kwh"].as_f64(), kwh, "{customer} on {date}");
    }
    // An area's chart: the customers' consumption summed per day, on days every customer is known.
    let db = rusqlite::Connection::open(county().root.join("jicha.sqlite")).unwrap();
    let area: String =
        db.query_row("SELECT tq_id FROM customers WHERE customer_id = ?1", [customer], |r| r.get(0)).unwrap();
    let members: Vec<(String, String, Option<String>)> = db
        .prepare("SELECT customer_id, opened_on, closed_on FROM customers WHERE tq_id = ?1")
        .unwrap()
        .query_map([&area], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let period = customer_finding["period"].as_str().unwrap();
    let area_page = get(&e.app, &auditor, &format!("/api/areas/{area}?period={period}")).await.json();
    assert_eq!(area_page["customers"].as_u64(), Some(members.len() as u64), "{area_page}");
    let mut compared = 0;
    for d in area_page["daily"].as_array().unwrap() {
        let date = d["date"].as_str().unwrap();
        // Customers connected that day: opened by then, not yet closed.
        let active: Vec<&String> = members
            .iter()
            .filter(|m| m.1.as_str() <= date && m.2.as_deref().is_none_or(|c| date < c))
            .map(|m| &m.0)
            .collect();
        let known: Vec<f64> =
            stored.iter().filter(|r| r.1 == date && active.contains(&&r.0)).filter_map(|r| r.2).collect();
        let expected = (known.len() == active.len()).then(|| known.iter().sum::<f64>());
        match (d["consumption_kwh"].as_f64(), expected) {
            (Some(a), Some(b)) => {
                assert!((a - b).abs() < 0.006, "{area} on {date}: {a} != {b}");
                compared += 1;
            }
            (a, b) => assert_eq!(a, b, "{area} on {date}"),
        }
    }
    assert!(compared >= 20, "{area}: {compared} days compared; {}", area_page["daily"]);
    let list = get(&e.app, &auditor, &format!("/findings?station={}&sort=amount", e.a)).await;
    assert!(list.text().contains("派发稽查工单"));
    // English on request.
    let r = send(
        &e.app,
        Request::get("/")
            .header(header::COOKIE, format!("{}; jicha_lang=en", auditor.cookie))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(r.text().contains("Dashboard"));
    // A page form (urlencoded, CSRF in the body) makes an order and lands on it.
    let fid = customer_finding["finding_id"].as_str().unwrap();
    let r = send(
        &e.app,
        Request::post("/orders")
            .header(header::COOKIE, &auditor.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={}&finding_id={fid}&deadline=2099-01-31&note=", auditor.csrf)))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to = r.headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(to.starts_with("/orders/"), "{to}");
    let order = get(&e.app, &auditor, &to).await.text();
    assert!(order.contains("已派发") && order.contains("流转记录"));
}

#[tokio::test]
async fn an_edited_trail_row_is_reported() {
    let e = env();
    let auditor = login(&e.app, "auditor").await;
    let f = findings_of(&e.app, &auditor, &e.a, 1).await.remove(0);
    post(
        &e.app,
        &auditor,
        "/api/orders",
        json!({"finding_ids": [f["finding_id"]], "deadline": "2099-01-31"}),
    )
    .await;
    let admin = login(&e.app, "admin").await;
    assert_eq!(get(&e.app, &admin, "/api/trail").await.json()["verify"]["intact"], true);
    let conn = rusqlite::Connection::open(county().root.join("flow.sqlite")).unwrap();
    conn.execute("UPDATE trail SET actor = 'nobody' WHERE seq = 3", []).unwrap();
    let v = get(&e.app, &admin, "/api/trail").await.json();
    assert_eq!(v["verify"]["intact"], false);
    assert_eq!(v["verify"]["first_broken"], 3);
}

#[tokio::test]
async fn an_administrator_moves_a_user_to_another_station_and_the_scope_follows() {
    let e = env();
    let admin = login(&e.app, "admin").await;
    let staff_b = login(&e.app, "staff_b").await;
    let before = get(&e.app, &staff_b, "/api/findings?per_page=500").await.json();
    assert!(before["findings"].as_array().unwrap().iter().all(|f| f["station_id"] == e.b.as_str()));
    let r = send(
        &e.app,
        Request::post("/admin/users/staff_b/assign")
            .header(header::COOKIE, &admin.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={}&role=station_staff&station_id={}", admin.csrf, e.a)))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.headers[header::LOCATION].to_str().unwrap().contains("ok="));
    // The old session ended with the change; a new one sees the new station only.
    assert_eq!(get(&e.app, &staff_b, "/api/findings").await.status, StatusCode::UNAUTHORIZED);
    let again = login(&e.app, "staff_b").await;
    let after = get(&e.app, &again, "/api/findings?per_page=500").await.json();
    let rows = after["findings"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|f| f["station_id"] == e.a.as_str()));
    let trail = get(&e.app, &admin, "/api/trail?object=user:staff_b").await.json();
    assert!(trail["entries"].as_array().unwrap().iter().any(|t| t["action"] == "user.assign"));
}

#[tokio::test]
async fn indicators_drill_down_from_the_company_to_a_station_within_the_users_scope() {
    let e = env();
    let manager = login(&e.app, "manager").await;
    let page = get(&e.app, &manager, "/indicators?period=2026-02").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let text = page.text();
    for word in ["营销指标", "供电量", "线损率", "电费回收率", "供电可靠率", "去年同期", "逐日供电量与线损率"]
    {
        assert!(text.contains(word), "{word} missing");
    }
    // January is stored too: the previous period has figures.
    assert!(text.contains("/indicators/loss_rate?period=2026-02"));
    let loss = get(&e.app, &manager, "/indicators/loss_rate?period=2026-02").await.text();
    for s in [&e.a, &e.b] {
        assert!(loss.contains(&format!("station={s}")), "station {s} listed");
    }
    let one = get(&e.app, &manager, &format!("/indicators/loss_rate?period=2026-02&station={}", e.a)).await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(one.text().contains("台区与线路线损"), "the station's areas with their loss");
    assert!(one.text().contains("/areas/"), "areas link to their pages");
    // Station staff see their own station only.
    let staff = login(&e.app, "staff_a").await;
    let mine = get(&e.app, &staff, "/indicators/loss_rate?period=2026-02").await.text();
    assert!(mine.contains(&format!("station={}", e.a)));
    assert!(!mine.contains(&format!("station={}", e.b)), "another station's figure leaked");
    let other = get(&e.app, &staff, &format!("/indicators/loss_rate?period=2026-02&station={}", e.b)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let bad = get(&e.app, &manager, "/indicators?period=2026-13").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("期间应为"));
}

#[test]
fn the_briefing_has_a_short_message_per_station_and_the_figures_of_the_day() {
    let c = county();
    let dir = jicha_store::DataDir::new(&c.root);
    let day = chrono::NaiveDate::from_ymd_opt(2026, 2, 20).unwrap();
    let (b, supply) = std::thread::spawn(move || {
        let mut session = jicha_engine::Session::open(&dir).unwrap();
        let cat = jicha_engine::audit::Catalogue::builtin();
        let flow = jicha_flow::Flow::new(dir.root());
        let b = jicha_web::briefing::compute(&mut session, &cat, &flow, day, 0.10).unwrap();
        let d = jicha_core::calendar::to_epoch_days(day);
        let supply = jicha_engine::themes::daily::station_supply(&session, &[d, d - 7]).unwrap();
        (b, supply)
    })
    .join()
    .unwrap();
    assert!(b.stations.len() >= 2);
    let mut total = 0.0;
    for s in &b.stations {
        let sms = s.sms(b.day, false);
        assert!(sms.starts_with("【日供电量简报】"), "{sms}");
        assert!(sms.contains(&s.name) && sms.contains("2月20日"), "{sms}");
        assert!(sms.chars().count() <= 140, "one SMS: {} characters: {sms}", sms.chars().count());
        let expected = supply.get(&(s.station_id.clone(), jicha_core::calendar::to_epoch_days(day))).unwrap();
        assert!((s.supply.unwrap() - expected.supply as f64 / 100.0).abs() < 1e-6);
        assert!(s.week_before.is_some(), "a week earlier is stored");
        assert_eq!(s.year_before, None, "a year earlier is not stored: unknown, not zero");
        total += s.supply.unwrap();
    }
    assert!((b.company.supply.unwrap() - total).abs() < 1e-6, "the company is the sum of its stations");
    let long = b.long_text();
    assert!(long.starts_with("日供电量简报 2026年2月20日"));
    for s in &b.stations {
        assert!(long.contains(&s.name));
    }
}

#[tokio::test]
async fn the_monthly_documents_list_every_problem_of_the_month() {
    let e = env();
    let auditor = login(&e.app, "auditor").await;
    let picked = findings_of(&e.app, &auditor, &e.a, 3).await;
    let ids: Vec<Value> = picked.iter().map(|f| f["finding_id"].clone()).collect();
    let made =
        post(&e.app, &auditor, "/api/orders", json!({"finding_ids": ids, "deadline": "2099-01-31"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let root = county().root.clone();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_path_buf();
    let (docx, xlsx) = std::thread::spawn(move || {
        let cat = jicha_engine::audit::Catalogue::builtin();
        jicha_web::monthly::write(&root, &cat, jicha_core::calendar::Period::parse("2026-02").unwrap(), &dir)
    })
    .join()
    .unwrap()
    .unwrap();
    assert!(
        docx.file_name().unwrap().to_string_lossy().ends_with("2026年2月现场营销稽查报告.docx"),
        "{docx:?}"
    );
    assert!(docx.metadata().unwrap().len() > 5_000);
    use calamine::{DataType as _, Reader, open_workbook_auto};
    let mut wb = open_workbook_auto(&xlsx).unwrap();
    let sheet = wb.worksheet_range(jicha_report::PROBLEM_SHEET).unwrap();
    let rows: Vec<_> =
        sheet.rows().filter(|r| r.first().is_some_and(|c| c.to_string().parse::<u32>().is_ok())).collect();
    assert_eq!(rows.len(), 3, "a row per problem in an order");
    for r in &rows {
        assert!(r.iter().any(|c| c.get_string() == Some("主题稽查")));
        assert!(r.iter().any(|c| c.get_string() == Some("已派发")), "status in Chinese");
    }
}

#[tokio::test]
async fn a_target_line_is_checked_weekly_and_its_warning_shown_and_queued_once() {
    let e = env();
    let root = county().root.clone();
    let flow = jicha_flow::Flow::new(&root);
    {
        let mut conn = flow.connect().unwrap();
        let admin = jicha_flow::Actor::system();
        jicha_flow::targets::set(&mut conn, &admin, "outage_customer_hours", "", "2026-02", 0.5, "二月预算")
            .unwrap();
        jicha_flow::targets::set(&mut conn, &admin, "loss_rate", &e.a, "2026-02", 0.5, "").unwrap();
        // Only administrators set lines.
        let staff = jicha_flow::Actor {
            role: jicha_flow::Role::StationStaff,
            station_id: Some(e.a.clone()),
            ..admin
        };
        assert!(jicha_flow::targets::set(&mut conn, &staff, "loss_rate", &e.a, "2026-02", 0.1, "").is_err());
    }
    let to = jicha_web::schedule::BriefingConfig { chat: vec!["wecom".into()], ..Default::default() };
    let r = root.clone();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 2, 16).unwrap();
    let (checked, msgs) =
        std::thread::spawn(move || jicha_web::warnings::check_all(&r, day, Some(&to), &[]).unwrap())
            .join()
            .unwrap();
    assert_eq!(checked, 2);
    // Outage customer-hours over half an hour already: crossed, one message; the loss line of 50%
    // is not in danger.
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].body.contains("已越线") && msgs[0].body.contains("停电时户数"), "{}", msgs[0].body);
    let manager = login(&e.app, "manager").await;
    let page = get(&e.app, &manager, "/warnings").await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(
        text.contains("停电时户数") && text.contains("二月预算") && text.contains("已越线"),
        "status shown"
    );
    assert!(text.contains("burn0"), "a burn-down chart");
    // Checked again the same week: the status is not new, nothing is queued again.
    let r = root.clone();
    let to = jicha_web::schedule::BriefingConfig { chat: vec!["wecom".into()], ..Default::default() };
    let (_, again) =
        std::thread::spawn(move || jicha_web::warnings::check_all(&r, day, Some(&to), &[]).unwrap())
            .join()
            .unwrap();
    assert!(again.is_empty(), "{again:?}");
    // Station staff see their station's line only.
    let staff_b = login(&e.app, "staff_b").await;
    let theirs = get(&e.app, &staff_b, "/warnings").await.text();
    assert!(!theirs.contains("二月预算") && theirs.contains("还没有目标线"), "other scopes hidden");
}

#[tokio::test]
async fn the_assessment_page_scores_under_the_active_scheme_and_only_administrators_edit_schemes() {
    let e = env();
    let manager = login(&e.app, "manager").await;
    let page = get(&e.app, &manager, "/assessment?period=2026-02").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("还没有适用于该期间的考核方案"), "no scheme yet, said plainly");
    assert_eq!(get(&e.app, &manager, "/admin/scheme").await.status, StatusCode::FORBIDDEN);
    let admin = login(&e.app, "admin").await;
    let editor = get(&e.app, &admin, "/admin/scheme").await.text();
    assert!(editor.contains("loss_rate") && editor.contains("LATE-ORDER"), "the example scheme offered");
    {
        let flow = jicha_flow::Flow::new(&county().root);
        let mut conn = flow.connect().unwrap();
        jicha_flow::assess::save_scheme(
            &mut conn,
            &jicha_flow::Actor::system(),
            jicha_engine::assessment::Scheme::example(),
            "2026-01",
        )
        .unwrap();
    }
    let scored = get(&e.app, &manager, "/assessment?period=2026-02").await.text();
    assert!(scored.contains("草稿（未发布）"), "a draft until published");
    assert!(scored.contains("供电所得分与排名") && scored.contains("电费回收率"), "scores explained");
    let staff = login(&e.app, "staff_a").await;
    let mine = get(&e.app, &staff, "/assessment?period=2026-02").await.text();
    let stations_part = |t: &str| t.split("人员扣分").next().unwrap_or("").matches("<summary>").count();
    assert_eq!(stations_part(&scored), 2, "the manager sees both stations");
    assert_eq!(stations_part(&mine), 1, "station staff see their own station");
}

#[tokio::test]
async fn notifications_runs_and_monthly_documents_are_visible_to_the_audit_centre() {
    let e = env();
    let manager = login(&e.app, "manager").await;
    let page = get(&e.app, &manager, "/admin/notifications").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("通知发件箱") && page.text().contains("定时任务运行记录"));
    let doc = get(&e.app, &manager, "/reports/monthly?period=2026-02&doc=xlsx").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.headers[header::CONTENT_TYPE].to_str().unwrap().contains("spreadsheetml"));
    assert!(doc.body.starts_with(b"PK"), "an Office file");
    let word = get(&e.app, &manager, "/reports/monthly?period=2026-02&doc=docx").await;
    assert!(word.headers[header::CONTENT_DISPOSITION].to_str().unwrap().contains(".docx"));
    let staff = login(&e.app, "staff_a").await;
    assert_eq!(get(&e.app, &staff, "/admin/notifications").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&e.app, &staff, "/reports/monthly?period=2026-02&doc=xlsx").await.status,
        StatusCode::FORBIDDEN
    );
}

async fn post_form(app: &Router, s: &Session2, uri: &str, body: &str) -> Reply {
    send(
        app,
        Request::post(uri)
            .header(header::COOKIE, &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_census_is_started_its_forms_downloaded_per_station_and_taken_back_from_the_web() {
    let e = env();
    let auditor = login(&e.app, "auditor").await;
    let started = post_form(
        &e.app,
        &auditor,
        "/census",
        "name=2026%E5%B9%B4%E6%99%AE%E6%9F%A5&kind=census&share=0.1&seed=3",
    )
    .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER);
    let to = started.headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(to.contains("ok="), "{to}");
    let page = get(&e.app, &auditor, "/census").await.text();
    assert!(page.contains("2026年普查") && page.contains("上传填好的登记表"));
    let staff = login(&e.app, "staff_a").await;
    let mine = get(&e.app, &staff, &format!("/census/1/forms/{}", e.a)).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(mine.body.starts_with(b"PK"));
    assert_eq!(get(&e.app, &staff, &format!("/census/1/forms/{}", e.b)).await.status, StatusCode::NOT_FOUND);
    assert!(
        !get(&e.app, &staff, "/census").await.text().contains("multipart/form-data"),
        "staff do not upload"
    );
    // The form back as it left: nobody visited, nothing imported.
    let back = upload(&e.app, &auditor, "/census/1/results", "form.xlsx", &mine.body).await;
    let to = back.headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(to.contains("ok="), "{to}");
    let refused = upload(&e.app, &staff, "/census/1/results", "form.xlsx", &mine.body).await;
    assert!(refused.headers[header::LOCATION].to_str().unwrap().contains("err="));
}
