//! Archives: ARC-TOPOLOGY 户变关系异常, ARC-INFO 客户信息不完整, TMP-OVERDUE 临时用电超期.

use crate::columns::{days, text, texts};
use crate::error::EngineResult;
use crate::finding::{Finding, int};
use crate::session::Session;
use crate::theme::{Param, Params, Theme, Window, need};
use crate::themes::common::areas;

/// Empty after trimming, or a placeholder (`0`, `-`, `/`, `无`) for phone and address.
pub fn is_blank(text: Option<&str>) -> bool {
    text.is_none_or(|t| matches!(t.trim(), "" | "0" | "-" | "/" | "无"))
}

/// 户变关系异常.
pub struct ArcTopology;

impl Theme for ArcTopology {
    describe! {
        code: "ARC-TOPOLOGY", zh: "户变关系异常", en: "Customer-transformer relation inconsistent", specialty: Market,
        entity: Customer, severity: Medium, params: &[],
        needs: &[need("customers", &["customer_id", "tq_id", "station_id", "status"]), need("transformer_areas", &["tq_id", "feeder_id", "station_id"])],
    }

    fn run(&self, session: &Session, w: &Window, _p: &Params) -> EngineResult<Vec<Finding>> {
        let areas = areas(session)?;
        let sql =
            "SELECT customer_id, tq_id, feeder_id, station_id, status FROM customers WHERE tq_id IS NOT NULL";
        let mut out = Vec::new();
        for b in session.run(sql, "用户档案 / customers")? {
            let (id, tq, f, s, status) = (
                text(&b, "customer_id")?,
                text(&b, "tq_id")?,
                texts(&b, "feeder_id")?,
                text(&b, "station_id")?,
                text(&b, "status")?,
            );
            for i in 0..b.num_rows() {
                let Some((af, ast)) = areas.get(&tq[i]) else { continue };
                if status[i] == "closed" {
                    continue;
                }
                let feeder_differs = f[i].as_ref().is_some_and(|f| f != af);
                if feeder_differs || *ast != s[i] {
                    out.push(self.finding(
                        w,
                        &id[i],
                        Some(s[i].clone()),
                        &[
                            ("tq_id", serde_json::Value::from(tq[i].clone())),
                            ("area_feeder_id", serde_json::Value::from(af.clone())),
                            ("customer_feeder_id", serde_json::Value::from(f[i].clone())),
                            ("area_station_id", serde_json::Value::from(ast.clone())),
                            ("customer_station_id", serde_json::Value::from(s[i].clone())),
                        ],
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// 客户信息不完整.
pub struct ArcInfo;

impl Theme for ArcInfo {
    describe! {
        code: "ARC-INFO", zh: "客户信息不完整", en: "Customer contact incomplete", specialty: Market,
        entity: Customer, severity: Low, params: &[],
        needs: &[need("customers", &["customer_id", "status", "station_id"])],
    }

    fn run(&self, session: &Session, w: &Window, _p: &Params) -> EngineResult<Vec<Finding>> {
        let sql = "SELECT customer_id, station_id, phone, address FROM customers WHERE status = 'active'";
        let mut out = Vec::new();
        for b in session.run(sql, "用户档案 / customers")? {
            let (id, st, phone, addr) = (
                text(&b, "customer_id")?,
                text(&b, "station_id")?,
                texts(&b, "phone")?,
                texts(&b, "address")?,
            );
            for i in 0..b.num_rows() {
                let (np, na) = (is_blank(phone[i].as_deref()), is_blank(addr[i].as_deref()));
                if np || na {
                    out.push(self.finding(
                        w,
                        &id[i],
                        Some(st[i].clone()),
                        &[
                            ("phone_missing", serde_json::Value::from(np)),
                            ("address_missing", serde_json::Value::from(na)),
                        ],
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// 临时用电超期.
pub struct TmpOverdue;

impl Theme for TmpOverdue {
    describe! {
        code: "TMP-OVERDUE", zh: "临时用电超期", en: "Temporary supply overdue", specialty: Rural,
        entity: Customer, severity: Medium,
        params: &[Param { name: "max_days", default: 180.0, doc: "无到期日时立户后天数上限 / days since opening when no expiry date" }],
        needs: &[need("customers", &["customer_id", "status", "opened_on", "temporary"])],
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let sql = "SELECT customer_id, station_id, opened_on, temp_expires_on FROM customers
                   WHERE status = 'active' AND temporary";
        let as_of = w.as_of_day();
        let max = p.get("max_days") as i32;
        let mut out = Vec::new();
        for b in session.run(sql, "临时用电 / temporary customers")? {
            let (id, st, opened, exp) = (
                text(&b, "customer_id")?,
                text(&b, "station_id")?,
                days(&b, "opened_on")?,
                days(&b, "temp_expires_on")?,
            );
            for i in 0..b.num_rows() {
                let overdue = match (exp[i], opened[i]) {
                    (Some(e), _) => e < as_of,
                    (None, Some(o)) => as_of - o > max,
                    (None, None) => false,
                };
                if overdue {
                    let days_over =
                        exp[i].map_or_else(|| as_of - opened[i].unwrap_or(as_of) - max, |e| as_of - e);
                    out.push(self.finding(
                        w,
                        &id[i],
                        Some(st[i].clone()),
                        &[
                            ("days_overdue", int(i64::from(days_over))),
                            ("has_expiry_date", serde_json::Value::from(exp[i].is_some())),
                        ],
                    ));
                }
            }
        }
        Ok(out)
    }
}
