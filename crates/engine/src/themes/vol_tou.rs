//! VOL-TOU 示值不平: some day of the period whose peak, flat and valley registers sum to more than
//! 0.1% and more than 1 kWh (register units) away from the total register.

use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::kernels::registers;
use crate::session::Session;
use crate::theme::{Param, Params, Theme, Window, need};
use crate::themes::common::{meters, milli};

/// 示值不平.
pub struct VolTou;

impl Theme for VolTou {
    describe! {
        code: "VOL-TOU", zh: "示值不平", en: "Time-of-use registers do not add up", specialty: Metering, entity: Meter,
        severity: Medium,
        params: &[
            Param { name: "max_share", default: 0.001, doc: "允许偏差占总示数比例 / tolerated share of the total" },
            Param { name: "max_kwh", default: 1.0, doc: "允许偏差 kWh（示数单位）/ tolerated difference, register kWh" },
        ],
        needs: &[need("readings", &["meter_id", "date", "total", "peak", "flat", "valley"]), need("meters", &["meter_id"]), need("customers", &["customer_id"])],
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        // Exact integers: |p+f+v-t| x 1e6 > share(in millionths) x |t| and |p+f+v-t| > max_kwh x 100,
        // each register rounded to hundredths (from the registers VOL-REVERSE shares).
        let share = milli(p.get("max_share") * 1000.0);
        let max_h = (p.get("max_kwh") * 100.0).round() as i64;
        let reg = registers(session, w.first() - 1, w.last())?;
        let all = meters(session)?;
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for (m, id) in reg.meters.names.iter().enumerate() {
            // (first bad day, bad days, largest gap)
            let mut bad: Option<(i32, i64, i64)> = None;
            let days = reg.meter(m, &mut buf);
            for d in w.first()..=w.last() {
                let (Some(gap), Some(total)) = (days.tou_gap(d), days.get(d)) else { continue };
                if i128::from(gap) * 1_000_000 > share * i128::from(total.abs()) && gap > max_h {
                    let b = bad.get_or_insert((d, 0, 0));
                    b.1 += 1;
                    b.2 = b.2.max(gap);
                }
            }
            if let Some((first_date, n, max_diff)) = bad {
                out.push(self.finding(
                    w,
                    id,
                    all.get(id).and_then(|m| m.station_id.as_deref().map(str::to_string)),
                    &[
                        (
                            "first_date",
                            serde_json::Value::from(
                                jicha_core::calendar::from_epoch_days(first_date).to_string(),
                            ),
                        ),
                        ("days", int(n)),
                        ("max_difference_kwh", num(max_diff as f64 / 100.0)),
                    ],
                ));
            }
        }
        Ok(out)
    }
}
