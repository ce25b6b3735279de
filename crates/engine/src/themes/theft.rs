//! LOSS-THEFT 窃电嫌疑: an explainable suspicion score per customer.
//!
//! Features come from the customer's own series (its month against its baseline, relative to
//! what its transformer area's customers did in the same time: the drop, zero
//! days, the change of its day-to-day variation, days without a reading, registers running
//! backwards) and from its transformer area (whether the area's loss rose in the period by about
//! the energy the customer stopped registering: the drop lines up with the loss). A [`Scorer`]
//! turns the features into a score in 0..=1 with each signal's contribution; [`RuleScorer`] is the
//! first, hand-weighted version, and a trained model replaces it by implementing the trait.
//!
//! Fires when the score is in the top `top_share` of the customers scored in the run, or at or
//! above `threshold`, and in both cases at least `min_score` (a customer with no signal is never
//! suspected just to fill a quota).

use std::collections::HashMap;

use crate::columns::text;
use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::kernels::{AreaDays, area_days, registers};
use crate::session::Session;
use crate::theme::{Param, Params, Theme, Window, need};
use crate::themes::common::{customers, meters, price_on, tariffs};
use crate::themes::loss_tq::AREA_LOOKBACK_DAYS;
use crate::themes::vol_customer::{DEFAULT_BASELINE_DAYS, shared_months};

/// What the scorer sees of one customer in one period.
#[derive(Debug, Clone, Default)]
pub struct Features {
    /// Days of the period.
    pub days: i64,
    /// Known days in the period, and their daily mean, kWh.
    pub known: i64,
    /// Period daily mean, kWh.
    pub mean: f64,
    /// Known baseline days.
    pub base_known: i64,
    /// Baseline daily mean, kWh.
    pub base_mean: f64,
    /// Daily mean of the period's last 7 days (a drop late in the month), kWh.
    pub tail_mean: Option<f64>,
    /// The median ratio (period mean / baseline mean) of the customers of its transformer area
    /// (at least 5 with a baseline): what the season did to everyone.
    pub peer_ratio: Option<f64>,
    /// Zero days in the period.
    pub zero_days: i64,
    /// Coefficient of variation of the period's days (None when the mean is 0).
    pub cv: Option<f64>,
    /// Coefficient of variation of the baseline's days.
    pub base_cv: Option<f64>,
    /// Register reversals in the period (over the customer's meters).
    pub reversals: i64,
    /// The area's loss rate over the period's valid days, and over the 30 days before.
    pub area_loss: Option<f64>,
    /// The area's loss rate before the period.
    pub area_base_loss: Option<f64>,
    /// The area's supply over the period's valid days, kWh.
    pub area_supply: f64,
}

impl Features {
    /// kWh the customer stopped registering against its baseline over its known days.
    pub fn lost_kwh(&self) -> f64 {
        ((self.base_mean - self.mean) * self.known as f64).max(0.0)
    }
}

/// A score with the contribution of each signal (they add up to the score).
#[derive(Debug, Clone)]
pub struct Scored {
    /// 0..=1.
    pub score: f64,
    /// Signal name and its weighted contribution.
    pub contributions: Vec<(&'static str, f64)>,
}

/// Turns features into a suspicion score: the replaceable part of LOSS-THEFT.
pub trait Scorer: Send + Sync {
    /// The scorer's name and version, kept in the evidence.
    fn name(&self) -> &'static str;
    /// The score of one customer.
    fn score(&self, f: &Features) -> Scored;
}

/// The first, hand-weighted scorer: each signal in 0..=1 times its weight.
pub struct RuleScorer;

/// The signals and their weights (sum 1).
pub const RULE_WEIGHTS: [(&str, f64); 6] = [
    ("drop", 0.40),
    ("area_loss", 0.30),
    ("zero_days", 0.10),
    ("variation", 0.05),
    ("reversals", 0.10),
    ("missing", 0.05),
];

fn clamp01(x: f64) -> f64 {
    if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.0 }
}

impl RuleScorer {
    /// Each signal in 0..=1, in the order of [`RULE_WEIGHTS`].
    pub fn signals(f: &Features) -> [f64; 6] {
        let has_base = f.base_known >= 30 && f.base_mean >= 1.0;
        // The month's mean, or its last week's when lower (a theft starting late in the month),
        // against the baseline: 0 at a 20% drop, 1 at a 70% drop.
        // Relative to its area's customers when they fell, so that a season's fall is nobody's
        // drop (a season's rise does not make a steady customer suspect).
        let low = f.tail_mean.map_or(f.mean, |t| t.min(f.mean));
        let peers = f.peer_ratio.filter(|r| *r > 0.0).unwrap_or(1.0).min(1.0);
        let ratio = if has_base { low / f.base_mean / peers } else { 1.0 };
        let drop = if has_base && f.known > 0 { clamp01((1.0 - ratio - 0.2) / 0.5) } else { 0.0 };
        // The area's loss rose by about the energy the customer stopped registering: the closer
        // the two amounts, the stronger the signal.
        let area = match (f.area_loss, f.area_base_loss) {
            (Some(now), Some(before)) if now - before > 0.0005 && f.area_supply > 0.0 && drop > 0.0 => {
                let (extra, lost) = ((now - before) * f.area_supply, f.lost_kwh());
                if lost > 0.0 { clamp01(lost.min(extra) / lost.max(extra)) } else { 0.0 }
            }
            _ => 0.0,
        };
        let zero = if has_base && f.known > 0 { f.zero_days as f64 / f.known as f64 } else { 0.0 };
        let variation = match (f.cv, f.base_cv) {
            (Some(a), Some(b)) if has_base && a > 0.0 && b > 0.0 => clamp01((a / b).ln().abs() / 3f64.ln()),
            _ => 0.0,
        };
        let reversals = clamp01(f.reversals as f64 / 3.0);
        let missing = if has_base && f.days > 0 {
            clamp01((1.0 - f.known as f64 / f.days as f64 - 0.2) / 0.6)
        } else {
            0.0
        };
        [drop, area, zero, variation, reversals, missing]
    }
}

impl Scorer for RuleScorer {
    fn name(&self) -> &'static str {
        "rules-v1"
    }

    fn score(&self, f: &Features) -> Scored {
        let s = RuleScorer::signals(f);
        let contributions: Vec<(&'static str, f64)> =
            RULE_WEIGHTS.iter().zip(s).map(|((name, w), x)| (*name, w * x)).collect();
        Scored { score: contributions.iter().map(|c| c.1).sum(), contributions }
    }
}

/// 窃电嫌疑.
pub struct LossTheft;

const PARAMS: &[Param] = &[
    Param {
        name: "top_share",
        default: 0.01,
        doc: "评分最高的比例 / share of scored customers with the highest scores",
    },
    Param { name: "threshold", default: 0.5, doc: "评分达到即触发 / a score at least this fires" },
    Param { name: "min_score", default: 0.15, doc: "触发的最低评分 / no finding below this score" },
];

/// Each area's loss over days `from..=to` of the shared area matrix: supply and consumption of
/// valid days, kWh in hundredths.
fn area_losses(days: &AreaDays, from: i32, to: i32) -> HashMap<String, (i64, i64)> {
    let (a, b) =
        ((from - days.first).max(0) as usize, ((to - days.first + 1).max(0) as usize).min(days.days));
    let mut out = HashMap::new();
    for (i, id) in days.areas.names.iter().enumerate() {
        let (mut s, mut c) = (0, 0);
        for d in days.area(i)[a..b].iter().filter(|d| d.valid) {
            s += d.supply.unwrap_or(0);
            c += d.consumption;
        }
        out.insert(id.clone(), (s, c));
    }
    out
}

/// Register reversals per meter in the period (a register below the day before's), from the
/// register matrix VOL-REVERSE and VOL-MISSING share.
pub fn reversals(session: &Session, w: &Window) -> EngineResult<HashMap<String, i64>> {
    let reg = registers(session, w.first() - 1, w.last())?;
    let mut out = HashMap::new();
    for (i, id) in reg.meters.names.iter().enumerate() {
        let n = reg.reversals(i, w.first(), w.last()).count() as i64;
        if n > 0 {
            out.insert(id.clone(), n);
        }
    }
    Ok(out)
}

impl LossTheft {
    /// Features of every customer active through the period that has consumption data.
    pub fn features(
        session: &Session,
        w: &Window,
        with_readings: bool,
    ) -> EngineResult<Vec<(String, Features)>> {
        let cust = customers(session)?;
        let months = shared_months(session, w, DEFAULT_BASELINE_DAYS)?;
        let matrix = area_days(session, w.first() - AREA_LOOKBACK_DAYS, w.last())?;
        let now = area_losses(&matrix, w.first(), w.last());
        let before = area_losses(&matrix, w.first() - AREA_LOOKBACK_DAYS, w.first() - 1);
        let rate =
            |x: Option<&(i64, i64)>| x.filter(|(s, _)| *s > 0).map(|(s, c)| (s - c) as f64 / *s as f64);
        let mut customer_reversals: HashMap<String, i64> = HashMap::new();
        if with_readings {
            let rev = reversals(session, w)?;
            if !rev.is_empty() {
                let sql = "SELECT meter_id, customer_id FROM meters";
                let all = meters(session)?;
                for b in session.run(sql, "电能表 / meters")? {
                    let (m, c) = (text(&b, "meter_id")?, text(&b, "customer_id")?);
                    for i in 0..b.num_rows() {
                        if let Some(n) = rev.get(&m[i]).filter(|_| all.contains_key(&m[i])) {
                            *customer_reversals.entry(c[i].clone()).or_default() += n;
                        }
                    }
                }
            }
        }
        let cv = |n: i64, total: i64, sumsq: f64| {
            if n < 2 || total <= 0 {
                return None;
            }
            let mean = total as f64 / 100.0 / n as f64;
            let var = sumsq / n as f64 - mean * mean;
            // A flat series leaves only rounding noise in the variance: no variation at all.
            Some(if var <= 1e-9 * mean * mean { 0.0 } else { var.sqrt() / mean })
        };
        let mut out = Vec::new();
        for m in months.iter() {
            if !cust.get(&m.customer_id).is_some_and(|c| c.active_through(w)) || m.known == 0 {
                continue;
            }
            let tq = cust.get(&m.customer_id).and_then(|c| c.tq_id.as_ref());
            let f = Features {
                days: w.days(),
                known: m.known,
                mean: m.total as f64 / 100.0 / m.known as f64,
                base_known: m.base_known,
                base_mean: if m.base_known > 0 {
                    m.base_total as f64 / 100.0 / m.base_known as f64
                } else {
                    0.0
                },
                tail_mean: (m.tail_known >= 3).then(|| m.tail_total as f64 / 100.0 / m.tail_known as f64),
                peer_ratio: None,
                zero_days: m.zero_days,
                cv: cv(m.known, m.total, m.sumsq),
                base_cv: cv(m.base_known, m.base_total, m.base_sumsq),
                reversals: customer_reversals.get(&m.customer_id).copied().unwrap_or(0),
                area_loss: rate(tq.and_then(|t| now.get(t))),
                area_base_loss: rate(tq.and_then(|t| before.get(t))),
                area_supply: tq.and_then(|t| now.get(t)).map_or(0.0, |(s, _)| *s as f64 / 100.0),
            };
            out.push((m.customer_id.clone(), f));
        }
        // Each area's median ratio of its customers with a baseline.
        let mut ratios: HashMap<&str, Vec<f64>> = HashMap::new();
        for (id, f) in &out {
            if let Some(t) = cust.get(id).and_then(|c| c.tq_id.as_ref())
                && f.base_known >= 30
                && f.base_mean >= 1.0
            {
                ratios.entry(t.as_str()).or_default().push(f.mean / f.base_mean);
            }
        }
        let median: HashMap<&str, f64> = ratios
            .into_iter()
            .filter(|(_, v)| v.len() >= 5)
            .map(|(t, mut v)| {
                v.sort_by(f64::total_cmp);
                (t, v[v.len() / 2])
            })
            .collect();
        let peer: Vec<Option<f64>> = out
            .iter()
            .map(|(id, _)| cust.get(id).and_then(|c| c.tq_id.as_deref()).and_then(|t| median.get(t).copied()))
            .collect();
        for ((_, f), p) in out.iter_mut().zip(peer) {
            f.peer_ratio = p;
        }
        Ok(out)
    }

    /// Scores every customer and picks the suspects by the parameters.
    pub fn suspects(
        scorer: &dyn Scorer,
        features: &[(String, Features)],
        p: &Params,
    ) -> Vec<(usize, Scored)> {
        let mut scored: Vec<(usize, Scored)> =
            features.iter().enumerate().map(|(i, (_, f))| (i, scorer.score(f))).collect();
        scored.sort_by(|a, b| b.1.score.total_cmp(&a.1.score).then(features[a.0].0.cmp(&features[b.0].0)));
        let top = (p.get("top_share") * scored.len() as f64).ceil() as usize;
        scored
            .into_iter()
            .enumerate()
            .filter(|(rank, (_, s))| {
                s.score >= p.get("min_score") && (*rank < top || s.score >= p.get("threshold"))
            })
            .map(|(_, x)| x)
            .collect()
    }
}

impl Theme for LossTheft {
    describe! {
        code: "LOSS-THEFT", zh: "窃电嫌疑", en: "Suspected electricity theft", specialty: Inspection,
        entity: Customer, severity: High, params: PARAMS,
        needs: &[
            need("daily_consumption", &["customer_id", "date"]),
            need("customers", &["customer_id", "status", "opened_on", "station_id", "tq_id", "tariff_code"]),
            need("supply", &["point_type", "point_id", "date", "kwh"]),
            need("tariffs", &["tariff_code", "price"]),
            need("tq_daily", &["tq_id"]),
        ],
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let with_readings = session.has_rows("readings") && session.has_rows("meters");
        let features = LossTheft::features(session, w, with_readings)?;
        let scorer = RuleScorer;
        let (cust, prices) = (customers(session)?, tariffs(session)?);
        let mut out = Vec::new();
        for (i, s) in LossTheft::suspects(&scorer, &features, p) {
            let (id, f) = &features[i];
            let c = cust.get(id);
            let mut ev: Vec<(&str, serde_json::Value)> = vec![("score", num(s.score))];
            let names: Vec<String> = s.contributions.iter().map(|(n, _)| format!("signal_{n}")).collect();
            for (name, (_, x)) in names.iter().zip(&s.contributions) {
                ev.push((name.as_str(), num(*x)));
            }
            ev.push(("mean_kwh", num(f.mean)));
            ev.push(("baseline_mean_kwh", num(f.base_mean)));
            if let Some(r) = f.peer_ratio {
                ev.push(("area_median_ratio", num(r)));
            }
            ev.push(("zero_days", int(f.zero_days)));
            ev.push(("reversals", int(f.reversals)));
            ev.push(("known_days", int(f.known)));
            if let (Some(a), Some(b)) = (f.area_loss, f.area_base_loss) {
                ev.push(("area_loss_rate", num(a)));
                ev.push(("area_loss_rate_before", num(b)));
            }
            let price = c.and_then(|c| price_on(&prices, &c.tariff_code, w));
            let lost = f.lost_kwh();
            out.push(
                self.finding(w, id, c.map(|c| c.station_id.clone()), &ev)
                    .with_amount(price.filter(|_| lost > 0.0).map(|pr| lost * pr)),
            );
        }
        Ok(out)
    }
}
