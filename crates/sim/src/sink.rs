//! Writing tables: CSV rows formatted by hand into reused buffers (the readings alone are hundreds
//! of millions of rows), GB18030 on request, and the conversion of the relational tables into one
//! workbook for `--xlsx`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDateTime, Timelike};
use jicha_core::calendar::from_epoch_days;
use jicha_core::schema::{self, ColumnType};
use rust_decimal::Decimal;

use crate::world::NO_DAY;

/// Appends an unsigned integer in decimal.
#[inline]
pub fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends hundredths as a decimal with two places: 12345 -> `123.45`.
#[inline]
pub fn push_hundredths(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    let a = v.unsigned_abs();
    push_u64(buf, a / 100);
    let cents = (a % 100) as u8;
    buf.extend_from_slice(&[b'.', b'0' + cents / 10, b'0' + cents % 10]);
}

/// `YYYY-MM-DD` of a day number.
pub fn date_bytes(day: i32) -> [u8; 10] {
    let d = from_epoch_days(day);
    let mut out = *b"0000-00-00";
    let y = d.year().clamp(0, 9999) as u32;
    for (k, v) in [(0, y / 1000), (1, y / 100 % 10), (2, y / 10 % 10), (3, y % 10)] {
        out[k] = b'0' + v as u8;
    }
    out[5] = b'0' + (d.month() / 10) as u8;
    out[6] = b'0' + (d.month() % 10) as u8;
    out[8] = b'0' + (d.day() / 10) as u8;
    out[9] = b'0' + (d.day() % 10) as u8;
    out
}

/// What a finished file holds.
#[derive(Debug, Clone)]
pub struct FileStat {
    /// File name inside the output folder.
    pub name: String,
    /// Data rows (header excluded).
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// A CSV file of one table, written row by row.
pub struct TableFile {
    name: String,
    out: BufWriter<File>,
    gbk: bool,
    line: Vec<u8>,
    first: bool,
    rows: u64,
    bytes: u64,
}

impl TableFile {
    /// Creates `<dir>/<file>` with the header of `table` (English names, documented order).
    pub fn create(dir: &Path, file: &str, table: &str, gbk: bool) -> Result<TableFile> {
        let Some(t) = schema::table(table) else { bail!("unknown table {table}") };
        let path = dir.join(file);
        let f = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut tf = TableFile {
            name: file.to_string(),
            out: BufWriter::with_capacity(1 << 20, f),
            gbk,
            line: Vec::with_capacity(512),
            first: true,
            rows: 0,
            bytes: 0,
        };
        for c in t.columns {
            tf.text(c.name);
        }
        tf.write_line()?;
        tf.rows = 0;
        Ok(tf)
    }

    fn sep(&mut self) {
        if !self.first {
            self.line.push(b',');
        }
        self.first = false;
    }

    /// A text field, quoted per RFC 4180 when it needs to be.
    pub fn text(&mut self, v: &str) -> &mut Self {
        self.sep();
        if v.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            self.line.push(b'"');
            for b in v.bytes() {
                if b == b'"' {
                    self.line.push(b'"');
                }
                self.line.push(b);
            }
            self.line.push(b'"');
        } else {
            self.line.extend_from_slice(v.as_bytes());
        }
        self
    }

    /// An empty (null) field.
    pub fn empty(&mut self) -> &mut Self {
        self.sep();
        self
    }

    /// An integer.
    pub fn int(&mut self, v: u64) -> &mut Self {
        self.sep();
        push_u64(&mut self.line, v);
        self
    }

    /// A number held in hundredths (kWh or yuan), with two decimals.
    pub fn hundredths(&mut self, v: i64) -> &mut Self {
        self.sep();
        push_hundredths(&mut self.line, v);
        self
    }

    /// Money or a price, as the decimal prints it (money is already rounded to the cent).
    pub fn decimal(&mut self, v: Decimal) -> &mut Self {
        self.sep();
        let s = v.normalize().to_string();
        self.line.extend_from_slice(s.as_bytes());
        self
    }

    /// Money with exactly two decimals.
    pub fn money(&mut self, v: Decimal) -> &mut Self {
        self.sep();
        let s = format!("{v:.2}");
        self.line.extend_from_slice(s.as_bytes());
        self
    }

    /// A date, or empty for `NO_DAY`.
    pub fn day(&mut self, d: i32) -> &mut Self {
        self.sep();
        if d != NO_DAY {
            self.line.extend_from_slice(&date_bytes(d));
        }
        self
    }

    /// A date-time `YYYY-MM-DD HH:MM:SS`, or empty.
    pub fn datetime(&mut self, dt: Option<NaiveDateTime>) -> &mut Self {
        self.sep();
        if let Some(dt) = dt {
            let day = jicha_core::calendar::to_epoch_days(dt.date());
            self.line.extend_from_slice(&date_bytes(day));
            let (h, m, s) = (dt.hour(), dt.minute(), dt.second());
            for (k, v) in [(b' ', h), (b':', m), (b':', s)] {
                self.line.extend_from_slice(&[k, b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]);
            }
        }
        self
    }

    /// A boolean as `1`/`0`.
    pub fn flag(&mut self, v: bool) -> &mut Self {
        self.sep();
        self.line.push(if v { b'1' } else { b'0' });
        self
    }

    /// Ends the row.
    pub fn end(&mut self) -> Result<()> {
        self.write_line()
    }

    fn write_line(&mut self) -> Result<()> {
        self.line.push(b'\n');
        let bytes: std::borrow::Cow<[u8]> = if self.gbk && !self.line.is_ascii() {
            // The line was built from &str pieces, so it is valid UTF-8.
            let text = String::from_utf8_lossy(&self.line);
            let (enc, _, _) = encoding_rs::GB18030.encode(&text);
            std::borrow::Cow::Owned(enc.into_owned())
        } else {
            std::borrow::Cow::Borrowed(&self.line)
        };
        self.out.write_all(&bytes).with_context(|| format!("cannot write {}", self.name))?;
        self.bytes += bytes.len() as u64;
        self.rows += 1;
        self.line.clear();
        self.first = true;
        Ok(())
    }

    /// Flushes and closes the file.
    pub fn finish(mut self) -> Result<FileStat> {
        self.out.flush().with_context(|| format!("cannot write {}", self.name))?;
        Ok(FileStat { name: self.name, rows: self.rows, bytes: self.bytes })
    }
}

/// One sheet has at most this many rows, header included.
pub const XLSX_MAX_ROWS: u64 = 1_048_576;

/// Converts CSV files (UTF-8, written by [`TableFile`]) of relational tables into one workbook,
/// one sheet per table named after it; numbers become numbers, everything else text (ids keep
/// their leading zeros, and a text starting with `=` stays text).
pub fn csv_to_xlsx(tables: &[(String, PathBuf)], out: &Path) -> Result<u64> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    for (table, path) in tables {
        let Some(t) = schema::table(table) else { bail!("unknown table {table}") };
        let ws = wb.add_worksheet_with_constant_memory().context("cannot create a worksheet")?;
        let ws = ws.set_name(table).with_context(|| format!("sheet name {table}"))?;
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut row: u32 = 0;
        let mut rec = csv::StringRecord::new();
        while rdr.read_record(&mut rec).with_context(|| format!("cannot read {}", path.display()))? {
            for (col, field) in rec.iter().enumerate() {
                if field.is_empty() {
                    continue;
                }
                let numeric = row > 0 && t.columns.get(col).is_some_and(|c| c.ty == ColumnType::Number);
                let c = col as u16;
                match field.parse::<f64>() {
                    Ok(v) if numeric => ws.write_number(row, c, v),
                    _ => ws.write_string(row, c, field),
                }
                .with_context(|| format!("sheet {table}, row {row}"))?;
            }
            row += 1;
        }
    }
    wb.save(out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(std::fs::metadata(out).map(|m| m.len()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_like_the_exchange_format() {
        let mut b = Vec::new();
        push_hundredths(&mut b, 1_234_567);
        b.push(b' ');
        push_hundredths(&mut b, 5);
        b.push(b' ');
        push_hundredths(&mut b, -3000);
        b.push(b' ');
        push_u64(&mut b, 0);
        assert_eq!(String::from_utf8(b).unwrap(), "12345.67 0.05 -30.00 0");
        let d = jicha_core::calendar::to_epoch_days(chrono::NaiveDate::from_ymd_opt(2026, 3, 5).unwrap());
        assert_eq!(&date_bytes(d), b"2026-03-05");
    }
}
