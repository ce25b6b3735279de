//! The bill, fee and meter themes against hand-made data sets at their boundaries: tolerances,
//! stepped monthly and yearly tariffs, a tariff change inside the year, a two-part tariff without
//! a contract capacity, payments after the as-of date, calendar-year verification periods.

mod common;

use common::{DataSet, audit, audit_all, ids, set};

const BILLS: &str = "bill_id,customer_id,period,kwh,amount,tariff_code,energy_charge,basic_charge,pf_adjustment,issued_on,due_on";

fn tariffs(ds: &mut DataSet) {
    ds.tariffs.extend(
        [
            "RS,居民阶梯(月),resident,0.5,month,180,400,0.55,0.8,,2020-01-01,",
            "RY,居民阶梯(年),resident,0.5,year,2160,4800,0.55,0.8,,2020-01-01,",
            "I1,大工业两部制,industrial,0.6,,,,,,20,2020-01-01,",
            // A price change on 16 March: the version valid on the period's last day applies.
            "C1,一般工商业,commercial,0.65,,,,,,,2020-01-01,2026-03-15",
            "C1,一般工商业,commercial,0.7,,,,,,,2026-03-16,",
        ]
        .map(String::from),
    );
}

#[allow(clippy::too_many_arguments)]
fn bill(
    id: &str,
    cust: &str,
    period: &str,
    kwh: &str,
    amount: &str,
    tariff: &str,
    basic: &str,
    pf: &str,
    due: &str,
) -> String {
    format!("{id},{cust},{period},{kwh},{amount},{tariff},,{basic},{pf},2026-04-01,{due}")
}

#[test]
fn prc_bill_recomputes_with_steps_versions_and_tolerance() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    tariffs(&mut ds);
    for (id, cat, t, kva) in [
        ("R_OK", "resident", "R1", ""),
        ("R_IN", "resident", "R1", ""),
        ("R_OUT", "resident", "R1", ""),
        ("C_IN", "commercial", "C1", ""),
        ("C_OUT", "commercial", "C1", ""),
        ("C_OLD", "commercial", "C1", ""),
        ("S_M", "resident", "RS", ""),
        ("Y_OK", "resident", "RY", ""),
        ("Y_FLAT", "resident", "RY", ""),
        ("I_OK", "industrial", "I1", "200"),
        ("I_NOKVA", "industrial", "I1", ""),
    ] {
        ds.customer_as(id, cat, t, "220V", kva, "S01");
    }
    let rows = vec![
        bill("B_R_OK", "R_OK", "2026-03", "100", "50", "R1", "", "", "2026-04-25"),
        bill("B_R_IN", "R_IN", "2026-03", "100", "51", "R1", "", "", "2026-04-25"), // 1.00 off: tolerated
        bill("B_R_OUT", "R_OUT", "2026-03", "100", "51.01", "R1", "", "", "2026-04-25"),
        // 10000 kWh at 0.7 = 7000; 0.5% = 35 yuan tolerated.
        bill("B_C_IN", "C_IN", "2026-03", "10000", "7035", "C1", "", "", "2026-04-25"),
        bill("B_C_OUT", "C_OUT", "2026-03", "10000", "7035.01", "C1", "", "", "2026-04-25"),
        bill("B_C_OLD", "C_OLD", "2026-03", "10000", "6500", "C1", "", "", "2026-04-25"),
        // 180 x 0.5 + 220 x 0.55 + 100 x 0.8 = 291.
        bill("B_S_M", "S_M", "2026-03", "500", "291", "RS", "", "", "2026-04-25"),
        // Yearly steps: 2000 kWh billed before, so 160 at 0.5 and 340 at 0.55 = 267.
        bill("B_Y_JAN", "Y_OK", "2026-01", "1000", "500", "RY", "", "", "2026-02-25"),
        bill("B_Y_FEB", "Y_OK", "2026-02", "1000", "500", "RY", "", "", "2026-03-25"),
        bill("B_Y_OK", "Y_OK", "2026-03", "500", "267", "RY", "", "", "2026-04-25"),
        bill("B_YF_JAN", "Y_FLAT", "2026-01", "1000", "500", "RY", "", "", "2026-02-25"),
        bill("B_YF_FEB", "Y_FLAT", "2026-02", "1000", "500", "RY", "", "", "2026-03-25"),
        bill("B_Y_FLAT", "Y_FLAT", "2026-03", "500", "250", "RY", "", "", "2026-04-25"),
        // 1000 x 0.6 + 200 kVA x 20 - 12.34 = 4587.66.
        bill("B_I_OK", "I_OK", "2026-03", "1000", "4587.66", "I1", "4000", "-12.34", "2026-04-25"),
        bill("B_I_NOKVA", "I_NOKVA", "2026-03", "1000", "1", "I1", "", "0", "2026-04-25"),
    ];
    ds.extra.push(("bills.csv", BILLS, rows));
    let dir = ds.import(tmp.path());
    let found = audit(&dir, "PRC-BILL");
    assert_eq!(ids(&found), set(&["B_R_OUT", "B_C_OUT", "B_C_OLD", "B_Y_FLAT"]));
    let old = found.iter().find(|f| f.entity_id == "B_C_OLD").unwrap();
    assert_eq!(old.amount_at_risk, Some(500.0));
    assert_eq!(old.evidence["recomputed"], 7000.0);
}

#[test]
fn prc_basic_pf_and_category() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    tariffs(&mut ds);
    ds.customer_as("I_EMPTY", "industrial", "I1", "10kV", "200", "S01");
    ds.customer_as("I_ZERO", "industrial", "I1", "10kV", "200", "S01");
    ds.customer_as("I_PAID", "industrial", "I1", "10kV", "200", "S01");
    ds.customer_as("C_99", "commercial", "C1", "380V", "99", "S01");
    ds.customer_as("C_100", "commercial", "C1", "380V", "100", "S01");
    ds.customer_as("R_200", "resident", "R1", "220V", "200", "S01");
    // A resident on a commercial tariff.
    ds.customer_as("WRONG", "resident", "C1", "220V", "", "S01");
    let rows = vec![
        bill("B_I_EMPTY", "I_EMPTY", "2026-03", "1000", "600", "I1", "", "0", "2026-04-25"),
        bill("B_I_ZERO", "I_ZERO", "2026-03", "1000", "600", "I1", "0", "", "2026-04-25"),
        bill("B_I_PAID", "I_PAID", "2026-03", "1000", "4600", "I1", "4000", "0", "2026-04-25"),
        bill("B_C_99", "C_99", "2026-03", "100", "70", "C1", "", "", "2026-04-25"),
        bill("B_C_100", "C_100", "2026-03", "100", "70", "C1", "", "", "2026-04-25"),
        bill("B_R_200", "R_200", "2026-03", "100", "50", "R1", "", "", "2026-04-25"),
    ];
    ds.extra.push(("bills.csv", BILLS, rows));
    let dir = ds.import(tmp.path());
    let basic = audit(&dir, "PRC-BASIC");
    assert_eq!(ids(&basic), set(&["B_I_EMPTY", "B_I_ZERO"]));
    assert_eq!(basic[0].amount_at_risk, Some(4000.0));
    // 0 is a legal adjustment; an empty one is not applied.
    assert_eq!(ids(&audit(&dir, "PRC-PF")), set(&["B_I_ZERO", "B_C_100"]));
    assert_eq!(ids(&audit(&dir, "PRC-CATEGORY")), set(&["WRONG"]));
}

#[test]
fn prc_kwh_against_a_fully_known_month() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    let march = ("2026-03-01", "2026-03-31");
    for id in ["K_IN", "K_OUT", "K_SMALL_IN", "K_SMALL_OUT", "K_GAP"] {
        ds.customer(id, "active", "2020-01-01", "", "", "");
    }
    ds.usage("K_IN", march.0, march.1, |_| Some(10.0));
    ds.usage("K_OUT", march.0, march.1, |_| Some(10.0));
    ds.usage("K_SMALL_IN", march.0, march.1, |_| Some(1.0));
    ds.usage("K_SMALL_OUT", march.0, march.1, |_| Some(1.0));
    ds.usage("K_GAP", march.0, march.1, |d| (d != common::day("2026-03-20")).then_some(10.0));
    let rows = vec![
        bill("B_IN", "K_IN", "2026-03", "313.1", "156.55", "R1", "", "", "2026-04-25"), // 1% of 310
        bill("B_OUT", "K_OUT", "2026-03", "306.89", "153.45", "R1", "", "", "2026-04-25"),
        bill("B_SMALL_IN", "K_SMALL_IN", "2026-03", "32", "16", "R1", "", "", "2026-04-25"), // 1 kWh
        bill("B_SMALL_OUT", "K_SMALL_OUT", "2026-03", "32.01", "16", "R1", "", "", "2026-04-25"),
        bill("B_GAP", "K_GAP", "2026-03", "0", "0", "R1", "", "", "2026-04-25"),
    ];
    ds.extra.push(("bills.csv", BILLS, rows));
    let dir = ds.import(tmp.path());
    let found = audit(&dir, "PRC-KWH");
    assert_eq!(ids(&found), set(&["B_OUT", "B_SMALL_OUT"]));
}

#[test]
fn fee_arrears_and_recovery() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    for (id, st) in
        [("A", "S01"), ("B", "S01"), ("C", "S01"), ("D", "S01"), ("E", "S01"), ("F", "S02"), ("G", "S02")]
    {
        ds.customer_as(id, "resident", "R1", "220V", "", st);
    }
    // As-of 2026-04-01: due 03-01 is 31 days before it, due 03-02 only 30.
    let rows = vec![
        bill("B_A", "A", "2026-01", "200", "100", "R1", "", "", "2026-03-01"), // paid 99.98: fires
        bill("B_B", "B", "2026-01", "200", "100", "R1", "", "", "2026-03-01"), // paid 99.99: not
        bill("B_C", "C", "2026-01", "200", "100", "R1", "", "", "2026-03-02"), // 30 days: not
        bill("B_D", "D", "2026-01", "200", "100", "R1", "", "", "2026-03-01"), // paid after as-of: fires
        bill("B_E", "E", "2026-01", "0", "-10", "R1", "", "", "2026-03-01"),   // refund: ignored
        bill("B_F", "F", "2026-02", "2000", "1000", "R1", "", "", "2026-03-25"), // S02 due in March
        bill("B_G", "G", "2026-02", "2000", "1000", "R1", "", "", "2026-03-25"),
    ];
    let pays = vec![
        "P1,B_A,2026-03-05,99.98".to_string(),
        "P2,B_B,2026-03-05,99.99".to_string(),
        "P3,B_D,2026-04-02,100".to_string(),
        // S02: 1000 + 989.99 of 2000 recovered, one bill overpaid does not cover the other.
        "P4,B_F,2026-03-20,1000".to_string(),
        "P5,B_F,2026-03-21,10".to_string(),
        "P6,B_G,2026-03-20,989.99".to_string(),
    ];
    ds.extra.push(("bills.csv", BILLS, rows));
    ds.extra.push(("payments.csv", "payment_id,bill_id,paid_on,amount", pays));
    let dir = ds.import(tmp.path());
    let arrears = audit(&dir, "FEE-ARREARS");
    assert_eq!(ids(&arrears), set(&["B_A", "B_D"]));
    // Run together, side by side and sharing what was paid per bill, they find the same.
    let both = audit_all(&dir, &["FEE-ARREARS", "FEE-RECOVERY"]);
    let alone: Vec<_> =
        arrears.iter().chain(&audit(&dir, "FEE-RECOVERY")).map(|f| f.finding_id.clone()).collect();
    assert_eq!(both.iter().map(|f| f.finding_id.clone()).collect::<Vec<_>>(), alone);
    assert_eq!(both[0].amount_at_risk, arrears[0].amount_at_risk);
    let a = arrears.iter().find(|f| f.entity_id == "B_A").unwrap();
    assert_eq!(a.amount_at_risk, Some(0.02));
    let recovery = audit(&dir, "FEE-RECOVERY");
    // S01 has bills due in March (B_A..B_E) — B_A..B_D fall due 03-01/02 and are partly paid.
    let s02 = recovery.iter().find(|f| f.entity_id == "S02").expect("S02 below 99.5%");
    assert_eq!(s02.evidence["amount_paid"], 1989.99);
    assert_eq!(s02.amount_at_risk, Some(10.01));
}

#[test]
fn bill_ids_of_any_length_are_matched_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    ds.customer_as("A", "resident", "R1", "220V", "", "S01");
    // Ids of 16 bytes and longer, one the other's start; Chinese ids (three bytes a character).
    let bill_ids = [
        "2024090245393929",
        "2024090245393929-2",
        "2024090245393929-20",
        "账单-长编号-0000001",
        "账单-长编号-0000002",
        "B",
    ];
    let rows = bill_ids
        .iter()
        .map(|id| bill(id, "A", "2026-01", "200", "100", "R1", "", "", "2026-03-01"))
        .collect::<Vec<_>>();
    let pays = vec![
        "P1,2024090245393929,2026-03-05,100".to_string(),
        "P2,账单-长编号-0000001,2026-03-05,99.98".to_string(),
        "P3,账单-长编号-0000002,2026-03-05,60".to_string(),
        "P4,账单-长编号-0000002,2026-03-06,40".to_string(),
        "P5,2024090245393929-20,2026-03-05,100".to_string(),
    ];
    ds.extra.push(("bills.csv", BILLS, rows));
    ds.extra.push(("payments.csv", "payment_id,bill_id,paid_on,amount", pays));
    let dir = ds.import(tmp.path());
    let arrears = audit(&dir, "FEE-ARREARS");
    assert_eq!(ids(&arrears), set(&["2024090245393929-2", "账单-长编号-0000001", "B"]));
    let paid = |id: &str| arrears.iter().find(|f| f.entity_id == id).unwrap().evidence["paid"].clone();
    assert_eq!(paid("账单-长编号-0000001"), 99.98);
    assert_eq!(paid("2024090245393929-2"), 0.0);
}

#[test]
fn recovery_rate_exactly_at_the_threshold_is_not_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    ds.customer_as("F", "resident", "R1", "220V", "", "S02");
    ds.customer_as("G", "resident", "R1", "220V", "", "S01");
    let rows = vec![
        bill("B_F", "F", "2026-02", "2000", "1000", "R1", "", "", "2026-03-25"),
        bill("B_G", "G", "2026-02", "2000", "1000", "R1", "", "", "2026-03-25"),
    ];
    let pays = vec!["P1,B_F,2026-03-20,995".to_string(), "P2,B_G,2026-03-20,994.99".to_string()];
    ds.extra.push(("bills.csv", BILLS, rows));
    ds.extra.push(("payments.csv", "payment_id,bill_id,paid_on,amount", pays));
    let dir = ds.import(tmp.path());
    assert_eq!(ids(&audit(&dir, "FEE-RECOVERY")), set(&["S01"]));
}

#[test]
fn meter_themes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    ds.customer_as("LOW", "resident", "R1", "220V", "", "S01");
    ds.customer_as("HIGH", "industrial", "R1", "10kV", "", "S01");
    ds.customer_as("NOVOLT", "resident", "R1", "", "", "S01");
    let m =
        |id: &str, c: &str, mult: &str, ct: &str, pt: &str, inst: &str, rem: &str, ver: &str, seal: &str| {
            format!("{id},{c},{mult},{ct},{pt},{inst},{rem},{ver},{seal}")
        };
    ds.meters = vec![
        // As-of 2026-04-01; low voltage: 8 calendar years.
        m("L_DUE", "LOW", "1", "", "", "2010-01-01", "", "2018-04-01", "S1"), // due on the as-of date: not yet
        m("L_OVER", "LOW", "1", "", "", "2010-01-01", "", "2018-03-31", "S1"),
        m("L_REMOVED", "LOW", "1", "", "", "2010-01-01", "2026-03-20", "2010-01-01", "S1"),
        m("H_OVER", "HIGH", "40", "200/5", "", "2010-01-01", "", "2020-03-31", "S1"),
        m("H_DUE", "HIGH", "30", "200/5", "", "2020-04-01", "", "", "S1"), // installed counts when never verified
        m("N_OVER", "NOVOLT", "2000", "100/5", "10000/100", "2020-03-31", "", "", ""), // empty voltage is high
        m("N_BADMULT", "NOVOLT", "20", "100/5", "10000/100", "2024-01-01", "", "", "S1"),
        m("N_BADCT", "NOVOLT", "7", "abc", "", "2024-01-01", "", "", "S1"),
        m("N_BADPT", "NOVOLT", "7", "100/5", "x", "2024-01-01", "", "", "S1"),
    ];
    ds.extra.push((
        "field_checks.csv",
        "check_id,customer_id,checked_on,seal_intact",
        vec![
            // HIGH: the later check (larger id on the same day) has the seal intact.
            "K1,HIGH,2026-03-10,0".to_string(),
            "K2,HIGH,2026-03-10,1".to_string(),
            // LOW: latest check found the seal broken.
            "K3,LOW,2026-02-01,1".to_string(),
            "K4,LOW,2026-03-01,0".to_string(),
            // NOVOLT: an empty seal_intact is not a finding.
            "K5,NOVOLT,2026-03-01,".to_string(),
        ],
    ));
    let dir = ds.import(tmp.path());
    assert_eq!(ids(&audit(&dir, "MTR-OVERDUE")), set(&["L_OVER", "H_OVER", "N_OVER"]));
    assert_eq!(ids(&audit(&dir, "MTR-MULTIPLIER")), set(&["H_DUE", "N_BADMULT"]));
    // LOW's meters in service (the removed one is not), and N_OVER without seals.
    assert_eq!(ids(&audit(&dir, "MTR-SEAL")), set(&["L_DUE", "L_OVER", "N_OVER"]));
}

#[test]
fn themes_asking_for_one_shared_result_at_once_compute_it_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = DataSet::default();
    ds.customer_as("A", "resident", "R1", "220V", "", "S01");
    let session = jicha_engine::Session::open(&ds.import(tmp.path())).unwrap();
    let calls = AtomicUsize::new(0);
    let got: Vec<u64> = std::thread::scope(|s| {
        let asks: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    *session
                        .memo("shared", || {
                            calls.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            Ok(7u64)
                        })
                        .unwrap()
                })
            })
            .collect();
        asks.into_iter().map(|a| a.join().unwrap()).collect()
    });
    assert_eq!(got, vec![7; 4]);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A failed computation is not kept: the next one asking computes it again.
    let failed = session.memo::<u64>("flaky", || Err(jicha_engine::EngineError::Internal("x".into())));
    assert!(failed.is_err());
    assert_eq!(*session.memo("flaky", || Ok(3u64)).unwrap(), 3);
}
