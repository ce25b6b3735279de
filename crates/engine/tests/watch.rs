//! The daily watch (DAY-LARGE-DROP, DAY-SUPPLY), SVC-HOURS with a configured budget, and the
//! LOSS-THEFT score on hand-made data at their boundaries.

mod common;

use std::path::Path;

use common::{DataSet, audit_day, audit_with, day, ids, set};
use jicha_core::calendar::Period;
use jicha_engine::Window;
use jicha_engine::audit::Catalogue;
use jicha_engine::config::Config;
use jicha_engine::themes::registry;

/// A usage series: `before` kWh a day from 03-03 through 03-09, then `on` on 03-10.
fn week(ds: &mut DataSet, id: &str, before: impl Fn(usize) -> Option<f64>, on: Option<f64>) {
    let dates = common::days("2026-03-03", "2026-03-09");
    ds.usage(id, "2026-03-03", "2026-03-10", |d| match dates.iter().position(|x| *x == d) {
        Some(i) => before(i),
        None => on,
    });
}

#[test]
fn day_large_drop_below_half_of_the_week_before() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    for (id, cat, kva) in [
        ("A", "industrial", ""),
        ("B", "industrial", ""),
        ("C", "commercial", "315"),
        ("D", "commercial", "314"),
        ("E", "industrial", ""),
        ("F", "industrial", ""),
        ("G", "industrial", ""),
    ] {
        ds.customer_as(id, cat, "R1", "380V", kva, "S01");
    }
    week(&mut ds, "A", |_| Some(200.0), Some(99.99)); // just below half: fires
    week(&mut ds, "B", |_| Some(200.0), Some(100.0)); // exactly half: quiet
    week(&mut ds, "C", |_| Some(100.0), Some(49.0)); // 315 kVA, mean exactly 100: fires
    week(&mut ds, "D", |_| Some(200.0), Some(10.0)); // 314 kVA and not industrial: not large
    week(&mut ds, "E", |i| Some(if i == 0 { 699.93 - 600.0 } else { 100.0 }), Some(0.0)); // mean 99.99
    week(&mut ds, "F", |i| (i != 3).then_some(200.0), Some(0.0)); // a day before unknown
    week(&mut ds, "G", |_| Some(200.0), None); // the day itself unknown
    let dir = ds.import(tmp.path());
    let f = audit_day(&dir, "DAY-LARGE-DROP", "2026-03-10");
    assert_eq!(ids(&f), set(&["A", "C"]));
    let a = f.iter().find(|f| f.entity_id == "A").unwrap();
    assert_eq!(a.period, "2026-03-10", "a daily finding carries its day");
    assert_eq!(a.evidence["mean_before_kwh"], serde_json::json!(200.0));
    assert_eq!(a.amount_at_risk, Some(50.01), "(200 - 99.99) kWh x 0.5 yuan");
    // A rerun of the day gives the same finding ids.
    let g = audit_day(&dir, "DAY-LARGE-DROP", "2026-03-10");
    assert_eq!(g[0].finding_id, f[0].finding_id);
}

#[test]
fn day_supply_against_the_same_weekday_a_week_earlier() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    ds.areas.push("T1".into()); // on F01 of S01; F03 (S01) and F02 (S02) have no area
    ds.customer("X", "active", "2020-01-01", "", "", "T1");
    for (p, d, kwh) in [
        ("tq,T1", "2026-03-03", "100"),
        ("feeder,F03", "2026-03-03", "100"),
        ("tq,T1", "2026-03-10", "120"),
        ("feeder,F03", "2026-03-10", "120.01"), // S01: 200 -> 240.01, just over +20%
        ("feeder,F01", "2026-03-10", "5000"),   // a feeder with areas: not the station's own
        ("feeder,F02", "2026-03-03", "1000"),
        ("feeder,F02", "2026-03-10", "800"), // S02: exactly -20%, quiet
        ("tq,T1", "2026-03-17", "121"),
        ("feeder,F03", "2026-03-17", "120"), // S01: 240.01 -> 241, quiet; S02 not stored yet
    ] {
        ds.supply.push(format!("{p},{d},{kwh}"));
    }
    let dir = ds.import(tmp.path());
    let f = audit_day(&dir, "DAY-SUPPLY", "2026-03-10");
    assert_eq!(ids(&f), set(&["S01"]));
    assert_eq!(f[0].evidence["supply_kwh"], serde_json::json!(240.01));
    assert_eq!(f[0].evidence["week_before_kwh"], serde_json::json!(200.0));
    // No figure a week earlier: nothing to compare.
    assert!(audit_day(&dir, "DAY-SUPPLY", "2026-03-11").is_empty());
    // No figure for the day (S02's has not come): unknown, not a fall of 100%.
    assert!(audit_day(&dir, "DAY-SUPPLY", "2026-03-17").is_empty());
}

fn config(text: &str) -> Catalogue {
    let mut cat = Catalogue::builtin();
    cat.config = Config::parse(Path::new("jicha.toml"), text, registry()).unwrap();
    cat
}

#[test]
fn svc_hours_over_the_weekly_budget_of_iso_weeks_of_the_period() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    ds.areas.push("T1".into());
    for id in ["A", "B", "C"] {
        ds.customer(id, "active", "2020-01-01", "", "", "T1");
    }
    ds.customer("Z", "closed", "2020-01-01", "2026-03-01", "", "T1"); // not affected any more
    let outages = [
        // Week of Monday 03-02: 4 h x 20 + 1 h x 3 customers of T1 = 83.
        "O1,tq,T1,2026-03-03 08:00:00,2026-03-03 12:00:00,false,20",
        "O2,tq,T1,2026-03-04 08:00:00,2026-03-04 09:00:00,,",
        // Week of 03-09: exactly the budget, quiet.
        "O3,feeder,F03,2026-03-10 00:00:00,2026-03-10 10:00:00,true,10",
        // Week of 03-16 (ISO week 12): one second over.
        "O4,tq,T1,2026-03-17 00:00:00,2026-03-17 10:00:01,false,10",
        // Sunday 03-01 belongs to February's last ISO week, 03-30 to April's first.
        "O5,tq,T1,2026-03-01 00:00:00,2026-03-01 23:00:00,false,1000",
        "O6,tq,T1,2026-03-30 00:00:00,2026-03-31 00:00:00,false,1000",
        // S02 has no budget.
        "O7,feeder,F02,2026-03-18 00:00:00,2026-03-19 00:00:00,false,500",
    ];
    ds.extra.push((
        "outages.csv",
        "outage_id,scope_type,scope_id,start_at,end_at,planned,customers_affected",
        outages.iter().map(|s| s.to_string()).collect(),
    ));
    let dir = ds.import(tmp.path());
    let cat = config("[themes.SVC-HOURS.weekly_budget]\nS01 = 100\n");
    let march = Window::new(Period::parse("2026-03").unwrap(), None);
    let f = audit_with(&dir, &cat, "SVC-HOURS", march);
    assert_eq!(ids(&f), set(&["S01"]));
    assert_eq!(f[0].evidence["weeks_over"], serde_json::json!(1));
    assert_eq!(f[0].evidence["worst_iso_week"], serde_json::json!(12));
    // A budget of 101 leaves nothing over.
    let cat = config("[themes.SVC-HOURS.weekly_budget]\nS01 = 101\n");
    assert!(audit_with(&dir, &cat, "SVC-HOURS", march).is_empty());
    // The first week: 80 + 3 = 83 customer-hours (the closed customer is not counted), so a
    // budget of 82.99 has three weeks over and one of 83 two.
    let cat = config("[themes.SVC-HOURS.weekly_budget]\nS01 = 82.99\n");
    let f = audit_with(&dir, &cat, "SVC-HOURS", march);
    assert_eq!(f[0].evidence["weeks_over"], serde_json::json!(3));
    let cat = config("[themes.SVC-HOURS.weekly_budget]\nS01 = 83\n");
    let f = audit_with(&dir, &cat, "SVC-HOURS", march);
    assert_eq!(f[0].evidence["weeks_over"], serde_json::json!(2));
}

#[test]
fn loss_theft_scores_a_drop_that_explains_the_area_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    ds.areas.push("T1".into());
    let theft_from = day("2026-03-10");
    for i in 0..10 {
        let id = format!("C{i}");
        ds.customer(&id, "active", "2020-01-01", "", "", "T1");
        let thief = i == 3;
        ds.usage(&id, "2025-12-01", "2026-03-31", |d| {
            Some(if thief && d >= theft_from { 2.5 } else { 10.0 + (i as f64) * 0.01 })
        });
    }
    // The area delivers what is really drawn plus 3% losses: the stolen energy shows as loss.
    for d in common::days("2025-12-01", "2026-03-31") {
        let drawn: f64 = (0..10).map(|i| 10.0 + i as f64 * 0.01).sum();
        ds.supply.push(format!("tq,T1,{d},{:.2}", drawn / 0.97));
    }
    let dir = ds.import(tmp.path());
    let march = Window::new(Period::parse("2026-03").unwrap(), None);
    let f = audit_with(&dir, &Catalogue::builtin(), "LOSS-THEFT", march);
    assert_eq!(ids(&f), set(&["C3"]), "only the thief, though top 1% of 10 is one customer anyway");
    let e = &f[0].evidence;
    let signal = |k: &str| e[k].as_f64().unwrap();
    assert!(signal("signal_drop") > 0.2, "{e:?}");
    assert!(signal("signal_area_loss") > 0.25, "the drop explains the area's rising loss: {e:?}");
    assert!(signal("score") >= 0.5, "{e:?}");
    assert!(f[0].amount_at_risk.unwrap() > 80.0, "about 165 kWh at 0.5 yuan: {:?}", f[0].amount_at_risk);
    // No drop, no suspicion: February is clean.
    let feb = Window::new(Period::parse("2026-02").unwrap(), None);
    assert!(audit_with(&dir, &Catalogue::builtin(), "LOSS-THEFT", feb).is_empty());
}
