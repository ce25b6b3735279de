//! 《现场营销稽查发现问题及整改措施汇总清单》: the month's problems as an Excel workbook that
//! prints on A4 landscape, with a station x status summary.

use std::path::Path;

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

use crate::format::{self, DASH};
use crate::model::MonthlyReport;
use crate::{ReportError, write};

/// Name of the list sheet.
pub const PROBLEM_SHEET: &str = "整改措施汇总清单";
/// Name of the station x status sheet.
pub const SUMMARY_SHEET: &str = "汇总";
/// The header row of the list (row 2 of the sheet, under the title).
pub const PROBLEM_HEADERS: [&str; 11] = [
    "序号",
    "供电所",
    "专业",
    "问题来源",
    "发现问题",
    "涉及用户",
    "整改措施",
    "责任人",
    "整改期限",
    "整改状态",
    "涉及金额(元)",
];

/// Column widths in Excel character units. Together they fit the printable width of A4
/// landscape at 100% (see the test); fit-to-width printing covers the rest.
const WIDTHS: [f64; 11] = [5.0, 10.0, 10.0, 9.0, 28.0, 13.0, 24.0, 8.0, 11.0, 8.0, 12.0];

/// Excel's limit on the characters of one cell.
const MAX_CELL_CHARS: usize = 32_767;

/// The list's title: `通山县供电公司2026年3月现场营销稽查发现问题及整改措施汇总清单`.
pub fn problem_list_title(r: &MonthlyReport) -> String {
    format!(
        "{}{}现场营销稽查发现问题及整改措施汇总清单",
        format::clean(r.company.trim()),
        format::month_zh(&r.period)
    )
}

/// Text as a cell holds it: no control characters, within Excel's length limit.
pub(crate) fn cell_text(s: &str) -> String {
    let s = format::clean(s);
    if s.chars().count() <= MAX_CELL_CHARS {
        s.into_owned()
    } else {
        s.chars().take(MAX_CELL_CHARS).collect()
    }
}

/// Points per line of 10-point text in a cell.
const LINE_HEIGHT: f64 = 13.5;

/// The height (points) a row needs to show every line of its wrapped cells, given as text and
/// column width. Excel grows such rows itself only when it edits them, LibreOffice and WPS not
/// at all, so the height is written out, estimated: a Chinese character takes about two width
/// units, other characters about one.
pub(crate) fn row_height<'a>(cells: impl IntoIterator<Item = (&'a str, f64)>, min: f64) -> f64 {
    let lines = cells
        .into_iter()
        .map(|(text, width)| {
            let room = (width - 1.0).max(1.0);
            text.split('\n')
                .map(|line| {
                    let w: f64 = line.chars().map(|c| if c.is_ascii() { 1.1 } else { 2.0 }).sum();
                    (w / room).ceil().max(1.0)
                })
                .sum::<f64>()
        })
        .fold(1.0, f64::max);
    (lines * LINE_HEIGHT + 4.0).max(min).min(409.0)
}

/// Header/footer text with `&` doubled (Excel reads `&` as a code there), short enough for
/// Excel's 255-character limit on the whole header.
pub(crate) fn header_text(s: &str) -> String {
    let s: String = format::clean(s).replace(['\n', '\t'], " ").chars().take(100).collect();
    s.replace('&', "&&")
}

/// The formats of a list: title, header, text, centred text, money, count.
pub(crate) struct Formats {
    pub title: Format,
    pub header: Format,
    pub text: Format,
    pub center: Format,
    pub money: Format,
    pub count: Format,
}

impl Formats {
    pub fn new() -> Formats {
        let base = Format::new()
            .set_font_name("宋体")
            .set_font_size(10)
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter)
            .set_text_wrap();
        Formats {
            title: Format::new()
                .set_font_name("黑体")
                .set_font_size(16)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            header: base
                .clone()
                .set_font_name("黑体")
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_background_color(0xD9D9D9),
            text: base.clone().set_align(FormatAlign::Left),
            center: base.clone().set_align(FormatAlign::Center),
            money: base.clone().set_align(FormatAlign::Right).set_num_format("#,##0.00"),
            count: base.set_align(FormatAlign::Right).set_num_format("#,##0"),
        }
    }
}

/// A4 landscape, narrow margins, one page wide, `repeat` rows on every page, page numbers.
pub(crate) fn print_setup(ws: &mut Worksheet, repeat: u32, header: &str) -> Result<(), XlsxError> {
    ws.set_paper_size(9);
    ws.set_landscape();
    ws.set_margins(0.4, 0.4, 0.6, 0.6, 0.3, 0.3);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_print_center_horizontally(true);
    ws.set_repeat_rows(repeat, repeat)?;
    if !header.is_empty() {
        ws.set_header(format!("&C{}", header_text(header)));
    }
    ws.set_footer("&C第 &P 页 共 &N 页");
    Ok(())
}

/// Writes 《现场营销稽查发现问题及整改措施汇总清单》 for `r` to `path` (an `.xlsx`), replacing any
/// file there.
pub fn write_problem_list_xlsx(r: &MonthlyReport, path: &Path) -> Result<(), ReportError> {
    let bytes = build(r).map_err(|source| ReportError::Xlsx { path: path.to_path_buf(), source })?;
    write::write_atomically(path, &bytes)
}

fn build(r: &MonthlyReport) -> Result<Vec<u8>, XlsxError> {
    let f = Formats::new();
    let mut wb = Workbook::new();
    let title = problem_list_title(r);
    let props = rust_xlsxwriter::DocProperties::new()
        .set_title(cell_text(&title))
        .set_author(cell_text(r.lead.as_deref().unwrap_or(&r.company)))
        .set_company(cell_text(&r.company));
    wb.set_properties(&props);

    let ws = wb.add_worksheet();
    ws.set_name(PROBLEM_SHEET)?;
    let last_col = (PROBLEM_HEADERS.len() - 1) as u16;
    ws.merge_range(0, 0, 0, last_col, &cell_text(&title), &f.title)?;
    ws.set_row_height(0, 36)?;
    for (c, (h, w)) in PROBLEM_HEADERS.iter().zip(WIDTHS).enumerate() {
        ws.write_string_with_format(1, c as u16, *h, &f.header)?;
        ws.set_column_width(c as u16, w)?;
    }
    ws.set_row_height(1, 24)?;
    for (i, p) in r.problems.iter().enumerate() {
        let row = i as u32 + 2;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &f.center)?;
        let texts = [
            (1, p.station.as_str(), &f.center),
            (2, p.specialty.as_str(), &f.center),
            (3, p.source.as_str(), &f.center),
            (4, p.problem.as_str(), &f.text),
            (5, p.customer.as_deref().unwrap_or(""), &f.text),
            (6, p.measure.as_str(), &f.text),
            (7, p.responsible.as_str(), &f.center),
            (8, p.deadline.as_deref().unwrap_or(""), &f.center),
            (9, p.status.as_str(), &f.center),
        ];
        // Always strings: a problem text `=1+1` or `-2` stays what the auditor wrote.
        for (col, text, format) in texts {
            ws.write_string_with_format(row, col, cell_text(text), format)?;
        }
        let wrapped = texts.iter().map(|(col, text, _)| (*text, WIDTHS[usize::from(*col)]));
        ws.set_row_height(row, row_height(wrapped, 20.0))?;
        match p.amount.filter(|a| a.is_finite()) {
            Some(a) => ws.write_number_with_format(row, 10, a, &f.money)?,
            None => ws.write_blank(row, 10, &f.money)?,
        };
    }
    let last_row = r.problems.len() as u32 + 1;
    ws.set_freeze_panes(2, 0)?;
    ws.autofilter(1, 0, last_row, last_col)?;
    print_setup(ws, 1, &format!("{}　月度责任人：{}", r.company.trim(), r.lead.as_deref().unwrap_or(DASH)))?;
    ws.set_print_area(0, 0, last_row, last_col)?;

    summary_sheet(&mut wb, r, &f)?;
    wb.save_to_buffer()
}

/// `汇总`: problems per station (rows) and status (columns), with totals.
fn summary_sheet(wb: &mut Workbook, r: &MonthlyReport, f: &Formats) -> Result<(), XlsxError> {
    let mut stations: Vec<String> = Vec::new();
    let mut statuses: Vec<String> = Vec::new();
    for p in &r.problems {
        for (list, value) in [(&mut stations, &p.station), (&mut statuses, &p.status)] {
            let v = cell_text(value.trim());
            let v = if v.is_empty() { DASH.to_string() } else { v };
            if !list.contains(&v) {
                list.push(v);
            }
        }
    }
    let key = |s: &str| {
        let v = cell_text(s.trim());
        if v.is_empty() { DASH.to_string() } else { v }
    };
    let ws = wb.add_worksheet();
    ws.set_name(SUMMARY_SHEET)?;
    let last_col = statuses.len() as u16 + 1;
    let title = format!("{}问题整改状态汇总（按供电所）", format::month_zh(&r.period));
    ws.merge_range(0, 0, 0, last_col, &title, &f.title)?;
    ws.set_row_height(0, 30)?;
    ws.write_string_with_format(1, 0, "供电所", &f.header)?;
    ws.set_column_width(0, 16)?;
    for (c, s) in statuses.iter().enumerate() {
        ws.write_string_with_format(1, c as u16 + 1, s, &f.header)?;
        ws.set_column_width(c as u16 + 1, 10)?;
    }
    ws.write_string_with_format(1, last_col, "合计", &f.header)?;
    ws.set_column_width(last_col, 10)?;
    let mut column_totals = vec![0u64; statuses.len()];
    for (i, station) in stations.iter().enumerate() {
        let row = i as u32 + 2;
        ws.write_string_with_format(row, 0, station, &f.text)?;
        let mut row_total = 0;
        for (c, status) in statuses.iter().enumerate() {
            let n = r
                .problems
                .iter()
                .filter(|p| key(&p.station) == *station && key(&p.status) == *status)
                .count() as u64;
            row_total += n;
            column_totals[c] += n;
            ws.write_number_with_format(row, c as u16 + 1, n as f64, &f.count)?;
        }
        ws.write_number_with_format(row, last_col, row_total as f64, &f.count)?;
    }
    let total_row = stations.len() as u32 + 2;
    let bold_text = f.center.clone().set_bold();
    let bold_count = f.count.clone().set_bold();
    ws.write_string_with_format(total_row, 0, "合计", &bold_text)?;
    for (c, n) in column_totals.iter().enumerate() {
        ws.write_number_with_format(total_row, c as u16 + 1, *n as f64, &bold_count)?;
    }
    ws.write_number_with_format(total_row, last_col, r.problems.len() as f64, &bold_count)?;
    ws.set_freeze_panes(2, 1)?;
    print_setup(ws, 1, "")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Excel draws a column of `w` character units `7w + 5` pixels wide (Calibri 11 at 96 dpi).
    fn pixels(widths: &[f64]) -> f64 {
        widths.iter().map(|w| (w * 7.0 + 5.0).trunc()).sum()
    }

    #[test]
    fn list_fits_a4_landscape_at_full_size() {
        // 297 mm less 0.4" margins on both sides, at 96 pixels per inch.
        let printable = (297.0 / 25.4 - 0.8) * 96.0;
        assert!(pixels(&WIDTHS) <= printable, "{} > {printable}", pixels(&WIDTHS));
        assert_eq!(WIDTHS.len(), PROBLEM_HEADERS.len());
    }

    #[test]
    fn cells_are_clean_and_bounded() {
        assert_eq!(cell_text("a\u{1}b"), "ab");
        assert_eq!(cell_text(&"x".repeat(40_000)).chars().count(), MAX_CELL_CHARS);
        assert_eq!(header_text("A&B\n"), "A&&B ");
    }

    #[test]
    fn rows_grow_with_their_text() {
        assert_eq!(row_height([("短", 10.0)], 20.0), 20.0);
        // 20 Chinese characters in a 10-unit column: 40 units over 9 per line, 5 lines.
        assert_eq!(row_height([("一".repeat(20).as_str(), 10.0)], 20.0), 5.0 * LINE_HEIGHT + 4.0);
        // Line breaks count, and the tallest cell wins.
        assert_eq!(row_height([("a\nb\nc", 10.0), ("d", 10.0)], 0.0), 3.0 * LINE_HEIGHT + 4.0);
    }
}
