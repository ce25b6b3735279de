//! The hand-weighted rule score ("rules-v1"): a customer's period against its own baseline and
//! its transformer area. LOSS-THEFT's fallback where the model cannot score, and the baseline the
//! model is measured against.

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
    /// The year view of a fall that started before the baseline: the customer's level in the
    /// period against its highest quarter among the first three of the year, each level taken
    /// relative to its transformer area's median customer (so the season cancels out).
    pub year_ratio: Option<f64>,
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
    /// Against the baseline, or against the year's level when the fall is older (the larger).
    pub fn lost_kwh(&self) -> f64 {
        let month = (self.base_mean - self.mean) * self.known as f64;
        let year = match self.year_ratio {
            Some(r) if r > 0.0 && r < 1.0 => self.mean * (1.0 / r - 1.0) * self.known as f64,
            _ => 0.0,
        };
        month.max(year).max(0.0)
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
        let month_drop = if has_base && f.known > 0 { clamp01((1.0 - ratio - 0.2) / 0.5) } else { 0.0 };
        // A theft older than the baseline: the fall shows against the year's earlier quarters.
        // Stricter than the month's (0 at a 40% fall, 1 at 70%): customers whose seasons differ
        // from their area's median customer reach a 35% "fall" against their best quarter
        // without any theft (seen at 100k customers: ~900 of them between 0.58 and 0.66).
        let year_drop =
            f.year_ratio.filter(|r| r.is_finite()).map_or(0.0, |r| clamp01((1.0 - r - 0.4) / 0.3));
        let drop = month_drop.max(year_drop);
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

    /// The score of [`RuleScorer::signals`]: each times its weight, added in order (what
    /// [`Scorer::score`] gives, without the list of contributions).
    pub fn weighted(signals: &[f64; 6]) -> f64 {
        RULE_WEIGHTS.iter().zip(signals).map(|((_, w), x)| w * x).sum()
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
        Scored { score: RuleScorer::weighted(&s), contributions }
    }
}

/// The rule score of a bare daily series (no area, no registers): each 30-day period after the
/// first 90 days against the 90 days before it; the most suspicious period counts. The baseline
/// the model is measured against on daily data.
pub fn score_series(x: &[f32]) -> Scored {
    let stats = |s: &[f32]| {
        let v: Vec<f64> = s.iter().filter(|v| v.is_finite()).map(|v| *v as f64).collect();
        let n = v.len() as i64;
        let mean = if n > 0 { v.iter().sum::<f64>() / n as f64 } else { 0.0 };
        let cv = if n >= 2 && mean > 0.0 {
            let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n as f64;
            Some(var.sqrt() / mean)
        } else {
            None
        };
        (n, mean, cv, v.iter().filter(|a| **a == 0.0).count() as i64)
    };
    let mut best = RuleScorer.score(&Features::default());
    let mut start = 90;
    while start + 30 <= x.len() {
        let period = &x[start..start + 30];
        let (known, mean, cv, zero_days) = stats(period);
        let (base_known, base_mean, base_cv, _) = stats(&x[start - 90..start]);
        let (tail_known, tail_mean, _, _) = stats(&period[23..]);
        let f = Features {
            days: 30,
            known,
            mean,
            base_known,
            base_mean,
            tail_mean: (tail_known >= 3).then_some(tail_mean),
            zero_days,
            cv,
            base_cv,
            ..Features::default()
        };
        let s = RuleScorer.score(&f);
        if s.score > best.score {
            best = s;
        }
        start += 30;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_that_falls_by_two_thirds_scores_on_the_drop() {
        let x: Vec<f32> = (0..365).map(|i| if i < 200 { 30.0 + (i % 3) as f32 } else { 10.0 }).collect();
        let s = score_series(&x);
        assert!(s.score >= 0.4 * 0.9, "{s:?}");
        let steady: Vec<f32> = (0..365).map(|i| 30.0 + (i % 3) as f32).collect();
        assert!(score_series(&steady).score < 0.05);
    }
}
