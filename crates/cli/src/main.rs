//! `jicha`: the command line of Jicha (稽查), marketing audit and revenue protection for power
//! supply companies. Argument parsing and wiring only; the work is done by the library crates.

mod audit;
mod indicators;
mod progress;
mod theft;
mod web;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use jicha_ingest::{ImportOutcome, import};
use jicha_store::{DataDir, Status, StoreError};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: the web server's many small short-lived allocations (rows, JSON, HTML) and the
/// engine's batches cost less than with the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 稽查 Jicha：供电企业营销稽查与收入风险管控 / marketing audit and revenue protection for power supply companies.
#[derive(Parser)]
#[command(name = "jicha", version, about, long_about = None)]
struct Cli {
    /// 数据目录 / the data dir
    #[arg(long, global = true, env = "JICHA_DATA", default_value = "./jicha-data")]
    data: PathBuf,
    /// 不显示进度 / no progress bars
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// 导入数据集（文件夹、.xlsx 工作簿或 .csv 文件），全部成功或全部不导入 / import a data set, all or nothing
    Import {
        /// 数据集路径 / path of the data set (folder, .xlsx or .csv)
        path: PathBuf,
    },
    /// 生成一个逼真的县公司数据集（含埋设的异常）/ generate a realistic county data set with planted anomalies
    Generate {
        /// 输出目录 / output folder
        #[arg(long)]
        out: PathBuf,
        /// 用户数 / customers
        #[arg(long, default_value_t = 2_000)]
        customers: usize,
        /// 供电所数 / stations
        #[arg(long, default_value_t = 6)]
        stations: usize,
        /// 起始日期 / first day (YYYY-MM-DD)
        #[arg(long, default_value = "2026-01-01")]
        start: String,
        /// 月数 / months
        #[arg(long, default_value_t = 3)]
        months: u32,
        /// 随机种子 / seed
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// 以 GBK(GB18030) 编码写 CSV / write CSV in GBK (GB18030)
        #[arg(long)]
        gbk: bool,
        /// 关系表写成一个 .xlsx 工作簿 / write the relational tables as one .xlsx workbook
        #[arg(long)]
        xlsx: bool,
    },
    /// 稽查主题目录及能否在已存数据上运行 / the theme catalogue and whether each can run on the stored data
    Themes,
    /// 按月运行稽查主题，保存并输出疑似问题 / run the audit themes for a month, store and print the findings
    Audit {
        /// 稽查月份 / the audited month (YYYY-MM)
        #[arg(long)]
        period: String,
        /// 截止日期，默认次月1日 / as-of date (YYYY-MM-DD), by default the first day of the next month
        #[arg(long)]
        as_of: Option<String>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// 日监测：某日（通常为昨天）的日监测主题和各供电所供电量 / the daily watch for one day (usually yesterday)
    Daily {
        /// 监测日期 / the watched day (YYYY-MM-DD)
        #[arg(long)]
        date: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// 营销指标：各供电所和公司的指标，与上期、去年同期对比 / indicators per station and company, against the previous and last year's period
    Indicators {
        /// 期间：YYYY-MM-DD、YYYY-MM、YYYY-Qn 或 YYYY / the period: a day, month, quarter or year
        #[arg(long)]
        period: String,
        /// 截止日期，默认期末次日 / as-of date (YYYY-MM-DD), by default the day after the period
        #[arg(long)]
        as_of: Option<String>,
        /// 只看一个供电所（另加公司合计）/ one station only (with the company's figures)
        #[arg(long)]
        station: Option<String>,
        /// 输出格式 / output format
        #[arg(long, value_enum, default_value_t = indicators::IndicatorFormat::Table)]
        format: indicators::IndicatorFormat,
        /// 输出文件，默认标准输出（xlsx 必填）/ output file, standard output by default (required for xlsx)
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// 日供电量简报：某日（通常为昨天）各供电所和全公司的供电量、大用户骤降、新增高损台区、今日到期工单 / the daily supply briefing of a day (usually yesterday)
    Briefing {
        /// 日期，默认昨天 / the day (YYYY-MM-DD), by default yesterday
        #[arg(long)]
        date: Option<String>,
        /// 高损线，默认 0.10 / the loss line, 0.10 by default
        #[arg(long, default_value_t = 0.10)]
        loss_line: f64,
        /// 输出 / what to print
        #[arg(long, value_enum, default_value_t = BriefingFormat::Text)]
        format: BriefingFormat,
    },
    /// 月度文件：《现场营销稽查报告》(.docx) 与《现场营销稽查发现问题及整改措施汇总清单》(.xlsx) / the two monthly documents
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// 用电营业普查与专项稽查：选户、出登记表、收回结果 / census and special audits: select, forms, results
    Census {
        #[command(subcommand)]
        command: CensusCommand,
    },
    /// 窃电嫌疑模型：训练、评分、评估 / the theft model: train, score, evaluate
    Theft {
        #[command(subcommand)]
        command: theft::TheftCommand,
    },
    /// 启动网页与 JSON 接口（全部资源内置，无需联网）/ serve the web app and the JSON API (every asset built in)
    Serve {
        /// 监听地址 / address to listen on
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
    },
    /// 用户管理 / users
    User {
        #[command(subcommand)]
        command: web::UserCommand,
    },
    /// 校验审计日志的哈希链，指出第一个断裂处 / check the audit trail's hash chain, naming the first broken link
    VerifyTrail,
    /// 演示：生成、导入、稽查一个县，建演示账号和各状态工单，然后启动网页 / the demo: a county generated, imported, audited, with users and orders, then served
    Demo {
        /// 监听地址 / address to listen on
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        /// 演示目录 / the demo's folder
        #[arg(long, default_value = "jicha-demo")]
        work: PathBuf,
        /// 用户数 / customers
        #[arg(long, default_value_t = 20_000)]
        customers: usize,
        /// 月数 / months
        #[arg(long, default_value_t = 3)]
        months: u32,
    },
    /// 显示已存数据 / show what is stored
    Status {
        /// 输出格式 / output format
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Subcommand)]
enum CensusCommand {
    /// 发起：全部非居民用户加居民随机抽样 / start: every non-resident customer plus a seeded sample of residents
    Start {
        /// 名称 / name, e.g. 2026年营业普查
        #[arg(long)]
        name: String,
        /// census（营业普查）或 audit（专项稽查）
        #[arg(long, default_value = "census")]
        kind: String,
        /// 居民抽样比例 / share of residents sampled
        #[arg(long, default_value_t = 0.1)]
        share: f64,
        /// 抽样种子 / seed of the sample
        #[arg(long, default_value_t = 1)]
        seed: i64,
    },
    /// 各供电所登记表（.xlsx）/ the registration forms, one workbook per station
    Forms {
        /// 普查编号 / campaign id
        #[arg(long)]
        campaign: i64,
        /// 输出目录 / output folder
        #[arg(long)]
        out: PathBuf,
    },
    /// 收回填好的登记表：导入、生成疑似问题和工单 / take filled forms back: import, findings, orders
    Intake {
        /// 普查编号 / campaign id
        #[arg(long)]
        campaign: i64,
        /// 整改期限 / deadline of the orders (YYYY-MM-DD), by default 30 days on
        #[arg(long)]
        deadline: Option<String>,
        /// 填好的登记表 / the filled forms
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// 某月的两份月度文件 / the month's two documents
    Monthly {
        /// 月份 / the month (YYYY-MM)
        #[arg(long)]
        period: String,
        /// 输出目录 / output folder
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum BriefingFormat {
    /// 长文（群机器人、邮件）/ the long form (chat, e-mail)
    Text,
    /// 每所一条短信 / one SMS per station
    Sms,
    /// JSON
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// What `jicha audit` and `jicha daily` share: which themes, and where the findings go.
#[derive(clap::Args)]
struct RunArgs {
    /// 只运行这些主题（逗号分隔）/ only these themes (comma separated codes)
    #[arg(long, value_delimiter = ',')]
    themes: Vec<String>,
    /// 输出格式 / output format
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    format: AuditFormat,
    /// 输出文件，默认标准输出 / output file, standard output by default
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum AuditFormat {
    Table,
    Jsonl,
    Csv,
    Xlsx,
}

impl AuditFormat {
    fn engine(self) -> audit::Format {
        match self {
            AuditFormat::Table => audit::Format::Table,
            AuditFormat::Jsonl => audit::Format::Jsonl,
            AuditFormat::Csv => audit::Format::Csv,
            AuditFormat::Xlsx => audit::Format::Xlsx,
        }
    }
}

fn briefing(dir: &DataDir, date: Option<&str>, loss_line: f64, format: BriefingFormat) -> anyhow::Result<u8> {
    let day = match date {
        None => chrono::Local::now().date_naive() - chrono::Days::new(1),
        Some(t) => match jicha_core::calendar::parse_date(t) {
            Some(d) => d,
            None => {
                eprintln!("错误 / error: --date “{t}” 不是有效日期 / is not a valid date (YYYY-MM-DD)");
                return Ok(BAD_INPUT);
            }
        },
    };
    if !(0.0..1.0).contains(&loss_line) {
        eprintln!("错误 / error: --loss-line 应在 0 与 1 之间 / must be between 0 and 1");
        return Ok(BAD_INPUT);
    }
    let mut session = match audit::open(dir)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let cat = jicha_engine::audit::Catalogue::load(dir.root())
        .unwrap_or_else(|_| jicha_engine::audit::Catalogue::builtin());
    let flow = jicha_flow::Flow::new(dir.root());
    let b = jicha_web::briefing::compute(&mut session, &cat, &flow, day, loss_line)?;
    // A day whose data is not in has unknown supply and no drops (the scheduled briefing waits
    // for it instead): the long form says so at its top, the other forms on stderr.
    if let Some(why) = b.not_in.as_ref().filter(|_| !matches!(format, BriefingFormat::Text)) {
        eprintln!("提示 / note: {why}");
    }
    let mut out = std::io::stdout().lock();
    let r: anyhow::Result<()> = (|| {
        match format {
            BriefingFormat::Text => write!(out, "{}", b.long_text())?,
            BriefingFormat::Sms => {
                writeln!(out, "{}", b.company.sms(b.day, b.not_in.is_some()))?;
                for s in &b.stations {
                    writeln!(out, "{}", s.sms(b.day, b.not_in.is_some()))?;
                }
            }
            BriefingFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&b)?)?,
        }
        Ok(())
    })();
    audit::quiet_broken_pipe(r)?;
    Ok(0)
}

fn census(dir: &DataDir, command: CensusCommand) -> anyhow::Result<u8> {
    if !dir.database().exists() {
        eprintln!("错误 / error: 数据目录 {} 还没有导入数据 / nothing imported", dir.root().display());
        return Ok(BAD_INPUT);
    }
    let system = jicha_flow::Actor::system();
    match command {
        CensusCommand::Start { name, kind, share, seed } => {
            let c = jicha_web::census::start(dir.root(), &system, &name, &kind, share, seed)?;
            println!(
                "普查 {} “{}”：{} 户 / campaign {}: {} customers",
                c.campaign_id, c.name, c.customers, c.campaign_id, c.customers
            );
        }
        CensusCommand::Forms { campaign, out } => {
            for p in jicha_web::census::forms(dir.root(), campaign, &out)? {
                println!("{}", p.display());
            }
        }
        CensusCommand::Intake { campaign, deadline, files } => {
            let deadline = deadline.unwrap_or_else(|| {
                (chrono::Local::now().date_naive() + chrono::Days::new(30)).format("%Y-%m-%d").to_string()
            });
            match jicha_web::census::intake(dir.root(), &system, campaign, &files, &deadline) {
                Ok(r) => println!(
                    "导入 {} 条，未走访 {} 户，疑似问题 {} 条，新工单 {} 张 / imported {}, not visited {}, findings {}, new orders {}",
                    r.imported,
                    r.not_visited,
                    r.findings,
                    r.orders,
                    r.imported,
                    r.not_visited,
                    r.findings,
                    r.orders
                ),
                Err(e) if e.is::<jicha_web::census::Refused>() => {
                    eprintln!("错误 / error: {e}");
                    return Ok(BAD_INPUT);
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(0)
}

/// Exit codes: 0 success, 2 bad input, 1 any other failure.
const BAD_INPUT: u8 = 2;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, v2 and v3; the binding names no
/// constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tunes the allocator for the audit's large, short-lived tables, unless the environment sets
/// the option (`MIMALLOC_...`):
/// - memory from the system in large pages (2 MiB, where the kernel grants transparent huge pages
///   on request): the tables and hash maps of gigabytes are reached through far fewer page-table
///   entries;
/// - memory freed is given back to the system after 10 s instead of 1 s, so a table freed by one
///   theme serves the next instead of being returned and faulted in (and zeroed) again.
///
/// Together they took about 4 s off the audit at 1 M customers, at the same peak RSS
/// (docs/benchmarks.md, "Large pages and the theft features").
fn tune_allocator() {
    let unset = |names: &[&str]| names.iter().all(|n| std::env::var_os(n).is_none());
    if unset(&["MIMALLOC_ALLOW_LARGE_OS_PAGES", "MIMALLOC_LARGE_OS_PAGES"]) {
        // SAFETY: sets one of the allocator's options; mimalloc reads it when it next asks the
        // system for memory, and any value is valid.
        unsafe { libmimalloc_sys::mi_option_set(libmimalloc_sys::mi_option_large_os_pages, 1) };
    }
    if unset(&["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"]) {
        // SAFETY: as above; the delay is in milliseconds.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10_000) };
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("错误 / error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let dir = DataDir::new(&cli.data);
    match cli.command {
        Command::Import { path } => run_import(&dir, &path, cli.quiet),
        Command::Generate { out, customers, stations, start, months, seed, gbk, xlsx } => {
            let Some(start) = jicha_core::calendar::parse_date(&start) else {
                eprintln!("错误 / error: --start “{start}” 不是有效日期 / is not a valid date (YYYY-MM-DD)");
                return Ok(BAD_INPUT);
            };
            if customers == 0 || stations == 0 || months == 0 {
                eprintln!(
                    "错误 / error: --customers、--stations、--months 须大于 0 / must be greater than 0"
                );
                return Ok(BAD_INPUT);
            }
            let opts = jicha_sim::GenerateOptions {
                out: out.clone(),
                customers,
                stations,
                start,
                months,
                seed,
                gbk,
                xlsx,
            };
            let bars = progress::Bars::new(cli.quiet);
            let started = std::time::Instant::now();
            let summary = jicha_sim::generate(&opts, &bars)
                .with_context(|| format!("生成失败 / generation failed: {}", out.display()))?;
            bars.done();
            let rows: u64 = summary.files.iter().map(|f| f.1).sum();
            println!(
                "已生成 {} 个文件、{} 行、{} 个埋设异常，用时 {:.1} 秒 → {} / generated {} files, {} rows, {} planted anomalies in {:.1} s",
                summary.files.len(),
                rows,
                summary.anomalies,
                started.elapsed().as_secs_f64(),
                out.display(),
                summary.files.len(),
                rows,
                summary.anomalies,
                started.elapsed().as_secs_f64()
            );
            Ok(0)
        }
        Command::Themes => audit::themes(&dir),
        Command::Audit { period, as_of, run } => {
            let scope = audit::Scope::Month { period: &period, as_of: as_of.as_deref() };
            audit::audit(&dir, scope, &run.themes, run.format.engine(), run.out.as_deref(), cli.quiet)
        }
        Command::Daily { date, run } => {
            let scope = audit::Scope::Day { date: &date };
            audit::audit(&dir, scope, &run.themes, run.format.engine(), run.out.as_deref(), cli.quiet)
        }
        Command::Indicators { period, as_of, station, format, out } => {
            indicators::run(&dir, &period, as_of.as_deref(), station.as_deref(), format, out.as_ref())
        }
        Command::Briefing { date, loss_line, format } => briefing(&dir, date.as_deref(), loss_line, format),
        Command::Report { command: ReportCommand::Monthly { period, out } } => {
            let Some(p) = jicha_core::calendar::Period::parse(&period) else {
                eprintln!("错误 / error: --period “{period}” 应为 YYYY-MM / must be YYYY-MM");
                return Ok(BAD_INPUT);
            };
            if !dir.database().exists() {
                eprintln!(
                    "错误 / error: 数据目录 {} 还没有导入数据 / nothing imported",
                    dir.root().display()
                );
                return Ok(BAD_INPUT);
            }
            let cat = jicha_engine::audit::Catalogue::load(dir.root())
                .unwrap_or_else(|_| jicha_engine::audit::Catalogue::builtin());
            let (docx, xlsx) = jicha_web::monthly::write(dir.root(), &cat, p, &out)?;
            println!("{}\n{}", docx.display(), xlsx.display());
            Ok(0)
        }
        Command::Census { command } => census(&dir, command),
        Command::Theft { command } => theft::run(&dir, command, cli.quiet),
        Command::Serve { bind } => web::serve(&dir, bind),
        Command::User { command } => web::user(&dir, command),
        Command::VerifyTrail => web::verify_trail(&dir),
        Command::Demo { bind, work, customers, months } => {
            web::demo(&work, bind, customers, months, cli.quiet)
        }
        Command::Status { format } => match Status::read(&dir) {
            Ok(status) => {
                match format {
                    Format::Json => println!("{}", serde_json::to_string_pretty(&status)?),
                    Format::Table => {
                        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                        let printed = print_status(&mut out, &status).and_then(|()| out.flush());
                        audit::quiet_broken_pipe(printed.map_err(Into::into))?;
                    }
                }
                Ok(0)
            }
            Err(e @ StoreError::Missing(_)) => {
                eprintln!("{e}");
                Ok(BAD_INPUT)
            }
            Err(e) => Err(e.into()),
        },
    }
}

fn run_import(dir: &DataDir, path: &std::path::Path, quiet: bool) -> anyhow::Result<u8> {
    let bars = progress::Bars::new(quiet);
    let started = std::time::Instant::now();
    let outcome = import(dir, path, &bars);
    bars.done();
    let outcome = match outcome {
        Ok(o) => o,
        Err(jicha_ingest::IngestError::Store(e @ StoreError::Locked(_))) => {
            eprintln!("{e}");
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    match outcome {
        ImportOutcome::Committed { summary, files, warnings } => {
            for w in &warnings {
                eprintln!("警告 / warning: {w}");
            }
            let rows: u64 = summary.rows.iter().map(|r| r.1).sum();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "导入完成：{files} 个文件，{rows} 行，用时 {secs:.1} 秒 / imported {files} files, {rows} rows in {secs:.1} s ({:.0} rows/s)",
                rows as f64 / secs.max(1e-9)
            );
            for (table, n) in &summary.rows {
                let zh = jicha_core::schema::table(table).map_or("", |t| t.name_zh);
                println!("  {zh:<8} {table:<18} {n:>12}");
            }
            if summary.derived_rows > 0 {
                println!("  日用电量(推导) daily_consumption {:>12}", summary.derived_rows);
            }
            println!(
                "用时 / time: 读取校验 read+check {:.1} s，写入分区 partitions {:.1} s，推导日用电量 derive {:.1} s，提交 commit {:.1} s",
                secs - summary.commit_seconds,
                summary.place_seconds,
                summary.derive_seconds,
                summary.commit_seconds - summary.place_seconds - summary.derive_seconds
            );
            Ok(0)
        }
        ImportOutcome::Rejected { rejection, warnings } => {
            for w in &warnings {
                eprintln!("警告 / warning: {w}");
            }
            eprintln!(
                "导入被拒绝：发现 {} 个问题，未写入任何数据。/ Import rejected: {} problems found; nothing was stored.",
                rejection.total, rejection.total
            );
            const SHOWN: usize = 200;
            for p in rejection.problems.iter().take(SHOWN) {
                eprintln!("  {p}");
            }
            if rejection.total > SHOWN as u64 {
                eprintln!(
                    "  …… 另有 {} 个问题未列出 / {} more not shown",
                    rejection.total - SHOWN as u64,
                    rejection.total - SHOWN as u64
                );
            }
            Ok(BAD_INPUT)
        }
    }
}

fn print_status(out: &mut impl std::io::Write, s: &Status) -> std::io::Result<()> {
    writeln!(out, "数据目录 / data dir: {}   数据版本 / data version: {}", s.data_dir, s.data_version)?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<10} {:<18} {:>14} {:>12} {:>12} {:>8} {:>10}",
        "表", "table", "行数 rows", "起 first", "止 last", "文件", "MB"
    )?;
    for t in &s.tables {
        writeln!(
            out,
            "{:<10} {:<18} {:>14} {:>12} {:>12} {:>8} {:>10}",
            t.name_zh,
            t.table,
            t.rows,
            t.first.as_deref().unwrap_or("-"),
            t.last.as_deref().unwrap_or("-"),
            t.files.map_or("-".into(), |f| f.to_string()),
            t.bytes.map_or("-".into(), |b| format!("{:.1}", b as f64 / 1_048_576.0)),
        )?;
    }
    writeln!(out)?;
    writeln!(out, "供电所 / stations: {}", s.stations.len())?;
    for st in &s.stations {
        writeln!(out, "  {:<12} {:<16} 用户 {}", st.station_id, st.name, st.customers)?;
    }
    writeln!(out)?;
    writeln!(out, "最近导入 / last imports:")?;
    if s.imports.is_empty() {
        writeln!(out, "  （无 / none）")?;
    }
    for i in &s.imports {
        writeln!(
            out,
            "  {} → {}  {}  {} 个文件 {} 行  {}",
            i.started_at, i.finished_at, i.outcome, i.files, i.rows, i.source
        )?;
    }
    Ok(())
}
