//! Ranking metrics over scores and labels, and bootstrap intervals.

/// ROC AUC: the chance that a random theft scores above a random normal customer (ties count
/// half). NaN when either class is absent.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    // Mid-ranks over ties.
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[idx[k]] = r;
        }
        i = j + 1;
    }
    let pos = labels.iter().filter(|l| **l).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    let sum: f64 = ranks.iter().zip(labels).filter(|(_, l)| **l).map(|(r, _)| r).sum();
    (sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Indices by score, highest first (ties by index, so the order is deterministic).
pub fn ranking(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)));
    idx
}

/// PR AUC as average precision: the mean of the precision at each theft's rank.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> f64 {
    ap_at(scores, labels, scores.len())
}

/// Average precision over the top `k`: the sum of the precision at each hit within the top `k`,
/// divided by min(k, number of thefts). For one ranking this is MAP@k.
pub fn ap_at(scores: &[f64], labels: &[bool], k: usize) -> f64 {
    let pos = labels.iter().filter(|l| **l).count();
    if pos == 0 {
        return f64::NAN;
    }
    let (mut hits, mut sum) = (0usize, 0.0);
    for (rank, i) in ranking(scores).into_iter().take(k).enumerate() {
        if labels[i] {
            hits += 1;
            sum += hits as f64 / (rank + 1) as f64;
        }
    }
    sum / pos.min(k) as f64
}

/// Share of thefts among the `k` highest scores.
pub fn precision_at(scores: &[f64], labels: &[bool], k: usize) -> f64 {
    let k = k.min(scores.len());
    if k == 0 {
        return f64::NAN;
    }
    ranking(scores).into_iter().take(k).filter(|i| labels[*i]).count() as f64 / k as f64
}

/// A value with its bootstrap 95% interval.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Interval {
    /// On the whole sample.
    pub value: f64,
    /// 2.5th percentile of the resamples.
    pub low: f64,
    /// 97.5th percentile of the resamples.
    pub high: f64,
}

/// A small deterministic generator (SplitMix64) for resampling.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// `metric` on the sample and its percentile bootstrap interval over `rounds` resamples of the
/// rows (with replacement, seeded: the same call gives the same interval).
pub fn bootstrap(
    scores: &[f64],
    labels: &[bool],
    rounds: usize,
    seed: u64,
    metric: impl Fn(&[f64], &[bool]) -> f64,
) -> Interval {
    let value = metric(scores, labels);
    let mut rng = SplitMix(seed);
    let n = scores.len();
    let mut got = Vec::with_capacity(rounds);
    let (mut s, mut l) = (vec![0.0; n], vec![false; n]);
    for _ in 0..rounds {
        for j in 0..n {
            let i = rng.below(n);
            s[j] = scores[i];
            l[j] = labels[i];
        }
        let m = metric(&s, &l);
        if m.is_finite() {
            got.push(m);
        }
    }
    got.sort_by(f64::total_cmp);
    let pick =
        |q: f64| if got.is_empty() { f64::NAN } else { got[((got.len() - 1) as f64 * q).round() as usize] };
    Interval { value, low: pick(0.025), high: pick(0.975) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_a_perfect_a_reversed_and_a_tied_ranking() {
        let l = [true, true, false, false];
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &l), 1.0);
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &l), 0.0);
        assert_eq!(roc_auc(&[0.5; 4], &l), 0.5);
    }

    #[test]
    fn precision_and_average_precision_at_k() {
        let s = [0.9, 0.8, 0.7, 0.6];
        let l = [true, false, true, false];
        assert_eq!(precision_at(&s, &l, 2), 0.5);
        // Hits at ranks 1 and 3: (1/1 + 2/3) / 2.
        assert!((average_precision(&s, &l) - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        // Top 2 only: (1/1) / min(2, 2).
        assert!((ap_at(&s, &l, 2) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn the_bootstrap_interval_contains_the_value_and_repeats() {
        let s: Vec<f64> = (0..200).map(|i| (i % 17) as f64 + if i % 3 == 0 { 5.0 } else { 0.0 }).collect();
        let l: Vec<bool> = (0..200).map(|i| i % 3 == 0).collect();
        let a = bootstrap(&s, &l, 300, 7, roc_auc);
        let b = bootstrap(&s, &l, 300, 7, roc_auc);
        assert!(a.low <= a.value && a.value <= a.high, "{a:?}");
        assert_eq!((a.low, a.high), (b.low, b.high));
    }
}
