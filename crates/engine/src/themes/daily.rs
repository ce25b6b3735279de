//! The daily watch (日监测), run by `jicha daily` for one day (usually yesterday):
//! DAY-LARGE-DROP 大用户电量骤降 and DAY-SUPPLY 供电量异常波动, and the stations' supply they and
//! the daily briefing share.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::columns::{days, ints, text, texts};
use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::session::{Session, date_lit};
use crate::theme::{Param, Params, Theme, Window, need};
use crate::themes::common::{areas, customers, feeders, milli, price_on, sql_hundredths, tariffs};

/// One station's supply on a day: the sum of its transformer areas and of its feeders that
/// have no transformer area, kWh in hundredths, with how many metering points reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StationDay {
    /// kWh in hundredths.
    pub supply: i64,
    /// Points (areas and feeders) with a figure that day.
    pub points: i64,
}

/// Every station's supply on each of `on` (days since 1970-01-01).
pub fn station_supply(session: &Session, on: &[i32]) -> EngineResult<BTreeMap<(String, i32), StationDay>> {
    let all_areas = areas(session)?;
    let feeders_with_areas: HashSet<&str> =
        all_areas.values().map(|(f, _)| f.as_str()).filter(|f| !f.is_empty()).collect();
    let all_feeders = feeders(session)?;
    // A station's own feeders: those without a transformer area (the areas count themselves).
    let feeder_station: HashMap<&str, &String> = all_feeders
        .iter()
        .filter(|(f, _)| !feeders_with_areas.contains(f.as_str()))
        .map(|(f, s)| (f.as_str(), s))
        .collect();
    let list: Vec<String> = on.iter().map(|d| date_lit(*d)).collect();
    let sql = format!(
        "SELECT point_type, point_id, date, {} AS supply FROM supply
         WHERE date IN ({}) AND kwh IS NOT NULL",
        sql_hundredths("kwh"),
        list.join(", ")
    );
    let mut out: BTreeMap<(String, i32), StationDay> = BTreeMap::new();
    for b in session.run(&sql, "供电量 / supply")? {
        let (ty, id, day, s) =
            (text(&b, "point_type")?, text(&b, "point_id")?, days(&b, "date")?, ints(&b, "supply")?);
        for i in 0..b.num_rows() {
            let station = match ty[i].as_str() {
                "tq" => all_areas.get(&id[i]).map(|a| &a.1),
                "feeder" => feeder_station.get(id[i].as_str()).copied(),
                _ => None,
            };
            if let (Some(st), Some(day), Some(s)) = (station, day[i], s[i]) {
                let e = out.entry((st.clone(), day)).or_default();
                e.supply += s;
                e.points += 1;
            }
        }
    }
    Ok(out)
}

/// 供电量异常波动.
pub struct DaySupply;

impl Theme for DaySupply {
    describe! {
        code: "DAY-SUPPLY", zh: "供电量异常波动", en: "Station supply swing", specialty: Market,
        entity: Station, severity: Medium,
        params: &[Param { name: "max_change", default: 0.2, doc: "与上周同日相比变化率上限 / change against the same weekday a week earlier, at most" }],
        needs: &[
            need("supply", &["point_type", "point_id", "date", "kwh"]),
            need("transformer_areas", &["tq_id", "station_id"]),
            need("feeders", &["feeder_id", "station_id"]),
        ],
    }

    fn daily(&self) -> bool {
        true
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let d = w.watched_day();
        let supply = station_supply(session, &[d - 7, d])?;
        let stations: HashSet<&String> = supply.keys().map(|(s, _)| s).collect();
        let max = milli(p.get("max_change"));
        let mut out = Vec::new();
        for st in stations {
            // A day not stored is unknown, not a fall to nothing.
            let Some(now) = supply.get(&(st.clone(), d)).map(|s| s.supply) else {
                continue;
            };
            let Some(before) = supply.get(&(st.clone(), d - 7)).map(|s| s.supply).filter(|b| *b > 0) else {
                continue;
            };
            if 1000 * i128::from((now - before).abs()) > max * i128::from(before) {
                out.push(self.finding(
                    w,
                    st,
                    Some(st.clone()),
                    &[
                        ("supply_kwh", num(now as f64 / 100.0)),
                        ("week_before_kwh", num(before as f64 / 100.0)),
                        ("change", num((now - before) as f64 / before as f64)),
                    ],
                ));
            }
        }
        Ok(out)
    }
}

/// One large customer's watched day against the days before it, kWh in hundredths.
#[derive(Debug, Clone)]
pub struct LargeDay {
    /// 户号.
    pub customer_id: String,
    /// 供电所.
    pub station_id: Option<String>,
    /// The watched day's consumption, when known.
    pub day: Option<i64>,
    /// Known days before it within the window.
    pub before_known: i64,
    /// Their total.
    pub before_total: i64,
}

/// Large customers (contract_kva >= `min_kva` or industrial) on day `d` and the `n` days before.
pub fn large_days(session: &Session, d: i32, n: i32, min_kva: f64) -> EngineResult<Vec<LargeDay>> {
    let h = sql_hundredths("dc.kwh");
    let sql = format!(
        "SELECT dc.customer_id, c.station_id,
                SUM({h}) FILTER (WHERE dc.date = {day}) AS y,
                COUNT(dc.kwh) FILTER (WHERE dc.date < {day}) AS n,
                COALESCE(SUM({h}) FILTER (WHERE dc.date < {day}), 0) AS total
         FROM daily_consumption dc JOIN customers c ON c.customer_id = dc.customer_id
         WHERE dc.date BETWEEN {from} AND {day} AND (c.contract_kva >= {min_kva} OR c.category = 'industrial')
         GROUP BY dc.customer_id, c.station_id",
        day = date_lit(d),
        from = date_lit(d - n),
    );
    let mut out = Vec::new();
    for b in session.run(&sql, "大用户日电量 / large customers' days")? {
        let (id, st) = (text(&b, "customer_id")?, texts(&b, "station_id")?);
        let (y, k, t) = (ints(&b, "y")?, ints(&b, "n")?, ints(&b, "total")?);
        for i in 0..b.num_rows() {
            out.push(LargeDay {
                customer_id: id[i].clone(),
                station_id: st[i].clone(),
                day: y[i],
                before_known: k[i].unwrap_or(0),
                before_total: t[i].unwrap_or(0),
            });
        }
    }
    Ok(out)
}

/// 大用户电量骤降.
pub struct DayLargeDrop;

impl Theme for DayLargeDrop {
    describe! {
        code: "DAY-LARGE-DROP", zh: "大用户电量骤降", en: "Large customer's sudden drop", specialty: Market,
        entity: Customer, severity: High,
        params: &[
            Param { name: "min_kva", default: 315.0, doc: "大用户合同容量下限 kVA（或工业用户）/ contract capacity of a large customer, at least (or industrial)" },
            Param { name: "baseline_days", default: 7.0, doc: "对比的前几天 / days before, compared with" },
            Param { name: "max_ratio", default: 0.5, doc: "当日电量低于前几天均值的比例 / the day below this share of their mean fires" },
            Param { name: "min_mean_kwh", default: 100.0, doc: "前几天日均电量下限 kWh / their daily mean, at least" },
        ],
        needs: &[
            need("daily_consumption", &["customer_id", "date"]),
            need("customers", &["customer_id", "station_id", "category"]),
            need("tariffs", &["tariff_code", "price"]),
        ],
    }

    fn daily(&self) -> bool {
        true
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let d = w.watched_day();
        let n = p.get("baseline_days").max(1.0) as i32;
        let (cust, prices) = (customers(session)?, tariffs(session)?);
        let mut out = Vec::new();
        for l in large_days(session, d, n, p.get("min_kva"))? {
            let Some(y) = l.day else { continue };
            // Every day before known, mean >= min, and y < ratio x mean, all in exact integers.
            if l.before_known != i64::from(n)
                || 1000 * i128::from(l.before_total) < milli(p.get("min_mean_kwh") * 100.0) * i128::from(n)
                || 1000 * i128::from(y) * i128::from(n)
                    >= milli(p.get("max_ratio")) * i128::from(l.before_total)
            {
                continue;
            }
            let mean = l.before_total as f64 / 100.0 / f64::from(n);
            let price = cust.get(&l.customer_id).and_then(|c| price_on(&prices, &c.tariff_code, w));
            out.push(
                self.finding(
                    w,
                    &l.customer_id,
                    l.station_id.clone(),
                    &[
                        ("day_kwh", num(y as f64 / 100.0)),
                        ("mean_before_kwh", num(mean)),
                        ("ratio", num(y as f64 / 100.0 / mean)),
                        ("days_before", int(i64::from(n))),
                    ],
                )
                .with_amount(price.map(|pr| (mean - y as f64 / 100.0) * pr)),
            );
        }
        Ok(out)
    }
}
