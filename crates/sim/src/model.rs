//! How much a customer consumes on a day, and on which days collection fails.
//!
//! Consumption = base x seasonal shape x weekly shape x bounded noise (x the planted effects). The
//! factors are bounded on purpose: a normal customer's month never falls below 0.4 or rises above
//! 3 times its 90-day baseline (VOL-DROP/SURGE), a large user's day never halves against its
//! week (DAY-LARGE-DROP), a station's day never moves 20% against the same weekday a week earlier
//! (DAY-SUPPLY), and nobody exceeds 24 hours of their contract capacity (VOL-OVERCAP).

use chrono::Datelike;
use jicha_core::calendar::from_epoch_days;
use jicha_core::codes::{Category, CustomerStatus};

use crate::hash::{between, h3, salt, unit};
use crate::plants::PlantKind;
use crate::world::{Customer, Month, NO_DAY, NONE, World};

/// Seasonal and weekly shape of every category for each day of a month, precomputed because it
/// is the same for every customer.
pub struct MonthShape {
    /// `shape[category][day of month - 1]`.
    shape: [[f64; 31]; 5],
}

fn cat_index(c: Category) -> usize {
    match c {
        Category::Resident => 0,
        Category::Commercial => 1,
        Category::Industrial => 2,
        Category::Agriculture => 3,
        Category::Other => 4,
    }
}

impl MonthShape {
    /// The shapes of a month.
    pub fn new(m: &Month) -> MonthShape {
        let mut shape = [[1.0; 31]; 5];
        for i in 0..m.days {
            let date = from_epoch_days(m.first + i);
            let doy = f64::from(date.ordinal());
            let wd = date.weekday().num_days_from_monday() as usize;
            for (ci, cat) in [
                Category::Resident,
                Category::Commercial,
                Category::Industrial,
                Category::Agriculture,
                Category::Other,
            ]
            .into_iter()
            .enumerate()
            {
                shape[ci][i as usize] = seasonal(cat, doy) * weekly(cat, wd);
            }
        }
        MonthShape { shape }
    }

    /// The shape of a category on day `i` (0-based) of the month.
    #[inline]
    pub fn get(&self, cat: Category, i: i32) -> f64 {
        self.shape[cat_index(cat)][i as usize]
    }
}

/// Seasonal factor: residents and shops peak in midwinter (heating) and midsummer (cooling);
/// farms irrigate in summer; factories barely move. Amplitudes are small enough that a week
/// changes the level by under 4%.
fn seasonal(cat: Category, doy: f64) -> f64 {
    let tau = std::f64::consts::TAU;
    match cat {
        Category::Resident => 1.0 + 0.12 * (2.0 * tau * (doy - 20.0) / 365.25).cos(),
        Category::Commercial => 1.0 + 0.08 * (2.0 * tau * (doy - 20.0) / 365.25).cos(),
        Category::Industrial => 1.0 + 0.03 * (tau * (doy - 100.0) / 365.25).cos(),
        Category::Agriculture => 1.0 + 0.25 * (tau * (doy - 200.0) / 365.25).cos(),
        Category::Other => 1.0 + 0.05 * (2.0 * tau * (doy - 20.0) / 365.25).cos(),
    }
}

/// Weekly factor by weekday (Monday = 0).
fn weekly(cat: Category, wd: usize) -> f64 {
    const RES: [f64; 7] = [0.97, 0.97, 0.97, 0.97, 0.98, 1.06, 1.08];
    const COM: [f64; 7] = [1.02, 1.02, 1.02, 1.02, 1.02, 0.96, 0.94];
    const IND: [f64; 7] = [1.03, 1.03, 1.03, 1.03, 1.03, 0.97, 0.88];
    const OTH: [f64; 7] = [1.03, 1.03, 1.03, 1.03, 1.03, 0.93, 0.92];
    match cat {
        Category::Resident => RES[wd],
        Category::Commercial => COM[wd],
        Category::Industrial => IND[wd],
        Category::Agriculture => 1.0,
        Category::Other => OTH[wd],
    }
}

/// Half-width of the uniform daily noise: bounded, unlike a normal distribution, so that no day
/// of millions strays across a threshold.
fn noise_width(cat: Category) -> f64 {
    match cat {
        Category::Resident => 0.15,
        Category::Commercial | Category::Other => 0.10,
        Category::Industrial => 0.04,
        Category::Agriculture => 0.12,
    }
}

/// Factor of the whole station's load on its planted surge day (DAY-SUPPLY).
pub const SURGE_FACTOR: f64 = 1.6;

/// One customer-day of energy, in hundredths of a kWh.
#[derive(Debug, Clone, Copy, Default)]
pub struct DayUse {
    /// What the meter sees.
    pub metered: f64,
    /// What the customer draws from the network and the meter does not see (theft).
    pub stolen: f64,
}

/// The energy of customer `ci` on day `i` of month `m` (hundredths of a kWh).
#[inline]
pub fn day_use(w: &World, shape: &MonthShape, m: &Month, ci: u32, c: &Customer, i: i32) -> DayUse {
    let day = m.first + i;
    if !c.active_on(day) || c.status == CustomerStatus::Suspended {
        return DayUse::default();
    }
    let mut kwh = f64::from(c.base) * shape.get(c.category, i);
    let width = noise_width(c.category);
    kwh *= between(h3(w.seed, salt::NOISE, u64::from(ci), day as u64), 1.0 - width, 1.0 + width);
    if w.stations[c.station as usize].surge_day == day {
        kwh *= SURGE_FACTOR;
    }
    if c.opened > w.cal.start {
        // A new home or shop fills up over five weeks, so a connection never jumps a station's
        // supply against the week before.
        let weeks = f64::from((day - c.opened) / 7);
        kwh *= (0.2 + 0.2 * weeks).min(1.0);
    }
    let mut out = DayUse { metered: kwh * 100.0, stolen: 0.0 };
    if c.plant != NONE {
        match w.plants[c.plant as usize].kind {
            PlantKind::VolZero => out.metered = 0.0,
            PlantKind::VolDrop { month, factor }
                if w.cal.months[month].first <= day && day <= w.cal.months[month].last() =>
            {
                out.metered *= factor;
            }
            PlantKind::VolSurge { month, factor } if w.cal.months[month].first <= day => {
                out.metered *= factor
            }
            PlantKind::Theft { from, factor } if from <= day => {
                out.stolen = out.metered * (1.0 - factor);
                out.metered *= factor;
            }
            PlantKind::LargeDrop { day: d, factor } if d == day => out.metered *= factor,
            _ => {}
        }
    }
    out
}

/// The register dates of a customer in a month on which collection failed, in order (at most a
/// handful). Normal failures are single days, never on a month's first or last day and never next
/// to each other, so no meter ever has two missing registers in a row: VOL-MISSING fires only
/// where planted. A clean customer (planted) or clean area has none but the planted run.
pub fn missing_days(w: &World, m: &Month, month_index: usize, ci: u32, c: &Customer, out: &mut Vec<i32>) {
    out.clear();
    if c.plant != NONE
        && let PlantKind::VolMissing { first, len, .. } = w.plants[c.plant as usize].kind
    {
        for d in first..first + len {
            if m.first <= d && d <= m.last() {
                out.push(d);
            }
        }
        return;
    }
    if c.clean || m.days < 5 {
        return;
    }
    let area_day = if c.area != NONE {
        if w.areas[c.area as usize].clean {
            return;
        }
        area_fail_day(w, m, month_index, c.area)
    } else {
        NO_DAY
    };
    let size = if c.area != NONE {
        let a = &w.areas[c.area as usize];
        f64::from(a.customers.1 - a.customers.0)
    } else {
        12.0
    };
    // Few single-meter failures per area and month keep most of an area's days valid for the
    // loss themes (a valid day needs every customer's consumption).
    let p = (1.5 / size).min(0.05);
    let h = h3(w.seed, salt::METER_FAIL, u64::from(ci), month_index as u64);
    let mut own = NO_DAY;
    if unit(h) < p {
        let d = m.first + 1 + ((h >> 40) % (m.days as u64 - 2)) as i32;
        if area_day == NO_DAY || (d - area_day).abs() > 1 {
            own = d;
        }
    }
    for d in [area_day, own] {
        if d == NO_DAY {
            continue;
        }
        // A replacement day keeps both registers, so the hand-over leaves no gap.
        let replaced_today =
            w.meters_of(ci).any(|mi| w.meters[mi].installed == d || w.meters[mi].removed == d);
        if !replaced_today {
            out.push(d);
        }
    }
    out.sort_unstable();
}

/// The day a transformer area's concentrator fails in a month (30% of area-months), or `NO_DAY`.
pub fn area_fail_day(w: &World, m: &Month, month_index: usize, area: u32) -> i32 {
    let h = h3(w.seed, salt::AREA_FAIL, u64::from(area), month_index as u64);
    if unit(h) < 0.3 { m.first + 1 + ((h >> 40) % (m.days as u64 - 2)) as i32 } else { NO_DAY }
}

/// The daily loss rate of an area or feeder: its level plus +-0.3 points of noise.
#[inline]
pub fn loss_on(seed: u64, point: u64, level: f64, day: i32) -> f64 {
    level + between(h3(seed, salt::LOSS, point, day as u64), -0.003, 0.003)
}

/// The ratio of each month's mean daily consumption to the mean of the 90 days before it
/// (VOL-DROP and VOL-SURGE's comparison) for a customer with every day known, `None` where the
/// baseline has fewer than 30 days. Used to tune a plant so that it stays far from thresholds.
pub fn month_ratios(w: &World, ci: u32) -> Vec<Option<f64>> {
    let c = &w.customers[ci as usize];
    let start = w.cal.start;
    let mut daily = Vec::new();
    for m in &w.cal.months {
        let shape = MonthShape::new(m);
        for i in 0..m.days {
            daily.push(day_use(w, &shape, m, ci, c, i).metered);
        }
    }
    w.cal
        .months
        .iter()
        .map(|m| {
            let from = (m.first - 90).max(start);
            let n_b = m.first - from;
            if n_b < 30 {
                return None;
            }
            let base: f64 = daily[(from - start) as usize..(m.first - start) as usize].iter().sum::<f64>()
                / f64::from(n_b);
            let period: f64 =
                daily[(m.first - start) as usize..(m.first - start + m.days) as usize].iter().sum::<f64>()
                    / f64::from(m.days);
            (base > 0.0).then(|| period / base)
        })
        .collect()
}

/// Whether every ratio stays at least 15% away from VOL-DROP's 0.4 and VOL-SURGE's 3.
pub fn ratios_far(ratios: &[Option<f64>]) -> bool {
    ratios.iter().flatten().all(|r| ((r - 0.4) / 0.4).abs() >= 0.15 && ((r - 3.0) / 3.0).abs() >= 0.15)
}
