//! Dates, date-times and periods as the exchange format writes them.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

/// Parses `2026-03-05`, `2026/3/5` or `20260305` (unpadded month and day accepted).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.trim().as_bytes();
    if b.len() == 8 && b.iter().all(u8::is_ascii_digit) {
        let y = digits(&b[0..4])?;
        let m = digits(&b[4..6])?;
        let d = digits(&b[6..8])?;
        return NaiveDate::from_ymd_opt(y as i32, m, d);
    }
    let sep = *b.iter().find(|c| **c == b'-' || **c == b'/')?;
    let mut parts = b.split(|c| *c == sep);
    let y = parts.next().filter(|p| p.len() == 4).and_then(digits)?;
    let m = parts.next().filter(|p| (1..=2).contains(&p.len())).and_then(digits)?;
    let d = parts.next().filter(|p| (1..=2).contains(&p.len())).and_then(digits)?;
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(y as i32, m, d)
}

/// Parses a date optionally followed by ` HH:MM` or ` HH:MM:SS` (local time, Asia/Shanghai).
/// A `T` between date and time is accepted too.
pub fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    let (date_part, time_part) = match t.find([' ', 'T']) {
        Some(i) => (&t[..i], Some(t[i + 1..].trim())),
        None => (t, None),
    };
    let date = parse_date(date_part)?;
    let time = match time_part {
        None | Some("") => NaiveTime::MIN,
        Some(tp) => {
            let mut it = tp.split(':');
            let h = it.next().and_then(|p| digits(p.as_bytes()))?;
            let m = it.next().and_then(|p| digits(p.as_bytes()))?;
            let s = match it.next() {
                Some(p) => digits(p.as_bytes())?,
                None => 0,
            };
            if it.next().is_some() {
                return None;
            }
            NaiveTime::from_hms_opt(h, m, s)?
        }
    };
    Some(NaiveDateTime::new(date, time))
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 4 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0')))
}

/// A calendar month `YYYY-MM` (电费年月): the period of an audit run and of a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Period {
    year: i32,
    month: u32,
}

impl Period {
    /// The period of a year and month (1-12); `None` when the month is out of range.
    pub fn new(year: i32, month: u32) -> Option<Period> {
        ((1..=12).contains(&month) && (1900..=9999).contains(&year)).then_some(Period { year, month })
    }

    /// Parses `2026-03`, `2026/3` or `202603`.
    pub fn parse(text: &str) -> Option<Period> {
        let b = text.trim().as_bytes();
        if b.len() == 6 && b.iter().all(u8::is_ascii_digit) {
            return Period::new(digits(&b[0..4])? as i32, digits(&b[4..6])?);
        }
        let sep = *b.iter().find(|c| **c == b'-' || **c == b'/')?;
        let mut parts = b.split(|c| *c == sep);
        let y = parts.next().filter(|p| p.len() == 4).and_then(digits)?;
        let m = parts.next().filter(|p| (1..=2).contains(&p.len())).and_then(digits)?;
        if parts.next().is_some() {
            return None;
        }
        Period::new(y as i32, m)
    }

    /// The period a date falls in.
    pub fn of(date: NaiveDate) -> Period {
        Period { year: date.year(), month: date.month() }
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1-12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The first day of the period.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The last day of the period.
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or(NaiveDate::MIN)
    }

    /// The number of days in the period.
    pub fn days(self) -> u32 {
        self.last_day().day()
    }

    /// The following period.
    pub fn next(self) -> Period {
        if self.month == 12 {
            Period { year: self.year + 1, month: 1 }
        } else {
            Period { year: self.year, month: self.month + 1 }
        }
    }

    /// The preceding period.
    pub fn prev(self) -> Period {
        if self.month == 1 {
            Period { year: self.year - 1, month: 12 }
        } else {
            Period { year: self.year, month: self.month - 1 }
        }
    }

    /// Every day of the period in order.
    pub fn dates(self) -> impl Iterator<Item = NaiveDate> {
        let first = self.first_day();
        (0..self.days()).filter_map(move |i| first.checked_add_days(chrono::Days::new(u64::from(i))))
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Days since 1970-01-01 (Arrow's Date32), the compact form the columnar store keeps.
pub fn to_epoch_days(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

/// The date of a count of days since 1970-01-01.
pub fn from_epoch_days(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + EPOCH_DAYS_FROM_CE).unwrap_or(NaiveDate::MIN)
}

const EPOCH_DAYS_FROM_CE: i32 = 719_163;

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dates_in_every_accepted_form() {
        assert_eq!(parse_date("2026-03-05"), Some(d(2026, 3, 5)));
        assert_eq!(parse_date("2026/3/5"), Some(d(2026, 3, 5)));
        assert_eq!(parse_date("2025-11-3"), Some(d(2025, 11, 3)));
        assert_eq!(parse_date("20260305"), Some(d(2026, 3, 5)));
        assert_eq!(parse_date(" 2026-03-05 "), Some(d(2026, 3, 5)));
    }

    #[test]
    fn impossible_dates_are_refused() {
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("26-3-5"), None);
        assert_eq!(parse_date("2026-03-05-01"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date(""), None);
    }

    #[test]
    fn datetimes() {
        let dt = parse_datetime("2026/3/5 08:30").unwrap();
        assert_eq!(dt.to_string(), "2026-03-05 08:30:00");
        assert_eq!(parse_datetime("2026-03-05 08:30:15").unwrap().to_string(), "2026-03-05 08:30:15");
        assert_eq!(parse_datetime("2026-03-05").unwrap().to_string(), "2026-03-05 00:00:00");
        assert_eq!(parse_datetime("2026-03-05 25:00"), None);
    }

    #[test]
    fn periods() {
        let p = Period::parse("202602").unwrap();
        assert_eq!(p.to_string(), "2026-02");
        assert_eq!(p.days(), 28);
        assert_eq!(Period::parse("2024-2").unwrap().days(), 29);
        assert_eq!(Period::parse("2026-12").unwrap().next().to_string(), "2027-01");
        assert_eq!(Period::parse("2026-01").unwrap().prev().to_string(), "2025-12");
        assert_eq!(Period::parse("2026-13"), None);
        assert_eq!(Period::of(d(2026, 3, 31)).last_day(), d(2026, 3, 31));
    }

    #[test]
    fn epoch_days_round_trip() {
        assert_eq!(to_epoch_days(d(1970, 1, 1)), 0);
        assert_eq!(from_epoch_days(to_epoch_days(d(2026, 3, 5))), d(2026, 3, 5));
    }
}

/// A span of time: a day, a month, a quarter or a year (indicators, target lines, assessment
/// periods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Span {
    /// One day.
    Day(NaiveDate),
    /// A calendar month.
    Month(Period),
    /// A quarter: year and 1..=4.
    Quarter(i32, u32),
    /// A calendar year.
    Year(i32),
}

impl Span {
    /// Parses `YYYY-MM-DD`, `YYYY-MM`, `YYYY-Qn` or `YYYY`.
    pub fn parse(text: &str) -> Option<Span> {
        let t = text.trim();
        if let Some((y, q)) = t.split_once(['Q', 'q']) {
            let y: i32 = y.trim_end_matches('-').parse().ok()?;
            let q: u32 = q.parse().ok()?;
            return ((1..=4).contains(&q) && (1901..=9999).contains(&y)).then_some(Span::Quarter(y, q));
        }
        if t.len() == 4 {
            let y: i32 = t.parse().ok()?;
            return (1901..=9999).contains(&y).then_some(Span::Year(y));
        }
        // The span before and the span a year earlier must exist too.
        if t.len() == 10 {
            return NaiveDate::parse_from_str(t, "%Y-%m-%d").ok().filter(|d| d.year() > 1900).map(Span::Day);
        }
        Period::parse(t).filter(|p| p.year() > 1900).map(Span::Month)
    }

    /// First day.
    pub fn first(self) -> NaiveDate {
        match self {
            Span::Day(d) => d,
            Span::Month(p) => p.first_day(),
            Span::Quarter(y, q) => NaiveDate::from_ymd_opt(y, 3 * q - 2, 1).expect("valid quarter"),
            Span::Year(y) => NaiveDate::from_ymd_opt(y, 1, 1).expect("valid year"),
        }
    }

    /// Last day.
    pub fn last(self) -> NaiveDate {
        match self {
            Span::Day(d) => d,
            Span::Month(p) => p.last_day(),
            Span::Quarter(y, q) => Period::new(y, 3 * q).expect("valid quarter").last_day(),
            Span::Year(y) => NaiveDate::from_ymd_opt(y, 12, 31).expect("valid year"),
        }
    }

    /// The span just before (yesterday, last month, last quarter, last year).
    pub fn previous(self) -> Span {
        match self {
            Span::Day(d) => Span::Day(d.pred_opt().expect("date in range")),
            Span::Month(p) => Span::Month(p.prev()),
            Span::Quarter(y, 1) => Span::Quarter(y - 1, 4),
            Span::Quarter(y, q) => Span::Quarter(y, q - 1),
            Span::Year(y) => Span::Year(y - 1),
        }
    }

    /// The same span a year earlier (29 February becomes 28 February).
    pub fn last_year(self) -> Span {
        match self {
            Span::Day(d) => Span::Day(
                d.with_year(d.year() - 1)
                    .or_else(|| NaiveDate::from_ymd_opt(d.year() - 1, d.month(), 28))
                    .expect("date in range"),
            ),
            Span::Month(p) => Span::Month(Period::new(p.year() - 1, p.month()).expect("valid month")),
            Span::Quarter(y, q) => Span::Quarter(y - 1, q),
            Span::Year(y) => Span::Year(y - 1),
        }
    }

    /// The months the span touches (bills and surveys are monthly).
    pub fn months(self) -> Vec<Period> {
        let mut p = Period::of(self.first());
        let end = Period::of(self.last());
        let mut out = vec![p];
        while p != end {
            p = p.next();
            out.push(p);
        }
        out
    }

    /// Whether monthly figures (bills, surveys, billing errors) apply: not to a single day.
    pub fn monthly(self) -> bool {
        !matches!(self, Span::Day(_))
    }

    /// `2026-03-05`, `2026-03`, `2026-Q1`, `2026`.
    pub fn label(self) -> String {
        match self {
            Span::Day(d) => d.format("%Y-%m-%d").to_string(),
            Span::Month(p) => p.to_string(),
            Span::Quarter(y, q) => format!("{y}-Q{q}"),
            Span::Year(y) => format!("{y}"),
        }
    }

    /// `2026年3月5日`, `2026年3月`, `2026年第1季度`, `2026年`.
    pub fn label_zh(self) -> String {
        match self {
            Span::Day(d) => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
            Span::Month(p) => format!("{}年{}月", p.year(), p.month()),
            Span::Quarter(y, q) => format!("{y}年第{q}季度"),
            Span::Year(y) => format!("{y}年"),
        }
    }
}
