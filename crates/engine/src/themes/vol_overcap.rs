//! VOL-OVERCAP 超容量用电: contract_kva known and some known day of the period consumes more
//! than contract_kva x 24 kWh.

use jicha_core::calendar::from_epoch_days;

use crate::day_blocks;
use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::session::Session;
use crate::theme::{Param, Params, Theme, Window, need};
use crate::themes::common::{ById, customers, hundredths, milli};

/// 超容量用电.
pub struct VolOvercap;

impl Theme for VolOvercap {
    describe! {
        code: "VOL-OVERCAP", zh: "超容量用电", en: "Consumption above contract capacity", specialty: Inspection, entity: Customer,
        severity: Medium,
        params: &[Param { name: "hours", default: 24.0, doc: "合同容量乘以的小时数 / hours of contract capacity per day" }],
        needs: &[need("daily_consumption", &["customer_id", "date"]), need("customers", &["customer_id", "contract_kva", "station_id"])],
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let cust = customers(session)?;
        let hours = milli(p.get("hours"));
        // Per customer over the limit: (days over, the largest of them, the first of them), kWh
        // in hundredths against capacity x hours x 100 in thousandths of each, to stay exact.
        let mut over: ById<(i64, i64, i32)> = ById::default();
        day_blocks::for_each_row(session, w.first(), w.last(), |id, from, cells| {
            let Some(c) = cust.get(id) else { return };
            let Some(kva) = c.contract_kva.filter(|k| *k > 0.0) else { return };
            let limit = milli(kva) * hours * 100;
            for (d, k) in (from..).zip(cells) {
                let h = hundredths(*k);
                if k.is_nan() || i128::from(h) * 1_000_000 <= limit {
                    continue;
                }
                match over.get_mut(id) {
                    Some(e) => *e = (e.0 + 1, e.1.max(h), e.2.min(d)),
                    None => {
                        over.insert(id.to_string(), (1, h, d));
                    }
                }
            }
        })?;
        let mut out = Vec::new();
        for (id, (days_over, max, first)) in over {
            let c = cust.get(&id).expect("a customer over its capacity is in the archive");
            let kva = c.contract_kva.unwrap_or(0.0);
            out.push(self.finding(
                w,
                &id,
                Some(c.station_id.to_string()),
                &[
                    ("contract_kva", num(kva)),
                    ("limit_kwh", num(kva * p.get("hours"))),
                    ("max_kwh", num(max as f64 / 100.0)),
                    ("days_over", int(days_over)),
                    ("first_date", serde_json::Value::from(from_epoch_days(first).to_string())),
                ],
            ));
        }
        Ok(out)
    }
}
