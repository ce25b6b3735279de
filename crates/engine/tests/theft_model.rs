//! LOSS-THEFT with the theft model: a generated county with 13 months, so the year the model
//! reads is stored for the last month.

use std::collections::BTreeSet;

use jicha_core::calendar::Period;
use jicha_engine::audit::{Catalogue, run};
use jicha_engine::columns::{float_array, text};
use jicha_engine::{Session, Window};
use jicha_ingest::pipeline::NoProgress;
use jicha_ingest::{ImportOutcome, import};
use jicha_sim::GenerateOptions;
use jicha_store::DataDir;
use jicha_theft::Model;

#[test]
fn the_model_scores_a_year_of_stored_data_and_the_planted_thieves_stay_suspected() {
    let tmp = tempfile::tempdir().unwrap();
    let county = tmp.path().join("county");
    let opts = GenerateOptions {
        out: county.clone(),
        customers: 1500,
        stations: 2,
        months: 13,
        seed: 5,
        start: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        ..GenerateOptions::default()
    };
    jicha_sim::generate(&opts, &jicha_sim::NoProgress).expect("generation succeeds");
    let dir = DataDir::new(tmp.path().join("data"));
    assert!(matches!(
        import(&dir, &county, &NoProgress).expect("import runs"),
        ImportOutcome::Committed { .. }
    ));
    let period = Period::parse("2026-01").unwrap();
    let truth = std::fs::read_to_string(county.join("ground-truth.jsonl")).unwrap();
    // The planted thieves of the month whose theft started in the last three months (the ground
    // truth lists a thief in every month from its start), and all of them: an older theft is in
    // the month's baseline already and shows only in the year view (the level against the year's
    // earlier quarters, relative to the area's median customer).
    let planted: Vec<(String, String)> = truth
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["theme"] == "LOSS-THEFT")
        .map(|v| (v["entity_id"].as_str().unwrap().to_string(), v["period"].as_str().unwrap().to_string()))
        .collect();
    let thieves: BTreeSet<String> = planted
        .iter()
        .filter(|(id, p)| {
            p == "2026-01" && planted.iter().filter(|(i, _)| i == id).all(|(_, q)| q.as_str() >= "2025-10")
        })
        .map(|(id, _)| id.clone())
        .collect();

    let cat = Catalogue::builtin();
    let theft = cat.select(&["LOSS-THEFT".into()], false).unwrap();
    let mut session = Session::open(&dir).unwrap();
    let result = run(&mut session, Window::new(period, None), &cat, &theft).unwrap();
    let suspects: BTreeSet<String> = result.findings.iter().map(|f| f.entity_id.clone()).collect();
    let caught = thieves.intersection(&suspects).count();
    eprintln!(
        "{} thieves planted in 2026-01, {caught} suspected; {} suspects",
        thieves.len(),
        suspects.len()
    );
    if std::env::var("JICHA_DEBUG_THEFT").is_ok() {
        let all = everyone_listed();
        let r = run(&mut session, Window::new(period, None), &all, &theft).unwrap();
        let mut by_score: Vec<_> = r.findings.iter().collect();
        by_score.sort_by(|a, b| {
            b.evidence["score"].as_f64().unwrap().total_cmp(&a.evidence["score"].as_f64().unwrap())
        });
        for (rank, f) in by_score.iter().enumerate() {
            if thieves.contains(&f.entity_id) || rank < 8 {
                eprintln!("rank {rank} thief={} {:?}", thieves.contains(&f.entity_id), f.evidence);
            }
        }
        for l in truth.lines().filter(|l| l.contains("LOSS-THEFT") && l.contains("2026-01")) {
            eprintln!("{l}");
        }
    }
    let all_thieves: BTreeSet<String> =
        planted.iter().filter(|(_, p)| p == "2026-01").map(|(id, _)| id.clone()).collect();
    let caught_all = all_thieves.intersection(&suspects).count();
    eprintln!(
        "all thieves of 2026-01 (any start): {} planted, {caught_all} suspected; {} suspects are planted thieves",
        all_thieves.len(),
        suspects.intersection(&all_thieves).count()
    );
    assert!(!thieves.is_empty());
    assert!(caught * 10 >= thieves.len() * 8, "the planted thieves stay suspected");
    assert!(caught_all * 10 >= all_thieves.len() * 8, "older thefts are found through the year view");
    // A short list: the model's share of the run, not a flood.
    assert!(suspects.len() <= 60, "{} suspects of 1500 customers", suspects.len());
    // With a year stored, the model scores, and its evidence is there.
    assert!(
        result
            .findings
            .iter()
            .any(|f| f.evidence.contains_key("model_score") && f.evidence.contains_key("model_probability"))
    );
    for f in &result.findings {
        let score = f.evidence["score"].as_f64().unwrap();
        let rule = f.evidence["rule_score"].as_f64().unwrap();
        let model = f.evidence.get("model_probability").and_then(|v| v.as_f64()).unwrap_or(0.0);
        assert!((score - rule.max(model)).abs() < 1e-3, "the higher of rule and model: {:?}", f.evidence);
    }

    // The year's scan is kept for a rerun: the rerun gives the same findings from it, and so
    // does a run whose kept scan was spoilt (scored again).
    let kept_dir = dir.root().join("cache/theft");
    let kept = || -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(&kept_dir).unwrap().flatten().map(|e| e.path()).collect();
        v.sort();
        v
    };
    let first_kept = kept();
    assert_eq!(first_kept.len(), 1, "{first_kept:?}");
    let json = |r: &jicha_engine::audit::AuditRun| serde_json::to_string(&r.findings).unwrap();
    let again = run(&mut session, Window::new(period, None), &cat, &theft).unwrap();
    assert_eq!(json(&again), json(&result), "a rerun gives the same findings");
    std::fs::write(&first_kept[0], b"JCYEAR01 cut short").unwrap();
    let spoilt = run(&mut session, Window::new(period, None), &cat, &theft).unwrap();
    assert_eq!(json(&spoilt), json(&result), "a spoilt kept scan is scored again");
    // New days for a customer outside the suspects (its registers standing still through
    // January): the kept scan is of the old year and is not read; a run with every customer
    // listed (their model scores in the evidence) gives what a run without any kept scan gives.
    let quiet = scored_ids(&dir, period).into_iter().find(|id| !suspects.contains(id)).unwrap();
    let score_of = |id: &str| {
        let scored = jicha_engine::theft::score_stored(&dir, period, Model::builtin()).unwrap();
        scored.into_iter().find(|s| s.0 == id).unwrap().1
    };
    let before = score_of(&quiet);
    let more = tmp.path().join("more");
    std::fs::create_dir_all(&more).unwrap();
    let mut readings = String::from("meter_id,date,total,peak,flat,valley\n");
    let sql = format!(
        "SELECT r.meter_id, r.total FROM readings r JOIN meters m ON m.meter_id = r.meter_id
         WHERE m.customer_id = '{quiet}' AND r.date = DATE '2025-12-31' AND r.total IS NOT NULL"
    );
    session.require(&["meters", "readings"]).unwrap();
    for b in session.run(&sql, "test").unwrap() {
        let (ids, totals) = (text(&b, "meter_id").unwrap(), float_array(&b, "total").unwrap());
        for (i, id) in ids.iter().enumerate() {
            for d in 1..=31 {
                readings.push_str(&format!("{id},2026-01-{d:02},{:.2},,,\n", totals.value(i)));
            }
        }
    }
    assert!(readings.lines().count() > 1, "{quiet} has a meter read on 2025-12-31");
    std::fs::write(more.join("readings.csv"), readings).unwrap();
    assert!(matches!(import(&dir, &more, &NoProgress).unwrap(), ImportOutcome::Committed { .. }));
    assert_ne!(score_of(&quiet), before, "{quiet}'s year changed");
    let everyone = everyone_listed();
    let after = run(&mut Session::open(&dir).unwrap(), Window::new(period, None), &everyone, &theft).unwrap();
    assert!(after.findings.iter().any(|f| f.entity_id == quiet && f.evidence.contains_key("model_score")));
    assert_eq!(kept().len(), 2, "a new kept scan for the new year");
    std::fs::remove_dir_all(&kept_dir).unwrap();
    let fresh = run(&mut Session::open(&dir).unwrap(), Window::new(period, None), &everyone, &theft).unwrap();
    assert_eq!(json(&after), json(&fresh), "the new year scored, not the old one read");

    // `jicha theft score --period`: every customer with consumption, with signals in words.
    let scored = jicha_engine::theft::score_stored(&dir, period, Model::builtin()).unwrap();
    assert!(scored.len() >= 450, "{}", scored.len());
    assert!(scored.iter().all(|s| (0.0..=1.0).contains(&s.1)));
    let best = scored.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert!(best.2.contains('：') && best.2.contains(" / "), "signals in Chinese and English: {}", best.2);
    // A month whose year is not stored is refused with the dates.
    let err = jicha_engine::theft::score_stored(&dir, Period::parse("2025-06").unwrap(), Model::builtin())
        .unwrap_err()
        .to_string();
    assert!(err.contains("2025-01-01") && err.contains("2024-07-01"), "{err}");
    // So is a month past the stored data: every customer would lack its last months.
    let err = jicha_engine::theft::score_stored(&dir, Period::parse("2026-06").unwrap(), Model::builtin())
        .unwrap_err()
        .to_string();
    assert!(err.contains("2025-07-01 至 2026-06-30") && err.contains("to 2026-02-0"), "{err}");
}

/// The customers `jicha theft score --period` scores, best first.
fn scored_ids(dir: &DataDir, period: Period) -> Vec<String> {
    let mut scored = jicha_engine::theft::score_stored(dir, period, Model::builtin()).unwrap();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.into_iter().map(|s| s.0).collect()
}

/// The catalogue with LOSS-THEFT listing every customer it scores (top share 1, no lowest score).
fn everyone_listed() -> Catalogue {
    let mut cat = Catalogue::builtin();
    cat.config = jicha_engine::config::Config::parse(
        std::path::Path::new("jicha.toml"),
        "[themes.LOSS-THEFT]\ntop_share = 1.0\nmin_score = 0.0\n",
        jicha_engine::themes::registry(),
    )
    .unwrap();
    cat
}
