//! The wide daily form (`data-format.md`, daily_usage): a `customer_id` (or `CONS_NO`) column,
//! then one column per date; an empty cell is a missing reading. An optional label column holds
//! 0/1 (1 = theft found by an inspection). Read as a stream, so a file of a million customers
//! never sits in memory as text.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use chrono::NaiveDate;
use jicha_core::problem::Problem;
use jicha_ingest::decode::{Encoding, Gb18030Reader, SAMPLE_BYTES, detect};
use jicha_ingest::parse::{parse_header_date, parse_number};

use crate::TheftError;

/// One customer's row.
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based line in the file.
    pub line: u64,
    /// 户号.
    pub customer_id: String,
    /// Daily kWh from the header's first date, one per day (NaN = missing).
    pub values: Vec<f32>,
    /// The label, when a label column was asked for.
    pub label: Option<bool>,
}

/// Where things are in a wide file's rows: what parsing a record needs.
pub struct Layout {
    display: String,
    id: usize,
    label: Option<(usize, String)>,
    /// Column index -> day offset from `first`.
    dates: Vec<(usize, usize)>,
    /// The first date of the header.
    pub first: NaiveDate,
    /// Days from the first to the last date of the header.
    pub days: usize,
}

impl Layout {
    /// The file's name as the user gave it.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Parses one record into a row (safe to call from several threads); a bad cell is refused
    /// with its line, column and field.
    pub fn parse(&self, rec: &csv::StringRecord) -> Result<Row, TheftError> {
        let line = rec.position().map_or(0, |p| p.line());
        let id = rec.get(self.id).unwrap_or("").trim();
        if id.is_empty() {
            return Err(TheftError::Input(vec![
                problem(&self.display, "户号为空", "empty customer_id")
                    .at_line(line)
                    .at_column(self.id + 1, "customer_id"),
            ]));
        }
        let mut values = vec![f32::NAN; self.days];
        for (col, day) in &self.dates {
            let cell = rec.get(*col).unwrap_or("").trim();
            if cell.is_empty() {
                continue;
            }
            match parse_number(cell) {
                Some(v) if v.is_finite() => values[*day] = v as f32,
                _ => {
                    return Err(TheftError::Input(vec![
                        problem(&self.display, "日电量不是数字", "daily kWh is not a number")
                            .at_line(line)
                            .at_column(col + 1, format!("{}", self.first + chrono::Days::new(*day as u64)))
                            .with_value(cell),
                    ]));
                }
            }
        }
        let label = match &self.label {
            None => None,
            Some((col, name)) => match rec.get(*col).unwrap_or("").trim() {
                "1" | "1.0" => Some(true),
                "0" | "0.0" => Some(false),
                other => {
                    return Err(TheftError::Input(vec![
                        problem(&self.display, "标签应为 0 或 1", "the label must be 0 or 1")
                            .at_line(line)
                            .at_column(col + 1, name.clone())
                            .with_value(other),
                    ]));
                }
            },
        };
        Ok(Row { line, customer_id: id.to_string(), values, label })
    }
}

/// A wide daily file opened for reading.
pub struct WideReader {
    records: csv::StringRecordsIntoIter<Box<dyn Read>>,
    /// The header's layout.
    pub layout: Layout,
    /// Non-date columns left aside (their headers), for a warning.
    pub ignored: Vec<String>,
    /// Customers read so far, with their line.
    seen: HashMap<String, u64>,
}

fn problem(file: &str, zh: impl Into<String>, en: impl Into<String>) -> Problem {
    Problem::file(file.to_string(), zh, en)
}

impl WideReader {
    /// Opens `path`, reads its header and checks it: an id column, at least one date column, no
    /// date twice, the label column present when one is named.
    pub fn open(path: &Path, label_column: Option<&str>) -> Result<WideReader, TheftError> {
        let display = path.display().to_string();
        let mut file = File::open(path)
            .map_err(|e| TheftError::io(problem(&display, "无法打开文件", "cannot open the file"), e))?;
        let mut sample = vec![0u8; SAMPLE_BYTES];
        let mut filled = 0;
        while filled < sample.len() {
            let n = file
                .read(&mut sample[filled..])
                .map_err(|e| TheftError::io(problem(&display, "读取文件失败", "cannot read the file"), e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        sample.truncate(filled);
        let encoding = detect(&sample).map_err(|bad| {
            TheftError::Input(vec![
                problem(
                    &display,
                    "文件既不是 UTF-8 也不是 GBK/GB18030 编码",
                    "the file is neither UTF-8 nor GBK/GB18030",
                )
                .at_line(bad.line)
                .at_column(bad.column, ""),
            ])
        })?;
        let bom = if sample.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        let mut head = std::io::Cursor::new(sample);
        head.set_position(bom);
        let body = head.chain(file);
        let reader: Box<dyn Read> = match encoding {
            Encoding::Utf8 => Box::new(BufReader::with_capacity(1 << 16, body)),
            Encoding::Gb18030 => Box::new(Gb18030Reader::new(body)),
        };
        let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(reader);
        let header = csv
            .headers()
            .map_err(|e| {
                TheftError::Input(vec![
                    problem(&display, format!("表头无法读取：{e}"), format!("cannot read the header: {e}"))
                        .at_line(1),
                ])
            })?
            .clone();
        let mut problems = Vec::new();
        let mut id = None;
        let mut label = None;
        let mut dated = Vec::new();
        let mut ignored = Vec::new();
        let mut seen: HashMap<NaiveDate, usize> = HashMap::new();
        for (i, h) in header.iter().enumerate() {
            let t = h.trim();
            if id.is_none() && (t.eq_ignore_ascii_case("customer_id") || t == "CONS_NO" || t == "户号") {
                id = Some(i);
            } else if label_column.is_some_and(|l| l == t) {
                label = Some((i, t.to_string()));
            } else if let Some(d) = parse_header_date(t) {
                if let Some(prev) = seen.insert(d, i) {
                    problems.push(
                        problem(
                            &display,
                            format!("日期列重复（与第{}列相同）", prev + 1),
                            format!("date column appears twice (same as column {})", prev + 1),
                        )
                        .at_line(1)
                        .at_column(i + 1, t),
                    );
                }
                dated.push((i, d));
            } else {
                ignored.push(t.to_string());
            }
        }
        if id.is_none() {
            problems.push(
                problem(
                    &display,
                    "缺少户号列 customer_id（或 CONS_NO）",
                    "missing the customer_id (or CONS_NO) column",
                )
                .at_line(1),
            );
        }
        if let Some(l) = label_column
            && label.is_none()
        {
            problems.push(
                problem(&display, format!("缺少标签列 {l}"), format!("missing the label column {l}"))
                    .at_line(1),
            );
        }
        if dated.is_empty() {
            problems.push(
                problem(
                    &display,
                    "没有日期列（表头应为日期，如 2015-01-01 或 01-01-15）",
                    "no date columns (headers such as 2015-01-01 or 01-01-15)",
                )
                .at_line(1),
            );
        }
        if !problems.is_empty() {
            return Err(TheftError::Input(problems));
        }
        let first = dated.iter().map(|d| d.1).min().expect("dates checked above");
        let last = dated.iter().map(|d| d.1).max().expect("dates checked above");
        let days = (last - first).num_days() as usize + 1;
        if days > 3 * 366 {
            return Err(TheftError::Input(vec![
                problem(
                    &display,
                    format!("日期跨度 {days} 天，超过三年",),
                    format!("the dates span {days} days, more than three years"),
                )
                .at_line(1),
            ]));
        }
        let dates = dated.iter().map(|(i, d)| (*i, (*d - first).num_days() as usize)).collect();
        Ok(WideReader {
            records: csv.into_records(),
            layout: Layout { display, id: id.expect("checked above"), label, dates, first, days },
            ignored,
            seen: HashMap::new(),
        })
    }

    /// Reads up to `n` raw records (line, cells); an empty vector at the end of the file.
    pub fn next_records(&mut self, n: usize) -> Result<Vec<csv::StringRecord>, TheftError> {
        let mut out = Vec::with_capacity(n.min(1 << 16));
        while out.len() < n {
            let Some(rec) = self.records.next() else { break };
            let rec = rec.map_err(|e| {
                let mut p = problem(
                    &self.layout.display,
                    format!("CSV 格式错误：{e}"),
                    format!("malformed CSV: {e}"),
                );
                if let Some(pos) = e.position() {
                    p = p.at_line(pos.line());
                }
                TheftError::Input(vec![p])
            })?;
            if rec.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            out.push(rec);
        }
        Ok(out)
    }

    /// Reads up to `n` rows, parsed in parallel; an empty vector at the end of the file.
    /// A customer met twice in the file is refused with both lines.
    pub fn next_rows(&mut self, n: usize) -> Result<Vec<Row>, TheftError> {
        use rayon::prelude::*;
        let recs = self.next_records(n)?;
        let layout = &self.layout;
        let rows: Vec<Row> = recs.par_iter().map(|r| layout.parse(r)).collect::<Result<_, _>>()?;
        for r in &rows {
            if let Some(prev) = self.seen.insert(r.customer_id.clone(), r.line) {
                return Err(TheftError::Input(vec![
                    problem(
                        &self.layout.display,
                        format!("户号重复（第{prev}行已有）"),
                        format!("customer appears twice (also line {prev})"),
                    )
                    .at_line(r.line)
                    .at_column(self.layout.id + 1, "customer_id")
                    .with_value(r.customer_id.clone()),
                ]));
            }
        }
        Ok(rows)
    }

    /// Reads every row, refusing a customer that appears twice.
    pub fn read_all(mut self) -> Result<(WideReader, Vec<Row>), TheftError> {
        let mut rows = Vec::new();
        loop {
            let chunk = self.next_rows(4096)?;
            if chunk.is_empty() {
                break;
            }
            rows.extend(chunk);
        }
        Ok((self, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_twice_is_refused_with_both_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, "CONS_NO,01-01-15,02-01-15\n7,1,2\n8,1,2\n7,3,4\n").unwrap();
        let err = WideReader::open(&path, None).unwrap().read_all().err().unwrap().to_string();
        assert!(err.contains("第4行") && err.contains("第2行已有"), "{err}");
    }
}
