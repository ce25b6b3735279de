//! The bill themes: PRC-CATEGORY 电价执行错误, PRC-BILL 电费计算差错, PRC-KWH 结算电量差错,
//! PRC-BASIC 基本电费漏收, PRC-PF 力调电费未执行. Money is `Decimal`, recomputed by
//! `jicha_core::tariff` exactly as the generator issues bills.

use std::sync::Arc;

use foldhash::HashMap;

use jicha_core::tariff::{bill_differs, version_on};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use crate::columns::{float_array, floats, strings, text, texts};
use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::id_table::IdTable;
use crate::session::Session;
use crate::theme::{Need, Params, Theme, Window, need};
use crate::themes::common::{customers, round_to_i64, tariffs};
use crate::themes::vol_customer::{DEFAULT_BASELINE_DAYS, shared_months};

/// Yuan or kWh to the cent (hundredth), undoing binary floating point; an amount within a
/// millionth of a cent of a whole cent (every amount written with two decimals) is that cent
/// without the detour through the float's exact decimal expansion.
pub fn cents(x: f64) -> Option<Decimal> {
    decimal(x).map(|d| d.round_dp(2))
}

/// The float `x` as a decimal: the whole cent it is within a millionth of, else its own value
/// (None when not finite or beyond the decimals' range).
fn decimal(x: f64) -> Option<Decimal> {
    near_cent(x).map(|c| Decimal::new(c, 2)).or_else(|| Decimal::from_f64(x))
}

/// The whole number of cents `x` is within a millionth of a cent of, if any.
fn near_cent(x: f64) -> Option<i64> {
    let y = x * 100.0;
    let r = round_to_i64(y);
    (y.is_finite() && y.abs() < 1e15 && (y - r as f64).abs() < 1e-6).then_some(r)
}

/// [`cents`] as a whole number of cents.
pub fn whole_cents(x: f64) -> Option<i64> {
    near_cent(x).or_else(|| cents(x).and_then(|d| (d * Decimal::ONE_HUNDRED).to_i64()))
}

fn dnum(d: Decimal) -> serde_json::Value {
    num(d.to_f64().unwrap_or(0.0))
}

/// One bill of the period.
struct Bill {
    bill_id: String,
    customer_id: String,
    kwh: Option<f64>,
    amount: Option<f64>,
    tariff_code: Option<String>,
    basic_charge: Option<f64>,
    pf_adjustment: Option<f64>,
}

/// The period's bills, read once per session for the four themes that check them.
fn bills_of(session: &Session, w: &Window) -> EngineResult<Arc<Vec<Bill>>> {
    session.memo(&format!("bills/{}", w.period), || {
        let sql = format!(
            "SELECT bill_id, customer_id, kwh, amount, tariff_code, basic_charge, pf_adjustment
             FROM bills WHERE period = '{}'",
            w.period
        );
        let mut out = Vec::new();
        for b in session.run(&sql, "本月账单 / bills of the period")? {
            let (id, cust, kwh, amount) =
                (text(&b, "bill_id")?, text(&b, "customer_id")?, floats(&b, "kwh")?, floats(&b, "amount")?);
            let (tc, basic, pf) =
                (texts(&b, "tariff_code")?, floats(&b, "basic_charge")?, floats(&b, "pf_adjustment")?);
            out.reserve(b.num_rows());
            for i in 0..b.num_rows() {
                out.push(Bill {
                    bill_id: id[i].clone(),
                    customer_id: cust[i].clone(),
                    kwh: kwh[i],
                    amount: amount[i],
                    tariff_code: tc[i].clone(),
                    basic_charge: basic[i],
                    pf_adjustment: pf[i],
                });
            }
        }
        Ok(out)
    })
}

/// 电价执行错误(类别不符).
pub struct PrcCategory;

impl Theme for PrcCategory {
    describe! {
        code: "PRC-CATEGORY", zh: "电价执行错误(类别不符)", en: "Tariff of another category", specialty: Billing,
        entity: Customer, severity: High, params: &[],
        needs: &[need("customers", &["customer_id", "category", "tariff_code", "status", "opened_on"]), need("tariffs", &["tariff_code", "category"])],
    }

    fn run(&self, session: &Session, w: &Window, _p: &Params) -> EngineResult<Vec<Finding>> {
        let tariffs = tariffs(session)?;
        let mut out = Vec::new();
        for (id, c) in customers(session)?.iter() {
            if !c.active_through(w) {
                continue;
            }
            let Some(t) = version_on(tariffs.as_slice(), &c.tariff_code, w.period.last_day()) else {
                continue;
            };
            if t.category.code() != &*c.category {
                out.push(self.finding(
                    w,
                    id,
                    Some(c.station_id.to_string()),
                    &[
                        ("tariff_code", serde_json::Value::from(&*c.tariff_code)),
                        ("tariff_category", serde_json::Value::from(t.category.code())),
                        ("customer_category", serde_json::Value::from(&*c.category)),
                        ("price", dnum(t.price)),
                    ],
                ));
            }
        }
        Ok(out)
    }
}

const BILL_NEEDS: &[Need] = &[
    need("bills", &["bill_id", "customer_id", "period", "kwh", "amount"]),
    need("customers", &["customer_id", "tariff_code", "station_id"]),
    need("tariffs", &["tariff_code", "price"]),
];

/// 电费计算差错.
pub struct PrcBill;

impl Theme for PrcBill {
    describe! {
        code: "PRC-BILL", zh: "电费计算差错", en: "Bill amount miscalculated", specialty: Billing,
        entity: Bill, severity: High, params: &[], needs: BILL_NEEDS,
    }

    fn run(&self, session: &Session, w: &Window, _p: &Params) -> EngineResult<Vec<Finding>> {
        let tariffs = tariffs(session)?;
        let cust = customers(session)?;
        // kWh of each customer's earlier bills of the same year (yearly stepped tariffs), summed
        // exactly as decimals (each bill's kWh to the cent when it is one, as the store holds
        // them), a batch of bills at a time into a table by customer.
        let sql = format!(
            "SELECT customer_id, kwh FROM bills
             WHERE period >= '{}-01' AND period < '{}' AND customer_id IS NOT NULL AND kwh IS NOT NULL",
            w.period.year(),
            w.period
        );
        // A kWh that is no finite decimal, or a sum beyond the decimals' range, leaves the
        // customer without a sum (as the float sum's cents would be none): flagged `true`.
        let mut earlier: IdTable<(Decimal, bool)> =
            IdTable::with_capacity(session.row_count("customers") as usize);
        session.for_each_batch(&sql, "本年此前电量 / earlier kWh of the year", |b| {
            let (ids, kwh) = (strings(b, "customer_id")?, float_array(b, "kwh")?);
            let exact = |k: f64| decimal(k).map_or((Decimal::ZERO, true), |d| (d, false));
            earlier.add_all(
                b.num_rows(),
                |i| Some((ids.value(i), exact(kwh.value(i)))),
                |sum, (k, bad)| match sum.0.checked_add(k) {
                    Some(total) if !sum.1 && !bad => sum.0 = total,
                    _ => *sum = (Decimal::ZERO, true),
                },
            );
            Ok(())
        })?;
        let mut out = Vec::new();
        for bill in bills_of(session, w)?.iter() {
            let Some(c) = cust.get(&bill.customer_id) else { continue };
            let code = bill.tariff_code.as_deref().unwrap_or(&c.tariff_code);
            let Some(t) = version_on(tariffs.as_slice(), code, w.period.last_day()) else { continue };
            let (Some(kwh), Some(amount)) = (bill.kwh.and_then(cents), bill.amount.and_then(cents)) else {
                continue;
            };
            let kva = c.contract_kva.filter(|k| *k > 0.0).and_then(Decimal::from_f64);
            let pf = bill.pf_adjustment.and_then(cents);
            let before =
                earlier.get(&bill.customer_id).filter(|k| !k.1).map(|k| k.0.round_dp(2)).unwrap_or_default();
            // A two-part bill without a contract capacity is not checked (None).
            let Some(re) = t.charges(kwh, before, kva, pf) else { continue };
            if bill_differs(amount, re.amount) {
                let diff = amount - re.amount;
                out.push(
                    self.finding(
                        w,
                        &bill.bill_id,
                        Some(c.station_id.to_string()),
                        &[
                            ("amount", dnum(amount)),
                            ("recomputed", dnum(re.amount)),
                            ("difference", dnum(diff)),
                            ("kwh", dnum(kwh)),
                            ("energy_charge", dnum(re.energy)),
                            ("basic_charge", dnum(re.basic.unwrap_or_default())),
                            ("pf_adjustment", dnum(re.pf_adjustment)),
                        ],
                    )
                    .with_amount(diff.abs().to_f64()),
                );
            }
        }
        Ok(out)
    }
}

/// 结算电量差错(漏记、错记).
pub struct PrcKwh;

impl Theme for PrcKwh {
    describe! {
        code: "PRC-KWH", zh: "结算电量差错(漏记、错记)", en: "Billed kWh differ from metered", specialty: Billing,
        entity: Bill, severity: High, params: &[
            crate::theme::Param { name: "max_kwh", default: 1.0, doc: "允许偏差 kWh / tolerated difference, kWh" },
            crate::theme::Param { name: "max_share", default: 0.01, doc: "允许偏差比例 / tolerated share of the metered kWh" },
        ],
        needs: &[
            need("bills", &["bill_id", "customer_id", "period", "kwh"]),
            need("customers", &["customer_id", "station_id", "tariff_code"]),
            need("daily_consumption", &["customer_id", "date"]),
            need("tariffs", &["tariff_code", "price"]),
        ],
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        // Metered kWh (hundredths) of the customers whose every day of the month is known, from
        // the consumption aggregate the volume themes share.
        let months = shared_months(session, w, DEFAULT_BASELINE_DAYS)?;
        let metered: HashMap<&str, i64> = months
            .iter()
            .filter(|m| m.known == w.days())
            .map(|m| (m.customer_id.as_str(), m.total))
            .collect();
        let tariffs = tariffs(session)?;
        let cust = customers(session)?;
        let (max_h, share) =
            ((p.get("max_kwh") * 100.0).round() as i128, crate::themes::common::milli(p.get("max_share")));
        let mut out = Vec::new();
        for bill in bills_of(session, w)?.iter() {
            let (Some(&m), Some(kwh)) = (metered.get(bill.customer_id.as_str()), bill.kwh) else { continue };
            let billed = crate::themes::common::hundredths(kwh);
            let diff = i128::from((billed - m).abs());
            if diff > max_h && diff * 1000 > share * i128::from(m).abs() {
                let c = cust.get(&bill.customer_id);
                let price = c.and_then(|c| crate::themes::common::price_on(&tariffs, &c.tariff_code, w));
                let diff_kwh = (m - billed) as f64 / 100.0;
                out.push(
                    self.finding(
                        w,
                        &bill.bill_id,
                        c.map(|c| c.station_id.to_string()),
                        &[
                            ("billed_kwh", num(billed as f64 / 100.0)),
                            ("metered_kwh", num(m as f64 / 100.0)),
                            ("difference_kwh", num(diff_kwh)),
                            ("days", int(w.days())),
                        ],
                    )
                    .with_amount(price.map(|p| diff_kwh.abs() * p)),
                );
            }
        }
        Ok(out)
    }
}

/// 基本电费漏收.
pub struct PrcBasic;

impl Theme for PrcBasic {
    describe! {
        code: "PRC-BASIC", zh: "基本电费漏收", en: "Basic charge not billed", specialty: Billing,
        entity: Bill, severity: High, params: &[],
        needs: &[
            need("bills", &["bill_id", "customer_id", "period"]),
            need("customers", &["customer_id", "tariff_code", "contract_kva"]),
            need("tariffs", &["tariff_code", "basic_per_kva"]),
        ],
    }

    fn run(&self, session: &Session, w: &Window, _p: &Params) -> EngineResult<Vec<Finding>> {
        let tariffs = tariffs(session)?;
        let cust = customers(session)?;
        let mut out = Vec::new();
        for bill in bills_of(session, w)?.iter() {
            // The cheap tests first: most bills carry their basic charge or have no capacity.
            if bill.basic_charge.is_some_and(|b| b != 0.0) {
                continue;
            }
            let Some(c) = cust.get(&bill.customer_id) else { continue };
            let Some(kva) = c.contract_kva.filter(|k| *k > 0.0) else { continue };
            let Some(t) = version_on(tariffs.as_slice(), &c.tariff_code, w.period.last_day()) else {
                continue;
            };
            if !t.is_two_part() {
                continue;
            }
            let Some(kva) = Decimal::from_f64(kva) else { continue };
            let due = t.basic_charge(Some(kva)).map(jicha_core::tariff::to_cents).unwrap_or_default();
            out.push(
                self.finding(
                    w,
                    &bill.bill_id,
                    Some(c.station_id.to_string()),
                    &[
                        ("contract_kva", dnum(kva)),
                        ("basic_per_kva", dnum(t.basic_per_kva.unwrap_or_default())),
                        ("basic_charge_due", dnum(due)),
                    ],
                )
                .with_amount(due.to_f64()),
            );
        }
        Ok(out)
    }
}

/// 力调电费未执行.
pub struct PrcPf;

impl Theme for PrcPf {
    describe! {
        code: "PRC-PF", zh: "力调电费未执行", en: "Power-factor adjustment not applied", specialty: Billing,
        entity: Bill, severity: Medium, params: &[
            crate::theme::Param { name: "min_kva", default: 100.0, doc: "合同容量下限 kVA / contract capacity, at least" },
        ],
        needs: &[
            need("bills", &["bill_id", "customer_id", "period", "pf_adjustment"]),
            need("customers", &["customer_id", "category", "contract_kva"]),
        ],
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let cust = customers(session)?;
        let min_kva = p.get("min_kva");
        let mut out = Vec::new();
        // Only the bills without an adjustment can miss one: the customer is looked up for those.
        for bill in bills_of(session, w)?.iter().filter(|b| b.pf_adjustment.is_none()) {
            let Some(c) = cust.get(&bill.customer_id) else { continue };
            let kva = c.contract_kva.unwrap_or(0.0);
            if matches!(&*c.category, "commercial" | "industrial" | "agriculture") && kva >= min_kva {
                out.push(self.finding(
                    w,
                    &bill.bill_id,
                    Some(c.station_id.to_string()),
                    &[("contract_kva", num(kva)), ("amount", num(bill.amount.unwrap_or(0.0)))],
                ));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_are_the_floats_exact_value_to_the_cent() {
        let reference = |x: f64| Decimal::from_f64(x).map(|d| d.round_dp(2));
        let mut state = 5u64;
        let mut values =
            vec![0.0, -0.0, 0.1 + 0.2, 1.005, 2.675, -3.335, 1e14 + 0.01, 123.456_789, 1e-7, 5e-3];
        for _ in 0..100_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let c = (state >> 20) as i64 % 100_000_000 - 50_000_000;
            // Amounts written with two decimals, and some with more.
            values.push(c as f64 / 100.0);
            values.push(c as f64 / 1000.0);
        }
        for x in values {
            assert_eq!(cents(x), reference(x), "{x}");
            assert_eq!(whole_cents(x), reference(x).and_then(|d| (d * Decimal::ONE_HUNDRED).to_i64()), "{x}");
        }
        assert_eq!(cents(f64::NAN), None);
    }
}
