//! VOL-TOU 示值不平: some day of the period whose peak, flat and valley registers sum to more than
//! 0.1% and more than 1 kWh (register units) away from the total register.

use crate::columns::{days, ints, text};
use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::session::{Session, date_lit};
use crate::theme::{Param, Params, Theme, Window, need};
use crate::themes::common::{meters, milli, sql_abs, sql_hundredths};

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
        let (t, pk, f, v) = (
            sql_hundredths("total"),
            sql_hundredths("peak"),
            sql_hundredths("flat"),
            sql_hundredths("valley"),
        );
        // Exact integers: |p+f+v-t| x 1e6 > share(in millionths) x |t| and |p+f+v-t| > max_kwh x 100.
        let share = milli(p.get("max_share") * 1000.0);
        let max_h = (p.get("max_kwh") * 100.0).round() as i64;
        let diff = sql_abs(&format!("{pk} + {f} + {v} - {t}"));
        let tot = sql_abs(&t);
        let sql = format!(
            "SELECT meter_id, MIN(date) AS first_date, COUNT(*) AS bad_days, MAX(diff) AS max_diff
             FROM (SELECT meter_id, date, {diff} AS diff, {tot} AS tot
                   FROM readings
                   WHERE date BETWEEN {} AND {} AND total IS NOT NULL AND peak IS NOT NULL
                     AND flat IS NOT NULL AND valley IS NOT NULL)
             WHERE CAST(diff AS DECIMAL(38,0)) * 1000000 > CAST({share} AS DECIMAL(38,0)) * CAST(tot AS DECIMAL(38,0))
               AND diff > {max_h}
             GROUP BY meter_id",
            date_lit(w.first()),
            date_lit(w.last())
        );
        let all = meters(session)?;
        let mut out = Vec::new();
        for b in session.run(&sql, "分时示数 / time-of-use registers")? {
            let (ids, fd, n, md) = (
                text(&b, "meter_id")?,
                days(&b, "first_date")?,
                ints(&b, "bad_days")?,
                ints(&b, "max_diff")?,
            );
            for i in 0..b.num_rows() {
                out.push(self.finding(
                    w,
                    &ids[i],
                    all.get(&ids[i]).and_then(|m| m.station_id.clone()),
                    &[
                        (
                            "first_date",
                            serde_json::Value::from(
                                fd[i].map(|d| jicha_core::calendar::from_epoch_days(d).to_string()),
                            ),
                        ),
                        ("days", int(n[i].unwrap_or(0))),
                        ("max_difference_kwh", num(md[i].unwrap_or(0) as f64 / 100.0)),
                    ],
                ));
            }
        }
        Ok(out)
    }
}
