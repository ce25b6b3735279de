//! VOL-OVERCAP 超容量用电: contract_kva known and some known day of the period consumes more
//! than contract_kva x 24 kWh.

use crate::columns::{days, floats, ints, text};
use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::session::{Session, date_lit};
use crate::theme::{Param, Params, Theme, Window, need};
use crate::themes::common::{milli, sql_hundredths, sql_round};

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
        let h = sql_hundredths("d.kwh");
        // kWh in hundredths > kva x hours x 100, in thousandths of the capacity to stay exact.
        let limit = format!("{} * {} * 100", sql_round("c.contract_kva * 1000"), milli(p.get("hours")));
        let sql = format!(
            "SELECT c.customer_id, c.station_id, c.contract_kva, COUNT(*) AS days_over,
                    MAX({h}) AS max_kwh, MIN(d.date) AS first_date
             FROM daily_consumption d JOIN customers c ON c.customer_id = d.customer_id
             WHERE d.date BETWEEN {} AND {} AND d.kwh IS NOT NULL AND c.contract_kva > 0
               AND CAST({h} AS DECIMAL(38,0)) * 1000000 > CAST({limit} AS DECIMAL(38,0))
             GROUP BY c.customer_id, c.station_id, c.contract_kva",
            date_lit(w.first()),
            date_lit(w.last())
        );
        let mut out = Vec::new();
        for b in session.run(&sql, "超容量 / above capacity")? {
            let (ids, st, kva) =
                (text(&b, "customer_id")?, text(&b, "station_id")?, floats(&b, "contract_kva")?);
            let (n, mx, fd) = (ints(&b, "days_over")?, ints(&b, "max_kwh")?, days(&b, "first_date")?);
            for i in 0..b.num_rows() {
                out.push(self.finding(
                    w,
                    &ids[i],
                    Some(st[i].clone()),
                    &[
                        ("contract_kva", num(kva[i].unwrap_or(0.0))),
                        ("limit_kwh", num(kva[i].unwrap_or(0.0) * p.get("hours"))),
                        ("max_kwh", num(mx[i].unwrap_or(0) as f64 / 100.0)),
                        ("days_over", int(n[i].unwrap_or(0))),
                        (
                            "first_date",
                            serde_json::Value::from(
                                fd[i].map(|d| jicha_core::calendar::from_epoch_days(d).to_string()),
                            ),
                        ),
                    ],
                ));
            }
        }
        Ok(out)
    }
}
