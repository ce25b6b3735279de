//! The JSON API (`/api/...`), described by `/api/openapi.json`. The pages call the same
//! functions ([`ops`]), so a page and the API can never disagree about who may see what.

use axum::body::Bytes;
use axum::extract::{Extension, Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jicha_flow::orders::{self, Action, Filter, FindingSnapshot, ResultInput};
use jicha_flow::{Role, onsite, trail, users};
use serde_json::{Value, json};

use crate::auth::Current;
use crate::data::{self, FindingQuery};
use crate::{AppError, Shared, blocking};

type ApiResult = Result<Json<Value>, AppError>;

/// The operations behind both the pages and the API.
pub mod ops {
    use super::*;

    /// The dashboard: findings by theme, station, specialty and month; orders by state; precision.
    pub fn dashboard(app: &Shared, cur: &Current, period: &str) -> Result<Value, AppError> {
        let scope = cur.actor.station_scope();
        let summary = app.with_data(|c| app.summary(c, scope, period)).or_else(|e| {
            if e.status == StatusCode::SERVICE_UNAVAILABLE { Ok(data::summary_empty()) } else { Err(e) }
        })?;
        let (by_state, overdue, precision) = app.with_flow(|c| {
            let (by_state, overdue) = orders::counts(c, &cur.actor)?;
            Ok((by_state, overdue, orders::precision(c, &cur.actor)?))
        })?;
        let by_state: serde_json::Map<String, Value> =
            by_state.into_iter().map(|(s, n)| (s.code().to_string(), Value::from(n))).collect();
        Ok(
            json!({"summary": summary, "orders": {"by_state": by_state, "overdue": overdue}, "precision": precision}),
        )
    }

    /// A page of findings with the order each is in.
    pub fn findings(app: &Shared, cur: &Current, q: &FindingQuery) -> Result<Value, AppError> {
        let scope = cur.actor.station_scope();
        let (period, total, rows) =
            app.with_data(|c| data::findings(c, app.catalogue(), app.counts(), scope, q))?;
        let ids: Vec<String> = rows.iter().map(|f| f.finding_id.clone()).collect();
        let status = app.with_flow(|c| Ok(orders::status_of_findings(c, &ids)?))?;
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|f| {
                let order =
                    status.get(&f.finding_id).map(|(id, s)| json!({"order_id": id, "state": s.code()}));
                let mut v = serde_json::to_value(f).unwrap_or_default();
                v["order"] = order.unwrap_or(Value::Null);
                v
            })
            .collect();
        Ok(
            json!({"period": period, "total": total, "page": q.page(), "per_page": q.per_page(), "findings": rows}),
        )
    }

    /// One finding with its chart data and its order.
    pub fn finding(app: &Shared, cur: &Current, id: &str) -> Result<Value, AppError> {
        let scope = cur.actor.station_scope();
        let row = app
            .with_data(|c| data::finding(c, scope, id))?
            .ok_or_else(|| AppError::not_found(&format!("疑似问题 {id} / finding {id}")))?;
        let view = data::FindingView::of(row.clone(), app.catalogue());
        let status = app.with_flow(|c| Ok(orders::status_of_findings(c, &[id.to_string()])?))?;
        let chart = chart_of(app, &view)?;
        let order = status.get(id).map(|(oid, s)| json!({"order_id": oid, "state": s.code()}));
        let theme = app.catalogue().get(&view.theme);
        let params =
            theme.map(|t| app.catalogue().config.settings(t).params.to_json()).unwrap_or(Value::Null);
        Ok(json!({"finding": view, "order": order, "chart": chart, "parameters": params}))
    }

    fn chart_of(app: &Shared, f: &data::FindingView) -> Result<Value, AppError> {
        match f.entity_type.as_str() {
            "customer" => {
                let Some((from, to)) = data::window(&f.period, 3) else { return Ok(Value::Null) };
                let days = data::customer_daily(&app.series()?.consumption, &f.entity_id, from, to)?;
                let baseline = f.evidence.get("baseline_mean_kwh").and_then(Value::as_f64);
                Ok(json!({"kind": "customer", "period": f.period, "days": days, "baseline_kwh": baseline}))
            }
            "transformer_area" => {
                let area = app.with_data(|c| data::area(c, None, &f.entity_id))?;
                let Some((_, customers)) = area else { return Ok(Value::Null) };
                let Some((from, to)) = data::window(&f.period, 0) else { return Ok(Value::Null) };
                let days = data::area_daily(&*app.series()?, &f.entity_id, &customers, from, to)?;
                Ok(json!({"kind": "area", "period": f.period, "days": days}))
            }
            "bill" => {
                let bill = app.with_data(|c| {
                    data::rows(c, "SELECT * FROM bills WHERE bill_id = ?1", &[&f.entity_id])
                })?;
                let bill = bill.into_iter().next().unwrap_or_default();
                let e = &f.evidence;
                let line = |zh: &str, en: &str, billed: &str, re: &str| {
                    let b = bill.get(billed).and_then(Value::as_f64);
                    let r = e.get(re).and_then(Value::as_f64);
                    let diff = match (b, r) {
                        (Some(b), Some(r)) => Some(((b - r) * 100.0).round() / 100.0),
                        _ => None,
                    };
                    json!({"item_zh": zh, "item_en": en, "billed": b, "recomputed": r, "difference": diff})
                };
                Ok(json!({"kind": "bill", "bill": bill, "lines": [
                    line("结算电量 (kWh)", "energy (kWh)", "kwh", "kwh"),
                    line("电度电费", "energy charge", "energy_charge", "energy_charge"),
                    line("基本电费", "basic charge", "basic_charge", "basic_charge"),
                    line("力调电费", "power-factor adjustment", "pf_adjustment", "pf_adjustment"),
                    line("应收电费", "amount due", "amount", "recomputed"),
                ]}))
            }
            _ => Ok(Value::Null),
        }
    }

    /// A customer: archive, meters, 13 months of daily consumption, bills, payments, findings, orders.
    pub fn customer(app: &Shared, cur: &Current, id: &str) -> Result<Value, AppError> {
        let scope = cur.actor.station_scope();
        let view = app
            .with_data(|c| data::customer(c, scope, id))?
            .ok_or_else(|| AppError::not_found(&format!("用户 {id} / customer {id}")))?;
        let findings =
            app.with_data(|c| data::findings_of_entity(c, app.catalogue(), scope, "customer", id))?;
        let latest = app.with_data(|c| data::periods(c))?.into_iter().next();
        let daily = match latest.as_deref().and_then(|p| data::window(p, 12)) {
            Some((from, to)) => data::customer_daily(&app.series()?.consumption, id, from, to)?,
            None => Vec::new(),
        };
        let order_ids = app.with_flow(|c| {
            let ids: Vec<String> = findings.iter().map(|f| f.finding_id.clone()).collect();
            Ok(orders::status_of_findings(c, &ids)?)
        })?;
        let mut orders: Vec<i64> = order_ids.values().map(|(id, _)| *id).collect();
        orders.sort_unstable();
        orders.dedup();
        Ok(json!({"customer": view, "daily": daily, "findings": findings, "order_ids": orders}))
    }

    /// A transformer area with its daily supply, consumption and loss over the latest audited month.
    pub fn area(app: &Shared, cur: &Current, id: &str, period: &str) -> Result<Value, AppError> {
        let scope = cur.actor.station_scope();
        let (area, customers) = app
            .with_data(|c| data::area(c, scope, id))?
            .ok_or_else(|| AppError::not_found(&format!("台区 {id} / area {id}")))?;
        let period = if period.is_empty() {
            app.with_data(|c| data::periods(c))?.into_iter().next().unwrap_or_default()
        } else {
            period.to_string()
        };
        let daily = match data::window(&period, 0) {
            Some((from, to)) => data::area_daily(&*app.series()?, id, &customers, from, to)?,
            None => Vec::new(),
        };
        let findings =
            app.with_data(|c| data::findings_of_entity(c, app.catalogue(), scope, "transformer_area", id))?;
        Ok(
            json!({"area": area, "customers": customers.len(), "period": period, "daily": daily, "findings": findings}),
        )
    }

    /// A station: archive, areas, customers, this period's findings and orders.
    pub fn station(app: &Shared, cur: &Current, id: &str) -> Result<Value, AppError> {
        let scope = cur.actor.station_scope();
        let (station, areas, customers) = app
            .with_data(|c| data::station(c, scope, id))?
            .ok_or_else(|| AppError::not_found(&format!("供电所 {id} / station {id}")))?;
        let mut as_station = cur.clone();
        as_station.actor.role = Role::StationHead;
        as_station.actor.station_id = Some(id.to_string());
        let dash = dashboard(app, &as_station, "")?;
        let orders = app.with_flow(|c| {
            Ok(orders::list(c, &cur.actor, &Filter { station: Some(id.to_string()), ..Filter::default() })?)
        })?;
        Ok(
            json!({"station": station, "areas": areas, "customers": customers, "dashboard": dash, "orders": orders}),
        )
    }

    /// The findings of ids the user may see, as orders keep them.
    pub fn snapshots(app: &Shared, cur: &Current, ids: &[String]) -> Result<Vec<FindingSnapshot>, AppError> {
        let scope = cur.actor.station_scope();
        app.with_data(|c| {
            ids.iter()
                .map(|id| {
                    data::finding(c, scope, id)?
                        .ok_or_else(|| AppError::not_found(&format!("疑似问题 {id} / finding {id}")))
                })
                .collect()
        })
    }

    /// An order with its trail.
    pub fn order(app: &Shared, cur: &Current, id: i64) -> Result<Value, AppError> {
        app.with_flow(|c| {
            let detail = orders::get(c, &cur.actor, id)?;
            let entries = trail::entries(c, Some(&format!("order:{id}")))?;
            let mut v = serde_json::to_value(detail).unwrap_or_default();
            v["trail"] = serde_json::to_value(entries).unwrap_or_default();
            Ok(v)
        })
    }

    /// The on-site programme of a month.
    pub fn onsite(app: &Shared, cur: &Current, month: &str) -> Result<Value, AppError> {
        let stations = app.with_data(|c| data::station_names(c)).unwrap_or_default();
        app.with_flow(|c| {
            let lead = onsite::lead_of(c, month)?;
            let problems: Vec<Value> = onsite::problems(c, &cur.actor, month)?
                .into_iter()
                .map(|(p, state)| {
                    let mut v = serde_json::to_value(p).unwrap_or_default();
                    v["state"] = Value::from(state);
                    v
                })
                .collect();
            let specialties: Vec<Value> = jicha_engine::Specialty::ALL
                .iter()
                .map(|s| json!({"code": s.code(), "name_zh": s.name_zh()}))
                .collect();
            let stations: Vec<Value> = stations
                .iter()
                .filter(|(id, _)| cur.actor.sees_station(Some(id)))
                .map(|(id, name)| json!({"station_id": id, "name": name}))
                .collect();
            Ok(json!({"month": month, "lead": lead, "specialties": specialties, "stations": stations,
                      "problems": problems}))
        })
    }

    /// The specialty codes an on-site problem may have.
    pub fn specialty_codes() -> Vec<&'static str> {
        jicha_engine::Specialty::ALL.iter().map(|s| s.code()).collect()
    }

    /// Findings as an .xlsx workbook (Chinese headers; text cells never become formulas).
    pub fn findings_xlsx(app: &Shared, cur: &Current, q: &FindingQuery) -> Result<Vec<u8>, AppError> {
        let scope = cur.actor.station_scope();
        let (_, rows) = app.with_data(|c| data::all_findings(c, app.catalogue(), scope, q))?;
        let names = app.with_data(|c| data::station_names(c))?;
        let x = |e: rust_xlsxwriter::XlsxError| AppError::internal(&e.to_string());
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("疑似问题").map_err(x)?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        let headers = [
            "稽查月份",
            "主题编码",
            "稽查主题",
            "专业",
            "对象类型",
            "对象编号",
            "供电所",
            "严重程度",
            "涉及金额(元)",
            "证据",
            "问题编号",
        ];
        for (i, h) in headers.iter().enumerate() {
            sheet.write_string_with_format(0, i as u16, *h, &bold).map_err(x)?;
        }
        for (r, f) in rows.iter().enumerate() {
            let r = r as u32 + 1;
            let station = f.station_id.as_deref().unwrap_or("");
            let station = names
                .get(station)
                .map(|n| format!("{n}（{station}）"))
                .unwrap_or_else(|| station.to_string());
            let spec = jicha_engine::Specialty::ALL
                .iter()
                .find(|s| s.code() == f.specialty)
                .map(|s| s.name_zh())
                .unwrap_or("");
            let texts = [
                f.period.as_str(),
                f.theme.as_str(),
                f.theme_name_zh.as_str(),
                spec,
                f.entity_type.as_str(),
                f.entity_id.as_str(),
                station.as_str(),
                f.severity.as_str(),
            ];
            for (c, t) in texts.iter().enumerate() {
                // write_string never makes a formula, whatever the text starts with.
                sheet.write_string(r, c as u16, *t).map_err(x)?;
            }
            if let Some(a) = f.amount_at_risk {
                sheet.write_number(r, 8, a).map_err(x)?;
            }
            sheet.write_string(r, 9, f.evidence.to_string()).map_err(x)?;
            sheet.write_string(r, 10, &f.finding_id).map_err(x)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(x)?;
        sheet.autofit();
        book.save_to_buffer().map_err(x)
    }
}

async fn me(Extension(cur): Extension<Current>) -> Json<Value> {
    Json(json!({"user": cur.actor, "csrf": cur.csrf}))
}

#[derive(serde::Deserialize, Default)]
struct PeriodQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    month: String,
}

async fn dashboard(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult {
    Ok(Json(blocking(move || ops::dashboard(&app, &cur, &q.period)).await?))
}

async fn findings(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<FindingQuery>,
) -> ApiResult {
    Ok(Json(blocking(move || ops::findings(&app, &cur, &q)).await?))
}

/// The findings export, for pages and API alike.
pub async fn findings_xlsx(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<FindingQuery>,
) -> Result<Response, AppError> {
    let bytes = blocking(move || ops::findings_xlsx(&app, &cur, &q)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"findings.xlsx\"; filename*=UTF-8''%E7%96%91%E4%BC%BC%E9%97%AE%E9%A2%98.xlsx"),
        ],
        bytes,
    )
        .into_response())
}

async fn finding(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
) -> ApiResult {
    Ok(Json(blocking(move || ops::finding(&app, &cur, &id)).await?))
}

async fn customer(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
) -> ApiResult {
    Ok(Json(blocking(move || ops::customer(&app, &cur, &id)).await?))
}

async fn area(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult {
    Ok(Json(blocking(move || ops::area(&app, &cur, &id, &q.period)).await?))
}

async fn station(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
) -> ApiResult {
    Ok(Json(blocking(move || ops::station(&app, &cur, &id)).await?))
}

async fn list_orders(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(f): Query<Filter>,
) -> ApiResult {
    let list = blocking(move || app.with_flow(|c| Ok(orders::list(c, &cur.actor, &f)?))).await?;
    Ok(Json(json!({"orders": list})))
}

/// What a new order is made of.
#[derive(Debug, serde::Deserialize)]
pub struct NewOrders {
    /// The findings.
    pub finding_ids: Vec<String>,
    /// 整改期限 `YYYY-MM-DD`.
    pub deadline: String,
    /// A note added to the titles.
    #[serde(default)]
    pub note: String,
}

/// Makes orders from findings (shared with the page).
pub fn create_orders(app: &Shared, cur: &Current, req: &NewOrders) -> Result<orders::Created, AppError> {
    let snaps = ops::snapshots(app, cur, &req.finding_ids)?;
    app.with_flow(|c| Ok(orders::create(c, &cur.actor, &snaps, &req.deadline, &req.note)?))
}

async fn post_orders(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Json(req): Json<NewOrders>,
) -> Response {
    match blocking(move || create_orders(&app, &cur, &req)).await {
        Ok(created) => {
            (StatusCode::CREATED, Json(serde_json::to_value(created).unwrap_or_default())).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn get_order(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<i64>,
) -> ApiResult {
    Ok(Json(blocking(move || ops::order(&app, &cur, id)).await?))
}

/// A transition asked for.
#[derive(Debug, serde::Deserialize)]
pub struct TransitionReq {
    /// `start`, `rectify`, `submit`, `accept`, `return`, `archive`.
    pub action: String,
    /// Reasons (required to return).
    #[serde(default)]
    pub reason: String,
}

/// Moves an order (shared with the page).
pub fn do_transition(
    app: &Shared,
    cur: &Current,
    id: i64,
    req: &TransitionReq,
) -> Result<orders::State, AppError> {
    let action = Action::parse(&req.action)
        .ok_or_else(|| AppError::bad(format!("未知操作 {} / unknown action {}", req.action, req.action)))?;
    app.with_flow(|c| Ok(orders::transition(c, &cur.actor, id, action, &req.reason)?))
}

async fn transition(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<i64>,
    Json(req): Json<TransitionReq>,
) -> ApiResult {
    let state = blocking(move || do_transition(&app, &cur, id, &req)).await?;
    Ok(Json(json!({"state": state.code()})))
}

async fn set_result(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path((id, fid)): Path<(i64, String)>,
    Json(req): Json<ResultInput>,
) -> ApiResult {
    blocking(move || app.with_flow(|c| Ok(orders::set_result(c, &cur.actor, id, &fid, &req)?))).await?;
    Ok(Json(json!({"ok": true})))
}

#[derive(serde::Deserialize)]
struct CommentReq {
    text: String,
}

async fn comment(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<i64>,
    Json(req): Json<CommentReq>,
) -> ApiResult {
    blocking(move || app.with_flow(|c| Ok(orders::comment(c, &cur.actor, id, &req.text)?))).await?;
    Ok(Json(json!({"ok": true})))
}

/// The first file of a multipart upload (name, bytes).
pub async fn first_file(mut form: Multipart) -> Result<(String, Bytes), AppError> {
    while let Some(field) =
        form.next_field().await.map_err(|e| AppError::bad(format!("上传格式错误 / bad upload: {e}")))?
    {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("file").to_string();
            let bytes =
                field.bytes().await.map_err(|e| AppError::bad(format!("上传中断 / upload failed: {e}")))?;
            return Ok((name, bytes));
        }
    }
    Err(AppError::bad("没有选择文件 / no file chosen"))
}

async fn upload(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<i64>,
    form: Multipart,
) -> Response {
    let (name, bytes) = match first_file(form).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let done = blocking(move || {
        app.with_flow(|c| Ok(orders::attach(c, app.flow(), &cur.actor, id, &name, &bytes)?))
    })
    .await;
    match done {
        Ok(file_id) => (StatusCode::CREATED, Json(json!({"file_id": file_id}))).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A stored file as a download (shared with the page).
pub async fn download(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (row, bytes) =
        blocking(move || app.with_flow(|c| Ok(orders::file(c, app.flow(), &cur.actor, id)?))).await?;
    let encoded = crate::pages::url_encode(&row.name);
    Ok((
        [
            (header::CONTENT_TYPE, row.mime.clone()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"file-{id}\"; filename*=UTF-8''{encoded}"),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn escalate(State(app): State<Shared>, Extension(cur): Extension<Current>) -> ApiResult {
    if !cur.actor.role.is_audit_centre() {
        return Err(AppError::new(StatusCode::FORBIDDEN, "仅稽查中心 / audit centre only"));
    }
    let e = blocking(move || app.with_flow(|c| Ok(orders::escalate_overdue(c)?))).await?;
    Ok(Json(json!({"escalated": e})))
}

#[derive(serde::Deserialize)]
struct DrawReq {
    month: String,
    #[serde(default = "default_share")]
    share: f64,
    #[serde(default)]
    seed: u64,
}

fn default_share() -> f64 {
    0.1
}

async fn draw(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Json(req): Json<DrawReq>,
) -> ApiResult {
    let drawn = blocking(move || {
        app.with_flow(|c| Ok(orders::draw_spot_checks(c, &cur.actor, &req.month, req.share, req.seed)?))
    })
    .await?;
    Ok(Json(json!({"drawn": drawn})))
}

#[derive(serde::Deserialize)]
struct SpotReq {
    result: String,
    #[serde(default)]
    note: String,
}

async fn spot(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(id): Path<i64>,
    Json(req): Json<SpotReq>,
) -> ApiResult {
    blocking(move || {
        app.with_flow(|c| Ok(orders::record_spot_check(c, &cur.actor, id, &req.result, &req.note)?))
    })
    .await?;
    Ok(Json(json!({"ok": true})))
}

async fn precision(State(app): State<Shared>, Extension(cur): Extension<Current>) -> ApiResult {
    let p = blocking(move || app.with_flow(|c| Ok(orders::precision(c, &cur.actor)?))).await?;
    Ok(Json(json!({"precision": p})))
}

async fn get_onsite(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult {
    let month = if q.month.is_empty() { chrono::Local::now().format("%Y-%m").to_string() } else { q.month };
    Ok(Json(blocking(move || ops::onsite(&app, &cur, &month)).await?))
}

async fn post_onsite(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Json(p): Json<onsite::Problem>,
) -> Response {
    let done =
        blocking(move || app.with_flow(|c| Ok(onsite::record(c, &cur.actor, &ops::specialty_codes(), p)?)))
            .await;
    match done {
        Ok(p) => (StatusCode::CREATED, Json(serde_json::to_value(p).unwrap_or_default())).into_response(),
        Err(e) => e.into_response(),
    }
}

fn admin_only(cur: &Current) -> Result<(), AppError> {
    if cur.actor.role != Role::Admin {
        return Err(AppError::new(StatusCode::FORBIDDEN, "仅系统管理员 / administrators only"));
    }
    Ok(())
}

async fn list_users(State(app): State<Shared>, Extension(cur): Extension<Current>) -> ApiResult {
    admin_only(&cur)?;
    let list = blocking(move || app.with_flow(|c| Ok(users::list(c)?))).await?;
    Ok(Json(json!({"users": list})))
}

/// A user to create.
#[derive(Debug, serde::Deserialize)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Shown name.
    #[serde(default)]
    pub display_name: String,
    /// Role code.
    pub role: String,
    /// Station (station roles).
    #[serde(default)]
    pub station_id: Option<String>,
    /// Initial password.
    pub password: String,
}

/// Creates a user (shared with the page).
pub fn add_user(app: &Shared, cur: &Current, u: &NewUser) -> Result<i64, AppError> {
    let role = Role::parse(&u.role)
        .ok_or_else(|| AppError::bad(format!("未知角色 {} / unknown role {}", u.role, u.role)))?;
    let station = u.station_id.as_deref().filter(|s| !s.trim().is_empty());
    app.with_flow(|c| {
        Ok(users::add(c, &cur.actor, &u.username, &u.display_name, role, station, &u.password)?)
    })
}

async fn post_user(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Json(u): Json<NewUser>,
) -> Response {
    match blocking(move || add_user(&app, &cur, &u)).await {
        Ok(id) => (StatusCode::CREATED, Json(json!({"user_id": id}))).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(serde::Deserialize)]
struct PasswordReq {
    password: String,
}

async fn password(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(name): Path<String>,
    Json(req): Json<PasswordReq>,
) -> ApiResult {
    blocking(move || app.with_flow(|c| Ok(users::set_password(c, &cur.actor, &name, &req.password)?)))
        .await?;
    Ok(Json(json!({"ok": true})))
}

#[derive(serde::Deserialize)]
struct AssignReq {
    role: String,
    #[serde(default)]
    station_id: Option<String>,
}

async fn assign(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Path(name): Path<String>,
    Json(req): Json<AssignReq>,
) -> ApiResult {
    let role = Role::parse(&req.role)
        .ok_or_else(|| AppError::bad(format!("未知角色 {} / unknown role", req.role)))?;
    blocking(move || {
        app.with_flow(|c| {
            Ok(users::assign(
                c,
                &cur.actor,
                &name,
                role,
                req.station_id.as_deref().filter(|s| !s.is_empty()),
            )?)
        })
    })
    .await?;
    Ok(Json(json!({"ok": true})))
}

#[derive(serde::Deserialize)]
struct TrailQuery {
    #[serde(default)]
    object: Option<String>,
}

/// Who may read the whole trail: administrators, the audit centre, managers.
pub fn may_read_trail(cur: &Current) -> bool {
    !cur.actor.role.is_station()
}

async fn get_trail(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<TrailQuery>,
) -> ApiResult {
    if !may_read_trail(&cur) {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "供电所人员不能查看全部审计日志 / station users cannot read the whole trail",
        ));
    }
    let (entries, verdict) =
        blocking(move || app.with_flow(|c| Ok((trail::entries(c, q.object.as_deref())?, trail::verify(c)?))))
            .await?;
    let verdict = match verdict {
        trail::Verdict::Intact { entries } => json!({"intact": true, "entries": entries}),
        trail::Verdict::Broken { seq, reason } => {
            json!({"intact": false, "first_broken": seq, "reason": reason})
        }
    };
    Ok(Json(json!({"verify": verdict, "entries": entries})))
}

/// The API routes (behind login).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/me", get(me))
        .route("/api/dashboard", get(dashboard))
        .route("/api/findings", get(findings))
        .route("/api/findings.xlsx", get(findings_xlsx))
        .route("/api/findings/{id}", get(finding))
        .route("/api/customers/{id}", get(customer))
        .route("/api/areas/{id}", get(area))
        .route("/api/stations/{id}", get(station))
        .route("/api/orders", get(list_orders).post(post_orders))
        .route("/api/orders/escalate", post(escalate))
        .route("/api/orders/{id}", get(get_order))
        .route("/api/orders/{id}/transition", post(transition))
        .route("/api/orders/{id}/items/{finding_id}", post(set_result))
        .route("/api/orders/{id}/comments", post(comment))
        .route("/api/orders/{id}/files", post(upload))
        .route("/api/orders/{id}/spot-check", post(spot))
        .route("/api/files/{id}", get(download))
        .route("/api/spot-checks", post(draw))
        .route("/api/precision", get(precision))
        .route("/api/onsite", get(get_onsite).post(post_onsite))
        .route("/api/users", get(list_users).post(post_user))
        .route("/api/users/{name}/password", post(password))
        .route("/api/users/{name}/assign", post(assign))
        .route("/api/trail", get(get_trail))
}
