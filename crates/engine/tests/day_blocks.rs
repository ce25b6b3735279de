//! The dense day blocks the customer and theft themes read give what the query over the stored
//! daily consumption gives, are built once and read after, survive being spoilt, and go with the
//! files they come from.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::Datelike;
use common::{DataSet, day};
use datafusion::arrow::array::Array;
use jicha_core::calendar::to_epoch_days;
use jicha_engine::Session;
use jicha_engine::columns::{date_array, float_array, text};
use jicha_engine::day_blocks::Rows;
use jicha_engine::session::date_lit;
use jicha_ingest::pipeline::NoProgress;
use jicha_ingest::{ImportOutcome, import};
use jicha_store::DataDir;

/// Each customer's days as the SQL over the series gives them: (customer, day) -> kWh or None.
type Days = BTreeMap<String, BTreeMap<i32, Option<f64>>>;

fn by_query(dir: &DataDir, first: i32, last: i32) -> Days {
    let session = Session::open(dir).unwrap();
    let sql = format!(
        "SELECT customer_id, date, kwh FROM daily_consumption WHERE date BETWEEN {} AND {}",
        date_lit(first),
        date_lit(last)
    );
    let mut out = Days::new();
    for b in session.run(&sql, "test").unwrap() {
        let (ids, ds, kwh) = (
            text(&b, "customer_id").unwrap(),
            date_array(&b, "date").unwrap(),
            float_array(&b, "kwh").unwrap(),
        );
        for (i, id) in ids.iter().enumerate() {
            let k = (!kwh.is_null(i)).then(|| kwh.value(i));
            out.entry(id.clone()).or_default().insert(ds.value(i), k);
        }
    }
    out
}

/// The series the blocks give, as (customer, day) -> kWh (as f32) or None.
fn by_blocks(dir: &DataDir, first: i32, last: i32) -> BTreeMap<String, Vec<Option<f32>>> {
    let session = Session::open(dir).unwrap();
    let rows = Rows::open(&session, first, last).unwrap();
    assert_eq!(rows.days, (last - first + 1) as usize);
    let mut row = vec![0.0; rows.days];
    let one_by_one: BTreeMap<String, Vec<Option<f32>>> = (0..rows.len())
        .map(|r| {
            rows.fill(r, &mut row);
            (rows.id(r).to_string(), row.iter().map(|v| (!v.is_nan()).then_some(*v)).collect())
        })
        .collect();
    // The same rows, handed over as matrices of rows.
    let chunks = rows.map_chunks(|range, matrix| (range, matrix.to_vec()));
    let mut next = 0;
    for (range, matrix) in chunks {
        assert_eq!(range.start, next, "chunks in the rows' order");
        next = range.end;
        for (r, days) in range.zip(matrix.chunks_exact(rows.days)) {
            let want = &one_by_one[rows.id(r)];
            let got: Vec<Option<f32>> = days.iter().map(|v| (!v.is_nan()).then_some(*v)).collect();
            assert_eq!(&got, want, "row {r}");
        }
    }
    assert_eq!(next, rows.len());
    one_by_one
}

/// Checks the blocks' series against the query's: the same customers, and each day's value.
fn assert_same(dir: &DataDir, first: i32, last: i32) {
    let expected = by_query(dir, first, last);
    let got = by_blocks(dir, first, last);
    assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "customers");
    for (id, days) in &got {
        for (k, v) in days.iter().enumerate() {
            let want = expected[id].get(&(first + k as i32)).copied().flatten().map(|x| x as f32);
            assert_eq!(*v, want, "{id} on day {}", first + k as i32);
        }
    }
}

fn blocks(dir: &DataDir) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let root = dir.root().join("cache/series/daily_consumption");
    for month in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(month.path()).unwrap().flatten() {
            out.push(f.path());
        }
    }
    out.sort();
    out
}

fn set() -> DataSet {
    let mut ds = DataSet::default();
    // Days with gaps and days without a value, over two months.
    ds.customer("A", "active", "2020-01-01", "", "", "")
        .usage("A", "2026-02-01", "2026-03-31", |d| (d.day() % 5 != 0).then(|| d.day() as f64 * 1.25));
    // Only before the window's first day (2026-02-10): not in the series.
    ds.customer("EARLY", "active", "2020-01-01", "", "", "").usage(
        "EARLY",
        "2026-02-01",
        "2026-02-09",
        |_| Some(3.0),
    );
    // Only a day without a value inside the window: in the series, every day missing.
    ds.customer("BLANK", "active", "2020-01-01", "", "", "").usage(
        "BLANK",
        "2026-03-03",
        "2026-03-03",
        |_| None,
    );
    // Values that f32 rounds, and zeros.
    ds.customer("B", "active", "2020-01-01", "", "", "").usage("B", "2026-02-15", "2026-03-20", |d| {
        Some(if d.day() % 3 == 0 { 0.0 } else { 1234.57 + d.day() as f64 / 100.0 })
    });
    ds
}

#[test]
fn the_blocks_give_what_the_query_gives_and_are_built_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = set().import(tmp.path());
    let (first, last) = (to_epoch_days(day("2026-02-10")), to_epoch_days(day("2026-03-31")));
    assert!(blocks(&dir).is_empty(), "no block before the first read");
    assert_same(&dir, first, last);
    let written = blocks(&dir);
    assert_eq!(written.len(), 2, "one block per stored file (February and March): {written:?}");
    let stamps: Vec<_> = written.iter().map(|p| std::fs::metadata(p).unwrap().modified().unwrap()).collect();
    // Read, not built again.
    assert_same(&dir, first, last);
    let again: Vec<_> = written.iter().map(|p| std::fs::metadata(p).unwrap().modified().unwrap()).collect();
    assert_eq!(stamps, again);
    // The customer and baseline themes read the same blocks: a window inside one month.
    assert_same(&dir, to_epoch_days(day("2026-03-05")), to_epoch_days(day("2026-03-09")));
}

#[test]
fn a_spoilt_block_is_built_again_and_a_replaced_file_takes_its_block_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = set().import(tmp.path());
    let (first, last) = (to_epoch_days(day("2026-02-01")), to_epoch_days(day("2026-03-31")));
    assert_same(&dir, first, last);
    let written = blocks(&dir);
    let size = std::fs::metadata(&written[1]).unwrap().len();
    // Cut short, as a full disk or a kill would leave it.
    std::fs::write(&written[1], b"JCDAYS02 and nothing else").unwrap();
    // A block an older version wrote (its cells not on an 8-byte boundary) is left behind.
    let older = written[0].with_file_name("20260101T000000.000000-1-1.v1.days");
    std::fs::write(&older, b"JCDAYS01 from an older version").unwrap();
    assert_same(&dir, first, last);
    assert_eq!(std::fs::metadata(&written[1]).unwrap().len(), size, "rebuilt whole");
    assert!(!older.exists(), "the older format's block removed");
    // Every block's cells start on an 8-byte boundary (read in place, not decoded).
    for path in blocks(&dir) {
        let bytes = std::fs::read(&path).unwrap();
        let int = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let (days, rows) = (int(12), int(16));
        let cells_at = bytes.len() - 8 * days * rows;
        assert_eq!(cells_at % 8, 0, "{path:?}");
        let ids_end = 28 + 4 * (rows + 1) + u64::from_le_bytes(bytes[20..28].try_into().unwrap()) as usize;
        assert!(ids_end <= cells_at && cells_at < ids_end + 8, "{path:?}");
        assert!(bytes[ids_end..cells_at].iter().all(|b| *b == 0), "{path:?}");
    }
    // A new import of March replaces its file: its old block goes, the new data shows.
    let mut more = DataSet::default();
    more.customer("A", "active", "2020-01-01", "", "", "")
        .usage("A", "2026-03-10", "2026-03-12", |_| Some(99.5));
    let folder = tmp.path().join("more");
    more.write(&folder);
    assert!(matches!(import(&dir, &folder, &NoProgress).unwrap(), ImportOutcome::Committed { .. }));
    assert_same(&dir, first, last);
    let now = blocks(&dir);
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(now.contains(&written[0]), "February's block kept");
    assert!(!now.contains(&written[1]), "March's old block removed");
    let got = by_blocks(&dir, first, last);
    assert_eq!(got["A"][(to_epoch_days(day("2026-03-11")) - first) as usize], Some(99.5));
}

/// The registers VOL-REVERSE, VOL-MISSING and VOL-TOU read from the register blocks are what the
/// query over the stored readings gives: each total in hundredths, and the time-of-use gap only
/// where all four registers were read; a day without a total (or without a row) has none. The
/// window starts on the last day of the month before, as the themes' does.
#[test]
fn the_register_blocks_give_what_the_query_gives() {
    use jicha_engine::kernels::registers;
    use jicha_engine::themes::common::hundredths;
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    for m in ["M1", "M2", "M3"] {
        let cust = format!("C{m}");
        ds.customer(&cust, "active", "2020-01-01", "", "", "");
        ds.meters.push(format!("{m},{cust},1,,,2020-01-01,,,S1"));
    }
    for (i, d) in common::days("2026-02-20", "2026-03-31").into_iter().enumerate() {
        let total = 1000.0 + 10.37 * i as f64;
        // M1: every day, its time-of-use registers on even days (off by a day's tenth on some).
        let tou = if i % 2 == 0 {
            let gap = if i % 4 == 0 { 0.1 } else { 0.0 };
            format!("{:.2},{:.2},{:.2}", total * 0.3, total * 0.5, total * 0.2 + gap)
        } else {
            ",,".to_string()
        };
        ds.readings.push(format!("M1,{d},{total:.2},{tou}"));
        // M2: March only, no total on the 10th (a row without one) and no row on the 20th.
        if d >= day("2026-03-01") && d != day("2026-03-20") {
            let t = if d == day("2026-03-10") { String::new() } else { format!("{:.2}", total * 2.0) };
            ds.readings.push(format!("M2,{d},{t},,,"));
        }
    }
    // M3: only a row without a total: no meter in the registers.
    ds.readings.push("M3,2026-03-05,,1,1,1".to_string());
    let dir = ds.import(tmp.path());
    let (first, last) = (to_epoch_days(day("2026-02-28")), to_epoch_days(day("2026-03-31")));
    let session = Session::open(&dir).unwrap();
    let reg = registers(&session, first, last).unwrap();
    let sql = format!(
        "SELECT meter_id, date, total, peak, flat, valley FROM readings WHERE total IS NOT NULL AND date BETWEEN {} AND {}",
        date_lit(first),
        date_lit(last)
    );
    // (meter, day) -> (total, gap) as the query gives them.
    let mut expected = BTreeMap::new();
    for b in session.run(&sql, "test").unwrap() {
        let ids = text(&b, "meter_id").unwrap();
        let ds = date_array(&b, "date").unwrap();
        let [total, peak, flat, valley] =
            ["total", "peak", "flat", "valley"].map(|c| float_array(&b, c).unwrap());
        for (i, id) in ids.iter().enumerate() {
            let t = hundredths(total.value(i));
            let tou = [&peak, &flat, &valley];
            let gap = tou
                .iter()
                .all(|a| !a.is_null(i))
                .then(|| (tou.iter().map(|a| hundredths(a.value(i))).sum::<i64>() - t).abs());
            expected.insert((id.clone(), ds.value(i)), (t, gap));
        }
    }
    assert!(expected.values().any(|(_, g)| g.is_some_and(|g| g > 0)), "a gap to find");
    let mut names = reg.meters.names.clone();
    names.sort();
    assert_eq!(names, ["M1", "M2"], "meters with a total in the window");
    let mut buf = Vec::new();
    for id in ["M1", "M2"] {
        let m = reg.meters.get(id).unwrap() as usize;
        for d in first - 3..=last + 1 {
            let want = expected.get(&(id.to_string(), d));
            let days = reg.meter(m, &mut buf);
            assert_eq!(days.get(d), want.map(|w| w.0), "{id} total on day {d}");
            assert_eq!(days.tou_gap(d), want.and_then(|w| w.1), "{id} gap on day {d}");
        }
    }
    let regs = std::fs::read_dir(dir.root().join("cache/series/readings")).unwrap().count();
    assert_eq!(regs, 2, "a register block for February and one for March");
}
