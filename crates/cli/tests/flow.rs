//! `jicha user` and `jicha verify-trail`: users made on the command line, and a trail row edited in
//! the database is reported with its place in the chain.

mod common;

use common::{jicha, run};

#[test]
fn users_are_made_listed_and_a_tampered_trail_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = run(jicha(&data).args(["user", "add", "wang", "--role", "auditor", "--name", "王敏"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("一次性密码"), "a one-time password is printed: {text}");
    let out = run(jicha(&data).args(["user", "add", "zhang", "--role", "station_staff"]));
    assert_eq!(out.status.code(), Some(2), "a station role needs a station");
    assert!(String::from_utf8_lossy(&out.stderr).contains("供电所"));
    let out = run(jicha(&data)
        .args(["user", "add", "zhang", "--role", "station_staff", "--station", "S01"])
        .env("JICHA_PASSWORD", "station-pass"));
    assert!(out.status.success());
    let out = run(jicha(&data).args(["user", "passwd", "zhang"]).env("JICHA_PASSWORD", "new-password"));
    assert!(out.status.success());
    let out = run(jicha(&data).args(["user", "list"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("wang") && text.contains("稽查员") && text.contains("zhang") && text.contains("S01"),
        "{text}"
    );

    let out = run(jicha(&data).arg("verify-trail"));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 条"), "three changes in the trail");

    let conn = rusqlite::Connection::open(data.join("flow.sqlite")).unwrap();
    conn.execute("UPDATE trail SET after = '{\"role\":\"admin\"}' WHERE seq = 2", []).unwrap();
    drop(conn);
    let out = run(jicha(&data).arg("verify-trail"));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("第 2 条") && text.contains("entry 2"), "{text}");
}
