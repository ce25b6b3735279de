//! FEE-ARREARS 欠费超期 (every bill unpaid more than 30 days after its due date) and FEE-RECOVERY
//! 电费回收率低 (a station's bills due in the period, paid by the as-of date).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::Array;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::columns::{date_array, float_array, strings, text_at, text_opt};
use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::id_table::IdTable;
use crate::session::{Session, date_lit};
use crate::theme::{Need, Param, Params, Theme, Window, need};
use crate::themes::common::customers;
use crate::themes::prc_bill::whole_cents;

/// A bill with what was paid on it by the as-of date (its texts borrowed from the scan).
struct Owed<'a> {
    bill_id: &'a str,
    customer_id: &'a str,
    period: &'a str,
    amount: Decimal,
    due_on: i32,
    paid: Decimal,
}

/// What each bill had been paid by the as-of date, in cents (payments counted to the cent one
/// by one; a bill without a payment is absent). FEE-ARREARS and FEE-RECOVERY share it: one pass
/// over the payments instead of a join of every bill with an aggregate of every payment in each
/// (11 M payments at a million customers).
fn paid_by_bill(session: &Session, as_of: i32) -> EngineResult<Arc<IdTable<i64>>> {
    session.memo(&format!("paid-by-bill/{as_of}"), || {
        let sql = format!(
            "SELECT bill_id, amount FROM payments
             WHERE paid_on <= {} AND bill_id IS NOT NULL AND amount IS NOT NULL",
            date_lit(as_of)
        );
        // Room for a payment per bill at once: the table is not rebuilt as it grows.
        let mut table = IdTable::with_capacity(session.row_count("payments") as usize);
        session.for_each_batch(&sql, "实收 / payments", |b| {
            let (ids, amounts) = (strings(b, "bill_id")?, float_array(b, "amount")?);
            let cents = |i: usize| amounts.is_valid(i).then(|| whole_cents(amounts.value(i))).flatten();
            table.add_all(b.num_rows(), |i| Some((ids.value(i), cents(i)?)), |paid, c| *paid += c);
            Ok(())
        })?;
        Ok(table)
    })
}

/// Hands `f` each bill with amount > 0 and a due date (narrowed by the SQL `filter` on the
/// bills and by `keep` on the amount in cents, the due date and the cents paid by the as-of
/// date), with those payments.
fn owed(
    session: &Session,
    w: &Window,
    filter: &str,
    keep: impl Fn(i64, i32, i64) -> bool,
    mut f: impl FnMut(Owed<'_>),
) -> EngineResult<()> {
    let paid = paid_by_bill(session, w.as_of_day())?;
    let sql = format!(
        "SELECT bill_id, customer_id, period, amount, due_on FROM bills
         WHERE amount > 0 AND due_on IS NOT NULL {filter}"
    );
    let mut found = Vec::new();
    session.for_each_batch(&sql, "账单 / bills", |b| {
        let ids = strings(b, "bill_id")?;
        let (amount, due) = (float_array(b, "amount")?, date_array(b, "due_on")?);
        let mut rows = Vec::new();
        paid.get_all(b.num_rows(), |i| text_opt(&ids, i), &mut found);
        for (i, (amount, due_on)) in amount.iter().zip(due.iter()).enumerate() {
            let (Some(amount), Some(due_on)) = (amount.and_then(whole_cents), due_on) else { continue };
            let p = found[i].unwrap_or(0);
            if keep(amount, due_on, p) {
                rows.push((i, Decimal::new(amount, 2), due_on, Decimal::new(p, 2)));
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let (cust, period) = (strings(b, "customer_id")?, strings(b, "period")?);
        for (i, amount, due_on, paid) in rows {
            f(Owed {
                bill_id: text_at(&ids, i),
                customer_id: text_at(&cust, i),
                period: text_at(&period, i),
                amount,
                due_on,
                paid,
            });
        }
        Ok(())
    })
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
        // Only bills still owed are kept (of 11.7 M bills at 1 M customers, a few thousand).
        let filter = format!("AND due_on < {}", date_lit(w.as_of_day() - limit));
        let overdue =
            |amount: i64, due_on: i32, paid: i64| w.as_of_day() - due_on > limit && paid < amount - 1;
        let mut out = Vec::new();
        owed(session, w, &filter, overdue, |o| {
            let unpaid = o.amount - o.paid;
            out.push(
                self.finding(
                    w,
                    o.bill_id,
                    cust.get(o.customer_id).map(|c| c.station_id.to_string()),
                    &[
                        ("amount", num(o.amount.to_f64().unwrap_or(0.0))),
                        ("paid", num(o.paid.to_f64().unwrap_or(0.0))),
                        ("days_overdue", int(i64::from(w.as_of_day() - o.due_on))),
                        ("bill_period", serde_json::Value::from(o.period)),
                    ],
                )
                .with_amount(unpaid.to_f64()),
            );
        })?;
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
        let filter = format!("AND due_on BETWEEN {} AND {}", date_lit(w.first()), date_lit(w.last()));
        let mut stations: BTreeMap<Arc<str>, (Decimal, Decimal, i64)> = BTreeMap::new();
        owed(
            session,
            w,
            &filter,
            |_, _, _| true,
            |o| {
                let Some(c) = cust.get(o.customer_id) else { return };
                let e = stations.entry(c.station_id.clone()).or_default();
                e.0 += o.amount;
                // A bill's payments count up to its amount: overpaying one bill does not cover another.
                e.1 += o.paid.min(o.amount);
                e.2 += 1;
            },
        )?;
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
                    &*station,
                    Some(station.to_string()),
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
