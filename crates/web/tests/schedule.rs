//! The scheduler inside `jicha serve`: the daily run at its time with the briefing queued for a
//! chat robot (a real HTTP server on loopback), a missed slot caught up once, nothing twice.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use jicha_store::DataDir;

/// A robot endpoint answering `{"errcode":0}` and keeping every body it receives.
fn robot() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            keep.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
            let reply = "{\"errcode\":0,\"errmsg\":\"ok\"}";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (port, got)
}

fn utc(s: &str) -> DateTime<Utc> {
    // Local (UTC+8) wall-clock time.
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    (t - chrono::Duration::hours(8)).and_utc()
}

#[test]
fn the_daily_run_sends_the_briefing_once_and_a_missed_day_is_caught_up_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::small_county(tmp.path(), 400, 5);
    let (port, got) = robot();
    std::fs::write(
        root.join("jicha.toml"),
        format!(
            "[channels.wecom]\nkind = \"wecom\"\nwebhook = \"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=k\"\n\n\
             [schedule]\ntime = \"07:30\"\nmonthly_day = 0\n\n[briefing]\nchat = [\"wecom\"]\n"
        ),
    )
    .unwrap();

    // Before 07:30 on 21 February, the slot of the 20th (briefing of the 19th) is due.
    let daily = |ran: Vec<(String, Result<String, String>)>| -> Vec<(String, Result<String, String>)> {
        ran.into_iter().filter(|r| r.0 == "daily").collect()
    };
    let ran = daily(jicha_web::schedule::tick(&root, utc("2026-02-21 07:00")).unwrap());
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert!(ran[0].1.as_ref().unwrap().contains("2026-02-19"), "{ran:?}");
    assert!(jicha_web::schedule::tick(&root, utc("2026-02-21 07:10")).unwrap().is_empty(), "nothing twice");
    // Down from the 21st to the 23rd, 09:00: the two missed slots make one run, for the 22nd.
    let ran = daily(jicha_web::schedule::tick(&root, utc("2026-02-23 09:00")).unwrap());
    assert_eq!(ran.len(), 1, "caught up once: {ran:?}");
    assert!(ran[0].1.as_ref().unwrap().contains("2026-02-22"), "{ran:?}");
    let runs = jicha_web::schedule::Runs::open(&root).unwrap().list(10).unwrap();
    assert_eq!(runs.iter().filter(|r| r.job == "daily").count(), 2);
    assert_eq!(runs.iter().filter(|r| r.job == "warnings").count(), 2, "the Mondays of 16 and 23 February");
    assert!(runs.iter().all(|r| r.ok == Some(true)), "{runs:?}");

    // The outbox delivers both briefings to the robot, each once.
    let channels = jicha_notify::Channels::load(&root).unwrap();
    let outbox = jicha_notify::Outbox::open(&root).unwrap();
    let stats = outbox.deliver_due(&channels, Utc::now()).unwrap();
    assert_eq!(stats.sent, 2, "{stats:?}");
    outbox.deliver_due(&channels, Utc::now() + chrono::Duration::hours(2)).unwrap();
    let bodies = got.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "each briefing once");
    assert!(bodies[0].contains("日供电量简报 2026年2月19日"), "{}", bodies[0]);
    assert!(bodies[1].contains("日供电量简报 2026年2月22日"), "{}", bodies[1]);
    // A rerun of the same slot (a crash after queueing) queues nothing new.
    std::fs::remove_file(root.join("schedule.sqlite")).unwrap();
    jicha_web::schedule::tick(&root, utc("2026-02-23 09:00")).unwrap();
    assert_eq!(outbox.deliver_due(&channels, Utc::now() + chrono::Duration::hours(3)).unwrap().sent, 0);

    // The monthly run on the 1st: February audited, its two documents left for the monthly lead.
    let toml = std::fs::read_to_string(root.join("jicha.toml"))
        .unwrap()
        .replace("monthly_day = 0", "monthly_day = 1");
    std::fs::write(root.join("jicha.toml"), toml).unwrap();
    let ran = jicha_web::schedule::tick(&root, utc("2026-03-01 08:00")).unwrap();
    let monthly: Vec<_> = ran.iter().filter(|r| r.0 == "monthly").collect();
    assert_eq!(monthly.len(), 1, "{ran:?}");
    assert!(monthly[0].1.as_ref().unwrap().contains("2026-02"), "{monthly:?}");
    let docs: Vec<String> = std::fs::read_dir(root.join("reports").join("2026-02"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(docs.iter().any(|d| d.ends_with("现场营销稽查报告.docx")), "{docs:?}");
    assert!(docs.iter().any(|d| d.ends_with("汇总清单.xlsx")), "{docs:?}");

    // The drop folder: a good data set imported and moved to done/, a bad one moved to failed/
    // with its problems beside it, nothing of it stored.
    let drop = tmp.path().join("drop");
    std::fs::create_dir_all(drop.join("a-good")).unwrap();
    std::fs::create_dir_all(drop.join("b-bad")).unwrap();
    let station: String = rusqlite::Connection::open(DataDir::new(&root).database())
        .unwrap()
        .query_row("SELECT station_id FROM stations LIMIT 1", [], |r| r.get(0))
        .unwrap();
    std::fs::write(
        drop.join("a-good").join("surveys.csv"),
        format!("station_id,period,score\n{station},2026-02,88\n"),
    )
    .unwrap();
    std::fs::write(
        drop.join("b-bad").join("surveys.csv"),
        format!("station_id,period,score\n{station},2026-02,abc\n"),
    )
    .unwrap();
    let toml = std::fs::read_to_string(root.join("jicha.toml"))
        .unwrap()
        .replace("[schedule]\n", &format!("[schedule]\ndrop = \"{}\"\n", drop.display()));
    std::fs::write(root.join("jicha.toml"), toml).unwrap();
    let ran = jicha_web::schedule::tick(&root, utc("2026-03-01 08:05")).unwrap();
    let dropped: Vec<_> = ran.iter().filter(|r| r.0 == "drop").collect();
    assert_eq!(dropped.len(), 1, "{ran:?}");
    let said = dropped[0].1.as_ref().unwrap();
    assert!(said.contains("imported a-good") && said.contains("rejected b-bad"), "{said}");
    let names = |d: &str| -> Vec<String> {
        std::fs::read_dir(drop.join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert!(names("done").iter().any(|n| n.ends_with("a-good")));
    assert!(names("failed").iter().any(|n| n.ends_with("b-bad.problems.txt")));
    let score: f64 = rusqlite::Connection::open(DataDir::new(&root).database())
        .unwrap()
        .query_row(
            "SELECT score FROM surveys WHERE station_id = ?1 AND period = '2026-02'",
            [&station],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(score, 88.0, "the good set stored, the bad one not");

    // The 1st of April: March is not imported (the county holds January and February), so its
    // audit waits, and says why, instead of listing every customer as missing its readings.
    let monthly = |ran: &[(String, Result<String, String>)]| ran.iter().filter(|r| r.0 == "monthly").count();
    let ran = jicha_web::schedule::tick(&root, utc("2026-04-01 08:00")).unwrap();
    assert_eq!(monthly(&ran), 0, "{ran:?}");
    assert!(!root.join("reports").join("2026-03").exists());
    let waiting = || -> Vec<jicha_web::schedule::RunRow> {
        let runs = jicha_web::schedule::Runs::open(&root).unwrap().list(20).unwrap();
        runs.into_iter().filter(|r| r.job == "monthly" && r.waiting()).collect()
    };
    let w = waiting();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].slot, "2026-04-01 07:30");
    assert!(
        w[0].message.contains("2026-03 的数据尚未导入齐") && w[0].message.contains("日电量只到 2026-03-01"),
        "{w:?}"
    );
    assert!(w[0].message.contains("电费发行只到 2026-02"), "{w:?}");
    assert_eq!(monthly(&jicha_web::schedule::tick(&root, utc("2026-04-01 08:01")).unwrap()), 0);
    // So does the briefing of 31 March, which would otherwise give every station's supply as
    // unknown and find no drop.
    let daily_waits = || -> Vec<String> {
        let runs = jicha_web::schedule::Runs::open(&root).unwrap().list(20).unwrap();
        runs.into_iter().filter(|r| r.job == "daily" && r.waiting()).map(|r| r.message).collect()
    };
    let w = daily_waits();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("2026-03-31 的数据尚未导入齐"), "{w:?}");
    assert!(w[0].contains("日用电量只到 2026-02-28") && w[0].contains("供电量只到 2026-02-28"), "{w:?}");
    // March's daily kWh and bills dropped in: the drop imports them and the waiting audit runs in
    // the same look at the clock, once.
    let march = drop.join("c-march");
    std::fs::create_dir_all(&march).unwrap();
    let customer: String = rusqlite::Connection::open(DataDir::new(&root).database())
        .unwrap()
        .query_row("SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let days: String = (1..=31).map(|d| format!("{customer},2026-03-{d:02},5.5\n")).collect();
    std::fs::write(march.join("daily_usage.csv"), format!("customer_id,date,kwh\n{days}")).unwrap();
    std::fs::write(
        march.join("bills.csv"),
        format!("bill_id,customer_id,period,kwh,amount\nB-2026-03-1,{customer},2026-03,170.5,95.2\n"),
    )
    .unwrap();
    let ran = jicha_web::schedule::tick(&root, utc("2026-04-01 08:10")).unwrap();
    assert!(
        ran.iter().any(|r| r.0 == "drop" && r.1.as_ref().unwrap().contains("imported c-march")),
        "{ran:?}"
    );
    let done: Vec<_> = ran.iter().filter(|r| r.0 == "monthly").collect();
    assert_eq!(done.len(), 1, "{ran:?}");
    assert!(done[0].1.as_ref().unwrap().contains("monthly audit 2026-03"), "{done:?}");
    assert!(root.join("reports").join("2026-03").is_dir());
    assert!(waiting().is_empty());
    assert_eq!(monthly(&jicha_web::schedule::tick(&root, utc("2026-04-01 08:20")).unwrap()), 0, "once");
    // The briefing still waits for the supply, then runs once the supply of the 31st comes.
    assert!(!ran.iter().any(|r| r.0 == "daily"), "{ran:?}");
    let w = daily_waits();
    assert!(w.len() == 1 && w[0].contains("供电量只到 2026-02-28") && !w[0].contains("日用电量"), "{w:?}");
    let area: String = rusqlite::Connection::open(DataDir::new(&root).database())
        .unwrap()
        .query_row("SELECT tq_id FROM transformer_areas ORDER BY tq_id LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let supply = drop.join("d-supply");
    std::fs::create_dir_all(&supply).unwrap();
    std::fs::write(
        supply.join("supply.csv"),
        format!("point_type,point_id,date,kwh\ntq,{area},2026-03-31,812\n"),
    )
    .unwrap();
    let ran = jicha_web::schedule::tick(&root, utc("2026-04-01 08:30")).unwrap();
    let daily: Vec<_> = ran.iter().filter(|r| r.0 == "daily").collect();
    assert_eq!(daily.len(), 1, "{ran:?}");
    assert!(daily[0].1.as_ref().unwrap().contains("日监测 2026-03-31"), "{daily:?}");
    assert!(daily_waits().is_empty());
    assert!(
        !jicha_web::schedule::tick(&root, utc("2026-04-01 08:40")).unwrap().iter().any(|r| r.0 == "daily")
    );
    // 1 April's data never comes: the briefing of the 2nd waits four hours (daily_wait_hours),
    // then goes out saying what is missing, so the orders due that day are not held back.
    let daily = |t: &str| -> Vec<String> {
        let ran = jicha_web::schedule::tick(&root, utc(t)).unwrap();
        ran.into_iter().filter(|r| r.0 == "daily").map(|r| r.1.unwrap()).collect()
    };
    assert!(daily("2026-04-02 08:00").is_empty() && daily("2026-04-02 11:29").is_empty());
    assert!(daily_waits()[0].contains("2026-04-01 的数据尚未导入齐"), "{:?}", daily_waits());
    let late = daily("2026-04-02 11:30");
    assert_eq!(late.len(), 1, "{late:?}");
    assert!(
        late[0].contains("数据未到齐，按已有数据运行") && late[0].contains("2026-04-01 的数据尚未导入齐"),
        "{late:?}"
    );
    assert!(daily_waits().is_empty());
    outbox.deliver_due(&channels, Utc::now() + chrono::Duration::hours(4)).unwrap();
    let bodies = got.lock().unwrap().clone();
    let brief = |d: &str| bodies.iter().find(|b| b.contains(&format!("日供电量简报 {d}"))).cloned().unwrap();
    let (march, april) = (brief("2026年3月31日"), brief("2026年4月1日"));
    assert!(!march.contains("注意 / note"), "{march}");
    assert!(
        april.contains(
            "注意 / note: 2026-04-01 的数据尚未导入齐（日用电量只到 2026-03-31，供电量只到 2026-03-31）"
        ),
        "{april}"
    );
    assert!(april.contains("全公司4月1日供电量数据未到"), "{april}");
}
