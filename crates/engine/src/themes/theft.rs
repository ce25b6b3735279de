//! LOSS-THEFT 窃电嫌疑: an explainable suspicion score per customer, from two scorers.
//!
//! - The rule score (`jicha_theft::RuleScorer`, "rules-v1"): the customer's month against its own
//!   baseline, relative to what its transformer area's customers did in the same time (the drop,
//!   zero days, the change of its day-to-day variation, days without a reading, registers running
//!   backwards) and whether the area's loss rose by about the energy it stopped registering.
//! - The theft model (`jicha_theft::Model`, the built-in one): the customer's year of days up to
//!   the period's end, scored by gradient-boosted trees and calibrated to a probability at the
//!   expected share of thieves (`prevalence`), with the area balance added. It scores only when
//!   the stored data reaches back a whole year and the customer has `model_min_days` readings;
//!   otherwise the rule score stands alone.
//!
//! The run ranks by the higher of the two. A customer fires when in the top `top_share` of the
//! run, or at a rule score of at least `threshold`, or at a model probability of at least
//! `probability`; never below `min_score` (a customer with no signal is never suspected just to
//! fill a quota). The evidence carries both scores, each rule signal's contribution and the
//! model's strongest signals as `model_<feature>` = the feature's value.

// Maps keyed by customer, meter and area ids, a million entries at a time: hashed with foldhash.
use foldhash::HashMap;

use crate::columns::text;
use crate::error::{EngineError, EngineResult};
use crate::finding::{Finding, int, num};
use crate::kernels::{AreaDays, area_days, registers};
use crate::session::Session;
use crate::theft::{Kept, Year};
use crate::theme::{Param, Params, Theme, Window, need};
use crate::themes::common::{customers, meters, price_on, tariffs};
use crate::themes::loss_tq::AREA_LOOKBACK_DAYS;
use crate::themes::vol_customer::{DEFAULT_BASELINE_DAYS, shared_months};
pub use jicha_theft::{Features, Model, RuleScorer, Scored, Scorer};

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
    Param {
        name: "prevalence",
        default: 0.01,
        doc: "预计窃电用户占比，用于校准概率 / expected share of customers who steal, for the calibrated probability",
    },
    Param {
        name: "probability",
        default: 0.5,
        doc: "模型校准概率达到即触发 / a calibrated model probability at least this fires",
    },
    Param {
        name: "model_min_days",
        default: 60.0,
        doc: "模型评分所需的最少有读数天数，不足时只用规则评分 / days with a reading the model needs; fewer: rules only",
    },
];

/// One customer's scores: the final score (the higher of the rule score and the model's
/// calibrated probability, both with the area balance), the rule score, and the model's
/// (None where the model could not score).
#[derive(Debug, Clone)]
pub struct Suspicion {
    /// The score the run ranks by, 0..=1.
    pub score: f64,
    /// The rule score (its signals are worked out again for the customers that fire).
    pub rules: f64,
    /// The model's score and calibrated probability, both with the area balance, and the
    /// customer's row of the year (`Year::rows`).
    pub model: Option<(f64, f64, usize)>,
}

/// Each area's loss over days `from..=to` of the shared area matrix: supply and consumption of
/// valid days, kWh in hundredths.
fn area_losses(days: &AreaDays, from: i32, to: i32) -> HashMap<String, (i64, i64)> {
    let (a, b) =
        ((from - days.first).max(0) as usize, ((to - days.first + 1).max(0) as usize).min(days.days));
    let mut out = HashMap::default();
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

/// What the year ratio reads of a customer's year: its mean level over each of the first three
/// quarters of the window (30 days with a reading at least) and over the last `period_days` (7
/// at least); none when the window is shorter than four months of 30 days or the period.
fn year_levels(row: &[f32], period_days: usize) -> [Option<f64>; 4] {
    let days = row.len();
    if days < 4 * 30 || period_days >= days {
        return [None; 4];
    }
    let q = days / 4;
    let mean = |(a, b): (usize, usize), min: usize| {
        let (mut s, mut k) = (0.0, 0usize);
        for v in row[a..b].iter().filter(|v| v.is_finite()) {
            s += f64::from(*v);
            k += 1;
        }
        (k >= min).then(|| s / k as f64)
    };
    [mean((0, q), 30), mean((q, 2 * q), 30), mean((2 * q, 3 * q), 30), mean((days - period_days, days), 7)]
}

/// Each customer's level in the period against its highest quarter among the first three of
/// the window ([`year_levels`], by row), both relative to the median customer of its
/// transformer area (at least 5 customers with that quarter known): the season cancels out, a
/// fall of its own stays.
fn year_ratios<'a>(rows: &[YearRow], area_of: impl Fn(usize) -> Option<&'a str>) -> Vec<Option<f64>> {
    let areas: Vec<Option<&str>> = (0..rows.len()).map(area_of).collect();
    let mut by_area: HashMap<&str, [Vec<f64>; 4]> = HashMap::default();
    for (c, a) in areas.iter().enumerate() {
        if let Some(a) = a {
            let e = by_area.entry(*a).or_default();
            for (k, l) in rows[c].levels.iter().enumerate() {
                if let Some(l) = l {
                    e[k].push(*l);
                }
            }
        }
    }
    let medians: HashMap<&str, [Option<f64>; 4]> = by_area
        .into_iter()
        .map(|(a, mut v)| {
            let m = |x: &mut Vec<f64>| {
                x.sort_by(f64::total_cmp);
                (x.len() >= 5 && x[x.len() / 2] > 0.0).then(|| x[x.len() / 2])
            };
            (a, [m(&mut v[0]), m(&mut v[1]), m(&mut v[2]), m(&mut v[3])])
        })
        .collect();
    (0..rows.len())
        .map(|c| {
            let med = medians.get(areas[c]?)?;
            let rel = |k: usize| Some(rows[c].levels[k]? / med[k]?);
            let now = rel(3)?;
            let before = (0..3).filter_map(rel).fold(f64::NAN, f64::max);
            (before > 0.0).then(|| now / before)
        })
        .collect()
}

/// What LOSS-THEFT reads of each customer's year besides the model's score: its days with a
/// reading and its [`year_levels`].
pub struct YearRow {
    /// Days with a reading.
    pub known: usize,
    /// The levels the year ratio compares.
    pub levels: [Option<f64>; 4],
}

impl Kept for YearRow {
    /// Days with a reading (u32), which levels there are (a bit each), the levels (f64).
    const BYTES: usize = 4 + 1 + 4 * 8;

    fn put(&self, out: &mut Vec<u8>) {
        out.extend((self.known as u32).to_le_bytes());
        out.push(self.levels.iter().enumerate().fold(0u8, |m, (k, l)| m | u8::from(l.is_some()) << k));
        for l in self.levels {
            out.extend(l.unwrap_or(0.0).to_le_bytes());
        }
    }

    fn get(bytes: &[u8]) -> YearRow {
        let known = u32::from_le_bytes(bytes[..4].try_into().expect("four bytes")) as usize;
        let levels = std::array::from_fn(|k| {
            let at = 5 + 8 * k;
            (bytes[4] >> k & 1 == 1)
                .then(|| f64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes")))
        });
        YearRow { known, levels }
    }
}

/// Register reversals per meter in the period (a register below the day before's), from the
/// registers VOL-REVERSE and VOL-MISSING share.
pub fn reversals(session: &Session, w: &Window) -> EngineResult<HashMap<String, i64>> {
    let reg = registers(session, w.first() - 1, w.last())?;
    let mut out = HashMap::default();
    let mut buf = Vec::new();
    for (i, id) in reg.meters.names.iter().enumerate() {
        let n = reg.meter(i, &mut buf).reversals(w.first(), w.last()).count() as i64;
        if n > 0 {
            out.insert(id.clone(), n);
        }
    }
    Ok(out)
}

impl LossTheft {
    /// Features of every customer active through the period that has consumption data (the
    /// year ratio left out: [`LossTheft::add_year_ratios`] adds it from the model's pass over the
    /// year).
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
        let mut customer_reversals: HashMap<String, i64> = HashMap::default();
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
        // Room for every customer at once: a million features are not copied as they grow.
        let mut out = Vec::with_capacity(months.len());
        // Each kept customer's area, beside `out` (the archive asked once per customer).
        let mut areas: Vec<Option<&str>> = Vec::with_capacity(months.len());
        for m in months.iter() {
            let Some(c) = cust.get(&m.customer_id).filter(|c| c.active_through(w) && m.known > 0) else {
                continue;
            };
            let tq = c.tq_id.as_deref();
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
                year_ratio: None,
                zero_days: m.zero_days,
                cv: cv(m.known, m.total, m.sumsq),
                base_cv: cv(m.base_known, m.base_total, m.base_sumsq),
                reversals: customer_reversals.get(&m.customer_id).copied().unwrap_or(0),
                area_loss: rate(tq.and_then(|t| now.get(t))),
                area_base_loss: rate(tq.and_then(|t| before.get(t))),
                area_supply: tq.and_then(|t| now.get(t)).map_or(0.0, |(s, _)| *s as f64 / 100.0),
            };
            out.push((m.customer_id.clone(), f));
            areas.push(tq);
        }
        // Each area's median ratio of its customers with a baseline.
        let mut ratios: HashMap<&str, Vec<f64>> = HashMap::default();
        for ((_, f), tq) in out.iter().zip(&areas) {
            if let Some(t) = *tq
                && f.base_known >= 30
                && f.base_mean >= 1.0
            {
                ratios.entry(t).or_default().push(f.mean / f.base_mean);
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
        for ((_, f), tq) in out.iter_mut().zip(&areas) {
            f.peer_ratio = tq.and_then(|t| median.get(t).copied());
        }
        Ok(out)
    }

    /// Each customer's year ratio (see [`year_ratios`]) into its features.
    pub fn add_year_ratios(
        session: &Session,
        features: &mut [(String, Features)],
        year: &Year,
        rows: &[YearRow],
    ) -> EngineResult<()> {
        let cust = customers(session)?;
        let ratios = year_ratios(rows, |r| cust.get(year.rows.id(r)).and_then(|c| c.tq_id.as_deref()));
        for (id, f) in features.iter_mut() {
            f.year_ratio = year.rows.row_of(id).and_then(|r| ratios[r]);
        }
        Ok(())
    }

    /// Scores every customer: the rule score, and the model's where the stored data covers the
    /// year and the customer has enough days with a reading in it; the area balance adds to the
    /// model's score, `model + (1 - model) * area / 2`, and likewise to its calibrated
    /// probability. The run ranks by the higher of the rule score and that probability.
    pub fn score(
        features: &[(String, Features)],
        year: &Year,
        (model_scores, rows): (Option<&[f64]>, &[YearRow]),
        model: &Model,
        p: &Params,
    ) -> Vec<Suspicion> {
        let min_days = p.get("model_min_days").max(0.0) as usize;
        features
            .iter()
            .map(|(id, f)| {
                let signals = RuleScorer::signals(f);
                let (rules, area) = (RuleScorer::weighted(&signals), signals[1]);
                let model = model_scores
                    .and_then(|_| year.rows.row_of(id))
                    .filter(|r| rows[*r].known >= min_days)
                    .map(|r| {
                        let add = |x: f64| x + (1.0 - x) * area / 2.0;
                        let m = model_scores.map_or(0.0, |s| s[r]);
                        (add(m), add(model.probability(m, Some(p.get("prevalence")))), r)
                    });
                // On one scale: the rule score and the model's calibrated probability.
                let score = model.map_or(rules, |(_, prob, _)| prob.max(rules));
                Suspicion { score, rules, model }
            })
            .collect()
    }

    /// Picks the suspects: in the top `top_share` of the run, or a rule score at least
    /// `threshold`, or a model probability at least `probability`; never below `min_score`.
    pub fn suspects(features: &[(String, Features)], scored: &[Suspicion], p: &Params) -> Vec<usize> {
        // Higher score first, then by id (ids are unique: a total order).
        let before = |a: &usize, b: &usize| {
            scored[*b].score.total_cmp(&scored[*a].score).then(features[*a].0.cmp(&features[*b].0))
        };
        let top = ((p.get("top_share") * scored.len() as f64).ceil() as usize).min(scored.len());
        let mut order: Vec<usize> = (0..scored.len()).collect();
        // The top of the run put first (selected, not sorted: a million customers), then those
        // a threshold picks from the rest; only the picked are sorted.
        if top > 0 && top < order.len() {
            order.select_nth_unstable_by(top - 1, before);
        }
        let (min_score, threshold, probability) =
            (p.get("min_score"), p.get("threshold"), p.get("probability"));
        let mut picked: Vec<usize> = order
            .iter()
            .enumerate()
            .filter(|(rank, i)| {
                let s = &scored[**i];
                s.score >= min_score
                    && (*rank < top
                        || s.rules >= threshold
                        || s.model.is_some_and(|(_, prob, _)| prob >= probability))
            })
            .map(|(_, i)| *i)
            .collect();
        picked.sort_unstable_by(before);
        picked
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

    fn long_running(&self) -> bool {
        true
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let with_readings = session.has_rows("readings") && session.has_rows("meters");
        let model = Model::builtin();
        // The model reads and scores the year beside the month's features.
        let period_days = w.days() as usize;
        let (features, scanned) = std::thread::scope(|s| {
            let scanning = s.spawn(|| {
                let year = Year::open(session, w.last())?;
                // Kept for a rerun of the period: the scores change only with the stored year.
                let what = format!("loss-theft/year-row/{period_days}");
                let (scores, rows) = year.scan_kept(session.dir(), model, &what, |row| YearRow {
                    known: row.iter().filter(|v| v.is_finite()).count(),
                    levels: year_levels(row, period_days),
                });
                Ok::<_, EngineError>((year, scores, rows))
            });
            let features = LossTheft::features(session, w, with_readings);
            let scanned =
                scanning.join().map_err(|_| EngineError::Internal("the model's scoring panicked".into()));
            (features, scanned)
        });
        let (mut features, (year, model_scores, year_rows)) = (features?, scanned??);
        LossTheft::add_year_ratios(session, &mut features, &year, &year_rows)?;
        let scored = LossTheft::score(&features, &year, (model_scores.as_deref(), &year_rows), model, p);
        let picked = LossTheft::suspects(&features, &scored, p);
        let rows: Vec<usize> = picked.iter().filter_map(|i| scored[*i].model.map(|m| m.2)).collect();
        let mut explained = year.explain(&rows, model).into_iter();
        let (cust, prices) = (customers(session)?, tariffs(session)?);
        let feature_names = jicha_theft::features::names();
        let mut out = Vec::new();
        for i in picked {
            let (id, f) = &features[i];
            let s = &scored[i];
            let c = cust.get(id);
            let mut ev: Vec<(&str, serde_json::Value)> =
                vec![("score", num(s.score)), ("rule_score", num(s.rules))];
            let rules = RuleScorer.score(f);
            let mut names: Vec<String> =
                rules.contributions.iter().map(|(n, _)| format!("signal_{n}")).collect();
            let mut values: Vec<f64> = rules.contributions.iter().map(|(_, x)| *x).collect();
            if let Some((m, prob, _)) = s.model {
                ev.push(("model_score", num(m)));
                ev.push(("model_probability", num(prob)));
                // The model's strongest signals, as the feature's value under its name.
                if let Some(e) = explained.next() {
                    for (j, v, _) in e.signals {
                        if v.is_finite() {
                            names.push(format!("model_{}", feature_names[j]));
                            values.push(v);
                        }
                    }
                }
            }
            for (name, x) in names.iter().zip(&values) {
                ev.push((name.as_str(), num(*x)));
            }
            ev.push(("mean_kwh", num(f.mean)));
            ev.push(("baseline_mean_kwh", num(f.base_mean)));
            if let Some(r) = f.peer_ratio {
                ev.push(("area_median_ratio", num(r)));
            }
            if let Some(r) = f.year_ratio {
                ev.push(("year_level_ratio", num(r)));
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
                self.finding(w, id, c.map(|c| c.station_id.to_string()), &ev)
                    .with_amount(price.filter(|_| lost > 0.0).map(|pr| lost * pr)),
            );
        }
        Ok(out)
    }
}
