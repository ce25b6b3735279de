//! One cell at a time: text to a typed value, or the reason it cannot be one.

use chrono::NaiveDate;
use jicha_core::calendar::{Period, parse_date, parse_datetime};
use jicha_core::codes::parse_bool;
use jicha_core::schema::{Column, ColumnType, MAX_MAGNITUDE, Range, is_money};
use jicha_core::value::Cell;

/// Why a cell was refused, in Chinese and English.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

fn refuse(zh: impl Into<String>, en: impl Into<String>) -> Refusal {
    Refusal { zh: zh.into(), en: en.into() }
}

/// Parses a number with `.` as decimal point; a thousands separator (`1,234.5`) is accepted
/// when every group after the first has three digits.
pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let value = if t.contains(',') {
        let (int, frac) = t.split_once('.').map_or((t, None), |(i, f)| (i, Some(f)));
        let mut groups = int.trim_start_matches(['-', '+']).split(',');
        let first_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()));
        if !first_ok || !groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
        let joined: String = int.chars().filter(|c| *c != ',').collect();
        let whole = match frac {
            Some(f) => format!("{joined}.{f}"),
            None => joined,
        };
        whole.parse::<f64>().ok()?
    } else {
        // Rust accepts "inf", "NaN" and "infinity": none of them is a reading.
        if t.bytes().any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') {
            return None;
        }
        t.parse::<f64>().ok()?
    };
    value.is_finite().then_some(value)
}

/// Parses a date header of a wide daily table: the exchange format's dates, and the
/// day-first `DD-MM-YY` / `DD/MM/YYYY` some research exports use.
pub fn parse_header_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    if let Some(d) = parse_date(t) {
        return Some(d);
    }
    let sep = if t.contains('-') { '-' } else { '/' };
    let parts: Vec<&str> = t.split(sep).collect();
    if parts.len() != 3 || parts[0].len() > 2 || parts[1].len() > 2 {
        return None;
    }
    let day: u32 = parts[0].parse().ok()?;
    let month: u32 = parts[1].parse().ok()?;
    let year: i32 = match parts[2].len() {
        2 => 2000 + parts[2].parse::<i32>().ok()?,
        4 => parts[2].parse().ok()?,
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Parses one cell of a column of `table`. An empty cell is `Cell::Null` (a required column's
/// emptiness is the caller's to report).
pub fn parse_cell<'a>(table: &str, column: &Column, text: &'a str) -> Result<Cell<'a>, Refusal> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Cell::Null);
    }
    match column.ty {
        ColumnType::Text => Ok(Cell::Text(t)),
        ColumnType::Number => {
            let n = parse_number(t).ok_or_else(|| refuse("不是数字", "not a number"))?;
            if n.abs() >= MAX_MAGNITUDE {
                return Err(refuse(
                    "数值超出范围（绝对值须小于 1e12）",
                    "number out of range (magnitude must be below 1e12)",
                ));
            }
            match column.range {
                Range::NonNegative if n < 0.0 && !is_money(table, column.name) => {
                    Err(refuse("不能为负数", "must not be negative"))
                }
                Range::Positive if n <= 0.0 => Err(refuse("必须大于 0", "must be greater than 0")),
                Range::Percent if !(0.0..=100.0).contains(&n) => {
                    Err(refuse("须在 0 到 100 之间", "must be between 0 and 100"))
                }
                _ => Ok(Cell::Number(n)),
            }
        }
        ColumnType::Date => parse_date(t).map(Cell::Date).ok_or_else(|| {
            refuse(
                "不是有效日期（应为 2026-03-05、2026/3/5 或 20260305）",
                "not a valid date (expected 2026-03-05, 2026/3/5 or 20260305)",
            )
        }),
        ColumnType::DateTime => parse_datetime(t).map(Cell::DateTime).ok_or_else(|| {
            refuse(
                "不是有效日期时间（应为 2026-03-05 08:30）",
                "not a valid date-time (expected 2026-03-05 08:30)",
            )
        }),
        ColumnType::Bool => parse_bool(t)
            .map(Cell::Bool)
            .ok_or_else(|| refuse("应为 1/0、true/false 或 是/否", "expected 1/0, true/false or 是/否")),
        ColumnType::Code(list) => list.parse(t).map(Cell::Code).ok_or_else(|| {
            refuse(
                format!("未知代码；可用：{}", list.accepted()),
                format!("unknown code; accepted: {}", list.accepted()),
            )
        }),
        ColumnType::Period => Period::parse(t).map(Cell::Period).ok_or_else(|| {
            refuse("不是有效年月（应为 2026-03 或 202603）", "not a valid month (expected 2026-03 or 202603)")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jicha_core::schema::{BILLS, CUSTOMERS, METERS, READINGS};

    #[test]
    fn numbers() {
        assert_eq!(parse_number("1,234.5"), Some(1234.5));
        assert_eq!(parse_number("-12"), Some(-12.0));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        assert_eq!(parse_number("12,34"), None);
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("inf"), None);
    }

    #[test]
    fn ranges_and_money() {
        let total = READINGS.column("total").unwrap();
        assert!(parse_cell("readings", total, "-1").is_err());
        assert!(parse_cell("readings", total, "1e308").is_err());
        assert_eq!(parse_cell("readings", total, "").unwrap(), Cell::Null);
        let amount = BILLS.column("amount").unwrap();
        assert_eq!(parse_cell("bills", amount, "-35.20").unwrap(), Cell::Number(-35.2));
        let mult = METERS.column("multiplier").unwrap();
        assert!(parse_cell("meters", mult, "0").is_err());
    }

    #[test]
    fn codes_and_text() {
        let cat = CUSTOMERS.column("category").unwrap();
        assert_eq!(parse_cell("customers", cat, "居民生活").unwrap(), Cell::Code("resident"));
        let err = parse_cell("customers", cat, "factory").unwrap_err();
        assert!(err.en.contains("resident"));
        let name = CUSTOMERS.column("name").unwrap();
        assert_eq!(parse_cell("customers", name, "=SUM(A1)").unwrap(), Cell::Text("=SUM(A1)"));
    }

    #[test]
    fn header_dates() {
        assert_eq!(parse_header_date("2014/1/1"), NaiveDate::from_ymd_opt(2014, 1, 1));
        assert_eq!(parse_header_date("31-12-15"), NaiveDate::from_ymd_opt(2015, 12, 31));
        assert_eq!(parse_header_date("FLAG"), None);
    }
}
