//! `jicha audit` and `jicha themes` as a user runs them: exit codes, the jsonl keys, stable ids.

mod common;
use common::{fixtures, jicha, run};

#[test]
fn bad_input_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // No data dir.
    assert_eq!(run(jicha(&data).args(["audit", "--period", "2026-01"])).status.code(), Some(2));
    assert_eq!(run(jicha(&data).arg("themes")).status.code(), Some(2));
    let out = run(jicha(&data).arg("import").arg(fixtures().join("good")));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(run(jicha(&data).args(["audit", "--period", "2026-13"])).status.code(), Some(2));
    assert_eq!(
        run(jicha(&data).args(["audit", "--period", "2026-01", "--as-of", "2026-02-30"])).status.code(),
        Some(2)
    );
    let out = run(jicha(&data).args(["audit", "--period", "2026-01", "--themes", "VOL-ZERO,NOPE"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOPE"));
}

#[test]
fn audit_prints_jsonl_with_exactly_the_keys_and_stable_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = run(jicha(&data).arg("import").arg(fixtures().join("good")));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let themes = run(jicha(&data).arg("themes"));
    assert_eq!(themes.status.code(), Some(0));
    let text = String::from_utf8_lossy(&themes.stdout);
    assert!(text.contains("零电量") && text.contains("VOL-ZERO"));
    let audit = |fmt: &str| run(jicha(&data).args(["audit", "--period", "2026-01", "--format", fmt]));
    let first = audit("jsonl");
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    let keys = [
        "amount_at_risk",
        "entity_id",
        "entity_type",
        "evidence",
        "finding_id",
        "period",
        "severity",
        "station_id",
        "theme",
    ];
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&first.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for l in &lines {
        let mut got: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(got, keys);
        assert!(l["evidence"].is_object());
    }
    let second = audit("jsonl");
    assert_eq!(first.stdout, second.stdout, "a rerun gives the same findings and ids");
    assert!(!String::from_utf8_lossy(&first.stderr).contains("尚未导入齐"), "January is in");
    // A month whose data is not imported yet: said before its findings (unless --quiet).
    let mut loud = std::process::Command::new(env!("CARGO_BIN_EXE_jicha"));
    let later =
        run(loud.arg("--data").arg(&data).args(["audit", "--period", "2026-05", "--format", "jsonl"]));
    assert_eq!(later.status.code(), Some(0));
    let said = String::from_utf8_lossy(&later.stderr);
    assert!(said.contains("2026-05 的数据尚未导入齐") && said.contains("not all imported yet"), "{said}");
    // So is a briefing of a day whose supply is not in (the fixture's supply ends on 14 January):
    // at the top of the long form, on stderr for the SMS.
    let briefing = |day: &str, format: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_jicha"));
        run(c.arg("--data").arg(&data).args(["briefing", "--date", day, "--format", format]))
    };
    let (in_, late) = (briefing("2026-01-14", "text"), briefing("2026-01-15", "text"));
    assert_eq!((in_.status.code(), late.status.code()), (Some(0), Some(0)));
    let text = String::from_utf8_lossy(&in_.stdout);
    assert!(
        text.contains("日供电量简报 2026年1月14日") && !text.contains("注意"),
        "14 January is in: {text}"
    );
    let text = String::from_utf8_lossy(&late.stdout);
    assert!(
        text.contains(
            "日供电量简报 2026年1月15日\n注意 / note: 2026-01-15 的数据尚未导入齐（供电量只到 2026-01-14）"
        ),
        "{text}"
    );
    assert!(text.contains("全公司1月15日供电量数据未到"), "{text}");
    let sms = briefing("2026-01-15", "sms");
    let said = String::from_utf8_lossy(&sms.stderr);
    assert!(said.contains("提示 / note: 2026-01-15 的数据尚未导入齐（供电量只到 2026-01-14）"), "{said}");
    assert!(
        String::from_utf8_lossy(&sms.stdout).starts_with("【日供电量简报】全公司1月15日供电量数据未到。")
    );
    assert!(!String::from_utf8_lossy(&briefing("2026-01-14", "sms").stderr).contains("尚未导入齐"));
    assert_eq!(audit("table").status.code(), Some(0));
    let csv = audit("csv");
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("theme,entity_type,entity_id"));
}

#[test]
fn workbook_daily_watch_and_config_as_a_user_meets_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = run(jicha(&data).arg("import").arg(fixtures().join("good")));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    // xlsx needs a file; the workbook holds one row per finding under Chinese headers.
    let audit = ["audit", "--period", "2026-01"];
    assert_eq!(run(jicha(&data).args(audit).args(["--format", "xlsx"])).status.code(), Some(2));
    let book = tmp.path().join("稽查.xlsx");
    let out = run(jicha(&data).args(audit).args(["--format", "xlsx", "--out"]).arg(&book));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let jsonl = run(jicha(&data).args(audit).args(["--format", "jsonl"]));
    let findings = String::from_utf8_lossy(&jsonl.stdout).lines().count();
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&book).unwrap();
    assert_eq!(wb.sheet_names(), ["汇总", "疑似问题"]);
    let sheet = wb.worksheet_range("疑似问题").unwrap();
    assert_eq!(sheet.get_value((0, 0)).unwrap().to_string(), "主题代码");
    assert_eq!(sheet.height(), findings + 1);

    // The daily watch: a table with the stations' supply; a monthly theme is refused there.
    let out = run(jicha(&data).args(["daily", "--date", "2026-01-15"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("日监测 2026-01-15"));
    let out = run(jicha(&data).args(["daily", "--date", "2026-01-15", "--themes", "VOL-ZERO"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("jicha audit"));

    // A typo in jicha.toml stops the run naming the line; nothing runs.
    std::fs::write(data.join("jicha.toml"), "[themes.VOL-ZERO]\nmin_known_shar = 0.5\n").unwrap();
    let out = run(jicha(&data).args(audit));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("第 2 行") && err.contains("min_known_shar"), "{err}");
    assert_eq!(run(jicha(&data).arg("themes")).status.code(), Some(2));
}
