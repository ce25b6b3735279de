//! The importer against hand-made data sets: every table, every encoding and layout, every kind
//! of bad input, and the derived daily consumption.

use jicha_ingest::pipeline::NoProgress;
use jicha_ingest::{ImportOutcome, import};
use jicha_store::scan::{daily_consumption, manifest};
use jicha_store::{DataDir, Status};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    // Read when the test runs, not when it is compiled: checkouts sharing one target dir
    // (CI clones beside the work tree) would otherwise see another checkout's path.
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()))
        .join("../../tests/fixtures")
}

fn import_ok(dir: &DataDir, path: &Path) -> jicha_store::CommitSummary {
    match import(dir, path, &NoProgress).expect("import runs") {
        ImportOutcome::Committed { summary, .. } => summary,
        ImportOutcome::Rejected { rejection, .. } => {
            panic!("rejected: {:#?}", rejection.problems.iter().map(ToString::to_string).collect::<Vec<_>>())
        }
    }
}

fn counts(dir: &DataDir) -> BTreeMap<String, u64> {
    Status::read(dir).unwrap().tables.into_iter().map(|t| (t.table, t.rows)).collect()
}

fn expected_counts() -> BTreeMap<String, u64> {
    [
        ("stations", 2),
        ("feeders", 2),
        ("transformer_areas", 2),
        ("staff", 3),
        ("tariffs", 3),
        ("customers", 4),
        ("meters", 5),
        ("bills", 3),
        ("payments", 2),
        ("work_orders", 2),
        ("outages", 2),
        ("field_checks", 1),
        ("surveys", 2),
        ("readings", 17),
        ("daily_usage", 0),
        ("supply", 5),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_string(), n))
    .collect()
}

fn assert_good_state(dir: &DataDir) {
    let got = counts(dir);
    for (t, n) in expected_counts() {
        assert_eq!(got.get(&t), Some(&n), "rows of {t}");
    }
    let c = daily_consumption(dir).unwrap();
    let get = |id: &str, d: &str| c.iter().find(|r| r.0 == id && r.1 == d).map(|r| r.2);
    // Meter replacement on the 15th: the old meter's last day and the new meter's first day.
    assert_eq!(get("0012345678", "2026-01-13"), Some(Some(10.0)));
    assert_eq!(get("0012345678", "2026-01-14"), Some(Some(15.0)));
    assert_eq!(get("0012345678", "2026-01-15"), Some(Some(8.0)));
    assert_eq!(get("0012345678", "2026-01-16"), Some(Some(12.0)));
    assert_eq!(get("0012345678", "2026-01-17"), Some(None), "no register of the 18th yet");
    // A missing register makes both days around it unknown.
    assert_eq!(get("0012345679", "2026-01-13"), Some(None));
    assert_eq!(get("0012345679", "2026-01-14"), Some(None));
    assert_eq!(get("0012345679", "2026-01-15"), Some(Some(10.0)));
    // Multiplier 40 on a 2.5 kWh register step.
    assert_eq!(get("0012345680", "2026-01-14"), Some(Some(100.0)));
    // Installed today: in service, consumption unknown; nothing before.
    assert_eq!(get("0012345681", "2026-01-17"), Some(None));
    assert_eq!(get("0012345681", "2026-01-16"), None);
}

fn sqlite_text(dir: &DataDir, sql: &str) -> String {
    let conn = rusqlite::Connection::open(dir.database()).unwrap();
    conn.query_row(sql, [], |r| r.get::<_, String>(0)).unwrap()
}

#[test]
fn every_table_from_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path().join("data"));
    import_ok(&dir, &fixtures().join("good"));
    assert_good_state(&dir);
    // Ids keep leading zeros; codes given in Chinese are stored as codes; a name beginning with
    // `=` is kept as text.
    assert_eq!(
        sqlite_text(&dir, "SELECT name FROM customers WHERE customer_id = '0012345679'"),
        "=HYPERLINK(\"http://x\")"
    );
    assert_eq!(
        sqlite_text(
            &dir,
            "SELECT category || '/' || status || '/' || opened_on FROM customers WHERE customer_id = '0012345679'"
        ),
        "resident/active/2016-04-02"
    );
    assert_eq!(
        sqlite_text(
            &dir,
            "SELECT CAST(contract_kva AS TEXT) FROM customers WHERE customer_id = '0012345680'"
        ),
        "1250.0"
    );
    assert_eq!(
        sqlite_text(&dir, "SELECT connected_at FROM work_orders WHERE order_id = 'W001'"),
        "2026-01-17 15:30:00"
    );
}

#[test]
fn importing_twice_leaves_the_same_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path().join("data"));
    import_ok(&dir, &fixtures().join("good"));
    let before = daily_consumption(&dir).unwrap();
    import_ok(&dir, &fixtures().join("good"));
    assert_good_state(&dir);
    assert_eq!(daily_consumption(&dir).unwrap(), before);
    assert_eq!(Status::read(&dir).unwrap().imports.len(), 2);
}

#[test]
fn one_more_day_touches_only_what_it_adds_to() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path().join("data"));
    import_ok(&dir, &fixtures().join("good"));
    let before = manifest(&dir).unwrap();
    let day = tmp.path().join("day");
    std::fs::create_dir(&day).unwrap();
    std::fs::write(
        day.join("readings-2026-01-18.csv"),
        "meter_id,date,total\nM002,2026-01-18,33\nM003,2026-01-18,552\nM004,2026-01-18,112.5\nM005,2026-01-18,4\n",
    )
    .unwrap();
    import_ok(&dir, &day);
    let after = manifest(&dir).unwrap();
    // The stored readings file is untouched: the new day is a file of its own.
    let readings_before: Vec<_> = before.iter().filter(|f| f.series == "readings").collect();
    for f in &readings_before {
        assert!(after.contains(f), "readings file {} kept as it was", f.file);
    }
    assert_eq!(after.iter().filter(|f| f.series == "readings").count(), readings_before.len() + 1);
    let c = daily_consumption(&dir).unwrap();
    let get = |id: &str, d: &str| c.iter().find(|r| r.0 == id && r.1 == d).map(|r| r.2);
    assert_eq!(get("0012345678", "2026-01-17"), Some(Some(13.0)), "yesterday's consumption now known");
    assert_eq!(get("0012345681", "2026-01-17"), Some(Some(4.0)));
    assert_eq!(get("0012345678", "2026-01-15"), Some(Some(8.0)), "earlier days unchanged");
}

fn to_gbk_chinese_headers(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "csv") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let table =
            jicha_ingest::discover::table_of_stem(&path.file_stem().unwrap().to_string_lossy()).unwrap();
        let (header, rest) = text.split_once('\n').unwrap();
        let zh: Vec<&str> = header.split(',').map(|h| table.column(h).unwrap().name_zh).collect();
        let out = format!("{}\n{}", zh.join(","), rest);
        let (bytes, _, _) = encoding_rs::GB18030.encode(&out);
        std::fs::write(dst.join(path.file_name().unwrap()), bytes).unwrap();
    }
}

#[test]
fn gbk_files_with_chinese_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let gbk = tmp.path().join("gbk");
    to_gbk_chinese_headers(&fixtures().join("good"), &gbk);
    assert!(std::str::from_utf8(&std::fs::read(gbk.join("stations.csv")).unwrap()).is_err(), "really GBK");
    let dir = DataDir::new(tmp.path().join("data"));
    import_ok(&dir, &gbk);
    assert_good_state(&dir);
    assert_eq!(sqlite_text(&dir, "SELECT name FROM stations WHERE station_id = 'S01'"), "横沟桥供电所");
}

#[test]
fn every_table_from_one_workbook() {
    let tmp = tempfile::tempdir().unwrap();
    let book_path = tmp.path().join("county.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let mut readings = String::new();
    for entry in std::fs::read_dir(fixtures().join("good")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "csv") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let table = jicha_ingest::discover::table_of_stem(&stem).unwrap();
        let mut csv = csv::ReaderBuilder::new().has_headers(false).from_path(&path).unwrap();
        if table.name == "readings" {
            readings = std::fs::read_to_string(&path).unwrap();
        }
        // Sheets named in Chinese for half the tables, in English for the others.
        let sheet_name = if table.name.len().is_multiple_of(2) { table.name_zh } else { table.name };
        let sheet = book.add_worksheet().set_name(sheet_name).unwrap();
        for (r, rec) in csv.records().enumerate() {
            for (c, field) in rec.unwrap().iter().enumerate() {
                // Numbers as numbers, the way a spreadsheet holds them; ids stay text.
                let is_id = c == 0 || field.starts_with('0');
                match field.parse::<f64>() {
                    Ok(n) if r > 0 && !is_id => sheet.write_number(r as u32, c as u16, n).unwrap(),
                    _ => sheet.write_string(r as u32, c as u16, field).unwrap(),
                };
            }
        }
    }
    book.save(&book_path).unwrap();
    assert!(!readings.is_empty());
    let dir = DataDir::new(tmp.path().join("data"));
    import_ok(&dir, &book_path);
    assert_good_state(&dir);
}

#[test]
fn wide_daily_usage_with_a_label_column() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path().join("data"));
    import_ok(&dir, &fixtures().join("good"));
    let outcome = import(&dir, &fixtures().join("wide"), &NoProgress).unwrap();
    let ImportOutcome::Committed { warnings, .. } = outcome else {
        panic!("wide form rejected: {outcome:?}")
    };
    assert!(
        warnings.iter().any(|w| w.field.as_deref() == Some("FLAG")),
        "label column ignored with a warning: {warnings:?}"
    );
    let c = daily_consumption(&dir).unwrap();
    let get = |id: &str, d: &str| c.iter().find(|r| r.0 == id && r.1 == d).map(|r| r.2);
    assert_eq!(get("1000001", "2014-01-01"), Some(Some(5.5)));
    assert_eq!(get("1000001", "2014-01-02"), Some(None), "an empty cell is unknown, never zero");
    assert_eq!(get("1000002", "2014-01-01"), Some(Some(0.0)));
    assert_eq!(counts(&dir)["daily_usage"], 6);
}

/// Every file's bytes in the data dir, by relative path.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_owned(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn each_broken_data_set_is_refused_with_its_place_and_changes_nothing() {
    // (fixture, file, line, column, a word of the reason)
    let cases: &[(&str, &str, u64, Option<usize>, &str)] = &[
        ("impossible-date", "customers.csv", 2, Some(12), "date"),
        ("text-in-number", "meters.csv", 2, Some(3), "not a number"),
        ("missing-required-column", "stations.csv", 1, None, "missing required column name"),
        ("unknown-reference", "meters.csv", 2, Some(2), "unknown reference"),
        ("duplicate-key", "bills.csv", 3, Some(1), "same as bills.csv line 2"),
        ("truncated-last-line", "readings-2026-01.csv", 3, Some(4), "truncated"),
        ("invalid-encoding", "stations.csv", 2, Some(2), "encoding"),
        ("negative-energy", "readings-2026-01.csv", 2, Some(3), "negative"),
        ("empty-required-value", "customers.csv", 2, Some(2), "required value is empty"),
        ("huge-number", "supply.csv", 2, Some(4), "out of range"),
        ("unknown-code", "customers.csv", 2, Some(4), "unknown code"),
        ("empty-file", "surveys.csv", 1, None, "empty file"),
        ("duplicate-reading", "readings-2026-01.csv", 4, Some(1), "same as readings-2026-01.csv line 2"),
        ("zero-multiplier", "meters.csv", 2, Some(3), "greater than 0"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path().join("data"));
    import_ok(&dir, &fixtures().join("good"));
    let before = snapshot(dir.root());
    for (name, file, line, column, reason) in cases {
        let outcome = import(&dir, &fixtures().join("bad").join(name), &NoProgress).unwrap();
        let ImportOutcome::Rejected { rejection, .. } = outcome else { panic!("{name} was accepted") };
        let p = rejection.problems.first().unwrap_or_else(|| panic!("{name}: no problem reported"));
        assert_eq!(rejection.total, 1, "{name}: exactly its one defect: {:?}", rejection.problems);
        assert_eq!(&p.file, file, "{name}: file");
        assert_eq!(p.line, Some(*line), "{name}: line of {p}");
        assert_eq!(p.column, *column, "{name}: column of {p}");
        assert!(p.reason_en.contains(reason), "{name}: reason “{}” lacks “{reason}”", p.reason_en);
        assert_eq!(snapshot(dir.root()), before, "{name}: data dir changed");
    }
    // A first import into a new data dir that fails leaves no data dir behind.
    let fresh = DataDir::new(tmp.path().join("fresh"));
    let outcome = import(&fresh, &fixtures().join("bad").join("empty-file"), &NoProgress).unwrap();
    assert!(matches!(outcome, ImportOutcome::Rejected { .. }));
    assert!(!fresh.root().exists());
}

#[test]
fn all_problems_of_a_data_set_come_out_in_one_report() {
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("set");
    std::fs::create_dir(&set).unwrap();
    std::fs::write(set.join("stations.csv"), "station_id,name\nS1,甲供电所\nS2,\nS1,丙供电所\n").unwrap();
    std::fs::write(set.join("feeders.csv"), "feeder_id,name,station_id,voltage_kv\nF1,甲线,S9,ten\n")
        .unwrap();
    let dir = DataDir::new(tmp.path().join("data"));
    let ImportOutcome::Rejected { rejection, .. } = import(&dir, &set, &NoProgress).unwrap() else {
        panic!("accepted")
    };
    let places: Vec<(String, Option<u64>)> =
        rejection.problems.iter().map(|p| (p.file.clone(), p.line)).collect();
    assert_eq!(rejection.total, 4, "{places:?}");
    assert!(places.contains(&("stations.csv".into(), Some(3))), "empty name");
    assert!(places.contains(&("stations.csv".into(), Some(4))), "duplicate S1");
    assert!(places.contains(&("feeders.csv".into(), Some(2))), "unknown station and bad voltage");
    assert!(!dir.root().exists());
}
