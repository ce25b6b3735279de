//! Indicators in the web app and for the command line: the closed loop's figures fed to the
//! engine's indicator computation, within the acting user's scope.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use jicha_engine::indicators::OrderTally;
use jicha_flow::{Actor, Flow};

/// The audit orders' figures per station over a span, read from `flow.sqlite` (nothing when the
/// closed loop has not begun), limited to the actor's station.
pub fn order_source<'a>(
    flow: &'a Flow,
    actor: &'a Actor,
) -> impl Fn(NaiveDate, NaiveDate) -> BTreeMap<String, OrderTally> + 'a {
    move |first, last| {
        if !flow.database().exists() {
            return BTreeMap::new();
        }
        let read = || -> Result<_, jicha_flow::FlowError> {
            let conn = flow.connect()?;
            jicha_flow::orders::station_tallies(&conn, actor, &first.to_string(), &last.to_string())
        };
        match read() {
            Ok(t) => t
                .into_iter()
                .map(|(s, t)| (s, OrderTally { due: t.due, on_time: t.on_time, recovered: t.recovered }))
                .collect(),
            Err(e) => {
                tracing::warn!("稽查工单指标读取失败 / audit order figures unreadable: {e}");
                BTreeMap::new()
            }
        }
    }
}

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use jicha_engine::indicators::{
    DayFigure, INDICATORS, Indicators, Options, Span, compute, days_by_station, indicator,
};
use jicha_store::DataDir;
use maud::{Markup, html};
use serde_json::json;

use crate::auth::Current;
use crate::i18n::Lang;
use crate::pages::{Notice, bar_option, chart, layout, render, url_encode};
use crate::{App, AppError, Shared};

/// How long computed indicators are kept.
const KEEP: Duration = Duration::from_secs(300);

/// Indicators of a span with the days behind them.
pub struct Computed {
    /// The indicators.
    pub ind: Indicators,
    /// Each station's days (and the company's under ""), for spans of at most a year.
    pub days: std::collections::BTreeMap<String, Vec<DayFigure>>,
    at: Instant,
}

/// Computed indicators by (import, span).
#[derive(Default)]
pub struct Cache {
    map: Mutex<HashMap<(i64, String), Arc<Computed>>>,
}

/// The indicators of `span` as of the latest import, computed on first use (a query-engine
/// session of its own: the relational tables they read are loaded for this and then dropped).
pub fn computed(app: &App, span: Span, as_of: Option<NaiveDate>) -> Result<Arc<Computed>, AppError> {
    let as_of = as_of.unwrap_or_else(|| jicha_engine::indicators::as_of_on(span, crate::schedule::today()));
    let import: i64 = app.with_data(|c| {
        Ok(c.query_row("SELECT COALESCE(MAX(import_id), 0) FROM imports", [], |r| r.get(0)).unwrap_or(0))
    })?;
    let key = (import, format!("{}@{as_of}", span.label()));
    if let Ok(map) = app.indicators.map.lock()
        && let Some(c) = map.get(&key)
        && c.at.elapsed() < KEEP
    {
        return Ok(c.clone());
    }
    let dir = DataDir::new(app.root());
    let mut session = jicha_engine::Session::open(&dir).map_err(crate::data::engine_err)?;
    let system = Actor::system();
    let flow = Flow::new(app.root());
    let orders = order_source(&flow, &system);
    let options = Options::from_catalogue(app.catalogue());
    let ind = compute(&mut session, span, Some(as_of), &options, &orders).map_err(crate::data::engine_err)?;
    let days = days_by_station(&session, span.first(), span.last()).map_err(crate::data::engine_err)?;
    let c = Arc::new(Computed { ind, days, at: Instant::now() });
    if let Ok(mut map) = app.indicators.map.lock() {
        map.retain(|_, v| v.at.elapsed() < KEEP);
        map.insert(key, c.clone());
    }
    // The session owns a runtime, which may not be dropped on an async thread; this runs on the
    // blocking pool.
    drop(session);
    Ok(c)
}

/// Query of the indicator pages.
#[derive(Debug, Default, serde::Deserialize)]
pub struct IndicatorQuery {
    /// `YYYY-MM-DD`, `YYYY-MM`, `YYYY-Qn` or `YYYY` (default: last month).
    #[serde(default)]
    pub period: Option<String>,
    /// One station.
    #[serde(default)]
    pub station: Option<String>,
}

fn span_of(q: &IndicatorQuery) -> Result<Span, AppError> {
    match q.period.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => {
            let today = crate::schedule::today();
            Ok(Span::Month(jicha_core::calendar::Period::of(today).prev()))
        }
        Some(p) => Span::parse(p).ok_or_else(|| {
            AppError::new(
                axum::http::StatusCode::BAD_REQUEST,
                format!("期间应为 YYYY-MM、YYYY-Qn、YYYY 或 YYYY-MM-DD：{p} / the period must be YYYY-MM, YYYY-Qn, YYYY or YYYY-MM-DD: {p}"),
            )
        }),
    }
}

fn fmt(code: &str, v: Option<f64>) -> String {
    match (indicator(code), v) {
        (Some(i), Some(v)) => i.format(v),
        _ => "—".to_string(),
    }
}

/// Which stations the user may see: a station role only its own (and not the company).
fn visible(cur: &Current, station: &str) -> bool {
    match cur.actor.station_scope() {
        Some(s) => s == station,
        None => true,
    }
}

fn period_form(l: Lang, span: Span, action: &str) -> Markup {
    let month = |s: Span| s.label();
    html! {
        form.filters method="get" action=(action) {
            label { (l.t("期间", "Period")) " " input name="period" value=(span.label()) size="10"
                title=(l.t("YYYY-MM、YYYY-Qn、YYYY 或 YYYY-MM-DD", "YYYY-MM, YYYY-Qn, YYYY or YYYY-MM-DD")); }
            button type="submit" { (l.t("查看", "Show")) }
            " "
            a href=(format!("{action}?period={}", month(span.previous()))) { (l.t("上一期", "Previous")) }
            " · "
            a href=(format!("{action}?period={}", month(span.last_year()))) { (l.t("去年同期", "Last year")) }
        }
    }
}

fn days_chart(l: Lang, days: &[DayFigure]) -> serde_json::Value {
    let labels: Vec<String> = days
        .iter()
        .map(|d| jicha_core::calendar::from_epoch_days(d.day).format("%m-%d").to_string())
        .collect();
    let supply: Vec<f64> = days.iter().map(|d| (d.supply * 100.0).round() / 100.0).collect();
    let loss: Vec<Option<f64>> =
        days.iter().map(|d| d.loss_rate().map(|r| (r * 10000.0).round() / 100.0)).collect();
    json!({
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [l.t("供电量 kWh", "Supply kWh"), l.t("线损率 %", "Loss %")]},
        "grid": {"left": 70, "right": 60, "top": 40, "bottom": 30},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": [{"type": "value", "name": "kWh"}, {"type": "value", "name": "%"}],
        "series": [
            {"type": "bar", "name": l.t("供电量 kWh", "Supply kWh"), "data": supply},
            {"type": "line", "name": l.t("线损率 %", "Loss %"), "yAxisIndex": 1, "data": loss, "connectNulls": false}
        ]
    })
}

/// `/indicators`: the company's (or the user's station's) indicators against the previous and
/// last year's period, each linking to its stations.
pub async fn indicators_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<IndicatorQuery>,
) -> Response {
    render(cur, move |c| {
        let l = c.lang;
        let span = span_of(&q)?;
        let comp = computed(&app, span, None)?;
        let scope = c.actor.station_scope().map(str::to_string).unwrap_or_default();
        let rows: Vec<_> = comp.ind.rows().into_iter().filter(|r| r.station_id == scope).collect();
        let days = comp.days.get(&scope).map(Vec::as_slice).unwrap_or_default();
        let body = html! {
            (period_form(l, span, "/indicators"))
            p.small { (l.t("截至", "As of")) " " (comp.ind.as_of) "；"
                (l.t("比率的公司值由各所分子分母合计算出；“—”表示该期没有数据或不适用。",
                     "A company ratio is computed from the stations' summed numerators and denominators; “—” means no data or not applicable.")) }
            div.scroll { table {
                tr {
                    th { (l.t("指标", "Indicator")) } th.num { (l.t("本期", "Now")) } th.num { (l.t("上期", "Previous")) }
                    th.num { (l.t("环比", "Change")) } th.num { (l.t("去年同期", "Last year")) } th.num { (l.t("同比", "Change")) }
                    th { (l.t("计算依据", "Computed from")) }
                }
                @for r in &rows {
                    @let ind = indicator(r.code).expect("known");
                    @let (v, p, y) = (r.value.map(|v| v.value), r.previous.map(|v| v.value), r.last_year.map(|v| v.value));
                    tr {
                        td { a href=(format!("/indicators/{}?period={}", r.code, span.label())) { (l.t(ind.zh, ind.en)) } " (" (ind.unit) ")" }
                        td.num { strong { (fmt(r.code, v)) } }
                        td.num { (fmt(r.code, p)) }
                        td.num { (ind.change(v, p).unwrap_or_else(|| "—".into())) }
                        td.num { (fmt(r.code, y)) }
                        td.num { (ind.change(v, y).unwrap_or_else(|| "—".into())) }
                        td.small { @if let Some(v) = r.value { @if let Some(d) = v.den {
                            (jicha_engine::indicators::thousands(v.num, 2)) " / " (jicha_engine::indicators::thousands(d, 2))
                        } } }
                    }
                }
            } }
            @if span.first() != span.last() && !days.is_empty() {
                h2 { (l.t("逐日供电量与线损率", "Supply and loss by day")) }
                (chart("days", &days_chart(l, days), 320))
            }
        };
        let title = format!("{} {}", l.t("营销指标", "Indicators"), if l == Lang::Zh { span.label_zh() } else { span.label() });
        Ok(layout(c, &title, "indicators", &Notice::default(), body))
    })
    .await
}

/// `/indicators/{code}`: one indicator per station (bar chart and table); with `station`, that
/// station's days and areas.
pub async fn indicator_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(code): Path<String>,
    Query(q): Query<IndicatorQuery>,
) -> Response {
    render(cur, move |c| {
        let l = c.lang;
        let span = span_of(&q)?;
        let Some(ind) = INDICATORS.iter().find(|i| i.code == code) else {
            return Err(AppError::new(axum::http::StatusCode::NOT_FOUND, "没有这个指标 / no such indicator"));
        };
        let comp = computed(&app, span, None)?;
        let station = q.station.clone().or_else(|| c.actor.station_scope().map(str::to_string));
        if let Some(s) = &station
            && (!visible(c, s) || !comp.ind.station_names.contains_key(s))
        {
            return Err(AppError::new(axum::http::StatusCode::NOT_FOUND, "没有这个供电所 / no such station"));
        }
        let rows: Vec<_> = comp
            .ind
            .rows()
            .into_iter()
            .filter(|r| r.code == ind.code && !r.station_id.is_empty() && visible(c, &r.station_id))
            .collect();
        let names: Vec<String> = rows.iter().map(|r| r.station.clone()).collect();
        let values: Vec<f64> = rows
            .iter()
            .map(|r| r.value.map_or(0.0, |v| if ind.percent() { (v.value * 10000.0).round() / 100.0 } else { (v.value * 100.0).round() / 100.0 }))
            .collect();
        let base = format!("/indicators/{}", ind.code);
        let body = html! {
            (period_form(l, span, &base))
            p { a href=(format!("/indicators?period={}", span.label())) { "← " (l.t("全部指标", "All indicators")) } }
            @if station.is_none() {
                (chart("stations", &bar_option(&format!("{}（{}）", l.t(ind.zh, ind.en), ind.unit), &names, &values, ind.zh), (60 + 26 * rows.len()).min(900) as u32))
            }
            div.scroll { table {
                tr { th { (l.t("供电所", "Station")) } th.num { (l.t("本期", "Now")) } th.num { (l.t("上期", "Previous")) } th.num { (l.t("去年同期", "Last year")) } th.num { (l.t("分子", "Numerator")) } th.num { (l.t("分母", "Denominator")) } }
                @for r in &rows {
                    tr class=(if station.as_deref() == Some(r.station_id.as_str()) { "on" } else { "" }) {
                        td { a href=(format!("{base}?period={}&station={}", span.label(), url_encode(&r.station_id))) { (r.station) } }
                        td.num { strong { (fmt(ind.code, r.value.map(|v| v.value))) } }
                        td.num { (fmt(ind.code, r.previous.map(|v| v.value))) }
                        td.num { (fmt(ind.code, r.last_year.map(|v| v.value))) }
                        td.num { @if let Some(v) = r.value { (jicha_engine::indicators::thousands(v.num, 2)) } }
                        td.num { @if let Some(d) = r.value.and_then(|v| v.den) { (jicha_engine::indicators::thousands(d, 2)) } }
                    }
                }
            } }
            @if let Some(s) = &station {
                @let days = comp.days.get(s).map(Vec::as_slice).unwrap_or_default();
                h2 { (comp.ind.station_names.get(s).map_or(s.as_str(), String::as_str)) " · " (l.t("逐日", "by day")) }
                @if !days.is_empty() && span.first() != span.last() { (chart("days", &days_chart(l, days), 300)) }
                @let mut areas: Vec<_> = comp.ind.current.points.iter().filter(|(_, (st, _, _))| st == s).collect();
                @if !areas.is_empty() {
                    h2 { (l.t("台区与线路线损", "Loss by area and feeder")) }
                    div.scroll { table {
                        tr { th { (l.t("计量点", "Point")) } th.num { (l.t("供电量 kWh", "Supply kWh")) } th.num { (l.t("售电量 kWh", "Consumption kWh")) } th.num { (l.t("线损率", "Loss")) } }
                        @for ((ty, id), (_, sup, con)) in { areas.sort_by(|a, b| loss_of(b.1).total_cmp(&loss_of(a.1))); areas } {
                            tr {
                                td { @if ty == "tq" { a href=(format!("/areas/{}", url_encode(id))) { (id) } } @else { (l.t("线路 ", "feeder ")) (id) } }
                                td.num { (jicha_engine::indicators::thousands(*sup, 0)) }
                                td.num { (jicha_engine::indicators::thousands(*con, 0)) }
                                td.num { (fmt("loss_rate", (*sup > 0.0).then(|| (sup - con) / sup))) }
                            }
                        }
                    } }
                }
            }
        };
        let title = format!("{} · {}", l.t(ind.zh, ind.en), if l == Lang::Zh { span.label_zh() } else { span.label() });
        Ok(layout(c, &title, "indicators", &Notice::default(), body))
    })
    .await
}

fn loss_of(p: &(String, f64, f64)) -> f64 {
    if p.1 > 0.0 { (p.1 - p.2) / p.1 } else { f64::MIN }
}
