//! Assessment: a result published, the data corrected, a new version published beside it, the
//! old one unchanged (and the database refusing to change it).

mod common;

use jicha_engine::assessment::{Assessment, Scheme};
use jicha_flow::assess;
use jicha_ingest::pipeline::NoProgress;
use jicha_ingest::{ImportOutcome, import};
use jicha_store::DataDir;

#[test]
fn a_published_assessment_never_changes_and_a_correction_publishes_a_new_version() {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::small_county(tmp.path(), 400, 9);
    let dir = DataDir::new(&root);
    let app = jicha_web::App::new(&root).unwrap();
    let flow = jicha_flow::Flow::new(&root);
    let admin = jicha_flow::Actor::system();
    let mut conn = flow.connect().unwrap();

    // No scheme yet: nothing to score, said plainly.
    let none = jicha_web::assess::compute(&app, "2026-02").unwrap_err();
    assert!(none.message.contains("考核方案"), "{}", none.message);
    Scheme::parse(Scheme::example()).unwrap();
    assess::save_scheme(&mut conn, &admin, Scheme::example(), "2025-01").unwrap();
    // The scheme of February 2026: the newest version valid by then.
    let scheme_2026 = r#"{"items": [
        {"code": "reliability", "weight": 60, "target": 0.9995, "rule": "linear", "floor": 0.5},
        {"code": "loss_rate", "weight": 40, "target": 0.06, "rule": "deduct", "per": 0.01, "points": 5}],
      "deductions": [{"theme": "LATE-ORDER", "points": 2}, {"theme": "PRC-KWH", "points": 0.5, "person": true}]}"#;
    Scheme::parse(scheme_2026).unwrap();
    assess::save_scheme(&mut conn, &admin, scheme_2026, "2026-01").unwrap();

    let (a1, scheme, data1) = jicha_web::assess::compute(&app, "2026-02").unwrap();
    assert_eq!(a1.stations.len(), 2);
    assert_eq!(a1.stations[0].rank, 1);
    assert_eq!(scheme, 2, "the scheme valid in February");
    assert!(a1.stations.iter().all(|s| s.lines.len() >= 2), "every scheme item explained");
    assert!(a1.stations[0].lines[0].how.contains("供电可靠率"), "{:?}", a1.stations[0].lines[0]);
    let body1 = serde_json::to_string(&a1).unwrap();
    let v1 = assess::publish(&mut conn, &admin, "2026-02", scheme, &data1, &body1).unwrap();
    assert_eq!(v1.version, 1);

    // A correction: a ten-day outage on an area of the first station in February.
    let (area, station): (String, String) = rusqlite::Connection::open(dir.database())
        .unwrap()
        .query_row("SELECT tq_id, station_id FROM transformer_areas ORDER BY tq_id LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let fix = tmp.path().join("fix");
    std::fs::create_dir_all(&fix).unwrap();
    std::fs::write(
        fix.join("outages.csv"),
        format!(
            "outage_id,scope_type,scope_id,start_at,end_at,planned,customers_affected\nFIX1,tq,{area},2026-02-03 00:00,2026-02-13 00:00,0,200\n"
        ),
    )
    .unwrap();
    assert!(matches!(import(&dir, &fix, &NoProgress).unwrap(), ImportOutcome::Committed { .. }));

    let (a2, _, data2) = jicha_web::assess::compute(&app, "2026-02").unwrap();
    assert_ne!(data1, data2, "computed on the corrected data");
    let score = |a: &Assessment| a.stations.iter().find(|s| s.id == station).unwrap().score;
    assert!(score(&a2) < score(&a1), "the outage costs the station reliability points");
    let body2 = serde_json::to_string(&a2).unwrap();
    let v2 = assess::publish(&mut conn, &admin, "2026-02", scheme, &data2, &body2).unwrap();
    assert_eq!(v2.version, 2);

    let kept = assess::published(&conn, "2026-02").unwrap();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[1].version, 1);
    assert_eq!(kept[1].body, body1, "version 1 unchanged");
    assert_eq!(kept[0].body, body2);
    // The database itself refuses to rewrite or drop a published result.
    assert!(conn.execute("UPDATE assessments SET body = '{}' WHERE version = 1", []).is_err());
    assert!(conn.execute("DELETE FROM assessments", []).is_err());
    assert_eq!(assess::published(&conn, "2026-02").unwrap()[1].body, body1);
    // Only administrators and auditors publish; only administrators edit schemes.
    let staff =
        jicha_flow::Actor { role: jicha_flow::Role::StationStaff, station_id: Some(station), ..admin };
    assert!(assess::publish(&mut conn, &staff, "2026-02", scheme, &data2, &body2).is_err());
    assert!(assess::save_scheme(&mut conn, &staff, Scheme::example(), "2026-03").is_err());
    drop(app);
}
