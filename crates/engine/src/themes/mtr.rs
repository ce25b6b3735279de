//! The meter themes: MTR-OVERDUE 电能表超期未检, MTR-MULTIPLIER 倍率档案不符, MTR-SEAL 封印异常.

use std::sync::Arc;

use foldhash::HashMap;

use chrono::Months;
use jicha_core::calendar::{from_epoch_days, to_epoch_days};
use jicha_core::codes::is_low_voltage;

use crate::columns::{bools, days, floats, text, texts};
use crate::error::EngineResult;
use crate::finding::{Finding, num};
use crate::session::Session;
use crate::theme::{Param, Params, Theme, Window, need};
use crate::themes::common::{Customer, customers};

/// A meter's archive with its customer's station and voltage.
struct MeterRow {
    meter_id: String,
    customer_id: String,
    station_id: Option<String>,
    voltage: Option<String>,
    multiplier: Option<f64>,
    ct_ratio: Option<String>,
    pt_ratio: Option<String>,
    installed_on: Option<i32>,
    removed_on: Option<i32>,
    verified_on: Option<i32>,
    seal_ids: Option<String>,
}

impl MeterRow {
    fn in_service(&self, d: i32) -> bool {
        self.installed_on.is_some_and(|i| i <= d) && self.removed_on.is_none_or(|r| d < r)
    }
}

/// Every meter with its customer's station and voltage (shared by the meter themes of a session),
/// the customer found in the archive the themes share instead of a join per theme.
fn meter_rows(session: &Session) -> EngineResult<Arc<Vec<MeterRow>>> {
    session.memo("meter_rows", || {
        let cust = customers(session)?;
        let sql = "SELECT meter_id, customer_id, multiplier, ct_ratio, pt_ratio, installed_on, removed_on,
                          verified_on, seal_ids
                   FROM meters";
        let mut out = Vec::with_capacity(session.row_count("meters") as usize);
        for b in session.run(sql, "电能表档案 / meters")? {
            let (id, customer) = (text(&b, "meter_id")?, texts(&b, "customer_id")?);
            let (mult, ct, pt) = (floats(&b, "multiplier")?, texts(&b, "ct_ratio")?, texts(&b, "pt_ratio")?);
            let (inst, rem, ver, seal) = (
                days(&b, "installed_on")?,
                days(&b, "removed_on")?,
                days(&b, "verified_on")?,
                texts(&b, "seal_ids")?,
            );
            for i in 0..b.num_rows() {
                let c = customer[i].as_deref().and_then(|c| cust.get(c));
                out.push(MeterRow {
                    meter_id: id[i].clone(),
                    customer_id: customer[i].clone().unwrap_or_default(),
                    station_id: c.and_then(Customer::station),
                    voltage: c.and_then(|c| c.voltage.as_deref().map(str::to_string)),
                    multiplier: mult[i],
                    ct_ratio: ct[i].clone(),
                    pt_ratio: pt[i].clone(),
                    installed_on: inst[i],
                    removed_on: rem[i],
                    verified_on: ver[i],
                    seal_ids: seal[i].clone(),
                });
            }
        }
        Ok(out)
    })
}

fn date_value(d: i32) -> serde_json::Value {
    serde_json::Value::from(from_epoch_days(d).to_string())
}

/// 电能表超期未检.
pub struct MtrOverdue;

impl Theme for MtrOverdue {
    describe! {
        code: "MTR-OVERDUE", zh: "电能表超期未检", en: "Meter overdue for verification", specialty: Metering,
        entity: Meter, severity: Low,
        params: &[
            Param { name: "low_voltage_years", default: 8.0, doc: "低压表检定周期（年）/ years for low-voltage meters" },
            Param { name: "high_voltage_years", default: 6.0, doc: "高压表检定周期（年）/ years for high-voltage meters" },
        ],
        needs: &[need("meters", &["meter_id", "customer_id", "installed_on"]), need("customers", &["customer_id"])],
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let as_of = w.as_of_day();
        let mut out = Vec::new();
        for m in meter_rows(session)?.iter() {
            if !m.in_service(as_of) {
                continue;
            }
            let Some(base) = m.verified_on.or(m.installed_on) else { continue };
            let low = is_low_voltage(m.voltage.as_deref());
            let years = (if low { p.get("low_voltage_years") } else { p.get("high_voltage_years") }) as u32;
            // Calendar years: verified 2017-11-15 is due on 2025-11-15, overdue after it.
            let due =
                from_epoch_days(base).checked_add_months(Months::new(12 * years)).map_or(base, to_epoch_days);
            if due < as_of {
                out.push(self.finding(
                    w,
                    &m.meter_id,
                    m.station_id.clone(),
                    &[
                        ("verified_or_installed_on", date_value(base)),
                        ("due_on", date_value(due)),
                        ("years", num(f64::from(years))),
                        ("days_overdue", serde_json::Value::from(as_of - due)),
                    ],
                ));
            }
        }
        Ok(out)
    }
}

/// `a/b` as a ratio, `None` unless both sides are positive numbers.
fn ratio(text: &str) -> Option<f64> {
    let (a, b) = text.trim().split_once('/')?;
    let (a, b): (f64, f64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a > 0.0 && b > 0.0).then_some(a / b)
}

/// 倍率档案不符.
pub struct MtrMultiplier;

impl Theme for MtrMultiplier {
    describe! {
        code: "MTR-MULTIPLIER", zh: "倍率档案不符", en: "Multiplier does not match CT x PT", specialty: Metering,
        entity: Meter, severity: High, params: &[],
        needs: &[need("meters", &["meter_id", "multiplier", "ct_ratio"]), need("customers", &["customer_id"])],
    }

    fn run(&self, session: &Session, w: &Window, _p: &Params) -> EngineResult<Vec<Finding>> {
        let mut out = Vec::new();
        for m in meter_rows(session)?.iter() {
            let Some(ct) = m.ct_ratio.as_deref().and_then(ratio) else { continue };
            let pt = match m.pt_ratio.as_deref() {
                None => 1.0,
                Some(t) => match ratio(t) {
                    Some(r) => r,
                    None => continue,
                },
            };
            let Some(mult) = m.multiplier else { continue };
            let product = ct * pt;
            if (mult - product).abs() > 1e-6 * product.max(1.0) {
                out.push(self.finding(
                    w,
                    &m.meter_id,
                    m.station_id.clone(),
                    &[("multiplier", num(mult)), ("ct_x_pt", num(product))],
                ));
            }
        }
        Ok(out)
    }
}

/// 封印异常.
pub struct MtrSeal;

impl Theme for MtrSeal {
    describe! {
        code: "MTR-SEAL", zh: "封印异常", en: "Seal missing or broken", specialty: Inspection,
        entity: Meter, severity: High, params: &[],
        needs: &[need("meters", &["meter_id", "customer_id", "installed_on"]), need("customers", &["customer_id"]), need("field_checks", &["check_id", "customer_id", "checked_on"])],
    }

    fn run(&self, session: &Session, w: &Window, _p: &Params) -> EngineResult<Vec<Finding>> {
        // The latest check of each customer: latest checked_on, ties broken by the larger check_id.
        let sql = "SELECT check_id, customer_id, checked_on, seal_intact FROM field_checks";
        let mut latest: HashMap<String, (i32, String, Option<bool>)> = HashMap::default();
        for b in session.run(sql, "现场检查 / field checks")? {
            let (id, cust, on, seal) = (
                text(&b, "check_id")?,
                text(&b, "customer_id")?,
                days(&b, "checked_on")?,
                bools(&b, "seal_intact")?,
            );
            for i in 0..b.num_rows() {
                let Some(d) = on[i] else { continue };
                let e = latest.entry(cust[i].clone()).or_insert((d, id[i].clone(), seal[i]));
                if (d, id[i].as_str()) > (e.0, e.1.as_str()) {
                    *e = (d, id[i].clone(), seal[i]);
                }
            }
        }
        let as_of = w.as_of_day();
        let mut out = Vec::new();
        for m in meter_rows(session)?.iter() {
            if !m.in_service(as_of) {
                continue;
            }
            let unsealed = m.seal_ids.as_deref().is_none_or(|s| s.trim().is_empty());
            let check = latest.get(&m.customer_id);
            let broken = check.is_some_and(|c| c.2 == Some(false));
            if unsealed || broken {
                let mut ev = vec![
                    ("seal_ids_empty", serde_json::Value::from(unsealed)),
                    ("latest_check_seal_broken", serde_json::Value::from(broken)),
                ];
                if let Some(c) = check.filter(|_| broken) {
                    ev.push(("latest_check_on", date_value(c.0)));
                    ev.push(("latest_check_id", serde_json::Value::from(c.1.clone())));
                }
                out.push(self.finding(w, &m.meter_id, m.station_id.clone(), &ev));
            }
        }
        Ok(out)
    }
}
