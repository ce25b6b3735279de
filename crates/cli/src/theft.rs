//! `jicha theft train|score|evaluate`: the theft model on the wide daily form and on the stored
//! data.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use jicha_theft::metrics::{Interval, ap_at, average_precision, bootstrap, precision_at, roc_auc};
use jicha_theft::model::{Learner, feature_row};
use jicha_theft::wide::{Row, WideReader};
use jicha_theft::{Model, TheftError, in_test_split};
use rayon::prelude::*;

use crate::BAD_INPUT;

/// The theft model's subcommands.
#[derive(clap::Subcommand)]
pub enum TheftCommand {
    /// 用带标签的日电量宽表训练窃电模型 / train the theft model on a labelled wide daily file
    Train {
        /// 日电量宽表 CSV / wide daily CSV (customer_id or CONS_NO, one column per date)
        #[arg(long)]
        input: PathBuf,
        /// 标签列（1=查实窃电，0=正常）/ the label column (1 = theft found, 0 = normal)
        #[arg(long)]
        label_column: String,
        /// 模型输出文件 / where to write the model (JSON)
        #[arg(long)]
        out: PathBuf,
        /// 只用固定划分中的训练部分（SHA-256 规则，见 docs/theft-model.md）/ use only the rows the fixed split puts in train
        #[arg(long)]
        train_split: bool,
    },
    /// 计算窃电嫌疑评分（宽表或已存数据）/ score customers (a wide daily file, or the stored data for a month)
    Score {
        /// 日电量宽表 CSV / wide daily CSV
        #[arg(long, conflicts_with = "period", required_unless_present = "period")]
        input: Option<PathBuf>,
        /// 对已存数据评分：截至该月末的一年 / score the stored data: the year up to the end of this month (YYYY-MM)
        #[arg(long)]
        period: Option<String>,
        /// 模型文件，默认内置模型 / model file, the built-in model by default
        #[arg(long)]
        model: Option<PathBuf>,
        /// 输出 CSV（customer_id, score, rank, signals）/ output CSV
        #[arg(long)]
        out: PathBuf,
        /// 预计窃电用户占比，用于检查预算表，默认按训练样本 / expected share of thieves for the inspection budget (default: the training share)
        #[arg(long)]
        prevalence: Option<f64>,
    },
    /// 在固定划分的测试部分评估模型及两个基线 / evaluate the model and two baselines on the test part of the fixed split
    Evaluate {
        /// 带标签的日电量宽表 CSV / labelled wide daily CSV
        #[arg(long)]
        input: PathBuf,
        /// 标签列 / the label column
        #[arg(long)]
        label_column: String,
        /// 自助法次数 / bootstrap resamples
        #[arg(long, default_value_t = 1000)]
        rounds: usize,
        /// 结果另存为 JSON / also write the results as JSON
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

fn input_error(e: TheftError) -> anyhow::Result<u8> {
    match e {
        TheftError::Input(problems) => {
            for p in problems {
                eprintln!("错误 / error: {p}");
            }
            Ok(BAD_INPUT)
        }
        TheftError::Model { .. } | TheftError::Training(_) => {
            eprintln!("错误 / error: {e}");
            Ok(BAD_INPUT)
        }
        other => Err(other.into()),
    }
}

/// Opens a wide file and names the non-date columns it leaves aside.
fn open_wide(input: &Path, label: Option<&str>, quiet: bool) -> Result<WideReader, TheftError> {
    let reader = WideReader::open(input, label)?;
    if !quiet {
        for h in &reader.ignored {
            eprintln!("提示 / note: 忽略非日期列 / ignored a non-date column: {h}");
        }
    }
    Ok(reader)
}

fn read_labelled(input: &Path, label: &str) -> Result<(WideReader, Vec<Row>), TheftError> {
    open_wide(input, Some(label), false)?.read_all()
}

fn features_of(rows: &[Row]) -> Vec<Vec<f64>> {
    rows.par_iter().map(|r| feature_row(&r.values)).collect()
}

/// Runs a theft subcommand.
pub fn run(dir: &jicha_store::DataDir, cmd: TheftCommand, quiet: bool) -> anyhow::Result<u8> {
    match cmd {
        TheftCommand::Train { input, label_column, out, train_split } => {
            let started = Instant::now();
            let (_, rows) = match read_labelled(&input, &label_column) {
                Ok(x) => x,
                Err(e) => return input_error(e),
            };
            let rows: Vec<Row> =
                rows.into_iter().filter(|r| !train_split || !in_test_split(&r.customer_id)).collect();
            let x = features_of(&rows);
            let y: Vec<bool> = rows.iter().map(|r| r.label == Some(true)).collect();
            let name =
                input.file_name().map_or_else(|| input.display().to_string(), |n| n.to_string_lossy().into());
            let source = if train_split { format!("{name} (train split)") } else { name };
            let model = match Model::train(&x, &y, Learner::default(), &source) {
                Ok(m) => m,
                Err(e) => return input_error(e),
            };
            let json = model.to_json()?;
            std::fs::write(&out, &json)
                .with_context(|| format!("无法写入 / cannot write {}", out.display()))?;
            println!(
                "已训练：{} 行（窃电 {}），训练集五折交叉 AUC {:.3}，阈值 {:.3}，模型 {} KiB，用时 {:.1} 秒 → {}\ntrained on {} rows ({} thefts), out-of-fold AUC {:.3}, threshold {:.3}, model {} KiB, {:.1} s",
                model.training.rows,
                model.training.thefts,
                model.training.oof_auc,
                model.threshold,
                json.len() / 1024,
                started.elapsed().as_secs_f64(),
                out.display(),
                model.training.rows,
                model.training.thefts,
                model.training.oof_auc,
                model.threshold,
                json.len() / 1024,
                started.elapsed().as_secs_f64()
            );
            Ok(0)
        }
        TheftCommand::Score { input, period, model, out, prevalence } => {
            if let Some(p) = prevalence.filter(|p| !(*p > 0.0 && *p < 1.0)) {
                eprintln!("错误 / error: --prevalence {p} 应在 0 与 1 之间 / must be between 0 and 1");
                return Ok(BAD_INPUT);
            }
            let loaded;
            let model = match model {
                None => Model::builtin(),
                Some(path) => {
                    let text = std::fs::read_to_string(&path).with_context(|| {
                        format!("无法读取模型 / cannot read the model {}", path.display())
                    })?;
                    loaded = match Model::from_json(&text, &path.display().to_string()) {
                        Ok(m) => m,
                        Err(e) => return input_error(e),
                    };
                    &loaded
                }
            };
            let started = Instant::now();
            let scored = match (input, period) {
                (Some(input), _) => match score_file(model, &input, quiet) {
                    Ok(s) => s,
                    Err(e) => return input_error(e),
                },
                (None, Some(period)) => {
                    let Some(p) = jicha_core::calendar::Period::parse(&period) else {
                        eprintln!("错误 / error: --period “{period}” 应为 YYYY-MM / must be YYYY-MM");
                        return Ok(BAD_INPUT);
                    };
                    match jicha_engine::theft::score_stored(dir, p, model) {
                        Ok(s) => s,
                        Err(e) => {
                            eprintln!("错误 / error: {e}");
                            return Ok(BAD_INPUT);
                        }
                    }
                }
                (None, None) => unreachable!("clap requires one"),
            };
            write_scores(&out, &scored)?;
            budget(model, &scored, prevalence);
            eprintln!(
                "已评分 {} 户，用时 {:.1} 秒 → {} / scored {} customers in {:.1} s",
                scored.len(),
                started.elapsed().as_secs_f64(),
                out.display(),
                scored.len(),
                started.elapsed().as_secs_f64()
            );
            Ok(0)
        }
        TheftCommand::Evaluate { input, label_column, rounds, json } => {
            evaluate(&input, &label_column, rounds, json)
        }
    }
}

/// One scored customer: id, score, signals in words.
pub type ScoredRow = (String, f64, String);

fn score_file(model: &Model, input: &Path, quiet: bool) -> Result<Vec<ScoredRow>, TheftError> {
    let mut reader = open_wide(input, None, quiet)?;
    let (first, days) = (reader.layout.first, reader.layout.days);
    // The model looks at the last year of the file.
    let wdays = jicha_theft::model::WINDOW_DAYS;
    let wfirst = first + chrono::Duration::days(days as i64 - wdays as i64);
    let mut out = Vec::new();
    loop {
        let rows = reader.next_rows(16_384)?;
        if rows.is_empty() {
            break;
        }
        let x = features_of(&rows);
        let explained = model.explain(&x, 3);
        for (r, e) in rows.into_iter().zip(explained) {
            let (zh, en) = Model::words(&e, wfirst, wdays);
            out.push((r.customer_id, e.score, format!("{zh} / {en}")));
        }
    }
    Ok(out)
}

/// The inspection budget of a scored list: for N inspections of the highest scores, the thefts
/// the calibrated probabilities expect.
fn budget(model: &Model, scored: &[ScoredRow], prevalence: Option<f64>) {
    let mut p: Vec<f64> = scored.iter().map(|s| model.probability(s.1, prevalence)).collect();
    p.sort_by(|a, b| b.total_cmp(a));
    let share = prevalence.unwrap_or(model.prevalence);
    eprintln!(
        "检查预算（窃电占比按 {:.1}%）/ inspection budget (thieves assumed {:.1}%):",
        share * 100.0,
        share * 100.0
    );
    for n in [10usize, 50, 100, 500, 1000] {
        if n > p.len() {
            break;
        }
        let expected: f64 = p[..n].iter().sum();
        eprintln!(
            "  检查评分最高的 {n} 户，预计查实 {expected:.1} 户 / inspect the top {n}: {expected:.1} thefts expected"
        );
    }
}

fn write_scores(out: &Path, scored: &[ScoredRow]) -> anyhow::Result<()> {
    let order = jicha_theft::metrics::ranking(&scored.iter().map(|s| s.1).collect::<Vec<_>>());
    let file =
        std::fs::File::create(out).with_context(|| format!("无法写入 / cannot write {}", out.display()))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    w.write_record(["customer_id", "score", "rank", "signals"])?;
    for (rank, i) in order.into_iter().enumerate() {
        let (id, score, signals) = &scored[i];
        w.write_record([id.as_str(), &format!("{score:.6}"), &(rank + 1).to_string(), signals.as_str()])?;
    }
    w.flush()?;
    Ok(())
}

#[derive(serde::Serialize)]
struct MethodResult {
    method: &'static str,
    roc_auc: Interval,
    pr_auc: Interval,
    precision_at_50: Interval,
    precision_at_100: Interval,
    map_at_100: Interval,
}

fn measure(method: &'static str, scores: &[f64], labels: &[bool], rounds: usize) -> MethodResult {
    let seed = 20_150_101;
    MethodResult {
        method,
        roc_auc: bootstrap(scores, labels, rounds, seed, roc_auc),
        pr_auc: bootstrap(scores, labels, rounds, seed, average_precision),
        precision_at_50: bootstrap(scores, labels, rounds, seed, |s, l| precision_at(s, l, 50)),
        precision_at_100: bootstrap(scores, labels, rounds, seed, |s, l| precision_at(s, l, 100)),
        map_at_100: bootstrap(scores, labels, rounds, seed, |s, l| ap_at(s, l, 100)),
    }
}

fn evaluate(input: &Path, label: &str, rounds: usize, json: Option<PathBuf>) -> anyhow::Result<u8> {
    let started = Instant::now();
    let (_, rows) = match read_labelled(input, label) {
        Ok(x) => x,
        Err(e) => return input_error(e),
    };
    let (test, train): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| in_test_split(&r.customer_id));
    let (xtr, xte) = (features_of(&train), features_of(&test));
    let ytr: Vec<bool> = train.iter().map(|r| r.label == Some(true)).collect();
    let yte: Vec<bool> = test.iter().map(|r| r.label == Some(true)).collect();
    let fit_started = Instant::now();
    let model = match Model::train(&xtr, &ytr, Learner::default(), "evaluation (train split)") {
        Ok(m) => m,
        Err(e) => return input_error(e),
    };
    let fit_seconds = fit_started.elapsed().as_secs_f64();
    let gbdt = model.score(&xte);
    let logistic = jicha_theft::logistic::Logistic::fit(&xtr, &ytr, 1.0);
    let lr: Vec<f64> = xte.iter().map(|r| logistic.predict(r)).collect();
    let rules: Vec<f64> = test.iter().map(|r| jicha_theft::rules::score_series(&r.values).score).collect();
    let results = vec![
        measure("gbdt", &gbdt, &yte, rounds),
        measure("logistic", &lr, &yte, rounds),
        measure("rules-v1", &rules, &yte, rounds),
    ];
    let mut out = std::io::stdout().lock();
    let tr_thefts = ytr.iter().filter(|l| **l).count();
    let te_thefts = yte.iter().filter(|l| **l).count();
    writeln!(
        out,
        "训练 {} 户（窃电 {tr_thefts}），测试 {} 户（窃电 {te_thefts}）；训练集五折交叉 AUC {:.3}；训练用时 {fit_seconds:.1} 秒\ntrain {} ({tr_thefts} thefts), test {} ({te_thefts} thefts); out-of-fold AUC on train {:.3}; fit {fit_seconds:.1} s\n",
        train.len(),
        test.len(),
        model.training.oof_auc,
        train.len(),
        test.len(),
        model.training.oof_auc
    )?;
    writeln!(out, "测试集（自助法 {rounds} 次，95% 区间）/ test split (bootstrap {rounds}, 95% interval)")?;
    writeln!(
        out,
        "{:<10} {:>22} {:>22} {:>22} {:>22} {:>22}",
        "方法", "ROC AUC", "PR AUC", "P@50", "P@100", "MAP@100"
    )?;
    let show = |i: &Interval| format!("{:.3} [{:.3}, {:.3}]", i.value, i.low, i.high);
    for r in &results {
        writeln!(
            out,
            "{:<10} {:>22} {:>22} {:>22} {:>22} {:>22}",
            r.method,
            show(&r.roc_auc),
            show(&r.pr_auc),
            show(&r.precision_at_50),
            show(&r.precision_at_100),
            show(&r.map_at_100)
        )?;
    }
    // The inspection budget: N inspections among the test customers, the thefts the calibrated
    // probabilities expect against those found.
    writeln!(
        out,
        "\n检查预算（测试集）/ inspection budget (test split): N 次检查的预期与实际查实数 / expected and actual thefts in the top N"
    )?;
    let order = jicha_theft::metrics::ranking(&gbdt);
    let mut budget = Vec::new();
    for n in [10usize, 25, 50, 100, 200] {
        let top = &order[..n.min(order.len())];
        let expected: f64 = top.iter().map(|i| model.probability(gbdt[*i], None)).sum();
        let found = top.iter().filter(|i| yte[**i]).count();
        writeln!(out, "  N={n:<4} 预期 expected {expected:6.1}   实际 found {found}")?;
        budget.push(serde_json::json!({"n": n, "expected": expected, "found": found}));
    }
    let at = order.iter().take_while(|i| gbdt[**i] >= model.threshold).count();
    let hits = order.iter().take(at).filter(|i| yte[**i]).count();
    writeln!(
        out,
        "  阈值 threshold {:.3}: 触发 {at} 户，查实 {hits}（精确率 {:.2}，召回率 {:.2}）/ fires on {at}, {hits} thefts",
        model.threshold,
        hits as f64 / at.max(1) as f64,
        hits as f64 / te_thefts.max(1) as f64
    )?;
    writeln!(
        out,
        "\n用时 {:.1} 秒 / {:.1} s",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    )?;
    if let Some(path) = json {
        let doc = serde_json::json!({
            "input": input.display().to_string(),
            "train": {"rows": train.len(), "thefts": tr_thefts, "oof_auc": model.training.oof_auc},
            "test": {"rows": test.len(), "thefts": te_thefts},
            "rounds": rounds,
            "results": results,
            "threshold": model.threshold,
            "budget": budget,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("无法写入 / cannot write {}", path.display()))?;
    }
    Ok(0)
}
