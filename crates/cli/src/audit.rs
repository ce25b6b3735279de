//! `jicha themes` and `jicha audit`: wiring the engine to the terminal.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use jicha_core::calendar::{Period, parse_date};
use jicha_engine::audit::{Outcome, not_run_reason, run, select};
use jicha_engine::themes::registry;
use jicha_engine::{EngineError, Finding, Session, Theme, Window};
use jicha_store::{DataDir, StoreError};

use crate::BAD_INPUT;

/// Output formats of `jicha audit`.
pub enum Format {
    Table,
    Jsonl,
    Csv,
}

/// Opens the session; `Err(code)` when the data dir is missing (bad input).
fn open(dir: &DataDir) -> anyhow::Result<Result<Session, u8>> {
    match Session::open(dir) {
        Ok(s) => Ok(Ok(s)),
        Err(EngineError::Store(e @ StoreError::Missing(_))) => {
            eprintln!("{e}");
            Ok(Err(BAD_INPUT))
        }
        Err(e) => Err(e.into()),
    }
}

fn theme_of(code: &str) -> Option<&'static dyn Theme> {
    registry().iter().copied().find(|t| t.code() == code)
}

pub fn themes(dir: &DataDir) -> anyhow::Result<u8> {
    let mut session = match open(dir)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let printed = print_themes(&mut session, &mut out).and_then(|()| Ok(out.flush()?));
    quiet_broken_pipe(printed)?;
    Ok(0)
}

/// A reader that stops early (`jicha themes | head`) is not an error.
pub(crate) fn quiet_broken_pipe(r: anyhow::Result<()>) -> anyhow::Result<()> {
    match r {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

fn print_themes(session: &mut Session, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:<14} {:<22} {:<12} {:<18} 可运行 runnable",
        "代码 code", "名称 name", "专业", "对象 entity"
    )?;
    for &t in registry() {
        let state = match not_run_reason(session, t)? {
            None => "可运行 / runnable".to_string(),
            Some(r) => format!("不可运行 / not run: {r}"),
        };
        writeln!(
            out,
            "{:<14} {:<22} {:<12} {:<18} {}",
            t.code(),
            t.name_zh(),
            t.specialty().name_zh(),
            format!("{} {}", t.entity().name_zh(), t.entity().code()),
            state
        )?;
        writeln!(out, "{:<14} {}", "", t.name_en())?;
        for p in t.params() {
            writeln!(out, "{:<14}   {} = {}   {}", "", p.name, p.default, p.doc)?;
        }
    }
    Ok(())
}

pub fn audit(
    dir: &DataDir,
    period: &str,
    as_of: Option<&str>,
    codes: &[String],
    format: Format,
    out: Option<&Path>,
    quiet: bool,
) -> anyhow::Result<u8> {
    let Some(period) = Period::parse(period) else {
        eprintln!("错误 / error: --period “{period}” 不是有效月份 / is not a valid month (YYYY-MM)");
        return Ok(BAD_INPUT);
    };
    let as_of = match as_of {
        None => None,
        Some(t) => match parse_date(t) {
            Some(d) => Some(d),
            None => {
                eprintln!("错误 / error: --as-of “{t}” 不是有效日期 / is not a valid date (YYYY-MM-DD)");
                return Ok(BAD_INPUT);
            }
        },
    };
    let themes = match select(codes) {
        Ok(t) => t,
        Err(e @ EngineError::BadInput(_)) => {
            eprintln!("错误 / error: {e}");
            return Ok(BAD_INPUT);
        }
        Err(e) => return Err(e.into()),
    };
    let mut session = match open(dir)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let started_at = chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let started = std::time::Instant::now();
    let result = run(&mut session, Window::new(period, as_of), &themes)?;
    jicha_engine::store::keep(&session, &result, &started_at)
        .context("保存疑似问题 / storing the findings")?;
    let mut sink: Box<dyn Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("无法创建 / cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let written = match format {
        Format::Jsonl => result.findings.iter().try_for_each(|f| -> anyhow::Result<()> {
            writeln!(sink, "{}", serde_json::to_string(f)?)?;
            Ok(())
        }),
        Format::Csv => write_csv(&mut sink, &result.findings),
        Format::Table => write_table(&mut sink, &result.findings),
    };
    quiet_broken_pipe(written.and_then(|()| Ok(sink.flush()?)))?;
    if !quiet {
        for t in &result.themes {
            let name = theme_of(t.code).map_or("", |t| t.name_zh());
            match &t.outcome {
                Outcome::Ran { findings, seconds } => {
                    eprintln!("  {:<14} {name:<16} {findings:>8} 条 findings  {seconds:>7.2} s", t.code)
                }
                Outcome::NotRun(r) => eprintln!("  {:<14} {name:<16} 未运行 / not run: {r}", t.code),
            }
        }
        eprintln!(
            "稽查完成：{} {} 条疑似问题，用时 {:.1} 秒 / audit done: {} findings in {:.1} s",
            period,
            result.findings.len(),
            started.elapsed().as_secs_f64(),
            result.findings.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(0)
}

fn write_csv(sink: &mut dyn Write, findings: &[Finding]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(sink);
    w.write_record([
        "theme",
        "entity_type",
        "entity_id",
        "station_id",
        "period",
        "severity",
        "evidence",
        "amount_at_risk",
        "finding_id",
    ])?;
    for f in findings {
        w.write_record([
            f.theme,
            f.entity_type.code(),
            &f.entity_id,
            f.station_id.as_deref().unwrap_or(""),
            &f.period,
            f.severity.code(),
            &serde_json::Value::Object(f.evidence.clone()).to_string(),
            &f.amount_at_risk.map_or(String::new(), |a| format!("{a:.2}")),
            &f.finding_id,
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// For people: by station, then specialty, findings with the most money at risk first.
fn write_table(sink: &mut dyn Write, findings: &[Finding]) -> anyhow::Result<()> {
    let mut groups: BTreeMap<(String, &'static str), Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        let sp = theme_of(f.theme).map_or("", |t| t.specialty().name_zh());
        groups.entry((f.station_id.clone().unwrap_or_else(|| "-".into()), sp)).or_default().push(f);
    }
    if groups.is_empty() {
        writeln!(sink, "未发现疑似问题 / no findings")?;
    }
    for ((station, specialty), mut list) in groups {
        // An empty f64 sum is -0.0; adding 0.0 prints it as 0.00.
        let money: f64 = list.iter().filter_map(|f| f.amount_at_risk).sum::<f64>() + 0.0;
        writeln!(sink, "供电所 station {station} · {specialty}  {} 条，涉及电费 {money:.2} 元", list.len())?;
        list.sort_by(|a, b| {
            b.amount_at_risk
                .unwrap_or(0.0)
                .total_cmp(&a.amount_at_risk.unwrap_or(0.0))
                .then(a.entity_id.cmp(&b.entity_id))
        });
        for f in list {
            let name = theme_of(f.theme).map_or("", |t| t.name_zh());
            let money = f.amount_at_risk.map_or("-".to_string(), |a| format!("{a:.2}"));
            let evidence: Vec<String> = f.evidence.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(
                sink,
                "  {name:<10} {:<14} {:<6} {:<18} {:>12}  {}",
                f.theme,
                f.severity.name_zh(),
                f.entity_id,
                money,
                evidence.join(" ")
            )?;
        }
    }
    Ok(())
}
