//! Early warning in the web app and the scheduler: the weekly check of every target line, the
//! warnings queued for the subscribed people, the burn-down pages and the administrators' form.

use std::path::Path;

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::response::Response;
use chrono::NaiveDate;
use jicha_engine::indicators::{INDICATORS, Options, Span, indicator};
use jicha_engine::warning::{Line, Status, evaluate, is_sum};
use jicha_flow::targets::{self, Check, Target};
use jicha_flow::{Actor, Flow};
use jicha_notify::NewMessage;
use jicha_store::DataDir;
use maud::html;
use serde_json::json;

use crate::auth::Current;
use crate::i18n::Lang;
use crate::pages::{Notice, back, chart, field, form_pairs, layout, render};
use crate::schedule::BriefingConfig;
use crate::{AppError, Shared, blocking};

/// The span of a target's period.
fn span_of(t: &Target) -> Option<Span> {
    Span::parse(&t.period).filter(|s| !matches!(s, Span::Day(_)))
}

/// Checks every target whose period has begun and ended at most a week before `today`; records
/// a check for each week counted; returns the warnings to send (a status that is new since the
/// previous week's: warning or breached), addressed by `[warnings]` of `jicha.toml` and, for a
/// station's line, to the station's heads.
pub fn check_all(
    root: &Path,
    today: NaiveDate,
    to: Option<&BriefingConfig>,
    heads: &[(String, String)],
) -> anyhow::Result<(usize, Vec<NewMessage>)> {
    let flow = Flow::new(root);
    if !flow.database().exists() {
        return Ok((0, Vec::new()));
    }
    let system = Actor::system();
    let list = targets::list(&flow.connect()?, &system)?;
    let live: Vec<(Target, Span)> = list
        .into_iter()
        .filter_map(|t| span_of(&t).map(|s| (t, s)))
        .filter(|(_, s)| s.first() < today && s.last() + chrono::Days::new(7) >= today)
        .collect();
    if live.is_empty() {
        return Ok((0, Vec::new()));
    }
    let dir = DataDir::new(root);
    let mut session = jicha_engine::Session::open(&dir)?;
    let cat = jicha_engine::audit::Catalogue::load(root)
        .unwrap_or_else(|_| jicha_engine::audit::Catalogue::builtin());
    let options = Options::from_catalogue(&cat);
    let orders = crate::indicators::order_source(&flow, &system);
    let mut messages = Vec::new();
    let conn = flow.connect()?;
    let now = jicha_flow::now_text();
    for (t, span) in &live {
        let station = (!t.station_id.is_empty()).then_some(t.station_id.as_str());
        let line = Line { code: &t.indicator, station, span: *span, line: t.line };
        let e = evaluate(&mut session, &line, today, &options, &orders)?;
        let total = (span.last() - span.first()).num_days() as f64 + 1.0;
        let sum = indicator(&t.indicator).is_some_and(is_sum);
        let was = targets::last_status(&conn, t.target_id)?.unwrap_or_default();
        for (i, p) in e.points.iter().enumerate() {
            let last = i + 1 == e.points.len();
            let days = (p.day - span.first()).num_days() as f64 + 1.0;
            targets::record_check(
                &conn,
                &Check {
                    target_id: t.target_id,
                    week_end: p.day.to_string(),
                    actual: p.value,
                    projection: if last { e.projection } else { None },
                    line_now: Some(if sum { t.line * days / total } else { t.line }),
                    status: if last { e.status.code().to_string() } else { "history".to_string() },
                    checked_at: now.clone(),
                },
            )?;
        }
        if matches!(e.status, Status::Warning | Status::Breached) && was != e.status.code() {
            let text = warning_text(t, &e);
            // The week in the key: a warning that comes back after an ok week is sent again; a
            // rerun of the same Monday is not. The line's time tells a re-created line apart.
            let week = e.points.last().map(|p| p.day.to_string()).unwrap_or_default();
            let key = |ch: &str, r: &str| {
                format!(
                    "warning:{}:{}:{}:{week}:{}:{ch}:{r}",
                    t.target_id,
                    t.period,
                    e.status.code(),
                    t.created_at
                )
            };
            if let Some(to) = to {
                if let Some(sms) = &to.sms_channel {
                    let phones = to.phones.iter().cloned().chain(
                        heads
                            .iter()
                            .filter(|(s, _)| !t.station_id.is_empty() && *s == t.station_id)
                            .map(|h| h.1.clone()),
                    );
                    for phone in phones {
                        messages.push(NewMessage::new(
                            sms,
                            &phone,
                            "",
                            text.clone(),
                            "warning",
                            key(sms, &phone),
                        ));
                    }
                }
                for chat in &to.chat {
                    messages.push(NewMessage::new(
                        chat,
                        "",
                        "指标预警",
                        text.clone(),
                        "warning",
                        key(chat, ""),
                    ));
                }
                if let Some(mail) = &to.mail_channel {
                    for e in &to.emails {
                        messages.push(NewMessage::new(
                            mail,
                            e,
                            "指标预警",
                            text.clone(),
                            "warning",
                            key(mail, e),
                        ));
                    }
                }
            }
        }
    }
    let _ = std::thread::spawn(move || drop(session)).join();
    Ok((live.len(), messages))
}

fn warning_text(t: &Target, e: &jicha_engine::warning::Evaluation) -> String {
    let ind = indicator(&t.indicator);
    let name = ind.map_or(t.indicator.as_str(), |i| i.zh);
    let f = |v: Option<f64>| match (ind, v) {
        (Some(i), Some(v)) => i.format(v),
        _ => "—".to_string(),
    };
    let who = if t.station_id.is_empty() { "全公司".to_string() } else { t.station_id.clone() };
    format!(
        "【指标{}】{who} {} {}：目前 {}，按趋势期末 {}，目标线 {}。",
        e.status.name_zh(),
        t.period,
        name,
        f(e.actual),
        f(e.projection),
        f(Some(t.line)),
    )
}

/// `/warnings`: every target with its latest check and burn-down chart; administrators set lines.
pub async fn warnings_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    q: axum::extract::Query<Notice>,
) -> Response {
    let notice = q.0;
    render(cur, move |c| {
        let l = c.lang;
        let (list, checks) = app.with_flow(|conn| {
            let list = targets::list(conn, &c.actor)?;
            let checks: Vec<Vec<Check>> =
                list.iter().map(|t| targets::checks(conn, t.target_id)).collect::<Result<_, _>>()?;
            Ok((list, checks))
        })?;
        let stations: Vec<(String, String)> = app.with_data(|conn| {
            let mut stmt = conn.prepare("SELECT station_id, name FROM stations ORDER BY station_id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        let name_of = |id: &str| {
            if id.is_empty() {
                l.t("全公司", "Company").to_string()
            } else {
                stations.iter().find(|s| s.0 == id).map_or(id.to_string(), |s| s.1.clone())
            }
        };
        let body = html! {
            p.small { (l.t("每周一按目标线检查各指标：累计类指标（如停电时户数）按已过天数折算预算、按当前速度推算期末；比率类指标（如电费回收率）按每周数值的趋势推算期末。推算越线即预警，通知订阅人。",
                "Each Monday every line is checked: a sum against its budget prorated by days and projected at its rate so far; a ratio projected along its weekly trend. A projection over the line raises a warning to the subscribers.")) }
            @if list.is_empty() { p { (l.t("还没有目标线。", "No target lines yet.")) } }
            @for (i, (t, cs)) in list.iter().zip(&checks).enumerate() {
                @let ind = indicator(&t.indicator);
                @let latest = cs.iter().rev().find(|c| c.status != "history");
                @let fmtv = |v: Option<f64>| match (ind, v) { (Some(i), Some(v)) => i.format(v), _ => "—".to_string() };
                section.card {
                    h2 { (name_of(&t.station_id)) " · " (ind.map_or(t.indicator.as_str(), |i| l.t(i.zh, i.en))) " · " (t.period) }
                    p {
                        (l.t("目标线", "Line")) " " strong { (fmtv(Some(t.line))) }
                        @if let Some(c) = latest {
                            " · " (l.t("截至", "As of")) " " (c.week_end) " " (l.t("目前", "now")) " " strong { (fmtv(c.actual)) }
                            " · " (l.t("推算期末", "projected")) " " strong { (fmtv(c.projection)) }
                            " · " span class=(format!("status-{}", c.status)) { (status_name(l, &c.status)) }
                        } @else { " · " (l.t("尚未检查", "not checked yet")) }
                        @if !t.note.is_empty() { " · " (t.note) }
                    }
                    @if cs.len() > 1 {
                        (chart(&format!("burn{i}"), &burn_option(l, cs, ind.is_some_and(|i| i.percent())), 260))
                    }
                    @if c.actor.role == jicha_flow::Role::Admin {
                        form.inline method="post" action="/warnings/remove" {
                            input type="hidden" name="csrf" value=(c.csrf);
                            input type="hidden" name="target_id" value=(t.target_id);
                            button.link type="submit" { (l.t("删除", "Remove")) }
                        }
                    }
                }
            }
            @if c.actor.role == jicha_flow::Role::Admin {
                h2 { (l.t("设置目标线", "Set a line")) }
                form.grid-form method="post" action="/warnings" {
                    input type="hidden" name="csrf" value=(c.csrf);
                    label { (l.t("指标", "Indicator")) select name="indicator" { @for i in INDICATORS { option value=(i.code) { (l.t(i.zh, i.en)) " (" (i.unit) ")" } } } }
                    label { (l.t("范围", "Scope")) select name="station_id" { option value="" { (l.t("全公司", "Company")) } @for (id, n) in &stations { option value=(id) { (n) } } } }
                    label { (l.t("期间（YYYY、YYYY-Qn、YYYY-MM）", "Period (YYYY, YYYY-Qn, YYYY-MM)")) input name="period" required; }
                    label { (l.t("目标线（百分比指标填百分数，如 100）", "Line (percentages as e.g. 100)")) input name="line" required; }
                    label { (l.t("说明", "Note")) input name="note"; }
                    button type="submit" { (l.t("保存", "Save")) }
                }
            }
        };
        Ok(layout(c, l.t("指标预警", "Early warning"), "warnings", &notice, body))
    })
    .await
}

fn status_name(l: Lang, s: &str) -> &'static str {
    match s {
        "ok" => l.t("正常", "on course"),
        "warning" => l.t("预警：推算越线", "warning: projected over the line"),
        "breached" => l.t("已越线", "crossed"),
        _ => l.t("无数据", "no data"),
    }
}

fn burn_option(l: Lang, cs: &[Check], percent: bool) -> serde_json::Value {
    let k = if percent { 100.0 } else { 1.0 };
    let r = |v: Option<f64>| v.map(|v| (v * k * 100.0).round() / 100.0);
    let days: Vec<&str> = cs.iter().map(|c| c.week_end.as_str()).collect();
    json!({
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [l.t("实际", "Actual"), l.t("目标线", "Line"), l.t("推算期末", "Projected end")]},
        "grid": {"left": 70, "right": 20, "top": 36, "bottom": 30},
        "xAxis": {"type": "category", "data": days},
        "yAxis": {"type": "value"},
        "series": [
            {"type": "line", "name": l.t("实际", "Actual"), "data": cs.iter().map(|c| r(c.actual)).collect::<Vec<_>>()},
            {"type": "line", "name": l.t("目标线", "Line"), "lineStyle": {"type": "dashed"}, "data": cs.iter().map(|c| r(c.line_now)).collect::<Vec<_>>()},
            {"type": "scatter", "name": l.t("推算期末", "Projected end"), "data": cs.iter().map(|c| r(c.projection)).collect::<Vec<_>>()}
        ]
    })
}

/// Sets a line (administrators).
pub async fn post_target(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let (code, station, period, line, note) = (
        field(&pairs, "indicator").to_string(),
        field(&pairs, "station_id").to_string(),
        field(&pairs, "period").trim().to_string(),
        field(&pairs, "line").trim().to_string(),
        field(&pairs, "note").to_string(),
    );
    let l = cur.lang;
    let r = blocking(move || {
        let ind = indicator(&code).ok_or_else(|| {
            AppError::new(axum::http::StatusCode::BAD_REQUEST, "没有这个指标 / no such indicator")
        })?;
        let v: f64 = line.parse().map_err(|_| {
            AppError::new(
                axum::http::StatusCode::BAD_REQUEST,
                format!("目标线应为数字：{line} / the line must be a number"),
            )
        })?;
        let v = if ind.percent() { v / 100.0 } else { v };
        app.with_flow(|conn| Ok(targets::set(conn, &cur.actor, &code, &station, &period, v, &note)?))?;
        Ok(l.t("已保存目标线", "Line saved").to_string())
    })
    .await;
    back("/warnings", r)
}

/// Removes a line (administrators).
pub async fn post_remove(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let id: i64 = field(&pairs, "target_id").parse().unwrap_or(0);
    let l = cur.lang;
    let r = blocking(move || {
        app.with_flow(|conn| Ok(targets::remove(conn, &cur.actor, id)?))?;
        Ok(l.t("已删除目标线", "Line removed").to_string())
    })
    .await;
    back("/warnings", r)
}
