//! The import: discover the sources, read and check every row, stage, check keys and
//! references, and commit only when nothing is wrong.

use crate::decode::{Encoding, Gb18030Reader, SAMPLE_BYTES, detect};
use crate::discover::{Location, Source, discover};
use crate::parse::{parse_cell, parse_header_date, parse_number};
use chrono::NaiveDate;
use csv::StringRecord;
use jicha_core::problem::Problem;
use jicha_core::schema::{Storage, Table};
use jicha_core::value::Cell;
use jicha_store::{CommitSummary, DataDir, ImportTxn, RowIssue, SeriesRowOutcome, StoreError};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::Path;

/// Reports progress of long work; the CLI draws it as bars.
pub trait Progress {
    /// A new stage with a total (bytes or steps; 0 when unknown).
    fn stage(&self, label: &str, total: u64);
    /// Position within the stage.
    fn position(&self, pos: u64);
    /// Done.
    fn finish(&self);
}

/// A failure that is not the data set's fault.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a data set was refused: every problem found (the first [`MAX_PROBLEMS`] kept).
#[derive(Debug, Clone)]
pub struct Rejection {
    /// Problems kept, in file and line order.
    pub problems: Vec<Problem>,
    /// All problems found, including those not kept.
    pub total: u64,
}

/// The result of an import.
#[derive(Debug)]
pub enum ImportOutcome {
    /// Stored.
    Committed {
        /// What the commit wrote.
        summary: CommitSummary,
        /// Files read.
        files: usize,
        /// Warnings (ignored files and columns).
        warnings: Vec<Problem>,
    },
    /// Nothing stored.
    Rejected {
        /// The problems.
        rejection: Rejection,
        /// Warnings.
        warnings: Vec<Problem>,
    },
}

/// Problems kept in one report; the rest are counted.
pub const MAX_PROBLEMS: usize = 10_000;

#[derive(Default)]
struct Problems {
    kept: Vec<Problem>,
    total: u64,
}

impl Problems {
    fn push(&mut self, p: Problem) {
        self.total += 1;
        if self.kept.len() < MAX_PROBLEMS {
            self.kept.push(p);
        }
    }
}

/// A wide daily table: one id column, one column per date.
struct Wide {
    id: usize,
    dates: Vec<(usize, NaiveDate)>,
}

/// How one file's columns map to its table's.
struct FileMap {
    display: String,
    table: &'static Table,
    /// For each table column, the field index in the file.
    fields: Vec<Option<usize>>,
    wide: Option<Wide>,
}

fn problem(
    file: &FileMap,
    line: u64,
    field: Option<usize>,
    zh: impl Into<String>,
    en: impl Into<String>,
) -> Problem {
    let mut p = Problem::file(file.display.clone(), zh, en).at_line(line);
    if let Some(ci) = field
        && let Some(col) = file.table.columns.get(ci)
    {
        let column = file.fields[ci].map_or(0, |i| i + 1);
        p = p.at_column(column, col.name);
    }
    p
}

/// Imports the data set at `path` into the data dir: all of it, or nothing.
pub fn import(dir: &DataDir, path: &Path, progress: &dyn Progress) -> Result<ImportOutcome, IngestError> {
    let (sources, mut warnings) = match discover(path) {
        Ok(found) => found,
        Err(p) => {
            return Ok(ImportOutcome::Rejected {
                rejection: Rejection { problems: vec![*p], total: 1 },
                warnings: Vec::new(),
            });
        }
    };
    let mut txn = ImportTxn::begin(dir)?;
    let mut problems = Problems::default();
    let mut maps: Vec<FileMap> = Vec::new();
    let mut relational_checked = false;
    let mut duplicates: Vec<(usize, String, String)> = Vec::new();
    for source in &sources {
        if source.table.storage == Storage::Series && !relational_checked {
            check_relational(&mut txn, &maps, &mut problems)?;
            relational_checked = true;
        }
        let file_no = maps.len() as u32;
        progress.stage(&format!("读取 / reading {}", source.display), source.bytes);
        let mut map: Option<FileMap> = None;
        let mut file_problems = Problems::default();
        read_source(source, &mut file_problems, progress, |event| -> Result<bool, StoreError> {
            match event {
                Event::Header(header) => {
                    let m = map_header(source, header, &mut problems, &mut warnings);
                    let ok = m.is_some();
                    map = m;
                    Ok(ok)
                }
                Event::Row(line, record) => {
                    let Some(m) = map.as_ref() else { return Ok(false) };
                    if let Some(wide) = &m.wide {
                        stage_wide(&mut txn, m, wide, line, record, &mut problems)?;
                    } else {
                        stage_row(&mut txn, m, file_no, line, record, &mut problems, &mut duplicates)?;
                    }
                    Ok(true)
                }
            }
        })?;
        let unkept = file_problems.total - file_problems.kept.len() as u64;
        for p in file_problems.kept {
            problems.push(p);
        }
        problems.total += unkept;
        maps.push(map.unwrap_or(FileMap {
            display: source.display.clone(),
            table: source.table,
            fields: Vec::new(),
            wide: None,
        }));
    }
    if !relational_checked {
        check_relational(&mut txn, &maps, &mut problems)?;
    }
    if !duplicates.is_empty() {
        find_first_lines(&sources, &maps, &duplicates, &mut problems);
    }
    progress.finish();
    if problems.total > 0 {
        drop(txn);
        let mut kept = problems.kept;
        kept.sort_by(|a, b| (a.file.as_str(), a.line, a.column).cmp(&(b.file.as_str(), b.line, b.column)));
        return Ok(ImportOutcome::Rejected {
            rejection: Rejection { problems: kept, total: problems.total },
            warnings,
        });
    }
    progress.stage("提交 / committing", 0);
    let summary =
        txn.commit(&path.display().to_string(), sources.len() as u64, &|msg| progress.stage(msg, 0))?;
    progress.finish();
    Ok(ImportOutcome::Committed { summary, files: sources.len(), warnings })
}

fn check_relational(
    txn: &mut ImportTxn,
    maps: &[FileMap],
    problems: &mut Problems,
) -> Result<(), StoreError> {
    for issue in txn.check_relational()? {
        problems.push(describe_issue(&issue, maps));
    }
    Ok(())
}

fn describe_issue(issue: &RowIssue, maps: &[FileMap]) -> Problem {
    let Some(m) = maps.get(issue.file_no as usize) else {
        return Problem::file(issue.table, "内部错误：未知文件", "internal: unknown file");
    };
    let ci = m.table.column_index(issue.column);
    let p = problem(m, issue.line, ci, "", "").with_value(issue.value.clone());
    match issue.other {
        Some((file, line)) => {
            let other = maps.get(file as usize).map_or("?", |f| f.display.as_str());
            Problem {
                reason_zh: format!("键重复：与 {other} 第{line}行相同"),
                reason_en: format!("duplicate key: same as {other} line {line}"),
                ..p
            }
        }
        None => {
            let target =
                m.table.column(issue.column).and_then(|c| c.reference).map_or("?".into(), |r| match r {
                    jicha_core::schema::Reference::Table(t) => t.to_string(),
                    jicha_core::schema::Reference::PointBy(_) => "transformer_areas / feeders".to_string(),
                });
            Problem {
                reason_zh: format!("引用不存在：{target} 中既无本次导入也无已存数据含此编号"),
                reason_en: format!(
                    "unknown reference: no such id in {target}, neither in this data set nor stored"
                ),
                ..p
            }
        }
    }
}

enum Event<'a> {
    Header(&'a StringRecord),
    Row(u64, &'a StringRecord),
}

/// Reads a source row by row. Problems of the file itself (encoding, CSV syntax) are recorded;
/// the callback returns false to stop reading.
fn read_source(
    source: &Source,
    problems: &mut Problems,
    progress: &dyn Progress,
    mut on: impl FnMut(Event) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let file_problem = |line: Option<u64>, column: Option<usize>, zh: &str, en: &str| {
        let mut p = Problem::file(source.display.clone(), zh, en);
        p.line = line;
        if let Some(c) = column {
            p.column = Some(c);
        }
        p
    };
    match &source.location {
        Location::Csv(path) => {
            let mut file = match File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    problems.push(file_problem(
                        None,
                        None,
                        &format!("无法打开：{e}"),
                        &format!("cannot open: {e}"),
                    ));
                    return Ok(());
                }
            };
            let mut sample = Vec::with_capacity(SAMPLE_BYTES.min(source.bytes as usize + 1));
            if let Err(e) = (&mut file).take(SAMPLE_BYTES as u64).read_to_end(&mut sample) {
                problems.push(file_problem(
                    None,
                    None,
                    &format!("无法读取：{e}"),
                    &format!("cannot read: {e}"),
                ));
                return Ok(());
            }
            if sample.iter().all(|b| b.is_ascii_whitespace()) {
                problems.push(file_problem(
                    Some(1),
                    None,
                    "文件为空：缺少表头行",
                    "empty file: no header line",
                ));
                return Ok(());
            }
            let encoding = match detect(&sample) {
                Ok(e) => e,
                Err(bad) => {
                    problems.push(file_problem(
                        Some(bad.line),
                        Some(bad.column),
                        "编码无效：既不是 UTF-8 也不是 GB18030/GBK",
                        "invalid encoding: neither UTF-8 nor GB18030/GBK",
                    ));
                    return Ok(());
                }
            };
            let chained = Cursor::new(sample).chain(BufReader::with_capacity(1 << 20, file));
            let reader: Box<dyn Read> = match encoding {
                Encoding::Utf8 => Box::new(chained),
                Encoding::Gb18030 => Box::new(Gb18030Reader::new(chained)),
            };
            let mut csv = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .buffer_capacity(1 << 20)
                .from_reader(reader);
            let mut record = StringRecord::new();
            let mut first = true;
            let mut count: u64 = 0;
            loop {
                match csv.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {
                        let line = record.position().map_or(0, |p| p.line());
                        let go_on = if first {
                            first = false;
                            on(Event::Header(&record))?
                        } else {
                            on(Event::Row(line, &record))?
                        };
                        if !go_on {
                            break;
                        }
                        count += 1;
                        if count.is_multiple_of(65_536) {
                            progress.position(record.position().map_or(0, |p| p.byte()));
                        }
                    }
                    Err(e) => {
                        let line = e.position().map(|p| p.line());
                        match e.kind() {
                            csv::ErrorKind::Utf8 { err, .. } => {
                                problems.push(file_problem(
                                    line,
                                    Some(err.field() + 1),
                                    "编码无效：不是有效的 UTF-8",
                                    "invalid encoding: not valid UTF-8",
                                ));
                                if first {
                                    break;
                                }
                            }
                            csv::ErrorKind::Io(io) => {
                                let line = Some(record.position().map_or(1, |p| p.line() + 1));
                                problems.push(file_problem(
                                    line,
                                    None,
                                    &format!("读取失败：{io}"),
                                    &format!("read failed: {io}"),
                                ));
                                break;
                            }
                            _ => {
                                problems.push(file_problem(
                                    line,
                                    None,
                                    &format!("CSV 格式错误：{e}"),
                                    &format!("malformed CSV: {e}"),
                                ));
                                break;
                            }
                        }
                    }
                }
            }
            if first {
                problems.push(file_problem(
                    Some(1),
                    None,
                    "文件为空：缺少表头行",
                    "empty file: no header line",
                ));
            }
        }
        Location::Sheet(path, sheet) => {
            use calamine::Reader;
            let range = calamine::open_workbook_auto(path).and_then(|mut wb| wb.worksheet_range(sheet));
            let range = match range {
                Ok(r) => r,
                Err(e) => {
                    problems.push(file_problem(
                        None,
                        None,
                        &format!("无法读取工作表：{e}"),
                        &format!("cannot read sheet: {e}"),
                    ));
                    return Ok(());
                }
            };
            let first_row = range.start().map_or(0, |(r, _)| u64::from(r));
            let mut record = StringRecord::new();
            let mut first = true;
            for (i, row) in range.rows().enumerate() {
                record.clear();
                for cell in row {
                    record.push_field(&cell_text(cell));
                }
                let line = first_row + i as u64 + 1;
                let go_on = if first {
                    first = false;
                    on(Event::Header(&record))?
                } else {
                    if record.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    on(Event::Row(line, &record))?
                };
                if !go_on {
                    break;
                }
            }
            if first {
                problems.push(file_problem(
                    Some(1),
                    None,
                    "工作表为空：缺少表头行",
                    "empty sheet: no header row",
                ));
            }
        }
    }
    Ok(())
}

/// A spreadsheet cell as the text a CSV export would hold.
fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => {
            if *b {
                "1".into()
            } else {
                "0".into()
            }
        }
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(d) if d.time() == chrono::NaiveTime::MIN => d.format("%Y-%m-%d").to_string(),
            Some(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => dt.to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

fn map_header(
    source: &Source,
    header: &StringRecord,
    problems: &mut Problems,
    warnings: &mut Vec<Problem>,
) -> Option<FileMap> {
    let table = source.table;
    let mut fields: Vec<Option<usize>> = vec![None; table.columns.len()];
    let mut unknown = Vec::new();
    let mut date_headers = Vec::new();
    for (i, h) in header.iter().enumerate() {
        match table.column_for_header(h) {
            Some(ci) if fields[ci].is_none() => fields[ci] = Some(i),
            Some(_) => problems.push(
                Problem::file(source.display.clone(), "列名重复", "column appears twice")
                    .at_line(1)
                    .at_column(i + 1, h.trim()),
            ),
            None => match (table.name, parse_header_date(h)) {
                ("daily_usage", Some(d)) => date_headers.push((i, d)),
                _ => unknown.push((i, h.trim().to_string())),
            },
        }
    }
    let mut file = FileMap { display: source.display.clone(), table, fields, wide: None };
    let is_wide = table.name == "daily_usage" && file.fields[1].is_none() && !date_headers.is_empty();
    if is_wide {
        let id = file.fields[0];
        match id {
            Some(id) => {
                let mut seen = HashMap::new();
                for (i, d) in &date_headers {
                    if let Some(prev) = seen.insert(*d, *i) {
                        problems.push(
                            Problem::file(
                                source.display.clone(),
                                format!("日期列重复（与第{}列相同）", prev + 1),
                                format!("date column appears twice (same as column {})", prev + 1),
                            )
                            .at_line(1)
                            .at_column(i + 1, header.get(*i).unwrap_or("").trim()),
                        );
                    }
                }
                file.wide = Some(Wide { id, dates: date_headers });
            }
            None => {
                problems.push(
                    Problem::file(
                        source.display.clone(),
                        "缺少必需列 customer_id（户号，或 CONS_NO）",
                        "missing required column customer_id (户号, or CONS_NO)",
                    )
                    .at_line(1),
                );
                return None;
            }
        }
    } else {
        unknown
            .extend(date_headers.iter().map(|(i, _)| (*i, header.get(*i).unwrap_or("").trim().to_string())));
        let missing: Vec<&str> = table
            .columns
            .iter()
            .zip(&file.fields)
            .filter(|(c, f)| c.required && f.is_none())
            .map(|(c, _)| c.name)
            .collect();
        for name in &missing {
            let zh = table.column(name).map_or("", |c| c.name_zh);
            problems.push(
                Problem::file(
                    source.display.clone(),
                    format!("缺少必需列 {name}（{zh}）"),
                    format!("missing required column {name} ({zh})"),
                )
                .at_line(1),
            );
        }
        if !missing.is_empty() {
            return None;
        }
    }
    for (i, name) in unknown {
        warnings.push(
            Problem::file(source.display.clone(), "未知列，已忽略", "unknown column; ignored")
                .at_line(1)
                .at_column(i + 1, name),
        );
    }
    Some(file)
}

fn stage_row(
    txn: &mut ImportTxn,
    m: &FileMap,
    file_no: u32,
    line: u64,
    record: &StringRecord,
    problems: &mut Problems,
    duplicates: &mut Vec<(usize, String, String)>,
) -> Result<(), StoreError> {
    let table = m.table;
    let width = m.fields.iter().flatten().max().map_or(0, |m| m + 1);
    if record.len() < width {
        problems.push(
            Problem::file(
                m.display.clone(),
                format!("本行只有 {} 个字段，表头有 {} 个（行不完整或被截断）", record.len(), width),
                format!(
                    "row has {} fields but the header has {} (incomplete or truncated line)",
                    record.len(),
                    width
                ),
            )
            .at_line(line)
            .at_column(record.len() + 1, ""),
        );
        return Ok(());
    }
    let mut cells = [Cell::Null; 24];
    let mut ok = true;
    for (ci, col) in table.columns.iter().enumerate() {
        let Some(idx) = m.fields[ci] else { continue };
        let text = record.get(idx).unwrap_or("");
        match parse_cell(table.name, col, text) {
            Ok(Cell::Null) if col.required => {
                problems.push(problem(
                    m,
                    line,
                    Some(ci),
                    format!("必填项为空（{}）", col.name_zh),
                    format!("required value is empty ({})", col.name),
                ));
                ok = false;
            }
            Ok(c) => cells[ci] = c,
            Err(r) => {
                problems.push(problem(m, line, Some(ci), r.zh, r.en).with_value(text));
                ok = false;
            }
        }
    }
    // A relational row with a bad cell is still staged (the cell as empty), so that its keys and
    // references are checked too and the one report holds every problem; the import is refused
    // anyway. A series row needs every cell to be placed.
    if !ok && table.storage == Storage::Series {
        return Ok(());
    }
    let cells = &cells[..table.columns.len()];
    match table.storage {
        Storage::Relational => txn.stage_relational(table, file_no, line, cells)?,
        Storage::Series => match txn.stage_series(table, cells)? {
            SeriesRowOutcome::Staged => {}
            SeriesRowOutcome::UnknownReference(col) => {
                let ci = table.column_index(col);
                let value = ci.and_then(|ci| cells[ci].as_text()).unwrap_or("").to_string();
                problems.push(
                    problem(
                        m,
                        line,
                        ci,
                        "引用不存在：本次导入和已存数据中都没有此编号",
                        "unknown reference: no such id in this data set or stored",
                    )
                    .with_value(value),
                );
            }
            SeriesRowOutcome::Duplicate => {
                let key: Vec<String> = table
                    .key
                    .iter()
                    .filter_map(|k| table.column_index(k))
                    .map(|ci| record.get(m.fields[ci].unwrap_or(0)).unwrap_or("").trim().to_string())
                    .collect();
                let date = key.last().cloned().unwrap_or_default();
                let value = key.join(" ");
                duplicates.push((problems.kept.len(), table.name.to_string(), format!("{value}|{date}")));
                problems.push(
                    problem(
                        m,
                        line,
                        Some(0),
                        "键重复：与前面某行相同",
                        "duplicate key: same as an earlier line",
                    )
                    .with_value(value),
                );
            }
        },
    }
    Ok(())
}

fn stage_wide(
    txn: &mut ImportTxn,
    m: &FileMap,
    wide: &Wide,
    line: u64,
    record: &StringRecord,
    problems: &mut Problems,
) -> Result<(), StoreError> {
    let id = record.get(wide.id).unwrap_or("").trim();
    if id.is_empty() {
        problems.push(
            Problem::file(m.display.clone(), "必填项为空（户号）", "required value is empty (customer_id)")
                .at_line(line)
                .at_column(wide.id + 1, "customer_id"),
        );
        return Ok(());
    }
    for (idx, date) in &wide.dates {
        let text = record.get(*idx).unwrap_or("").trim();
        let kwh = if text.is_empty() {
            Cell::Null
        } else {
            match parse_number(text) {
                Some(v) if v >= 0.0 && v.abs() < jicha_core::schema::MAX_MAGNITUDE => Cell::Number(v),
                Some(_) => {
                    problems.push(
                        Problem::file(
                            m.display.clone(),
                            "日用电量不能为负数或超出范围",
                            "daily kWh must be >= 0 and below 1e12",
                        )
                        .at_line(line)
                        .at_column(idx + 1, date.to_string())
                        .with_value(text),
                    );
                    continue;
                }
                None => {
                    problems.push(
                        Problem::file(m.display.clone(), "不是数字", "not a number")
                            .at_line(line)
                            .at_column(idx + 1, date.to_string())
                            .with_value(text),
                    );
                    continue;
                }
            }
        };
        match txn.stage_series(m.table, &[Cell::Text(id), Cell::Date(*date), kwh])? {
            SeriesRowOutcome::Staged => {}
            SeriesRowOutcome::UnknownReference(_) => {
                problems.push(
                    Problem::file(
                        m.display.clone(),
                        "引用不存在：户号不在用户档案中",
                        "unknown reference: customer_id not in customers",
                    )
                    .at_line(line)
                    .at_column(wide.id + 1, "customer_id")
                    .with_value(id),
                );
                return Ok(());
            }
            SeriesRowOutcome::Duplicate => {
                problems.push(
                    Problem::file(
                        m.display.clone(),
                        "键重复：此户号此日期已在前面出现",
                        "duplicate key: this customer and date appeared earlier",
                    )
                    .at_line(line)
                    .at_column(idx + 1, date.to_string())
                    .with_value(id),
                );
            }
        }
    }
    Ok(())
}

/// Names the earlier line of each duplicate series key, by reading the table's files again
/// (only on this error path, so the normal import keeps one pass).
fn find_first_lines(
    sources: &[Source],
    maps: &[FileMap],
    duplicates: &[(usize, String, String)],
    problems: &mut Problems,
) {
    let mut wanted: HashMap<(String, String), Option<(String, u64)>> =
        duplicates.iter().map(|(_, t, k)| ((t.clone(), k.clone()), None)).collect();
    let mut scratch = Problems::default();
    let silent = NoProgress;
    for (source, m) in sources.iter().zip(maps) {
        if m.wide.is_some() || !wanted.keys().any(|(t, _)| t == m.table.name) {
            continue;
        }
        let _ = read_source(source, &mut scratch, &silent, |event| {
            if let Event::Row(line, record) = event {
                let key: Vec<String> = m
                    .table
                    .key
                    .iter()
                    .filter_map(|k| m.table.column_index(k))
                    .map(|ci| record.get(m.fields[ci].unwrap_or(0)).unwrap_or("").trim().to_string())
                    .collect();
                let date = key.last().cloned().unwrap_or_default();
                let k = (m.table.name.to_string(), format!("{}|{date}", key.join(" ")));
                if let Some(slot) = wanted.get_mut(&k)
                    && slot.is_none()
                {
                    *slot = Some((m.display.clone(), line));
                }
            }
            Ok(true)
        });
    }
    for (index, table, key) in duplicates {
        if let (Some(Some((file, line))), Some(p)) =
            (wanted.get(&(table.clone(), key.clone())), problems.kept.get_mut(*index))
        {
            p.reason_zh = format!("键重复：与 {file} 第{line}行相同");
            p.reason_en = format!("duplicate key: same as {file} line {line}");
        }
    }
}

/// Progress that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &str, _: u64) {}
    fn position(&self, _: u64) {}
    fn finish(&self) {}
}
