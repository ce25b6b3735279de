//! How figures and dates read in the documents: thousands separators, yuan to the fen,
//! percentages to one decimal, `—` for what is missing, months and days the Chinese way.

use std::borrow::Cow;

/// Shown for a missing or meaningless value.
pub(crate) const DASH: &str = "—";

/// `1234567` -> `1,234,567`.
pub(crate) fn count(n: u64) -> String {
    group(&n.to_string())
}

/// `1234567.891` -> `1,234,567.89`; not a number -> `—`.
pub(crate) fn yuan(x: f64) -> String {
    if !x.is_finite() {
        return DASH.to_string();
    }
    let fixed = format!("{:.2}", x.abs());
    let (int, frac) = fixed.split_once('.').unwrap_or((&fixed, "00"));
    let negative = x < 0.0 && fixed.bytes().any(|b| b.is_ascii_digit() && b != b'0');
    format!("{}{}.{frac}", if negative { "-" } else { "" }, group(int))
}

/// [`yuan`] of a value that may be missing.
pub(crate) fn yuan_opt(x: Option<f64>) -> String {
    x.map_or_else(|| DASH.to_string(), yuan)
}

/// A share between 0 and 1 as a percentage with one decimal: `0.9254` -> `92.5%`.
pub(crate) fn percent(share: f64) -> String {
    if !share.is_finite() {
        return DASH.to_string();
    }
    let s = format!("{:.1}", share * 100.0);
    if s == "-0.0" { "0.0%".to_string() } else { format!("{s}%") }
}

/// `part` of `total` as a percentage; `—` when the total is zero.
pub(crate) fn share(part: u64, total: u64) -> String {
    if total == 0 { DASH.to_string() } else { percent(part as f64 / total as f64) }
}

/// The change from `base` to `current` (环比 / 同比): relative, `+12.3%`, or for an indicator
/// measured in percent, the difference in percentage points, `-0.35百分点`. `—` when either is
/// missing or the base is zero.
pub(crate) fn change(current: Option<f64>, base: Option<f64>, unit: &str) -> String {
    let (Some(c), Some(b)) = (current, base) else { return DASH.to_string() };
    if !c.is_finite() || !b.is_finite() {
        return DASH.to_string();
    }
    if is_percent_unit(unit) {
        return signed(c - b, 2, "百分点");
    }
    if b == 0.0 {
        return DASH.to_string();
    }
    signed((c - b) / b.abs() * 100.0, 1, "%")
}

fn signed(x: f64, decimals: usize, suffix: &str) -> String {
    let s = format!("{:.*}", decimals, x.abs());
    if s.bytes().all(|b| b == b'0' || b == b'.') {
        return format!("{s}{suffix}");
    }
    format!("{}{s}{suffix}", if x < 0.0 { "-" } else { "+" })
}

pub(crate) fn is_percent_unit(unit: &str) -> bool {
    matches!(unit.trim(), "%" | "％" | "百分比")
}

/// An indicator's value in its unit, two decimals.
pub(crate) fn value(x: Option<f64>) -> String {
    yuan_opt(x)
}

fn group(digits: &str) -> String {
    let n = digits.len();
    let mut out = String::with_capacity(n + n / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Year and month of `2026-03`, `2026-3`, `202603` or `2026/03`.
pub(crate) fn year_month(period: &str) -> Option<(u32, u32)> {
    let p = period.trim();
    let (y, m) = if let Some((y, m)) = p.split_once(['-', '/', '.']) {
        (y, m)
    } else if p.len() == 6 && p.is_ascii() {
        p.split_at(4)
    } else {
        return None;
    };
    let (y, m): (u32, u32) = (y.parse().ok()?, m.parse().ok()?);
    ((1900..=9999).contains(&y) && (1..=12).contains(&m)).then_some((y, m))
}

/// `2026-03` -> `2026年3月`; anything else as given.
pub(crate) fn month_zh(period: &str) -> String {
    match year_month(period) {
        Some((y, m)) => format!("{y}年{m}月"),
        None => period.trim().to_string(),
    }
}

/// Year, month and day of `2026-04-01` (or with `/`).
pub(crate) fn ymd(date: &str) -> Option<(u32, u32, u32)> {
    let mut parts = date.trim().split(['-', '/']);
    let y: u32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    let ok = parts.next().is_none()
        && (1900..=9999).contains(&y)
        && (1..=12).contains(&m)
        && (1..=days_in_month(y, m)).contains(&d);
    ok.then_some((y, m, d))
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `2026-04-01` -> `2026年4月1日`; anything else as given.
pub(crate) fn date_zh(date: &str) -> String {
    match ymd(date) {
        Some((y, m, d)) => format!("{y}年{m}月{d}日"),
        None => date.trim().to_string(),
    }
}

/// Text as it may appear in a document: without the characters XML 1.0 forbids (C0 controls
/// other than tab and line feed) and without other invisible controls (DEL, C1, U+FFFE/U+FFFF);
/// line ends normalised to `\n`.
pub(crate) fn clean(s: &str) -> Cow<'_, str> {
    let bad = |c: char| (c.is_control() && c != '\n' && c != '\t') || c == '\u{FFFE}' || c == '\u{FFFF}';
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    Cow::Owned(s.chars().filter(|&c| !bad(c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_has_separators_and_fen() {
        assert_eq!(yuan(0.0), "0.00");
        assert_eq!(yuan(999.999), "1,000.00");
        assert_eq!(yuan(1234567.891), "1,234,567.89");
        assert_eq!(yuan(-1234.5), "-1,234.50");
        assert_eq!(yuan(-0.001), "0.00");
        assert_eq!(yuan(100.0), "100.00");
        assert_eq!(yuan(f64::NAN), DASH);
        assert_eq!(yuan_opt(None), DASH);
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(999), "999");
        assert_eq!(count(12_345_678), "12,345,678");
    }

    #[test]
    fn percentages_and_changes() {
        assert_eq!(percent(0.9254), "92.5%");
        assert_eq!(percent(1.0), "100.0%");
        assert_eq!(share(1, 3), "33.3%");
        assert_eq!(share(1, 0), DASH);
        assert_eq!(change(Some(110.0), Some(100.0), "万千瓦时"), "+10.0%");
        assert_eq!(change(Some(90.0), Some(100.0), "元"), "-10.0%");
        assert_eq!(change(Some(100.0), Some(100.0), "元"), "0.0%");
        assert_eq!(change(Some(1.0), Some(0.0), "元"), DASH);
        assert_eq!(change(None, Some(1.0), "元"), DASH);
        assert_eq!(change(Some(3.2), Some(3.55), "%"), "-0.35百分点");
        assert_eq!(change(Some(99.9), Some(99.5), "%"), "+0.40百分点");
    }

    #[test]
    fn months_and_days() {
        assert_eq!(month_zh("2026-03"), "2026年3月");
        assert_eq!(month_zh("202612"), "2026年12月");
        assert_eq!(month_zh("2026-13"), "2026-13");
        assert_eq!(month_zh("三月"), "三月");
        assert_eq!(date_zh("2026-04-01"), "2026年4月1日");
        assert_eq!(date_zh("2026-02-30"), "2026-02-30");
        assert_eq!(date_zh("2024-02-29"), "2024年2月29日");
    }

    #[test]
    fn clean_strips_what_xml_forbids() {
        assert_eq!(clean("a\u{0}b\u{1}c\u{1f}d\u{7f}e"), "abcde");
        assert_eq!(clean("第一行\r\n第二行\t完"), "第一行\n第二行\t完");
        assert!(matches!(clean("<&>\"'"), Cow::Borrowed(_)));
    }
}
