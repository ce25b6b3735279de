//! SVC-HOURS 停电时户数超控: a station's outage customer-hours in an ISO week of the period above
//! its weekly budget (configured per station in `jicha.toml`; not run without one).
//!
//! Decisions where the catalogue is terse: an ISO week belongs to the month of its Thursday (as
//! an ISO week belongs to the year of its Thursday), so every week is audited in exactly one
//! period; an outage counts in the week it started, planned or not, for its whole duration (an
//! open one up to the as-of date); customers affected default to the customers of its scope
//! active on its first day (a feeder's: its own and those of its transformer areas).

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Weekday};
use jicha_core::calendar::from_epoch_days;

use crate::columns::{floats, seconds, text};
use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::session::Session;
use crate::theme::{KeyedParam, Params, Theme, Window, need};
use crate::themes::common::{Customer, areas, customers, feeders};

const DAY: i64 = 86_400;

/// 停电时户数超控.
pub struct SvcHours;

/// The Mondays (days since 1970-01-01) of the ISO weeks whose Thursday lies in the period.
pub fn weeks_of(w: &Window) -> Vec<i32> {
    (w.first()..=w.last())
        .filter(|&d| from_epoch_days(d).weekday() == Weekday::Thu)
        .map(|thu| thu - 3)
        .collect()
}

impl Theme for SvcHours {
    describe! {
        code: "SVC-HOURS", zh: "停电时户数超控", en: "Outage customer-hours over budget", specialty: Service,
        entity: Station, severity: Medium,
        params: &[],
        needs: &[
            need("outages", &["outage_id", "scope_type", "scope_id", "start_at"]),
            need("transformer_areas", &["tq_id", "feeder_id", "station_id"]),
            need("feeders", &["feeder_id", "station_id"]),
            need("customers", &["customer_id", "opened_on"]),
        ],
    }

    fn keyed_params(&self) -> &'static [KeyedParam] {
        &[KeyedParam {
            name: "weekly_budget",
            key: "供电所编码 station_id",
            doc: "每周停电时户数预算（时户）/ weekly budget of outage customer-hours",
        }]
    }

    fn unconfigured(&self, p: &Params) -> Option<String> {
        p.keyed("weekly_budget").is_empty().then(|| {
            "未配置供电所每周停电时户数预算：请在 jicha.toml 的 [themes.SVC-HOURS.weekly_budget] 中填写 / \
             no weekly budget configured: set [themes.SVC-HOURS.weekly_budget] in jicha.toml"
                .to_string()
        })
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let budget = p.keyed("weekly_budget");
        let weeks = weeks_of(w);
        let (Some(&first), Some(&last)) = (weeks.first(), weeks.last()) else { return Ok(Vec::new()) };
        let (from, to) = (i64::from(first) * DAY, i64::from(last + 7) * DAY);
        let as_of = i64::from(w.as_of_day()) * DAY;

        let area_station = areas(session)?;
        let feeder_station = feeders(session)?;

        let sql = format!(
            "SELECT scope_type, scope_id, start_at, end_at, customers_affected FROM outages
             WHERE start_at >= to_timestamp_seconds({from}) AND start_at < to_timestamp_seconds({})",
            to.min(as_of)
        );
        let outages = session.run(&sql, "停电事件 / outages")?;
        if outages.iter().all(|b| b.num_rows() == 0) {
            return Ok(Vec::new());
        }
        // Customers per scope, only when an outage lacks its count.
        let mut by_scope: HashMap<(bool, &str), Vec<&Customer>> = HashMap::new();
        let needs_count = outages
            .iter()
            .any(|b| b.column_by_name("customers_affected").is_some_and(|c| c.null_count() > 0));
        let all = customers(session)?;
        if needs_count {
            for c in all.values() {
                if let Some(t) = &c.tq_id {
                    by_scope.entry((true, t)).or_default().push(c);
                }
                let feeder = c
                    .feeder_id
                    .as_deref()
                    .or_else(|| c.tq_id.as_ref().and_then(|t| area_station.get(t)).map(|a| a.0.as_str()));
                if let Some(f) = feeder {
                    by_scope.entry((false, f)).or_default().push(c);
                }
            }
        }

        // (station, week Monday) -> customer-hours.
        let mut hours: BTreeMap<(String, i32), f64> = BTreeMap::new();
        for b in &outages {
            let (ty, id) = (text(b, "scope_type")?, text(b, "scope_id")?);
            let (start, end, affected) =
                (seconds(b, "start_at")?, seconds(b, "end_at")?, floats(b, "customers_affected")?);
            for i in 0..b.num_rows() {
                let Some(s) = start[i] else { continue };
                let is_tq = ty[i] == "tq";
                let station = if is_tq {
                    area_station.get(&id[i]).map(|a| a.1.clone())
                } else {
                    feeder_station.get(&id[i]).cloned()
                };
                let Some(station) = station else { continue };
                let day = s.div_euclid(DAY) as i32;
                let n = affected[i].unwrap_or_else(|| {
                    by_scope
                        .get(&(is_tq, id[i].as_str()))
                        .map_or(0.0, |v| v.iter().filter(|c| c.active_on(day)).count() as f64)
                });
                let e = end[i].unwrap_or(as_of).min(as_of.max(s));
                let monday = day - from_epoch_days(day).weekday().num_days_from_monday() as i32;
                *hours.entry((station, monday)).or_default() += n * (e - s).max(0) as f64 / 3600.0;
            }
        }

        let mut out = Vec::new();
        for (station, limit) in budget {
            let over: Vec<(i32, f64)> = weeks
                .iter()
                .map(|&m| (m, hours.get(&(station.clone(), m)).copied().unwrap_or(0.0)))
                .filter(|(_, h)| *h > *limit)
                .collect();
            let Some(&(worst_week, worst)) = over.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else { continue };
            let iso = from_epoch_days(worst_week).iso_week();
            out.push(self.finding(
                w,
                station,
                Some(station.clone()),
                &[
                    ("weeks_over", int(over.len() as i64)),
                    ("worst_iso_year", int(i64::from(iso.year()))),
                    ("worst_iso_week", int(i64::from(iso.week()))),
                    ("customer_hours", num(worst)),
                    ("weekly_budget", num(*limit)),
                    ("over_by", num(worst - limit)),
                ],
            ));
        }
        Ok(out)
    }
}
