//! The pages, rendered on the server in Simplified Chinese (English by the switch in the header).
//! Forms post back here and redirect; a refused change comes back as a red line naming why.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jicha_flow::orders::{self, Action, Filter, State as OrderState};
use jicha_flow::{Role, onsite, trail, users};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::{Value, json};

use crate::api::{self, ops};
use crate::auth::Current;
use crate::data::FindingQuery;
use crate::i18n::Lang;
use crate::{AppError, Shared, blocking};

/// Percent-encodes for a URL query value or path.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An urlencoded form body as pairs (repeated names kept, e.g. several checked findings).
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

pub(crate) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

/// Money as people read it: 12,345.67.
pub fn money(v: f64) -> String {
    let cents = (v * 100.0).round() as i64;
    let (sign, cents) = if cents < 0 { ("-", -cents) } else { ("", cents) };
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", cents % 100)
}

fn state_name(lang: Lang, s: OrderState) -> &'static str {
    lang.t(s.name_zh(), s.name_en())
}

fn severity_name(lang: Lang, s: &str) -> &'static str {
    match s {
        "high" => lang.t("高", "high"),
        "medium" => lang.t("中", "medium"),
        _ => lang.t("低", "low"),
    }
}

fn specialty_name(lang: Lang, code: &str) -> String {
    jicha_engine::Specialty::ALL
        .iter()
        .find(|s| s.code() == code)
        .map(|s| lang.t(s.name_zh(), s.code()).to_string())
        .unwrap_or_else(|| code.to_string())
}

fn theme_name(app: &Shared, lang: Lang, code: &str) -> String {
    match app.catalogue().get(code) {
        Some(t) => lang.t(t.name_zh(), t.name_en()).to_string(),
        None => match code.strip_prefix("ONSITE-") {
            Some(s) => format!(
                "{}（{}）",
                lang.t("现场稽查", "on-site"),
                specialty_name(lang, &s.to_ascii_lowercase())
            ),
            None if code == crate::census::CENSUS_THEME => {
                lang.t("普查与专项稽查发现", "Found by a census or special audit").to_string()
            }
            None => code.to_string(),
        },
    }
}

fn entity_link(entity_type: &str, id: &str) -> Option<String> {
    match entity_type {
        "customer" => Some(format!("/customers/{}", url_encode(id))),
        "transformer_area" => Some(format!("/areas/{}", url_encode(id))),
        "station" => Some(format!("/stations/{}", url_encode(id))),
        _ => None,
    }
}

fn entity_name(lang: Lang, t: &str) -> &'static str {
    match t {
        "customer" => lang.t("用户", "customer"),
        "meter" => lang.t("电能表", "meter"),
        "bill" => lang.t("电费账单", "bill"),
        "transformer_area" => lang.t("台区", "transformer area"),
        "feeder" => lang.t("线路", "feeder"),
        "work_order" => lang.t("业务工单", "work order"),
        "station" => lang.t("供电所", "station"),
        _ => lang.t("对象", "entity"),
    }
}

/// The frame of every page.
pub(crate) fn layout(cur: &Current, title: &str, active: &str, notice: &Notice, body: Markup) -> Markup {
    let l = cur.lang;
    let mut nav: Vec<(String, &str, &str)> = vec![
        ("/".into(), "dashboard", l.t("总览", "Dashboard")),
        ("/findings".into(), "findings", l.t("疑似问题", "Findings")),
        ("/orders".into(), "orders", l.t("稽查工单", "Audit orders")),
        ("/onsite".into(), "onsite", l.t("现场稽查", "On-site audit")),
        ("/indicators".into(), "indicators", l.t("指标", "Indicators")),
        ("/warnings".into(), "warnings", l.t("预警", "Warnings")),
        ("/assessment".into(), "assessment", l.t("考核", "Assessment")),
        ("/census".into(), "census", l.t("普查", "Census")),
    ];
    if let Some(s) = cur.actor.station_id.as_deref().filter(|_| cur.actor.role.is_station()) {
        nav.push((format!("/stations/{}", url_encode(s)), "station", l.t("本所", "My station")));
    }
    if api::may_read_trail(cur) {
        nav.push(("/trail".into(), "trail", l.t("审计日志", "Audit trail")));
    }
    if matches!(cur.actor.role, Role::Admin | Role::Auditor | Role::Manager | Role::Lead) {
        nav.push(("/admin/notifications".into(), "notifications", l.t("通知与文件", "Notices & documents")));
    }
    if cur.actor.role == Role::Admin {
        nav.push(("/admin/users".into(), "users", l.t("用户管理", "Users")));
    }
    html! {
        (DOCTYPE)
        html lang=(l.html()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (l.t("稽查", "Jicha")) }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/echarts.min.js" defer {}
                script src="/assets/app.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { (l.t("稽查 · 营销稽查与收入保护", "Jicha · marketing audit")) }
                    nav {
                        @for (href, key, label) in &nav {
                            a class=(if *key == active { "on" } else { "" }) href=(href) { (label) }
                        }
                    }
                    div.who {
                        span { (cur.actor.display_name) " · " (l.t(cur.actor.role.name_zh(), cur.actor.role.name_en())) }
                        @if l == Lang::Zh { a href="/lang/en" { "English" } } @else { a href="/lang/zh" { "中文" } }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(cur.csrf);
                            button.link type="submit" { (l.t("退出", "Log out")) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(m) = &notice.ok { p.ok role="status" { (m) } }
                    @if let Some(m) = &notice.err { p.err role="alert" { (m) } }
                    (body)
                }
            }
        }
    }
}

/// The login page.
pub fn login(lang: Lang, next: &str, error: Option<&str>) -> Html<String> {
    let page = html! {
        (DOCTYPE)
        html lang=(lang.html()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (lang.t("登录 · 稽查", "Log in · Jicha")) }
                link rel="stylesheet" href="/assets/app.css";
            }
            body.login {
                form.card method="post" action="/login" {
                    h1 { (lang.t("稽查 · 营销稽查与收入保护", "Jicha · marketing audit")) }
                    @if let Some(e) = error { p.err role="alert" { (e) } }
                    label { (lang.t("用户名", "User name")) input name="username" autocomplete="username" required autofocus; }
                    label { (lang.t("密码", "Password")) input name="password" type="password" autocomplete="current-password" required; }
                    input type="hidden" name="next" value=(next);
                    button type="submit" { (lang.t("登录", "Log in")) }
                    p.small {
                        @if lang == Lang::Zh { a href="/lang/en" { "English" } } @else { a href="/lang/zh" { "中文" } }
                    }
                }
            }
        }
    };
    Html(page.into_string())
}

/// Messages carried back to a page after a form.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Notice {
    /// Done.
    #[serde(default)]
    pub ok: Option<String>,
    /// Refused, and why.
    #[serde(default)]
    pub err: Option<String>,
}

pub(crate) fn back(to: &str, result: Result<String, AppError>) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    match result {
        Ok(msg) => Redirect::to(&format!("{to}{sep}ok={}", url_encode(&msg))).into_response(),
        Err(e) => Redirect::to(&format!("{to}{sep}err={}", url_encode(&e.message))).into_response(),
    }
}

fn error_page(cur: &Current, e: AppError) -> Response {
    let l = cur.lang;
    let body =
        html! { p.err { (e.message) } p { a href="/" { (l.t("返回总览", "Back to the dashboard")) } } };
    let title = match e.status {
        StatusCode::NOT_FOUND => l.t("不存在", "Not found"),
        StatusCode::FORBIDDEN => l.t("无权限", "Forbidden"),
        _ => l.t("出错了", "Something went wrong"),
    };
    (e.status, Html(layout(cur, title, "", &Notice::default(), body).into_string())).into_response()
}

/// Renders a page off the async threads; a refusal becomes the error page.
pub(crate) async fn render(
    cur: Current,
    f: impl FnOnce(&Current) -> Result<Markup, AppError> + Send + 'static,
) -> Response {
    let c = cur.clone();
    let r = blocking(move || f(&c)).await;
    page(&cur, r)
}

fn page(cur: &Current, r: Result<Markup, AppError>) -> Response {
    match r {
        Ok(m) => Html(m.into_string()).into_response(),
        Err(e) => error_page(cur, e),
    }
}

/// A chart: the ECharts option travels as JSON data beside its box (no inline script).
pub(crate) fn chart(id: &str, option: &Value, height: u32) -> Markup {
    let data = option.to_string().replace("</", "<\\/");
    html! {
        div.chart id=(id) data-option=(format!("{id}-option")) style=(format!("height:{height}px")) {}
        script type="application/json" id=(format!("{id}-option")) { (PreEscaped(data)) }
    }
}

pub(crate) fn bar_option(title: &str, names: &[String], values: &[f64], series: &str) -> Value {
    json!({
        "title": {"text": title, "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 140, "right": 30, "top": 40, "bottom": 30},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "data": names, "inverse": true},
        "series": [{"type": "bar", "name": series, "data": values}]
    })
}

fn evidence_table(l: Lang, evidence: &Value) -> Markup {
    html! {
        table.kv {
            tr { th { (l.t("证据项", "Evidence")) } th { (l.t("数值", "Value")) } }
            @if let Some(map) = evidence.as_object() {
                @for (k, v) in map {
                    tr { td { code { (k) } } td.num { (match v { Value::String(s) => s.clone(), other => other.to_string() }) } }
                }
            }
        }
    }
}

fn kv_table(map: &serde_json::Map<String, Value>) -> Markup {
    html! {
        table.kv {
            @for (k, v) in map {
                tr { th { (k) } td { (match v { Value::String(s) => s.clone(), Value::Null => String::new(), other => other.to_string() }) } }
            }
        }
    }
}

fn rows_table(rows: &[serde_json::Map<String, Value>]) -> Markup {
    let Some(first) = rows.first() else { return html! { p.muted { "—" } } };
    let cols: Vec<&String> = first.keys().collect();
    html! {
        div.scroll { table {
            tr { @for c in &cols { th { (c) } } }
            @for r in rows {
                tr { @for c in &cols {
                    td { (match r.get(*c) { Some(Value::String(s)) => s.clone(), Some(Value::Null) | None => String::new(), Some(o) => o.to_string() }) }
                } }
            }
        } }
    }
}

async fn dashboard(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let period = q.get("period").cloned().unwrap_or_default();
    render(cur, move |c| {
        let v = ops::dashboard(&app, c, &period)?;
        let names = app.with_data(|c| crate::data::station_names(c)).unwrap_or_default();
        let title = if c.actor.role.is_station() {
            c.lang.t("本所总览", "My station")
        } else {
            c.lang.t("公司总览", "Company dashboard")
        };
        Ok(layout(c, title, "dashboard", &Notice::default(), dashboard_body(&app, c, &v, &names)))
    })
    .await
}

fn dashboard_body(app: &Shared, cur: &Current, v: &Value, names: &BTreeMap<String, String>) -> Markup {
    let l = cur.lang;
    let s = &v["summary"];
    let period = s["period"].as_str().unwrap_or("");
    let groups = |key: &str| -> Vec<(String, String, i64, f64)> {
        s[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|g| {
                        let name = if l == Lang::Zh { &g["name_zh"] } else { &g["name_en"] };
                        (
                            g["key"].as_str().unwrap_or("").to_string(),
                            name.as_str().unwrap_or("").to_string(),
                            g["findings"].as_i64().unwrap_or(0),
                            g["amount"].as_f64().unwrap_or(0.0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let themes = groups("by_theme");
    let stations = groups("by_station");
    let specs = groups("by_specialty");
    let trend = groups("trend");
    let by_state = &v["orders"]["by_state"];
    let open: i64 = OrderState::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| by_state[s.code()].as_i64().unwrap_or(0))
        .sum();
    let overdue = v["orders"]["overdue"].as_i64().unwrap_or(0);
    let theme_chart = bar_option(
        l.t("各主题疑似问题数", "Findings by theme"),
        &themes.iter().take(15).map(|t| t.1.clone()).collect::<Vec<_>>(),
        &themes.iter().take(15).map(|t| t.2 as f64).collect::<Vec<_>>(),
        l.t("疑似问题", "findings"),
    );
    let station_chart = bar_option(
        l.t("各供电所涉及金额（元）", "Money at risk by station (yuan)"),
        &stations.iter().take(20).map(|t| t.1.clone()).collect::<Vec<_>>(),
        &stations.iter().take(20).map(|t| (t.3 * 100.0).round() / 100.0).collect::<Vec<_>>(),
        l.t("涉及金额", "money at risk"),
    );
    let trend_chart = json!({
        "title": {"text": l.t("逐月趋势", "Month by month"), "textStyle": {"fontSize": 14}},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "right": 10},
        "grid": {"left": 60, "right": 60, "top": 40, "bottom": 30},
        "xAxis": {"type": "category", "data": trend.iter().map(|t| t.0.clone()).collect::<Vec<_>>()},
        "yAxis": [{"type": "value", "name": l.t("条", "findings")}, {"type": "value", "name": l.t("元", "yuan")}],
        "series": [
            {"type": "line", "name": l.t("疑似问题", "findings"), "data": trend.iter().map(|t| t.2).collect::<Vec<_>>()},
            {"type": "line", "name": l.t("涉及金额", "money at risk"), "yAxisIndex": 1,
             "data": trend.iter().map(|t| (t.3 * 100.0).round() / 100.0).collect::<Vec<_>>()}
        ]
    });
    let precision: &[Value] = v["precision"].as_array().map(Vec::as_slice).unwrap_or_default();
    let _ = names;
    html! {
        form.filters method="get" action="/" {
            label { (l.t("稽查月份", "Period")) select name="period" onchange="this.form.submit()" {
                @for p in s["periods"].as_array().into_iter().flatten() {
                    @let p = p.as_str().unwrap_or("");
                    option value=(p) selected[p == period] { (p) }
                }
            } }
            noscript { button type="submit" { (l.t("查看", "Show")) } }
        }
        div.kpis {
            div.kpi { span { (l.t("疑似问题", "Findings")) } strong { (s["findings"].as_i64().unwrap_or(0)) } }
            div.kpi { span { (l.t("涉及金额（元）", "Money at risk (yuan)")) } strong { (money(s["amount"].as_f64().unwrap_or(0.0))) } }
            div.kpi { span { (l.t("在办工单", "Open orders")) } strong { a href="/orders" { (open) } } }
            div.kpi.warn[overdue > 0] { span { (l.t("超期工单", "Overdue orders")) } strong { a href="/orders?overdue=true" { (overdue) } } }
        }
        @if s["findings"].as_i64().unwrap_or(0) == 0 {
            p.muted { (l.t("本月还没有稽查结果：先导入数据（jicha import），再运行月度稽查（jicha audit --period YYYY-MM）。",
                           "No audit results yet: import data (jicha import), then run the monthly audit (jicha audit --period YYYY-MM).")) }
        }
        div.grid2 {
            (chart("chart-themes", &theme_chart, 420))
            (chart("chart-stations", &station_chart, 420))
        }
        (chart("chart-trend", &trend_chart, 280))
        div.grid2 {
            section {
                h2 { (l.t("按专业", "By specialty")) }
                table {
                    tr { th { (l.t("专业", "Specialty")) } th.num { (l.t("疑似问题", "Findings")) } th.num { (l.t("涉及金额（元）", "Money (yuan)")) } }
                    @for g in &specs {
                        tr {
                            td { a href=(format!("/findings?period={period}&specialty={}", g.0)) { (specialty_name(l, &g.0)) } }
                            td.num { (g.2) } td.num { (money(g.3)) }
                        }
                    }
                }
                h2 { (l.t("按主题", "By theme")) }
                table {
                    tr { th { (l.t("主题", "Theme")) } th.num { (l.t("疑似问题", "Findings")) } th.num { (l.t("涉及金额（元）", "Money (yuan)")) } }
                    @for g in &themes {
                        tr {
                            td { a href=(format!("/findings?period={period}&theme={}", url_encode(&g.0))) { (g.1) } " " code.small { (g.0) } }
                            td.num { (g.2) } td.num { (money(g.3)) }
                        }
                    }
                }
            }
            section {
                h2 { (l.t("按供电所", "By station")) }
                table {
                    tr { th { (l.t("供电所", "Station")) } th.num { (l.t("疑似问题", "Findings")) } th.num { (l.t("涉及金额（元）", "Money (yuan)")) } }
                    @for g in stations {
                        tr {
                            td { a href=(format!("/stations/{}", url_encode(&g.0))) { (g.1) } }
                            td.num { a href=(format!("/findings?period={period}&station={}", url_encode(&g.0))) { (g.2) } }
                            td.num { (money(g.3)) }
                        }
                    }
                }
                h2 { (l.t("各主题准确率（已关闭工单）", "Theme precision over closed orders")) }
                @if precision.is_empty() {
                    p.muted { (l.t("还没有验收或归档的工单。", "No accepted or archived orders yet.")) }
                } @else {
                    table {
                        tr { th { (l.t("主题", "Theme")) } th.num { (l.t("属实", "Confirmed")) } th.num { (l.t("已关闭", "Closed")) } th.num { (l.t("准确率", "Precision")) } }
                        @for p in precision {
                            tr {
                                td { (theme_name(app, l, p["theme"].as_str().unwrap_or(""))) }
                                td.num { (p["confirmed"]) } td.num { (p["closed"]) }
                                td.num { (format!("{:.0}%", p["precision"].as_f64().unwrap_or(0.0) * 100.0)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn findings_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<FindingQuery>,
    Query(notice): Query<Notice>,
) -> Response {
    render(cur, move |c| {
        let v = ops::findings(&app, c, &q)?;
        let names = app.with_data(|c| crate::data::station_names(c)).unwrap_or_default();
        let periods = app.with_data(|c| crate::data::periods(c)).unwrap_or_default();
        Ok(findings_body(&app, c, &q, &v, &names, &periods, &notice))
    })
    .await
}

fn query_string(q: &FindingQuery, page: u32) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("period", &q.period),
        ("theme", &q.theme),
        ("station", &q.station),
        ("specialty", &q.specialty),
        ("severity", &q.severity),
        ("entity", &q.entity),
        ("sort", &q.sort),
        ("dir", &q.dir),
    ] {
        if !v.is_empty() {
            parts.push(format!("{k}={}", url_encode(v)));
        }
    }
    if let Some(m) = q.min_amount {
        parts.push(format!("min_amount={m}"));
    }
    parts.push(format!("page={page}"));
    parts.push(format!("per_page={}", q.per_page()));
    parts.join("&")
}

fn findings_body(
    app: &Shared,
    cur: &Current,
    q: &FindingQuery,
    v: &Value,
    names: &BTreeMap<String, String>,
    periods: &[String],
    notice: &Notice,
) -> Markup {
    let l = cur.lang;
    let period = v["period"].as_str().unwrap_or("").to_string();
    let total = v["total"].as_u64().unwrap_or(0);
    let pages = total.div_ceil(u64::from(q.per_page())).max(1) as u32;
    let rows: &[Value] = v["findings"].as_array().map(Vec::as_slice).unwrap_or_default();
    let can_dispatch = cur.actor.role.is_audit_centre();
    let sort_link = |key: &str, label: &str| {
        let mut s = q.clone();
        s.dir = if q.sort == key && q.dir != "asc" { "asc".into() } else { "desc".into() };
        s.sort = key.into();
        html! { a href=(format!("/findings?{}", query_string(&s, 1))) { (label) } }
    };
    let default_deadline = (chrono::Local::now().date_naive() + chrono::Duration::days(15)).to_string();
    let body = html! {
        form.filters method="get" action="/findings" {
            label { (l.t("月份", "Period")) select name="period" {
                @for p in periods { option value=(p) selected[*p == period] { (p) } }
            } }
            label { (l.t("主题", "Theme")) select name="theme" {
                option value="" { (l.t("全部", "all")) }
                @for t in &app.catalogue().themes {
                    @if !t.daily() { option value=(t.code()) selected[q.theme == t.code()] { (t.code()) " " (l.t(t.name_zh(), t.name_en())) } }
                }
            } }
            @if !cur.actor.role.is_station() {
                label { (l.t("供电所", "Station")) select name="station" {
                    option value="" { (l.t("全部", "all")) }
                    @for (id, name) in names { option value=(id) selected[q.station == *id] { (name) } }
                } }
            }
            label { (l.t("专业", "Specialty")) select name="specialty" {
                option value="" { (l.t("全部", "all")) }
                @for s in jicha_engine::Specialty::ALL { option value=(s.code()) selected[q.specialty == s.code()] { (l.t(s.name_zh(), s.code())) } }
            } }
            label { (l.t("严重程度", "Severity")) select name="severity" {
                option value="" { (l.t("全部", "all")) }
                @for s in ["high", "medium", "low"] { option value=(s) selected[q.severity == s] { (severity_name(l, s)) } }
            } }
            label { (l.t("对象编号", "Entity id")) input name="entity" value=(q.entity) size="12"; }
            label { (l.t("金额不少于", "Money at least")) input name="min_amount" type="number" step="0.01" value=(q.min_amount.map(|m| m.to_string()).unwrap_or_default()) size="8"; }
            input type="hidden" name="sort" value=(q.sort);
            input type="hidden" name="dir" value=(q.dir);
            button type="submit" { (l.t("筛选", "Filter")) }
            a.button href=(format!("/findings/export.xlsx?{}", query_string(q, 1))) { (l.t("导出 Excel", "Export .xlsx")) }
        }
        p.muted { (l.t("共", "")) " " strong { (total) } " " (l.t("条疑似问题", "findings")) " · " (l.t("第", "page ")) (q.page()) "/" (pages) (l.t(" 页", "")) }
        form method="post" action="/orders" id="dispatch" {
            input type="hidden" name="csrf" value=(cur.csrf);
            div.scroll { table.findings {
                tr {
                    @if can_dispatch { th { input type="checkbox" data-check-all="finding_id" title=(l.t("全选", "all")); } }
                    th { (sort_link("theme", l.t("主题", "Theme"))) }
                    th { (l.t("专业", "Specialty")) }
                    th { (sort_link("entity", l.t("对象", "Entity"))) }
                    th { (sort_link("station", l.t("供电所", "Station"))) }
                    th { (sort_link("severity", l.t("严重程度", "Severity"))) }
                    th.num { (sort_link("amount", l.t("涉及金额（元）", "Money (yuan)"))) }
                    th { (l.t("工单", "Order")) }
                }
                @for f in rows {
                    @let id = f["finding_id"].as_str().unwrap_or("");
                    @let station = f["station_id"].as_str().unwrap_or("");
                    tr {
                        @if can_dispatch { td { @if f["order"].is_null() { input type="checkbox" name="finding_id" value=(id); } } }
                        td { a href=(format!("/findings/{id}")) { (theme_name(app, l, f["theme"].as_str().unwrap_or(""))) } }
                        td { (specialty_name(l, f["specialty"].as_str().unwrap_or(""))) }
                        td { (entity_name(l, f["entity_type"].as_str().unwrap_or(""))) " " code { (f["entity_id"].as_str().unwrap_or("")) } }
                        td { (names.get(station).map(String::as_str).unwrap_or(station)) }
                        td { span class=(format!("sev {}", f["severity"].as_str().unwrap_or(""))) { (severity_name(l, f["severity"].as_str().unwrap_or(""))) } }
                        td.num { (f["amount_at_risk"].as_f64().map(money).unwrap_or_default()) }
                        td { @if let Some(o) = f["order"]["order_id"].as_i64() {
                            a href=(format!("/orders/{o}")) { (state_name(l, OrderState::parse(f["order"]["state"].as_str().unwrap_or("")).unwrap_or(OrderState::Dispatched))) }
                        } }
                    }
                }
            } }
            @if can_dispatch {
                div.dispatch {
                    label { (l.t("整改期限", "Deadline")) input type="date" name="deadline" value=(default_deadline) required; }
                    label { (l.t("备注", "Note")) input name="note" size="24"; }
                    button type="submit" { (l.t("派发稽查工单（按供电所分组）", "Dispatch audit orders (one per station)")) }
                }
            }
        }
        nav.pager {
            @if q.page() > 1 { a href=(format!("/findings?{}", query_string(q, q.page() - 1))) { (l.t("上一页", "Previous")) } }
            @if q.page() < pages { a href=(format!("/findings?{}", query_string(q, q.page() + 1))) { (l.t("下一页", "Next")) } }
        }
    };
    layout(cur, l.t("疑似问题", "Findings"), "findings", notice, body)
}

async fn finding_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
) -> Response {
    render(cur, move |c| {
        let v = ops::finding(&app, c, &id)?;
        let names = app.with_data(|c| crate::data::station_names(c)).unwrap_or_default();
        Ok(finding_body(&app, c, &v, &names, &notice))
    })
    .await
}

fn customer_chart(l: Lang, days: &[Value], period: Option<&str>, baseline: Option<f64>) -> Value {
    let dates: Vec<&str> = days.iter().map(|d| d["date"].as_str().unwrap_or("")).collect();
    let kwh: Vec<Value> = days.iter().map(|d| d["kwh"].clone()).collect();
    let mut series = json!({"type": "line", "name": l.t("日电量 kWh", "daily kWh"), "data": kwh, "showSymbol": false,
                            "connectNulls": false});
    if let Some(p) = period {
        let first = dates.iter().find(|d| d.starts_with(p)).copied().unwrap_or("");
        let last = dates.iter().rev().find(|d| d.starts_with(p)).copied().unwrap_or("");
        series["markArea"] = json!({"itemStyle": {"color": "rgba(220, 80, 60, 0.08)"},
                                    "data": [[{"name": format!("{} {p}", l.t("稽查月份", "audited")), "xAxis": first}, {"xAxis": last}]]});
    }
    if let Some(b) = baseline {
        series["markLine"] = json!({"symbol": "none", "lineStyle": {"type": "dashed"},
                                    "data": [{"yAxis": b, "name": l.t("基线", "baseline")}],
                                    "label": {"formatter": format!("{} {{c}}", l.t("基线", "baseline"))}});
    }
    json!({
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 60, "right": 30, "top": 30, "bottom": 60},
        "dataZoom": [{"type": "slider"}, {"type": "inside"}],
        "xAxis": {"type": "category", "data": dates},
        "yAxis": {"type": "value", "name": "kWh"},
        "series": [series]
    })
}

fn area_chart(l: Lang, days: &[Value]) -> Value {
    let dates: Vec<&str> = days.iter().map(|d| d["date"].as_str().unwrap_or("")).collect();
    let col = |k: &str| days.iter().map(|d| d[k].clone()).collect::<Vec<_>>();
    json!({
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 70, "right": 60, "top": 40, "bottom": 40},
        "xAxis": {"type": "category", "data": dates},
        "yAxis": [{"type": "value", "name": "kWh"}, {"type": "value", "name": l.t("线损率 %", "loss %")}],
        "series": [
            {"type": "bar", "name": l.t("供电量", "supply"), "data": col("supply_kwh")},
            {"type": "bar", "name": l.t("售电量", "consumption"), "data": col("consumption_kwh")},
            {"type": "line", "name": l.t("线损率 %", "loss %"), "yAxisIndex": 1, "data": col("loss_pct")}
        ]
    })
}

fn finding_body(
    app: &Shared,
    cur: &Current,
    v: &Value,
    names: &BTreeMap<String, String>,
    notice: &Notice,
) -> Markup {
    let l = cur.lang;
    let f = &v["finding"];
    let id = f["finding_id"].as_str().unwrap_or("");
    let theme = f["theme"].as_str().unwrap_or("");
    let et = f["entity_type"].as_str().unwrap_or("");
    let eid = f["entity_id"].as_str().unwrap_or("");
    let station = f["station_id"].as_str().unwrap_or("");
    let chart_v = &v["chart"];
    let title = format!("{} · {}", theme_name(app, l, theme), eid);
    let default_deadline = (chrono::Local::now().date_naive() + chrono::Duration::days(15)).to_string();
    let body = html! {
        table.kv {
            tr { th { (l.t("稽查主题", "Theme")) } td { (theme_name(app, l, theme)) " " code { (theme) } } }
            tr { th { (l.t("专业", "Specialty")) } td { (specialty_name(l, f["specialty"].as_str().unwrap_or(""))) } }
            tr { th { (l.t("对象", "Entity")) } td {
                (entity_name(l, et)) " "
                @if let Some(h) = entity_link(et, eid) { a href=(h) { (eid) } } @else { code { (eid) } }
            } }
            tr { th { (l.t("供电所", "Station")) } td { a href=(format!("/stations/{}", url_encode(station))) { (names.get(station).map(String::as_str).unwrap_or(station)) } } }
            tr { th { (l.t("稽查月份", "Period")) } td { (f["period"].as_str().unwrap_or("")) } }
            tr { th { (l.t("严重程度", "Severity")) } td { (severity_name(l, f["severity"].as_str().unwrap_or(""))) } }
            tr { th { (l.t("涉及金额（元）", "Money at risk (yuan)")) } td.num { (f["amount_at_risk"].as_f64().map(money).unwrap_or_else(|| "—".into())) } }
            tr { th { (l.t("问题编号", "Finding id")) } td { code { (id) } } }
            tr { th { (l.t("工单", "Order")) } td {
                @if let Some(o) = v["order"]["order_id"].as_i64() {
                    a href=(format!("/orders/{o}")) { (l.t("查看工单", "open the order")) " #" (o) }
                } @else if cur.actor.role.is_audit_centre() {
                    form.inline method="post" action="/orders" {
                        input type="hidden" name="csrf" value=(cur.csrf);
                        input type="hidden" name="finding_id" value=(id);
                        input type="date" name="deadline" value=(default_deadline) required;
                        button type="submit" { (l.t("派发稽查工单", "Dispatch an audit order")) }
                    }
                } @else { (l.t("未派单", "not in an order")) }
            } }
        }
        h2 { (l.t("证据", "Evidence")) }
        (evidence_table(l, &f["evidence"]))
        @match chart_v["kind"].as_str() {
            Some("customer") => {
                h2 { (l.t("日电量与基线（稽查月份标出）", "Daily consumption against the baseline (audited month marked)")) }
                (chart("chart-finding", &customer_chart(l, chart_v["days"].as_array().map(Vec::as_slice).unwrap_or(&[]), chart_v["period"].as_str(), chart_v["baseline_kwh"].as_f64()), 360))
            }
            Some("area") => {
                h2 { (l.t("台区日供电量、售电量与线损率", "The area's supply, consumption and loss rate by day")) }
                (chart("chart-finding", &area_chart(l, chart_v["days"].as_array().map(Vec::as_slice).unwrap_or(&[])), 360))
            }
            Some("bill") => {
                h2 { (l.t("电费逐项重算", "The bill recomputed line by line")) }
                table {
                    tr { th { (l.t("项目", "Item")) } th.num { (l.t("账单", "Billed")) } th.num { (l.t("重算", "Recomputed")) } th.num { (l.t("差额", "Difference")) } }
                    @for line in chart_v["lines"].as_array().into_iter().flatten() {
                        tr {
                            td { (line[if l == Lang::Zh { "item_zh" } else { "item_en" }].as_str().unwrap_or("")) }
                            td.num { (line["billed"].as_f64().map(money).unwrap_or_else(|| "—".into())) }
                            td.num { (line["recomputed"].as_f64().map(money).unwrap_or_else(|| "—".into())) }
                            td.num { (line["difference"].as_f64().map(money).unwrap_or_else(|| "—".into())) }
                        }
                    }
                }
            }
            _ => {}
        }
        h2 { (l.t("本次稽查的主题参数", "The theme's parameters in this audit")) }
        (evidence_table(l, &v["parameters"]))
    };
    layout(cur, &title, "findings", notice, body)
}

async fn customer_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
) -> Response {
    render(cur, move |c| {
        let v = ops::customer(&app, c, &id)?;
        let l = c.lang;
        let cu = &v["customer"];
        let daily: &[Value] = v["daily"].as_array().map(Vec::as_slice).unwrap_or_default();
        let obj = |k: &str| cu[k].as_array().map(|a| a.iter().filter_map(|x| x.as_object().cloned()).collect::<Vec<_>>()).unwrap_or_default();
        let body = html! {
            div.grid2 {
                section { h2 { (l.t("用户档案", "Archive")) } @if let Some(a) = cu["archive"].as_object() { (kv_table(a)) } }
                section {
                    h2 { (l.t("电能表", "Meters")) } (rows_table(&obj("meters")))
                    h2 { (l.t("疑似问题", "Findings")) }
                    (findings_links(&app, l, &v["findings"]))
                    h2 { (l.t("稽查工单", "Audit orders")) }
                    ul { @for o in v["order_ids"].as_array().into_iter().flatten() { li { a href=(format!("/orders/{o}")) { "#" (o) } } } }
                }
            }
            h2 { (l.t("13 个月日电量", "13 months of daily consumption")) }
            (chart("chart-customer", &customer_chart(l, daily, None, None), 320))
            h2 { (l.t("电费发行（近 13 期）", "Bills (last 13)")) } (rows_table(&obj("bills")))
            h2 { (l.t("实收", "Payments")) } (rows_table(&obj("payments")))
        };
        let title = format!("{} {}", l.t("用户", "Customer"), cu["archive"]["name"].as_str().unwrap_or(""));
        Ok(layout(c, &title, "", &Notice::default(), body))
    })
    .await
}

async fn area_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let period = q.get("period").cloned().unwrap_or_default();
    render(cur, move |c| {
        let v = ops::area(&app, c, &id, &period)?;
        let l = c.lang;
        let days: &[Value] = v["daily"].as_array().map(Vec::as_slice).unwrap_or_default();
        let (supply, cons): (f64, f64) = days.iter().fold((0.0, 0.0), |(s, k), d| {
            match (d["supply_kwh"].as_f64(), d["consumption_kwh"].as_f64()) {
                (Some(a), Some(b)) => (s + a, k + b),
                _ => (s, k),
            }
        });
        let body = html! {
            @if let Some(a) = v["area"].as_object() { (kv_table(a)) }
            p { (l.t("用户数", "Customers")) " " strong { (v["customers"]) } " · " (v["period"].as_str().unwrap_or("")) " "
                (l.t("可比日线损率", "loss over comparable days")) " "
                strong { (if supply > 0.0 { format!("{:.2}%", (supply - cons) / supply * 100.0) } else { "—".into() }) } }
            (chart("chart-area", &area_chart(l, days), 360))
            h2 { (l.t("疑似问题", "Findings")) }
            (findings_links(&app, l, &v["findings"]))
        };
        let title = format!("{} {}", l.t("台区", "Area"), v["area"]["name"].as_str().unwrap_or(""));
        Ok(layout(c, &title, "", &Notice::default(), body))
    })
    .await
}

async fn station_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
) -> Response {
    render(cur, move |c| {
        let v = ops::station(&app, c, &id)?;
        let l = c.lang;
        let s = &v["dashboard"]["summary"];
        let areas: &[Value] = v["areas"].as_array().map(Vec::as_slice).unwrap_or_default();
        let orders_list: &[Value] = v["orders"].as_array().map(Vec::as_slice).unwrap_or_default();
        let body = html! {
            div.kpis {
                div.kpi { span { (l.t("用户数", "Customers")) } strong { (v["customers"]) } }
                div.kpi { span { (l.t("台区数", "Areas")) } strong { (areas.len()) } }
                div.kpi { span { (s["period"].as_str().unwrap_or("")) " " (l.t("疑似问题", "findings")) } strong {
                    a href=(format!("/findings?station={}", url_encode(&id))) { (s["findings"]) } } }
                div.kpi { span { (l.t("涉及金额（元）", "Money at risk (yuan)")) } strong { (money(s["amount"].as_f64().unwrap_or(0.0))) } }
            }
            h2 { (l.t("稽查工单", "Audit orders")) }
            (orders_table(l, orders_list))
            h2 { (l.t("台区", "Transformer areas")) }
            div.scroll { table {
                tr { th { (l.t("台区编号", "Area")) } th { (l.t("名称", "Name")) } th { (l.t("线路", "Feeder")) } th.num { (l.t("容量 kVA", "kVA")) } th.num { (l.t("用户数", "Customers")) } }
                @for a in areas {
                    tr {
                        td { a href=(format!("/areas/{}", url_encode(a["tq_id"].as_str().unwrap_or("")))) { (a["tq_id"].as_str().unwrap_or("")) } }
                        td { (a["name"].as_str().unwrap_or("")) } td { (a["feeder_id"].as_str().unwrap_or("")) }
                        td.num { (a["capacity_kva"]) } td.num { (a["customers"]) }
                    }
                }
            } }
        };
        let title = format!("{} {}", l.t("供电所", "Station"), v["station"]["name"].as_str().unwrap_or(""));
        Ok(layout(c, &title, "station", &Notice::default(), body))
    })
    .await
}

/// Findings as links: the month and the theme.
fn findings_links(app: &Shared, l: Lang, findings: &Value) -> Markup {
    html! {
        ul { @for f in findings.as_array().into_iter().flatten() {
            li { a href=(format!("/findings/{}", f["finding_id"].as_str().unwrap_or(""))) {
                (f["period"].as_str().unwrap_or("")) " " (theme_name(app, l, f["theme"].as_str().unwrap_or("")))
            } }
        } }
    }
}

fn orders_table(l: Lang, list: &[Value]) -> Markup {
    html! {
        @if list.is_empty() { p.muted { (l.t("没有工单。", "No orders.")) } } @else {
        div.scroll { table.orders {
            tr {
                th { (l.t("工单编号", "Number")) } th { (l.t("标题", "Title")) } th { (l.t("供电所", "Station")) }
                th { (l.t("状态", "State")) } th { (l.t("整改期限", "Deadline")) } th.num { (l.t("问题数", "Findings")) }
                th.num { (l.t("涉及金额", "At risk")) } th.num { (l.t("追补金额", "Recovered")) }
            }
            @for o in list {
                @let state = OrderState::parse(o["state"].as_str().unwrap_or("")).unwrap_or(OrderState::Dispatched);
                tr.overdue[o["overdue"].as_bool().unwrap_or(false)] {
                    td { a href=(format!("/orders/{}", o["order_id"])) { (o["number"].as_str().unwrap_or("")) } }
                    td { (o["title"].as_str().unwrap_or("")) }
                    td { (o["station_id"].as_str().unwrap_or("")) }
                    td { span class=(format!("state {}", state.code())) { (state_name(l, state)) }
                         @if o["overdue"].as_bool().unwrap_or(false) { " " span.sev.high { (l.t("超期", "overdue")) } } }
                    td { (o["deadline"].as_str().unwrap_or("")) }
                    td.num { (o["items"]) }
                    td.num { (money(o["amount_at_risk"].as_f64().unwrap_or(0.0))) }
                    td.num { (money(o["recovered"].as_f64().unwrap_or(0.0))) }
                }
            }
        } } }
    }
}

async fn orders_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(f): Query<Filter>,
    Query(notice): Query<Notice>,
) -> Response {
    render(cur, move |c| {
        let list = app.with_flow(|conn| Ok(orders::list(conn, &c.actor, &f)?))?;
        let l = c.lang;
        let list: Vec<Value> = list.into_iter().map(|o| serde_json::to_value(o).unwrap_or_default()).collect();
        let month = chrono::Local::now().format("%Y-%m").to_string();
        let body = html! {
            form.filters method="get" action="/orders" {
                label { (l.t("状态", "State")) select name="state" {
                    option value="" { (l.t("全部", "all")) }
                    @for s in OrderState::ALL { option value=(s.code()) selected[f.state.as_deref() == Some(s.code())] { (state_name(l, s)) } }
                } }
                label { input type="checkbox" name="overdue" value="true" checked[f.overdue]; (l.t("只看超期", "overdue only")) }
                button type="submit" { (l.t("筛选", "Filter")) }
            }
            (orders_table(l, &list))
            @if c.actor.role.is_audit_centre() {
                h2 { (l.t("抽查（暗访）", "Spot checks")) }
                form.inline method="post" action="/spot-checks" {
                    input type="hidden" name="csrf" value=(c.csrf);
                    label { (l.t("归档月份", "Archived in")) input name="month" value=(month) size="8"; }
                    label { (l.t("抽取比例", "Share")) input name="share" value="0.1" size="4"; }
                    button type="submit" { (l.t("随机抽取", "Draw")) }
                }
                form.inline method="post" action="/orders/escalate" {
                    input type="hidden" name="csrf" value=(c.csrf);
                    button type="submit" { (l.t("检查超期并升级", "Escalate overdue orders now")) }
                }
            }
        };
        Ok(layout(c, l.t("稽查工单", "Audit orders"), "orders", &notice, body))
    })
    .await
}

async fn order_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<i64>,
    Query(notice): Query<Notice>,
) -> Response {
    render(cur, move |c| {
        let v = ops::order(&app, c, id)?;
        Ok(order_body(&app, c, &v, &notice))
    })
    .await
}

fn order_body(app: &Shared, cur: &Current, v: &Value, notice: &Notice) -> Markup {
    let l = cur.lang;
    let o = &v["order"];
    let id = o["order_id"].as_i64().unwrap_or(0);
    let state = OrderState::parse(o["state"].as_str().unwrap_or("")).unwrap_or(OrderState::Dispatched);
    let station_ok =
        cur.actor.role.is_station() && cur.actor.station_id.as_deref() == o["station_id"].as_str();
    let actions: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| {
            let who = if a.by_station() {
                station_ok || cur.actor.role == Role::Admin
            } else {
                cur.actor.role.is_audit_centre()
            };
            who && matches!(
                (a, state),
                (Action::Start, OrderState::Dispatched)
                    | (Action::Rectify, OrderState::Verifying)
                    | (Action::Submit, OrderState::Verifying | OrderState::Rectifying)
                    | (Action::Accept | Action::Return, OrderState::Submitted)
                    | (Action::Archive, OrderState::Accepted)
            )
        })
        .collect();
    let can_result = (station_ok || cur.actor.role.is_audit_centre())
        && matches!(state, OrderState::Verifying | OrderState::Rectifying);
    let can_upload = (station_ok || cur.actor.role.is_audit_centre()) && state != OrderState::Archived;
    let title = format!("{} {}", l.t("稽查工单", "Audit order"), o["number"].as_str().unwrap_or(""));
    let body = html! {
        table.kv {
            tr { th { (l.t("标题", "Title")) } td { (o["title"].as_str().unwrap_or("")) } }
            tr { th { (l.t("责任供电所", "Station")) } td { a href=(format!("/stations/{}", url_encode(o["station_id"].as_str().unwrap_or("")))) { (o["station_id"].as_str().unwrap_or("")) } } }
            tr { th { (l.t("状态", "State")) } td { span class=(format!("state {}", state.code())) id="order-state" { (state_name(l, state)) }
                @if o["overdue"].as_bool().unwrap_or(false) { " " span.sev.high { (l.t("超期", "overdue")) } } } }
            tr { th { (l.t("整改期限", "Deadline")) } td { (o["deadline"].as_str().unwrap_or("")) } }
            tr { th { (l.t("派发", "Dispatched by")) } td { (o["created_by"].as_str().unwrap_or("")) " · " (o["created_at"].as_str().unwrap_or("")) } }
            tr { th { (l.t("涉及 / 追补金额（元）", "At risk / recovered (yuan)")) } td { (money(o["amount_at_risk"].as_f64().unwrap_or(0.0))) " / " (money(o["recovered"].as_f64().unwrap_or(0.0))) } }
            @if let Some(e) = o["escalated_at"].as_str() { tr { th { (l.t("已升级", "Escalated")) } td { (e) } } }
        }
        @if !actions.is_empty() {
            form.actions method="post" action=(format!("/orders/{id}/transition")) {
                input type="hidden" name="csrf" value=(cur.csrf);
                @if actions.contains(&Action::Return) {
                    label { (l.t("退回原因", "Reasons to return")) input name="reason" size="40"; }
                }
                @for a in &actions {
                    button type="submit" name="action" value=(a.code()) class=(format!("act {}", a.code())) { (l.t(a.name_zh(), a.name_en())) }
                }
            }
        }
        h2 { (l.t("工单中的问题", "Findings in the order")) }
        div.scroll { table.items {
            tr { th { (l.t("主题", "Theme")) } th { (l.t("对象", "Entity")) } th { (l.t("月份", "Period")) } th.num { (l.t("涉及金额", "At risk")) }
                 th { (l.t("核查结论", "Result")) } th { (l.t("原因", "Cause")) } th.num { (l.t("追补金额", "Recovered")) } }
            @for it in v["items"].as_array().into_iter().flatten() {
                @let f = &it["finding"];
                @let fid = f["finding_id"].as_str().unwrap_or("");
                @let et = f["entity_type"].as_str().unwrap_or("");
                @let eid = f["entity_id"].as_str().unwrap_or("");
                tr {
                    td { @if fid.starts_with("onsite-") { (theme_name(app, l, f["theme"].as_str().unwrap_or(""))) } @else {
                        a href=(format!("/findings/{fid}")) { (theme_name(app, l, f["theme"].as_str().unwrap_or(""))) } } }
                    td { (entity_name(l, et)) " " @if let Some(h) = entity_link(et, eid) { a href=(h) { (eid) } } @else { code { (eid) } }
                         @if fid.starts_with("onsite-") { br; span.small { (f["evidence"].as_str().and_then(|e| serde_json::from_str::<Value>(e).ok()).map(|e| e["description"].as_str().unwrap_or("").to_string()).unwrap_or_default()) } } }
                    td { (f["period"].as_str().unwrap_or("")) }
                    td.num { (f["amount_at_risk"].as_f64().map(money).unwrap_or_default()) }
                    @if can_result {
                        td colspan="3" {
                            form.inline method="post" action=(format!("/orders/{id}/items/{}", url_encode(fid))) {
                                input type="hidden" name="csrf" value=(cur.csrf);
                                select name="result" {
                                    option value="confirmed" selected[it["result"] == "confirmed"] { (l.t("属实", "confirmed")) }
                                    option value="false_positive" selected[it["result"] == "false_positive"] { (l.t("不属实", "false positive")) }
                                }
                                input name="cause" placeholder=(l.t("原因", "cause")) value=(it["cause"].as_str().unwrap_or("")) size="16";
                                input name="recovered" type="number" step="0.01" min="0" placeholder=(l.t("追补金额", "recovered")) value=(it["recovered"].as_f64().map(|r| r.to_string()).unwrap_or_default()) size="8";
                                button type="submit" { (l.t("保存", "Save")) }
                            }
                        }
                    } @else {
                        td { (match it["result"].as_str() { Some("confirmed") => l.t("属实", "confirmed"), Some("false_positive") => l.t("不属实", "false positive"), _ => "—" }) }
                        td { (it["cause"].as_str().unwrap_or("")) }
                        td.num { (it["recovered"].as_f64().map(money).unwrap_or_default()) }
                    }
                }
            }
        } }
        div.grid2 {
            section {
                h2 { (l.t("佐证材料", "Evidence files")) }
                ul { @for f in v["files"].as_array().into_iter().flatten() {
                    li { a href=(format!("/files/{}", f["file_id"])) { (f["name"].as_str().unwrap_or("")) } " "
                         span.small { (f["size"]) " B · " (f["uploaded_by"].as_str().unwrap_or("")) " · " (f["at"].as_str().unwrap_or("")) } }
                } }
                @if can_upload {
                    form method="post" action=(format!("/orders/{id}/files")) enctype="multipart/form-data" {
                        input type="hidden" name="csrf" value=(cur.csrf);
                        input type="file" name="file" required accept=".pdf,.png,.jpg,.jpeg,.docx,.xlsx,.txt";
                        button type="submit" { (l.t("上传", "Upload")) }
                        p.small { (l.t("可上传 pdf、png、jpg、docx、xlsx、txt，不超过 20 MiB", "pdf, png, jpg, docx, xlsx or txt, up to 20 MiB")) }
                    }
                }
                h2 { (l.t("意见", "Comments")) }
                @if cur.actor.role != Role::Manager {
                    form method="post" action=(format!("/orders/{id}/comments")) {
                        input type="hidden" name="csrf" value=(cur.csrf);
                        textarea name="text" rows="2" cols="40" required {}
                        button type="submit" { (l.t("添加意见", "Add comment")) }
                    }
                }
                @if let Some(sc) = v["spot_check"].as_object() {
                    h2 { (l.t("抽查", "Spot check")) }
                    p { (sc.get("month").and_then(Value::as_str).unwrap_or("")) " · "
                        (match sc.get("result").and_then(Value::as_str) { Some("pass") => l.t("通过", "pass"), Some("fail") => l.t("不通过", "fail"), _ => l.t("待检查", "to check") }) " "
                        (sc.get("note").and_then(Value::as_str).unwrap_or("")) }
                    @if cur.actor.role.is_audit_centre() {
                        form.inline method="post" action=(format!("/orders/{id}/spot-check")) {
                            input type="hidden" name="csrf" value=(cur.csrf);
                            select name="result" { option value="pass" { (l.t("通过", "pass")) } option value="fail" { (l.t("不通过", "fail")) } }
                            input name="note" placeholder=(l.t("暗访情况", "what was seen")) size="24";
                            button type="submit" { (l.t("登记抽查结果", "Record")) }
                        }
                    }
                }
            }
            section {
                h2 { (l.t("流转记录", "History")) }
                ol.events { @for e in v["events"].as_array().into_iter().flatten() {
                    li {
                        span.small { (e["at"].as_str().unwrap_or("")) " · " (e["actor"].as_str().unwrap_or("")) } " "
                        @match (e["from_state"].as_str().and_then(OrderState::parse), e["to_state"].as_str().and_then(OrderState::parse)) {
                            (Some(a), Some(b)) => { (state_name(l, a)) " → " (state_name(l, b)) }
                            (None, Some(b)) => { (l.t("创建", "created")) " → " (state_name(l, b)) }
                            _ => { (event_name(l, e["kind"].as_str().unwrap_or(""))) }
                        }
                        @if !e["text"].as_str().unwrap_or("").is_empty() { "：" (e["text"].as_str().unwrap_or("")) }
                    }
                } }
                h2 { (l.t("审计日志", "Audit trail")) }
                ol.events { @for t in v["trail"].as_array().into_iter().flatten() {
                    li { span.small { "#" (t["seq"]) " " (t["at"].as_str().unwrap_or("")) " · " (t["actor"].as_str().unwrap_or("")) } " " code { (t["action"].as_str().unwrap_or("")) }
                         " " span.small { (t["before"].as_str().unwrap_or("")) " → " (t["after"].as_str().unwrap_or("")) } }
                } }
            }
        }
    };
    layout(cur, &title, "orders", notice, body)
}

fn event_name(l: Lang, kind: &str) -> &'static str {
    match kind {
        "comment" => l.t("意见", "comment"),
        "file" => l.t("上传材料", "file"),
        "result" => l.t("核查结论", "result"),
        "joined" => l.t("新问题并入", "finding joined"),
        "escalated" => l.t("超期升级", "escalated"),
        "spot_check" => l.t("抽查", "spot check"),
        _ => l.t("记录", "event"),
    }
}

async fn post_orders(State(app): State<Shared>, Extension(cur): Extension<Current>, body: Bytes) -> Response {
    let pairs = form_pairs(&body);
    let req = api::NewOrders {
        finding_ids: pairs.iter().filter(|(k, _)| k == "finding_id").map(|(_, v)| v.clone()).collect(),
        deadline: field(&pairs, "deadline").to_string(),
        note: field(&pairs, "note").to_string(),
    };
    let l = cur.lang;
    let single = req.finding_ids.len() == 1;
    let first = req.finding_ids.first().cloned().unwrap_or_default();
    let r = blocking(move || api::create_orders(&app, &cur, &req)).await;
    match r {
        Ok(c) if single && c.orders.len() + c.joined.len() == 1 => {
            let id = c.orders.first().map(|o| o.0).or(c.joined.first().map(|j| j.1)).unwrap_or(0);
            back(&format!("/orders/{id}"), Ok(l.t("已派发稽查工单", "Audit order dispatched").to_string()))
        }
        Ok(c) => back(
            "/orders",
            Ok(format!(
                "{} {} · {} {}",
                l.t("新派发工单", "orders dispatched:"),
                c.orders.len(),
                l.t("并入在办工单", "joined open orders:"),
                c.joined.len()
            )),
        ),
        Err(e) if single => back(&format!("/findings/{first}"), Err(e)),
        Err(e) => back("/findings", Err(e)),
    }
}

async fn post_transition(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let req =
        api::TransitionReq { action: field(&pairs, "action").into(), reason: field(&pairs, "reason").into() };
    let l = cur.lang;
    let r = blocking(move || api::do_transition(&app, &cur, id, &req)).await;
    back(
        &format!("/orders/{id}"),
        r.map(|s| format!("{}{}", l.t("工单已转为：", "The order is now "), state_name(l, s))),
    )
}

async fn post_result(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path((id, fid)): Path<(i64, String)>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let l = cur.lang;
    let recovered = field(&pairs, "recovered").trim().to_string();
    let r = match if recovered.is_empty() { Ok(None) } else { recovered.parse::<f64>().map(Some) } {
        Err(_) => Err(AppError::bad(format!(
            "追补金额不是数字：{recovered} / recovered is not a number: {recovered}"
        ))),
        Ok(recovered) => {
            let input = orders::ResultInput {
                result: field(&pairs, "result").into(),
                cause: field(&pairs, "cause").into(),
                recovered,
            };
            blocking(move || app.with_flow(|c| Ok(orders::set_result(c, &cur.actor, id, &fid, &input)?)))
                .await
        }
    };
    back(&format!("/orders/{id}"), r.map(|_| l.t("已保存核查结论", "Result saved").to_string()))
}

async fn post_comment(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let text = field(&pairs, "text").to_string();
    let l = cur.lang;
    let r = blocking(move || app.with_flow(|c| Ok(orders::comment(c, &cur.actor, id, &text)?))).await;
    back(&format!("/orders/{id}"), r.map(|_| l.t("已添加意见", "Comment added").to_string()))
}

async fn post_file(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<i64>,
    form: Multipart,
) -> Response {
    let l = cur.lang;
    let r = match api::first_file(form).await {
        Ok((name, bytes)) => {
            blocking(move || {
                app.with_flow(|c| Ok(orders::attach(c, app.flow(), &cur.actor, id, &name, &bytes)?))
            })
            .await
        }
        Err(e) => Err(e),
    };
    back(&format!("/orders/{id}"), r.map(|_| l.t("已上传", "Uploaded").to_string()))
}

async fn post_spot(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let (result, note) = (field(&pairs, "result").to_string(), field(&pairs, "note").to_string());
    let l = cur.lang;
    let r = blocking(move || {
        app.with_flow(|c| Ok(orders::record_spot_check(c, &cur.actor, id, &result, &note)?))
    })
    .await;
    back(&format!("/orders/{id}"), r.map(|_| l.t("已登记抽查结果", "Spot check recorded").to_string()))
}

async fn post_draw(State(app): State<Shared>, Extension(cur): Extension<Current>, body: Bytes) -> Response {
    let pairs = form_pairs(&body);
    let month = field(&pairs, "month").to_string();
    let share: f64 = field(&pairs, "share").parse().unwrap_or(0.1);
    let l = cur.lang;
    let seed = chrono::Local::now().timestamp() as u64;
    let r = blocking(move || {
        app.with_flow(|c| Ok(orders::draw_spot_checks(c, &cur.actor, &month, share, seed)?))
    })
    .await;
    back("/orders", r.map(|d| format!("{} {}", l.t("抽中工单数：", "orders drawn:"), d.len())))
}

async fn post_escalate(State(app): State<Shared>, Extension(cur): Extension<Current>) -> Response {
    let l = cur.lang;
    let r = if cur.actor.role.is_audit_centre() {
        blocking(move || app.with_flow(|c| Ok(orders::escalate_overdue(c)?))).await
    } else {
        Err(AppError::new(StatusCode::FORBIDDEN, "仅稽查中心 / audit centre only"))
    };
    back("/orders", r.map(|e| format!("{} {}", l.t("升级超期工单：", "overdue orders escalated:"), e.len())))
}

async fn onsite_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<BTreeMap<String, String>>,
    Query(notice): Query<Notice>,
) -> Response {
    let month = q
        .get("month")
        .cloned()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| chrono::Local::now().format("%Y-%m").to_string());
    render(cur, move |c| {
        let v = ops::onsite(&app, c, &month)?;
        let l = c.lang;
        let problems: &[Value] = v["problems"].as_array().map(Vec::as_slice).unwrap_or_default();
        let stations: &[Value] = v["stations"].as_array().map(Vec::as_slice).unwrap_or_default();
        let count = |station: &str, spec: &str| {
            problems.iter().filter(|p| p["station_id"] == station && p["specialty"] == spec).count()
        };
        let body = html! {
            form.filters method="get" action="/onsite" {
                label { (l.t("月份", "Month")) input name="month" value=(month) size="8"; }
                button type="submit" { (l.t("查看", "Show")) }
            }
            p { (l.t("本月责任人：", "Lead this month: "))
                strong { (v["lead"]["display_name"].as_str().unwrap_or(l.t("（未设置月度责任人角色的用户）", "(no user has the monthly lead role)"))) } }
            h2 { (l.t("月度计划：九个专业 × 供电所（格中为已登记问题数）", "The month's plan: nine specialties x stations (problems recorded)")) }
            div.scroll { table {
                tr { th { (l.t("专业", "Specialty")) } @for s in stations { th { (s["name"].as_str().unwrap_or("")) } } }
                @for sp in v["specialties"].as_array().into_iter().flatten() {
                    @let code = sp["code"].as_str().unwrap_or("");
                    tr { td { (specialty_name(l, code)) } @for s in stations {
                        @let n = count(s["station_id"].as_str().unwrap_or(""), code);
                        td.num { @if n > 0 { (n) } @else { span.muted { "·" } } }
                    } }
                }
            } }
            @if c.actor.role.is_audit_centre() {
                h2 { (l.t("登记现场发现问题", "Record a problem found on site")) }
                form.grid-form method="post" action="/onsite" {
                    input type="hidden" name="csrf" value=(c.csrf);
                    input type="hidden" name="month" value=(month);
                    label { (l.t("供电所", "Station")) select name="station_id" required {
                        @for s in stations { option value=(s["station_id"].as_str().unwrap_or("")) { (s["name"].as_str().unwrap_or("")) } } } }
                    label { (l.t("专业", "Specialty")) select name="specialty" {
                        @for sp in v["specialties"].as_array().into_iter().flatten() { option value=(sp["code"].as_str().unwrap_or("")) { (specialty_name(l, sp["code"].as_str().unwrap_or(""))) } } } }
                    label { (l.t("涉及用户（可空）", "Customer (optional)")) input name="customer_id"; }
                    label { (l.t("发现问题", "Problem")) input name="description" required size="40"; }
                    label { (l.t("整改措施", "Measure")) input name="measure" required size="40"; }
                    label { (l.t("责任人", "Person responsible")) input name="responsible" required; }
                    label { (l.t("整改期限", "Deadline")) input type="date" name="deadline"; }
                    button type="submit" { (l.t("登记并派入本所现场稽查工单", "Record into the station's on-site order")) }
                }
            }
            h2 { (l.t("问题清单", "Problems")) }
            div.scroll { table {
                tr { th { (l.t("供电所", "Station")) } th { (l.t("专业", "Specialty")) } th { (l.t("发现问题", "Problem")) } th { (l.t("整改措施", "Measure")) }
                     th { (l.t("责任人", "Responsible")) } th { (l.t("整改期限", "Deadline")) } th { (l.t("状态", "State")) } }
                @for p in problems {
                    tr {
                        td { (p["station_id"].as_str().unwrap_or("")) } td { (specialty_name(l, p["specialty"].as_str().unwrap_or(""))) }
                        td { (p["description"].as_str().unwrap_or("")) } td { (p["measure"].as_str().unwrap_or("")) }
                        td { (p["responsible"].as_str().unwrap_or("")) } td { (p["deadline"].as_str().unwrap_or("")) }
                        td { a href=(format!("/orders/{}", p["order_id"])) { (state_name(l, OrderState::parse(p["state"].as_str().unwrap_or("")).unwrap_or(OrderState::Dispatched))) } }
                    }
                }
            } }
        };
        Ok(layout(c, l.t("现场稽查", "On-site audit"), "onsite", &notice, body))
    })
    .await
}

async fn post_onsite(State(app): State<Shared>, Extension(cur): Extension<Current>, body: Bytes) -> Response {
    let pairs = form_pairs(&body);
    let customer = field(&pairs, "customer_id").trim().to_string();
    let p = onsite::Problem {
        problem_id: 0,
        month: field(&pairs, "month").into(),
        station_id: field(&pairs, "station_id").into(),
        specialty: field(&pairs, "specialty").into(),
        entity_type: if customer.is_empty() { "station".into() } else { "customer".into() },
        entity_id: customer,
        description: field(&pairs, "description").into(),
        measure: field(&pairs, "measure").into(),
        responsible: field(&pairs, "responsible").into(),
        deadline: field(&pairs, "deadline").into(),
        order_id: 0,
        recorded_by: String::new(),
    };
    let to = format!("/onsite?month={}", url_encode(&p.month));
    let l = cur.lang;
    let r =
        blocking(move || app.with_flow(|c| Ok(onsite::record(c, &cur.actor, &ops::specialty_codes(), p)?)))
            .await;
    back(&to, r.map(|p| format!("{}{}", l.t("已登记，工单 #", "Recorded into order #"), p.order_id)))
}

async fn users_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(notice): Query<Notice>,
) -> Response {
    render(cur, move |c| {
        if c.actor.role != Role::Admin {
            return Err(AppError::new(StatusCode::FORBIDDEN, "仅系统管理员 / administrators only"));
        }
        let list = app.with_flow(|conn| Ok(users::list(conn)?))?;
        let stations = app.with_data(|c| crate::data::station_names(c)).unwrap_or_default();
        let l = c.lang;
        let body = html! {
            table {
                tr { th { (l.t("用户名", "User")) } th { (l.t("姓名", "Name")) } th { (l.t("角色与供电所", "Role and station")) } th { (l.t("锁定至", "Locked until")) } th { (l.t("重置密码", "Reset password")) } }
                @for u in &list {
                    tr {
                        td { (u.username) } td { (u.display_name) }
                        td { form.inline method="post" action=(format!("/admin/users/{}/assign", url_encode(&u.username))) {
                            input type="hidden" name="csrf" value=(c.csrf);
                            select name="role" { @for r in Role::ALL { option value=(r.code()) selected[r == u.role] { (l.t(r.name_zh(), r.name_en())) } } }
                            select name="station_id" {
                                option value="" { "—" }
                                @for (id, name) in &stations { option value=(id) selected[u.station_id.as_deref() == Some(id.as_str())] { (name) } }
                            }
                            button type="submit" { (l.t("保存", "Save")) }
                        } }
                        td { (u.locked_until.clone().unwrap_or_default()) }
                        td { form.inline method="post" action=(format!("/admin/users/{}/password", url_encode(&u.username))) {
                            input type="hidden" name="csrf" value=(c.csrf);
                            input type="password" name="password" minlength="8" required autocomplete="new-password";
                            button type="submit" { (l.t("重置", "Reset")) }
                        } }
                    }
                }
            }
            h2 { (l.t("新建用户", "New user")) }
            form.grid-form method="post" action="/admin/users" {
                input type="hidden" name="csrf" value=(c.csrf);
                label { (l.t("用户名", "User name")) input name="username" required; }
                label { (l.t("姓名", "Name")) input name="display_name"; }
                label { (l.t("角色", "Role")) select name="role" { @for r in Role::ALL { option value=(r.code()) { (l.t(r.name_zh(), r.name_en())) } } } }
                label { (l.t("供电所（供电所角色必填）", "Station (station roles)")) select name="station_id" {
                    option value="" { "—" }
                    @for (id, name) in &stations { option value=(id) { (name) } } } }
                label { (l.t("初始密码（至少 8 位）", "Initial password (8+)")) input type="password" name="password" minlength="8" required autocomplete="new-password"; }
                button type="submit" { (l.t("新建", "Create")) }
            }
        };
        Ok(layout(c, l.t("用户管理", "Users"), "users", &notice, body))
    })
    .await
}

async fn post_user(State(app): State<Shared>, Extension(cur): Extension<Current>, body: Bytes) -> Response {
    let pairs = form_pairs(&body);
    let u = api::NewUser {
        username: field(&pairs, "username").into(),
        display_name: field(&pairs, "display_name").into(),
        role: field(&pairs, "role").into(),
        station_id: Some(field(&pairs, "station_id").to_string()),
        password: field(&pairs, "password").into(),
    };
    let l = cur.lang;
    let r = blocking(move || api::add_user(&app, &cur, &u)).await;
    back("/admin/users", r.map(|_| l.t("已新建用户", "User created").to_string()))
}

async fn post_password(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let password = field(&pairs, "password").to_string();
    let l = cur.lang;
    let r =
        blocking(move || app.with_flow(|c| Ok(users::set_password(c, &cur.actor, &name, &password)?))).await;
    back("/admin/users", r.map(|_| l.t("已重置密码", "Password reset").to_string()))
}

async fn post_assign(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let (role, station) = (field(&pairs, "role").to_string(), field(&pairs, "station_id").to_string());
    let l = cur.lang;
    let r = blocking(move || {
        let role = Role::parse(&role)
            .ok_or_else(|| AppError::bad(format!("未知角色 {role} / unknown role {role}")))?;
        let station = Some(station.as_str()).filter(|s| !s.is_empty());
        app.with_flow(|c| Ok(users::assign(c, &cur.actor, &name, role, station)?))
    })
    .await;
    back("/admin/users", r.map(|_| l.t("已保存角色与供电所", "Role and station saved").to_string()))
}

async fn trail_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let object = q.get("object").cloned().filter(|o| !o.is_empty());
    render(cur, move |c| {
        if !api::may_read_trail(c) {
            return Err(AppError::new(StatusCode::FORBIDDEN, "供电所人员不能查看全部审计日志 / station users cannot read the whole trail"));
        }
        let (entries, verdict) = app.with_flow(|conn| Ok((trail::entries(conn, object.as_deref())?, trail::verify(conn)?)))?;
        let l = c.lang;
        let body = html! {
            @match &verdict {
                trail::Verdict::Intact { entries } => p.ok { (l.t("哈希链完整，共 ", "The hash chain holds: ")) (entries) (l.t(" 条。", " entries.")) },
                trail::Verdict::Broken { seq, reason } => p.err { (l.t("哈希链在第 ", "The hash chain breaks at entry ")) (seq) (l.t(" 条断开：", ": ")) (reason) },
            }
            form.filters method="get" action="/trail" {
                label { (l.t("对象", "Object")) input name="object" value=(object.clone().unwrap_or_default()) placeholder="order:1"; }
                button type="submit" { (l.t("筛选", "Filter")) }
            }
            div.scroll { table {
                tr { th { "#" } th { (l.t("时间", "When")) } th { (l.t("操作人", "Who")) } th { (l.t("操作", "Action")) } th { (l.t("对象", "Object")) } th { (l.t("之前", "Before")) } th { (l.t("之后", "After")) } }
                @for e in entries.iter().rev().take(1000) {
                    tr { td { (e.seq) } td { (e.at) } td { (e.actor) } td { code { (e.action) } } td { (e.object) }
                         td.small { (e.before.clone().unwrap_or_default()) } td.small { (e.after.clone().unwrap_or_default()) } }
                }
            } }
        };
        Ok(layout(c, l.t("审计日志", "Audit trail"), "trail", &Notice::default(), body))
    })
    .await
}

/// The page routes (behind login).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(dashboard))
        .route("/findings", get(findings_page))
        .route("/findings/export.xlsx", get(api::findings_xlsx))
        .route("/findings/{id}", get(finding_page))
        .route("/customers/{id}", get(customer_page))
        .route("/areas/{id}", get(area_page))
        .route("/stations/{id}", get(station_page))
        .route("/orders", get(orders_page).post(post_orders))
        .route("/orders/escalate", post(post_escalate))
        .route("/orders/{id}", get(order_page))
        .route("/orders/{id}/transition", post(post_transition))
        .route("/orders/{id}/items/{finding_id}", post(post_result))
        .route("/orders/{id}/comments", post(post_comment))
        .route("/orders/{id}/files", post(post_file))
        .route("/orders/{id}/spot-check", post(post_spot))
        .route("/spot-checks", post(post_draw))
        .route("/files/{id}", get(api::download))
        .route("/onsite", get(onsite_page).post(post_onsite))
        .route("/admin/users", get(users_page).post(post_user))
        .route("/admin/users/{name}/password", post(post_password))
        .route("/admin/users/{name}/assign", post(post_assign))
        .route("/trail", get(trail_page))
        .route("/indicators", get(crate::indicators::indicators_page))
        .route("/indicators/{code}", get(crate::indicators::indicator_page))
        .route("/warnings", get(crate::warnings::warnings_page).post(crate::warnings::post_target))
        .route("/warnings/remove", post(crate::warnings::post_remove))
        .route("/admin/notifications", get(crate::notices::notifications_page))
        .route("/admin/notifications/retry", post(crate::notices::post_retry))
        .route("/reports/monthly", get(crate::notices::monthly_download))
        .route("/census", get(crate::census::census_page).post(crate::census::post_census))
        .route("/census/{id}/forms/{station}", get(crate::census::form_download))
        .route("/census/{id}/results", post(crate::census::post_results))
        .route("/assessment", get(crate::assess::assessment_page))
        .route("/assessment/publish", post(crate::assess::post_publish))
        .route("/admin/scheme", get(crate::assess::scheme_page).post(crate::assess::post_scheme))
}
