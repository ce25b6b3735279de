//! Early warning (预警): an indicator's line for a station (or the company) and a period, checked
//! each week. A sum (a yearly outage customer-hours budget, say) is held against its budget
//! prorated by days, and projected to the period's end at the rate so far; a ratio (recovery 100%
//! at month end, loss at most 8%) is projected by the least-squares trend of its weekly values. A
//! warning is raised when the projection crosses the line before the indicator itself does.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;

use crate::error::EngineResult;
use crate::indicators::{Indicator, Options, OrderTally, Span, TABLES, indicator, tally};
use crate::session::Session;

/// Where an indicator stands against its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// On course.
    Ok,
    /// Projected to cross the line by the period's end.
    Warning,
    /// The line is crossed.
    Breached,
    /// No data yet.
    Unknown,
}

impl Status {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Breached => "breached",
            Status::Unknown => "unknown",
        }
    }

    /// 中文.
    pub fn name_zh(self) -> &'static str {
        match self {
            Status::Ok => "正常",
            Status::Warning => "预警",
            Status::Breached => "已越线",
            Status::Unknown => "无数据",
        }
    }
}

/// One week's standing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// The last day counted.
    pub day: NaiveDate,
    /// The indicator from the period's first day through `day` (cumulative for a sum).
    pub value: Option<f64>,
}

/// A check of one line at one date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Weekly values so far (every Sunday, and the last day counted).
    pub points: Vec<Point>,
    /// The value at the last day counted.
    pub actual: Option<f64>,
    /// Projected to the period's end.
    pub projection: Option<f64>,
    /// The line at the last day counted (a sum's budget prorated by days; a ratio's line as is).
    pub line_now: f64,
    /// The line at the period's end.
    pub line: f64,
    /// Where it stands.
    pub status: Status,
}

/// Whether the indicator is a sum that builds up over the period (held against a budget
/// prorated by days) rather than a ratio or a balance (arrears), which is projected along its
/// trend.
pub fn is_sum(ind: &Indicator) -> bool {
    matches!(ind.unit, "kWh" | "时户" | "元" | "件") && ind.code != "arrears"
}

/// The days counted for a check on `today`: every Sunday of the span before `today`, and the day
/// before `today` (or the span's last day once it is over).
pub fn week_ends(span: Span, today: NaiveDate) -> Vec<NaiveDate> {
    let last = span.last().min(today.pred_opt().unwrap_or(today));
    let mut out: Vec<NaiveDate> =
        span.first().iter_days().take_while(|d| *d <= last).filter(|d| d.weekday() == Weekday::Sun).collect();
    if last >= span.first() && out.last() != Some(&last) {
        out.push(last);
    }
    out
}

/// The projection to day `total` (days from the span's first day, the last counting `total`) of
/// points at days `x` (1-based counts of days).
pub fn project(points: &[(f64, f64)], total: f64, sum: bool) -> Option<f64> {
    let &(x_last, y_last) = points.last()?;
    if sum {
        return (x_last > 0.0).then(|| y_last * total / x_last);
    }
    if points.len() < 2 {
        return Some(y_last);
    }
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return Some(y_last);
    }
    let slope = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    Some(y_last + slope * (total - x_last))
}

/// Judges a value against a line: for an indicator where more is better, below the line is
/// bad; otherwise above it.
fn misses(ind: &Indicator, value: f64, line: f64) -> bool {
    if ind.higher_is_better { value < line - 1e-12 } else { value > line + 1e-12 }
}

/// A target line: the indicator `code` of `station` (None: the company) over `span`.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// Indicator code.
    pub code: &'a str,
    /// Station, or the company.
    pub station: Option<&'a str>,
    /// The period.
    pub span: Span,
    /// The line (a budget for a sum; a floor or ceiling for a ratio, as a fraction).
    pub line: f64,
}

/// Checks one line as known on `today`.
pub fn evaluate(
    session: &mut Session,
    target: &Line<'_>,
    today: NaiveDate,
    options: &Options,
    orders: &dyn Fn(NaiveDate, NaiveDate) -> BTreeMap<String, OrderTally>,
) -> EngineResult<Evaluation> {
    let Line { code, station, span, line } = *target;
    session.require(TABLES)?;
    let ind =
        indicator(code).ok_or_else(|| crate::EngineError::Internal(format!("unknown indicator {code}")))?;
    let sum = is_sum(ind);
    let mut points = Vec::new();
    for day in week_ends(span, today) {
        let t = tally(session, span, day.succ_opt().unwrap_or(day), options, orders)?;
        let tally = match station {
            None => t.company,
            Some(s) => t.stations.get(s).cloned().unwrap_or_default(),
        };
        points.push(Point { day, value: tally.value(code, span.monthly()).map(|v| v.value) });
    }
    let total = (span.last() - span.first()).num_days() as f64 + 1.0;
    let xy: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| p.value.map(|v| ((p.day - span.first()).num_days() as f64 + 1.0, v)))
        .collect();
    let actual = points.last().and_then(|p| p.value);
    let elapsed = xy.last().map_or(0.0, |p| p.0);
    let line_now = if sum { line * elapsed / total } else { line };
    let projection = project(&xy, total, sum);
    let over = elapsed >= total;
    let status = match (actual, projection) {
        (None, _) => Status::Unknown,
        // A budget (a sum that must stay below its line) is crossed as soon as the sum passes it;
        // a sum that must reach its line, and a ratio, are judged at the end.
        (Some(a), _) if ((sum && !ind.higher_is_better) || over) && misses(ind, a, line) => Status::Breached,
        (Some(_), Some(p)) if misses(ind, p, line) => Status::Warning,
        _ => Status::Ok,
    };
    Ok(Evaluation { points, actual, projection, line_now, line, status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sum_is_projected_at_its_rate_and_a_ratio_along_its_trend() {
        // 70 customer-hours after 7 of 30 days: 300 by the end.
        assert_eq!(project(&[(7.0, 70.0)], 30.0, true), Some(300.0));
        // 0.2, 0.4, 0.6 at days 7, 14, 21 of 28: 0.8 by the end.
        let p = project(&[(7.0, 0.2), (14.0, 0.4), (21.0, 0.6)], 28.0, false).unwrap();
        assert!((p - 0.8).abs() < 1e-12);
        assert_eq!(project(&[], 30.0, true), None);
    }

    #[test]
    fn weeks_end_on_sundays_and_on_the_last_day_counted() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let ends = week_ends(Span::parse("2026-03").unwrap(), d("2026-03-18"));
        assert_eq!(ends, vec![d("2026-03-01"), d("2026-03-08"), d("2026-03-15"), d("2026-03-17")]);
        let over = week_ends(Span::parse("2026-02").unwrap(), d("2026-04-01"));
        assert_eq!(over.last(), Some(&d("2026-02-28")));
    }
}
