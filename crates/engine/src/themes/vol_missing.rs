//! VOL-MISSING 采集失败: a meter in service through the period whose register is missing on 3 or
//! more consecutive days of the period (runs do not cross the period's ends).

use std::collections::HashMap;

use crate::columns::{days, text};
use crate::error::EngineResult;
use crate::finding::{Finding, int};
use crate::session::{Session, date_lit};
use crate::theme::{Param, Params, Theme, Window, need};
use crate::themes::common::meters;

/// 采集失败.
pub struct VolMissing;

impl Theme for VolMissing {
    describe! {
        code: "VOL-MISSING", zh: "采集失败", en: "Collection failure", specialty: Metering, entity: Meter,
        severity: Low,
        params: &[Param { name: "min_run_days", default: 3.0, doc: "连续缺数天数下限 / consecutive days without a register, at least" }],
        needs: &[need("readings", &["meter_id", "date"]), need("meters", &["meter_id", "installed_on"]), need("customers", &["customer_id"])],
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let (first, last) = (w.first(), w.last());
        let sql = format!(
            "SELECT meter_id, date FROM readings WHERE total IS NOT NULL AND date BETWEEN {} AND {}",
            date_lit(first),
            date_lit(last)
        );
        // One bit per day of the period with a collected register.
        let mut known: HashMap<String, u32> = HashMap::new();
        for b in session.run(&sql, "采集示数 / collected registers")? {
            let (ids, ds) = (text(&b, "meter_id")?, days(&b, "date")?);
            for (id, d) in ids.into_iter().zip(ds) {
                if let Some(d) = d {
                    *known.entry(id).or_default() |= 1u32 << (d - first);
                }
            }
        }
        let min_run = p.get("min_run_days") as i64;
        let mut out = Vec::new();
        for m in meters(session)?.into_values() {
            let through = m.installed_on.is_some_and(|i| i <= first) && m.removed_on.is_none_or(|r| r > last);
            if !through {
                continue;
            }
            let bits = known.get(&m.meter_id).copied().unwrap_or(0);
            let (mut run, mut longest, mut missing) = (0i64, 0i64, 0i64);
            for i in 0..=(last - first) {
                if bits & (1 << i) == 0 {
                    run += 1;
                    missing += 1;
                    longest = longest.max(run);
                } else {
                    run = 0;
                }
            }
            if longest >= min_run {
                out.push(self.finding(
                    w,
                    &m.meter_id,
                    m.station_id.clone(),
                    &[
                        ("longest_run_days", int(longest)),
                        ("missing_days", int(missing)),
                        ("days", int(w.days())),
                    ],
                ));
            }
        }
        Ok(out)
    }
}
