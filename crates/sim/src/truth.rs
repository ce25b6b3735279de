//! The ground truth: the reference rules of audit-themes.md evaluated, with default parameters, on
//! exactly what was written, for every generated month (as-of date = the first day of the next).
//! Themes on registers, consumption, bills and supply are evaluated while those are generated;
//! this module holds the record type and the themes on archives, meters and counter business.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Months, NaiveDate, NaiveDateTime, NaiveTime};
use jicha_core::calendar::{Period, from_epoch_days};
use jicha_core::codes::{Category, CustomerStatus, PointType, WorkOrderKind, WorkOrderStatus};
use jicha_core::tariff::version_on;

use crate::events::Events;
use crate::plants::{Plan, PlantKind};
use crate::world::{NO_DAY, NONE, TARIFF_CODES, World};

/// One line of `ground-truth.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Truth {
    /// Theme code.
    pub theme: &'static str,
    /// Entity type as the findings spell it.
    pub entity_type: &'static str,
    /// Entity id.
    pub entity_id: String,
    /// The audited month.
    pub period: Period,
    /// For daily themes, the day.
    pub date: Option<NaiveDate>,
}

impl Truth {
    /// A finding of a monthly theme.
    pub fn new(theme: &'static str, entity_type: &'static str, entity_id: String, period: Period) -> Truth {
        Truth { theme, entity_type, entity_id, period, date: None }
    }

    /// A finding of a daily theme on `day`.
    pub fn daily(theme: &'static str, entity_type: &'static str, entity_id: String, day: i32) -> Truth {
        let date = from_epoch_days(day);
        Truth { theme, entity_type, entity_id, period: Period::of(date), date: Some(date) }
    }

    /// The JSON line, keys in a fixed, readable order (theme first).
    pub fn to_json(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let mut line = format!(
            "{{\"theme\":{},\"entity_type\":{},\"entity_id\":{},\"period\":{}",
            q(self.theme),
            q(self.entity_type),
            q(&self.entity_id),
            q(&self.period.to_string())
        );
        if let Some(d) = self.date {
            line.push_str(&format!(",\"date\":{}", q(&d.format("%Y-%m-%d").to_string())));
        }
        line.push('}');
        line
    }
}

/// Evaluations whose result sits close to a theme's threshold, counted so that a run can say how
/// robust its ground truth is against small differences between implementations.
#[derive(Debug, Default, Clone)]
pub struct Margins {
    /// Number of (theme, entity, period) evaluations within 10% of a threshold.
    pub near: usize,
    /// Examples, at most a few.
    pub examples: Vec<String>,
}

impl Margins {
    /// Counts `ratio` against `threshold` when it is within 10% of it.
    pub fn check(&mut self, what: &str, ratio: f64, threshold: f64) {
        if threshold != 0.0 && ((ratio - threshold) / threshold).abs() < 0.1 {
            self.near += 1;
            if self.examples.len() < 5 {
                self.examples.push(format!("{what}: {ratio:.4} vs {threshold}"));
            }
        }
    }

    /// Adds another count.
    pub fn merge(&mut self, o: Margins) {
        self.near += o.near;
        for e in o.examples {
            if self.examples.len() < 5 {
                self.examples.push(e);
            }
        }
    }
}

fn at(day: i32) -> NaiveDateTime {
    NaiveDateTime::new(from_epoch_days(day), NaiveTime::MIN)
}

fn is_blank(s: &str) -> bool {
    matches!(s.trim(), "" | "0" | "-" | "/" | "无")
}

/// The written phone of a customer (ARC-INFO plants blank it).
pub fn written_phone(w: &World, ci: u32) -> String {
    let c = &w.customers[ci as usize];
    if c.plant != NONE && w.plants[c.plant as usize].kind == PlantKind::ArcPhone {
        "无".to_string()
    } else {
        w.customer_phone(ci)
    }
}

/// The written address of a customer.
pub fn written_address(w: &World, ci: u32) -> String {
    let c = &w.customers[ci as usize];
    if c.plant != NONE && w.plants[c.plant as usize].kind == PlantKind::ArcAddress {
        String::new()
    } else {
        w.customer_address(ci)
    }
}

/// The written feeder and station of a customer (ARC-TOPOLOGY plants change them).
pub fn written_topology(w: &World, ci: u32) -> (u32, u32) {
    let c = &w.customers[ci as usize];
    if c.plant != NONE {
        match w.plants[c.plant as usize].kind {
            PlantKind::ArcFeeder { feeder } => return (feeder, c.station),
            PlantKind::ArcStation { station } => return (c.feeder, station),
            _ => {}
        }
    }
    (c.feeder, c.station)
}

/// The archive, meter, counter and outage themes for every month, plus the declared thefts.
pub fn static_themes(w: &World, plan: &Plan, ev: &Events, out: &mut BTreeSet<Truth>) {
    let months = &w.cal.months;
    // Customers: PRC-CATEGORY, ARC-INFO, ARC-TOPOLOGY, TMP-OVERDUE.
    for (ci, c) in w.customers.iter().enumerate() {
        let ci = ci as u32;
        let id = || w.customer_id(ci);
        for m in months {
            let p = m.period;
            let as_of = m.as_of();
            if c.active_through(m) {
                let t = version_on(&w.tariffs, TARIFF_CODES[c.tariff as usize], from_epoch_days(m.last()));
                if t.is_some_and(|t| t.category != c.category) {
                    out.insert(Truth::new("PRC-CATEGORY", "customer", id(), p));
                }
            }
            if c.status == CustomerStatus::Active
                && (is_blank(&written_phone(w, ci)) || is_blank(&written_address(w, ci)))
            {
                out.insert(Truth::new("ARC-INFO", "customer", id(), p));
            }
            if c.status != CustomerStatus::Closed && c.area != NONE {
                let a = &w.areas[c.area as usize];
                let (feeder, station) = written_topology(w, ci);
                if a.feeder != feeder || a.station != station {
                    out.insert(Truth::new("ARC-TOPOLOGY", "customer", id(), p));
                }
            }
            if c.status == CustomerStatus::Active && c.temporary {
                let overdue =
                    if c.temp_expires != NO_DAY { c.temp_expires < as_of } else { as_of - c.opened > 180 };
                if overdue {
                    out.insert(Truth::new("TMP-OVERDUE", "customer", id(), p));
                }
            }
        }
    }
    // Meters: MTR-OVERDUE, MTR-MULTIPLIER, MTR-SEAL.
    let mut latest: BTreeMap<u32, (i32, &str, bool)> = BTreeMap::new();
    for ch in &ev.checks {
        let e = latest.entry(ch.customer).or_insert((ch.day, ch.id.as_str(), ch.seal_intact));
        if (ch.day, ch.id.as_str()) > (e.0, e.1) {
            *e = (ch.day, ch.id.as_str(), ch.seal_intact);
        }
    }
    for m in &w.meters {
        let c = &w.customers[m.customer as usize];
        for mo in months {
            let p = mo.period;
            let as_of = mo.as_of();
            let in_service = m.in_service(as_of);
            if in_service {
                let years = if c.voltage.is_low() { 8 } else { 6 };
                let base = from_epoch_days(if m.verified != NO_DAY { m.verified } else { m.installed });
                let due = base.checked_add_months(Months::new(12 * years)).unwrap_or(base);
                if due < from_epoch_days(as_of) {
                    out.insert(Truth::new("MTR-OVERDUE", "meter", m.id_str().to_string(), p));
                }
                let broken = latest.get(&m.customer).is_some_and(|l| !l.2);
                if !m.sealed || broken {
                    out.insert(Truth::new("MTR-SEAL", "meter", m.id_str().to_string(), p));
                }
            }
            if let Some((a, b)) = m.ct_written.or(m.ct) {
                let product = (a / b) * if m.pt { 100 } else { 1 };
                if a % b != 0 || product != m.multiplier {
                    out.insert(Truth::new("MTR-MULTIPLIER", "meter", m.id_str().to_string(), p));
                }
            }
        }
    }
    // Counter business.
    for o in &ev.orders {
        if o.status == WorkOrderStatus::Cancelled {
            continue;
        }
        for mo in months {
            let p = mo.period;
            let as_of = at(mo.as_of());
            let first = at(mo.first);
            let in_period = |t: NaiveDateTime| first <= t && t < as_of;
            if matches!(o.kind, WorkOrderKind::NewConnection | WorkOrderKind::CapacityIncrease) {
                let category = if o.customer != NONE {
                    w.customers[o.customer as usize].category
                } else {
                    Category::Other
                };
                let limit =
                    if o.voltage.is_low() { if category == Category::Resident { 5 } else { 15 } } else { 60 };
                let span = match (o.connected, o.status) {
                    (Some(t), _) if in_period(t) => Some(t - o.accepted),
                    (None, WorkOrderStatus::Open) if o.accepted <= as_of => Some(as_of - o.accepted),
                    _ => None,
                };
                if span.is_some_and(|s| s > Duration::days(limit)) {
                    out.insert(Truth::new("BIZ-OVERTIME", "work_order", o.id.clone(), p));
                }
            }
            if o.status == WorkOrderStatus::Open && as_of - o.accepted > Duration::days(30) {
                out.insert(Truth::new("BIZ-BACKLOG", "work_order", o.id.clone(), p));
            }
            if let Some(conn) = o.connected {
                let deadline = conn + Duration::days(7);
                let fires = if in_period(deadline) {
                    match o.archived {
                        Some(a) => a - conn > Duration::days(7),
                        None => as_of - conn > Duration::days(7),
                    }
                } else {
                    deadline < first && o.archived.is_none_or(|a| a > as_of)
                };
                if fires {
                    out.insert(Truth::new("BIZ-ARCHIVE", "work_order", o.id.clone(), p));
                }
            }
            if o.kind == WorkOrderKind::NewConnection
                && o.voltage.is_low()
                && o.fees.is_some_and(|f| f > 0)
                && in_period(o.accepted)
            {
                out.insert(Truth::new("BIZ-FEE", "work_order", o.id.clone(), p));
            }
        }
    }
    // SVC-REPEAT: unplanned outages of the area or of its feeder started in the month.
    let mut area_count: BTreeMap<(u32, usize), u32> = BTreeMap::new();
    let mut feeder_count: BTreeMap<(u32, usize), u32> = BTreeMap::new();
    for o in &ev.outages {
        if o.planned {
            continue;
        }
        let day = jicha_core::calendar::to_epoch_days(o.start.date());
        if day < w.cal.start || day > w.cal.end {
            continue;
        }
        let k = w.cal.month_of(day);
        let map = if o.scope == PointType::Tq { &mut area_count } else { &mut feeder_count };
        *map.entry((o.index, k)).or_default() += 1;
    }
    for (ai, a) in w.areas.iter().enumerate() {
        for (k, m) in months.iter().enumerate() {
            let n = area_count.get(&(ai as u32, k)).copied().unwrap_or(0)
                + feeder_count.get(&(a.feeder, k)).copied().unwrap_or(0);
            if n >= 3 {
                out.insert(Truth::new("SVC-REPEAT", "transformer_area", a.id.clone(), m.period));
            }
        }
    }
    // LOSS-THEFT has no closed-form rule (it is the theft model's output): declared for every
    // month from the one the theft starts in.
    for &(ci, from) in &plan.thefts {
        for m in &months[from..] {
            out.insert(Truth::new("LOSS-THEFT", "customer", w.customer_id(ci), m.period));
        }
    }
}
