//! Indicators against a hand-computed county of two stations over March 2026.

mod common;

use std::collections::BTreeMap;

use common::DataSet;
use jicha_engine::Session;
use jicha_engine::indicators::{Options, OrderTally, Span, compute};

fn county() -> DataSet {
    let mut d = DataSet { areas: vec!["T1".into(), "T2,F02,S02".into()], ..DataSet::default() };
    d.customer("C1", "active", "2020-01-01", "", "8", "T1");
    d.customer("C2", "active", "2020-01-01", "", "8", "T1");
    d.customer_raw("C3,户C3,地址,resident,R1,220V,8,S02,F02,T2,active,2020-01-01,,13800000000,,");
    // A metered customer on F02 (no area): its registers make the collection rate.
    d.customer_raw("C9,户C9,地址,resident,R1,220V,8,S02,F02,,active,2020-01-01,,13800000000,,");
    d.meters.push("M9,C9,1,,,2026-03-01,,,".into());
    for (i, day) in common::days("2026-03-01", "2026-03-31").iter().enumerate() {
        if !["2026-03-15", "2026-03-16"].contains(&day.to_string().as_str()) {
            d.readings.push(format!("M9,{day},{},,,", 100 + i));
        }
    }
    d.usage("C1", "2026-03-01", "2026-03-31", |_| Some(10.0));
    d.usage("C2", "2026-03-01", "2026-03-31", |_| Some(5.0));
    d.usage("C3", "2026-03-01", "2026-03-31", |day| (day.to_string() != "2026-03-10").then_some(20.0));
    for day in common::days("2026-03-01", "2026-03-31") {
        d.supply.push(format!("tq,T1,{day},16"));
        d.supply.push(format!("tq,T2,{day},25"));
    }
    d.extra.push((
        "bills.csv",
        "bill_id,customer_id,period,kwh,amount,due_on",
        vec![
            "B1,C1,2026-03,310,155.00,2026-03-20".into(),
            "B2,C2,2026-03,155,77.50,2026-03-20".into(),
            "B3,C3,2026-03,620,310.00,2026-03-25".into(),
        ],
    ));
    d.extra.push((
        "payments.csv",
        "payment_id,bill_id,paid_on,amount",
        vec![
            "P1,B1,2026-03-15,155.00".into(),
            "P2,B2,2026-03-18,50.00".into(),
            // After the as-of date: not paid in March.
            "P3,B3,2026-04-05,310.00".into(),
        ],
    ));
    d.extra.push((
        "outages.csv",
        "outage_id,scope_type,scope_id,start_at,end_at,planned,customers_affected",
        vec![
            // Two hours over T1's two customers.
            "O1,tq,T1,2026-03-05 08:00,2026-03-05 10:00,1,".into(),
            // Still open at the as-of time: two hours over F02's two customers (C3, C9).
            "O2,feeder,F02,2026-03-31 22:00,,0,".into(),
        ],
    ));
    d.extra.push((
        "surveys.csv",
        "station_id,period,score",
        vec!["S01,2026-03,95".into(), "S02,2026-03,90".into()],
    ));
    d.extra.push((
        "work_orders.csv",
        "order_id,kind,customer_id,station_id,voltage,accepted_at,connected_at,status",
        vec![
            "W1,new_connection,C1,S01,220V,2026-03-01 09:00,2026-03-04 09:00,done".into(),
            "W2,new_connection,C3,S02,220V,2026-02-20 00:00,2026-03-02 00:00,done".into(),
        ],
    ));
    d.extra.push((
        "field_checks.csv",
        "check_id,customer_id,checked_on,recovered_amount",
        vec!["FC1,C1,2026-03-12,100".into()],
    ));
    d
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("a value");
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn march_matches_the_hand_computation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = county().import(tmp.path());
    let mut session = Session::open(&dir).unwrap();
    let orders = |first: chrono::NaiveDate, _last| {
        let mut m = BTreeMap::new();
        if first.to_string() == "2026-03-01" {
            m.insert("S01".to_string(), OrderTally { due: 2, on_time: 1, recovered: 50.0 });
        }
        m
    };
    let ind =
        compute(&mut session, Span::parse("2026-03").unwrap(), None, &Options::default(), &orders).unwrap();
    let rows = ind.rows();
    let get = |station: &str, code: &str| {
        rows.iter()
            .find(|r| r.station_id == station && r.code == code)
            .unwrap_or_else(|| panic!("{station} {code}"))
    };
    let v = |station: &str, code: &str| get(station, code).value.map(|v| v.value);

    // Supply: 16 x 31 and 25 x 31.
    close(v("S01", "supply_kwh"), 496.0);
    close(v("S02", "supply_kwh"), 775.0);
    close(v("", "supply_kwh"), 1271.0);
    // Loss: T1 (16 - 15) / 16; T2 skips 10 March (C3 unknown): (750 - 600) / 750.
    close(v("S01", "loss_rate"), 1.0 / 16.0);
    close(v("S02", "loss_rate"), 0.2);
    close(v("", "loss_rate"), (1246.0 - 1065.0) / 1246.0);
    assert_eq!(get("", "loss_rate").value.unwrap().den, Some(1246.0));
    close(v("S01", "sales_kwh"), 465.0);
    close(v("S02", "sales_kwh"), 620.0);
    close(v("S01", "avg_price"), 0.5);
    close(v("", "avg_price"), 542.5 / 1085.0);
    // Recovery: paid before 1 April over due in March.
    close(v("S01", "recovery_rate"), 205.0 / 232.5);
    close(v("S02", "recovery_rate"), 0.0);
    close(v("", "recovery_rate"), 205.0 / 542.5);
    close(v("S01", "arrears"), 27.5);
    close(v("S02", "arrears"), 310.0);
    // Collection: 29 registers over 31 meter-days.
    close(v("S02", "collection_rate"), 29.0 / 31.0);
    assert_eq!(v("S01", "collection_rate"), None, "no meter in service at S01");
    // Connections: 3 days (within 5), 10 days (over 5).
    close(v("S01", "expansion_days"), 3.0);
    close(v("S02", "expansion_days"), 10.0);
    close(v("", "expansion_days"), 6.5);
    close(v("", "on_time_expansion"), 0.5);
    // By voltage class: both are low-voltage residents.
    close(v("", "expansion_days_resident"), 6.5);
    assert_eq!(v("", "expansion_days_high"), None, "no high-voltage connection");
    // Outages: 2 h x 2 customers at each station; SAIDI 2 h; RS-1 over 744 hours.
    close(v("S01", "outage_customer_hours"), 4.0);
    close(v("S02", "outage_customer_hours"), 4.0);
    close(v("", "avg_outage_hours"), 2.0);
    close(v("S02", "avg_outage_hours"), 2.0);
    close(v("", "reliability"), 1.0 - 2.0 / 744.0);
    close(v("", "satisfaction"), 92.5);
    close(v("S01", "audit_on_time"), 0.5);
    assert_eq!(v("S02", "audit_on_time"), None, "nothing due at S02");
    close(v("S01", "recovered_amount"), 150.0);
    close(v("", "recovered_amount"), 150.0);
    close(v("", "error_count"), 0.0);
    // February holds no data: unknown, not zero.
    assert_eq!(get("", "loss_rate").previous, None);
    assert_eq!(get("", "reliability").previous, None);
    assert_eq!(get("", "supply_kwh").last_year, None);

    // A single day: supply and loss of that day, no monthly figures.
    let day = compute(&mut session, Span::parse("2026-03-10").unwrap(), None, &Options::default(), &orders)
        .unwrap();
    let rows = day.rows();
    let d = |station: &str, code: &str| {
        rows.iter().find(|r| r.station_id == station && r.code == code).and_then(|r| r.value.map(|v| v.value))
    };
    close(d("", "supply_kwh"), 41.0);
    assert_eq!(d("S02", "loss_rate"), None, "T2 has an unknown customer that day");
    close(d("", "loss_rate"), 1.0 / 16.0);
    assert!(rows.iter().all(|r| r.code != "sales_kwh"), "no bills for a day");
    close(d("S01", "supply_kwh"), 16.0);
    // The previous day is covered: 9 March.
    close(
        rows.iter()
            .find(|r| r.station_id.is_empty() && r.code == "supply_kwh")
            .unwrap()
            .previous
            .map(|v| v.value),
        41.0,
    );
}

#[test]
fn a_budget_projected_over_its_line_warns_before_it_is_crossed() {
    use jicha_engine::warning::{Line, Status, evaluate};
    let tmp = tempfile::tempdir().unwrap();
    let dir = county().import(tmp.path());
    let mut session = Session::open(&dir).unwrap();
    let none = |_: chrono::NaiveDate, _: chrono::NaiveDate| BTreeMap::new();
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let march = Span::parse("2026-03").unwrap();
    // S01: 4 customer-hours on 5 March; a March budget of 10. On the 10th (9 days counted) the
    // rate so far makes 4 x 31 / 9 = 13.8 by the end: a warning, the budget not yet crossed.
    let e = evaluate(
        &mut session,
        &Line { code: "outage_customer_hours", station: Some("S01"), span: march, line: 10.0 },
        day("2026-03-10"),
        &Options::default(),
        &none,
    )
    .unwrap();
    assert_eq!(e.status, Status::Warning);
    assert_eq!(e.actual, Some(4.0));
    close(e.projection, 4.0 * 31.0 / 9.0);
    close(Some(e.line_now), 10.0 * 9.0 / 31.0);
    let days: Vec<String> = e.points.iter().map(|p| p.day.to_string()).collect();
    assert_eq!(days, ["2026-03-01", "2026-03-08", "2026-03-09"], "Sundays and the last day counted");
    assert_eq!(e.points[0].value, Some(0.0));
    // With a budget of 20 the same course is fine; with 3 it is already crossed.
    let ok = evaluate(
        &mut session,
        &Line { code: "outage_customer_hours", station: Some("S01"), span: march, line: 20.0 },
        day("2026-03-10"),
        &Options::default(),
        &none,
    )
    .unwrap();
    assert_eq!(ok.status, Status::Ok);
    let over = evaluate(
        &mut session,
        &Line { code: "outage_customer_hours", station: Some("S01"), span: march, line: 3.0 },
        day("2026-03-10"),
        &Options::default(),
        &none,
    )
    .unwrap();
    assert_eq!(over.status, Status::Breached);
    // Recovery 100% at month end: judged at the end, missed (205 of 542.50 paid).
    let rec = evaluate(
        &mut session,
        &Line { code: "recovery_rate", station: None, span: march, line: 1.0 },
        day("2026-04-02"),
        &Options::default(),
        &none,
    )
    .unwrap();
    assert_eq!(rec.status, Status::Breached);
    close(rec.actual, 205.0 / 542.5);
    // Money to recover: a sum that must reach its line is not "crossed" early in the month, only
    // projected short (nothing recovered by the 9th).
    let rec = evaluate(
        &mut session,
        &Line { code: "recovered_amount", station: Some("S01"), span: march, line: 1000.0 },
        day("2026-03-10"),
        &Options::default(),
        &none,
    )
    .unwrap();
    assert_eq!(rec.status, Status::Warning);
}
