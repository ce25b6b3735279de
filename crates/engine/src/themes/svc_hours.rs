//! SVC-HOURS 停电时户数超控: a station's outage customer-hours in an ISO week of the period above
//! its weekly budget (configured per station in `jicha.toml`; not run without one).
//!
//! Decisions where the catalogue is terse: an ISO week belongs to the month of its Thursday (as
//! an ISO week belongs to the year of its Thursday), so every week is audited in exactly one
//! period; an outage counts in the week it started, planned or not, for its whole duration (an
//! open one up to the as-of date); customers affected default to the customers of its scope
//! active on its first day (a feeder's: its own and those of its transformer areas).

use std::collections::BTreeMap;

use chrono::{Datelike, Weekday};
use jicha_core::calendar::from_epoch_days;

use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::indicators::outage_spans;
use crate::session::Session;
use crate::theme::{KeyedParam, Params, Theme, Window, need};

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

        // (station, week Monday) -> customer-hours of the outages started that week.
        let mut hours: BTreeMap<(String, i32), f64> = BTreeMap::new();
        for o in outage_spans(session)? {
            if o.start < from || o.start >= to.min(as_of) {
                continue;
            }
            let day = o.start.div_euclid(DAY) as i32;
            let e = o.end.unwrap_or(as_of).min(as_of.max(o.start));
            let monday = day - from_epoch_days(day).weekday().num_days_from_monday() as i32;
            *hours.entry((o.station_id, monday)).or_default() +=
                o.customers * (e - o.start).max(0) as f64 / 3600.0;
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
