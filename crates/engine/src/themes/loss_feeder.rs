//! LOSS-FEEDER-HIGH 线路高损: (feeder supply - supply of its transformer areas - consumption of its
//! customers without an area) / feeder supply over the period's days where all are known.

use std::collections::BTreeMap;

use crate::columns::{bools, floats, text, texts};
use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::session::{Session, date_lit};
use crate::theme::{Param, Params, Theme, Window, need};
use crate::themes::common::{hundredths, milli};

/// 线路高损.
pub struct LossFeederHigh;

impl Theme for LossFeederHigh {
    describe! {
        code: "LOSS-FEEDER-HIGH", zh: "线路高损", en: "High loss on a feeder", specialty: Loss,
        entity: Feeder, severity: High,
        params: &[
            Param { name: "max_loss_rate", default: 0.06, doc: "线损率上限 / loss rate above this fires" },
            Param { name: "min_known_share", default: 0.5, doc: "数据完整天数占比下限 / share of complete days, at least" },
        ],
        needs: &[
            need("supply", &["point_type", "point_id", "date", "kwh"]),
            need("daily_consumption", &["customer_id", "date"]),
            need("customers", &["customer_id", "opened_on"]),
            need("feeders", &["feeder_id", "station_id"]),
            need("transformer_areas", &["tq_id", "feeder_id"]),
        ],
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let between = format!("BETWEEN {} AND {}", date_lit(w.first()), date_lit(w.last()));
        // Per feeder and day: its supply, its areas' supply (and whether every area has a figure),
        // and the consumption of its active customers without an area (and whether all are known).
        let sql = format!(
            "WITH f AS (SELECT point_id AS feeder_id, date, kwh FROM supply WHERE point_type = 'feeder' AND date {between}),
             tq AS (SELECT a.feeder_id, s.date, SUM(s.kwh) AS kwh, COUNT(*) AS n
                    FROM supply s JOIN transformer_areas a ON a.tq_id = s.point_id
                    WHERE s.point_type = 'tq' AND s.date {between} GROUP BY a.feeder_id, s.date),
             na AS (SELECT feeder_id, COUNT(*) AS n FROM transformer_areas GROUP BY feeder_id),
             dc AS (SELECT f.feeder_id, f.date, COUNT(c.customer_id) AS active, COUNT(d.kwh) AS known, SUM(d.kwh) AS kwh
                    FROM f JOIN customers c ON c.feeder_id = f.feeder_id AND c.tq_id IS NULL
                      AND c.opened_on <= f.date AND (c.closed_on IS NULL OR f.date < c.closed_on)
                    LEFT JOIN (SELECT customer_id, date, kwh FROM daily_consumption WHERE date {between}) d
                      ON d.customer_id = c.customer_id AND d.date = f.date
                    GROUP BY f.feeder_id, f.date)
             SELECT f.feeder_id, fd.station_id, f.kwh AS supply, COALESCE(tq.kwh, 0) AS area_supply,
                    COALESCE(dc.kwh, 0) AS direct,
                    COALESCE(tq.n, 0) = COALESCE(na.n, 0) AND COALESCE(dc.active, 0) = COALESCE(dc.known, 0) AS valid
             FROM f LEFT JOIN tq ON tq.feeder_id = f.feeder_id AND tq.date = f.date
                    LEFT JOIN na ON na.feeder_id = f.feeder_id
                    LEFT JOIN dc ON dc.feeder_id = f.feeder_id AND dc.date = f.date
                    LEFT JOIN feeders fd ON fd.feeder_id = f.feeder_id"
        );
        // feeder -> (station, supply, rest, known days), kWh in hundredths.
        let mut feeders: BTreeMap<String, (Option<String>, i64, i64, i64)> = BTreeMap::new();
        for b in session.run(&sql, "线路日线损 / feeders' days")? {
            let (id, st) = (text(&b, "feeder_id")?, texts(&b, "station_id")?);
            let (s, a, d, v) = (
                floats(&b, "supply")?,
                floats(&b, "area_supply")?,
                floats(&b, "direct")?,
                bools(&b, "valid")?,
            );
            for i in 0..b.num_rows() {
                let e = feeders.entry(id[i].clone()).or_insert((st[i].clone(), 0, 0, 0));
                if v[i] == Some(true) {
                    e.1 += hundredths(s[i].unwrap_or(0.0));
                    e.2 += hundredths(a[i].unwrap_or(0.0)) + hundredths(d[i].unwrap_or(0.0));
                    e.3 += 1;
                }
            }
        }
        let (rate, share) = (milli(p.get("max_loss_rate")), milli(p.get("min_known_share")));
        let mut out = Vec::new();
        for (id, (station, supply, rest, known)) in feeders {
            if 1000 * i128::from(known) < share * i128::from(w.days()) || supply <= 0 {
                continue;
            }
            if 1000 * i128::from(supply - rest) > rate * i128::from(supply) {
                out.push(self.finding(
                    w,
                    &id,
                    station,
                    &[
                        ("loss_rate", num((supply - rest) as f64 / supply as f64)),
                        ("supply_kwh", num(supply as f64 / 100.0)),
                        ("downstream_kwh", num(rest as f64 / 100.0)),
                        ("known_days", int(known)),
                        ("days", int(w.days())),
                    ],
                ));
            }
        }
        Ok(out)
    }
}
