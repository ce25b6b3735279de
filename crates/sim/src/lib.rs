//! The county generator (模拟数据): a realistic data set in the exchange format — stations,
//! feeders, transformer areas, customers, meters with daily registers, supply, bills, payments,
//! work orders, outages, field checks, staff and surveys of a Hubei county — with anomalies
//! planted for every audit theme and `ground-truth.jsonl` listing exactly which theme fires on
//! which entity in which month under the reference semantics with default parameters.
//!
//! Deterministic: the same options give byte-identical files. Streaming: readings go straight
//! from the generating threads to disk, so a million customers over a year fit in bounded memory.

mod billing;
mod events;
mod hash;
mod model;
mod months;
mod names;
mod plants;
mod sink;
mod tables;
mod truth;
mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate};

pub use sink::FileStat;

/// Options of `jicha generate`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Output folder; created, refused when it exists and is not empty.
    pub out: PathBuf,
    /// Number of customers (用户).
    pub customers: usize,
    /// Number of stations (供电所).
    pub stations: usize,
    /// First day; the window starts on the first day of its month.
    pub start: NaiveDate,
    /// Number of months.
    pub months: u32,
    /// Seed: the same seed gives the same bytes.
    pub seed: u64,
    /// Encode every CSV in GB18030 instead of UTF-8.
    pub gbk: bool,
    /// Write the relational tables as one workbook `county.xlsx` (readings stay CSV).
    pub xlsx: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            out: PathBuf::from("county"),
            customers: 2_000,
            stations: 6,
            start: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or(NaiveDate::MIN),
            months: 3,
            seed: 1,
            gbk: false,
            xlsx: false,
        }
    }
}

/// Progress of long steps, for a progress bar.
pub trait Progress: Sync {
    /// A step starts, with its total amount of work.
    fn start(&self, label: &str, total: u64);
    /// `n` more units are done.
    fn inc(&self, n: u64);
    /// The step is finished.
    fn finish(&self);
}

/// A [`Progress`] that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Files written (name, data rows), in the order written.
    pub files: Vec<(String, u64)>,
    /// Bytes written in total.
    pub bytes: u64,
    /// Lines of `ground-truth.jsonl`.
    pub anomalies: usize,
    /// Ground-truth lines per theme.
    pub themes: Vec<(String, usize)>,
    /// Ground-truth (theme, entity) pairs that no plant expected: normally zero.
    pub unplanned: Vec<String>,
    /// Evaluations within 10% of a threshold (a measure of how robust the ground truth is).
    pub near_threshold: usize,
    /// A few of those evaluations, for a person to judge.
    pub near_examples: Vec<String>,
    /// Days on which the two readings of DAY-SUPPLY's station supply disagree: normally zero.
    pub day_supply_disagreements: usize,
    /// Customers, meters, transformer areas, feeders and stations generated.
    pub counts: Vec<(String, usize)>,
    /// Themes that could not be planted with these options, and notes on the output.
    pub notes: Vec<String>,
}

/// Every theme of the catalogue that the generator plants (SVC-HOURS needs a per-station budget
/// and is not planted).
pub const PLANTED_THEMES: &[&str] = &[
    "VOL-ZERO",
    "VOL-DROP",
    "VOL-SURGE",
    "VOL-REVERSE",
    "VOL-OVERCAP",
    "VOL-MISSING",
    "VOL-TOU",
    "PRC-CATEGORY",
    "PRC-BILL",
    "PRC-KWH",
    "PRC-BASIC",
    "PRC-PF",
    "FEE-ARREARS",
    "FEE-RECOVERY",
    "LOSS-TQ-HIGH",
    "LOSS-TQ-NEG",
    "LOSS-FEEDER-HIGH",
    "LOSS-THEFT",
    "MTR-OVERDUE",
    "MTR-MULTIPLIER",
    "MTR-SEAL",
    "BIZ-OVERTIME",
    "BIZ-BACKLOG",
    "BIZ-ARCHIVE",
    "BIZ-FEE",
    "TMP-OVERDUE",
    "ARC-TOPOLOGY",
    "ARC-INFO",
    "SVC-REPEAT",
    "DAY-LARGE-DROP",
    "DAY-SUPPLY",
];

/// The relational tables, in the order they are written.
const RELATIONAL: &[&str] = &[
    "stations",
    "feeders",
    "transformer_areas",
    "customers",
    "meters",
    "tariffs",
    "staff",
    "work_orders",
    "outages",
    "field_checks",
    "surveys",
    "bills",
    "payments",
    "supply",
];

fn prepare_dir(out: &Path) -> Result<()> {
    if out.exists() {
        if !out.is_dir() {
            bail!("{} exists and is not a folder", out.display());
        }
        let mut entries = std::fs::read_dir(out).with_context(|| format!("cannot read {}", out.display()))?;
        if entries.next().is_some() {
            bail!("{} is not empty: choose a new folder or empty it first", out.display());
        }
    } else {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    }
    Ok(())
}

/// Generates a county data set into `opts.out`.
pub fn generate(opts: &GenerateOptions, progress: &dyn Progress) -> Result<Summary> {
    let mut opts = opts.clone();
    // Months are calendar months: the window starts on the first of the start's month.
    opts.start = opts.start.with_day(1).unwrap_or(opts.start);
    let mut rng = world::world_rng(opts.seed);
    let mut w = world::World::build(&opts, &mut rng)?;
    let mut plan = plants::plant(&mut w, &mut rng);
    let ev = events::build(&w, &mut plan, &mut rng);
    let w = w;
    let days = (w.cal.end - w.cal.start + 1) as u64;
    if opts.xlsx {
        let bills = (w.customers.len() * w.cal.months.len() + plan.old_bills.len()) as u64;
        let supply = (w.areas.len() + w.feeders.len()) as u64 * days;
        for (table, rows) in [
            ("bills", bills),
            ("payments", bills * 2),
            ("supply", supply),
            ("customers", w.customers.len() as u64),
            ("meters", w.meters.len() as u64),
        ] {
            if rows >= sink::XLSX_MAX_ROWS {
                bail!(
                    "--xlsx: the {table} sheet would need up to {rows} rows, more than a sheet's {} rows; write CSV (without --xlsx) or generate fewer customers or months",
                    sink::XLSX_MAX_ROWS - 1
                );
            }
        }
    }
    prepare_dir(&opts.out)?;
    // With --xlsx the relational tables go through temporary CSV files into the workbook.
    let tables_dir = if opts.xlsx { opts.out.join(".xlsx-tables") } else { opts.out.clone() };
    if opts.xlsx {
        std::fs::create_dir_all(&tables_dir)
            .with_context(|| format!("cannot create {}", tables_dir.display()))?;
    }
    let table_gbk = opts.gbk && !opts.xlsx;
    let mut stats: Vec<FileStat> = Vec::new();
    stats.extend(tables::archives(&w, &tables_dir, table_gbk)?);
    stats.extend(tables::events(&w, &ev, &tables_dir, table_gbk, &mut rng)?);

    let mut truth: BTreeSet<truth::Truth> = BTreeSet::new();
    let mut bills = sink::TableFile::create(&tables_dir, "bills.csv", "bills", table_gbk)?;
    let mut pays = sink::TableFile::create(&tables_dir, "payments.csv", "payments", table_gbk)?;
    let mut supply = sink::TableFile::create(&tables_dir, "supply.csv", "supply", table_gbk)?;
    let mut billing = billing::Billing::new(&w);
    billing.old_bills(&plan, &mut bills, &mut pays, &mut truth)?;
    let mut pass = months::Pass::new(&w);
    progress.start("readings", w.customers.len() as u64 * w.cal.months.len() as u64);
    let pool = months::BufferPool::default();
    let readings = std::thread::scope(|scope| -> Result<Vec<FileStat>> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<months::ReadingsMsg>(months::QUEUE);
        let pool = &pool;
        let writer = scope.spawn(move || months::readings_writer(rx, pool));
        let run = (|| -> Result<()> {
            for k in 0..w.cal.months.len() {
                let usage = pass.month(k, pool, &opts.out, &tx, &mut supply, &mut truth, progress)?;
                billing.month(k, usage, &mut bills, &mut pays, &mut truth)?;
            }
            Ok(())
        })();
        drop(tx);
        let written =
            writer.join().map_err(|_| anyhow::anyhow!("the readings writer stopped unexpectedly"))?;
        run?;
        written
    })?;
    progress.finish();
    billing.finish(&mut truth);
    truth::static_themes(&w, &plan, &ev, &mut truth);
    stats.push(bills.finish()?);
    stats.push(pays.finish()?);
    stats.push(supply.finish()?);
    let mut notes = plan.notes.clone();
    if opts.xlsx {
        let list: Vec<(String, PathBuf)> =
            RELATIONAL.iter().map(|t| (t.to_string(), tables_dir.join(format!("{t}.csv")))).collect();
        let bytes = sink::csv_to_xlsx(&list, &opts.out.join("county.xlsx"))?;
        std::fs::remove_dir_all(&tables_dir)
            .with_context(|| format!("cannot remove {}", tables_dir.display()))?;
        let rows: u64 = stats.iter().map(|s| s.rows).sum();
        stats.clear();
        stats.push(FileStat { name: "county.xlsx".into(), rows, bytes });
        notes.push(
            "county.xlsx holds one sheet per relational table; readings stay CSV (readings-YYYY-MM.csv)"
                .into(),
        );
    }
    if opts.gbk {
        // Readings hold only ASCII, identical in UTF-8 and GB18030.
        notes.push("CSV files are encoded GB18030".into());
    }
    stats.extend(readings);

    // Ground truth.
    let gt_path = opts.out.join("ground-truth.jsonl");
    let mut gt = std::io::BufWriter::new(
        std::fs::File::create(&gt_path).with_context(|| format!("cannot create {}", gt_path.display()))?,
    );
    let mut gt_bytes = 0u64;
    for t in &truth {
        let line = t.to_json();
        gt.write_all(line.as_bytes())
            .and_then(|_| gt.write_all(b"\n"))
            .with_context(|| format!("cannot write {}", gt_path.display()))?;
        gt_bytes += line.len() as u64 + 1;
    }
    gt.flush().with_context(|| format!("cannot write {}", gt_path.display()))?;
    stats.push(FileStat { name: "ground-truth.jsonl".into(), rows: truth.len() as u64, bytes: gt_bytes });

    let mut per_theme: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &truth {
        *per_theme.entry(t.theme).or_default() += 1;
    }
    let mut unplanned = Vec::new();
    let mut seen = BTreeSet::new();
    for t in &truth {
        let key = (t.theme.to_string(), t.entity_id.clone());
        if !plan.planted.contains(&key) && !plan.allowed.contains(&key) && seen.insert(key.clone()) {
            unplanned.push(format!("{} {} {}", t.theme, t.entity_id, t.period));
        }
    }
    for theme in PLANTED_THEMES {
        if !per_theme.contains_key(theme) && !notes.iter().any(|n| n.contains(theme)) {
            notes.push(format!("{theme}: no finding planted with these options"));
        }
    }
    let mut margins = pass.margins.clone();
    margins.merge(billing.margins.clone());
    let counts = vec![
        ("stations".to_string(), w.stations.len()),
        ("feeders".to_string(), w.feeders.len()),
        ("transformer_areas".to_string(), w.areas.len()),
        ("customers".to_string(), w.customers.len()),
        ("meters".to_string(), w.meters.len()),
    ];
    let mut summary = Summary {
        files: stats.iter().map(|s| (s.name.clone(), s.rows)).collect(),
        bytes: stats.iter().map(|s| s.bytes).sum(),
        anomalies: truth.len(),
        themes: per_theme.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        unplanned,
        near_threshold: margins.near,
        near_examples: margins.examples.clone(),
        day_supply_disagreements: pass.day_supply_disagreements,
        counts,
        notes,
    };
    let readme = readme(&opts, &w, &summary);
    let path = opts.out.join("README.txt");
    std::fs::write(&path, readme.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    summary.files.push(("README.txt".into(), 0));
    summary.bytes += readme.len() as u64;
    Ok(summary)
}

fn readme(opts: &GenerateOptions, w: &world::World, s: &Summary) -> String {
    let first = w.cal.months[0].period;
    let last = w.cal.months[w.cal.months.len() - 1].period;
    let mut t = String::new();
    t.push_str("Jicha 稽查 模拟数据 / simulated county data set\n\n");
    t.push_str("【说明】\n");
    t.push_str(&format!(
        "本数据由 jicha generate 生成:{} 户用户,{} 个供电所,{} 至 {} 共 {} 个月,随机种子 {}{}{}。\n",
        w.customers.len(),
        w.stations.len(),
        first,
        last,
        w.cal.months.len(),
        opts.seed,
        if opts.gbk { ",CSV 编码 GB18030" } else { ",CSV 编码 UTF-8" },
        if opts.xlsx {
            ",关系表写入 county.xlsx(每表一个工作表),日冻结示数仍为 CSV"
        } else {
            ""
        },
    ));
    t.push_str("每张表一个文件,文件名即表名;日冻结示数按月拆分为 readings-YYYY-MM.csv;最后一个文件另含窗口次日(次月1日)的示数,用于计算最后一天的电量。\n");
    t.push_str("ground-truth.jsonl 列出按默认参数、默认稽查基准日(次月1日)逐月稽查时每个主题应发现的疑似问题;日监测主题带 date 字段(用电或供电的日期)。\n");
    t.push_str("LOSS-THEFT(窃电嫌疑)为人为植入的窃电用户,自窃电开始月份起列出。SVC-HOURS 需按供电所配置预算,未植入。\n\n");
    t.push_str("[About]\n");
    t.push_str(&format!(
        "Generated by jicha generate: {} customers, {} stations, {} to {} ({} months), seed {}{}{}.\n",
        w.customers.len(),
        w.stations.len(),
        first,
        last,
        w.cal.months.len(),
        opts.seed,
        if opts.gbk { ", CSV encoded GB18030" } else { ", CSV encoded UTF-8" },
        if opts.xlsx {
            ", relational tables in county.xlsx (one sheet per table), readings stay CSV"
        } else {
            ""
        },
    ));
    t.push_str("One file per table, named after the table; readings are split by month as readings-YYYY-MM.csv; the last file also holds the registers of the day after the window, which close its last day.\n");
    t.push_str("ground-truth.jsonl lists every finding the reference semantics give with default parameters when each month is audited with the default as-of date (first day of the next month); daily themes carry a date (the day of the consumption or supply).\n");
    t.push_str("LOSS-THEFT lines are the planted thieves, from the month their theft starts. SVC-HOURS needs per-station budgets and is not planted.\n\n");
    t.push_str("[Files / 文件]\n");
    for (name, rows) in &s.files {
        t.push_str(&format!("{name}\t{rows}\n"));
    }
    t.push_str("\n[Ground truth / 植入问题]\n");
    for (theme, n) in &s.themes {
        t.push_str(&format!("{theme}\t{n}\n"));
    }
    if !s.notes.is_empty() {
        t.push_str("\n[Notes / 备注]\n");
        for n in &s.notes {
            t.push_str(&format!("{n}\n"));
        }
    }
    t
}
