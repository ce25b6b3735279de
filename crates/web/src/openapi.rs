//! The OpenAPI 3.1 document of the JSON API, served at `/api/openapi.json`.

use serde_json::{Map, Value, json};

/// (method, path, summary, request body schema name or "", tag).
const OPERATIONS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "post",
        "/api/login",
        "登录，返回 CSRF 令牌并设置会话 Cookie / log in: sets the session cookie, returns the CSRF token",
        "Login",
        "auth",
    ),
    ("post", "/api/logout", "退出 / log out", "", "auth"),
    ("get", "/api/me", "当前用户与 CSRF 令牌 / the current user and CSRF token", "", "auth"),
    ("get", "/api/dashboard", "公司（或本所）总览 / the dashboard (query: period)", "", "findings"),
    (
        "get",
        "/api/findings",
        "疑似问题列表：筛选、排序、分页 / findings: filter, sort, page (query: period, theme, station, specialty, severity, entity, min_amount, sort, dir, page, per_page)",
        "",
        "findings",
    ),
    (
        "get",
        "/api/findings.xlsx",
        "导出疑似问题 .xlsx（同列表筛选）/ findings as .xlsx (same filters)",
        "",
        "findings",
    ),
    (
        "get",
        "/api/findings/{id}",
        "疑似问题详情：证据与图表数据 / a finding with its evidence and chart data",
        "",
        "findings",
    ),
    (
        "get",
        "/api/customers/{id}",
        "用户：档案、电能表、13 个月日电量、账单、缴费、疑似问题 / a customer",
        "",
        "archive",
    ),
    (
        "get",
        "/api/areas/{id}",
        "台区：日供电量、售电量、线损率 / a transformer area (query: period)",
        "",
        "archive",
    ),
    ("get", "/api/stations/{id}", "供电所：台区、用户数、问题、工单 / a station", "", "archive"),
    ("get", "/api/orders", "稽查工单列表 / audit orders (query: state, station, overdue)", "", "orders"),
    (
        "post",
        "/api/orders",
        "由疑似问题派发工单（按供电所分组）/ make orders from findings, one per station",
        "NewOrders",
        "orders",
    ),
    ("post", "/api/orders/escalate", "超期工单升级 / escalate overdue orders", "", "orders"),
    (
        "get",
        "/api/orders/{id}",
        "工单详情：问题、流转记录、附件、审计日志 / an order with items, history, files, trail",
        "",
        "orders",
    ),
    (
        "post",
        "/api/orders/{id}/transition",
        "工单流转 / move an order (start, rectify, submit, accept, return, archive)",
        "Transition",
        "orders",
    ),
    (
        "post",
        "/api/orders/{id}/items/{finding_id}",
        "填写核查结论 / record a finding's result",
        "Result",
        "orders",
    ),
    ("post", "/api/orders/{id}/comments", "添加意见 / comment", "Comment", "orders"),
    (
        "post",
        "/api/orders/{id}/files",
        "上传佐证材料（multipart 字段 file）/ upload evidence (multipart field file)",
        "File",
        "orders",
    ),
    (
        "post",
        "/api/orders/{id}/spot-check",
        "登记抽查结果 / record a spot check's result",
        "SpotCheck",
        "orders",
    ),
    ("get", "/api/files/{id}", "下载佐证材料 / download an evidence file", "", "orders"),
    (
        "post",
        "/api/spot-checks",
        "按月随机抽取已归档工单 / draw archived orders for spot checks",
        "Draw",
        "orders",
    ),
    (
        "get",
        "/api/precision",
        "各主题在已关闭工单上的准确率 / each theme's precision over closed orders",
        "",
        "orders",
    ),
    (
        "get",
        "/api/onsite",
        "现场稽查月度计划与问题 / the on-site programme of a month (query: month)",
        "",
        "onsite",
    ),
    ("post", "/api/onsite", "登记现场发现问题 / record an on-site problem", "OnsiteProblem", "onsite"),
    ("get", "/api/users", "用户列表（管理员）/ users (administrators)", "", "users"),
    ("post", "/api/users", "新建用户（管理员）/ create a user (administrators)", "NewUser", "users"),
    ("post", "/api/users/{name}/password", "重置密码 / set a password", "Password", "users"),
    ("post", "/api/users/{name}/assign", "分配角色与供电所 / assign role and station", "Assign", "users"),
    (
        "get",
        "/api/trail",
        "审计日志与链校验 / the audit trail and its verification (query: object)",
        "",
        "trail",
    ),
];

fn string() -> Value {
    json!({"type": "string"})
}

fn schemas() -> Value {
    let obj = |props: &[(&str, Value)], required: &[&str]| {
        let p: Map<String, Value> = props.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        json!({"type": "object", "properties": p, "required": required})
    };
    let roles = json!({"type": "string", "enum": ["admin", "auditor", "lead", "station_staff", "station_head", "manager"]});
    json!({
        "Login": obj(&[("username", string()), ("password", string())], &["username", "password"]),
        "NewOrders": obj(&[("finding_ids", json!({"type": "array", "items": string()})),
                           ("deadline", json!({"type": "string", "format": "date"})), ("note", string())],
                         &["finding_ids", "deadline"]),
        "Transition": obj(&[("action", json!({"type": "string", "enum": ["start", "rectify", "submit", "accept", "return", "archive"]})),
                            ("reason", string())], &["action"]),
        "Result": obj(&[("result", json!({"type": "string", "enum": ["confirmed", "false_positive"]})),
                        ("cause", string()), ("recovered", json!({"type": "number", "minimum": 0}))], &["result"]),
        "Comment": obj(&[("text", string())], &["text"]),
        "File": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]},
        "SpotCheck": obj(&[("result", json!({"type": "string", "enum": ["pass", "fail"]})), ("note", string())], &["result"]),
        "Draw": obj(&[("month", string()), ("share", json!({"type": "number"})), ("seed", json!({"type": "integer"}))], &["month"]),
        "OnsiteProblem": obj(&[("month", string()), ("station_id", string()), ("specialty", string()),
                               ("entity_type", string()), ("entity_id", string()), ("description", string()),
                               ("measure", string()), ("responsible", string()), ("deadline", string())],
                             &["month", "station_id", "specialty", "description", "measure", "responsible"]),
        "NewUser": obj(&[("username", string()), ("display_name", string()), ("role", roles.clone()),
                         ("station_id", string()), ("password", string())], &["username", "role", "password"]),
        "Password": obj(&[("password", string())], &["password"]),
        "Assign": obj(&[("role", roles), ("station_id", string())], &["role"]),
        "Error": obj(&[("error", string())], &["error"]),
    })
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, body, tag) in OPERATIONS {
        let mut op = json!({
            "summary": summary,
            "tags": [tag],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {}}},
                "400": {"description": "请求有误 / bad request", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "未登录 / not logged in"},
                "403": {"description": "无权限或 CSRF 令牌不符 / forbidden or CSRF token wrong"},
                "404": {"description": "不存在或不在本供电所 / not found or not of the user's station"}
            }
        });
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::from(params);
        }
        if !body.is_empty() {
            let media = if *body == "File" { "multipart/form-data" } else { "application/json" };
            op["requestBody"] = json!({"required": true, "content": {media: {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
        }
        if *path != "/api/login" {
            op["security"] = json!([{"session": [], "csrf": []}]);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Jicha 稽查 API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "营销稽查与收入保护系统的 JSON 接口；权限与页面相同：供电所人员只能访问本所数据。改变数据的请求须带 X-CSRF-Token 头（登录时返回）。/ Jicha's JSON API; the same authorization as the pages: station users reach only their station's data. Requests that change data carry the X-CSRF-Token header (returned at login)."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "jicha_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"}
            }
        }
    })
}
