//! The generator as a user of `jicha generate` sees it: files, headers, encodings, determinism,
//! and a ground truth that matches what the files say.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;

use chrono::NaiveDate;
use jicha_core::calendar::{Period, parse_date};
use jicha_core::codes::{Category, StepBasis};
use jicha_core::schema;
use jicha_core::tariff::{Tariff, bill_differs, version_on};
use jicha_sim::{GenerateOptions, NoProgress, PLANTED_THEMES, Summary, generate};
use rust_decimal::Decimal;

/// A run small enough for a test, large enough that every theme gets planted: 600 customers in
/// 3 stations (200 each, so a large user's one-day collapse stays small against its station).
fn small(dir: &Path, seed: u64) -> GenerateOptions {
    GenerateOptions {
        out: dir.to_path_buf(),
        customers: 600,
        stations: 3,
        months: 2,
        seed,
        ..GenerateOptions::default()
    }
}

fn run(opts: &GenerateOptions) -> Summary {
    generate(opts, &NoProgress).expect("generation succeeds")
}

fn rows(dir: &Path, file: &str) -> Vec<BTreeMap<String, String>> {
    let mut rdr = csv::Reader::from_path(dir.join(file)).expect("file exists");
    let headers = rdr.headers().expect("header").clone();
    rdr.records()
        .map(|r| {
            let r = r.expect("record");
            headers.iter().zip(r.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()
        })
        .collect()
}

fn truth(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("ground-truth.jsonl"))
        .expect("ground truth")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[test]
fn same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let sa = run(&small(a.path(), 7));
    run(&small(b.path(), 7));
    run(&small(c.path(), 8));
    for (name, _) in &sa.files {
        let x = std::fs::read(a.path().join(name)).unwrap();
        let y = std::fs::read(b.path().join(name)).unwrap();
        assert!(x == y, "{name} differs between two runs of the same seed");
    }
    let x = std::fs::read(a.path().join("readings-2026-01.csv")).unwrap();
    let z = std::fs::read(c.path().join("readings-2026-01.csv")).unwrap();
    assert_ne!(x, z);
}

#[test]
fn every_table_is_written_with_the_documented_header() {
    let dir = tempfile::tempdir().unwrap();
    let s = run(&small(dir.path(), 1));
    let tables = [
        "stations",
        "feeders",
        "transformer_areas",
        "customers",
        "meters",
        "tariffs",
        "staff",
        "bills",
        "payments",
        "work_orders",
        "outages",
        "field_checks",
        "surveys",
        "supply",
    ];
    let mut files: Vec<String> = tables.iter().map(|t| format!("{t}.csv")).collect();
    files.push("readings-2026-01.csv".into());
    files.push("readings-2026-02.csv".into());
    for f in &files {
        let table = f.trim_end_matches(".csv").split('-').next().unwrap();
        let t = schema::table(table).unwrap();
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        let header = text.lines().next().unwrap();
        let expected: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
        assert_eq!(header, expected.join(","), "{f}");
        // Every row has as many fields as the header.
        let mut rdr = csv::Reader::from_path(dir.path().join(f)).unwrap();
        for r in rdr.records() {
            assert_eq!(r.unwrap().len(), expected.len(), "{f}");
        }
        assert!(s.files.iter().any(|(n, _)| n == f), "{f} in the summary");
    }
    // The last readings file also holds the register of the day after the window, which closes
    // the window's last day.
    let last = std::fs::read_to_string(dir.path().join("readings-2026-02.csv")).unwrap();
    assert!(last.lines().any(|l| l.contains(",2026-03-01,")));
    assert!(!dir.path().join("readings-2026-03.csv").exists());
    assert!(dir.path().join("README.txt").exists());
    let readme = std::fs::read_to_string(dir.path().join("README.txt")).unwrap();
    assert!(readme.starts_with("Jicha 稽查"));
    assert!(readme.find("【说明】").unwrap() < readme.find("[About]").unwrap(), "Chinese first");
}

#[test]
fn every_theme_is_planted_and_nothing_else_fires() {
    for seed in [1, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let s = run(&small(dir.path(), seed));
        let themes: BTreeSet<String> =
            truth(dir.path()).iter().map(|t| t["theme"].as_str().unwrap().to_string()).collect();
        for theme in PLANTED_THEMES {
            assert!(themes.contains(*theme), "seed {seed}: no {theme} in the ground truth");
        }
        assert!(s.unplanned.is_empty(), "seed {seed}: unplanned findings {:?}", s.unplanned);
        assert_eq!(s.near_threshold, 0, "seed {seed}: {:?}", s.near_examples);
        assert_eq!(s.day_supply_disagreements, 0, "seed {seed}");
        assert_eq!(s.anomalies, truth(dir.path()).len());
    }
}

#[test]
fn ground_truth_lines_are_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    run(&small(dir.path(), 4));
    let types = ["customer", "meter", "bill", "transformer_area", "feeder", "work_order", "station"];
    for t in truth(dir.path()) {
        let theme = t["theme"].as_str().unwrap();
        assert!(types.contains(&t["entity_type"].as_str().unwrap()), "{t}");
        let period = Period::parse(t["period"].as_str().unwrap()).unwrap();
        if theme.starts_with("DAY-") {
            let date = parse_date(t["date"].as_str().unwrap()).unwrap();
            assert_eq!(Period::of(date), period);
        } else {
            assert!(t.get("date").is_none());
        }
    }
}

fn dec(s: &str) -> Option<Decimal> {
    if s.is_empty() { None } else { Some(Decimal::from_str(s).unwrap()) }
}

#[test]
fn bills_are_exactly_the_tariff_arithmetic_except_planted_errors() {
    let dir = tempfile::tempdir().unwrap();
    run(&small(dir.path(), 5));
    let tariffs: Vec<Tariff> = rows(dir.path(), "tariffs.csv")
        .iter()
        .map(|r| Tariff {
            tariff_code: r["tariff_code"].clone(),
            name: r["name"].clone(),
            category: Category::parse(&r["category"]).unwrap(),
            price: dec(&r["price"]).unwrap(),
            price_peak: dec(&r["price_peak"]),
            price_valley: dec(&r["price_valley"]),
            step_basis: StepBasis::parse(&r["step_basis"]).unwrap_or(StepBasis::Month),
            step1_kwh: dec(&r["step1_kwh"]),
            step2_kwh: dec(&r["step2_kwh"]),
            step2_price: dec(&r["step2_price"]),
            step3_price: dec(&r["step3_price"]),
            basic_per_kva: dec(&r["basic_per_kva"]),
            valid_from: parse_date(&r["valid_from"]).unwrap(),
            valid_to: parse_date(&r["valid_to"]),
        })
        .collect();
    let customers: BTreeMap<String, BTreeMap<String, String>> =
        rows(dir.path(), "customers.csv").into_iter().map(|r| (r["customer_id"].clone(), r)).collect();
    let planted: BTreeSet<String> = truth(dir.path())
        .iter()
        .filter(|t| t["theme"] == "PRC-BILL")
        .map(|t| t["entity_id"].as_str().unwrap().to_string())
        .collect();
    let mut bills = rows(dir.path(), "bills.csv");
    bills.sort_by(|a, b| (&a["customer_id"], &a["period"]).cmp(&(&b["customer_id"], &b["period"])));
    let mut ytd: BTreeMap<(String, i32), Decimal> = BTreeMap::new();
    let (mut checked, mut differing) = (0, 0);
    for b in &bills {
        let period = Period::parse(&b["period"]).unwrap();
        let c = &customers[&b["customer_id"]];
        let code = if b["tariff_code"].is_empty() { &c["tariff_code"] } else { &b["tariff_code"] };
        let t = version_on(&tariffs, code, period.last_day()).expect("a tariff version for every bill");
        let key = (b["customer_id"].clone(), period.year());
        let earlier = ytd.get(&key).copied().unwrap_or(Decimal::ZERO);
        let kwh = dec(&b["kwh"]).unwrap();
        let re = t.charges(kwh, earlier, dec(&c["contract_kva"]), dec(&b["pf_adjustment"])).unwrap();
        *ytd.entry(key).or_default() += kwh;
        let differs = bill_differs(dec(&b["amount"]).unwrap(), re.amount);
        assert_eq!(
            differs,
            planted.contains(&b["bill_id"]),
            "bill {} amount {} recomputed {}",
            b["bill_id"],
            b["amount"],
            re.amount
        );
        if !differs {
            assert_eq!(dec(&b["amount"]).unwrap(), re.amount, "bill {} is exact to the cent", b["bill_id"]);
        }
        checked += 1;
        differing += usize::from(differs);
    }
    assert!(checked > 1000);
    assert!(differing >= 2, "PRC-BILL and PRC-BASIC plants differ");
}

#[test]
fn collection_failures_never_run_three_days_except_where_planted() {
    let dir = tempfile::tempdir().unwrap();
    run(&small(dir.path(), 6));
    let planted: BTreeSet<(String, String)> = truth(dir.path())
        .iter()
        .filter(|t| t["theme"] == "VOL-MISSING")
        .map(|t| (t["entity_id"].as_str().unwrap().to_string(), t["period"].as_str().unwrap().to_string()))
        .collect();
    let mut found = BTreeSet::new();
    let (mut total, mut missing) = (0usize, 0usize);
    for month in ["2026-01", "2026-02"] {
        let mut run_len: BTreeMap<String, usize> = BTreeMap::new();
        for r in rows(dir.path(), &format!("readings-{month}.csv")) {
            total += 1;
            let n = run_len.entry(r["meter_id"].clone()).or_default();
            if r["total"].is_empty() {
                missing += 1;
                *n += 1;
                if *n >= 3 {
                    found.insert((r["meter_id"].clone(), month.to_string()));
                }
            } else {
                *n = 0;
                // Time-of-use registers add up to the total.
                if !r["peak"].is_empty() {
                    let sum: f64 =
                        ["peak", "flat", "valley"].iter().map(|k| r[*k].parse::<f64>().unwrap()).sum();
                    let t: f64 = r["total"].parse().unwrap();
                    assert!((sum - t).abs() < 0.005 || (sum - t).abs() > 1.0, "{r:?}");
                }
            }
        }
    }
    assert_eq!(found, planted);
    let share = missing as f64 / total as f64;
    assert!((0.003..0.03).contains(&share), "about 1% of registers missing, got {share}");
}

#[test]
fn gbk_output_decodes_as_gb18030_with_chinese_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = small(dir.path(), 1);
    opts.gbk = true;
    run(&opts);
    let bytes = std::fs::read(dir.path().join("stations.csv")).unwrap();
    assert!(std::str::from_utf8(&bytes).is_err(), "not UTF-8");
    let (text, _, bad) = encoding_rs::GB18030.decode(&bytes);
    assert!(!bad);
    assert!(text.contains("供电所"), "{text}");
    let bytes = std::fs::read(dir.path().join("customers.csv")).unwrap();
    let (text, _, bad) = encoding_rs::GB18030.decode(&bytes);
    assert!(!bad);
    assert!(text.contains("咸宁市"));
}

#[test]
fn xlsx_puts_the_relational_tables_in_one_workbook() {
    use calamine::{Reader, Xlsx, open_workbook};
    let dir = tempfile::tempdir().unwrap();
    let mut opts = small(dir.path(), 1);
    opts.xlsx = true;
    let s = run(&opts);
    assert!(!dir.path().join("customers.csv").exists());
    assert!(dir.path().join("readings-2026-01.csv").exists());
    assert!(s.notes.iter().any(|n| n.contains("readings stay CSV")));
    let mut wb: Xlsx<_> = open_workbook(dir.path().join("county.xlsx")).unwrap();
    let names = wb.sheet_names().to_vec();
    for t in ["stations", "customers", "bills", "payments", "supply", "work_orders", "surveys"] {
        assert!(names.iter().any(|n| n == t), "sheet {t}");
    }
    let range = wb.worksheet_range("customers").unwrap();
    let first_id = range.get((1, 0)).unwrap().to_string();
    assert_eq!(first_id.len(), 10, "ids stay text with their leading zeros: {first_id}");
}

#[test]
fn a_folder_with_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "x").unwrap();
    let err = generate(&small(dir.path(), 1), &NoProgress).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert!(dir.path().join("keep.txt").exists());
}

#[test]
fn too_few_customers_per_station_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions { customers: 50, stations: 6, ..small(dir.path(), 1) };
    let err = generate(&opts, &NoProgress).unwrap_err();
    assert!(err.to_string().contains("at least 40 customers per station"), "{err}");
}

#[test]
fn the_window_starts_on_the_first_of_the_month() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        start: NaiveDate::from_ymd_opt(2026, 3, 17).unwrap(),
        months: 1,
        ..small(dir.path(), 1)
    };
    run(&opts);
    let text = std::fs::read_to_string(dir.path().join("readings-2026-03.csv")).unwrap();
    assert!(text.lines().nth(1).unwrap().contains(",2026-03-01,"));
}
