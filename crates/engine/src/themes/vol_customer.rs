//! VOL-ZERO 零电量, VOL-DROP 电量骤降, VOL-SURGE 电量突增: a customer's known daily consumption
//! in the period against itself and against the 90 days before it.

use crate::day_blocks;
use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::kernels::Interner;
use crate::session::Session;
use crate::theme::{Param, Params, Theme, Window, finding_of, need};
use crate::themes::common::{customers, hundredths, milli, price_on, tariffs};

/// One customer's month and baseline, known days only, kWh in hundredths.
#[derive(Debug, Clone, Default)]
pub struct Month {
    /// 户号.
    pub customer_id: String,
    /// Known days in the period.
    pub known: i64,
    /// Their total.
    pub total: i64,
    /// Known days in the baseline window.
    pub base_known: i64,
    /// Their total.
    pub base_total: i64,
    /// Days of the period with zero consumption.
    pub zero_days: i64,
    /// Sum of squares of the period's days, kWh².
    pub sumsq: f64,
    /// Sum of squares of the baseline's days, kWh².
    pub base_sumsq: f64,
    /// Known days among the period's last 7.
    pub tail_known: i64,
    /// Their total.
    pub tail_total: i64,
}

/// The baseline every customer theme shares unless its parameters say otherwise.
pub const DEFAULT_BASELINE_DAYS: i32 = 90;

/// [`months`] computed once per session for a window and baseline.
pub fn shared_months(
    session: &Session,
    w: &Window,
    base_days: i32,
) -> EngineResult<std::sync::Arc<Vec<Month>>> {
    session.memo(&format!("months/{}/{}/{base_days}", w.first(), w.last()), || months(session, w, base_days))
}

/// Every customer with a consumption row in the period or its baseline window of `base_days`,
/// in one pass over the dense blocks of the stored days (sums in exact hundredths), in the order
/// customers are first met.
pub fn months(session: &Session, w: &Window, base_days: i32) -> EngineResult<Vec<Month>> {
    let (first, last) = (w.first(), w.last());
    let customers = session.row_count("customers") as usize;
    let mut ids = Interner::with_capacity(customers);
    let mut out: Vec<Month> = Vec::with_capacity(customers);
    day_blocks::for_each_row(session, first - base_days, last, |id, from, cells| {
        let c = ids.intern_next(id) as usize;
        if c == out.len() {
            out.push(Month { customer_id: id.to_string(), ..Month::default() });
        }
        let m = &mut out[c];
        // The cells before the period (the baseline), the period's, and its last 7 days among them.
        let at = |d: i32| (d - from).clamp(0, cells.len() as i32) as usize;
        let (base, period) = cells.split_at(at(first));
        for &k in base.iter().filter(|k| !k.is_nan()) {
            m.base_known += 1;
            m.base_total += hundredths(k);
            m.base_sumsq += k * k;
        }
        let tail_from = at(last - 6).saturating_sub(base.len());
        for (i, &k) in period.iter().enumerate().filter(|(_, k)| !k.is_nan()) {
            let h = hundredths(k);
            m.known += 1;
            m.total += h;
            m.sumsq += k * k;
            m.zero_days += i64::from(h == 0);
            if i >= tail_from {
                m.tail_known += 1;
                m.tail_total += h;
            }
        }
    })?;
    Ok(out)
}

const NEEDS: &[crate::theme::Need] = &[
    need("daily_consumption", &["customer_id", "date"]),
    need("customers", &["customer_id", "status", "opened_on", "station_id"]),
];

/// Drop and surge also price the energy (money at risk).
const PRICED_NEEDS: &[crate::theme::Need] = &[
    need("daily_consumption", &["customer_id", "date"]),
    need("customers", &["customer_id", "status", "opened_on", "station_id", "tariff_code"]),
    need("tariffs", &["tariff_code", "price"]),
];

/// 零电量.
pub struct VolZero;

impl Theme for VolZero {
    describe! {
        code: "VOL-ZERO", zh: "零电量", en: "Zero consumption", specialty: Metering, entity: Customer,
        severity: Medium,
        params: &[Param { name: "min_known_share", default: 0.8, doc: "已知天数占比下限 / share of days known, at least" }],
        needs: NEEDS,
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let cust = customers(session)?;
        let share = milli(p.get("min_known_share"));
        let mut out = Vec::new();
        for m in shared_months(session, w, DEFAULT_BASELINE_DAYS)?.iter() {
            if m.known > 0 && 1000 * i128::from(m.known) >= share * i128::from(w.days()) && m.total == 0 {
                // The customer looked up only for the few with a zero month.
                let Some(c) = cust.get(&m.customer_id).filter(|c| c.active_through(w)) else { continue };
                out.push(self.finding(
                    w,
                    &m.customer_id,
                    Some(c.station_id.to_string()),
                    &[("known_days", int(m.known)), ("days", int(w.days())), ("total_kwh", num(0.0))],
                ));
            }
        }
        Ok(out)
    }
}

/// Parameters shared by the drop and surge themes, read once per run (not once per customer).
struct Baseline {
    min_days: i64,
    min_kwh_milli: i128,
    min_share_milli: i128,
}

impl Baseline {
    fn of(p: &Params) -> Baseline {
        Baseline {
            min_days: p.get("min_baseline_days") as i64,
            min_kwh_milli: milli(p.get("min_baseline_kwh") * 100.0),
            min_share_milli: milli(p.get("min_known_share")),
        }
    }

    fn ok(&self, m: &Month, w: &Window) -> bool {
        m.base_known >= self.min_days
            && 1000 * i128::from(m.base_total) >= self.min_kwh_milli * i128::from(m.base_known)
            && m.known > 0
            && 1000 * i128::from(m.known) >= self.min_share_milli * i128::from(w.days())
    }
}

fn evidence(m: &Month) -> Vec<(&'static str, serde_json::Value)> {
    let mean = m.total as f64 / 100.0 / m.known as f64;
    let base = m.base_total as f64 / 100.0 / m.base_known as f64;
    vec![
        ("mean_kwh", num(mean)),
        ("baseline_mean_kwh", num(base)),
        ("ratio", num(if base > 0.0 { mean / base } else { 0.0 })),
        ("known_days", int(m.known)),
        ("baseline_days", int(m.base_known)),
        ("total_kwh", num(m.total as f64 / 100.0)),
    ]
}

const BASELINE_PARAMS: [Param; 4] = [
    Param {
        name: "baseline_days", default: 90.0, doc: "基线天数 / days of the baseline before the period"
    },
    Param {
        name: "min_baseline_days",
        default: 30.0,
        doc: "基线已知天数下限 / known baseline days, at least",
    },
    Param {
        name: "min_baseline_kwh",
        default: 2.0,
        doc: "基线日均电量下限 kWh / baseline daily mean, at least",
    },
    Param {
        name: "min_known_share",
        default: 0.5,
        doc: "本期已知天数占比下限 / share of period days known, at least",
    },
];

fn drop_or_surge(
    theme: &dyn Theme,
    session: &Session,
    w: &Window,
    p: &Params,
    fires: impl Fn(&Month) -> bool,
    lost_kwh: impl Fn(&Month) -> Option<f64>,
) -> EngineResult<Vec<Finding>> {
    let cust = customers(session)?;
    let prices = tariffs(session)?;
    let baseline = Baseline::of(p);
    let mut out = Vec::new();
    for m in shared_months(session, w, p.get("baseline_days") as i32)?.iter() {
        // The customer looked up only for the few that fire.
        if !baseline.ok(m, w) || !fires(m) {
            continue;
        }
        let Some(c) = cust.get(&m.customer_id).filter(|c| c.active_through(w)) else { continue };
        let price = price_on(&prices, &c.tariff_code, w);
        out.push(
            finding_of(theme, w, &m.customer_id, Some(c.station_id.to_string()), &evidence(m))
                .with_amount(lost_kwh(m).zip(price).map(|(k, p)| k * p)),
        );
    }
    Ok(out)
}

/// 电量骤降.
pub struct VolDrop;

const DROP_PARAMS: &[Param] = &[
    BASELINE_PARAMS[0],
    BASELINE_PARAMS[1],
    BASELINE_PARAMS[2],
    BASELINE_PARAMS[3],
    Param {
        name: "max_ratio",
        default: 0.4,
        doc: "本期日均低于基线的倍数 / period mean below this x baseline",
    },
];

impl Theme for VolDrop {
    describe! {
        code: "VOL-DROP", zh: "电量骤降", en: "Consumption drop", specialty: Inspection, entity: Customer,
        severity: High, params: DROP_PARAMS, needs: PRICED_NEEDS,
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let ratio = milli(p.get("max_ratio"));
        // mean < ratio x base, compared exactly in integers: total x base_known < ratio x base_total x known.
        let fires = |m: &Month| {
            1000 * i128::from(m.total) * i128::from(m.base_known)
                < ratio * i128::from(m.base_total) * i128::from(m.known)
        };
        // The energy the drop leaves unbilled over the whole month, at the customer's price.
        let lost = |m: &Month| {
            let base = m.base_total as f64 / 100.0 / m.base_known as f64;
            let mean = m.total as f64 / 100.0 / m.known as f64;
            Some((base - mean) * w.days() as f64)
        };
        drop_or_surge(self, session, w, p, fires, lost)
    }
}

/// 电量突增.
pub struct VolSurge;

const SURGE_PARAMS: &[Param] = &[
    BASELINE_PARAMS[0],
    BASELINE_PARAMS[1],
    BASELINE_PARAMS[2],
    BASELINE_PARAMS[3],
    Param {
        name: "min_ratio",
        default: 3.0,
        doc: "本期日均高于基线的倍数 / period mean above this x baseline",
    },
    Param { name: "min_total_kwh", default: 300.0, doc: "本期电量下限 kWh / period total, at least" },
];

impl Theme for VolSurge {
    describe! {
        code: "VOL-SURGE", zh: "电量突增", en: "Consumption surge", specialty: Inspection, entity: Customer,
        severity: Medium, params: SURGE_PARAMS, needs: PRICED_NEEDS,
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let (ratio, min_total) = (milli(p.get("min_ratio")), hundredths(p.get("min_total_kwh")));
        let fires = |m: &Month| {
            1000 * i128::from(m.total) * i128::from(m.base_known)
                > ratio * i128::from(m.base_total) * i128::from(m.known)
                && m.total >= min_total
        };
        drop_or_surge(self, session, w, p, fires, |_| None)
    }
}
