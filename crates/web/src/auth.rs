//! Login, sessions, CSRF and security headers.
//!
//! A session is a random token in an HttpOnly, SameSite=Strict cookie; the server keeps only its
//! hash. Every request that changes something must carry the session's CSRF token, in the
//! `X-CSRF-Token` header (API, scripts) or as the form field `csrf` (pages), and must not come from
//! another origin.

use axum::body::{Body, Bytes};
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jicha_flow::{Actor, users};

use crate::i18n::Lang;
use crate::{AppError, Shared, blocking};

/// The session cookie.
pub const SESSION_COOKIE: &str = "jicha_session";
/// The language cookie.
pub const LANG_COOKIE: &str = "jicha_lang";

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Current {
    /// Who.
    pub actor: Actor,
    /// The session's CSRF token (for forms).
    pub csrf: String,
    /// The language chosen.
    pub lang: Lang,
}

/// A cookie's value.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// The language of a request (cookie, else Chinese).
pub fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::parse(cookie(headers, LANG_COOKIE).unwrap_or("zh"))
}

fn same_origin(headers: &HeaderMap) -> bool {
    // Browsers send `Origin: null` from privacy-sensitive contexts; the CSRF token still decides.
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).filter(|o| *o != "null")
    else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.split_once("://").map(|(_, rest)| rest) == Some(host)
}

/// The CSRF field of a form body, urlencoded or multipart.
fn csrf_in_body(content_type: &str, body: &[u8]) -> Option<String> {
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return crate::pages::form_pairs(body).into_iter().find_map(|(k, v)| (k == "csrf").then_some(v));
    }
    if content_type.starts_with("multipart/form-data") {
        let marker = b"name=\"csrf\"\r\n\r\n";
        let at = body.windows(marker.len()).position(|w| w == marker)? + marker.len();
        let end = body[at..].windows(2).position(|w| w == b"\r\n")?;
        return std::str::from_utf8(&body[at..at + end]).ok().map(str::to_owned);
    }
    None
}

/// Lets a request through only with a live session (and, to change anything, its CSRF token).
pub async fn require_user(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let token = cookie(req.headers(), SESSION_COOKIE).map(str::to_owned);
    let lang = lang_of(req.headers());
    let found = match token {
        Some(token) => {
            let app = app.clone();
            blocking(move || app.with_flow(|c| Ok(users::session(c, &token)?))).await
        }
        None => Ok(None),
    };
    let (actor, csrf) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            if api {
                return AppError::new(StatusCode::UNAUTHORIZED, "请先登录 / please log in").into_response();
            }
            let next = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            return Redirect::to(&format!("/login?next={}", crate::pages::url_encode(next))).into_response();
        }
        Err(e) => return e.into_response(),
    };
    let mut req = req;
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        if !same_origin(req.headers()) {
            return AppError::new(StatusCode::FORBIDDEN, "跨站请求被拒绝 / cross-origin request refused")
                .into_response();
        }
        let header_token = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let ok = if let Some(t) = header_token {
            t == csrf
        } else {
            let content_type = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let (parts, body) = req.into_parts();
            let limit = jicha_flow::orders::MAX_FILE_BYTES + (1 << 20);
            let bytes: Bytes = match axum::body::to_bytes(body, limit).await {
                Ok(b) => b,
                Err(_) => {
                    return AppError::new(StatusCode::PAYLOAD_TOO_LARGE, "请求过大 / request too large")
                        .into_response();
                }
            };
            let ok = csrf_in_body(&content_type, &bytes).is_some_and(|t| t == csrf);
            req = Request::from_parts(parts, Body::from(bytes));
            ok
        };
        if !ok {
            return AppError::new(
                StatusCode::FORBIDDEN,
                "CSRF 令牌缺失或不符，请刷新页面后重试 / CSRF token missing or wrong: reload the page and retry",
            )
            .into_response();
        }
    }
    req.extensions_mut().insert(Current { actor, csrf, lang });
    next.run(req).await
}

/// Security headers on every answer.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !path.starts_with("/assets/") {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    tracing::info!(%method, path, status = res.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    res
}

fn session_cookie(token: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}"
    ))
    .expect("cookie")
}

/// Login form fields.
#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    /// 用户名.
    pub username: String,
    /// 密码.
    pub password: String,
    /// Where to go after.
    #[serde(default)]
    pub next: String,
}

async fn do_login(app: Shared, form: &LoginForm) -> Result<users::NewSession, AppError> {
    let (u, p) = (form.username.clone(), form.password.clone());
    blocking(move || app.with_flow(|c| Ok(users::login(c, &u, &p)?))).await
}

async fn login_page(
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    crate::pages::login(lang_of(&headers), q.get("next").map(String::as_str).unwrap_or("/"), None)
        .into_response()
}

async fn login_post(State(app): State<Shared>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    let lang = lang_of(&headers);
    if !same_origin(&headers) {
        return AppError::new(StatusCode::FORBIDDEN, "跨站请求被拒绝 / cross-origin request refused")
            .into_response();
    }
    match do_login(app, &form).await {
        Ok(s) => {
            let next = if form.next.starts_with('/') && !form.next.starts_with("//") {
                form.next.as_str()
            } else {
                "/"
            };
            let mut res = Redirect::to(next).into_response();
            res.headers_mut().insert(header::SET_COOKIE, session_cookie(&s.token, 12 * 3600));
            res
        }
        Err(e) => (e.status, crate::pages::login(lang, &form.next, Some(&e.message))).into_response(),
    }
}

async fn api_login(State(app): State<Shared>, headers: HeaderMap, Json(form): Json<LoginForm>) -> Response {
    if !same_origin(&headers) {
        return AppError::new(StatusCode::FORBIDDEN, "跨站请求被拒绝 / cross-origin request refused")
            .into_response();
    }
    match do_login(app, &form).await {
        Ok(s) => {
            let mut res = Json(serde_json::json!({"csrf": s.csrf, "user": s.actor})).into_response();
            res.headers_mut().insert(header::SET_COOKIE, session_cookie(&s.token, 12 * 3600));
            res
        }
        Err(e) => e.into_response(),
    }
}

async fn logout(State(app): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE).map(str::to_owned) {
        let _ = blocking(move || app.with_flow(|c| Ok(users::logout(c, &token)?))).await;
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().insert(header::SET_COOKIE, session_cookie("", 0));
    res
}

async fn set_lang(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let lang = Lang::parse(&code);
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned())))
        .unwrap_or_else(|| "/".into());
    let mut res = Redirect::to(&back).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{LANG_COOKIE}={}; SameSite=Strict; Path=/; Max-Age=31536000",
            lang.code()
        ))
        .expect("cookie"),
    );
    res
}

static ECHARTS: &[u8] = include_bytes!(env!("JICHA_ECHARTS_JS"));
static APP_JS: &str = include_str!("../assets/app.js");
static APP_CSS: &str = include_str!("../assets/app.css");

async fn asset(Path(name): Path<String>) -> Response {
    let (body, mime): (&'static [u8], &str) = match name.as_str() {
        "echarts.min.js" => (ECHARTS, "text/javascript; charset=utf-8"),
        "app.js" => (APP_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS.as_bytes(), "text/css; charset=utf-8"),
        _ => return AppError::not_found(&name).into_response(),
    };
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "public, max-age=86400")], body).into_response()
}

/// Routes open without a session.
pub fn public_routes() -> Router<Shared> {
    Router::new()
        .route("/login", get(login_page).post(login_post))
        .route("/logout", post(logout))
        .route("/api/login", post(api_login))
        .route("/api/logout", post(logout))
        .route("/lang/{code}", get(set_lang))
        .route("/assets/{name}", get(asset))
        .route("/api/openapi.json", get(|| async { Json(crate::openapi::document()) }))
        .route("/healthz", get(|| async { "ok" }))
}
