//! Custom SQL themes (themes/*.toml) and jicha.toml: loaded, validated, run read-only; a broken
//! one is skipped with its reason while the others run.

mod common;

use common::{DataSet, ids, set};
use jicha_core::calendar::Period;
use jicha_engine::audit::{Catalogue, Outcome, run};
use jicha_engine::{Session, Severity, Window};

const BIG_ZERO: &str = r#"
code = "CUS-ZERO-KVA"
name_zh = "有容量的零电量用户"
name_en = "Zero month with a contract capacity"
specialty = "inspection"
entity = "customer"
entity_column = "customer_id"
station_column = "station_id"
severity = "high"
sql = """
SELECT c.customer_id, c.station_id, c.contract_kva AS kva, SUM(d.kwh) AS kwh
FROM customers c JOIN daily_consumption d ON d.customer_id = c.customer_id
WHERE d.date BETWEEN {period_start} AND {period_end} AND c.contract_kva >= {min_kva}
GROUP BY c.customer_id, c.station_id, c.contract_kva
HAVING SUM(d.kwh) = 0
"""
[params]
min_kva = 50
"#;

fn data(tmp: &std::path::Path) -> jicha_store::DataDir {
    let mut ds = DataSet::default();
    ds.customer("A", "active", "2020-01-01", "", "100", "")
        .customer("B", "active", "2020-01-01", "", "10", "")
        .customer("C", "active", "2020-01-01", "", "100", "");
    ds.usage("A", "2026-03-01", "2026-03-31", |_| Some(0.0));
    ds.usage("B", "2026-03-01", "2026-03-31", |_| Some(0.0));
    ds.usage("C", "2026-03-01", "2026-03-31", |_| Some(1.0));
    ds.import(tmp)
}

fn put(dir: &jicha_store::DataDir, name: &str, text: &str) {
    let themes = dir.root().join("themes");
    std::fs::create_dir_all(&themes).unwrap();
    std::fs::write(themes.join(name), text).unwrap();
}

fn march() -> Window {
    Window::new(Period::parse("2026-03").unwrap(), None)
}

#[test]
fn custom_themes_run_and_broken_ones_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data(tmp.path());
    put(&dir, "a-big-zero.toml", BIG_ZERO);
    put(&dir, "b-syntax.toml", "code = \"CUS-X\"\nsql = \"\"\"SELECT 1\n");
    put(
        &dir,
        "c-placeholder.toml",
        &BIG_ZERO.replace("CUS-ZERO-KVA", "CUS-Y").replace("{min_kva}", "{max_kva}"),
    );
    put(&dir, "d-taken.toml", &BIG_ZERO.replace("CUS-ZERO-KVA", "VOL-ZERO"));
    // Loads, but its query names a column that does not exist: fails at run, the others run.
    put(
        &dir,
        "e-bad-column.toml",
        &BIG_ZERO.replace("CUS-ZERO-KVA", "CUS-BAD").replace("c.contract_kva >=", "c.no_such >="),
    );
    // Tries to write a file, or to read one outside the data dir: refused.
    let only_sql = |code: &str, sql: &str| {
        let head = BIG_ZERO.split("sql = ").next().unwrap().replace("CUS-ZERO-KVA", code);
        format!("{head}sql = \"\"\"{sql} -- reads customers\n\"\"\"\n")
    };
    put(
        &dir,
        "f-writes.toml",
        &only_sql("CUS-WRITE", "COPY (SELECT customer_id FROM customers) TO '/tmp/jicha-escape.csv'"),
    );
    put(
        &dir,
        "g-ddl.toml",
        &only_sql("CUS-DDL", "CREATE EXTERNAL TABLE x (a TEXT) STORED AS CSV LOCATION '/etc/passwd'"),
    );
    put(&dir, "h-file.toml", &only_sql("CUS-FILE", "SELECT * FROM '/etc/passwd'"));
    let cat = Catalogue::load(dir.root()).unwrap();
    let broken: Vec<String> =
        cat.broken.iter().map(|b| b.path.file_name().unwrap().to_string_lossy().to_string()).collect();
    assert_eq!(broken, ["b-syntax.toml", "c-placeholder.toml", "d-taken.toml"]);
    assert!(cat.broken[0].reason.contains("TOML"), "{}", cat.broken[0].reason);
    assert!(cat.broken[1].reason.contains("{max_kva}"), "{}", cat.broken[1].reason);
    assert!(cat.broken[2].reason.contains("VOL-ZERO"), "{}", cat.broken[2].reason);

    let themes = cat.select(&[], false).unwrap();
    let mut session = Session::open(&dir).unwrap();
    let result = run(&mut session, march(), &cat, &themes).unwrap();
    let outcome = |code: &str| result.themes.iter().find(|t| t.code == code).unwrap().outcome.clone();
    assert!(matches!(outcome("CUS-ZERO-KVA"), Outcome::Ran { findings: 1, .. }));
    assert!(matches!(outcome("VOL-ZERO"), Outcome::Ran { .. }), "built-in themes still run");
    for (code, why) in
        [("CUS-BAD", "no_such"), ("CUS-WRITE", "DML"), ("CUS-DDL", "DDL"), ("CUS-FILE", "passwd")]
    {
        assert!(
            matches!(outcome(code), Outcome::Failed(r) if r.contains(why)),
            "{code}: {:?}",
            outcome(code)
        );
    }
    assert!(!std::path::Path::new("/tmp/jicha-escape.csv").exists());
    let f: Vec<_> = result.findings.iter().filter(|f| f.theme == "CUS-ZERO-KVA").collect();
    assert_eq!(f[0].entity_id, "A");
    assert_eq!(f[0].station_id.as_deref(), Some("S01"));
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[0].evidence["kva"], serde_json::json!(100.0));
    assert_eq!(f[0].evidence["kwh"], serde_json::json!(0.0));
}

#[test]
fn jicha_toml_sets_parameters_severity_and_switches_themes_off() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data(tmp.path());
    put(&dir, "big-zero.toml", BIG_ZERO);
    let toml =
        "[themes.CUS-ZERO-KVA]\nmin_kva = 5\nseverity = \"low\"\n\n[themes.VOL-ZERO]\nenabled = false\n";
    std::fs::write(dir.root().join("jicha.toml"), toml).unwrap();
    let cat = Catalogue::load(dir.root()).unwrap();
    let themes = cat.select(&["CUS-ZERO-KVA".into(), "VOL-ZERO".into()], false).unwrap();
    let mut session = Session::open(&dir).unwrap();
    let result = run(&mut session, march(), &cat, &themes).unwrap();
    let vol_zero = result.themes.iter().find(|t| t.code == "VOL-ZERO").unwrap();
    assert!(
        matches!(&vol_zero.outcome, Outcome::NotRun(r) if r.contains("jicha.toml")),
        "{:?}",
        vol_zero.outcome
    );
    assert_eq!(ids(&result.findings), set(&["A", "B"]), "min_kva 5 takes in B's 10 kVA");
    assert!(result.findings.iter().all(|f| f.severity == Severity::Low));

    // A typo is refused before anything runs, naming the file and line.
    std::fs::write(dir.root().join("jicha.toml"), "[themes.VOL-ZERO]\nmin_known_shar = 0.5\n").unwrap();
    let problems = Catalogue::load(dir.root()).err().expect("refused");
    assert!(problems[0].0.contains("jicha.toml 第 2 行"), "{}", problems[0]);
}
