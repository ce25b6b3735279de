//! The theft model: gradient-boosted trees (the `forust-ml` crate, trained and run in Rust on the
//! CPU) over [`features`](crate::features), with
//! - a calibrated threshold (the best F1 over out-of-fold scores of the training rows),
//! - a probability (Platt scaling of the out-of-fold scores, shifted to the population's share of
//!   thefts when that is given: a county has far fewer thieves than a labelled sample),
//! - an explanation per customer: each feature's contribution to the log-odds, the largest ones
//!   in words (Chinese and English).
//!
//! A model is a JSON file; the default one is built into the binary ([`Model::builtin`]).

use std::sync::OnceLock;

use chrono::NaiveDate;
use forust_ml::gradientbooster::ContributionsMethod;
use forust_ml::objective::ObjectiveType;
use forust_ml::sampler::SampleMethod;
use forust_ml::{GradientBooster, Matrix};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::TheftError;
use crate::features::{self, COUNT};
use crate::logistic::Logistic;

/// The `format` field of every model file.
pub const FORMAT: &str = "jicha-theft-model";

/// The days a model looks at: a year ending on the scoring day.
pub const WINDOW_DAYS: usize = 365;

/// How a model was trained.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Training {
    /// What it was trained on (a file name and the rows used).
    pub source: String,
    /// Rows.
    pub rows: usize,
    /// Of which thefts.
    pub thefts: usize,
    /// The learner's settings.
    pub learner: Learner,
    /// Out-of-fold ROC AUC over the training rows (5 folds).
    pub oof_auc: f64,
}

/// The settings of the boosted trees.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Learner {
    /// Trees.
    pub trees: usize,
    /// Learning rate.
    pub learning_rate: f32,
    /// Depth of each tree.
    pub max_depth: usize,
    /// Smallest hessian sum in a leaf.
    pub min_leaf_weight: f32,
    /// Share of rows each tree sees.
    pub subsample: f32,
    /// Share of features each tree sees.
    pub colsample: f64,
}

impl Default for Learner {
    /// Small, shallow trees with a slow rate: the labelled sets are a few hundred customers.
    fn default() -> Self {
        Learner {
            trees: 400,
            learning_rate: 0.02,
            max_depth: 3,
            min_leaf_weight: 3.0,
            subsample: 0.8,
            colsample: 0.5,
        }
    }
}

/// A trained model.
#[derive(Serialize, Deserialize)]
pub struct Model {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version.
    pub version: u32,
    /// Name kept in findings' evidence.
    pub name: String,
    /// The feature names, in order; a file whose names differ from this build's is refused.
    pub features: Vec<String>,
    /// How it was trained.
    pub training: Training,
    /// Calibrated threshold on the score.
    pub threshold: f64,
    /// Platt scaling of the score's log-odds: probability = sigmoid(a * logit(score) + b).
    pub platt: (f64, f64),
    /// Share of thefts in the training rows.
    pub prevalence: f64,
    booster: GradientBooster,
    /// The booster flattened for scoring, built on first use.
    #[serde(skip)]
    forest: OnceLock<Forest>,
    /// The SHA-256 of the model as JSON, taken on first use.
    #[serde(skip)]
    digest: OnceLock<String>,
}

/// One customer's score and why.
#[derive(Debug, Clone)]
pub struct Explained {
    /// The model's score, 0..=1 (ranks customers).
    pub score: f64,
    /// The strongest signals towards theft: feature index, value and contribution (log-odds).
    pub signals: Vec<(usize, f64, f64)>,
}

static BUILTIN: OnceLock<Model> = OnceLock::new();

/// The default model's file, as shipped.
pub const BUILTIN_JSON: &str = include_str!("../model/default.json");

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Column-major copy of row vectors, as the learner wants.
fn columns(rows: &[Vec<f64>]) -> Vec<f64> {
    let mut data = Vec::with_capacity(rows.len() * COUNT);
    for j in 0..COUNT {
        data.extend(rows.iter().map(|r| r[j]));
    }
    data
}

fn fit(rows: &[Vec<f64>], labels: &[bool], l: Learner) -> Result<GradientBooster, TheftError> {
    let data = columns(rows);
    let y: Vec<f64> = labels.iter().map(|l| f64::from(u8::from(*l))).collect();
    let mut b = GradientBooster::default()
        .set_objective_type(ObjectiveType::LogLoss)
        .set_iterations(l.trees)
        .set_learning_rate(l.learning_rate)
        .set_max_depth(l.max_depth)
        .set_min_leaf_weight(l.min_leaf_weight)
        .set_subsample(l.subsample)
        .set_sample_method(SampleMethod::Random)
        .set_colsample_bytree(l.colsample)
        .set_seed(2015);
    b.fit(&Matrix::new(&data, rows.len(), COUNT), &y, &vec![1.0; rows.len()], None)
        .map_err(|e| TheftError::Training(e.to_string()))?;
    Ok(b)
}

/// One node of a [`Forest`]. A split sends a row to `next[0]` (right: the value is at least
/// `value`), `next[1]` (left: below it) or `next[2]` = `next[3]` (missing); a leaf, of weight
/// `value`, sends every row back to itself.
#[derive(Debug, Clone, Copy)]
struct Node {
    feature: u32,
    next: [u32; 4],
    value: f64,
}

/// The booster's prediction trees in one flat array of nodes, evaluated [`BATCH`] rows at a time
/// (each tree walked by all of them before the next): the same sums in the same order as the
/// booster's own prediction (its base score, then each tree's leaf weight), without its
/// column-major copy of every row. Every tree is walked the same number of steps (a leaf keeps
/// the row) with the branch chosen by arithmetic, so the walk has no branch the processor could
/// mispredict.
#[derive(Debug, Clone)]
struct Forest {
    base: f64,
    depth: usize,
    roots: Vec<u32>,
    nodes: Vec<Node>,
}

/// The longest walk from node `i` to a leaf (a node that keeps the row).
fn steps(nodes: &[Node], i: u32) -> usize {
    let next = nodes[i as usize].next;
    if next[0] == i {
        return 0;
    }
    1 + next[..3].iter().map(|c| steps(nodes, *c)).max().unwrap_or(0)
}

impl Forest {
    fn of(b: &GradientBooster) -> Forest {
        let n = b.prediction_iteration.unwrap_or(b.trees.len()).min(b.trees.len());
        let (mut roots, mut nodes, mut depth) = (Vec::with_capacity(n), Vec::new(), 0);
        for tree in &b.trees[..n] {
            let at = nodes.len() as u32;
            roots.push(at);
            for (i, t) in tree.nodes.iter().enumerate() {
                let node = |k: usize| at + k as u32;
                nodes.push(if t.is_leaf {
                    Node { feature: 0, next: [node(i); 4], value: f64::from(t.weight_value) }
                } else {
                    let (l, r, m) = (node(t.left_child), node(t.right_child), node(t.missing_node));
                    Node { feature: t.split_feature as u32, next: [r, l, m, m], value: t.split_value }
                });
            }
            depth = depth.max(steps(&nodes, at));
        }
        Forest { base: b.base_score, depth, roots, nodes }
    }

    /// The log-odds of up to [`BATCH`] feature rows into `out`. The rows walk each tree side by
    /// side (their walks do not depend on each other, so the processor overlaps them) while its
    /// nodes stay in the first-level cache, and each row adds its leaves in the trees' order.
    fn log_odds<R: AsRef<[f64]>>(&self, rows: &[R], out: &mut [f64]) {
        let k = rows.len();
        assert!(k <= BATCH && out.len() >= k);
        let rows: [&[f64]; BATCH] = std::array::from_fn(|r| rows.get(r).map_or(&[][..], |x| x.as_ref()));
        let step = |at: usize, row: &[f64]| {
            let node = &self.nodes[at];
            let v = row[node.feature as usize];
            node.next[usize::from(v < node.value) | usize::from(v.is_nan()) << 1] as usize
        };
        let mut p = [self.base; BATCH];
        for root in &self.roots {
            let mut at = [*root as usize; BATCH];
            for _ in 0..self.depth {
                for r in 0..k {
                    at[r] = step(at[r], rows[r]);
                }
            }
            for r in 0..k {
                p[r] += self.nodes[at[r]].value;
            }
        }
        out[..k].copy_from_slice(&p[..k]);
    }

    /// The scores (probabilities of theft) of feature rows, in parallel.
    fn scores<R: AsRef<[f64]> + Sync>(&self, rows: &[R]) -> Vec<f64> {
        let mut out = vec![0.0; rows.len()];
        out.par_chunks_mut(BATCH).zip(rows.par_chunks(BATCH)).for_each(|(out, rows)| {
            self.log_odds(rows, out);
            out.iter_mut().for_each(|p| *p = sigmoid(*p));
        });
        out
    }
}

/// Rows the trees score together: a tree's nodes are read once for all of them.
const BATCH: usize = 16;

fn predict(b: &GradientBooster, rows: &[Vec<f64>]) -> Vec<f64> {
    Forest::of(b).scores(rows)
}

/// The fold (0..5) of training row `i`: fixed, so a retrain gives the same calibration.
fn fold(i: usize) -> usize {
    (i.wrapping_mul(2_654_435_761) >> 7) % 5
}

/// The threshold with the best F1 over `scores`.
fn best_f1(scores: &[f64], labels: &[bool]) -> f64 {
    let pos = labels.iter().filter(|l| **l).count() as f64;
    let (mut best, mut at, mut hits) = (0.0, 1.0, 0.0);
    for (k, i) in crate::metrics::ranking(scores).into_iter().enumerate() {
        if labels[i] {
            hits += 1.0;
        }
        let f1 = 2.0 * hits / (k as f64 + 1.0 + pos);
        if f1 > best {
            best = f1;
            at = scores[i];
        }
    }
    at
}

impl Model {
    /// Trains on feature rows and labels: out-of-fold scores for the calibration, then the model
    /// on all rows.
    pub fn train(
        rows: &[Vec<f64>],
        labels: &[bool],
        learner: Learner,
        source: &str,
    ) -> Result<Model, TheftError> {
        let thefts = labels.iter().filter(|l| **l).count();
        if rows.len() < 50 || thefts < 10 || rows.len() - thefts < 10 {
            return Err(TheftError::Training(format!(
                "需要至少 50 行、窃电与正常各至少 10 行，现有 {} 行、窃电 {thefts} 行 / at least 50 rows with 10 of each class are needed, got {} rows and {thefts} thefts",
                rows.len(),
                rows.len()
            )));
        }
        let mut oof = vec![0.0; rows.len()];
        for k in 0..5 {
            let (tr, va): (Vec<usize>, Vec<usize>) = (0..rows.len()).partition(|i| fold(*i) != k);
            let tr_rows: Vec<Vec<f64>> = tr.iter().map(|i| rows[*i].clone()).collect();
            let tr_labels: Vec<bool> = tr.iter().map(|i| labels[*i]).collect();
            let b = fit(&tr_rows, &tr_labels, learner)?;
            let va_rows: Vec<Vec<f64>> = va.iter().map(|i| rows[*i].clone()).collect();
            for (i, s) in va.iter().zip(predict(&b, &va_rows)) {
                oof[*i] = s;
            }
        }
        let threshold = best_f1(&oof, labels);
        let platt_fit = Logistic::fit(&oof.iter().map(|s| vec![logit(*s)]).collect::<Vec<_>>(), labels, 1e-6);
        let platt = platt_fit.unscaled_line();
        let oof_auc = crate::metrics::roc_auc(&oof, labels);
        let booster = fit(rows, labels, learner)?;
        Ok(Model {
            format: FORMAT.into(),
            version: 1,
            name: "gbdt-v1".into(),
            features: features::names(),
            training: Training { source: source.into(), rows: rows.len(), thefts, learner, oof_auc },
            threshold,
            platt,
            prevalence: thefts as f64 / rows.len() as f64,
            booster,
            forest: OnceLock::new(),
            digest: OnceLock::new(),
        })
    }

    /// Reads a model file, checking that it is one and that its features are this build's.
    pub fn from_json(text: &str, file: &str) -> Result<Model, TheftError> {
        let bad = |reason: String| TheftError::Model { file: file.into(), reason };
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(bad(format!("不是 {FORMAT} 文件 / not a {FORMAT} file")));
        }
        let m: Model = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
        if m.features != features::names() {
            return Err(bad("特征与本版本不一致 / its features differ from this version's".into()));
        }
        Ok(m)
    }

    /// The model as JSON.
    pub fn to_json(&self) -> Result<String, TheftError> {
        serde_json::to_string(self)
            .map_err(|e| TheftError::Model { file: String::new(), reason: e.to_string() })
    }

    /// What tells this model from any other (the SHA-256 of it as JSON, in hex): results kept
    /// for it are kept under it.
    pub fn fingerprint(&self) -> &str {
        self.digest.get_or_init(|| {
            use sha2::{Digest, Sha256};
            let json = serde_json::to_vec(self).unwrap_or_default();
            Sha256::digest(&json).iter().map(|b| format!("{b:02x}")).collect()
        })
    }

    /// The model built into the binary.
    pub fn builtin() -> &'static Model {
        BUILTIN.get_or_init(|| Model::from_json(BUILTIN_JSON, "builtin").expect("the shipped model is valid"))
    }

    fn forest(&self) -> &Forest {
        self.forest.get_or_init(|| Forest::of(&self.booster))
    }

    /// Scores feature rows (parallel).
    pub fn score(&self, rows: &[Vec<f64>]) -> Vec<f64> {
        self.forest().scores(rows)
    }

    /// Scores one series (its last [`WINDOW_DAYS`] days, as [`feature_row`] reads it) without
    /// keeping its features.
    pub fn score_series(&self, values: &[f32]) -> f64 {
        self.score_matrix(values, 1)[0]
    }

    /// Scores each of the `rows` series of a row-major matrix (each row fitted to the window as
    /// [`feature_row`] does), in parallel, [`BATCH`] rows at a time: their features computed, then
    /// the trees walked for all of them; only the scores are kept.
    pub fn score_matrix(&self, values: &[f32], rows: usize) -> Vec<f64> {
        let days = values.len().checked_div(rows).unwrap_or(0);
        assert_eq!(days * rows, values.len(), "a matrix of whole rows");
        let forest = self.forest();
        let mut out = vec![0.0; rows];
        out.par_chunks_mut(BATCH).enumerate().for_each(|(b, out)| {
            let mut x = [[0.0; COUNT]; BATCH];
            for (r, row) in x.iter_mut().enumerate().take(out.len()) {
                let at = (b * BATCH + r) * days;
                with_window(&values[at..at + days], |series| features::compute(series, row));
            }
            forest.log_odds(&x[..out.len()], out);
            out.iter_mut().for_each(|p| *p = sigmoid(*p));
        });
        out
    }

    /// Scores and explains feature rows: the `top` strongest positive contributions of each.
    pub fn explain(&self, rows: &[Vec<f64>], top: usize) -> Vec<Explained> {
        if rows.is_empty() {
            return Vec::new();
        }
        let scores = self.score(rows);
        let data = columns(rows);
        let contrib = self.booster.predict_contributions(
            &Matrix::new(&data, rows.len(), COUNT),
            ContributionsMethod::Average,
            true,
        );
        rows.par_iter()
            .enumerate()
            .map(|(r, row)| {
                let c = &contrib[r * (COUNT + 1)..r * (COUNT + 1) + COUNT];
                let mut idx: Vec<usize> = (0..COUNT).filter(|j| c[*j] > 0.0).collect();
                idx.sort_by(|a, b| c[*b].total_cmp(&c[*a]));
                idx.truncate(top);
                Explained { score: scores[r], signals: idx.into_iter().map(|j| (j, row[j], c[j])).collect() }
            })
            .collect()
    }

    /// The calibrated probability of theft for a score, in a population where `prevalence` of
    /// customers steal (None: as in the training rows).
    pub fn probability(&self, score: f64, prevalence: Option<f64>) -> f64 {
        let p = sigmoid(self.platt.0 * logit(score) + self.platt.1);
        match prevalence {
            Some(target) if target > 0.0 && target < 1.0 => {
                let shift = logit(target) - logit(self.prevalence);
                sigmoid(logit(p) + shift)
            }
            _ => p,
        }
    }

    /// The signals of an explanation in words, e.g. "最长连续零电量天数：45；..." and English.
    pub fn words(e: &Explained, first: NaiveDate, days: usize) -> (String, String) {
        let (zh, en): (Vec<String>, Vec<String>) =
            e.signals.iter().map(|(j, v, _)| features::words(*j, *v, first, days)).unzip();
        (zh.join("；"), en.join("; "))
    }
}

/// A series fitted to the model's window: the last [`WINDOW_DAYS`] days, missing days in front
/// when it is shorter.
pub fn window(values: &[f32]) -> Vec<f32> {
    if values.len() >= WINDOW_DAYS {
        values[values.len() - WINDOW_DAYS..].to_vec()
    } else {
        let mut v = vec![f32::NAN; WINDOW_DAYS - values.len()];
        v.extend_from_slice(values);
        v
    }
}

/// Calls `f` with the series fitted to the window, copying only when it is shorter.
fn with_window<T>(values: &[f32], f: impl FnOnce(&[f32]) -> T) -> T {
    if values.len() >= WINDOW_DAYS { f(&values[values.len() - WINDOW_DAYS..]) } else { f(&window(values)) }
}

/// The feature row of a series fitted to the window.
pub fn feature_row(values: &[f32]) -> Vec<f64> {
    let mut out = vec![0.0; COUNT];
    with_window(values, |x| features::compute(x, &mut out));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows with missing values and a label that depends on three features.
    fn sample(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<bool>) {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let row: Vec<f64> =
                    (0..COUNT).map(|_| if next() < 0.1 { f64::NAN } else { next() }).collect();
                let y = row[0].is_nan() || row[3] + row[7] * 0.5 > 0.8 + 0.3 * next();
                (row, y)
            })
            .unzip()
    }

    #[test]
    fn the_flat_forest_scores_exactly_as_the_booster() {
        let (rows, labels) = sample(400, 7);
        let model =
            Model::train(&rows, &labels, Learner { trees: 60, ..Learner::default() }, "test").unwrap();
        let (test, _) = sample(300, 99);
        let data = columns(&test);
        let booster: Vec<f64> = model
            .booster
            .predict(&Matrix::new(&data, test.len(), COUNT), true)
            .into_iter()
            .map(sigmoid)
            .collect();
        let flat = model.score(&test);
        assert_eq!(flat.len(), booster.len());
        for (a, b) in flat.iter().zip(&booster) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert!(flat.iter().any(|s| (s - flat[0]).abs() > 1e-3), "the trees split the rows");
    }

    #[test]
    fn a_matrix_of_series_scores_row_by_row_as_their_feature_rows() {
        let model = Model::builtin();
        // 37 rows: two whole batches and a part of one; each row its own level and gaps.
        let (rows, days) = (37, 365);
        let matrix: Vec<f32> = (0..rows * days)
            .map(|i| {
                let (r, d) = (i / days, i % days);
                if (d + r) % (5 + r) == 0 { f32::NAN } else { ((d * (r + 1)) % 23) as f32 * 0.5 }
            })
            .collect();
        let scores = model.score_matrix(&matrix, rows);
        let features: Vec<Vec<f64>> = matrix.chunks(days).map(feature_row).collect();
        let one_by_one = model.score(&features);
        assert_eq!(scores.len(), rows);
        for (a, b) in scores.iter().zip(&one_by_one) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert!(scores.iter().any(|s| (s - scores[0]).abs() > 1e-6), "the rows score differently");
        assert!(model.score_matrix(&[], 0).is_empty());
    }

    #[test]
    fn a_series_scores_as_its_feature_row() {
        let model = Model::builtin();
        let year: Vec<f32> = (0..400).map(|i| if i % 50 == 3 { f32::NAN } else { (i % 9) as f32 }).collect();
        for values in [&year[..], &year[..200]] {
            let s = model.score_series(values);
            assert_eq!(s.to_bits(), model.score(&[feature_row(values)])[0].to_bits());
        }
        // The built-in model, flattened, agrees with its booster.
        let row = feature_row(&year);
        let data = columns(std::slice::from_ref(&row));
        let b = model.booster.predict(&Matrix::new(&data, 1, COUNT), false)[0];
        assert_eq!(sigmoid(b).to_bits(), model.score_series(&year).to_bits());
    }
}
