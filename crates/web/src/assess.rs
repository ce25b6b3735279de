//! Assessment in the web app: the period's scores under its active scheme (a draft until
//! published), the published versions (never changed), publishing, and the administrators'
//! scheme editor.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::response::Response;
use jicha_engine::assessment::{Assessment, Scheme, score};
use jicha_engine::indicators::Span;
use jicha_flow::Role;
use jicha_flow::assess::{self, Published};
use maud::html;

use crate::auth::Current;
use crate::i18n::Lang;
use crate::pages::{Notice, back, field, form_pairs, layout, render, url_encode};
use crate::{App, AppError, Shared, blocking};

fn span_of(period: &str) -> Result<Span, AppError> {
    Span::parse(period).filter(|s| !matches!(s, Span::Day(_))).ok_or_else(|| {
        AppError::bad(format!(
            "期间应为 YYYY-MM、YYYY-Qn 或 YYYY：{period} / the period must be YYYY-MM, YYYY-Qn or YYYY"
        ))
    })
}

/// The period's assessment under its active scheme, with the scheme's version and the data
/// version (the latest import) it was computed on.
pub fn compute(app: &App, period: &str) -> Result<(Assessment, i64, String), AppError> {
    let span = span_of(period)?;
    let first_month = span.first().format("%Y-%m").to_string();
    let scheme = app.with_flow(|c| Ok(assess::active_scheme(c, &first_month)?))?.ok_or_else(|| {
        AppError::bad("还没有适用于该期间的考核方案，请管理员先在“考核方案”中保存 / no scheme applies to this period yet: an administrator saves one under Schemes")
    })?;
    let parsed = Scheme::parse(&scheme.body).map_err(|p| AppError::internal(&p.join("; ")))?;
    // The data cut-off: a period is scored with the data as of the cut-off day of the month after.
    let cut = cutoff(app, period)?;
    // Scored with the data as of the cut-off (or today, before it).
    let as_of = cut.min(crate::schedule::today()).max(span.first());
    let comp = crate::indicators::computed(app, span, Some(as_of))?;
    let (staff, import): (BTreeMap<String, (String, String, bool)>, i64) = app.with_data(|c| {
        // Every reader is scored (one without errors has full marks), and whoever else has an error.
        let mut stmt = c.prepare(
            "SELECT staff_id, name, COALESCE(station_id, ''), COALESCE(role, '') = 'reader' FROM staff",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))?;
        let staff = rows.collect::<Result<_, _>>()?;
        let import = c.query_row("SELECT COALESCE(MAX(import_id), 0) FROM imports", [], |r| r.get(0))?;
        Ok((staff, import))
    })?;
    Ok((score(&parsed, &comp.ind, &staff), scheme.version, format!("import {import}, cut-off {cut}")))
}

/// The cut-off date of a period under the active scheme: results may be published from then on.
pub fn cutoff(app: &App, period: &str) -> Result<chrono::NaiveDate, AppError> {
    let span = span_of(period)?;
    let first_month = span.first().format("%Y-%m").to_string();
    let day = app
        .with_flow(|c| Ok(assess::active_scheme(c, &first_month)?))?
        .and_then(|s| Scheme::parse(&s.body).ok())
        .map_or(5, |s| s.cutoff_day);
    let next = jicha_core::calendar::Period::of(span.last()).next();
    Ok(chrono::NaiveDate::from_ymd_opt(next.year(), next.month(), day).unwrap_or(next.first_day()))
}

/// Query of the assessment page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AssessQuery {
    /// The period.
    #[serde(default)]
    pub period: Option<String>,
    /// A published version.
    #[serde(default)]
    pub version: Option<i64>,
    /// Done.
    #[serde(default)]
    pub ok: Option<String>,
    /// Refused.
    #[serde(default)]
    pub err: Option<String>,
}

fn default_period() -> String {
    jicha_core::calendar::Period::of(crate::schedule::today()).prev().to_string()
}

/// `/assessment`: scores and ranks of stations and people, each explained.
pub async fn assessment_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<AssessQuery>,
) -> Response {
    render(cur, move |c| {
        let l = c.lang;
        let period = q.period.clone().filter(|p| !p.trim().is_empty()).unwrap_or_else(default_period);
        span_of(&period)?;
        let versions = app.with_flow(|conn| Ok(assess::published(conn, &period)?))?;
        let shown: Option<&Published> = match q.version {
            Some(v) => Some(versions.iter().find(|p| p.version == v).ok_or_else(|| {
                AppError::new(axum::http::StatusCode::NOT_FOUND, "没有这个版本 / no such version")
            })?),
            None => versions.first(),
        };
        let (a, heading, draft_error) = match shown {
            Some(p) => (
                Some(serde_json::from_str::<Assessment>(&p.body).map_err(|e| AppError::internal(&e.to_string()))?),
                format!(
                    "{} {} · {} {} · {} {}",
                    l.t("已发布第", "Published version"),
                    p.version,
                    l.t("方案版本", "scheme"),
                    p.scheme_version,
                    p.published_at,
                    p.data_version
                ),
                None,
            ),
            None => match compute(&app, &period) {
                Ok((a, v, data)) => (Some(a), format!("{} · {} {v} · {data}", l.t("草稿（未发布）", "Draft (not published)"), l.t("方案版本", "scheme")), None),
                Err(e) => (None, String::new(), Some(e.message)),
            },
        };
        let scope = c.actor.station_scope().map(str::to_string);
        let may_publish = matches!(c.actor.role, Role::Admin | Role::Auditor);
        let notice = Notice { ok: q.ok.clone(), err: q.err.clone() };
        let body = html! {
            form.filters method="get" action="/assessment" {
                label { (l.t("期间", "Period")) " " input name="period" value=(period) size="10"; }
                button type="submit" { (l.t("查看", "Show")) }
                @if c.actor.role == Role::Admin { " · " a href="/admin/scheme" { (l.t("考核方案", "Schemes")) } }
            }
            @if !versions.is_empty() {
                p.small { (l.t("已发布版本：", "Published versions: "))
                    @for p in &versions { a href=(format!("/assessment?period={}&version={}", url_encode(&period), p.version)) { "v" (p.version) } " " }
                    (l.t("（已发布的结果永不修改；数据更正后再次发布会生成新版本）", "(published results never change; publishing after a data correction adds a version)"))
                }
            }
            @if let Some(e) = &draft_error { p.err { (e) } }
            @if let Some(a) = &a {
                p { strong { (heading) } }
                @if may_publish {
                    form.inline method="post" action="/assessment/publish" {
                        input type="hidden" name="csrf" value=(c.csrf);
                        input type="hidden" name="period" value=(period);
                        button type="submit" { (l.t("按当前数据发布新版本", "Publish a version from the current data")) }
                    }
                }
                h2 { (l.t("供电所得分与排名", "Stations")) }
                (scores(l, a.stations.iter().filter(|s| scope.as_ref().is_none_or(|x| *x == s.id)).collect()))
                h2 { (l.t("人员扣分（抄表、核算差错）", "People (reading and billing errors)")) }
                @let people: Vec<_> = a.people.iter().filter(|s| scope.as_ref().is_none_or(|x| *x == s.station_id)).collect();
                @if people.is_empty() { p { (l.t("本期没有归属到人员的差错。", "No error attributed to a person in this period.")) } }
                @else { (scores(l, people)) }
            }
        };
        Ok(layout(c, &format!("{} {period}", l.t("考核", "Assessment")), "assessment", &notice, body))
    })
    .await
}

fn scores(l: Lang, list: Vec<&jicha_engine::assessment::Score>) -> maud::Markup {
    html! {
        div.scroll { table {
            tr { th.num { (l.t("排名", "Rank")) } th { (l.t("名称", "Name")) } th.num { (l.t("得分", "Score")) } th { (l.t("得分依据", "Why")) } }
            @for s in list {
                tr {
                    td.num { (s.rank) } td { (s.name) } td.num { strong { (format!("{:.2}", s.score)) } }
                    td { details { summary { (l.t("明细", "Details")) }
                        table {
                            @for line in &s.lines {
                                tr {
                                    td { (line.what) } td.num { (format!("{:+.2}", line.points)) } td.small { (line.how) }
                                    td.small { @for f in &line.findings { a href=(format!("/findings/{f}")) { (f) } " " } }
                                }
                            }
                        }
                    } }
                }
            }
        } }
    }
}

/// Publishes the period's next version.
pub async fn post_publish(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let period = field(&pairs, "period").to_string();
    let to = format!("/assessment?period={}", url_encode(&period));
    let l = cur.lang;
    let r = blocking(move || {
        let cut = cutoff(&app, &period)?;
        if crate::schedule::today() < cut {
            return Err(AppError::bad(format!(
                "{period} 的考核数据截止日为 {cut}，届时才能发布 / the data cut-off of {period} is {cut}: publish from then on"
            )));
        }
        let (a, scheme, data) = compute(&app, &period)?;
        let body = serde_json::to_string(&a).map_err(|e| AppError::internal(&e.to_string()))?;
        let p = app.with_flow(|c| Ok(assess::publish(c, &cur.actor, &period, scheme, &data, &body)?))?;
        Ok(format!("{} v{}", l.t("已发布", "Published"), p.version))
    })
    .await;
    back(&to, r)
}

/// `/admin/scheme`: the scheme versions and the editor (administrators).
pub async fn scheme_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<Notice>,
) -> Response {
    render(cur, move |c| {
        let l = c.lang;
        if c.actor.role != Role::Admin {
            return Err(AppError::new(axum::http::StatusCode::FORBIDDEN, "只有系统管理员 / administrators only"));
        }
        let list = app.with_flow(|conn| Ok(assess::schemes(conn)?))?;
        let current = list.first().map_or(Scheme::example().to_string(), |s| s.body.clone());
        let body = html! {
            p.small { (l.t("方案为 JSON：items 为计分指标（code、weight 权重、target 目标、rule 为 linear（floor 零分线）或 deduct（per 每单位、points 扣分）），deductions 为扣分项（theme 为稽查主题或 LATE-ORDER 逾期工单，points 每次扣分，person 为 true 时扣到差错责任人），cutoff_day 为次月截止日。保存即生成新版本，从生效月份起适用。",
                "A scheme is JSON: items (code, weight, target, rule linear with floor, or deduct with per and points), deductions (theme or LATE-ORDER, points, person), cutoff_day. Saving makes a new version applying from its month.")) }
            form.grid-form method="post" action="/admin/scheme" {
                input type="hidden" name="csrf" value=(c.csrf);
                label { (l.t("生效月份（YYYY-MM）", "Valid from (YYYY-MM)")) input name="valid_from" value=(default_period()) required; }
                label { (l.t("方案", "Scheme")) textarea name="body" rows="22" cols="90" { (current) } }
                button type="submit" { (l.t("保存为新版本", "Save as a new version")) }
            }
            h2 { (l.t("历史版本", "Versions")) }
            table {
                tr { th { (l.t("版本", "Version")) } th { (l.t("生效月份", "From")) } th { (l.t("保存人", "By")) } th { (l.t("时间", "At")) } }
                @for s in &list { tr { td { "v" (s.version) } td { (s.valid_from) } td { (s.created_by) } td { (s.created_at) } } }
            }
        };
        Ok(layout(c, l.t("考核方案", "Assessment schemes"), "assessment", &q, body))
    })
    .await
}

/// Saves a scheme version after checking it.
pub async fn post_scheme(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let (text, from) = (field(&pairs, "body").to_string(), field(&pairs, "valid_from").trim().to_string());
    let l = cur.lang;
    let r = blocking(move || {
        Scheme::parse(&text).map_err(|p| {
            AppError::bad(format!("{}：{}", l.t("方案有误", "The scheme is wrong"), p.join("；")))
        })?;
        let v = app.with_flow(|c| Ok(assess::save_scheme(c, &cur.actor, &text, &from)?))?;
        Ok(format!("{} v{}", l.t("已保存方案", "Scheme saved"), v.version))
    })
    .await;
    back("/admin/scheme", r)
}
