//! VOL-MISSING 采集失败: a meter in service through the period whose register is missing on 3 or
//! more consecutive days of the period (runs do not cross the period's ends).

use crate::error::EngineResult;
use crate::finding::{Finding, int};
use crate::kernels::registers;
use crate::session::Session;
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
        // The registers of the day before the period too: shared with VOL-REVERSE.
        let reg = registers(session, first - 1, last)?;
        let min_run = p.get("min_run_days") as i64;
        let mut out = Vec::new();
        let all = meters(session)?;
        let mut buf = Vec::new();
        for (id, m) in all.iter() {
            let through = m.installed_on.is_some_and(|i| i <= first) && m.removed_on.is_none_or(|r| r > last);
            if !through {
                continue;
            }
            let days = reg.meters.get(id).map(|i| reg.meter(i as usize, &mut buf));
            let (mut run, mut longest, mut missing) = (0i64, 0i64, 0i64);
            for d in first..=last {
                if days.as_ref().and_then(|r| r.get(d)).is_none() {
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
                    id,
                    m.station_id.as_deref().map(str::to_string),
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
