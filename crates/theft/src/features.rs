//! Features of one customer's daily series: what an inspector looks at, as numbers. Missing
//! readings, zero runs, the level and its spread, the year cut into twelve blocks (each block's
//! level, missing and zero days), trend and the largest step, the week's shape and the
//! day-to-day behaviour. A series is a window of days (NaN = no reading); the blocks are counted
//! from its first day, so a year from January gives the calendar months.

use chrono::{Datelike, Days, NaiveDate};

/// Blocks the window is cut into.
pub const BLOCKS: usize = 12;

/// How a feature's value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A share, shown as a percentage.
    Share,
    /// A number of days.
    Days,
    /// kWh per day.
    Kwh,
    /// A ratio, shown as a percentage of the reference.
    Ratio,
    /// A count.
    Count,
    /// A plain number.
    Plain,
}

/// One feature: its name (stable, kept in model files), its words in Chinese and English.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    /// Stable name.
    pub name: &'static str,
    /// 中文说明.
    pub zh: &'static str,
    /// English description.
    pub en: &'static str,
    /// How the value reads.
    pub unit: Unit,
}

const fn def(name: &'static str, zh: &'static str, en: &'static str, unit: Unit) -> Def {
    Def { name, zh, en, unit }
}

/// The features before the blocks, in order.
const HEAD: [Def; 22] = [
    def("missing_share", "无读数天数占比", "share of days without a reading", Unit::Share),
    def("leading_missing_days", "首次有读数前的天数", "days before the first reading", Unit::Days),
    def("missing_runs", "首次读数后的缺抄段数", "gaps in the readings after the first", Unit::Count),
    def(
        "longest_gap_days",
        "首次读数后最长缺抄天数",
        "longest gap after the first reading, days",
        Unit::Days,
    ),
    def("mean_kwh", "日均电量", "daily mean", Unit::Kwh),
    def("std_kwh", "日电量标准差", "standard deviation of the days", Unit::Kwh),
    def("cv", "日电量变异系数", "coefficient of variation of the days", Unit::Plain),
    def("median_kwh", "日电量中位数", "median day", Unit::Kwh),
    def("q05_kwh", "日电量 5% 分位数", "5th percentile day", Unit::Kwh),
    def("q25_kwh", "日电量 25% 分位数", "25th percentile day", Unit::Kwh),
    def("q75_kwh", "日电量 75% 分位数", "75th percentile day", Unit::Kwh),
    def("q95_kwh", "日电量 95% 分位数", "95th percentile day", Unit::Kwh),
    def("max_to_mean", "最大日电量与日均之比", "largest day against the mean", Unit::Ratio),
    def("zero_share", "零电量天数占比", "share of days at zero", Unit::Share),
    def("longest_zero_days", "最长连续零电量天数", "longest run of zero days", Unit::Days),
    def("zero_runs", "零电量段数", "runs of zero days", Unit::Count),
    def("negative_days", "负电量天数", "days below zero", Unit::Days),
    def("low_share", "低于中位数一成的天数占比", "share of days below a tenth of the median", Unit::Share),
    def(
        "repeat_share",
        "与前一日完全相同的天数占比（估抄、均摊）",
        "share of days equal to the day before (estimated or spread readings)",
        Unit::Share,
    ),
    def("integer_share", "整数读数占比", "share of whole-number days", Unit::Share),
    def(
        "catch_up_days",
        "缺抄后补抄（超过中位数 1.8 倍）次数",
        "catch-up readings after a gap (above 1.8 x median)",
        Unit::Count,
    ),
    def("block_cv", "各月日均电量的变异系数", "coefficient of variation of the monthly means", Unit::Plain),
];

/// The features after the blocks, in order.
const TAIL: [Def; 8] = [
    def(
        "lowest_to_highest_month",
        "最低月与最高月日均之比",
        "lowest month's mean against the highest",
        Unit::Ratio,
    ),
    def(
        "second_half_ratio",
        "后半段与前半段日均之比",
        "second half's mean against the first half's",
        Unit::Ratio,
    ),
    def(
        "trend",
        "全年趋势（每年变化占日均比例）",
        "trend over the year, share of the mean per year",
        Unit::Share,
    ),
    def(
        "largest_step",
        "最大阶跃（前段日均减后段日均，占日均比例）",
        "largest step (mean before minus mean after, share of the mean)",
        Unit::Share,
    ),
    def("weekday_cv", "星期各日日均的变异系数", "variation across the days of the week", Unit::Plain),
    def("autocorr_1", "相邻两日的相关系数", "correlation of consecutive days", Unit::Plain),
    def("autocorr_7", "相隔一周的相关系数", "correlation of days a week apart", Unit::Plain),
    def(
        "day_to_day_change",
        "日间变化幅度（占日均比例）",
        "day-to-day change, share of the mean",
        Unit::Share,
    ),
];

/// Block feature kinds: level, missing share, zero share.
const BLOCK_KINDS: [(&str, &str, &str, Unit); 3] = [
    ("month_level", "月日均电量与全期日均之比", "month's daily mean against the whole window's", Unit::Ratio),
    ("month_missing", "月无读数天数占比", "month's share of days without a reading", Unit::Share),
    ("month_zero", "月零电量天数占比", "month's share of zero days", Unit::Share),
];

/// Number of features.
pub const COUNT: usize = HEAD.len() + 3 * BLOCKS + TAIL.len();

/// A feature by index: its definition and, for a block feature, the block.
pub fn def_of(i: usize) -> (Def, Option<usize>) {
    if i < HEAD.len() {
        return (HEAD[i], None);
    }
    let j = i - HEAD.len();
    if j < 3 * BLOCKS {
        let (name, zh, en, unit) = BLOCK_KINDS[j / BLOCKS];
        return (Def { name, zh, en, unit }, Some(j % BLOCKS));
    }
    (TAIL[j - 3 * BLOCKS], None)
}

/// The stable names of all features, in order (`month_level_01` ... for blocks).
pub fn names() -> Vec<String> {
    (0..COUNT)
        .map(|i| match def_of(i) {
            (d, Some(b)) => format!("{}_{:02}", d.name, b + 1),
            (d, None) => d.name.to_string(),
        })
        .collect()
}

/// Days `[from, to)` of block `b` in a window of `n` days.
pub fn block_range(b: usize, n: usize) -> (usize, usize) {
    (b * n / BLOCKS, (b + 1) * n / BLOCKS)
}

/// The month (`YYYY-MM`) the middle day of block `b` falls in.
fn block_month(b: usize, first: NaiveDate, n: usize) -> String {
    let (from, to) = block_range(b, n);
    let mid = first + Days::new(((from + to) / 2) as u64);
    format!("{}-{:02}", mid.year(), mid.month())
}

/// The words for feature `i` at `value`, in Chinese and English; a block feature is named by the
/// month its middle day falls in (window starting at `first`, `n` days long).
pub fn words(i: usize, value: f64, first: NaiveDate, n: usize) -> (String, String) {
    let (d, block) = def_of(i);
    if !value.is_finite() {
        // A feature the series could not give: its absence is the signal.
        return match block {
            Some(b) => {
                let month = block_month(b, first, n);
                (format!("{month} 整月无读数"), format!("no reading at all in {month}"))
            }
            None => (format!("{}：读数不足，无法计算", d.zh), format!("{}: too few readings to tell", d.en)),
        };
    }
    let shown = match d.unit {
        Unit::Share | Unit::Ratio => format!("{:.0}%", value * 100.0),
        Unit::Days | Unit::Count => format!("{value:.0}"),
        Unit::Kwh => format!("{value:.1} kWh"),
        Unit::Plain => format!("{value:.2}"),
    };
    let (shown_zh, shown_en) = (shown.clone(), shown);
    match block {
        Some(b) => {
            let month = block_month(b, first, n);
            (format!("{month} {}：{shown_zh}", d.zh), format!("{month} {}: {shown_en}", d.en))
        }
        None => (format!("{}：{shown_zh}", d.zh), format!("{}: {shown_en}", d.en)),
    }
}

/// The integer whose order is `f32::total_cmp`'s (the same bit flip as the standard library's).
fn total_order_key(v: f32) -> i32 {
    let b = v.to_bits() as i32;
    b ^ (((b >> 31) as u32) >> 1) as i32
}

/// The float of a [`total_order_key`] (the flip is its own inverse).
fn from_key(k: i32) -> f32 {
    f32::from_bits((k ^ (((k >> 31) as u32) >> 1) as i32) as u32)
}

/// The quantiles the level features take.
const QUANTILES: [f64; 5] = [0.5, 0.05, 0.25, 0.75, 0.95];

/// Where quantile `q` of `len` sorted values falls: the two ranks around it and the position.
fn quantile_ranks(q: f64, len: usize) -> (usize, usize, f64) {
    let pos = q * (len - 1) as f64;
    (pos.floor() as usize, pos.ceil() as usize, pos)
}

/// The days' keys with the ranks the quantiles and the largest day need put in place: each
/// such key where a full sort would put it (every key before it not above it, every key after
/// not below), by selecting one rank after another in the part of the keys that holds it,
/// instead of sorting a year of days.
struct Ranked {
    keys: Vec<i32>,
}

impl Ranked {
    /// Ranks the keys (at least one).
    fn new(mut keys: Vec<i32>) -> Ranked {
        assert!(!keys.is_empty());
        let len = keys.len();
        let mut ranks = [len - 1; 2 * QUANTILES.len() + 1];
        for (k, q) in QUANTILES.iter().enumerate() {
            let (lo, hi, _) = quantile_ranks(*q, len);
            ranks[2 * k] = lo;
            ranks[2 * k + 1] = hi;
        }
        ranks.sort_unstable();
        let mut unique = 0;
        for k in 0..ranks.len() {
            if k == 0 || ranks[k] != ranks[unique - 1] {
                ranks[unique] = ranks[k];
                unique += 1;
            }
        }
        select_ranks(&mut keys, 0, &ranks[..unique]);
        Ranked { keys }
    }

    /// The value at a rank that was put in place.
    fn at(&self, rank: usize) -> f64 {
        f64::from(from_key(self.keys[rank]))
    }

    /// Quantile `q` (one of [`QUANTILES`]), as [`quantile`] over the sorted values gives it.
    fn quantile(&self, q: f64) -> f64 {
        debug_assert!(QUANTILES.contains(&q));
        let (lo, hi, pos) = quantile_ranks(q, self.keys.len());
        self.at(lo) + (self.at(hi) - self.at(lo)) * (pos - lo as f64)
    }

    /// The largest value.
    fn max(&self) -> f64 {
        self.at(self.keys.len() - 1)
    }
}

/// Puts each of `ranks` (ascending, distinct, counted from `offset`, the rank of `keys[0]`) in
/// place in `keys`: the middle one by selection, then those below it in the part before it and
/// those above in the part after.
fn select_ranks(keys: &mut [i32], offset: usize, ranks: &[usize]) {
    if ranks.is_empty() {
        return;
    }
    let mid = ranks.len() / 2;
    let at = ranks[mid] - offset;
    keys.select_nth_unstable(at);
    let (below, from) = keys.split_at_mut(at);
    select_ranks(below, offset, &ranks[..mid]);
    select_ranks(&mut from[1..], offset + at + 1, &ranks[mid + 1..]);
}

/// Whether a finite number is whole (`fract() == 0`, without a call to the maths library).
#[cfg(test)]
fn is_whole(v: f64) -> bool {
    v.abs() >= 4_503_599_627_370_496.0 || v == (v as i64) as f64
}

/// Whether a finite `f32` is whole, from its bits: no fraction bit below its exponent set.
fn is_whole_f32(v: f32) -> bool {
    let bits = v.to_bits() & 0x7fff_ffff;
    let exponent = (bits >> 23) as i32 - 127;
    if exponent < 0 {
        return bits == 0;
    }
    exponent >= 23 || bits & ((1u32 << (23 - exponent)) - 1) == 0
}

#[cfg(test)]
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let (lo, hi, pos) = quantile_ranks(q, sorted.len());
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 && a.is_finite() { a / b } else { f64::NAN }
}

/// The level features of the days with a reading (`quantile(q)` of them, and the largest): the
/// mean, the standard deviation, their ratio, the median, the 5th, 25th, 75th and 95th
/// percentiles and the largest day against the mean.
fn levels(mean: f64, std: f64, quantile: impl Fn(f64) -> f64, max: f64) -> [f64; 9] {
    let share = |v: f64| if mean > 0.0 { v / mean } else { 0.0 };
    [
        mean,
        std,
        share(std),
        quantile(QUANTILES[0]),
        quantile(QUANTILES[1]),
        quantile(QUANTILES[2]),
        quantile(QUANTILES[3]),
        quantile(QUANTILES[4]),
        share(max),
    ]
}

/// The months' means: their spread (coefficient of variation) and the lowest against the
/// highest, both NaN with fewer than two months known.
fn month_spread(block_means: &[f64; BLOCKS]) -> (f64, f64) {
    let known: Vec<f64> = block_means.iter().copied().filter(|v| v.is_finite()).collect();
    if known.len() <= 1 {
        return (f64::NAN, f64::NAN);
    }
    let bm = known.iter().sum::<f64>() / known.len() as f64;
    let bstd = (known.iter().map(|v| (v - bm).powi(2)).sum::<f64>() / known.len() as f64).sqrt();
    let (lo, hi) = known.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    (ratio(bstd, bm), ratio(lo, hi))
}

/// The least-squares slope over the days with a reading, per year, against the mean, from the
/// sums of (1, t, v, t * t, t * v) over those days (t the day's index).
fn trend([sn, st, sv, stt, stv]: [f64; 5], mean: f64) -> f64 {
    let den = sn * stt - st * st;
    if sn >= 10.0 && mean > 0.0 && den > 0.0 { (sn * stv - st * sv) / den * 365.0 / mean } else { f64::NAN }
}

/// The largest step: the split of the readings (at least 10 on each side) with the largest
/// difference of means, signed (positive when the level fell), against the mean. `before[k]` is
/// the sum of the first `k + 1` readings added in order from 0.0, `total` the sum of them all.
///
/// The value of computing each split's share of the mean in order and keeping the first
/// largest: the largest difference is found first (two divisions a split, in a loop the
/// compiler vectorises), then the first split whose difference against the mean rounds to the
/// largest's (dividing by the mean keeps the order of magnitudes, and only a difference within a
/// few units in the last place of the largest can round to it).
fn largest_step(before: &[f64], total: f64, mean: f64) -> f64 {
    let len = before.len();
    if len <= 20 || mean.is_nan() || mean <= 0.0 {
        return 0.0;
    }
    // The splits after k = 10 ..= len - 10 readings.
    let (lo, hi) = (10, len - 10);
    let rest = len as f64;
    let sums = &before[lo - 1..hi];
    let mut diffs = vec![0.0f64; sums.len()];
    for (j, (d, b)) in diffs.iter_mut().zip(sums).enumerate() {
        let k = f64::from((lo + j) as i32);
        *d = b / k - (total - b) / (rest - k);
    }
    let largest = diffs.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    let target = largest / mean;
    if target.is_nan() || target <= 0.0 {
        return 0.0;
    }
    let cut = largest * (1.0 - 1e-12);
    diffs.iter().filter(|d| d.abs() >= cut).map(|d| d / mean).find(|s| s.abs() == target).unwrap_or(target)
}

/// The variation across the days of the week, from the mean of each weekday with a reading.
fn weekday_cv(means: &[f64]) -> f64 {
    let wm = if means.is_empty() { f64::NAN } else { means.iter().sum::<f64>() / means.len() as f64 };
    let ws = (means.iter().map(|v| (v - wm).powi(2)).sum::<f64>() / means.len().max(1) as f64).sqrt();
    ratio(ws, wm)
}

/// The sums a correlation of pairs of days needs, added pair by pair.
#[derive(Default)]
struct Pairs {
    n: usize,
    sa: f64,
    sb: f64,
    saa: f64,
    sbb: f64,
    sab: f64,
}

impl Pairs {
    /// Adds the pair when `both` days have a reading; otherwise adds 0.0 to every sum, which
    /// leaves it as it was (a sum from 0.0 is never -0.0), so the loop needs no branch.
    #[inline(always)]
    fn add(&mut self, a: f32, b: f32, both: bool) {
        let (a, b) = if both { (f64::from(a), f64::from(b)) } else { (0.0, 0.0) };
        self.n += usize::from(both);
        self.sa += a;
        self.sb += b;
        self.saa += a * a;
        self.sbb += b * b;
        self.sab += a * b;
    }

    /// The correlation (NaN under 20 pairs or without variation).
    fn correlation(&self) -> f64 {
        let n = self.n as f64;
        if n < 20.0 {
            return f64::NAN;
        }
        let va = self.saa / n - (self.sa / n).powi(2);
        let vb = self.sbb / n - (self.sb / n).powi(2);
        if va <= 1e-12 || vb <= 1e-12 {
            return f64::NAN;
        }
        (self.sab / n - self.sa / n * self.sb / n) / (va * vb).sqrt()
    }
}

/// Days as bits: bit `i % 64` of word `i / 64` is day `i`.
struct DayBits {
    words: Vec<u64>,
    days: usize,
}

impl DayBits {
    /// The days of `x` where `holds` is true.
    fn of(x: &[f32], holds: impl Fn(f32) -> bool) -> DayBits {
        let words = x
            .chunks(64)
            .map(|c| c.iter().enumerate().fold(0u64, |w, (k, v)| w | u64::from(holds(*v)) << k))
            .collect();
        DayBits { words, days: x.len() }
    }

    /// Days `[from, to)` that are set.
    fn count(&self, from: usize, to: usize) -> usize {
        let mut n = 0;
        let mut i = from;
        while i < to {
            let take = (64 - i % 64).min(to - i);
            let w = self.words[i / 64] >> (i % 64);
            n += (if take == 64 { w } else { w & ((1u64 << take) - 1) }).count_ones() as usize;
            i += take;
        }
        n
    }

    /// The first day that is set.
    fn first(&self) -> Option<usize> {
        self.words.iter().position(|w| *w != 0).map(|k| 64 * k + self.words[k].trailing_zeros() as usize)
    }

    /// The runs of set days from day `from` on: (count, longest), a run at a time.
    fn runs(&self, from: usize) -> (usize, usize) {
        let (mut count, mut longest, mut current) = (0, 0, 0);
        let mut i = from;
        while i < self.days {
            let w = self.words[i / 64] >> (i % 64);
            let left = (64 - i % 64).min(self.days - i);
            if w & 1 == 1 {
                let len = (w.trailing_ones() as usize).min(left);
                current += len;
                i += len;
            } else {
                if current > 0 {
                    count += 1;
                    longest = longest.max(current);
                    current = 0;
                }
                i += (w.trailing_zeros() as usize).min(left);
            }
        }
        if current > 0 {
            count += 1;
            longest = longest.max(current);
        }
        (count, longest)
    }

    /// The days set here whose day before is set in `before`, in order.
    fn after<'a>(&'a self, before: &'a DayBits) -> impl Iterator<Item = usize> + 'a {
        self.words.iter().enumerate().flat_map(move |(k, w)| {
            // The last day of the word before is carried into this word's first day.
            let carry = if k > 0 { before.words[k - 1] >> 63 } else { 0 };
            let mut m = w & (before.words[k] << 1 | carry);
            std::iter::from_fn(move || {
                (m != 0).then(|| {
                    let b = m.trailing_zeros() as usize;
                    m &= m - 1;
                    64 * k + b
                })
            })
        })
    }
}

/// The sums of the pass over the days.
struct Pass {
    /// Days with a reading.
    readings: usize,
    /// Each block's sum of readings.
    sums: [f64; BLOCKS],
    /// The sum of the readings, and of each reading times its day's index.
    sv: f64,
    stv: f64,
    /// The sum of the readings from day `mid` on.
    second_half: f64,
    /// Readings below zero, and whole-number readings.
    negative: usize,
    whole: usize,
    /// The sum of the days' indices with a reading, and of their squares.
    st: u64,
    stt: u64,
}

/// The pass over the days, block by block: each day writes its slot of `values` (the reading),
/// `before` (the sum of the readings up to it) and `keys` (its total-order key), and a day with a
/// reading moves on to the next slot. Each sum adds its days in order from 0.0. A function of its
/// own for the same reason as [`day_pairs`].
#[inline(never)]
fn first_pass(x: &[f32], mid: usize, values: &mut [f64], before: &mut [f64], keys: &mut [i32]) -> Pass {
    let n = x.len();
    assert!(values.len() > n && before.len() > n && keys.len() > n);
    let (mut readings, mut sv, mut stv, mut second_half) = (0usize, 0.0f64, 0.0f64, 0.0f64);
    let (mut negative, mut whole, mut st, mut stt) = (0usize, 0usize, 0u64, 0u64);
    let mut sums = [0.0; BLOCKS];
    for (k, slot) in sums.iter_mut().enumerate() {
        let (from, to) = block_range(k, n);
        let mut sum = 0.0;
        for (i, &v) in x[from..to].iter().enumerate() {
            let i = from + i;
            let finite = v.is_finite();
            let f = if finite { f64::from(v) } else { 0.0 };
            sum += f;
            sv += f;
            stv += i as f64 * f;
            second_half += if i >= mid { f } else { 0.0 };
            values[readings] = f;
            before[readings] = sv;
            keys[readings] = total_order_key(v);
            readings += usize::from(finite);
            if finite {
                negative += usize::from(v < 0.0);
                whole += usize::from(is_whole_f32(v));
                st += i as u64;
                stt += (i * i) as u64;
            }
        }
        *slot = sum;
    }
    Pass { readings, sums, sv, stv, second_half, negative, whole, st, stt }
}

/// What the pairs of days give, from one pass in the days' order: the pairs of consecutive days
/// and of days a week apart that both have a reading ([`Pairs`]), how many consecutive pairs
/// repeat the day before, and the sum of their changes (a pair without both adds |0 - 0| = 0.0).
///
/// One loop for the three, so their sums (each added in order, a chain of dependent adds) go
/// side by side; a function of its own, so they are held in registers (inlined into the long
/// [`compute`], they were kept in memory and every add waited on a store).
#[inline(never)]
fn day_pairs(x: &[f32]) -> (Pairs, Pairs, usize, f64) {
    let (mut lag1, mut lag7) = (Pairs::default(), Pairs::default());
    let (mut repeats, mut change) = (0usize, 0.0f64);
    let mut pair = |a: f32, b: f32| {
        let both = a.is_finite() && b.is_finite();
        let (fa, fb) = if both { (f64::from(a), f64::from(b)) } else { (0.0, 0.0) };
        repeats += usize::from(both && a == b);
        change += (fb - fa).abs();
        lag1.add(a, b, both);
    };
    let week = x.len().saturating_sub(7);
    for i in 0..week {
        pair(x[i], x[i + 1]);
        let (a, b) = (x[i], x[i + 7]);
        lag7.add(a, b, a.is_finite() && b.is_finite());
    }
    for i in week..x.len().saturating_sub(1) {
        pair(x[i], x[i + 1]);
    }
    (lag1, lag7, repeats, change)
}

/// A sum and a count: the mean, NaN when empty.
#[derive(Default, Clone, Copy)]
struct Mean {
    sum: f64,
    n: usize,
}

impl Mean {
    fn get(self) -> f64 {
        if self.n == 0 { f64::NAN } else { self.sum / self.n as f64 }
    }
}

/// The features of one series (NaN = no reading), written into `out` (length [`COUNT`]); a
/// feature that cannot be computed (too few readings) is NaN, which the model treats as missing.
///
/// A pass over the days, block by block, gathers every sum and count that does not need the
/// median or the mean; the pairs of consecutive days and of days a week apart, and the week's
/// days, have a pass each. Each sum adds its days in the days' order from 0.0 (a day that does not
/// count adds 0.0, which leaves such a sum as it was), so the values are those of computing each
/// feature on its own, to the last bit. A series without a reading counts as the single value 0.
pub fn compute(x: &[f32], out: &mut [f64]) {
    assert_eq!(out.len(), COUNT);
    let n = x.len();
    // Sums of day indices and their squares are whole numbers, exact as integers and as floats.
    debug_assert!(n < 1 << 17);
    let (nans, zeros, finite) =
        (DayBits::of(x, f32::is_nan), DayBits::of(x, |v| v == 0.0), DayBits::of(x, f32::is_finite));
    // The readings, the sum of the readings after each (the largest step's splits, the first
    // half) and the readings' keys: each day writes its slot and a day with a reading moves on.
    let (mut values, mut before, mut keys) = (vec![0.0f64; n + 1], vec![0.0f64; n + 1], vec![0i32; n + 1]);
    let lead = finite.first().unwrap_or(n);
    // The halves of the days from the first reading on.
    let mid = lead + (n - lead) / 2;
    let Pass { readings, sums: block_sums, sv, stv, second_half, negative, mut whole, st, stt } =
        first_pass(x, mid, &mut values, &mut before, &mut keys);
    // Each block's mean, missing days and zero days.
    let blocks: [(Mean, usize, usize); BLOCKS] = std::array::from_fn(|k| {
        let (from, to) = block_range(k, n);
        (Mean { sum: block_sums[k], n: finite.count(from, to) }, nans.count(from, to), zeros.count(from, to))
    });
    values.truncate(readings);
    before.truncate(readings);
    keys.truncate(readings);
    let missing = nans.count(0, n);
    let mut zero_days = zeros.count(0, n);
    let halves = {
        let first = finite.count(0, mid);
        (
            Mean { sum: if first > 0 { before[first - 1] } else { 0.0 }, n: first },
            Mean { sum: second_half, n: readings - first },
        )
    };
    let mut week = [Mean::default(); 7];
    for days in x.chunks(7) {
        for (w, v) in week.iter_mut().zip(days) {
            w.sum += if v.is_finite() { *v as f64 } else { 0.0 };
            w.n += usize::from(v.is_finite());
        }
    }
    let (lag1, lag7, repeats, change) = day_pairs(x);
    let pairs = lag1.n;
    let (gaps, longest_gap) = if lead < n { nans.runs(lead) } else { (0, 0) };
    let (zero_runs, longest_zero) = zeros.runs(0);
    // The sums from 0.0 and from -0.0 (`Iterator::sum`'s start) differ only when every reading
    // is -0.0.
    let total = if sv == 0.0 && readings > 0 && values.iter().all(|v| v.to_bits() == (-0.0f64).to_bits()) {
        -0.0
    } else {
        sv
    };
    let sn = readings as f64;
    if values.is_empty() {
        values.push(0.0);
        zero_days = 1;
        whole = 1;
    }
    let m = values.len() as f64;
    let mean = total / m;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / m).sqrt();
    // The days as integers in the floats' total order (f32 -> f64 keeps that order, so the
    // quantiles are those of sorting the f64 values; equal keys are the same number); a series
    // without a reading ranks the single value 0.
    if keys.is_empty() {
        keys.push(total_order_key(0.0));
    }
    let ranked = Ranked::new(keys);
    let median = ranked.quantile(0.5);
    // Readings right after a day without one, above 1.8 times the median.
    let catch_up = if median > 0.0 {
        finite.after(&nans).filter(|i| f64::from(x[*i]) > 1.8 * median).count()
    } else {
        0
    };
    let mut o = 0;
    let mut put = |v: f64| {
        out[o] = v;
        o += 1;
    };
    put(missing as f64 / n.max(1) as f64);
    put(lead as f64);
    put(gaps as f64);
    put(longest_gap as f64);
    for v in levels(mean, std, |q| ranked.quantile(q), ranked.max()) {
        put(v);
    }
    put(zero_days as f64 / m);
    put(longest_zero as f64);
    put(zero_runs as f64);
    put(negative as f64);
    // The days below a tenth of the median.
    put(if median > 0.0 { values.iter().filter(|v| **v < 0.1 * median).count() as f64 / m } else { 1.0 });
    put(if pairs > 0 { repeats as f64 / pairs as f64 } else { f64::NAN });
    put(whole as f64 / m);
    put(catch_up as f64);
    let block_means = blocks.map(|b| b.0.get());
    let (month_cv, lowest_to_highest) = month_spread(&block_means);
    put(month_cv);
    for bm in block_means {
        put(ratio(bm, mean));
    }
    for (k, b) in blocks.iter().enumerate() {
        let (from, to) = block_range(k, n);
        put(b.1 as f64 / (to - from).max(1) as f64);
    }
    for (k, b) in blocks.iter().enumerate() {
        let (from, to) = block_range(k, n);
        put(b.2 as f64 / (to - from).max(1) as f64);
    }
    put(lowest_to_highest);
    put(if n - lead > 2 { ratio(halves.1.get(), halves.0.get()) } else { f64::NAN });
    put(trend([sn, st as f64, sv, stt as f64, stv], mean));
    put(largest_step(&before, total, mean));
    let wk: Vec<f64> = week.iter().filter(|w| w.n > 0).map(|w| w.get()).collect();
    put(weekday_cv(&wk));
    put(lag1.correlation());
    put(lag7.correlation());
    put(if pairs > 0 && mean > 0.0 { change / pairs as f64 / mean } else { f64::NAN });
    debug_assert_eq!(o, COUNT);
}

#[cfg(test)]
mod tests {
    use super::*;

    // The features as first written, one pass per feature: the single pass must give the
    // same numbers to the last bit.
    fn mean_of(x: impl Iterator<Item = f64>) -> f64 {
        let (mut s, mut n) = (0.0, 0usize);
        for v in x {
            s += v;
            n += 1;
        }
        if n == 0 { f64::NAN } else { s / n as f64 }
    }

    fn correlation(x: &[f32], lag: usize) -> f64 {
        let pairs = x.iter().zip(&x[lag.min(x.len())..]).filter(|(a, b)| a.is_finite() && b.is_finite());
        let (mut n, mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for (a, b) in pairs {
            let (a, b) = (*a as f64, *b as f64);
            n += 1.0;
            sa += a;
            sb += b;
            saa += a * a;
            sbb += b * b;
            sab += a * b;
        }
        if n < 20.0 {
            return f64::NAN;
        }
        let va = saa / n - (sa / n).powi(2);
        let vb = sbb / n - (sb / n).powi(2);
        if va <= 1e-12 || vb <= 1e-12 {
            return f64::NAN;
        }
        (sab / n - sa / n * sb / n) / (va * vb).sqrt()
    }

    /// Numbers in [0, 1) drawn from `seed` (a linear congruential generator: the same every run).
    fn uniform(mut state: u64) -> impl FnMut() -> f64 {
        move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// The largest step as first written: every split's share of the mean, the first largest kept.
    fn largest_step_reference(values: &[f64], mean: f64) -> f64 {
        let mut step = 0.0f64;
        if values.len() > 20 && mean > 0.0 {
            let total: f64 = values.iter().sum();
            let mut before = 0.0;
            for k in 1..values.len() {
                before += values[k - 1];
                if k < 10 || values.len() - k < 10 {
                    continue;
                }
                let s = (before / k as f64 - (total - before) / (values.len() - k) as f64) / mean;
                if s.abs() > step.abs() {
                    step = s;
                }
            }
        }
        step
    }

    #[test]
    fn the_largest_step_is_the_first_largest_split_as_computed_one_by_one() {
        let mut next = uniform(7);
        let mut cases: Vec<Vec<f64>> = vec![
            vec![5.0; 100],
            // A rise and a fall of the same size: the first split wins.
            (0..90).map(|i| if (30..60).contains(&i) { 8.0 } else { 2.0 }).collect(),
            (0..21).map(f64::from).collect(),
            vec![0.0; 40],
            vec![-0.0; 40],
        ];
        for len in [21, 22, 50, 365] {
            for _ in 0..200 {
                let level = 0.01 + 50.0 * next();
                // Few distinct values (ties between splits) or any value.
                let coarse = next() < 0.5;
                cases.push(
                    (0..len)
                        .map(|_| {
                            let v = level * next();
                            if coarse { (v * 2.0).round() / 2.0 } else { f64::from(v as f32) }
                        })
                        .collect(),
                );
            }
        }
        for values in cases {
            let total: f64 = values.iter().sum();
            let mean = total / values.len() as f64;
            let mut before = Vec::new();
            let mut sum = 0.0;
            for v in &values {
                sum += v;
                before.push(sum);
            }
            let want = largest_step_reference(&values, mean);
            assert_eq!(largest_step(&before, total, mean).to_bits(), want.to_bits(), "{values:?}");
        }
    }

    /// Runs of days where `pred` holds: (count, longest).
    fn runs(x: &[f32], pred: impl Fn(f32) -> bool) -> (usize, usize) {
        let (mut count, mut longest, mut cur) = (0, 0, 0);
        for &v in x {
            if pred(v) {
                cur += 1;
            } else if cur > 0 {
                count += 1;
                longest = longest.max(cur);
                cur = 0;
            }
        }
        if cur > 0 {
            count += 1;
            longest = longest.max(cur);
        }
        (count, longest)
    }

    /// The features of one series (NaN = no reading), written into `out` (length [`COUNT`]); a
    /// feature that cannot be computed (too few readings) is NaN, which the model treats as missing.
    fn reference(x: &[f32], out: &mut [f64]) {
        assert_eq!(out.len(), COUNT);
        let n = x.len();
        let present: Vec<f64> = x.iter().filter(|v| v.is_finite()).map(|v| *v as f64).collect();
        let lead = x.iter().position(|v| v.is_finite()).unwrap_or(n);
        let (gaps, longest_gap) = runs(&x[lead..], |v| v.is_nan());
        let values = if present.is_empty() { vec![0.0] } else { present };
        let m = values.len() as f64;
        let mean = values.iter().sum::<f64>() / m;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / m).sqrt();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let median = quantile(&sorted, 0.5);
        let (zero_runs, longest_zero) = runs(x, |v| v == 0.0);
        let mut catch_up = 0;
        for i in 1..n {
            if x[i - 1].is_nan() && x[i].is_finite() && median > 0.0 && (x[i] as f64) > 1.8 * median {
                catch_up += 1;
            }
        }
        let (mut pairs, mut repeats, mut change) = (0usize, 0usize, 0.0);
        for w in x.windows(2) {
            if w[0].is_finite() && w[1].is_finite() {
                pairs += 1;
                repeats += usize::from(w[0] == w[1]);
                change += (w[1] as f64 - w[0] as f64).abs();
            }
        }
        let mut block_means = [f64::NAN; BLOCKS];
        let mut o = 0;
        let mut put = |v: f64| {
            out[o] = v;
            o += 1;
        };
        put(x.iter().filter(|v| v.is_nan()).count() as f64 / n.max(1) as f64);
        put(lead as f64);
        put(gaps as f64);
        put(longest_gap as f64);
        for v in levels(mean, std, |q| quantile(&sorted, q), sorted[sorted.len() - 1]) {
            put(v);
        }
        put(values.iter().filter(|v| **v == 0.0).count() as f64 / m);
        put(longest_zero as f64);
        put(zero_runs as f64);
        put(values.iter().filter(|v| **v < 0.0).count() as f64);
        put(if median > 0.0 { values.iter().filter(|v| **v < 0.1 * median).count() as f64 / m } else { 1.0 });
        put(if pairs > 0 { repeats as f64 / pairs as f64 } else { f64::NAN });
        put(values.iter().filter(|v| is_whole(**v)).count() as f64 / m);
        put(catch_up as f64);
        for (b, slot) in block_means.iter_mut().enumerate() {
            let (from, to) = block_range(b, n);
            *slot = mean_of(x[from..to].iter().filter(|v| v.is_finite()).map(|v| *v as f64));
        }
        let (month_cv, lowest_to_highest) = month_spread(&block_means);
        put(month_cv);
        for bm in block_means {
            put(ratio(bm, mean));
        }
        for b in 0..BLOCKS {
            let (from, to) = block_range(b, n);
            put(x[from..to].iter().filter(|v| v.is_nan()).count() as f64 / (to - from).max(1) as f64);
        }
        for b in 0..BLOCKS {
            let (from, to) = block_range(b, n);
            put(x[from..to].iter().filter(|v| **v == 0.0).count() as f64 / (to - from).max(1) as f64);
        }
        put(lowest_to_highest);
        let active = &x[lead..];
        let half = active.len() / 2;
        let first_half = mean_of(active[..half].iter().filter(|v| v.is_finite()).map(|v| *v as f64));
        let second_half = mean_of(active[half..].iter().filter(|v| v.is_finite()).map(|v| *v as f64));
        put(if active.len() > 2 { ratio(second_half, first_half) } else { f64::NAN });
        // Least-squares slope over the days with a reading, per year, against the mean.
        let pts = x.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, v)| (i as f64, *v as f64));
        let (mut sn, mut st, mut sv, mut stt, mut stv) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (t, v) in pts {
            sn += 1.0;
            st += t;
            sv += v;
            stt += t * t;
            stv += t * v;
        }
        put(trend([sn, st, sv, stt, stv], mean));
        put(largest_step_reference(&values, mean));
        let mut week = [(0.0, 0usize); 7];
        for (v, day) in x.iter().zip((0..7).cycle()) {
            if v.is_finite() {
                week[day].0 += *v as f64;
                week[day].1 += 1;
            }
        }
        let wk: Vec<f64> = week.iter().filter(|w| w.1 > 0).map(|w| w.0 / w.1 as f64).collect();
        put(weekday_cv(&wk));
        put(correlation(x, 1));
        put(correlation(x, 7));
        put(if pairs > 0 && mean > 0.0 { change / pairs as f64 / mean } else { f64::NAN });
        debug_assert_eq!(o, COUNT);
    }

    #[test]
    fn the_single_pass_gives_the_features_of_one_pass_each() {
        let mut next = uniform(99);
        for (case, n) in [0usize, 1, 5, 11, 30, 200, 365, 365, 365, 365, 400].into_iter().enumerate() {
            for round in 0..40 {
                let level = 1.0 + 40.0 * next();
                let mut x: Vec<f32> = (0..n)
                    .map(|_| {
                        let r = next();
                        if r < 0.08 {
                            f32::NAN
                        } else if r < 0.14 {
                            0.0
                        } else if r < 0.16 {
                            -(level * next()) as f32
                        } else if r < 0.2 {
                            level.round() as f32
                        } else {
                            (level * (0.5 + next())) as f32
                        }
                    })
                    .collect();
                // Leading and long missing stretches, runs of zeros, repeats, an infinity.
                if round % 3 == 0 && n > 40 {
                    x[..n / 4].fill(f32::NAN);
                }
                if round % 4 == 1 && n > 100 {
                    x[60..90].fill(0.0);
                    x[95..99].fill(2.5);
                    x[120] = f32::INFINITY;
                }
                if round % 7 == 2 {
                    x.fill(f32::NAN);
                }
                let (mut a, mut b) = (vec![0.0; COUNT], vec![0.0; COUNT]);
                compute(&x, &mut a);
                reference(&x, &mut b);
                for j in 0..COUNT {
                    assert_eq!(
                        a[j].to_bits(),
                        b[j].to_bits(),
                        "case {case} round {round}: {} {} vs {}",
                        names()[j],
                        a[j],
                        b[j]
                    );
                }
            }
        }
    }

    fn feature(x: &[f32], name: &str) -> f64 {
        let mut out = vec![0.0; COUNT];
        compute(x, &mut out);
        out[names().iter().position(|n| n == name).unwrap()]
    }

    #[test]
    fn missing_and_zero_days_are_counted() {
        let mut x = vec![10.0f32; 365];
        for v in &mut x[..45] {
            *v = f32::NAN;
        }
        for v in &mut x[100..130] {
            *v = 0.0;
        }
        x[200] = f32::NAN;
        x[201] = 40.0;
        assert_eq!(feature(&x, "leading_missing_days"), 45.0);
        assert_eq!(feature(&x, "missing_runs"), 1.0);
        assert!((feature(&x, "missing_share") - 46.0 / 365.0).abs() < 1e-9);
        assert_eq!(feature(&x, "longest_zero_days"), 30.0);
        assert_eq!(feature(&x, "catch_up_days"), 1.0);
        assert_eq!(feature(&x, "month_missing_01"), 1.0);
    }

    #[test]
    fn a_fall_shows_as_a_positive_step_and_low_late_months() {
        let x: Vec<f32> = (0..365).map(|i| if i < 200 { 20.0 } else { 5.0 }).collect();
        let step = feature(&x, "largest_step");
        assert!(step > 0.9, "20 -> 5 against a mean of about 13: {step}");
        assert!(feature(&x, "month_level_12") < 0.5);
        assert!(feature(&x, "second_half_ratio") < 0.5);
        assert!(feature(&x, "trend") < 0.0);
    }

    #[test]
    fn an_empty_series_gives_finite_or_missing_values_without_panicking() {
        let x = vec![f32::NAN; 365];
        let mut out = vec![0.0; COUNT];
        compute(&x, &mut out);
        assert_eq!(out[0], 1.0, "all days missing");
        assert!(out.iter().all(|v| !v.is_infinite()));
    }

    #[test]
    fn the_ranks_the_quantiles_need_are_those_of_a_sort_and_whole_numbers_are_told() {
        let mut state = 12345u64;
        for len in [1, 2, 3, 7, 20, 21, 365, 1000] {
            // Few distinct keys for the short ones (repeats), any key for the long ones.
            let keys: Vec<i32> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let k = (state >> 32) as i32;
                    if len < 100 { k % 4 } else { k }
                })
                .collect();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            let ranked = Ranked::new(keys);
            let values: Vec<f64> = sorted.iter().map(|k| f64::from(from_key(*k))).collect();
            for q in QUANTILES {
                assert_eq!(ranked.quantile(q).to_bits(), quantile(&values, q).to_bits(), "{len} days, q {q}");
            }
            assert_eq!(ranked.max().to_bits(), values[len - 1].to_bits());
        }
        for v in [0.0, -0.0, 3.0, -7.0, 2.5, -0.25, 1e300, 0.1, 4_503_599_627_370_495.5] {
            assert_eq!(is_whole(v), v.fract() == 0.0, "{v}");
        }
        // Every 997th bit pattern of a float and its neighbours: the bits tell as `fract` does.
        for bits in (0..=u32::MAX).step_by(997).flat_map(|b| [b, b.wrapping_add(1), b.wrapping_sub(1)]) {
            let v = f32::from_bits(bits);
            if v.is_finite() {
                assert_eq!(is_whole_f32(v), f64::from(v).fract() == 0.0, "{v:e}");
            }
        }
        for v in [0.0f32, -0.0, 1.0, -1.0, 0.5, 1.5, 8_388_607.5, 8_388_608.0, 16_777_217.0, f32::MAX] {
            assert_eq!(is_whole_f32(v), f64::from(v).fract() == 0.0, "{v:e}");
        }
    }

    #[test]
    fn the_integer_keys_sort_as_the_floats() {
        let mut v = vec![3.5f32, -0.0, 0.0, -2.25, 1e-30, -1e30, 7.0, 0.1, -0.1, f32::MAX, f32::MIN];
        let mut keys: Vec<i32> = v.iter().map(|x| total_order_key(*x)).collect();
        keys.sort_unstable();
        v.sort_by(f32::total_cmp);
        let back: Vec<u32> = keys.iter().map(|k| from_key(*k).to_bits()).collect();
        assert_eq!(back, v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn names_are_unique_and_block_words_name_the_month() {
        let n = names();
        assert_eq!(n.len(), COUNT);
        let mut u = n.clone();
        u.sort();
        u.dedup();
        assert_eq!(u.len(), COUNT);
        let i = n.iter().position(|x| x == "month_level_03").unwrap();
        let (zh, en) = words(i, 0.25, NaiveDate::from_ymd_opt(2015, 1, 1).unwrap(), 365);
        assert_eq!(zh, "2015-03 月日均电量与全期日均之比：25%");
        assert!(en.starts_with("2015-03 month's daily mean"));
        let (zh, en) = words(i, f64::NAN, NaiveDate::from_ymd_opt(2015, 1, 1).unwrap(), 365);
        assert_eq!((zh.as_str(), en.as_str()), ("2015-03 整月无读数", "no reading at all in 2015-03"));
    }
}
