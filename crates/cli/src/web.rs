//! `jicha serve`, `jicha user`, `jicha verify-trail` and `jicha demo`.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use jicha_flow::orders::{self, Action, FindingSnapshot, ResultInput};
use jicha_flow::{Actor, Flow, Role, onsite, trail, users};
use jicha_store::DataDir;

use crate::BAD_INPUT;

/// `jicha user ...`.
#[derive(Subcommand)]
pub enum UserCommand {
    /// 新建用户（未给密码时生成一次性密码并打印）/ add a user (a one-time password is made and printed when none is given)
    Add {
        /// 用户名 / login name
        username: String,
        /// 角色 / role: admin, auditor, lead, station_staff, station_head, manager
        #[arg(long)]
        role: String,
        /// 供电所编码（供电所角色必填）/ station id (station roles)
        #[arg(long)]
        station: Option<String>,
        /// 姓名 / display name
        #[arg(long, default_value = "")]
        name: String,
        /// 密码（至少 8 位；也可用环境变量 JICHA_PASSWORD）/ password (8+; or JICHA_PASSWORD)
        #[arg(long, env = "JICHA_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// 重置密码并解锁 / set a password (and unlock)
    Passwd {
        /// 用户名 / login name
        username: String,
        /// 新密码（未给时生成并打印）/ new password (made and printed when none is given)
        #[arg(long, env = "JICHA_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// 列出用户 / list users
    List,
}

fn one_time_password() -> String {
    jicha_flow::random_hex(6)
}

fn flow_err(e: jicha_flow::FlowError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// `jicha user ...`.
pub fn user(dir: &DataDir, command: UserCommand) -> anyhow::Result<u8> {
    let flow = Flow::new(dir.root());
    let mut conn = flow.open().context("打开 flow.sqlite / opening flow.sqlite")?;
    let sys = Actor::system();
    match command {
        UserCommand::Add { username, role, station, name, password } => {
            let Some(role) = Role::parse(&role) else {
                eprintln!(
                    "错误 / error: 未知角色 {role}；可用：admin, auditor, lead, station_staff, station_head, manager / unknown role"
                );
                return Ok(BAD_INPUT);
            };
            let made = password.is_none();
            let password = password.unwrap_or_else(one_time_password);
            match users::add(&mut conn, &sys, &username, &name, role, station.as_deref(), &password) {
                Ok(_) => {
                    println!("已新建用户 / user added: {username} ({})", role.name_zh());
                    if made {
                        println!("一次性密码 / one-time password: {password}");
                    }
                    Ok(0)
                }
                Err(e @ jicha_flow::FlowError::Invalid(_)) => {
                    eprintln!("错误 / error: {e}");
                    Ok(BAD_INPUT)
                }
                Err(e) => Err(flow_err(e)),
            }
        }
        UserCommand::Passwd { username, password } => {
            let made = password.is_none();
            let password = password.unwrap_or_else(one_time_password);
            match users::set_password(&mut conn, &sys, &username, &password) {
                Ok(()) => {
                    println!("已重置密码并解锁 / password set and account unlocked: {username}");
                    if made {
                        println!("一次性密码 / one-time password: {password}");
                    }
                    Ok(0)
                }
                Err(e @ (jicha_flow::FlowError::Invalid(_) | jicha_flow::FlowError::NotFound(_))) => {
                    eprintln!("错误 / error: {e}");
                    Ok(BAD_INPUT)
                }
                Err(e) => Err(flow_err(e)),
            }
        }
        UserCommand::List => {
            println!(
                "{:<16} {:<12} {:<12} {:<10} {:<20}",
                "用户名 user", "姓名 name", "角色 role", "供电所", "锁定至 locked"
            );
            for u in users::list(&conn).map_err(flow_err)? {
                println!(
                    "{:<16} {:<12} {:<12} {:<10} {:<20}",
                    u.username,
                    u.display_name,
                    u.role.name_zh(),
                    u.station_id.unwrap_or_default(),
                    u.locked_until.unwrap_or_default()
                );
            }
            Ok(0)
        }
    }
}

/// `jicha verify-trail`: 0 when the chain holds, 1 naming the first broken link.
pub fn verify_trail(dir: &DataDir) -> anyhow::Result<u8> {
    let flow = Flow::new(dir.root());
    if !flow.database().exists() {
        eprintln!("错误 / error: 没有审计日志 / no trail: {}", flow.database().display());
        return Ok(BAD_INPUT);
    }
    let conn = flow.open()?;
    match trail::verify(&conn).map_err(flow_err)? {
        trail::Verdict::Intact { entries } => {
            println!(
                "审计日志完整：{entries} 条，哈希链无断裂 / the trail holds: {entries} entries, no broken link"
            );
            Ok(0)
        }
        trail::Verdict::Broken { seq, reason } => {
            println!("审计日志第 {seq} 条断裂：{reason} / the trail breaks at entry {seq}: {reason}");
            Ok(1)
        }
    }
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// `jicha serve`.
pub fn serve(dir: &DataDir, bind: SocketAddr) -> anyhow::Result<u8> {
    init_logs();
    let flow = Flow::new(dir.root());
    let conn = flow.open()?;
    if users::list(&conn).map_err(flow_err)?.is_empty() {
        eprintln!(
            "提示 / note: 还没有用户，请先运行 jicha user add admin --role admin / no users yet: run `jicha user add admin --role admin` first"
        );
    }
    drop(conn);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(jicha_web::serve(dir.root(), bind))?;
    Ok(0)
}

/// The demo's people: (login, name, role, which station: index into the stations, if any).
const DEMO_USERS: &[(&str, &str, Role, Option<usize>)] = &[
    ("admin", "系统管理员", Role::Admin, None),
    ("auditor", "王敏（稽查员）", Role::Auditor, None),
    ("lead", "李强（月度责任人）", Role::Lead, None),
    ("staff1", "张伟（供电所人员）", Role::StationStaff, Some(0)),
    ("head1", "赵磊（供电所所长）", Role::StationHead, Some(0)),
    ("staff2", "陈静（供电所人员）", Role::StationStaff, Some(1)),
    ("manager", "刘洋（管理人员）", Role::Manager, None),
];

/// `jicha demo`: a county generated, imported and audited, people and orders in every state, served.
pub fn demo(work: &Path, bind: SocketAddr, customers: usize, months: u32, quiet: bool) -> anyhow::Result<u8> {
    let data = work.join("jicha-data");
    let dir = DataDir::new(&data);
    let start = jicha_core::calendar::parse_date("2026-01-01").expect("date");
    let last = chrono::NaiveDate::from_ymd_opt(2026, months.clamp(1, 12), 1).expect("month");
    let period = format!("{}", last.format("%Y-%m"));
    if dir.database().exists() {
        println!("沿用已有演示数据 / reusing the demo data in {}", data.display());
    } else {
        let county = work.join("county");
        let bars = crate::progress::Bars::new(quiet);
        println!("1/4 生成县公司数据 / generating a county: {customers} 户 customers, {months} 个月 months");
        let opts = jicha_sim::GenerateOptions {
            out: county.clone(),
            customers,
            stations: (customers / 5000).clamp(2, 20) + 2,
            start,
            months,
            seed: 7,
            gbk: false,
            xlsx: false,
        };
        jicha_sim::generate(&opts, &bars).context("生成 / generating")?;
        bars.done();
        println!("2/4 导入 / importing");
        if crate::run_import(&dir, &county, quiet)? != 0 {
            anyhow::bail!("演示数据导入失败 / the demo import failed");
        }
        println!("3/4 稽查 {period} / auditing {period}");
        let out = work.join(format!("audit-{period}.jsonl"));
        let scope = crate::audit::Scope::Month { period: &period, as_of: None };
        if crate::audit::audit(&dir, scope, &[], crate::audit::Format::Jsonl, Some(&out), true)? != 0 {
            anyhow::bail!("演示稽查失败 / the demo audit failed");
        }
    }
    println!("4/4 演示用户与工单 / demo users and orders");
    let passwords = demo_people_and_orders(&dir, &period)?;
    println!();
    println!(
        "演示账号（一次性密码，重新运行 jicha demo 会重置）/ demo accounts (one-time passwords; rerunning resets them):"
    );
    for (login, name, password) in &passwords {
        println!("  {login:<10} {password:<14} {name}");
    }
    println!();
    println!("打开 / open: http://{bind}/   (Ctrl-C 停止 / to stop)");
    serve(&dir, bind)
}

fn demo_people_and_orders(dir: &DataDir, period: &str) -> anyhow::Result<Vec<(String, String, String)>> {
    let flow = Flow::new(dir.root());
    let mut conn = flow.open()?;
    let sys = Actor::system();
    let findings: Vec<FindingSnapshot> = jicha_store::findings::load(dir, period)?;
    let mut stations: Vec<String> = findings.iter().filter_map(|f| f.station_id.clone()).collect();
    stations.sort();
    stations.dedup();
    // The two stations with the most findings get the station people.
    stations.sort_by_key(|s| {
        std::cmp::Reverse(findings.iter().filter(|f| f.station_id.as_ref() == Some(s)).count())
    });
    let mut out = Vec::new();
    let fresh = users::list(&conn).map_err(flow_err)?.is_empty();
    for (login, name, role, station) in DEMO_USERS {
        let password = one_time_password();
        let station = station.and_then(|i| stations.get(i)).map(String::as_str);
        if users::find(&conn, login).map_err(flow_err)?.is_some() {
            users::set_password(&mut conn, &sys, login, &password).map_err(flow_err)?;
        } else {
            users::add(&mut conn, &sys, login, name, *role, station, &password).map_err(flow_err)?;
        }
        let shown = match station {
            Some(s) => format!("{name} · {s}"),
            None => name.to_string(),
        };
        out.push((login.to_string(), shown, password));
    }
    if !fresh || stations.is_empty() {
        return Ok(out);
    }
    let login = |conn: &mut rusqlite::Connection, name: &str| -> anyhow::Result<Actor> {
        let password = &out.iter().find(|(l, _, _)| l == name).expect("demo user").2;
        Ok(users::login(conn, name, password).map_err(flow_err)?.actor)
    };
    let auditor = login(&mut conn, "auditor")?;
    let staff = login(&mut conn, "staff1")?;
    let ours: Vec<&FindingSnapshot> =
        findings.iter().filter(|f| f.station_id.as_deref() == Some(&stations[0])).collect();
    let deadline = (chrono::Local::now().date_naive() + chrono::Duration::days(15)).to_string();
    let overdue = (chrono::Local::now().date_naive() - chrono::Duration::days(3)).to_string();
    // One order per state, each from one finding of the first station.
    let plans: &[(&[Action], &str)] = &[
        (&[], "dispatched"),
        (&[Action::Start], "verifying"),
        (&[Action::Start, Action::Rectify], "rectifying"),
        (&[Action::Start, Action::Rectify, Action::Submit], "submitted"),
        (&[Action::Start, Action::Rectify, Action::Submit, Action::Return], "returned"),
        (&[Action::Start, Action::Rectify, Action::Submit, Action::Accept], "accepted"),
        (&[Action::Start, Action::Rectify, Action::Submit, Action::Accept, Action::Archive], "archived"),
        (&[Action::Start], "overdue"),
    ];
    for ((steps, label), f) in plans.iter().zip(ours.iter()) {
        let d = if *label == "overdue" { &overdue } else { &deadline };
        let made = orders::create(&mut conn, &auditor, &[(*f).clone()], d, "演示 demo").map_err(flow_err)?;
        let Some((id, _)) = made.orders.first().cloned() else { continue };
        for step in *steps {
            if *step == Action::Rectify {
                let result = ResultInput {
                    result: "confirmed".into(),
                    cause: "现场核实属实 / confirmed on site".into(),
                    recovered: f.amount_at_risk.map(|a| (a * 100.0).round() / 100.0),
                };
                orders::set_result(&mut conn, &staff, id, &f.finding_id, &result).map_err(flow_err)?;
            }
            let actor = if step.by_station() { &staff } else { &auditor };
            let reason = if *step == Action::Return {
                "佐证材料不全，请补充现场照片 / evidence incomplete"
            } else {
                ""
            };
            orders::transition(&mut conn, actor, id, *step, reason).map_err(flow_err)?;
        }
    }
    // The rest of the month's findings of both stations go out in one dispatch, one order per station.
    let rest: Vec<FindingSnapshot> = findings
        .iter()
        .filter(|f| stations.iter().take(2).any(|s| f.station_id.as_deref() == Some(s)))
        .skip(plans.len())
        .take(40)
        .cloned()
        .collect();
    if !rest.is_empty() {
        orders::create(&mut conn, &auditor, &rest, &deadline, "").map_err(flow_err)?;
    }
    let month = &period.to_string();
    let lead = login(&mut conn, "lead")?;
    onsite::record(
        &mut conn,
        &lead,
        &jicha_engine::Specialty::ALL.iter().map(|s| s.code()).collect::<Vec<_>>(),
        onsite::Problem {
            problem_id: 0,
            month: month.clone(),
            station_id: stations[0].clone(),
            specialty: "metering".into(),
            entity_type: String::new(),
            entity_id: String::new(),
            description: "计量箱封印缺失 3 处 / three metering-box seals missing".into(),
            measure: "补加封印并登记封印编号 / reseal and record the seal ids".into(),
            responsible: "张伟".into(),
            deadline: deadline.clone(),
            order_id: 0,
            recorded_by: String::new(),
        },
    )
    .map_err(flow_err)?;
    orders::escalate_overdue(&mut conn).map_err(flow_err)?;
    Ok(out)
}
