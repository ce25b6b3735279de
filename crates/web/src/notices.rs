//! What the server sent and ran: the notification outbox with every delivery attempt, the
//! scheduler's runs, and the monthly documents to download (administrators, the audit centre
//! and managers).

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jicha_flow::Role;
use jicha_notify::{ListFilter, Outbox};
use maud::html;

use crate::auth::Current;
use crate::pages::{Notice, back, field, form_pairs, layout, render, url_encode};
use crate::{AppError, Shared, blocking};

fn may_see(cur: &Current) -> Result<(), AppError> {
    if matches!(cur.actor.role, Role::Admin | Role::Auditor | Role::Manager | Role::Lead) {
        Ok(())
    } else {
        Err(AppError::new(axum::http::StatusCode::FORBIDDEN, "无权查看 / not allowed"))
    }
}

fn utc8(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&crate::schedule::shanghai()).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `/admin/notifications`: the latest messages with their attempts, and the scheduler's runs.
pub async fn notifications_page(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<Notice>,
) -> Response {
    render(cur, move |c| {
        may_see(c)?;
        let l = c.lang;
        let outbox = Outbox::open(app.root()).map_err(|e| AppError::internal(&e.to_string()))?;
        let messages = outbox
            .list(&ListFilter { limit: 100, ..ListFilter::default() })
            .map_err(|e| AppError::internal(&e.to_string()))?;
        let runs = crate::schedule::Runs::open(app.root())
            .and_then(|r| r.list(50))
            .map_err(|e| AppError::internal(&e.to_string()))?;
        let body = html! {
            h2 { (l.t("通知发件箱", "Notification outbox")) }
            p.small { (l.t("失败的消息按退避自动重试（30 秒起，最长 1 小时），重启不丢；48 小时仍失败标记为失败，可手动重发。",
                "Failed messages retry with backoff (30 s up to 1 h) and survive restarts; after 48 h they are marked failed and can be sent again.")) }
            @if messages.is_empty() { p { (l.t("还没有消息。", "No message yet.")) } }
            div.scroll { table {
                tr { th { "#" } th { (l.t("类型", "Kind")) } th { (l.t("通道", "Channel")) } th { (l.t("收件人", "To")) } th { (l.t("内容", "Text")) }
                     th { (l.t("状态", "Status")) } th.num { (l.t("尝试", "Tries")) } th { (l.t("投递记录", "Attempts")) } th {} }
                @for m in &messages {
                    @let attempts = outbox.deliveries(m.id).unwrap_or_default();
                    tr {
                        td { (m.id) } td { (m.kind) } td { (m.channel) } td { (m.recipient) }
                        td.small { @if !m.subject.is_empty() { strong { (m.subject) } br; } (m.body.chars().take(120).collect::<String>()) }
                        td { (m.status.label()) @if let Some(e) = &m.last_error { br; span.small { (e) } } }
                        td.num { (m.attempts) }
                        td.small { @for a in &attempts { (utc8(a.at)) " " (if a.ok { "✓" } else { "✗" }) " " (a.error.as_deref().unwrap_or("")) br; } }
                        td { @if c.actor.role == Role::Admin && m.status.as_str() == "failed" {
                            form.inline method="post" action="/admin/notifications/retry" {
                                input type="hidden" name="csrf" value=(c.csrf);
                                input type="hidden" name="id" value=(m.id);
                                button.link type="submit" { (l.t("重发", "Retry")) }
                            }
                        } }
                    }
                }
            } }
            h2 { (l.t("定时任务运行记录", "Scheduled runs")) }
            @if runs.is_empty() { p { (l.t("还没有运行。", "Nothing ran yet.")) } }
            div.scroll { table {
                tr { th { (l.t("任务", "Job")) } th { (l.t("时段", "Slot")) } th { (l.t("开始", "Started")) } th { (l.t("结束", "Finished")) } th { (l.t("结果", "Outcome")) } }
                @for r in &runs {
                    tr { td { (r.job) } td { (r.slot) } td { (r.started_at) } td { (r.finished_at.as_deref().unwrap_or("—")) }
                         td { (match r.ok { Some(true) => l.t("成功", "ok"), Some(false) => l.t("失败", "failed"), None if r.waiting() => l.t("等待数据", "waiting for data"), None => l.t("运行中或中断", "running or interrupted") }) " " span.small { (r.message) } } }
                }
            } }
            h2 { (l.t("月度文件", "Monthly documents")) }
            form.filters method="get" action="/reports/monthly" {
                label { (l.t("月份", "Month")) " " input name="period" value=(jicha_core::calendar::Period::of(crate::schedule::today()).prev().to_string()) size="8"; }
                select name="doc" {
                    option value="docx" { (l.t("现场营销稽查报告 (.docx)", "Audit report (.docx)")) }
                    option value="xlsx" { (l.t("发现问题及整改措施汇总清单 (.xlsx)", "Problem list (.xlsx)")) }
                }
                button type="submit" { (l.t("下载", "Download")) }
            }
        };
        Ok(layout(c, l.t("通知与定时任务", "Notifications and schedule"), "notifications", &q, body))
    })
    .await
}

/// Requeues a failed message (administrators).
pub async fn post_retry(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    body: Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let id: i64 = field(&pairs, "id").parse().unwrap_or(0);
    let l = cur.lang;
    let r = blocking(move || {
        if cur.actor.role != Role::Admin {
            return Err(AppError::new(
                axum::http::StatusCode::FORBIDDEN,
                "只有系统管理员 / administrators only",
            ));
        }
        let outbox = Outbox::open(app.root()).map_err(|e| AppError::internal(&e.to_string()))?;
        outbox.retry(id, chrono::Utc::now()).map_err(|e| AppError::bad(e.to_string()))?;
        Ok(l.t("已重新排队", "Queued again").to_string())
    })
    .await;
    back("/admin/notifications", r)
}

/// Query of a monthly document.
#[derive(Debug, serde::Deserialize)]
pub struct DocQuery {
    /// `YYYY-MM`.
    pub period: String,
    /// `docx` or `xlsx`.
    pub doc: String,
}

/// `/reports/monthly?period=&doc=docx|xlsx`: the month's document, generated now.
pub async fn monthly_download(
    State(app): State<Shared>,
    Extension(cur): Extension<Current>,
    Query(q): Query<DocQuery>,
) -> Response {
    let r = blocking(move || {
        may_see(&cur)?;
        let period = jicha_core::calendar::Period::parse(&q.period).ok_or_else(|| {
            AppError::bad(format!("月份应为 YYYY-MM：{} / the month must be YYYY-MM", q.period))
        })?;
        let dir = scratch()?;
        let (docx, xlsx) = crate::monthly::write(app.root(), app.catalogue(), period, dir.path())
            .map_err(|e| AppError::internal(&format!("{e:#}")))?;
        let (path, mime) = if q.doc == "xlsx" {
            (xlsx, XLSX)
        } else {
            (docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        };
        let bytes = std::fs::read(&path).map_err(|e| AppError::internal(&e.to_string()))?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("report").to_string();
        Ok((bytes, mime, name))
    })
    .await;
    match r {
        Ok((bytes, mime, name)) => attachment(bytes, mime, &name),
        Err(e) => (e.status, e.message).into_response(),
    }
}

/// A file to download under its (Chinese) name.
pub(crate) fn attachment(bytes: Vec<u8>, mime: &str, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename*=UTF-8''{}", url_encode(name))),
        ],
        Body::from(bytes),
    )
        .into_response()
}

/// The media type of an .xlsx workbook.
pub(crate) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A scratch folder for files made for one request, removed when dropped (also on an error).
pub(crate) fn scratch() -> Result<tempfile::TempDir, AppError> {
    tempfile::Builder::new().prefix("jicha-").tempdir().map_err(|e| AppError::internal(&e.to_string()))
}
