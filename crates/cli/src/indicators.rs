//! `jicha indicators`: every indicator of a day, month, quarter or year per station and for the
//! company, beside the previous period and the same period last year.

use std::io::Write;
use std::path::{Path, PathBuf};

use jicha_engine::indicators::{INDICATORS, Indicators, Options, Span, compute, indicator};
use jicha_store::DataDir;

use crate::BAD_INPUT;

/// Output formats of `jicha indicators`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum IndicatorFormat {
    Table,
    Jsonl,
    Xlsx,
}

pub fn run(
    dir: &DataDir,
    period: &str,
    as_of: Option<&str>,
    station: Option<&str>,
    format: IndicatorFormat,
    out: Option<&PathBuf>,
) -> anyhow::Result<u8> {
    let Some(span) = Span::parse(period) else {
        eprintln!(
            "错误 / error: --period “{period}” 应为 YYYY-MM-DD、YYYY-MM、YYYY-Qn 或 YYYY / must be YYYY-MM-DD, YYYY-MM, YYYY-Qn or YYYY"
        );
        return Ok(BAD_INPUT);
    };
    let as_of = match as_of {
        None => None,
        Some(t) => match jicha_core::calendar::parse_date(t) {
            Some(d) => Some(d),
            None => {
                eprintln!("错误 / error: --as-of “{t}” 不是有效日期 / is not a valid date");
                return Ok(BAD_INPUT);
            }
        },
    };
    if matches!(format, IndicatorFormat::Xlsx) && out.is_none() {
        eprintln!("错误 / error: xlsx 需要 --out 文件 / xlsx needs --out FILE");
        return Ok(BAD_INPUT);
    }
    let mut session = match crate::audit::open(dir)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let options = match jicha_engine::audit::Catalogue::load(dir.root()) {
        Ok(cat) => Options::from_catalogue(&cat),
        Err(_) => Options::default(),
    };
    let flow = jicha_flow::Flow::new(dir.root());
    let system = jicha_flow::Actor::system();
    let orders = jicha_web::indicators::order_source(&flow, &system);
    // By default the day after the period, or today while it runs.
    let as_of =
        as_of.or_else(|| Some(jicha_engine::indicators::as_of_on(span, chrono::Local::now().date_naive())));
    let ind = compute(&mut session, span, as_of, &options, &orders)?;
    if let Some(s) = station
        && !ind.station_names.contains_key(s)
    {
        eprintln!("错误 / error: 没有供电所 “{s}” / no station “{s}”");
        return Ok(BAD_INPUT);
    }
    match format {
        IndicatorFormat::Xlsx => write_xlsx(&ind, station, out.expect("checked"))?,
        IndicatorFormat::Table | IndicatorFormat::Jsonl => {
            let mut sink: Box<dyn Write> = match out {
                Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
                None => Box::new(std::io::stdout().lock()),
            };
            let r = if matches!(format, IndicatorFormat::Table) {
                write_table(&ind, station, &mut sink)
            } else {
                write_jsonl(&ind, station, &mut sink)
            };
            crate::audit::quiet_broken_pipe(r.and_then(|()| Ok(sink.flush()?)))?;
        }
    }
    Ok(0)
}

fn shown(ind: &Indicators, station: Option<&str>) -> Vec<jicha_engine::indicators::Row> {
    ind.rows()
        .into_iter()
        .filter(|r| station.is_none_or(|s| r.station_id.is_empty() || r.station_id == s))
        .collect()
}

fn cell(code: &str, v: Option<f64>) -> String {
    match (indicator(code), v) {
        (Some(i), Some(v)) => i.format(v),
        _ => "—".to_string(),
    }
}

fn write_table(ind: &Indicators, station: Option<&str>, sink: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(
        sink,
        "营销指标 {} / indicators {}（截至 as of {}）",
        ind.span.label_zh(),
        ind.span.label(),
        ind.as_of
    )?;
    let mut scope = String::new();
    for r in shown(ind, station) {
        if r.station != scope {
            scope = r.station.clone();
            let title = if r.station_id.is_empty() {
                "公司 company".to_string()
            } else {
                format!("{} {}", r.station_id, r.station)
            };
            writeln!(sink, "\n{title}")?;
            writeln!(
                sink,
                "  {:<18} {:>18} {:>18} {:>16} {:>18} {:>16}",
                "指标 indicator",
                "本期 now",
                "上期 previous",
                "环比 change",
                "去年同期 last year",
                "同比 change"
            )?;
        }
        let i = indicator(r.code).expect("known code");
        let (v, p, y) = (r.value.map(|v| v.value), r.previous.map(|v| v.value), r.last_year.map(|v| v.value));
        writeln!(
            sink,
            "  {:<18} {:>18} {:>18} {:>16} {:>18} {:>16}",
            format!("{}({})", i.zh, i.unit),
            cell(r.code, v),
            cell(r.code, p),
            i.change(v, p).unwrap_or_else(|| "—".into()),
            cell(r.code, y),
            i.change(v, y).unwrap_or_else(|| "—".into()),
        )?;
    }
    Ok(())
}

fn write_jsonl(ind: &Indicators, station: Option<&str>, sink: &mut dyn Write) -> anyhow::Result<()> {
    for r in shown(ind, station) {
        let mut v = serde_json::to_value(&r)?;
        v["period"] = ind.span.label().into();
        v["as_of"] = ind.as_of.to_string().into();
        writeln!(sink, "{v}")?;
    }
    Ok(())
}

fn write_xlsx(ind: &Indicators, station: Option<&str>, path: &Path) -> anyhow::Result<()> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let head = Format::new()
        .set_bold()
        .set_background_color(0xDDEBF7)
        .set_border(rust_xlsxwriter::FormatBorder::Thin);
    let num = Format::new().set_num_format("#,##0.00");
    let pct = Format::new().set_num_format("0.00%");
    let fmt_of = |code: &str| if indicator(code).is_some_and(|i| i.percent()) { &pct } else { &num };

    let ws = wb.add_worksheet().set_name("指标明细")?;
    ws.write_string(0, 0, format!("营销指标 {}（截至 {}）", ind.span.label_zh(), ind.as_of))?;
    let headers = ["供电所编码", "供电所", "指标", "单位", "本期", "上期", "去年同期", "分子", "分母"];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, *h, &head)?;
    }
    for (i, r) in shown(ind, station).iter().enumerate() {
        let row = 3 + i as u32;
        ws.write_string(row, 0, &r.station_id)?;
        ws.write_string(row, 1, &r.station)?;
        ws.write_string(row, 2, r.name)?;
        ws.write_string(row, 3, r.unit)?;
        for (c, v) in [(4, r.value), (5, r.previous), (6, r.last_year)] {
            if let Some(v) = v {
                ws.write_number_with_format(row, c, v.value, fmt_of(r.code))?;
            }
        }
        if let Some(v) = r.value {
            ws.write_number_with_format(row, 7, v.num, &num)?;
            if let Some(d) = v.den {
                ws.write_number_with_format(row, 8, d, &num)?;
            }
        }
    }
    ws.set_column_width(1, 16)?;
    ws.set_column_width(2, 18)?;
    for c in 4..=8 {
        ws.set_column_width(c, 16)?;
    }
    ws.set_freeze_panes(3, 0)?;

    // Stations side by side: a row per station, a column per indicator (this period).
    let ws = wb.add_worksheet().set_name("各所对比")?;
    let codes: Vec<_> = INDICATORS.iter().filter(|i| ind.span.monthly() || i.daily).collect();
    ws.write_string_with_format(0, 0, "供电所", &head)?;
    for (c, i) in codes.iter().enumerate() {
        ws.write_string_with_format(0, 1 + c as u16, format!("{}({})", i.zh, i.unit), &head)?;
        ws.set_column_width(1 + c as u16, 14)?;
    }
    ws.set_column_width(0, 18)?;
    let rows = shown(ind, station);
    let mut scopes: Vec<&str> = Vec::new();
    for r in &rows {
        if scopes.last() != Some(&r.station.as_str()) {
            scopes.push(&r.station);
        }
    }
    for (ri, scope) in scopes.iter().enumerate() {
        let row = 1 + ri as u32;
        ws.write_string(row, 0, *scope)?;
        for (c, i) in codes.iter().enumerate() {
            if let Some(v) =
                rows.iter().find(|r| r.station == *scope && r.code == i.code).and_then(|r| r.value)
            {
                ws.write_number_with_format(row, 1 + c as u16, v.value, fmt_of(i.code))?;
            }
        }
    }
    ws.set_freeze_panes(1, 1)?;
    wb.save(path)?;
    Ok(())
}
