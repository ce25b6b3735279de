//! VOL-REVERSE 示数倒走: total(d) < total(d-1) for some day d of the period, both registers
//! known and the meter in service on both days (d-1 may be the last day before the period).

use crate::error::EngineResult;
use crate::finding::{Finding, num};
use crate::kernels::registers;
use crate::session::Session;
use crate::theme::{Params, Theme, Window, need};
use crate::themes::common::meters;

/// 示数倒走.
pub struct VolReverse;

impl Theme for VolReverse {
    describe! {
        code: "VOL-REVERSE", zh: "示数倒走", en: "Register running backwards", specialty: Metering, entity: Meter,
        severity: High, params: &[],
        needs: &[need("readings", &["meter_id", "date", "total"]), need("meters", &["meter_id", "installed_on"]), need("customers", &["customer_id"])],
    }

    fn run(&self, session: &Session, w: &Window, _p: &Params) -> EngineResult<Vec<Finding>> {
        let reg = registers(session, w.first() - 1, w.last())?;
        let all = meters(session)?;
        let mut out: Vec<Finding> = Vec::new();
        let mut buf = Vec::new();
        for (i, id) in reg.meters.names.iter().enumerate() {
            for (d, pt, t) in reg.meter(i, &mut buf).reversals(w.first(), w.last()) {
                let Some(m) = all.get(id).filter(|m| m.in_service(d - 1) && m.in_service(d)) else {
                    continue;
                };
                out.push(self.finding(
                    w,
                    id,
                    m.station_id.as_deref().map(str::to_string),
                    &[
                        (
                            "date",
                            serde_json::Value::from(jicha_core::calendar::from_epoch_days(d).to_string()),
                        ),
                        ("previous_total", num(pt as f64 / 100.0)),
                        ("total", num(t as f64 / 100.0)),
                        ("drop", num((pt - t) as f64 / 100.0)),
                    ],
                ));
                break;
            }
        }
        Ok(out)
    }
}
