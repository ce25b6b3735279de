//! Audit orders (稽查工单): made from findings, grouped by station, followed from dispatch to archive.
//!
//! ```text
//! dispatched ─start─► verifying ─rectify─► rectifying ─submit─► submitted ─accept─► accepted ─archive─► archived
//!                        │  ▲                                      │
//!                        │  └──────────────── return (with reasons) ┘
//!                        └─submit (every finding a false positive)─► submitted
//! ```
//!
//! Station roles act on their own station's orders only and cannot see others (not found, never
//! forbidden, so that ids do not leak). Every change is one transaction with its trail entry.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::json;

use crate::{Actor, Flow, FlowError, FlowResult, Role, now_text, sha256_hex, trail, users};

/// The largest evidence file accepted.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// An order's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// 已派发.
    Dispatched,
    /// 核查中.
    Verifying,
    /// 整改中.
    Rectifying,
    /// 已提交.
    Submitted,
    /// 已验收.
    Accepted,
    /// 已归档.
    Archived,
}

impl State {
    /// Every state in order.
    pub const ALL: [State; 6] = [
        State::Dispatched,
        State::Verifying,
        State::Rectifying,
        State::Submitted,
        State::Accepted,
        State::Archived,
    ];

    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            State::Dispatched => "dispatched",
            State::Verifying => "verifying",
            State::Rectifying => "rectifying",
            State::Submitted => "submitted",
            State::Accepted => "accepted",
            State::Archived => "archived",
        }
    }

    /// Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            State::Dispatched => "已派发",
            State::Verifying => "核查中",
            State::Rectifying => "整改中",
            State::Submitted => "已提交待验收",
            State::Accepted => "已验收",
            State::Archived => "已归档",
        }
    }

    /// English name.
    pub fn name_en(self) -> &'static str {
        match self {
            State::Dispatched => "dispatched",
            State::Verifying => "verifying",
            State::Rectifying => "rectifying",
            State::Submitted => "submitted",
            State::Accepted => "accepted",
            State::Archived => "archived",
        }
    }

    /// Parses a code.
    pub fn parse(code: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Still to be worked on (a new finding on the same entity joins such an order).
    pub fn is_open(self) -> bool {
        !matches!(self, State::Accepted | State::Archived)
    }

    /// Waiting for the station (a deadline applies).
    pub fn with_station(self) -> bool {
        matches!(self, State::Dispatched | State::Verifying | State::Rectifying)
    }
}

/// What someone does to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 开始核查 (station).
    Start,
    /// 转入整改 (station; every finding has a result, at least one confirmed).
    Rectify,
    /// 提交验收 (station; every finding has a result).
    Submit,
    /// 验收通过 (audit centre).
    Accept,
    /// 退回 with reasons (audit centre).
    Return,
    /// 归档 (audit centre).
    Archive,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 6] =
        [Action::Start, Action::Rectify, Action::Submit, Action::Accept, Action::Return, Action::Archive];

    /// Code.
    pub fn code(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Rectify => "rectify",
            Action::Submit => "submit",
            Action::Accept => "accept",
            Action::Return => "return",
            Action::Archive => "archive",
        }
    }

    /// Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Action::Start => "开始核查",
            Action::Rectify => "转入整改",
            Action::Submit => "提交验收",
            Action::Accept => "验收通过",
            Action::Return => "退回",
            Action::Archive => "归档",
        }
    }

    /// English name.
    pub fn name_en(self) -> &'static str {
        match self {
            Action::Start => "start verifying",
            Action::Rectify => "start rectifying",
            Action::Submit => "submit",
            Action::Accept => "accept",
            Action::Return => "return",
            Action::Archive => "archive",
        }
    }

    /// Parses a code.
    pub fn parse(code: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.code() == code)
    }

    /// Whether the station does it (else the audit centre).
    pub fn by_station(self) -> bool {
        matches!(self, Action::Start | Action::Rectify | Action::Submit)
    }

    /// The states it leads from, to.
    fn edge(self, from: State) -> Option<State> {
        match (self, from) {
            (Action::Start, State::Dispatched) => Some(State::Verifying),
            (Action::Rectify, State::Verifying) => Some(State::Rectifying),
            (Action::Submit, State::Verifying | State::Rectifying) => Some(State::Submitted),
            (Action::Accept, State::Submitted) => Some(State::Accepted),
            (Action::Return, State::Submitted) => Some(State::Verifying),
            (Action::Archive, State::Accepted) => Some(State::Archived),
            _ => None,
        }
    }
}

/// A finding as an order keeps it: a copy of the stored row, so that the order keeps its history
/// when a rerun of the audit no longer finds it.
pub type FindingSnapshot = jicha_store::findings::FindingRow;

/// An order as listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Order {
    /// Id.
    pub order_id: i64,
    /// 工单编号, e.g. `JC-202512-00012`.
    pub number: String,
    /// Responsible station.
    pub station_id: String,
    /// State.
    pub state: State,
    /// `findings` or `onsite`.
    pub source: String,
    /// Title.
    pub title: String,
    /// 整改期限.
    pub deadline: String,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// When it was escalated for being overdue.
    pub escalated_at: Option<String>,
    /// When archived.
    pub archived_at: Option<String>,
    /// Findings in it.
    pub items: i64,
    /// Money at risk over its findings.
    pub amount_at_risk: f64,
    /// Money recovered over its findings.
    pub recovered: f64,
    /// Past its deadline while with the station.
    pub overdue: bool,
}

/// One finding in an order with the station's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Item {
    /// The finding copied in.
    pub finding: FindingSnapshot,
    /// When it joined.
    pub joined_at: String,
    /// `confirmed` or `false_positive`.
    pub result: Option<String>,
    /// Cause found on site.
    pub cause: Option<String>,
    /// Money recovered, yuan.
    pub recovered: Option<f64>,
}

/// Something that happened to an order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Event {
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// `created`, `transition`, `comment`, `file`, `result`, `joined`, `escalated`, `spot_check`.
    pub kind: String,
    /// State before.
    pub from_state: Option<String>,
    /// State after.
    pub to_state: Option<String>,
    /// Text (reasons, comment).
    pub text: String,
}

/// An evidence file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FileRow {
    /// Id.
    pub file_id: i64,
    /// Order.
    pub order_id: i64,
    /// Content hash (where it is stored).
    pub sha256: String,
    /// Name given.
    pub name: String,
    /// Type checked from the content.
    pub mime: String,
    /// Bytes.
    pub size: i64,
    /// Who.
    pub uploaded_by: String,
    /// When.
    pub at: String,
}

/// An order with everything in it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Detail {
    /// The order.
    pub order: Order,
    /// Its findings.
    pub items: Vec<Item>,
    /// Its history, oldest first.
    pub events: Vec<Event>,
    /// Its files.
    pub files: Vec<FileRow>,
    /// Its spot check, if drawn.
    pub spot_check: Option<SpotCheck>,
}

/// A spot check (抽查) of an archived order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpotCheck {
    /// Order.
    pub order_id: i64,
    /// The month drawn for.
    pub month: String,
    /// When drawn.
    pub drawn_at: String,
    /// `pass` or `fail`, once checked.
    pub result: Option<String>,
    /// What was seen.
    pub note: Option<String>,
    /// Who checked.
    pub checked_by: Option<String>,
}

fn today() -> String {
    chrono::Local::now().format("%Y-%m-%d").to_string()
}

const ORDER_COLUMNS: &str = "o.order_id, o.number, o.station_id, o.state, o.source, o.title, o.deadline,
    o.created_by, o.created_at, o.updated_at, o.escalated_at, o.archived_at,
    (SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.order_id),
    (SELECT COALESCE(SUM(amount_at_risk), 0) FROM order_items i WHERE i.order_id = o.order_id),
    (SELECT COALESCE(SUM(recovered), 0) FROM order_items i WHERE i.order_id = o.order_id)";

fn order_of(r: &rusqlite::Row<'_>, today: &str) -> rusqlite::Result<Order> {
    let state: String = r.get(3)?;
    let state = State::parse(&state).unwrap_or(State::Dispatched);
    let deadline: String = r.get(6)?;
    Ok(Order {
        order_id: r.get(0)?,
        number: r.get(1)?,
        station_id: r.get(2)?,
        state,
        source: r.get(4)?,
        title: r.get(5)?,
        overdue: state.with_station() && deadline.as_str() < today,
        deadline,
        created_by: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        escalated_at: r.get(10)?,
        archived_at: r.get(11)?,
        items: r.get(12)?,
        amount_at_risk: r.get(13)?,
        recovered: r.get(14)?,
    })
}

/// Which orders to list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Filter {
    /// One state.
    pub state: Option<String>,
    /// One station (a station role sees its own whatever this says).
    pub station: Option<String>,
    /// Only overdue ones.
    #[serde(default)]
    pub overdue: bool,
}

/// The orders a user may see, newest first.
pub fn list(conn: &Connection, actor: &Actor, filter: &Filter) -> FlowResult<Vec<Order>> {
    let station =
        actor.station_scope().map(str::to_owned).or_else(|| filter.station.clone().filter(|s| !s.is_empty()));
    let state = filter.state.clone().filter(|s| !s.is_empty());
    let mut stmt = conn.prepare(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders o WHERE (?1 IS NULL OR o.station_id = ?1)
         AND (?2 IS NULL OR o.state = ?2) ORDER BY o.order_id DESC"
    ))?;
    let today = today();
    let rows = stmt.query_map(params![station, state], |r| order_of(r, &today))?;
    let mut out: Vec<Order> = rows.collect::<Result<_, _>>()?;
    if filter.overdue {
        out.retain(|o| o.overdue);
    }
    Ok(out)
}

fn load_order(conn: &Connection, actor: &Actor, order_id: i64) -> FlowResult<Order> {
    let today = today();
    let order = conn
        .query_row(&format!("SELECT {ORDER_COLUMNS} FROM orders o WHERE o.order_id = ?1"), [order_id], |r| {
            order_of(r, &today)
        })
        .optional()?;
    match order {
        Some(o) if actor.sees_station(Some(&o.station_id)) => Ok(o),
        _ => Err(FlowError::NotFound(format!("工单 {order_id} / order {order_id}"))),
    }
}

/// An order with its findings, history and files.
pub fn get(conn: &Connection, actor: &Actor, order_id: i64) -> FlowResult<Detail> {
    let order = load_order(conn, actor, order_id)?;
    let mut stmt = conn.prepare(
        "SELECT finding_id, theme, entity_type, entity_id, period, severity, evidence, amount_at_risk,
                joined_at, result, cause, recovered
         FROM order_items WHERE order_id = ?1 ORDER BY amount_at_risk DESC NULLS LAST, theme, entity_id",
    )?;
    let items = stmt
        .query_map([order_id], |r| {
            Ok(Item {
                finding: FindingSnapshot {
                    finding_id: r.get(0)?,
                    theme: r.get(1)?,
                    entity_type: r.get(2)?,
                    entity_id: r.get(3)?,
                    station_id: Some(order.station_id.clone()),
                    period: r.get(4)?,
                    severity: r.get(5)?,
                    evidence: r.get(6)?,
                    amount_at_risk: r.get(7)?,
                },
                joined_at: r.get(8)?,
                result: r.get(9)?,
                cause: r.get(10)?,
                recovered: r.get(11)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT at, actor, kind, from_state, to_state, text FROM order_events WHERE order_id = ?1 ORDER BY event_id",
    )?;
    let events = stmt
        .query_map([order_id], |r| {
            Ok(Event {
                at: r.get(0)?,
                actor: r.get(1)?,
                kind: r.get(2)?,
                from_state: r.get(3)?,
                to_state: r.get(4)?,
                text: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let files = files_of(conn, order_id)?;
    let spot_check = spot_check_of(conn, order_id)?;
    Ok(Detail { order, items, events, files, spot_check })
}

fn files_of(conn: &Connection, order_id: i64) -> FlowResult<Vec<FileRow>> {
    let mut stmt = conn.prepare(
        "SELECT file_id, order_id, sha256, name, mime, size, uploaded_by, at FROM files WHERE order_id = ?1
         ORDER BY file_id",
    )?;
    let rows = stmt.query_map([order_id], |r| {
        Ok(FileRow {
            file_id: r.get(0)?,
            order_id: r.get(1)?,
            sha256: r.get(2)?,
            name: r.get(3)?,
            mime: r.get(4)?,
            size: r.get(5)?,
            uploaded_by: r.get(6)?,
            at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn spot_check_of(conn: &Connection, order_id: i64) -> FlowResult<Option<SpotCheck>> {
    Ok(conn
        .query_row(
            "SELECT order_id, month, drawn_at, result, note, checked_by FROM spot_checks WHERE order_id = ?1",
            [order_id],
            |r| {
                Ok(SpotCheck {
                    order_id: r.get(0)?,
                    month: r.get(1)?,
                    drawn_at: r.get(2)?,
                    result: r.get(3)?,
                    note: r.get(4)?,
                    checked_by: r.get(5)?,
                })
            },
        )
        .optional()?)
}

fn event(
    tx: &Transaction<'_>,
    order_id: i64,
    actor: &str,
    kind: &str,
    from: Option<State>,
    to: Option<State>,
    text: &str,
) -> FlowResult<()> {
    tx.execute(
        "INSERT INTO order_events (order_id, at, actor, kind, from_state, to_state, text)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![order_id, now_text(), actor, kind, from.map(State::code), to.map(State::code), text],
    )?;
    Ok(())
}

fn require_audit_centre(actor: &Actor, what: &str) -> FlowResult<()> {
    if !actor.role.is_audit_centre() {
        return Err(FlowError::Forbidden(format!("{what}：仅稽查中心 / {what}: audit centre only")));
    }
    Ok(())
}

fn check_deadline(deadline: &str) -> FlowResult<()> {
    let ok = chrono::NaiveDate::parse_from_str(deadline, "%Y-%m-%d").is_ok() && deadline.len() == 10;
    if !ok {
        return Err(FlowError::Invalid(format!(
            "整改期限应为 YYYY-MM-DD：{deadline} / the deadline must be YYYY-MM-DD: {deadline}"
        )));
    }
    Ok(())
}

/// What making orders did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Created {
    /// New orders (id, number), one per station.
    pub orders: Vec<(i64, String)>,
    /// Findings that joined an open order of the same theme and entity instead (finding, order).
    pub joined: Vec<(String, i64)>,
    /// Findings already in an order, left alone.
    pub already: Vec<String>,
}

fn open_order_of(tx: &Connection, f: &FindingSnapshot) -> FlowResult<Option<i64>> {
    Ok(tx
        .query_row(
            "SELECT o.order_id FROM order_items i JOIN orders o ON o.order_id = i.order_id
             WHERE i.theme = ?1 AND i.entity_type = ?2 AND i.entity_id = ?3
               AND o.state NOT IN ('accepted', 'archived')
             ORDER BY o.order_id DESC LIMIT 1",
            params![f.theme, f.entity_type, f.entity_id],
            |r| r.get(0),
        )
        .optional()?)
}

fn in_an_order(tx: &Connection, finding_id: &str) -> FlowResult<bool> {
    Ok(tx
        .query_row("SELECT 1 FROM order_items WHERE finding_id = ?1 LIMIT 1", [finding_id], |_| Ok(()))
        .optional()?
        .is_some())
}

fn insert_item(tx: &Transaction<'_>, order_id: i64, f: &FindingSnapshot) -> FlowResult<()> {
    tx.execute(
        "INSERT INTO order_items (order_id, finding_id, theme, entity_type, entity_id, period, severity,
             evidence, amount_at_risk, joined_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            order_id,
            f.finding_id,
            f.theme,
            f.entity_type,
            f.entity_id,
            f.period,
            f.severity,
            f.evidence,
            f.amount_at_risk,
            now_text()
        ],
    )?;
    Ok(())
}

pub(crate) fn new_order(
    tx: &Transaction<'_>,
    actor: &Actor,
    station: &str,
    source: &str,
    title: &str,
    deadline: &str,
) -> FlowResult<(i64, String)> {
    let now = now_text();
    tx.execute(
        "INSERT INTO orders (number, station_id, state, source, title, deadline, created_by, created_at, updated_at)
         VALUES ('', ?1, 'dispatched', ?2, ?3, ?4, ?5, ?6, ?6)",
        params![station, source, title, deadline, actor.username, now],
    )?;
    let id = tx.last_insert_rowid();
    let number = format!("JC-{}{}-{id:05}", &now[0..4], &now[5..7]);
    tx.execute("UPDATE orders SET number = ?1 WHERE order_id = ?2", params![number, id])?;
    event(tx, id, &actor.username, "created", None, Some(State::Dispatched), title)?;
    trail::append(
        tx,
        &actor.username,
        "order.create",
        &format!("order:{id}"),
        None,
        Some(&json!({"number": number, "station_id": station, "state": "dispatched", "deadline": deadline,
                     "title": title})),
    )?;
    Ok((id, number))
}

/// Makes audit orders from findings (audit centre): one per station with a deadline; a finding
/// whose theme and entity already have an open order joins that order instead; a finding already
/// in an order is left alone.
pub fn create(
    conn: &mut Connection,
    actor: &Actor,
    findings: &[FindingSnapshot],
    deadline: &str,
    note: &str,
) -> FlowResult<Created> {
    require_audit_centre(actor, "派发工单 / dispatching orders")?;
    check_deadline(deadline)?;
    if findings.is_empty() {
        return Err(FlowError::Invalid("没有选中疑似问题 / no finding selected".into()));
    }
    let tx = conn.transaction()?;
    let mut out = Created::default();
    let mut by_station: BTreeMap<String, Vec<&FindingSnapshot>> = BTreeMap::new();
    for f in findings {
        if in_an_order(&tx, &f.finding_id)? {
            out.already.push(f.finding_id.clone());
            continue;
        }
        if let Some(order_id) = open_order_of(&tx, f)? {
            add_item(&tx, &actor.username, order_id, f)?;
            out.joined.push((f.finding_id.clone(), order_id));
            continue;
        }
        let Some(station) = f.station_id.clone().filter(|s| !s.is_empty()) else {
            return Err(FlowError::Invalid(format!(
                "疑似问题 {} 没有所属供电所，无法派发 / finding {} has no station to send it to",
                f.finding_id, f.finding_id
            )));
        };
        by_station.entry(station).or_default().push(f);
    }
    for (station, items) in by_station {
        let mut themes: Vec<&str> = items.iter().map(|f| f.theme.as_str()).collect();
        themes.sort_unstable();
        themes.dedup();
        let period = items.iter().map(|f| f.period.as_str()).max().unwrap_or("");
        let mut title = format!("{period} 稽查工单：{} 等 {} 条疑似问题", themes.join("、"), items.len());
        if !note.trim().is_empty() {
            title = format!("{title}（{}）", note.trim());
        }
        let (id, number) = new_order(&tx, actor, &station, "findings", &title, deadline)?;
        for f in items {
            insert_item(&tx, id, f)?;
            trail::append(
                &tx,
                &actor.username,
                "finding.status",
                &format!("finding:{}", f.finding_id),
                Some(&json!({"status": "new"})),
                Some(&json!({"status": "in_order", "order_id": id})),
            )?;
        }
        out.orders.push((id, number));
    }
    tx.commit()?;
    Ok(out)
}

pub(crate) fn add_item(
    tx: &Transaction<'_>,
    actor: &str,
    order_id: i64,
    f: &FindingSnapshot,
) -> FlowResult<()> {
    insert_item(tx, order_id, f)?;
    event(tx, order_id, actor, "joined", None, None, &format!("{} {} {}", f.period, f.theme, f.entity_id))?;
    tx.execute("UPDATE orders SET updated_at = ?1 WHERE order_id = ?2", params![now_text(), order_id])?;
    trail::append(
        tx,
        actor,
        "finding.status",
        &format!("finding:{}", f.finding_id),
        Some(&json!({"status": "new"})),
        Some(&json!({"status": "in_order", "order_id": order_id, "joined": true})),
    )?;
    Ok(())
}

/// After an audit: every new finding on the theme and entity of an open order joins that order
/// (a persisting problem is found again each month under a new id). Returns how many joined.
pub fn join_open(conn: &mut Connection, findings: &[FindingSnapshot]) -> FlowResult<usize> {
    let tx = conn.transaction()?;
    let mut n = 0;
    for f in findings {
        if in_an_order(&tx, &f.finding_id)? {
            continue;
        }
        if let Some(order_id) = open_order_of(&tx, f)? {
            add_item(&tx, "system", order_id, f)?;
            n += 1;
        }
    }
    tx.commit()?;
    Ok(n)
}

fn station_may_act(actor: &Actor, order: &Order) -> bool {
    actor.role.is_station() && actor.station_id.as_deref() == Some(order.station_id.as_str())
}

/// Moves an order along (see the module's diagram). `reason` is required to return an order.
pub fn transition(
    conn: &mut Connection,
    actor: &Actor,
    order_id: i64,
    action: Action,
    reason: &str,
) -> FlowResult<State> {
    let tx = conn.transaction()?;
    let order = load_order(&tx, actor, order_id)?;
    let who_ok = if action.by_station() {
        station_may_act(actor, &order) || actor.role == Role::Admin
    } else {
        actor.role.is_audit_centre()
    };
    if !who_ok {
        return Err(FlowError::Forbidden(format!(
            "{}：{} / {}: {}",
            action.name_zh(),
            if action.by_station() { "由本供电所操作" } else { "由稽查中心操作" },
            action.name_en(),
            if action.by_station() { "done by the station" } else { "done by the audit centre" }
        )));
    }
    let Some(to) = action.edge(order.state) else {
        return Err(FlowError::Invalid(format!(
            "工单{}时不能{} / an order that is {} cannot be given '{}'",
            order.state.name_zh(),
            action.name_zh(),
            order.state.name_en(),
            action.name_en()
        )));
    };
    let (unresolved, confirmed): (i64, i64) = tx.query_row(
        "SELECT COALESCE(SUM(result IS NULL), 0), COALESCE(SUM(result = 'confirmed'), 0) FROM order_items
         WHERE order_id = ?1",
        [order_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    match action {
        Action::Rectify | Action::Submit if unresolved > 0 => {
            return Err(FlowError::Invalid(format!(
                "还有 {unresolved} 条疑似问题没有核查结论 / {unresolved} findings have no result yet"
            )));
        }
        Action::Rectify if confirmed == 0 => {
            return Err(FlowError::Invalid(
                "没有确认的问题，无需整改，请直接提交 / nothing confirmed, nothing to rectify: submit instead".into(),
            ));
        }
        Action::Submit if order.state == State::Verifying && confirmed > 0 => {
            return Err(FlowError::Invalid(
                "有确认的问题，请先整改 / confirmed problems must be rectified first".into(),
            ));
        }
        Action::Return if reason.trim().is_empty() => {
            return Err(FlowError::Invalid("退回须写明原因 / a return needs its reasons".into()));
        }
        _ => {}
    }
    let now = now_text();
    tx.execute(
        "UPDATE orders SET state = ?1, updated_at = ?2,
             archived_at = CASE WHEN ?1 = 'archived' THEN ?2 ELSE archived_at END
         WHERE order_id = ?3",
        params![to.code(), now, order_id],
    )?;
    event(&tx, order_id, &actor.username, "transition", Some(order.state), Some(to), reason.trim())?;
    trail::append(
        &tx,
        &actor.username,
        "order.transition",
        &format!("order:{order_id}"),
        Some(&json!({"state": order.state.code()})),
        Some(&json!({"state": to.code(), "action": action.code(), "reason": reason.trim()})),
    )?;
    tx.commit()?;
    Ok(to)
}

/// A finding's result as the station found it on site.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct ResultInput {
    /// `confirmed` or `false_positive`.
    pub result: String,
    /// Cause.
    #[serde(default)]
    pub cause: String,
    /// Money recovered, yuan.
    #[serde(default)]
    pub recovered: Option<f64>,
}

/// Records a finding's result (the station while verifying or rectifying; the audit centre too).
pub fn set_result(
    conn: &mut Connection,
    actor: &Actor,
    order_id: i64,
    finding_id: &str,
    input: &ResultInput,
) -> FlowResult<()> {
    let tx = conn.transaction()?;
    let order = load_order(&tx, actor, order_id)?;
    if !(station_may_act(actor, &order) || actor.role.is_audit_centre()) {
        return Err(FlowError::Forbidden(
            "核查结论由本供电所填写 / results are recorded by the station".into(),
        ));
    }
    if !matches!(order.state, State::Verifying | State::Rectifying) {
        return Err(FlowError::Invalid(format!(
            "工单{}时不能填写核查结论（先开始核查）/ results cannot be recorded while the order is {}",
            order.state.name_zh(),
            order.state.name_en()
        )));
    }
    if !matches!(input.result.as_str(), "confirmed" | "false_positive") {
        return Err(FlowError::Invalid(format!(
            "核查结论应为 confirmed（属实）或 false_positive（不属实）：{} / result must be confirmed or false_positive",
            input.result
        )));
    }
    if let Some(r) = input.recovered
        && !(r.is_finite() && (0.0..=1e12).contains(&r))
    {
        return Err(FlowError::Invalid(format!("追补金额不合理：{r} / recovered amount out of range: {r}")));
    }
    let before: Option<(Option<String>, Option<String>, Option<f64>)> = tx
        .query_row(
            "SELECT result, cause, recovered FROM order_items WHERE order_id = ?1 AND finding_id = ?2",
            params![order_id, finding_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some(before) = before else {
        return Err(FlowError::NotFound(format!(
            "工单中的疑似问题 {finding_id} / finding {finding_id} in this order"
        )));
    };
    tx.execute(
        "UPDATE order_items SET result = ?1, cause = ?2, recovered = ?3 WHERE order_id = ?4 AND finding_id = ?5",
        params![input.result, input.cause.trim(), input.recovered, order_id, finding_id],
    )?;
    tx.execute("UPDATE orders SET updated_at = ?1 WHERE order_id = ?2", params![now_text(), order_id])?;
    event(
        &tx,
        order_id,
        &actor.username,
        "result",
        None,
        None,
        &format!("{finding_id}: {} {}", input.result, input.cause.trim()),
    )?;
    trail::append(
        &tx,
        &actor.username,
        "finding.status",
        &format!("finding:{finding_id}"),
        Some(&json!({"result": before.0, "cause": before.1, "recovered": before.2})),
        Some(&json!({"result": input.result, "cause": input.cause.trim(), "recovered": input.recovered,
                     "order_id": order_id})),
    )?;
    tx.commit()?;
    Ok(())
}

/// Adds a comment.
pub fn comment(conn: &mut Connection, actor: &Actor, order_id: i64, text: &str) -> FlowResult<()> {
    let tx = conn.transaction()?;
    let order = load_order(&tx, actor, order_id)?;
    if actor.role == Role::Manager {
        return Err(FlowError::Forbidden("管理人员只读 / managers read only".into()));
    }
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(FlowError::Invalid(
            "意见应为 1 到 2000 个字 / a comment has 1 to 2000 characters".into(),
        ));
    }
    event(&tx, order.order_id, &actor.username, "comment", None, None, text)?;
    trail::append(
        &tx,
        &actor.username,
        "order.comment",
        &format!("order:{order_id}"),
        None,
        Some(&json!({"text": text})),
    )?;
    tx.commit()?;
    Ok(())
}

/// The type of an evidence file, from its content and name; None when not accepted.
pub fn file_type(name: &str, bytes: &[u8]) -> Option<&'static str> {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let zip = bytes.starts_with(b"PK\x03\x04");
    match ext.as_str() {
        "pdf" if bytes.starts_with(b"%PDF-") => Some("application/pdf"),
        "png" if bytes.starts_with(b"\x89PNG\r\n\x1a\n") => Some("image/png"),
        "jpg" | "jpeg" if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) => Some("image/jpeg"),
        "docx" if zip => Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        "xlsx" if zip => Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        "txt" if std::str::from_utf8(bytes).is_ok() => Some("text/plain; charset=utf-8"),
        _ => None,
    }
}

/// Attaches an evidence file (stored once by its SHA-256, written and synced before it is recorded).
pub fn attach(
    conn: &mut Connection,
    flow: &Flow,
    actor: &Actor,
    order_id: i64,
    name: &str,
    bytes: &[u8],
) -> FlowResult<i64> {
    let order = load_order(conn, actor, order_id)?;
    if !(station_may_act(actor, &order) || actor.role.is_audit_centre()) {
        return Err(FlowError::Forbidden(
            "只有本供电所和稽查中心可上传 / only the station and the audit centre upload".into(),
        ));
    }
    if order.state == State::Archived {
        return Err(FlowError::Invalid(
            "已归档的工单不能再上传 / an archived order takes no more files".into(),
        ));
    }
    if bytes.is_empty() || bytes.len() > MAX_FILE_BYTES {
        return Err(FlowError::Invalid(format!(
            "文件大小应在 1 字节到 {} MiB 之间：{name} / a file must be 1 byte to {} MiB: {name}",
            MAX_FILE_BYTES >> 20,
            MAX_FILE_BYTES >> 20
        )));
    }
    let name: String = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let Some(mime) = file_type(&name, bytes) else {
        return Err(FlowError::Invalid(format!(
            "不接受的文件类型或内容与扩展名不符：{name}（可上传 pdf、png、jpg、docx、xlsx、txt）/ file type not accepted or content does not match its extension: {name} (pdf, png, jpg, docx, xlsx, txt)"
        )));
    };
    let sha = sha256_hex(bytes);
    let path = stored_path(flow, &sha);
    if !path.exists() {
        let dir = path.parent().expect("files dir");
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{sha}.{}", crate::random_hex(4)));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
    }
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO files (order_id, sha256, name, mime, size, uploaded_by, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![order_id, sha, name, mime, bytes.len() as i64, actor.username, now_text()],
    )?;
    let id = tx.last_insert_rowid();
    event(&tx, order_id, &actor.username, "file", None, None, &name)?;
    trail::append(
        &tx,
        &actor.username,
        "order.file",
        &format!("order:{order_id}"),
        None,
        Some(&json!({"file_id": id, "name": name, "sha256": sha, "size": bytes.len()})),
    )?;
    tx.commit()?;
    Ok(id)
}

/// Where a file's content is.
pub fn stored_path(flow: &Flow, sha: &str) -> std::path::PathBuf {
    flow.files_dir().join(&sha[0..2]).join(sha)
}

/// A file the user may see (through its order) and its content.
pub fn file(conn: &Connection, flow: &Flow, actor: &Actor, file_id: i64) -> FlowResult<(FileRow, Vec<u8>)> {
    let order_id: Option<i64> = conn
        .query_row("SELECT order_id FROM files WHERE file_id = ?1", [file_id], |r| r.get(0))
        .optional()?;
    let not_found = || FlowError::NotFound(format!("文件 {file_id} / file {file_id}"));
    let order_id = order_id.ok_or_else(not_found)?;
    load_order(conn, actor, order_id).map_err(|_| not_found())?;
    let row = files_of(conn, order_id)?.into_iter().find(|f| f.file_id == file_id).ok_or_else(not_found)?;
    let bytes = std::fs::read(stored_path(flow, &row.sha256))?;
    Ok((row, bytes))
}

/// An overdue order escalated.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Escalation {
    /// Order.
    pub order_id: i64,
    /// Number.
    pub number: String,
    /// Station.
    pub station_id: String,
    /// Deadline passed.
    pub deadline: String,
    /// Who is told: the station's heads and the audit centre.
    pub recipients: Vec<String>,
}

/// Marks orders past their deadline while with the station and escalates each once to the
/// station head(s) and the audit centre.
pub fn escalate_overdue(conn: &mut Connection) -> FlowResult<Vec<Escalation>> {
    let today = today();
    let system = Actor::system();
    let overdue: Vec<Order> = list(conn, &system, &Filter { overdue: true, ..Filter::default() })?
        .into_iter()
        .filter(|o| o.escalated_at.is_none())
        .collect();
    let tx = conn.transaction()?;
    let mut out = Vec::new();
    for o in overdue {
        let mut recipients: Vec<String> = users::with_role(&tx, Role::StationHead, Some(&o.station_id))?
            .into_iter()
            .map(|u| u.username)
            .collect();
        for role in [Role::Auditor, Role::Lead] {
            recipients.extend(users::with_role(&tx, role, None)?.into_iter().map(|u| u.username));
        }
        let now = now_text();
        tx.execute("UPDATE orders SET escalated_at = ?1 WHERE order_id = ?2", params![now, o.order_id])?;
        let text = format!(
            "超过整改期限 {}（{}），已升级至：{} / past its deadline {}, escalated to: {}",
            o.deadline,
            today,
            recipients.join("、"),
            o.deadline,
            recipients.join(", ")
        );
        event(&tx, o.order_id, "system", "escalated", None, None, &text)?;
        trail::append(
            &tx,
            "system",
            "order.escalate",
            &format!("order:{}", o.order_id),
            Some(&json!({"escalated": false})),
            Some(&json!({"escalated": true, "recipients": recipients})),
        )?;
        out.push(Escalation {
            order_id: o.order_id,
            number: o.number,
            station_id: o.station_id,
            deadline: o.deadline,
            recipients,
        });
    }
    tx.commit()?;
    Ok(out)
}

/// Draws `share` of the orders archived in `month` (`YYYY-MM`) that are not drawn yet, at random
/// but reproducibly for a seed; returns the order ids drawn.
pub fn draw_spot_checks(
    conn: &mut Connection,
    actor: &Actor,
    month: &str,
    share: f64,
    seed: u64,
) -> FlowResult<Vec<i64>> {
    require_audit_centre(actor, "抽查 / spot checks")?;
    if !(share > 0.0 && share <= 1.0) {
        return Err(FlowError::Invalid(format!(
            "抽查比例应在 0 到 1 之间：{share} / share must be in (0, 1]"
        )));
    }
    let tx = conn.transaction()?;
    let mut candidates: Vec<(String, i64)> = {
        let mut stmt = tx.prepare(
            "SELECT order_id FROM orders WHERE state = 'archived' AND substr(archived_at, 1, 7) = ?1
             AND order_id NOT IN (SELECT order_id FROM spot_checks)",
        )?;
        stmt.query_map([month], |r| r.get::<_, i64>(0))?
            .map(|id| id.map(|id| (sha256_hex(format!("{seed}:{id}").as_bytes()), id)))
            .collect::<Result<_, _>>()?
    };
    candidates.sort();
    let n = ((candidates.len() as f64) * share).ceil() as usize;
    let mut drawn = Vec::new();
    for (_, id) in candidates.into_iter().take(n) {
        tx.execute(
            "INSERT INTO spot_checks (order_id, month, drawn_at, drawn_by) VALUES (?1, ?2, ?3, ?4)",
            params![id, month, now_text(), actor.username],
        )?;
        tx.execute(
            "INSERT INTO order_events (order_id, at, actor, kind, text) VALUES (?1, ?2, ?3, 'spot_check', ?4)",
            params![id, now_text(), actor.username, format!("抽中 {month} 抽查 / drawn for the {month} spot check")],
        )?;
        trail::append(
            &tx,
            &actor.username,
            "order.spot_check",
            &format!("order:{id}"),
            None,
            Some(&json!({"month": month})),
        )?;
        drawn.push(id);
    }
    tx.commit()?;
    Ok(drawn)
}

/// Records a spot check's result (`pass` or `fail`).
pub fn record_spot_check(
    conn: &mut Connection,
    actor: &Actor,
    order_id: i64,
    result: &str,
    note: &str,
) -> FlowResult<()> {
    require_audit_centre(actor, "抽查 / spot checks")?;
    if !matches!(result, "pass" | "fail") {
        return Err(FlowError::Invalid(format!(
            "抽查结果应为 pass 或 fail：{result} / result must be pass or fail"
        )));
    }
    let tx = conn.transaction()?;
    let before = spot_check_of(&tx, order_id)?.ok_or_else(|| {
        FlowError::NotFound(format!("工单 {order_id} 未被抽中 / order {order_id} was not drawn"))
    })?;
    tx.execute(
        "UPDATE spot_checks SET result = ?1, note = ?2, checked_by = ?3, checked_at = ?4 WHERE order_id = ?5",
        params![result, note.trim(), actor.username, now_text(), order_id],
    )?;
    tx.execute(
        "INSERT INTO order_events (order_id, at, actor, kind, text) VALUES (?1, ?2, ?3, 'spot_check', ?4)",
        params![order_id, now_text(), actor.username, format!("{result} {}", note.trim())],
    )?;
    trail::append(
        &tx,
        &actor.username,
        "order.spot_check",
        &format!("order:{order_id}"),
        Some(&json!({"result": before.result})),
        Some(&json!({"result": result, "note": note.trim()})),
    )?;
    tx.commit()?;
    Ok(())
}

/// A theme's precision over closed orders.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Precision {
    /// Theme code.
    pub theme: String,
    /// Confirmed on site.
    pub confirmed: i64,
    /// Every finding of the theme in accepted or archived orders.
    pub closed: i64,
    /// confirmed / closed.
    pub precision: f64,
}

/// Each theme's precision over closed (accepted or archived) orders, as the user may see them.
pub fn precision(conn: &Connection, actor: &Actor) -> FlowResult<Vec<Precision>> {
    let mut stmt = conn.prepare(
        "SELECT i.theme, SUM(i.result = 'confirmed'), COUNT(*) FROM order_items i
         JOIN orders o ON o.order_id = i.order_id
         WHERE o.state IN ('accepted', 'archived') AND (?1 IS NULL OR o.station_id = ?1)
         GROUP BY i.theme ORDER BY i.theme",
    )?;
    let rows = stmt.query_map([actor.station_scope()], |r| {
        let confirmed: i64 = r.get(1)?;
        let closed: i64 = r.get(2)?;
        Ok(Precision {
            theme: r.get(0)?,
            confirmed,
            closed,
            precision: confirmed as f64 / closed.max(1) as f64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The open order (if any) and status of each finding id, for lists of findings.
pub fn status_of_findings(conn: &Connection, ids: &[String]) -> FlowResult<BTreeMap<String, (i64, State)>> {
    let mut out = BTreeMap::new();
    // One read transaction for the whole page: each statement on its own would take and release
    // the WAL read lock (system calls) once per finding.
    let read = conn.unchecked_transaction()?;
    let mut stmt = read.prepare_cached(
        "SELECT o.order_id, o.state FROM order_items i JOIN orders o ON o.order_id = i.order_id
         WHERE i.finding_id = ?1 ORDER BY o.order_id DESC LIMIT 1",
    )?;
    for id in ids {
        if let Some((order_id, state)) =
            stmt.query_row([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).optional()?
        {
            out.insert(id.clone(), (order_id, State::parse(&state).unwrap_or(State::Dispatched)));
        }
    }
    drop(stmt);
    read.finish()?;
    Ok(out)
}

/// Counts of orders by state (and overdue), as the user may see them: one grouped query, since
/// every dashboard asks.
pub fn counts(conn: &Connection, actor: &Actor) -> FlowResult<(BTreeMap<State, i64>, i64)> {
    let mut stmt = conn.prepare_cached(
        "SELECT state, COUNT(*), SUM(deadline < ?2 AND state IN ('dispatched', 'verifying', 'rectifying'))
         FROM orders WHERE ?1 IS NULL OR station_id = ?1 GROUP BY state",
    )?;
    let mut by_state = BTreeMap::new();
    let mut overdue = 0;
    let rows = stmt.query_map(params![actor.station_scope(), today()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    })?;
    for row in rows {
        let (state, n, late) = row?;
        if let Some(state) = State::parse(&state) {
            by_state.insert(state, n);
        }
        overdue += late;
    }
    Ok((by_state, overdue))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, theme: &str, entity: &str, station: &str) -> FindingSnapshot {
        FindingSnapshot {
            finding_id: id.into(),
            theme: theme.into(),
            entity_type: "customer".into(),
            entity_id: entity.into(),
            station_id: Some(station.into()),
            period: "2025-12".into(),
            severity: "high".into(),
            evidence: "{}".into(),
            amount_at_risk: Some(100.0),
        }
    }

    fn setup() -> (tempfile::TempDir, Flow, Connection, Actor, Actor, Actor) {
        let dir = tempfile::tempdir().unwrap();
        let flow = Flow::new(dir.path());
        let mut conn = flow.open().unwrap();
        let sys = Actor::system();
        users::add(&mut conn, &sys, "auditor", "", Role::Auditor, None, "password1").unwrap();
        users::add(&mut conn, &sys, "s1", "", Role::StationStaff, Some("S1"), "password1").unwrap();
        users::add(&mut conn, &sys, "s2", "", Role::StationStaff, Some("S2"), "password1").unwrap();
        let a = users::login(&mut conn, "auditor", "password1").unwrap().actor;
        let s1 = users::login(&mut conn, "s1", "password1").unwrap().actor;
        let s2 = users::login(&mut conn, "s2", "password1").unwrap().actor;
        (dir, flow, conn, a, s1, s2)
    }

    #[test]
    fn an_order_goes_round_the_loop_and_a_return_keeps_its_history() {
        let (_d, flow, mut conn, a, s1, s2) = setup();
        let made = create(
            &mut conn,
            &a,
            &[
                finding("f1", "VOL-ZERO", "C1", "S1"),
                finding("f2", "PRC-BILL", "C2", "S1"),
                finding("f3", "VOL-ZERO", "C3", "S2"),
            ],
            "2099-01-31",
            "",
        )
        .unwrap();
        assert_eq!(made.orders.len(), 2, "one order per station");
        let id = made.orders[0].0;
        // Other station: not found; wrong role: forbidden; illegal transition: invalid.
        assert!(matches!(get(&conn, &s2, id), Err(FlowError::NotFound(_))));
        assert!(matches!(transition(&mut conn, &s2, id, Action::Start, ""), Err(FlowError::NotFound(_))));
        assert!(matches!(transition(&mut conn, &a, id, Action::Start, ""), Err(FlowError::Forbidden(_))));
        assert!(matches!(transition(&mut conn, &s1, id, Action::Submit, ""), Err(FlowError::Invalid(_))));
        transition(&mut conn, &s1, id, Action::Start, "").unwrap();
        assert!(matches!(transition(&mut conn, &s1, id, Action::Rectify, ""), Err(FlowError::Invalid(_))));
        let confirmed =
            ResultInput { result: "confirmed".into(), cause: "表计故障".into(), recovered: Some(52.5) };
        set_result(&mut conn, &s1, id, "f1", &confirmed).unwrap();
        let fp = ResultInput { result: "false_positive".into(), cause: "".into(), recovered: None };
        set_result(&mut conn, &s1, id, "f2", &fp).unwrap();
        assert!(matches!(transition(&mut conn, &s1, id, Action::Submit, ""), Err(FlowError::Invalid(_))));
        transition(&mut conn, &s1, id, Action::Rectify, "").unwrap();
        attach(&mut conn, &flow, &s1, id, "现场照片.png", b"\x89PNG\r\n\x1a\nrest").unwrap();
        assert!(attach(&mut conn, &flow, &s1, id, "x.png", b"MZ not a png").is_err());
        transition(&mut conn, &s1, id, Action::Submit, "").unwrap();
        assert!(matches!(transition(&mut conn, &a, id, Action::Return, " "), Err(FlowError::Invalid(_))));
        transition(&mut conn, &a, id, Action::Return, "照片不清晰").unwrap();
        let d = get(&conn, &s1, id).unwrap();
        assert_eq!(d.order.state, State::Verifying);
        assert!(d.events.iter().any(|e| e.text == "照片不清晰"));
        assert_eq!(d.items.iter().filter(|i| i.result.is_some()).count(), 2, "results kept after a return");
        transition(&mut conn, &s1, id, Action::Rectify, "").unwrap();
        transition(&mut conn, &s1, id, Action::Submit, "").unwrap();
        transition(&mut conn, &a, id, Action::Accept, "").unwrap();
        transition(&mut conn, &a, id, Action::Archive, "").unwrap();
        let p = precision(&conn, &a).unwrap();
        assert_eq!(p.iter().find(|p| p.theme == "VOL-ZERO").unwrap().precision, 1.0);
        assert_eq!(p.iter().find(|p| p.theme == "PRC-BILL").unwrap().precision, 0.0);
        let month = &get(&conn, &a, id).unwrap().order.archived_at.unwrap()[0..7];
        assert_eq!(draw_spot_checks(&mut conn, &a, month, 0.1, 1).unwrap(), vec![id]);
        record_spot_check(&mut conn, &a, id, "pass", "暗访属实").unwrap();
        assert!(matches!(trail::verify(&conn).unwrap(), trail::Verdict::Intact { .. }));
        assert_eq!(list(&conn, &s2, &Filter::default()).unwrap().len(), 1);
    }

    #[test]
    fn a_new_finding_joins_the_open_order_of_its_theme_and_entity() {
        let (_d, _flow, mut conn, a, _s1, _s2) = setup();
        let made =
            create(&mut conn, &a, &[finding("f1", "FEE-ARREARS", "C1", "S1")], "2099-01-31", "").unwrap();
        let next = FindingSnapshot { period: "2026-01".into(), ..finding("g1", "FEE-ARREARS", "C1", "S1") };
        let other = finding("g2", "FEE-ARREARS", "C9", "S1");
        assert_eq!(join_open(&mut conn, &[next.clone(), other]).unwrap(), 1);
        let d = get(&conn, &a, made.orders[0].0).unwrap();
        assert_eq!(d.items.len(), 2);
        // Making orders again leaves both alone.
        let again = create(&mut conn, &a, &[next], "2099-01-31", "").unwrap();
        assert_eq!(again.already, vec!["g1".to_string()]);
    }

    #[test]
    fn overdue_orders_escalate_once() {
        let (_d, _flow, mut conn, a, _s1, _s2) = setup();
        users::add(&mut conn, &Actor::system(), "head1", "", Role::StationHead, Some("S1"), "password1")
            .unwrap();
        create(&mut conn, &a, &[finding("f1", "VOL-ZERO", "C1", "S1")], "2000-01-01", "").unwrap();
        let e = escalate_overdue(&mut conn).unwrap();
        assert_eq!(e.len(), 1);
        assert!(
            e[0].recipients.contains(&"head1".to_string())
                && e[0].recipients.contains(&"auditor".to_string())
        );
        assert!(escalate_overdue(&mut conn).unwrap().is_empty());
        let (by_state, overdue) = counts(&conn, &a).unwrap();
        assert_eq!((by_state.get(&State::Dispatched).copied(), overdue), (Some(1), 1));
    }
}

/// A station's audit orders over a span of days, for the indicators (稽查整改按期率, 追补电费).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct StationTally {
    /// Orders whose deadline falls in the span.
    pub due: u64,
    /// Of those, submitted by the station (and not since returned) on or before the deadline.
    pub on_time: u64,
    /// Money recovered on the orders accepted in the span, yuan.
    pub recovered: f64,
}

/// Every station's audit orders over [first, last] (`YYYY-MM-DD`), within the actor's scope.
pub fn station_tallies(
    conn: &Connection,
    actor: &Actor,
    first: &str,
    last: &str,
) -> FlowResult<BTreeMap<String, StationTally>> {
    let read = conn.unchecked_transaction()?;
    let mut out: BTreeMap<String, StationTally> = BTreeMap::new();
    let mut stmt = read.prepare_cached(
        "SELECT o.station_id, COUNT(*),
                SUM(o.state IN ('submitted', 'accepted', 'archived')
                    AND (SELECT MAX(substr(e.at, 1, 10)) FROM order_events e
                         WHERE e.order_id = o.order_id AND e.to_state = 'submitted') <= o.deadline)
         FROM orders o WHERE o.deadline BETWEEN ?1 AND ?2 AND (?3 IS NULL OR o.station_id = ?3)
         GROUP BY o.station_id",
    )?;
    let rows = stmt.query_map(params![first, last, actor.station_scope()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<i64>>(2)?))
    })?;
    for row in rows {
        let (station, due, on_time) = row?;
        let t = out.entry(station).or_default();
        t.due = due as u64;
        t.on_time = on_time.unwrap_or(0) as u64;
    }
    let mut stmt = read.prepare_cached(
        "SELECT o.station_id, SUM(COALESCE(i.recovered, 0)) FROM order_items i
         JOIN orders o ON o.order_id = i.order_id
         WHERE (?3 IS NULL OR o.station_id = ?3) AND o.order_id IN
               (SELECT order_id FROM order_events WHERE to_state = 'accepted'
                AND substr(at, 1, 10) BETWEEN ?1 AND ?2)
         GROUP BY o.station_id",
    )?;
    let rows = stmt.query_map(params![first, last, actor.station_scope()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?))
    })?;
    for row in rows {
        let (station, recovered) = row?;
        out.entry(station).or_default().recovered = recovered;
    }
    Ok(out)
}

/// Open audit orders due on a day: (station, number, title).
pub type DueOrders = Vec<(String, String, String)>;

/// Open audit orders (with the station) due on `day` (`YYYY-MM-DD`), and per station how many are
/// past their deadline, for the daily briefing.
pub fn due_and_overdue(conn: &Connection, day: &str) -> FlowResult<(DueOrders, BTreeMap<String, u64>)> {
    let read = conn.unchecked_transaction()?;
    let mut stmt = read.prepare_cached(
        "SELECT station_id, number, title FROM orders
         WHERE deadline = ?1 AND state IN ('dispatched', 'verifying', 'rectifying') ORDER BY station_id, number",
    )?;
    let due = stmt
        .query_map([day], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<DueOrders, _>>()?;
    let mut stmt = read.prepare_cached(
        "SELECT station_id, COUNT(*) FROM orders
         WHERE deadline < ?1 AND state IN ('dispatched', 'verifying', 'rectifying') GROUP BY station_id",
    )?;
    let overdue = stmt
        .query_map([day], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    Ok((due, overdue))
}
