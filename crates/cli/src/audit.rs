//! `jicha themes` and `jicha audit`: wiring the engine to the terminal.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use jicha_core::calendar::{Period, parse_date};
use jicha_engine::audit::{Catalogue, Outcome, not_run_reason, run};
use jicha_engine::columns::text;
use jicha_engine::themes::daily::station_supply;
use jicha_engine::{EngineError, Finding, Session, Window};
use jicha_store::{DataDir, StoreError};

use crate::BAD_INPUT;

/// Output formats of `jicha audit` and `jicha daily`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Jsonl,
    Csv,
    Xlsx,
}

/// Opens the session; `Err(code)` when the data dir is missing (bad input).
pub(crate) fn open(dir: &DataDir) -> anyhow::Result<Result<Session, u8>> {
    match Session::open(dir) {
        Ok(s) => Ok(Ok(s)),
        Err(EngineError::Store(e @ StoreError::Missing(_))) => {
            eprintln!("{e}");
            Ok(Err(BAD_INPUT))
        }
        Err(e) => Err(e.into()),
    }
}

/// Loads the catalogue (custom themes, `jicha.toml`); `Err(code)` when the config is invalid.
/// Broken custom themes are reported and skipped.
fn catalogue(dir: &DataDir, quiet: bool) -> Result<Catalogue, u8> {
    match Catalogue::load(dir.root()) {
        Ok(c) => {
            if !quiet {
                for b in &c.broken {
                    eprintln!(
                        "警告 / warning: 自定义主题已跳过 / custom theme skipped: {}: {}",
                        b.path.display(),
                        b.reason
                    );
                }
            }
            Ok(c)
        }
        Err(problems) => {
            eprintln!(
                "错误 / error: 配置文件有 {} 个问题，未运行任何主题 / the config has {} problems; no theme was run",
                problems.len(),
                problems.len()
            );
            for p in problems {
                eprintln!("  {p}");
            }
            Err(BAD_INPUT)
        }
    }
}

pub fn themes(dir: &DataDir) -> anyhow::Result<u8> {
    let cat = match catalogue(dir, true) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let mut session = match open(dir)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let printed = print_themes(&mut session, &cat, &mut out).and_then(|()| Ok(out.flush()?));
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

fn print_themes(session: &mut Session, cat: &Catalogue, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:<16} {:<22} {:<12} {:<18} 可运行 runnable",
        "代码 code", "名称 name", "专业", "对象 entity"
    )?;
    for &t in &cat.themes {
        let settings = cat.config.settings(t);
        let state = if !settings.enabled {
            "已停用 / switched off (jicha.toml)".to_string()
        } else if let Some(r) = t.unconfigured(&settings.params) {
            format!("不可运行 / not run: {r}")
        } else {
            match not_run_reason(session, t)? {
                None => "可运行 / runnable".to_string(),
                Some(r) => format!("不可运行 / not run: {r}"),
            }
        };
        writeln!(
            out,
            "{:<16} {:<22} {:<12} {:<18} {}",
            t.code(),
            t.name_zh(),
            t.specialty().name_zh(),
            format!("{} {}", t.entity().name_zh(), t.entity().code()),
            state
        )?;
        let mut kind =
            if t.daily() { "日监测 daily (jicha daily)" } else { "月度 monthly (jicha audit)" }.to_string();
        if let Some(path) = t.custom_source() {
            kind.push_str(&format!("；自定义 custom: {}", path.display()));
        }
        let sev = settings.severity.unwrap_or(t.severity());
        writeln!(out, "{:<16} {}  · {kind} · 严重程度 severity {}", "", t.name_en(), sev.code())?;
        for p in t.params() {
            let v = settings.params.get(p.name);
            let set = if v == p.default { String::new() } else { format!("（jicha.toml: {v}）") };
            writeln!(out, "{:<16}   {} = {}{set}   {}", "", p.name, p.default, p.doc)?;
        }
        for k in t.keyed_params() {
            let table = settings.params.keyed(k.name);
            writeln!(
                out,
                "{:<16}   {}：每个{} = 数值，已配置 {} 个 / {} per key, {} set",
                "",
                k.name,
                k.key,
                table.len(),
                k.doc,
                table.len()
            )?;
        }
    }
    for b in &cat.broken {
        writeln!(out, "已跳过的自定义主题 / skipped custom theme: {}: {}", b.path.display(), b.reason)?;
    }
    Ok(())
}

/// What to audit: a month (`jicha audit`) or a day (`jicha daily`).
pub enum Scope<'a> {
    Month { period: &'a str, as_of: Option<&'a str> },
    Day { date: &'a str },
}

/// New findings join the open orders of their theme and entity (see `jicha_web::schedule`).
fn join_open_orders(dir: &DataDir, findings: &[jicha_engine::Finding]) -> anyhow::Result<()> {
    let joined = jicha_web::schedule::join_open_orders(dir, findings)?;
    if joined > 0 {
        eprintln!("{joined} 条疑似问题并入在办稽查工单 / findings joined open audit orders");
    }
    Ok(())
}

pub fn audit(
    dir: &DataDir,
    scope: Scope<'_>,
    codes: &[String],
    format: Format,
    out: Option<&Path>,
    quiet: bool,
) -> anyhow::Result<u8> {
    let window = match scope {
        Scope::Month { period, as_of } => {
            let Some(period) = Period::parse(period) else {
                eprintln!("错误 / error: --period “{period}” 不是有效月份 / is not a valid month (YYYY-MM)");
                return Ok(BAD_INPUT);
            };
            let as_of = match as_of {
                None => None,
                Some(t) => match parse_date(t) {
                    Some(d) => Some(d),
                    None => {
                        eprintln!(
                            "错误 / error: --as-of “{t}” 不是有效日期 / is not a valid date (YYYY-MM-DD)"
                        );
                        return Ok(BAD_INPUT);
                    }
                },
            };
            Window::new(period, as_of)
        }
        Scope::Day { date } => match parse_date(date) {
            Some(d) => Window::daily(d),
            None => {
                eprintln!("错误 / error: --date “{date}” 不是有效日期 / is not a valid date (YYYY-MM-DD)");
                return Ok(BAD_INPUT);
            }
        },
    };
    if format == Format::Xlsx && out.is_none() {
        eprintln!("错误 / error: --format xlsx 需要 --out 文件名 / --format xlsx needs --out FILE.xlsx");
        return Ok(BAD_INPUT);
    }
    let cat = match catalogue(dir, quiet) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let themes = match cat.select(codes, window.day.is_some()) {
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
    // A whole month audited before its data is in reads every missing reading as a finding: said
    // before the run (the scheduled monthly audit waits instead).
    if window.day.is_none()
        && window.as_of == window.period.next().first_day()
        && !quiet
        && let Some(why) = jicha_store::month_not_in(dir, window.period)?
    {
        eprintln!(
            "提示 / note: {why}；缺数的用户会被列为疑似问题 / customers without data will be listed as findings"
        );
    }
    let started_at = chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let started = std::time::Instant::now();
    let result = run(&mut session, window, &cat, &themes)?;
    jicha_engine::store::keep(&session, &result, &started_at)
        .context("保存疑似问题 / storing the findings")?;
    join_open_orders(dir, &result.findings)?;
    let briefing = match window.day {
        Some(_) => Some(Briefing::compute(&mut session, &window)?),
        None => None,
    };
    if format == Format::Xlsx {
        let path = out.expect("checked above");
        write_xlsx(path, &cat, &result.findings, briefing.as_ref())
            .with_context(|| format!("无法写入 / cannot write {}", path.display()))?;
    } else {
        let mut sink: Box<dyn Write> = match out {
            Some(p) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(p)
                    .with_context(|| format!("无法创建 / cannot create {}", p.display()))?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        };
        let written = match format {
            Format::Jsonl => result.findings.iter().try_for_each(|f| -> anyhow::Result<()> {
                writeln!(sink, "{}", serde_json::to_string(f)?)?;
                Ok(())
            }),
            Format::Csv => write_csv(&mut sink, &result.findings),
            _ => briefing
                .as_ref()
                .map_or(Ok(()), |b| b.write(&mut sink))
                .and_then(|()| write_table(&mut sink, &cat, &result.findings)),
        };
        quiet_broken_pipe(written.and_then(|()| Ok(sink.flush()?)))?;
    }
    if !quiet {
        eprintln!("  {:<16} {:<16} {:>24.2} s", "读取关系表", "loading tables", result.load_seconds);
        for t in &result.themes {
            let name = cat.get(t.code).map_or("", |t| t.name_zh());
            match &t.outcome {
                Outcome::Ran { findings, seconds } => {
                    eprintln!("  {:<16} {name:<16} {findings:>8} 条 findings  {seconds:>7.2} s", t.code)
                }
                Outcome::NotRun(r) => eprintln!("  {:<16} {name:<16} 未运行 / not run: {r}", t.code),
                Outcome::Failed(r) => eprintln!("  {:<16} {name:<16} 运行失败 / failed: {r}", t.code),
            }
        }
        eprintln!(
            "稽查完成：{} {} 条疑似问题，用时 {:.1} 秒 / audit done: {} findings in {:.1} s",
            window.label(),
            result.findings.len(),
            started.elapsed().as_secs_f64(),
            result.findings.len(),
            started.elapsed().as_secs_f64()
        );
    }
    // Everything is stored and written: the session's intermediates (gigabytes in millions of
    // small allocations at a county's scale) are left to the operating system, which reclaims
    // them at once when the process exits, instead of being freed one by one first.
    std::mem::forget(session);
    Ok(0)
}

/// The daily briefing's supply part: each station's supply on the day and a week earlier.
pub struct Briefing {
    day: chrono::NaiveDate,
    rows: Vec<(String, Option<i64>, Option<i64>)>,
}

impl Briefing {
    fn compute(session: &mut Session, w: &Window) -> anyhow::Result<Briefing> {
        let day = w.day.expect("a daily window");
        session.require(&["transformer_areas", "feeders", "stations"])?;
        let d = w.watched_day();
        let supply = if session.has_rows("supply") && session.has_rows("transformer_areas") {
            station_supply(session, &[d - 7, d])?
        } else {
            Default::default()
        };
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        if session.has_rows("stations") {
            for b in session.run("SELECT station_id, name FROM stations", "供电所 / stations")? {
                let (id, name) = (text(&b, "station_id")?, text(&b, "name")?);
                names.extend(id.into_iter().zip(name));
            }
        }
        let mut stations: Vec<String> = supply.keys().map(|(s, _)| s.clone()).collect();
        stations.dedup();
        let rows = stations
            .into_iter()
            .map(|s| {
                let get = |day: i32| supply.get(&(s.clone(), day)).map(|x| x.supply);
                let (now, before) = (get(d), get(d - 7));
                let label = match names.get(&s) {
                    Some(n) if !n.is_empty() => format!("{s} {n}"),
                    _ => s,
                };
                (label, now, before)
            })
            .collect();
        Ok(Briefing { day, rows })
    }

    fn write(&self, sink: &mut dyn Write) -> anyhow::Result<()> {
        let week = self.day - chrono::Days::new(7);
        writeln!(sink, "日监测 {} / daily watch {}", self.day, self.day)?;
        writeln!(
            sink,
            "{:<24} {:>16} {:>16} {:>10}",
            "供电所 station",
            format!("供电量 {}", self.day.format("%m-%d")),
            format!("上周同日 {}", week.format("%m-%d")),
            "变化 change"
        )?;
        if self.rows.is_empty() {
            writeln!(sink, "  （无供电量数据 / no supply data）")?;
        }
        for (s, now, before) in &self.rows {
            let kwh = |x: &Option<i64>| x.map_or("-".to_string(), |v| format!("{:.2}", v as f64 / 100.0));
            let change = match (now, before) {
                (Some(n), Some(b)) if *b > 0 => format!("{:+.1}%", (n - b) as f64 * 100.0 / *b as f64),
                _ => "-".to_string(),
            };
            writeln!(sink, "{s:<24} {:>16} {:>16} {change:>10}", kwh(now), kwh(before))?;
        }
        writeln!(sink)?;
        Ok(())
    }
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
fn write_table(sink: &mut dyn Write, cat: &Catalogue, findings: &[Finding]) -> anyhow::Result<()> {
    let mut groups: BTreeMap<(String, &'static str), Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        let sp = cat.get(f.theme).map_or("", |t| t.specialty().name_zh());
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
            let name = cat.get(f.theme).map_or("", |t| t.name_zh());
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

/// The findings as an Excel workbook: a summary by station and specialty, the findings (Chinese
/// headers, money as numbers), and for a daily run the stations' supply.
fn write_xlsx(
    path: &Path,
    cat: &Catalogue,
    findings: &[Finding],
    briefing: Option<&Briefing>,
) -> anyhow::Result<()> {
    use rust_xlsxwriter::{Format as XFormat, Workbook};
    let mut book = Workbook::new();
    let bold = XFormat::new().set_bold();
    let money = XFormat::new().set_num_format("#,##0.00");

    let summary = book.add_worksheet().set_name("汇总")?;
    for (c, h) in ["供电所", "专业", "疑似问题数", "涉及电费(元)"].iter().enumerate() {
        summary.write_with_format(0, c as u16, *h, &bold)?;
    }
    let mut groups: BTreeMap<(String, &str), (u32, f64)> = BTreeMap::new();
    for f in findings {
        let sp = cat.get(f.theme).map_or("", |t| t.specialty().name_zh());
        let e = groups.entry((f.station_id.clone().unwrap_or_else(|| "-".into()), sp)).or_default();
        e.0 += 1;
        e.1 += f.amount_at_risk.unwrap_or(0.0);
    }
    for (i, ((st, sp), (n, m))) in groups.iter().enumerate() {
        let r = i as u32 + 1;
        summary.write(r, 0, st.as_str())?;
        summary.write(r, 1, *sp)?;
        summary.write(r, 2, *n)?;
        summary.write_with_format(r, 3, *m, &money)?;
    }
    summary.set_column_width(0, 14)?;
    summary.set_column_width(1, 20)?;
    summary.set_column_width(3, 16)?;

    let sheet = book.add_worksheet().set_name("疑似问题")?;
    let headers = [
        "主题代码",
        "主题名称",
        "专业",
        "对象类型",
        "对象编号",
        "供电所",
        "期间",
        "严重程度",
        "涉及电费(元)",
        "证据",
        "疑似问题编号",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_with_format(0, c as u16, *h, &bold)?;
    }
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.station_id, b.amount_at_risk.unwrap_or(0.0))
            .partial_cmp(&(&b.station_id, a.amount_at_risk.unwrap_or(0.0)))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    for (i, f) in sorted.iter().enumerate() {
        let r = i as u32 + 1;
        let t = cat.get(f.theme);
        let evidence: Vec<String> = f.evidence.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // Ids are written as text so that Excel keeps leading zeros.
        sheet.write(r, 0, f.theme)?;
        sheet.write(r, 1, t.map_or("", |t| t.name_zh()))?;
        sheet.write(r, 2, t.map_or("", |t| t.specialty().name_zh()))?;
        sheet.write(r, 3, f.entity_type.name_zh())?;
        sheet.write(r, 4, f.entity_id.as_str())?;
        sheet.write(r, 5, f.station_id.as_deref().unwrap_or(""))?;
        sheet.write(r, 6, f.period.as_str())?;
        sheet.write(r, 7, f.severity.name_zh())?;
        if let Some(a) = f.amount_at_risk {
            sheet.write_with_format(r, 8, a, &money)?;
        }
        sheet.write(r, 9, evidence.join("; "))?;
        sheet.write(r, 10, f.finding_id.as_str())?;
    }
    for (c, w) in [(0, 16), (1, 16), (2, 16), (4, 16), (5, 10), (6, 10), (8, 14), (9, 60), (10, 18)] {
        sheet.set_column_width(c, w)?;
    }
    sheet.autofilter(0, 0, sorted.len() as u32, (headers.len() - 1) as u16)?;
    sheet.set_freeze_panes(1, 0)?;

    if let Some(b) = briefing {
        let s = book.add_worksheet().set_name("供电量")?;
        for (c, h) in ["供电所", "当日供电量(kWh)", "上周同日(kWh)", "变化率"].iter().enumerate()
        {
            s.write_with_format(0, c as u16, *h, &bold)?;
        }
        for (i, (st, now, before)) in b.rows.iter().enumerate() {
            let r = i as u32 + 1;
            s.write(r, 0, st.as_str())?;
            if let Some(n) = now {
                s.write(r, 1, *n as f64 / 100.0)?;
            }
            if let Some(x) = before {
                s.write(r, 2, *x as f64 / 100.0)?;
            }
            if let (Some(n), Some(x)) = (now, before)
                && *x > 0
            {
                s.write_with_format(
                    r,
                    3,
                    (n - x) as f64 / *x as f64,
                    &XFormat::new().set_num_format("0.0%"),
                )?;
            }
        }
    }
    book.save(path)?;
    Ok(())
}
