//! Each theme against a hand-made data set at its boundaries: just below and just above each
//! threshold, missing days, periods' ends, closed and late-opened customers.

mod common;

use chrono::NaiveDate;
use common::{DataSet, audit, day, days, ids, set};
use jicha_core::calendar::Period;
use jicha_engine::audit::{Catalogue, Outcome, run};
use jicha_engine::{Session, Window};

#[test]
fn vol_zero_needs_80_percent_known_days_of_an_active_customer() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    let march = ("2026-03-01", "2026-03-31");
    // 25 of 31 days known (80.6%): fires; 24 (77.4%): does not.
    ds.customer("Z25", "active", "2020-01-01", "", "", "")
        .usage("Z25", march.0, march.1, |d| (d >= day("2026-03-07")).then_some(0.0));
    ds.customer("Z24", "active", "2020-01-01", "", "", "")
        .usage("Z24", march.0, march.1, |d| (d >= day("2026-03-08")).then_some(0.0));
    // A hundredth of a kWh is not zero.
    ds.customer("ZSOME", "active", "2020-01-01", "", "", "")
        .usage("ZSOME", march.0, march.1, |d| Some(if d == day("2026-03-15") { 0.01 } else { 0.0 }));
    // Opened on the 2nd, or suspended: not active through the period.
    ds.customer("ZLATE", "active", "2026-03-02", "", "", "").usage("ZLATE", march.0, march.1, |_| Some(0.0));
    ds.customer("ZSUSP", "suspended", "2020-01-01", "", "", "")
        .usage("ZSUSP", march.0, march.1, |_| Some(0.0));
    // Closed on the last day: not active through it.
    ds.customer("ZCLOSE", "active", "2020-01-01", "2026-03-31", "", "").usage(
        "ZCLOSE",
        march.0,
        march.1,
        |_| Some(0.0),
    );
    let dir = ds.import(tmp.path());
    let found = audit(&dir, "VOL-ZERO");
    assert_eq!(ids(&found), set(&["Z25"]));
    assert_eq!(found[0].evidence["known_days"], 25);
    assert_eq!(found[0].station_id.as_deref(), Some("S01"));
}

/// A customer with `base` kWh a day from 2025-12-01 (90 days before March) and `march` in March.
fn drop_customer(
    ds: &mut DataSet,
    id: &str,
    base: f64,
    base_known_from: &str,
    march: f64,
    march_known_from: &str,
) {
    let (bk, mk) = (day(base_known_from), day(march_known_from));
    ds.customer(id, "active", "2020-01-01", "", "", "").usage(id, "2025-12-01", "2026-03-31", move |d| {
        if d < day("2026-03-01") { (d >= bk).then_some(base) } else { (d >= mk).then_some(march) }
    });
}

#[test]
fn vol_drop_and_surge_at_their_thresholds() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    drop_customer(&mut ds, "D399", 10.0, "2025-12-01", 3.99, "2026-03-01"); // 0.399 x baseline: fires
    drop_customer(&mut ds, "D400", 10.0, "2025-12-01", 4.0, "2026-03-01"); // exactly 0.4: does not
    drop_customer(&mut ds, "DLOWBASE", 1.99, "2025-12-01", 0.0, "2026-03-01"); // baseline < 2 kWh
    drop_customer(&mut ds, "DBASE29", 10.0, "2026-01-31", 1.0, "2026-03-01"); // 29 baseline days
    drop_customer(&mut ds, "DBASE30", 10.0, "2026-01-30", 1.0, "2026-03-01"); // 30 baseline days: fires
    drop_customer(&mut ds, "DKNOWN15", 10.0, "2025-12-01", 1.0, "2026-03-17"); // 15 of 31 days known
    drop_customer(&mut ds, "DKNOWN16", 10.0, "2025-12-01", 1.0, "2026-03-16"); // 16 of 31: fires
    drop_customer(&mut ds, "S3001", 10.0, "2025-12-01", 30.01, "2026-03-01"); // > 3x, 930 kWh: surge
    drop_customer(&mut ds, "S3000", 10.0, "2025-12-01", 30.0, "2026-03-01"); // exactly 3x: no surge
    drop_customer(&mut ds, "SSMALL", 2.0, "2025-12-01", 9.0, "2026-03-01"); // 4.5x but 279 kWh < 300
    drop_customer(&mut ds, "S300", 2.0, "2025-12-01", 9.68, "2026-03-01"); // 300.08 kWh: surge
    let dir = ds.import(tmp.path());
    let drops = audit(&dir, "VOL-DROP");
    assert_eq!(ids(&drops), set(&["D399", "DBASE30", "DKNOWN16"]));
    let d = drops.iter().find(|f| f.entity_id == "D399").unwrap();
    // (10 - 3.99) kWh a day x 31 days x 0.5 yuan.
    assert!((d.amount_at_risk.unwrap() - 93.155).abs() < 0.006, "{:?}", d.amount_at_risk);
    assert_eq!(ids(&audit(&dir, "VOL-SURGE")), set(&["S3001", "S300"]));
}

#[test]
fn vol_overcap_above_contract_capacity_times_24() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    let one_day = |k: f64| move |d: NaiveDate| Some(if d == day("2026-03-10") { k } else { 1.0 });
    ds.customer("OVER", "active", "2020-01-01", "", "10", "").usage(
        "OVER",
        "2026-03-01",
        "2026-03-31",
        one_day(240.01),
    );
    ds.customer("EQUAL", "active", "2020-01-01", "", "10", "").usage(
        "EQUAL",
        "2026-03-01",
        "2026-03-31",
        one_day(240.0),
    );
    ds.customer("NOKVA", "active", "2020-01-01", "", "", "").usage(
        "NOKVA",
        "2026-03-01",
        "2026-03-31",
        one_day(9999.0),
    );
    // The day after the period is not the period's.
    ds.customer("APRIL", "active", "2020-01-01", "", "10", "").usage(
        "APRIL",
        "2026-03-01",
        "2026-04-01",
        |d| Some(if d == day("2026-04-01") { 500.0 } else { 1.0 }),
    );
    let dir = ds.import(tmp.path());
    let found = audit(&dir, "VOL-OVERCAP");
    assert_eq!(ids(&found), set(&["OVER"]));
    assert_eq!(found[0].evidence["max_kwh"], 240.01);
}

/// A meter on its own customer, with registers from 2026-02-27 to 2026-04-02 given by `reg`.
fn meter(ds: &mut DataSet, id: &str, installed: &str, reg: impl Fn(NaiveDate, usize) -> Option<String>) {
    let cust = format!("C{id}");
    ds.customer(&cust, "active", "2020-01-01", "", "", "");
    ds.meters.push(format!("{id},{cust},1,,,{installed},,,S1"));
    for (i, d) in days("2026-02-27", "2026-04-02").into_iter().enumerate() {
        if d < day(installed) {
            continue;
        }
        if let Some(r) = reg(d, i) {
            ds.readings.push(format!("{id},{d},{r}"));
        }
    }
}

/// A plain register row: total only, 10 kWh a day.
fn plain(i: usize) -> String {
    format!("{},,,", 1000 + 10 * i)
}

fn missing_on(dates: &'static [&'static str]) -> impl Fn(NaiveDate, usize) -> Option<String> {
    move |d, i| if dates.iter().any(|m| day(m) == d) { Some(",,,".to_string()) } else { Some(plain(i)) }
}

#[test]
fn vol_missing_three_consecutive_days_inside_the_period() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    meter(&mut ds, "M3", "2020-01-01", missing_on(&["2026-03-10", "2026-03-11", "2026-03-12"]));
    meter(
        &mut ds,
        "M2X2",
        "2020-01-01",
        missing_on(&["2026-03-10", "2026-03-11", "2026-03-13", "2026-03-14"]),
    );
    // Runs do not cross the period's ends.
    meter(
        &mut ds,
        "MEND",
        "2020-01-01",
        missing_on(&["2026-03-30", "2026-03-31", "2026-04-01", "2026-04-02"]),
    );
    meter(
        &mut ds,
        "MSTART",
        "2020-01-01",
        missing_on(&["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]),
    );
    // Rows absent altogether count as missing.
    meter(&mut ds, "MABSENT", "2020-01-01", |d, i| {
        (!(day("2026-03-20")..=day("2026-03-22")).contains(&d)).then(|| plain(i))
    });
    // Installed inside the period: not in service through it.
    meter(&mut ds, "MNEW", "2026-03-02", missing_on(&["2026-03-10", "2026-03-11", "2026-03-12"]));
    let dir = ds.import(tmp.path());
    let found = audit(&dir, "VOL-MISSING");
    assert_eq!(ids(&found), set(&["M3", "MABSENT"]));
}

#[test]
fn vol_reverse_on_consecutive_known_registers() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    let down_on = |when: &'static str| {
        move |d: NaiveDate, i: usize| {
            Some(if d == day(when) { format!("{},,,", 1000 + 10 * i - 25) } else { plain(i) })
        }
    };
    meter(&mut ds, "RMID", "2020-01-01", down_on("2026-03-15"));
    meter(&mut ds, "RFIRST", "2020-01-01", down_on("2026-03-01")); // against 2026-02-28: fires
    meter(&mut ds, "RAPRIL", "2020-01-01", down_on("2026-04-01")); // d = 04-01 is not in March
    // A missing register in between: the pair is not consecutive.
    meter(&mut ds, "RGAP", "2020-01-01", |d, i| {
        if d == day("2026-03-15") {
            Some(",,,".to_string())
        } else if d == day("2026-03-16") {
            Some(format!("{},,,", 1000 + 10 * 13))
        } else {
            Some(plain(i))
        }
    });
    // Equal registers are not a reversal.
    meter(&mut ds, "RFLAT", "2020-01-01", |d, i| {
        Some(if d == day("2026-03-15") { plain(i - 1) } else { plain(i) })
    });
    let dir = ds.import(tmp.path());
    assert_eq!(ids(&audit(&dir, "VOL-REVERSE")), set(&["RMID", "RFIRST"]));
}

#[test]
fn vol_tou_beyond_both_tolerances() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    // Total 1000 on one day of March; the time-of-use registers off by `off`.
    let tou = |total: f64, off: f64| {
        move |d: NaiveDate, _i: usize| {
            let t = if d == day("2026-03-10") { total } else { 100.0 };
            let o = if d == day("2026-03-10") { off } else { 0.0 };
            Some(format!("{t:.2},{:.2},{:.2},{:.2}", t * 0.3 + o, t * 0.5, t * 0.2))
        }
    };
    meter(&mut ds, "T101", "2020-01-01", tou(1000.0, 1.01)); // > 1 kWh and > 0.1%: fires
    meter(&mut ds, "T100", "2020-01-01", tou(1000.0, 1.0)); // exactly 1 kWh: does not
    meter(&mut ds, "T499", "2020-01-01", tou(5000.0, 4.99)); // > 1 kWh, < 0.1% of 5000
    meter(&mut ds, "T501", "2020-01-01", tou(5000.0, -5.01)); // below as well as above
    let dir = ds.import(tmp.path());
    assert_eq!(ids(&audit(&dir, "VOL-TOU")), set(&["T101", "T501"]));
}

/// An area with one customer using `cons` a day (unknown where `None`) and 100 kWh of supply.
fn area(ds: &mut DataSet, tq: &str, cons: impl Fn(NaiveDate) -> Option<f64>) {
    ds.areas.push(tq.to_string());
    let cust = format!("C{tq}");
    ds.customer(&cust, "active", "2020-01-01", "", "", tq).usage(&cust, "2026-03-01", "2026-03-31", cons);
    for d in days("2026-03-01", "2026-03-31") {
        ds.supply.push(format!("tq,{tq},{d},100"));
    }
}

#[test]
fn loss_rates_at_their_thresholds_over_valid_days() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    area(&mut ds, "H1001", |_| Some(89.99)); // 10.01%: high
    area(&mut ds, "H1000", |_| Some(90.0)); // exactly 10%: not
    area(&mut ds, "N101", |_| Some(101.01)); // -1.01%: negative
    area(&mut ds, "N100", |_| Some(101.0)); // exactly -1%: not
    // 15 valid days of 31: too few; 16: enough.
    area(&mut ds, "V15", |d| (d >= day("2026-03-17")).then_some(50.0));
    area(&mut ds, "V16", |d| (d >= day("2026-03-16")).then_some(50.0));
    // A customer closed on the 11th counts only before it; its later days need no consumption.
    area(&mut ds, "CL", |_| Some(45.0));
    ds.customer("CCLOSED", "closed", "2020-01-01", "2026-03-11", "", "CL").usage(
        "CCLOSED",
        "2026-03-01",
        "2026-03-10",
        |_| Some(45.0),
    );
    let dir = ds.import(tmp.path());
    let high = audit(&dir, "LOSS-TQ-HIGH");
    assert_eq!(ids(&high), set(&["H1001", "V16", "CL"]));
    let h = high.iter().find(|f| f.entity_id == "H1001").unwrap();
    assert_eq!(h.evidence["valid_days"], 31);
    assert_eq!(h.evidence["supply_kwh"], 3100.0);
    // (0.0001 x 3100 kWh beyond 10%) x 0.5 yuan.
    assert!((h.amount_at_risk.unwrap() - 0.155).abs() < 0.006, "{:?}", h.amount_at_risk);
    let cl = high.iter().find(|f| f.entity_id == "CL").unwrap();
    // 10 days at 10% loss, 21 days at 55%.
    assert_eq!(cl.evidence["consumption_kwh"], 10.0 * 90.0 + 21.0 * 45.0);
    assert_eq!(ids(&audit(&dir, "LOSS-TQ-NEG")), set(&["N101"]));
}

#[test]
fn missing_inputs_mean_not_run_and_reruns_keep_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    ds.customer("Z", "active", "2020-01-01", "", "", "")
        .usage("Z", "2026-03-01", "2026-03-31", |_| Some(0.0));
    let dir = ds.import(tmp.path());
    let mut session = Session::open(&dir).unwrap();
    let themes = Catalogue::builtin().select(&[], false).unwrap();
    let window = Window::new(Period::parse("2026-03").unwrap(), None);
    let first = run(&mut session, window, &Catalogue::builtin(), &themes).unwrap();
    let outcome =
        |code: &str| first.themes.iter().find(|t| t.code == code).map(|t| t.outcome.clone()).unwrap();
    assert!(matches!(outcome("VOL-ZERO"), Outcome::Ran { findings: 1, .. }));
    for (code, missing) in [
        ("VOL-MISSING", "readings"),
        ("VOL-TOU", "readings"),
        ("LOSS-TQ-HIGH", "supply"),
        ("PRC-BILL", "bills"),
        ("MTR-SEAL", "field_checks"),
        // The column exists in the table but holds no value: absent from the export.
        ("VOL-OVERCAP", "contract_kva"),
    ] {
        match outcome(code) {
            Outcome::NotRun(reason) => assert!(reason.contains(missing), "{code}: {reason}"),
            o => panic!("{code} should not run: {o:?}"),
        }
    }
    jicha_engine::store::keep(&session, &first, "2026-04-01 08:00:00").unwrap();
    let second = run(&mut session, window, &Catalogue::builtin(), &themes).unwrap();
    jicha_engine::store::keep(&session, &second, "2026-04-01 09:00:00").unwrap();
    let stored = jicha_store::findings::load(&dir, "2026-03").unwrap();
    assert_eq!(stored.len(), 1, "a rerun replaces, never duplicates");
    assert_eq!(stored[0].finding_id, first.findings[0].finding_id);
    assert_eq!(first.findings[0].finding_id, second.findings[0].finding_id);
    assert!(Catalogue::builtin().select(&["VOL-NOPE".to_string()], false).is_err());
}
