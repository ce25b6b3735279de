//! FEE-ARREARS 欠费超期 (every bill unpaid more than 30 days after its due date) and FEE-RECOVERY
//! 电费回收率低 (a station's bills due in the period, paid by the as-of date).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::columns::{days, floats, text};
use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::session::{Session, date_lit};
use crate::theme::{Need, Param, Params, Theme, Window, need};
use crate::themes::common::customers;
use crate::themes::prc_bill::cents;

/// A bill with what was paid on it by the as-of date.
struct Owed {
    bill_id: String,
    customer_id: String,
    period: String,
    amount: Decimal,
    due_on: i32,
    paid: Decimal,
}

/// Bills with amount > 0 and a due date (narrowed by `filter`), with their payments up to the as-of date.
fn owed(session: &Session, w: &Window, filter: &str) -> EngineResult<Vec<Owed>> {
    let as_of = date_lit(w.as_of_day());
    let sql = format!(
        "SELECT b.bill_id, b.customer_id, b.period, b.amount, b.due_on, COALESCE(p.paid, 0) AS paid
         FROM bills b LEFT JOIN (SELECT bill_id, SUM(amount) AS paid FROM payments WHERE paid_on <= {as_of} GROUP BY bill_id) p
           ON p.bill_id = b.bill_id
         WHERE b.amount > 0 AND b.due_on IS NOT NULL {filter}"
    );
    let mut out = Vec::new();
    for b in session.run(&sql, "账单与实收 / bills and payments")? {
        let (id, cust, period) = (text(&b, "bill_id")?, text(&b, "customer_id")?, text(&b, "period")?);
        let (amount, due, paid) = (floats(&b, "amount")?, days(&b, "due_on")?, floats(&b, "paid")?);
        for i in 0..b.num_rows() {
            let (Some(amount), Some(due_on)) = (amount[i].and_then(cents), due[i]) else { continue };
            out.push(Owed {
                bill_id: id[i].clone(),
                customer_id: cust[i].clone(),
                period: period[i].clone(),
                amount,
                due_on,
                paid: paid[i].and_then(cents).unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

const NEEDS: &[Need] = &[
    need("bills", &["bill_id", "customer_id", "amount", "due_on"]),
    need("payments", &["bill_id", "paid_on", "amount"]),
    need("customers", &["customer_id", "station_id"]),
];

/// 欠费超期.
pub struct FeeArrears;

impl Theme for FeeArrears {
    describe! {
        code: "FEE-ARREARS", zh: "欠费超期", en: "Arrears overdue", specialty: Billing, entity: Bill,
        severity: Medium,
        params: &[Param { name: "overdue_days", default: 30.0, doc: "超过缴费截止日期的天数 / days after the due date" }],
        needs: NEEDS,
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let cust = customers(session)?;
        let limit = p.get("overdue_days") as i32;
        // Only bills still owed come back from the query (a loose float test the exact one in
        // cents below narrows): of 11.7 M bills at 1 M customers, a few thousand rows, not all.
        let filter = format!(
            "AND b.due_on < {} AND COALESCE(p.paid, 0) < b.amount - 0.005",
            date_lit(w.as_of_day() - limit)
        );
        let mut out = Vec::new();
        for o in owed(session, w, &filter)? {
            if w.as_of_day() - o.due_on > limit && o.paid < o.amount - Decimal::new(1, 2) {
                let unpaid = o.amount - o.paid;
                out.push(
                    self.finding(
                        w,
                        &o.bill_id,
                        cust.get(&o.customer_id).map(|c| c.station_id.clone()),
                        &[
                            ("amount", num(o.amount.to_f64().unwrap_or(0.0))),
                            ("paid", num(o.paid.to_f64().unwrap_or(0.0))),
                            ("days_overdue", int(i64::from(w.as_of_day() - o.due_on))),
                            ("bill_period", serde_json::Value::from(o.period)),
                        ],
                    )
                    .with_amount(unpaid.to_f64()),
                );
            }
        }
        Ok(out)
    }
}

/// 电费回收率低.
pub struct FeeRecovery;

impl Theme for FeeRecovery {
    describe! {
        code: "FEE-RECOVERY", zh: "电费回收率低", en: "Low bill recovery", specialty: Billing, entity: Station,
        severity: Medium,
        params: &[Param { name: "min_rate", default: 0.995, doc: "回收率下限 / recovery rate, at least" }],
        needs: NEEDS,
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let cust = customers(session)?;
        let filter = format!("AND b.due_on BETWEEN {} AND {}", date_lit(w.first()), date_lit(w.last()));
        let mut stations: BTreeMap<String, (Decimal, Decimal, i64)> = BTreeMap::new();
        for o in owed(session, w, &filter)? {
            let Some(c) = cust.get(&o.customer_id) else { continue };
            let e = stations.entry(c.station_id.clone()).or_default();
            e.0 += o.amount;
            // A bill's payments count up to its amount: overpaying one bill does not cover another.
            e.1 += o.paid.min(o.amount);
            e.2 += 1;
        }
        let min_rate =
            Decimal::from_f64_retain(p.get("min_rate")).map(|d| d.round_dp(6)).unwrap_or(Decimal::ONE);
        let mut out = Vec::new();
        for (station, (due, paid, n)) in stations {
            if due <= Decimal::ZERO || paid / due >= min_rate {
                continue;
            }
            out.push(
                self.finding(
                    w,
                    &station,
                    Some(station.clone()),
                    &[
                        ("recovery_rate", num((paid / due).to_f64().unwrap_or(0.0))),
                        ("amount_due", num(due.to_f64().unwrap_or(0.0))),
                        ("amount_paid", num(paid.to_f64().unwrap_or(0.0))),
                        ("bills", int(n)),
                    ],
                )
                .with_amount((due - paid).to_f64()),
            );
        }
        Ok(out)
    }
}
