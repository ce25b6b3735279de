//! What the web tests share: one generated, imported and audited county, and a fresh closed loop
//! with a user of every role over it.
#![allow(dead_code)]

use std::sync::OnceLock;

use jicha_core::calendar::Period;
use jicha_engine::audit::{Catalogue, run};
use jicha_engine::{Session, Window};
use jicha_flow::{Actor, Flow, Role, users};
use jicha_ingest::pipeline::NoProgress;
use jicha_ingest::{ImportOutcome, import};
use jicha_sim::GenerateOptions;
use jicha_store::DataDir;

/// Every test user's password.
pub const PASSWORD: &str = "password-123";

/// The county.
pub struct County {
    _tmp: tempfile::TempDir,
    /// Its data dir.
    pub root: std::path::PathBuf,
    /// Stations with findings, sorted.
    pub stations: Vec<String>,
}

/// One county for every test (generation, import and audit take a few seconds).
pub fn county() -> &'static County {
    static C: OnceLock<County> = OnceLock::new();
    // Built on a thread of its own: the query engine runs its own runtime, which cannot start
    // inside the test's.
    C.get_or_init(|| std::thread::spawn(make_county).join().unwrap())
}

fn make_county() -> County {
    {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("county");
        let opts = GenerateOptions {
            out: src.clone(),
            customers: 1200,
            stations: 2,
            months: 2,
            seed: 3,
            start: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            ..GenerateOptions::default()
        };
        jicha_sim::generate(&opts, &jicha_sim::NoProgress).unwrap();
        let root = tmp.path().join("data");
        let dir = DataDir::new(&root);
        assert!(matches!(import(&dir, &src, &NoProgress).unwrap(), ImportOutcome::Committed { .. }));
        let cat = Catalogue::builtin();
        let themes = cat.select(&[], false).unwrap();
        let mut session = Session::open(&dir).unwrap();
        let result =
            run(&mut session, Window::new(Period::parse("2026-02").unwrap(), None), &cat, &themes).unwrap();
        jicha_engine::store::keep(&session, &result, "2026-03-01 08:00:00").unwrap();
        let mut stations: Vec<String> = result.findings.iter().filter_map(|f| f.station_id.clone()).collect();
        stations.sort();
        stations.dedup();
        assert!(stations.len() >= 2, "findings in both stations");
        County { _tmp: tmp, root, stations }
    }
}

/// Removes the closed loop of the county and makes the users: admin, auditor, manager, staff_a
/// and head_a (first station), staff_b (second).
pub fn fresh_flow(c: &County) {
    let flow = Flow::new(&c.root);
    for f in ["flow.sqlite", "flow.sqlite-wal", "flow.sqlite-shm"] {
        let _ = std::fs::remove_file(c.root.join(f));
    }
    let _ = std::fs::remove_dir_all(flow.files_dir());
    let mut conn = flow.open().unwrap();
    let sys = Actor::system();
    let (a, b) = (c.stations[0].as_str(), c.stations[1].as_str());
    for (name, role, station) in [
        ("admin", Role::Admin, None),
        ("auditor", Role::Auditor, None),
        ("manager", Role::Manager, None),
        ("staff_a", Role::StationStaff, Some(a)),
        ("head_a", Role::StationHead, Some(a)),
        ("staff_b", Role::StationStaff, Some(b)),
    ] {
        users::add(&mut conn, &sys, name, name, role, station, PASSWORD).unwrap();
    }
}

/// A small county of its own (two stations, January and February 2026) generated and imported
/// under `tmp`: returns the data dir's root. For tests that change the stored data.
pub fn small_county(tmp: &std::path::Path, customers: usize, seed: u64) -> std::path::PathBuf {
    let src = tmp.join("county");
    let opts = GenerateOptions {
        out: src.clone(),
        customers,
        stations: 2,
        months: 2,
        seed,
        start: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        ..GenerateOptions::default()
    };
    jicha_sim::generate(&opts, &jicha_sim::NoProgress).unwrap();
    let root = tmp.join("data");
    assert!(matches!(
        import(&DataDir::new(&root), &src, &NoProgress).unwrap(),
        ImportOutcome::Committed { .. }
    ));
    root
}
