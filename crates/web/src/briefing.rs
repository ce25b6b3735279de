//! The daily supply briefing (日供电量简报): every morning, per station and for the company,
//! yesterday's supply against the same weekday a week and a year earlier, large customers'
//! sudden drops, transformer areas newly over the loss line, and the audit orders due today.
//! Short enough for one SMS per station; a longer form for chat robots and e-mail.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use jicha_core::calendar::to_epoch_days;
use jicha_engine::audit::Catalogue;
use jicha_engine::indicators::point_days;
use jicha_engine::themes::daily::{DayLargeDrop, station_supply};
use jicha_engine::{EngineResult, Session, Theme, Window};
use jicha_flow::Flow;
use serde::Serialize;

/// A large customer's drop on the day.
#[derive(Debug, Clone, Serialize)]
pub struct Drop {
    /// 户号.
    pub customer_id: String,
    /// 户名.
    pub name: String,
    /// The day's kWh.
    pub day_kwh: f64,
    /// The mean of the days before, kWh.
    pub mean_kwh: f64,
}

/// One station's (or the company's) morning.
#[derive(Debug, Clone, Serialize)]
pub struct StationBrief {
    /// Station id (empty for the company).
    pub station_id: String,
    /// Name.
    pub name: String,
    /// Supply of the day, kWh.
    pub supply: Option<f64>,
    /// The same weekday a week earlier.
    pub week_before: Option<f64>,
    /// The same weekday a year earlier (364 days before).
    pub year_before: Option<f64>,
    /// Large customers' sudden drops.
    pub drops: Vec<Drop>,
    /// Transformer areas over the loss line on the day and not the day before: (id, loss rate).
    pub new_high_loss: Vec<(String, f64)>,
    /// Open audit orders due today: (number, title).
    pub due_today: Vec<(String, String)>,
    /// Open audit orders past their deadline.
    pub overdue: u64,
}

/// The briefing of one day.
#[derive(Debug, Clone, Serialize)]
pub struct Briefing {
    /// The day reported (yesterday).
    pub day: NaiveDate,
    /// The company: sums of the stations.
    pub company: StationBrief,
    /// Each station.
    pub stations: Vec<StationBrief>,
    /// The loss line used, e.g. 0.10.
    pub loss_line: f64,
    /// Why the day's data is not all in, when it is not (`store::day_not_in`): said at the top of
    /// the long form, so an unknown figure is read as not yet imported rather than as nothing.
    pub not_in: Option<String>,
}

fn change(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    match (now, before) {
        (Some(n), Some(b)) if b > 0.0 => Some((n - b) / b),
        _ => None,
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_string(), |x| format!("{:+.1}%", x * 100.0))
}

/// kWh as read in a message: 12.34万 above ten thousand.
fn kwh(x: Option<f64>) -> String {
    match x {
        None => "—".to_string(),
        Some(v) if v.abs() >= 10_000.0 => format!("{:.2}万kWh", v / 10_000.0),
        Some(v) => format!("{v:.0}kWh"),
    }
}

/// Computes the briefing of `day` (the morning after it).
pub fn compute(
    session: &mut Session,
    catalogue: &Catalogue,
    flow: &Flow,
    day: NaiveDate,
    loss_line: f64,
) -> EngineResult<Briefing> {
    session.require(&["stations", "feeders", "transformer_areas", "customers", "tariffs"])?;
    let d = to_epoch_days(day);
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for b in session.run("SELECT station_id, name FROM stations", "供电所 / stations")? {
        let (id, name) =
            (jicha_engine::columns::text(&b, "station_id")?, jicha_engine::columns::text(&b, "name")?);
        names.extend(id.into_iter().zip(name));
    }
    let supply = if session.has_rows("supply") {
        station_supply(session, &[d - 364, d - 7, d])?
    } else {
        BTreeMap::new()
    };
    let get = |s: &str, day: i32| supply.get(&(s.to_string(), day)).map(|x| x.supply as f64 / 100.0);

    // Large customers' drops: the DAY-LARGE-DROP theme with the data dir's parameters.
    let mut drops: BTreeMap<String, Vec<Drop>> = BTreeMap::new();
    if session.has_rows("daily_consumption") {
        let params = catalogue.config.settings(&DayLargeDrop).params;
        let found = DayLargeDrop.run(session, &Window::daily(day), &params)?;
        let ids: Vec<String> =
            found.iter().map(|f| format!("'{}'", f.entity_id.replace('\'', "''"))).collect();
        let mut cname: BTreeMap<String, String> = BTreeMap::new();
        if !ids.is_empty() {
            let sql =
                format!("SELECT customer_id, name FROM customers WHERE customer_id IN ({})", ids.join(", "));
            for b in session.run(&sql, "用户 / customers")? {
                let (id, n) = (
                    jicha_engine::columns::text(&b, "customer_id")?,
                    jicha_engine::columns::text(&b, "name")?,
                );
                cname.extend(id.into_iter().zip(n));
            }
        }
        for f in found {
            let ev = &f.evidence;
            drops.entry(f.station_id.clone().unwrap_or_default()).or_default().push(Drop {
                name: cname.get(&f.entity_id).cloned().unwrap_or_default(),
                customer_id: f.entity_id.clone(),
                day_kwh: ev.get("day_kwh").and_then(serde_json::Value::as_f64).unwrap_or(0.0),
                mean_kwh: ev.get("mean_before_kwh").and_then(serde_json::Value::as_f64).unwrap_or(0.0),
            });
        }
    }

    // Areas over the loss line on the day and not on the day before.
    let mut high: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    if session.has_rows("supply") {
        let pds = point_days(session, d - 1, d + 1)?;
        let before: std::collections::HashSet<&(String, String)> = pds
            .iter()
            .filter(|p| p.day == d - 1 && p.loss_rate().is_some_and(|r| r > loss_line))
            .map(|p| &p.point)
            .collect();
        for p in &pds {
            if p.day == d
                && p.point.0 == "tq"
                && let Some(r) = p.loss_rate().filter(|r| *r > loss_line)
                && !before.contains(&p.point)
            {
                high.entry(p.station.clone()).or_default().push((p.point.1.clone(), r));
            }
        }
        for v in high.values_mut() {
            v.sort_by(|a, b| b.1.total_cmp(&a.1));
        }
    }

    // Audit orders due today (the morning after the day) and overdue.
    let today = (day + chrono::Days::new(1)).to_string();
    let (due, overdue) = if flow.database().exists() {
        // Opened with its tables made sure of: a database another process has only just created
        // may not have them yet.
        let conn = flow.open().map_err(|e| jicha_engine::EngineError::Internal(e.to_string()))?;
        jicha_flow::orders::due_and_overdue(&conn, &today)
            .map_err(|e| jicha_engine::EngineError::Internal(e.to_string()))?
    } else {
        Default::default()
    };
    let mut due_by: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (s, number, title) in due {
        due_by.entry(s).or_default().push((number, title));
    }

    let stations: Vec<StationBrief> = names
        .iter()
        .map(|(id, name)| StationBrief {
            station_id: id.clone(),
            name: name.clone(),
            supply: get(id, d),
            week_before: get(id, d - 7),
            year_before: get(id, d - 364),
            drops: drops.remove(id).unwrap_or_default(),
            new_high_loss: high.remove(id).unwrap_or_default(),
            due_today: due_by.remove(id).unwrap_or_default(),
            overdue: overdue.get(id).copied().unwrap_or(0),
        })
        .collect();
    let total = |f: fn(&StationBrief) -> Option<f64>| {
        let known: Vec<f64> = stations.iter().filter_map(f).collect();
        (!known.is_empty()).then(|| known.iter().sum())
    };
    let company = StationBrief {
        station_id: String::new(),
        name: "全公司".to_string(),
        supply: total(|s| s.supply),
        week_before: total(|s| s.week_before),
        year_before: total(|s| s.year_before),
        drops: stations.iter().flat_map(|s| s.drops.clone()).collect(),
        new_high_loss: stations.iter().flat_map(|s| s.new_high_loss.clone()).collect(),
        due_today: stations.iter().flat_map(|s| s.due_today.clone()).collect(),
        overdue: stations.iter().map(|s| s.overdue).sum(),
    };
    // A note only: a store that cannot say does not cost the morning its briefing.
    let not_in = jicha_store::day_not_in(session.dir(), day).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the briefing's data check");
        None
    });
    Ok(Briefing { day, company, stations, loss_line, not_in })
}

impl StationBrief {
    /// The SMS: one line, the figures a station head acts on. `late`: the day's data is not all
    /// in, so an unknown supply is said in words, not as three dashes.
    pub fn sms(&self, day: NaiveDate, late: bool) -> String {
        let mut s = match self.supply {
            None if late => {
                format!("【日供电量简报】{}{}月{}日供电量数据未到", self.name, day.month(), day.day())
            }
            _ => format!(
                "【日供电量简报】{}{}月{}日供电量{}，比上周同日{}，比去年同期{}",
                self.name,
                day.month(),
                day.day(),
                kwh(self.supply),
                pct(change(self.supply, self.week_before)),
                pct(change(self.supply, self.year_before)),
            ),
        };
        if !self.drops.is_empty() {
            s += &format!("；大用户电量骤降{}户", self.drops.len());
        }
        if !self.new_high_loss.is_empty() {
            s += &format!("；新增高损台区{}个", self.new_high_loss.len());
        }
        if !self.due_today.is_empty() {
            s += &format!("；今日到期稽查工单{}张", self.due_today.len());
        }
        if self.overdue > 0 {
            s += &format!("；超期工单{}张", self.overdue);
        }
        s.push('。');
        s
    }
}

impl Briefing {
    /// The subject line of the long form.
    pub fn subject(&self) -> String {
        format!("日供电量简报 {}年{}月{}日", self.day.year(), self.day.month(), self.day.day())
    }

    /// The long form for chat robots and e-mail: the company's line, a line per station, then
    /// the drops, the new high-loss areas and the orders due today by name.
    pub fn long_text(&self) -> String {
        let mut out = format!("{}\n", self.subject());
        if let Some(why) = &self.not_in {
            out += &format!("注意 / note: {why}\n");
        }
        out += &format!("{}\n", self.company.sms(self.day, self.not_in.is_some()));
        out += "\n各供电所 供电量 / 比上周同日 / 比去年同期：\n";
        for s in &self.stations {
            out += &format!(
                "· {} {} / {} / {}\n",
                s.name,
                kwh(s.supply),
                pct(change(s.supply, s.week_before)),
                pct(change(s.supply, s.year_before))
            );
        }
        for s in &self.stations {
            let mut lines = Vec::new();
            for dr in &s.drops {
                lines.push(format!(
                    "  大用户骤降 {} {}：{:.0}kWh，前几日均值 {:.0}kWh",
                    dr.customer_id, dr.name, dr.day_kwh, dr.mean_kwh
                ));
            }
            for (tq, r) in &s.new_high_loss {
                lines.push(format!(
                    "  新增高损台区 {tq}：线损率 {:.1}%（线 {:.0}%）",
                    r * 100.0,
                    self.loss_line * 100.0
                ));
            }
            for (n, t) in &s.due_today {
                lines.push(format!("  今日到期工单 {n}：{t}"));
            }
            if s.overdue > 0 {
                lines.push(format!("  超期工单 {} 张", s.overdue));
            }
            if !lines.is_empty() {
                out += &format!("\n{}：\n{}\n", s.name, lines.join("\n"));
            }
        }
        out
    }
}
