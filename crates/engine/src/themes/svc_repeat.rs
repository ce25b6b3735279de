//! SVC-REPEAT 频繁停电: 3 or more unplanned outages of a transformer area, or of its feeder,
//! started in the period (an empty `planned` means unplanned).

use std::collections::HashMap;

use crate::columns::{ints, text};
use crate::error::EngineResult;
use crate::finding::{Finding, int};
use crate::session::Session;
use crate::theme::{Param, Params, Theme, Window, need};

/// 频繁停电.
pub struct SvcRepeat;

impl Theme for SvcRepeat {
    describe! {
        code: "SVC-REPEAT", zh: "频繁停电", en: "Repeated outages", specialty: Service,
        entity: TransformerArea, severity: Medium,
        params: &[Param { name: "min_outages", default: 3.0, doc: "非计划停电次数下限 / unplanned outages, at least" }],
        needs: &[need("outages", &["outage_id", "scope_type", "scope_id", "start_at"]), need("transformer_areas", &["tq_id", "feeder_id", "station_id"])],
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let (from, to) = (i64::from(w.first()) * 86_400, i64::from(w.last() + 1) * 86_400);
        let sql = format!(
            "SELECT scope_type, scope_id, COUNT(*) AS n FROM outages
             WHERE (planned IS NULL OR NOT planned)
               AND start_at >= to_timestamp_seconds({from}) AND start_at < to_timestamp_seconds({to})
             GROUP BY scope_type, scope_id"
        );
        let mut counts: HashMap<(String, String), i64> = HashMap::new();
        for b in session.run(&sql, "停电事件 / outages")? {
            let (t, id, n) = (text(&b, "scope_type")?, text(&b, "scope_id")?, ints(&b, "n")?);
            for i in 0..b.num_rows() {
                counts.insert((t[i].clone(), id[i].clone()), n[i].unwrap_or(0));
            }
        }
        let min = p.get("min_outages") as i64;
        let mut out = Vec::new();
        for b in session.run("SELECT tq_id, feeder_id, station_id FROM transformer_areas", "台区 / areas")?
        {
            let (id, f, st) = (text(&b, "tq_id")?, text(&b, "feeder_id")?, text(&b, "station_id")?);
            for i in 0..b.num_rows() {
                let own = counts.get(&("tq".to_string(), id[i].clone())).copied().unwrap_or(0);
                let feeder = counts.get(&("feeder".to_string(), f[i].clone())).copied().unwrap_or(0);
                if own + feeder >= min {
                    out.push(self.finding(
                        w,
                        &id[i],
                        Some(st[i].clone()),
                        &[
                            ("area_outages", int(own)),
                            ("feeder_outages", int(feeder)),
                            ("outages", int(own + feeder)),
                        ],
                    ));
                }
            }
        }
        Ok(out)
    }
}
