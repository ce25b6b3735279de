//! `jicha theft train|score|evaluate` on a wide daily file as a user runs them.

use std::fmt::Write as _;
use std::path::Path;

mod common;
use common::{jicha, run};

/// A labelled wide file in the research layout (CONS_NO, DD-MM-YY headers, CHK_STATE): thieves'
/// consumption falls to a fifth part-way through the year and has zero runs; the others follow
/// the season.
fn labelled(path: &Path, customers: usize) {
    let mut t = String::from("CONS_NO");
    let first = chrono::NaiveDate::from_ymd_opt(2015, 1, 1).unwrap();
    for d in 0..365 {
        write!(t, ",{}", (first + chrono::Days::new(d)).format("%d-%m-%y")).unwrap();
    }
    t.push_str(",CHK_STATE\n");
    let mut seed = 7u64;
    let mut rnd = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as f64 / (1u64 << 31) as f64
    };
    for c in 0..customers {
        let thief = c % 3 == 0;
        let level = 3.0 + 20.0 * rnd();
        let fall = 60 + (rnd() * 240.0) as usize;
        write!(t, "{}", 4_000_000_000u64 + c as u64 * 7919).unwrap();
        for d in 0..365usize {
            let season = 1.0 + 0.4 * ((d as f64) / 365.0 * std::f64::consts::PI).sin();
            let mut v = level * season * (0.8 + 0.4 * rnd());
            if thief && d >= fall {
                v *= if (d / 9) % 4 == 0 { 0.0 } else { 0.2 };
            }
            if rnd() < 0.05 {
                t.push(',');
            } else {
                write!(t, ",{v:.2}").unwrap();
            }
        }
        writeln!(t, ",{}", u8::from(thief)).unwrap();
    }
    std::fs::write(path, t).unwrap();
}

#[test]
fn train_score_and_evaluate_a_labelled_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = tmp.path().join("daily.csv");
    labelled(&input, 240);
    let model = tmp.path().join("model.json");
    let out = run(jicha(&data)
        .args(["theft", "train", "--label-column", "CHK_STATE", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&model));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("已训练"));
    assert!(model.exists());

    let scores = tmp.path().join("scores.csv");
    let out = run(jicha(&data)
        .args(["theft", "score", "--input"])
        .arg(&input)
        .arg("--model")
        .arg(&model)
        .arg("--out")
        .arg(&scores));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&scores).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("customer_id,score,rank,signals"));
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(text.as_bytes()).records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 240);
    // Ranked: rank 1 first, scores falling.
    assert_eq!(&rows[0][2], "1");
    assert!(rows.windows(2).all(|w| w[0][1].parse::<f64>().unwrap() >= w[1][1].parse::<f64>().unwrap()));
    // The thieves (every third customer) are the top of the list, with reasons in both languages.
    let thief = |id: &str| (id.parse::<u64>().unwrap() - 4_000_000_000) / 7919 % 3 == 0;
    let top = rows.iter().take(60).filter(|r| thief(&r[0])).count();
    assert!(top >= 55, "{top} of the top 60 are thieves");
    assert!(rows[0][3].contains('：') && rows[0][3].contains(" / "), "{}", &rows[0][3]);
    // The inspection budget: more thefts expected for more inspections.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("检查评分最高的 10 户") && err.contains("inspect the top 100"), "{err}");

    // The built-in model scores the same file too.
    let builtin = tmp.path().join("builtin.csv");
    let out = run(jicha(&data).args(["theft", "score", "--input"]).arg(&input).arg("--out").arg(&builtin));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let report = tmp.path().join("eval.json");
    let out = run(jicha(&data)
        .args(["theft", "evaluate", "--label-column", "CHK_STATE", "--rounds", "50", "--input"])
        .arg(&input)
        .arg("--json")
        .arg(&report));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ROC AUC") && stdout.contains("rules-v1") && stdout.contains("logistic"),
        "{stdout}"
    );
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let auc = doc["results"][0]["roc_auc"]["value"].as_f64().unwrap();
    assert!(auc > 0.9, "the model separates the planted thieves on the test split: {auc}");
    let train = doc["train"]["rows"].as_u64().unwrap();
    let test = doc["test"]["rows"].as_u64().unwrap();
    assert_eq!(train + test, 240);
}

#[test]
fn a_bad_cell_or_a_missing_label_is_refused_with_its_place() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = tmp.path().join("bad.csv");
    std::fs::write(&input, "CONS_NO,2015-01-01,2015-01-02,FLAG\n1001,3.5,4.0,0\n1002,2.0,abc,1\n").unwrap();
    let scores = tmp.path().join("scores.csv");
    let out = run(jicha(&data).args(["theft", "score", "--input"]).arg(&input).arg("--out").arg(&scores));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("第3行") && err.contains("第3列") && err.contains("2015-01-02") && err.contains("abc"),
        "{err}"
    );
    assert!(!scores.exists(), "nothing written for bad input");

    let model = tmp.path().join("m.json");
    let out = run(jicha(&data)
        .args(["theft", "train", "--label-column", "CHK_STATE", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&model));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("缺少标签列 CHK_STATE"));
    assert!(!model.exists());
}
