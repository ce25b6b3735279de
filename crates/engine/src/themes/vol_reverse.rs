//! VOL-REVERSE 示数倒走: total(d) < total(d-1) for some day d of the period, both registers
//! known and the meter in service on both days (d-1 may be the last day before the period).

use crate::columns::{days, floats, text};
use crate::error::EngineResult;
use crate::finding::{Finding, num};
use crate::session::{Session, date_lit};
use crate::theme::{Params, Theme, Window, need};
use crate::themes::common::{hundredths, meters};

/// 示数倒走.
pub struct VolReverse;

impl Theme for VolReverse {
    describe! {
        code: "VOL-REVERSE", zh: "示数倒走", en: "Register running backwards", specialty: Metering, entity: Meter,
        severity: High, params: &[],
        needs: &[need("readings", &["meter_id", "date", "total"]), need("meters", &["meter_id", "installed_on"]), need("customers", &["customer_id"])],
    }

    fn run(&self, session: &Session, w: &Window, _p: &Params) -> EngineResult<Vec<Finding>> {
        let sql = format!(
            "SELECT meter_id, date, total FROM readings WHERE total IS NOT NULL AND date BETWEEN {} AND {}
             ORDER BY meter_id, date",
            date_lit(w.first() - 1),
            date_lit(w.last())
        );
        let all = meters(session)?;
        let mut out: Vec<Finding> = Vec::new();
        let mut prev: Option<(String, i32, i64)> = None;
        for b in session.run(&sql, "示数 / registers")? {
            let (ids, ds, totals) = (text(&b, "meter_id")?, days(&b, "date")?, floats(&b, "total")?);
            for i in 0..b.num_rows() {
                let (Some(d), Some(t)) = (ds[i], totals[i]) else { continue };
                let t = hundredths(t);
                if let Some((pid, pd, pt)) = &prev
                    && *pid == ids[i]
                    && *pd == d - 1
                    && t < *pt
                    && out.last().is_none_or(|f| f.entity_id != ids[i])
                    && let Some(m) = all.get(&ids[i]).filter(|m| m.in_service(d - 1) && m.in_service(d))
                {
                    out.push(self.finding(
                        w,
                        &ids[i],
                        m.station_id.clone(),
                        &[
                            (
                                "date",
                                serde_json::Value::from(jicha_core::calendar::from_epoch_days(d).to_string()),
                            ),
                            ("previous_total", num(*pt as f64 / 100.0)),
                            ("total", num(t as f64 / 100.0)),
                            ("drop", num((*pt - t) as f64 / 100.0)),
                        ],
                    ));
                }
                prev = Some((ids[i].clone(), d, t));
            }
        }
        Ok(out)
    }
}
