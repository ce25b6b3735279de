//! Planted anomalies: for every theme of the catalogue a few entities are made to break its rule,
//! each far from the threshold. The plan only changes the world; which (theme, entity, period)
//! lines end up in the ground truth is decided by evaluating the reference rules on what is
//! written (see `truth`), so the file stays exact even where one plant legitimately trips a second
//! theme. `planted` and `allowed` list what is expected, so a surprise is counted and reported.

use std::collections::BTreeSet;

use chrono::{Datelike, Months};
use jicha_core::calendar::{from_epoch_days, to_epoch_days};
use jicha_core::codes::{Category, CustomerStatus};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::world::{NO_DAY, NONE, T_RES_MONTH, T_RES_YEAR, Voltage, World};

/// What was done to a customer (or its meter).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlantKind {
    /// VOL-ZERO: nothing registers for the whole window (vacant home, stopped meter).
    VolZero,
    /// VOL-DROP: one month at a small share of the usual consumption.
    VolDrop {
        /// Month index.
        month: usize,
        /// Share of the usual consumption.
        factor: f64,
    },
    /// VOL-SURGE: from a month on, several times the usual consumption.
    VolSurge {
        /// First month index.
        month: usize,
        /// Multiple of the usual consumption.
        factor: f64,
    },
    /// VOL-REVERSE: the register of `day` reads `amount` hundredths below the day before.
    VolReverse {
        /// The day whose register goes backwards.
        day: i32,
        /// By how much, register hundredths.
        amount: i64,
    },
    /// VOL-OVERCAP: the contract capacity was set far below the real load.
    VolOvercap,
    /// VOL-MISSING: collection fails `len` days in a row from `first`.
    VolMissing {
        /// First missing register date.
        first: i32,
        /// Number of days.
        len: i32,
    },
    /// VOL-TOU: from `from` on, the peak register is off by a fixed amount.
    VolTou {
        /// First day with the fault.
        from: i32,
    },
    /// PRC-CATEGORY: a shop billed on the residents' tariff.
    PrcCategory,
    /// PRC-BILL: the bill of `month` is overcharged.
    PrcBill {
        /// Month index.
        month: usize,
    },
    /// PRC-KWH: the bill of `month` records only part of the metered kWh.
    PrcKwh {
        /// Month index.
        month: usize,
    },
    /// PRC-BASIC: the bill of `month` leaves out the basic charge (so PRC-BILL fires too).
    PrcBasic {
        /// Month index.
        month: usize,
    },
    /// PRC-PF: the bill of `month` has no power-factor adjustment.
    PrcPf {
        /// Month index.
        month: usize,
    },
    /// FEE-ARREARS: bills from before the window were never (fully) paid.
    FeeArrears,
    /// LOSS-THEFT: from `from` on the meter sees only `factor` of the energy drawn.
    Theft {
        /// First day of theft.
        from: i32,
        /// Share the meter still sees.
        factor: f64,
    },
    /// DAY-LARGE-DROP: a large user's consumption collapses for one day.
    LargeDrop {
        /// The day.
        day: i32,
        /// Share of the usual consumption.
        factor: f64,
    },
    /// MTR-OVERDUE: the meter's verification is older than its period.
    MtrOverdue,
    /// MTR-MULTIPLIER: the archived CT ratio does not match the multiplier.
    MtrMultiplier,
    /// MTR-SEAL: the meter has no seal ids.
    MtrSealEmpty,
    /// MTR-SEAL: the latest field check found the seal broken.
    MtrSealBroken,
    /// TMP-OVERDUE: temporary supply past its expiry date.
    TmpExpired,
    /// TMP-OVERDUE: temporary supply without an expiry date, opened long ago.
    TmpNoExpiry,
    /// ARC-TOPOLOGY: the archive puts the customer on another feeder than its area's.
    ArcFeeder {
        /// The feeder written in the archive.
        feeder: u32,
    },
    /// ARC-TOPOLOGY: the archive puts the customer in another station than its area's.
    ArcStation {
        /// The station written in the archive.
        station: u32,
    },
    /// ARC-INFO: the phone is a placeholder.
    ArcPhone,
    /// ARC-INFO: the address is empty.
    ArcAddress,
}

/// What was planted into one customer (the customer points at it).
#[derive(Debug, Clone)]
pub struct Plant {
    /// What was planted.
    pub kind: PlantKind,
}

/// A bill from before the window left unpaid (FEE-ARREARS).
#[derive(Debug, Clone)]
pub struct OldBill {
    /// Customer index.
    pub customer: u32,
    /// Months before the window's first month.
    pub months_before: u32,
    /// Share paid (0 = nothing).
    pub paid_share: f64,
}

/// A planted counter-business work order (BIZ-*). Customers converted into new connections are
/// opened on `day`, the day their order is connected.
#[derive(Debug, Clone, Copy)]
pub enum OrderPlant {
    /// BIZ-OVERTIME: a resident's new connection taking 10 days (limit 5), within one month.
    OvertimeResident {
        /// Customer index.
        customer: u32,
        /// Connection day.
        day: i32,
    },
    /// BIZ-OVERTIME: a 10 kV capacity increase taking 75 days (limit 60).
    OvertimeCapacity {
        /// Customer index.
        customer: u32,
        /// Connection day.
        day: i32,
    },
    /// BIZ-OVERTIME (and BIZ-BACKLOG once 30 days old): a new connection still open, accepted 20
    /// days before the first as-of date (limit 15 for an order without a customer).
    OvertimeOpen,
    /// BIZ-BACKLOG: an `other` order still open, accepted 45 days before the first as-of date.
    Backlog {
        /// Customer index.
        customer: u32,
    },
    /// BIZ-ARCHIVE: archived 15 days after connection.
    ArchiveLate {
        /// Customer index.
        customer: u32,
        /// Connection day.
        day: i32,
    },
    /// BIZ-ARCHIVE: connected and never archived.
    ArchiveNever {
        /// Customer index.
        customer: u32,
        /// Connection day.
        day: i32,
    },
    /// BIZ-FEE: a low-voltage new connection charged a fee.
    Fee {
        /// Customer index.
        customer: u32,
        /// Connection day.
        day: i32,
    },
}

/// The plan: which plants exist, what they are expected to fire, and what could not be planted.
#[derive(Debug, Default)]
pub struct Plan {
    /// (theme, entity id) expected to fire in some period.
    pub planted: BTreeSet<(String, String)>,
    /// (theme, entity id) that may legitimately fire as a side effect of a plant.
    pub allowed: BTreeSet<(String, String)>,
    /// Customers whose theft is declared in the ground truth from a month on (the theft model has
    /// no closed-form rule to evaluate): (customer, first month index).
    pub thefts: Vec<(u32, usize)>,
    /// FEE-ARREARS bills before the window.
    pub old_bills: Vec<OldBill>,
    /// BIZ-* work orders.
    pub orders: Vec<OrderPlant>,
    /// SVC-REPEAT: (area, month) with repeated unplanned outages.
    pub outages: Vec<(u32, usize)>,
    /// Themes not planted and why.
    pub notes: Vec<String>,
}

impl Plan {
    /// Records an expected finding.
    pub fn expect_finding(&mut self, theme: &str, entity: String) {
        self.planted.insert((theme.to_string(), entity));
    }

    /// Records a legitimate side effect.
    pub fn allow(&mut self, theme: &str, entity: String) {
        self.allowed.insert((theme.to_string(), entity));
    }
}

/// The bill id of a customer and month: 电费年月 + 户号.
pub fn bill_id(w: &World, customer: u32, period: jicha_core::calendar::Period) -> String {
    format!("{:04}{:02}{}", period.year(), period.month(), w.customer_id(customer))
}

struct Picker<'a> {
    used: Vec<bool>,
    rng: &'a mut ChaCha8Rng,
}

impl Picker<'_> {
    /// Up to `n` customers satisfying `pred`, drawn without replacement and marked used.
    fn take(&mut self, w: &World, n: usize, pred: impl Fn(u32) -> bool) -> Vec<u32> {
        let mut cands: Vec<u32> =
            (0..w.customers.len() as u32).filter(|&i| !self.used[i as usize] && pred(i)).collect();
        let mut out = Vec::new();
        while out.len() < n && !cands.is_empty() {
            let k = self.rng.random_range(0..cands.len());
            let ci = cands.swap_remove(k);
            self.used[ci as usize] = true;
            out.push(ci);
        }
        out
    }
}

/// Plants anomalies into the world and returns the plan.
pub fn plant(w: &mut World, rng: &mut ChaCha8Rng) -> Plan {
    let mut plan = Plan::default();
    let n = w.customers.len();
    let per = 2 + n / 25_000;
    let months = w.cal.months.len();
    let start = w.cal.start;
    // Consumption plants need a baseline: at least 30 days of data before their month.
    let k0 = (0..months).find(|&k| w.cal.months[k].first - start >= 30);
    let mut p = Picker { used: vec![false; n], rng };
    // Daily base consumption of each station: plants that change a customer's consumption stay a
    // small share of it, so that DAY-SUPPLY (20% against a week earlier) never notices them.
    let mut station_base = vec![0.0f64; w.stations.len()];
    for c in &w.customers {
        station_base[c.station as usize] += f64::from(c.base);
    }
    let small_share = |w: &World, i: u32, share: f64| {
        let c = &w.customers[i as usize];
        f64::from(c.base) <= share * station_base[c.station as usize]
    };
    let plain = |w: &World, i: u32| {
        let c = &w.customers[i as usize];
        c.status == CustomerStatus::Active
            && c.opened < start - 200
            && !c.temporary
            && c.meters == 1
            && c.plant == NONE
    };
    let lv = |w: &World, i: u32| w.customers[i as usize].area != NONE;

    let add = |w: &mut World, ci: u32, kind: PlantKind| {
        let idx = w.plants.len() as u32;
        w.plants.push(Plant { kind });
        let c = &mut w.customers[ci as usize];
        c.plant = idx;
        c.clean = true;
    };
    let cid = |w: &World, ci: u32| w.customer_id(ci);
    let mid = |w: &World, ci: u32| w.meters[w.customers[ci as usize].meter0 as usize].id_str().to_string();

    for ci in
        p.take(w, per, |i| plain(w, i) && lv(w, i) && w.customers[i as usize].category == Category::Resident)
    {
        add(w, ci, PlantKind::VolZero);
        plan.expect_finding("VOL-ZERO", cid(w, ci));
    }
    match k0 {
        Some(k0) => {
            for ci in p.take(w, per, |i| {
                let c = &w.customers[i as usize];
                plain(w, i)
                    && lv(w, i)
                    && !c.is_large()
                    && small_share(w, i, 0.015)
                    && ((c.category == Category::Resident && c.base >= 4.0)
                        || c.category == Category::Commercial)
            }) {
                let month = p.rng.random_range(k0..months);
                add(w, ci, PlantKind::VolDrop { month, factor: 0.12 });
                tune(w, ci, &[0.12, 0.08, 0.16, 0.05], |f| PlantKind::VolDrop { month, factor: f });
                plan.expect_finding("VOL-DROP", cid(w, ci));
            }
            for ci in p.take(w, per, |i| {
                let c = &w.customers[i as usize];
                plain(w, i)
                    && lv(w, i)
                    && c.category == Category::Resident
                    && (3.0..=8.0).contains(&c.base)
                    && small_share(w, i, 0.004)
            }) {
                let month = p.rng.random_range(k0..months);
                add(w, ci, PlantKind::VolSurge { month, factor: 5.0 });
                tune(w, ci, &[5.0, 6.0, 4.5, 7.0], |f| PlantKind::VolSurge { month, factor: f });
                // A home that now runs a workshop: its contract must still hold the new load, so
                // that only VOL-SURGE fires.
                w.customers[ci as usize].contract_kva = w.customers[ci as usize].contract_kva.max(12);
                plan.expect_finding("VOL-SURGE", cid(w, ci));
            }
            // Thieves: small residents in areas whose base loss is low, so that the stolen
            // energy raises the area's loss visibly but keeps it well under 10%.
            let theft_n = 3 + n / 5000;
            let shares: Vec<f64> = w
                .areas
                .iter()
                .map(|a| {
                    (a.customers.0..a.customers.1).map(|i| f64::from(w.customers[i as usize].base)).sum()
                })
                .collect();
            for ci in p.take(w, theft_n, |i| {
                let c = &w.customers[i as usize];
                plain(w, i)
                    && lv(w, i)
                    && c.category == Category::Resident
                    && f64::from(c.base) >= 4.0
                    && f64::from(c.base) / shares[c.area as usize] <= 0.02
            }) {
                let month = p.rng.random_range(k0..months);
                let m = w.cal.months[month];
                let from = m.first + p.rng.random_range(3..(m.days - 3).max(4));
                add(w, ci, PlantKind::Theft { from, factor: 0.25 });
                tune(w, ci, &[0.25, 0.2, 0.3, 0.15, 0.35, 0.1, 0.5], |f| PlantKind::Theft {
                    from,
                    factor: f,
                });
                let area = w.customers[ci as usize].area as usize;
                w.areas[area].loss = w.areas[area].loss.min(0.04);
                plan.expect_finding("LOSS-THEFT", cid(w, ci));
                plan.allow("VOL-DROP", cid(w, ci));
                plan.thefts.push((ci, w.cal.month_of(from)));
            }
        }
        None => plan.notes.push(
            "VOL-DROP, VOL-SURGE, LOSS-THEFT: need 30 days of data before a month (use --months 2 or more)"
                .into(),
        ),
    }
    for ci in p.take(w, per, |i| {
        let c = &w.customers[i as usize];
        plain(w, i) && lv(w, i) && c.category == Category::Resident && !w.meters[c.meter0 as usize].tou
    }) {
        let month = p.rng.random_range(0..months);
        let m = w.cal.months[month];
        let day = m.first + p.rng.random_range(3..(m.days - 3).max(4));
        add(w, ci, PlantKind::VolReverse { day, amount: 3000 });
        plan.expect_finding("VOL-REVERSE", mid(w, ci));
    }
    for ci in p.take(w, per, |i| {
        let c = &w.customers[i as usize];
        plain(w, i) && lv(w, i) && c.category == Category::Commercial && c.contract_kva < 50 && c.base >= 40.0
    }) {
        // The archive says a fraction of what the shop really draws (私增容量).
        let c = &mut w.customers[ci as usize];
        c.contract_kva = ((f64::from(c.base) / 24.0 * 0.45).floor() as u32).max(1);
        add(w, ci, PlantKind::VolOvercap);
        plan.expect_finding("VOL-OVERCAP", cid(w, ci));
    }
    for ci in p.take(w, per, |i| plain(w, i) && lv(w, i)) {
        let month = p.rng.random_range(0..months);
        let m = w.cal.months[month];
        let first = m.first + 9.min(m.days - 6);
        add(w, ci, PlantKind::VolMissing { first, len: 5 });
        plan.expect_finding("VOL-MISSING", mid(w, ci));
    }
    for ci in p.take(w, per, |i| {
        let c = &w.customers[i as usize];
        plain(w, i) && lv(w, i) && w.meters[c.meter0 as usize].tou && c.category == Category::Commercial
    }) {
        let month = p.rng.random_range(0..months);
        add(w, ci, PlantKind::VolTou { from: w.cal.months[month].first + 4 });
        plan.expect_finding("VOL-TOU", mid(w, ci));
    }
    for ci in p.take(w, per, |i| {
        let c = &w.customers[i as usize];
        plain(w, i) && lv(w, i) && c.category == Category::Commercial && !c.needs_pf
    }) {
        w.customers[ci as usize].tariff = T_RES_MONTH;
        add(w, ci, PlantKind::PrcCategory);
        plan.expect_finding("PRC-CATEGORY", cid(w, ci));
    }
    let bill_plant = |w: &mut World,
                      p: &mut Picker,
                      plan: &mut Plan,
                      theme: &str,
                      pred: &dyn Fn(&World, u32) -> bool,
                      make: fn(usize) -> PlantKind| {
        for ci in p.take(w, per, |i| plain(w, i) && pred(w, i)) {
            let month = p.rng.random_range(0..months);
            add(w, ci, make(month));
            let b = bill_id(w, ci, w.cal.months[month].period);
            plan.expect_finding(theme, b.clone());
            if theme == "PRC-BASIC" {
                plan.expect_finding("PRC-BILL", b);
            }
        }
    };
    bill_plant(
        w,
        &mut p,
        &mut plan,
        "PRC-BILL",
        &|w, i| {
            w.customers[i as usize].category == Category::Commercial && w.customers[i as usize].base >= 30.0
        },
        |month| PlantKind::PrcBill { month },
    );
    bill_plant(
        w,
        &mut p,
        &mut plan,
        "PRC-KWH",
        &|w, i| {
            let c = &w.customers[i as usize];
            c.area != NONE && c.base >= 4.0 && matches!(c.category, Category::Resident | Category::Commercial)
        },
        |month| PlantKind::PrcKwh { month },
    );
    bill_plant(
        w,
        &mut p,
        &mut plan,
        "PRC-BASIC",
        &|w, i| w.customers[i as usize].category == Category::Industrial,
        |month| PlantKind::PrcBasic { month },
    );
    bill_plant(w, &mut p, &mut plan, "PRC-PF", &|w, i| w.customers[i as usize].needs_pf, |month| {
        PlantKind::PrcPf { month }
    });
    for (k, ci) in p
        .take(w, per, |i| {
            let c = &w.customers[i as usize];
            plain(w, i)
                && lv(w, i)
                && c.tariff != T_RES_YEAR
                && matches!(c.category, Category::Resident | Category::Commercial)
                && c.base >= 3.0
        })
        .into_iter()
        .enumerate()
    {
        add(w, ci, PlantKind::FeeArrears);
        let first = w.cal.months[0].period;
        let mut old = first;
        for _ in 0..3 {
            old = old.prev();
        }
        plan.old_bills.push(OldBill { customer: ci, months_before: 3, paid_share: 0.0 });
        plan.expect_finding("FEE-ARREARS", bill_id(w, ci, old));
        if k % 2 == 1 {
            plan.old_bills.push(OldBill { customer: ci, months_before: 4, paid_share: 0.4 });
            plan.expect_finding("FEE-ARREARS", bill_id(w, ci, old.prev()));
        }
    }
    // Large users (10 kV): one day's collapse.
    let ndays = w.cal.end - start + 1;
    if ndays >= 10 {
        let large = |w: &World, i: u32| {
            let c = &w.customers[i as usize];
            plain(w, i) && c.area == NONE && c.is_large()
        };
        // Its station must draw enough besides it (3000 kWh a day) that a 150 kWh user's
        // collapse stays a few percent of the station's supply.
        let roomy = |w: &World, i: u32| {
            let c = &w.customers[i as usize];
            station_base[c.station as usize] - f64::from(c.base) >= 3000.0
        };
        let mut chosen = p.take(w, per, |i| {
            large(w, i) && roomy(w, i) && w.customers[i as usize].category == Category::Commercial
        });
        if chosen.is_empty() {
            chosen = p.take(w, 1, |i| large(w, i) && roomy(w, i));
        }

        for ci in chosen {
            let day = start + p.rng.random_range(8..ndays);
            let st = w.customers[ci as usize].station as usize;
            // A modest user of a large contract (a hotel, an idle works), so that its day's collapse
            // moves the station's supply by a few percent only: DAY-SUPPLY stays quiet.
            let c = &mut w.customers[ci as usize];
            c.base = c.base.min((0.04 * (station_base[st] - f64::from(c.base))).max(150.0) as f32);
            add(w, ci, PlantKind::LargeDrop { day, factor: 0.12 });
            plan.expect_finding("DAY-LARGE-DROP", cid(w, ci));
        }
    }
    // Meters.
    let as_of0 = from_epoch_days(w.cal.months[0].as_of());
    let overdue = |years: u32, back_days: i64| {
        let d = as_of0.checked_sub_months(Months::new(12 * years)).unwrap_or(as_of0)
            - chrono::Duration::days(back_days);
        let d = if d.day() > 28 { d.with_day(28).unwrap_or(d) } else { d };
        to_epoch_days(d)
    };
    for ci in p.take(w, per, |i| plain(w, i) && lv(w, i)) {
        let back = p.rng.random_range(20..400);
        set_verified(w, ci, overdue(8, back));
        add(w, ci, PlantKind::MtrOverdue);
        plan.expect_finding("MTR-OVERDUE", mid(w, ci));
    }
    for ci in p.take(w, 1 + per / 2, |i| plain(w, i) && w.customers[i as usize].voltage == Voltage::Kv10) {
        let back = p.rng.random_range(20..200);
        set_verified(w, ci, overdue(6, back));
        add(w, ci, PlantKind::MtrOverdue);
        plan.expect_finding("MTR-OVERDUE", mid(w, ci));
    }
    if months >= 3 {
        // Becomes overdue in the middle of the window: found from that month on.
        let k = months / 2;
        let as_of_k = from_epoch_days(w.cal.months[k].as_of());
        for ci in p.take(w, 1, |i| plain(w, i) && lv(w, i)) {
            let d =
                as_of_k.checked_sub_months(Months::new(96)).unwrap_or(as_of_k) - chrono::Duration::days(5);
            let d = if d.day() > 28 { d.with_day(28).unwrap_or(d) } else { d };
            set_verified(w, ci, to_epoch_days(d));
            add(w, ci, PlantKind::MtrOverdue);
            plan.expect_finding("MTR-OVERDUE", mid(w, ci));
        }
    }
    for ci in
        p.take(w, per, |i| plain(w, i) && w.meters[w.customers[i as usize].meter0 as usize].ct.is_some())
    {
        let m = &mut w.meters[w.customers[ci as usize].meter0 as usize];
        if let Some((a, b)) = m.ct {
            // A ratio one size off: 200/5 archived as 150/5.
            m.ct_written = Some((if a > 50 { a - 50 } else { a + 25 }, b));
        }
        add(w, ci, PlantKind::MtrMultiplier);
        plan.expect_finding("MTR-MULTIPLIER", mid(w, ci));
    }
    for ci in p.take(w, per, |i| plain(w, i)) {
        w.meters[w.customers[ci as usize].meter0 as usize].sealed = false;
        add(w, ci, PlantKind::MtrSealEmpty);
        plan.expect_finding("MTR-SEAL", mid(w, ci));
    }
    for ci in p.take(w, per, |i| plain(w, i) && lv(w, i)) {
        add(w, ci, PlantKind::MtrSealBroken);
        plan.expect_finding("MTR-SEAL", mid(w, ci));
    }
    // Temporary supply past its term.
    let a0 = w.cal.months[0].as_of();
    for (k, ci) in p
        .take(w, per, |i| {
            let c = &w.customers[i as usize];
            plain(w, i)
                && lv(w, i)
                && c.category == Category::Commercial
                && !c.needs_pf
                && c.opened < a0 - 400
        })
        .into_iter()
        .enumerate()
    {
        let c = &mut w.customers[ci as usize];
        c.temporary = true;
        if k % 2 == 0 {
            c.temp_expires = a0 - p.rng.random_range(10..60);
            add(w, ci, PlantKind::TmpExpired);
        } else {
            c.temp_expires = NO_DAY;
            add(w, ci, PlantKind::TmpNoExpiry);
        }
        plan.expect_finding("TMP-OVERDUE", cid(w, ci));
    }
    // Archives.
    for ci in p.take(w, per, |i| plain(w, i) && lv(w, i)) {
        let c = &w.customers[ci as usize];
        let own = c.feeder;
        // Prefer another feeder of the same station; fall back to any other feeder.
        let other = (0..w.feeders.len() as u32)
            .find(|&f| f != own && w.feeders[f as usize].station == c.station)
            .or_else(|| (0..w.feeders.len() as u32).find(|&f| f != own));
        if let Some(feeder) = other {
            add(w, ci, PlantKind::ArcFeeder { feeder });
            plan.expect_finding("ARC-TOPOLOGY", cid(w, ci));
        }
    }
    if w.stations.len() > 1 {
        for ci in p.take(w, per, |i| plain(w, i) && lv(w, i)) {
            let station = (w.customers[ci as usize].station + 1) % w.stations.len() as u32;
            add(w, ci, PlantKind::ArcStation { station });
            plan.expect_finding("ARC-TOPOLOGY", cid(w, ci));
        }
    }
    for (k, ci) in p.take(w, per, |i| plain(w, i)).into_iter().enumerate() {
        add(w, ci, if k % 2 == 0 { PlantKind::ArcPhone } else { PlantKind::ArcAddress });
        plan.expect_finding("ARC-INFO", cid(w, ci));
    }
    // Counter business: residents turned into new connections of the window.
    let newconn = |w: &mut World, p: &mut Picker, lo: i32, hi: i32| -> Option<(u32, i32)> {
        let ci = p
            .take(w, 1, |i| plain(w, i) && lv(w, i) && w.customers[i as usize].category == Category::Resident)
            .pop()?;
        let month = p.rng.random_range(0..months);
        let m = w.cal.months[month];
        let day = m.first + p.rng.random_range(lo.min(m.days - 2)..hi.min(m.days - 1));
        convert_to_new(w, ci, day);
        Some((ci, day))
    };
    for _ in 0..per {
        if let Some((customer, day)) = newconn(w, &mut p, 12, 28) {
            plan.orders.push(OrderPlant::OvertimeResident { customer, day });
        }
        if let Some((customer, day)) = newconn(w, &mut p, 1, 5) {
            plan.orders.push(OrderPlant::ArchiveLate { customer, day });
        }
        if let Some((customer, day)) = newconn(w, &mut p, 2, 3) {
            plan.orders.push(OrderPlant::ArchiveNever { customer, day });
        }
        if let Some((customer, day)) = newconn(w, &mut p, 4, 20) {
            plan.orders.push(OrderPlant::Fee { customer, day });
        }
    }
    for ci in p.take(w, per, |i| plain(w, i) && w.customers[i as usize].voltage == Voltage::Kv10) {
        let month = p.rng.random_range(0..months);
        let m = w.cal.months[month];
        plan.orders.push(OrderPlant::OvertimeCapacity { customer: ci, day: m.first + 19.min(m.days - 1) });
    }
    plan.orders.push(OrderPlant::OvertimeOpen);
    for ci in p.take(w, per, |i| plain(w, i)) {
        plan.orders.push(OrderPlant::Backlog { customer: ci });
    }
    for _ in 0..per.min(w.areas.len()) {
        let a = p.rng.random_range(0..w.areas.len()) as u32;
        let month = p.rng.random_range(0..months);
        if !plan.outages.iter().any(|&(x, _)| x == a) {
            plan.outages.push((a, month));
            plan.expect_finding("SVC-REPEAT", w.areas[a as usize].id.clone());
        }
    }
    // Areas and feeders.
    let mut area_used = vec![false; w.areas.len()];
    for (i, a) in w.areas.iter().enumerate() {
        // Areas hosting a thief keep a low loss; leave them alone.
        area_used[i] = (a.customers.0..a.customers.1).any(|c| matches!(w.customers[c as usize].plant, p if p != NONE && matches!(w.plants[p as usize].kind, PlantKind::Theft { .. })));
    }
    for (theme, loss) in [("LOSS-TQ-HIGH", 0.20), ("LOSS-TQ-NEG", -0.10)] {
        let mut cands: Vec<usize> = (0..w.areas.len()).filter(|&a| !area_used[a]).collect();
        for _ in 0..per.min(w.areas.len() / 4).max(1) {
            if cands.is_empty() {
                break;
            }
            let a = cands.swap_remove(p.rng.random_range(0..cands.len()));
            area_used[a] = true;
            w.areas[a].loss = loss;
            w.areas[a].clean = true;
            plan.expect_finding(theme, w.areas[a].id.clone());
        }
    }
    let mut fcands: Vec<usize> = (0..w.feeders.len()).collect();
    for _ in 0..per.min(w.feeders.len() / 2).max(1) {
        if fcands.is_empty() {
            break;
        }
        let f = fcands.swap_remove(p.rng.random_range(0..fcands.len()));
        w.feeders[f].line_loss = 0.12;
        let (a, b) = w.feeders[f].direct;
        for ci in a..b {
            w.customers[ci as usize].clean = true;
        }
        plan.expect_finding("LOSS-FEEDER-HIGH", w.feeders[f].id.clone());
    }
    // Stations.
    let ns = w.stations.len();
    if ndays >= 22 {
        let mut cands: Vec<usize> = (0..ns).collect();
        for _ in 0..per.min(ns) {
            let s = cands.swap_remove(p.rng.random_range(0..cands.len()));
            w.stations[s].surge_day = start + p.rng.random_range(8..ndays - 8);
            plan.expect_finding("DAY-SUPPLY", w.stations[s].id.clone());
        }
    } else {
        plan.notes.push("DAY-SUPPLY: needs 22 days or more".into());
    }
    if months >= 2 {
        let mut cands: Vec<usize> = (0..ns).collect();
        for _ in 0..per.min(ns) {
            let s = cands.swap_remove(p.rng.random_range(0..cands.len()));
            w.stations[s].late_month = p.rng.random_range(1..months);
            plan.expect_finding("FEE-RECOVERY", w.stations[s].id.clone());
        }
    } else {
        plan.notes.push("FEE-RECOVERY: needs bills due inside the window (use --months 2 or more)".into());
    }
    plan
}

/// Tries the factors in turn and keeps the first whose monthly ratios all stay far from the
/// VOL-DROP and VOL-SURGE thresholds (a persistent drop crosses 0.4 again as the baseline fills
/// with low days; the month it does so must not land next to the threshold).
fn tune(w: &mut World, ci: u32, factors: &[f64], make: impl Fn(f64) -> PlantKind) {
    let idx = w.customers[ci as usize].plant as usize;
    for &f in factors {
        w.plants[idx].kind = make(f);
        if crate::model::ratios_far(&crate::model::month_ratios(w, ci)) {
            return;
        }
    }
    w.plants[idx].kind = make(factors[0]);
}

/// Makes an old customer a new connection of `day`: opened that day, its meter installed then.
fn convert_to_new(w: &mut World, ci: u32, day: i32) {
    let c = &mut w.customers[ci as usize];
    c.opened = day;
    let m = &mut w.meters[c.meter0 as usize];
    m.installed = day;
    m.verified = day - 30;
    m.start_register = 0;
}

/// Backdates a customer's only meter so that its verification is `verified`.
fn set_verified(w: &mut World, ci: u32, verified: i32) {
    let m = &mut w.meters[w.customers[ci as usize].meter0 as usize];
    m.verified = verified;
    m.installed = m.installed.max(verified + 15).min(w.cal.start - 20).max(verified);
}
