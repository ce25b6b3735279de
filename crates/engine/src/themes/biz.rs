//! Counter business: BIZ-OVERTIME 业扩超时限, BIZ-BACKLOG 工单积压, BIZ-ARCHIVE 归档不及时,
//! BIZ-FEE 违规收取业务费. Durations are exact (seconds / 86 400), calendar days; cancelled orders
//! are ignored; "in the period" is from the first day 00:00 up to the as-of date 00:00.

use jicha_core::codes::is_low_voltage;

use crate::columns::{floats, seconds, text, texts};
use crate::error::EngineResult;
use crate::finding::{Finding, num};
use crate::session::Session;
use crate::theme::{Need, Param, Params, Theme, Window, finding_of, need};

const DAY: i64 = 86_400;

/// A work order with what the themes need of its customer.
struct Order {
    order_id: String,
    kind: String,
    station_id: String,
    low_voltage: bool,
    resident: bool,
    accepted_at: Option<i64>,
    connected_at: Option<i64>,
    archived_at: Option<i64>,
    status: String,
    fees_charged: Option<f64>,
}

fn orders(session: &Session) -> EngineResult<Vec<Order>> {
    let sql = "SELECT o.order_id, o.kind, o.station_id, COALESCE(o.voltage, c.voltage) AS voltage,
                      c.category, o.accepted_at, o.connected_at, o.archived_at, o.status, o.fees_charged
               FROM work_orders o LEFT JOIN customers c ON c.customer_id = o.customer_id
               WHERE o.status <> 'cancelled'";
    let mut out = Vec::new();
    for b in session.run(sql, "业务工单 / work orders")? {
        let (id, kind, st, volt, cat) = (
            text(&b, "order_id")?,
            text(&b, "kind")?,
            text(&b, "station_id")?,
            texts(&b, "voltage")?,
            texts(&b, "category")?,
        );
        let (acc, con, arc) =
            (seconds(&b, "accepted_at")?, seconds(&b, "connected_at")?, seconds(&b, "archived_at")?);
        let (status, fees) = (text(&b, "status")?, floats(&b, "fees_charged")?);
        for i in 0..b.num_rows() {
            out.push(Order {
                order_id: id[i].clone(),
                kind: kind[i].clone(),
                station_id: st[i].clone(),
                low_voltage: is_low_voltage(volt[i].as_deref()),
                // An order without a customer is of category "other".
                resident: cat[i].as_deref() == Some("resident"),
                accepted_at: acc[i],
                connected_at: con[i],
                archived_at: arc[i],
                status: status[i].clone(),
                fees_charged: fees[i],
            });
        }
    }
    Ok(out)
}

/// The window as seconds: first day 00:00 and as-of date 00:00 (local time, as stored).
fn bounds(w: &Window) -> (i64, i64) {
    (i64::from(w.first()) * DAY, i64::from(w.as_of_day()) * DAY)
}

fn days_value(secs: i64) -> serde_json::Value {
    num(secs as f64 / DAY as f64)
}

fn finding(theme: &dyn Theme, o: &Order, w: &Window, ev: &[(&str, serde_json::Value)]) -> Finding {
    finding_of(theme, w, &o.order_id, Some(o.station_id.clone()), ev)
}

const NEEDS: &[Need] = &[
    need("work_orders", &["order_id", "kind", "station_id", "accepted_at", "status"]),
    need("customers", &["customer_id"]),
];

/// 业扩超时限.
pub struct BizOvertime;

impl Theme for BizOvertime {
    describe! {
        code: "BIZ-OVERTIME", zh: "业扩超时限", en: "Connection over the time limit", specialty: Expansion,
        entity: WorkOrder, severity: Medium,
        params: &[
            Param { name: "resident_days", default: 5.0, doc: "低压居民时限（天）/ days, low-voltage residents" },
            Param { name: "low_voltage_days", default: 15.0, doc: "其他低压时限（天）/ days, other low voltage" },
            Param { name: "high_voltage_days", default: 60.0, doc: "高压时限（天）/ days, high voltage" },
        ],
        needs: NEEDS,
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let (first, as_of) = bounds(w);
        let mut out = Vec::new();
        for o in orders(session)? {
            if o.kind != "new_connection" && o.kind != "capacity_increase" {
                continue;
            }
            let Some(acc) = o.accepted_at else { continue };
            let span = match o.connected_at {
                Some(t) if first <= t && t < as_of => t - acc,
                None if o.status == "open" && acc <= as_of => as_of - acc,
                _ => continue,
            };
            let limit = if !o.low_voltage {
                p.get("high_voltage_days")
            } else if o.resident {
                p.get("resident_days")
            } else {
                p.get("low_voltage_days")
            };
            if span as f64 > limit * DAY as f64 {
                out.push(finding(
                    self,
                    &o,
                    w,
                    &[
                        ("days", days_value(span)),
                        ("limit_days", num(limit)),
                        ("open", serde_json::Value::from(o.connected_at.is_none())),
                    ],
                ));
            }
        }
        Ok(out)
    }
}

/// 工单积压.
pub struct BizBacklog;

impl Theme for BizBacklog {
    describe! {
        code: "BIZ-BACKLOG", zh: "工单积压", en: "Work order backlog", specialty: Counter, entity: WorkOrder,
        severity: Low,
        params: &[Param { name: "max_days", default: 30.0, doc: "在途天数上限 / days open, at most" }],
        needs: NEEDS,
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let (_, as_of) = bounds(w);
        let max = p.get("max_days") * DAY as f64;
        let mut out = Vec::new();
        for o in orders(session)? {
            let Some(acc) = o.accepted_at else { continue };
            if o.status == "open" && (as_of - acc) as f64 > max {
                out.push(finding(self, &o, w, &[("days_open", days_value(as_of - acc))]));
            }
        }
        Ok(out)
    }
}

/// 归档不及时.
pub struct BizArchive;

impl Theme for BizArchive {
    describe! {
        code: "BIZ-ARCHIVE", zh: "归档不及时", en: "Late archiving", specialty: Counter, entity: WorkOrder,
        severity: Low,
        params: &[Param { name: "max_days", default: 7.0, doc: "接电后归档天数上限 / days from connection to archiving" }],
        needs: NEEDS,
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let (first, as_of) = bounds(w);
        let max = (p.get("max_days") * DAY as f64).round() as i64;
        let mut out = Vec::new();
        for o in orders(session)? {
            let Some(conn) = o.connected_at else { continue };
            let deadline = conn + max;
            let fires = if first <= deadline && deadline < as_of {
                match o.archived_at {
                    Some(a) => a - conn > max,
                    None => as_of - conn > max,
                }
            } else {
                deadline < first && o.archived_at.is_none_or(|a| a > as_of)
            };
            if fires {
                let late = o.archived_at.filter(|a| *a <= as_of).unwrap_or(as_of) - conn;
                out.push(finding(
                    self,
                    &o,
                    w,
                    &[
                        ("days_to_archive", days_value(late)),
                        ("archived", serde_json::Value::from(o.archived_at.is_some_and(|a| a <= as_of))),
                    ],
                ));
            }
        }
        Ok(out)
    }
}

/// 违规收取业务费.
pub struct BizFee;

impl Theme for BizFee {
    describe! {
        code: "BIZ-FEE", zh: "违规收取业务费", en: "Fees charged for a low-voltage connection", specialty: Counter,
        entity: WorkOrder, severity: High, params: &[],
        needs: &[need("work_orders", &["order_id", "kind", "station_id", "accepted_at", "status", "fees_charged"]), need("customers", &["customer_id"])],
    }

    fn run(&self, session: &Session, w: &Window, _p: &Params) -> EngineResult<Vec<Finding>> {
        let (first, as_of) = bounds(w);
        let mut out = Vec::new();
        for o in orders(session)? {
            let accepted_in = o.accepted_at.is_some_and(|a| first <= a && a < as_of);
            let fee = o.fees_charged.unwrap_or(0.0);
            if o.kind == "new_connection" && o.low_voltage && fee > 0.0 && accepted_in {
                out.push(finding(self, &o, w, &[("fees_charged", num(fee))]).with_amount(Some(fee)));
            }
        }
        Ok(out)
    }
}
