//! End to end: a generated county imported and audited month by month finds exactly the planted
//! anomalies of `ground-truth.jsonl` (precision and recall 1.0) for every implemented theme.

use std::collections::BTreeSet;

use jicha_core::calendar::Period;
use jicha_engine::audit::{Outcome, run, select};
use jicha_engine::themes::registry;
use jicha_engine::{Session, Window};
use jicha_ingest::pipeline::NoProgress;
use jicha_ingest::{ImportOutcome, import};
use jicha_sim::GenerateOptions;
use jicha_store::DataDir;

#[test]
fn generated_county_is_found_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let county = tmp.path().join("county");
    let opts = GenerateOptions {
        out: county.clone(),
        customers: 600,
        stations: 3,
        months: 3,
        seed: 11,
        ..GenerateOptions::default()
    };
    jicha_sim::generate(&opts, &jicha_sim::NoProgress).expect("generation succeeds");
    let dir = DataDir::new(tmp.path().join("data"));
    match import(&dir, &county, &NoProgress).expect("import runs") {
        ImportOutcome::Committed { .. } => {}
        ImportOutcome::Rejected { rejection, .. } => {
            panic!("rejected: {:?}", rejection.problems.first().map(ToString::to_string))
        }
    }
    let codes: BTreeSet<&str> = registry().iter().map(|t| t.code()).collect();
    let truth_text = std::fs::read_to_string(county.join("ground-truth.jsonl")).unwrap();
    let mut truth = BTreeSet::new();
    let mut periods = BTreeSet::new();
    for line in truth_text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        periods.insert(s("period"));
        if codes.contains(s("theme").as_str()) && v.get("date").is_none() {
            truth.insert((s("theme"), s("entity_type"), s("entity_id"), s("period")));
        }
    }
    let mut session = Session::open(&dir).unwrap();
    let themes = select(&[]).unwrap();
    let mut found = BTreeSet::new();
    let start = Period::parse("2026-01").unwrap();
    let mut p = start;
    for _ in 0..3 {
        let result = run(&mut session, Window::new(p, None), &themes).unwrap();
        for t in &result.themes {
            assert!(matches!(t.outcome, Outcome::Ran { .. }), "{} ran: {:?}", t.code, t.outcome);
        }
        for f in result.findings {
            found.insert((f.theme.to_string(), f.entity_type.code().to_string(), f.entity_id, f.period));
        }
        p = p.next();
    }
    let missed: Vec<_> = truth.difference(&found).collect();
    let extra: Vec<_> = found.difference(&truth).collect();
    let planted: BTreeSet<&str> = truth.iter().map(|t| t.0.as_str()).collect();
    eprintln!("themes with planted findings: {planted:?}; truth {} found {}", truth.len(), found.len());
    assert!(
        missed.is_empty() && extra.is_empty(),
        "missed (recall) {missed:#?}\nextra (precision) {extra:#?}"
    );
}
