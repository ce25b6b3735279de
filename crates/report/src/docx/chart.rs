//! Native Word bar charts (DrawingML chart parts). The category names and values are cached in
//! the part, so Word and WPS draw the chart themselves, with their own Chinese fonts, without
//! opening any workbook; the embedded workbook only serves 「编辑数据」.

use std::fmt::Write;

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::xml::{esc, esc_line};

/// A horizontal bar chart of one series of counts: long Chinese names read best on the vertical
/// axis, one per line.
pub(crate) struct BarChart {
    pub title: String,
    /// Title of the category axis (`专业`, `供电所`).
    pub category_title: &'static str,
    /// Title of the value axis and name of the series.
    pub value_title: &'static str,
    pub categories: Vec<String>,
    pub values: Vec<f64>,
}

/// The sheet of the embedded workbook that the chart's formulas point at.
const SHEET: &str = "Sheet1";

/// EMU per centimetre.
pub(crate) const EMU_PER_CM: u64 = 360_000;

impl BarChart {
    /// Height for the number of bars: room for each name, within a page.
    pub fn height_emu(&self) -> u64 {
        let n = self.categories.len() as u64;
        (25 * EMU_PER_CM / 10 + n * 7 * EMU_PER_CM / 10).clamp(6 * EMU_PER_CM, 20 * EMU_PER_CM)
    }

    /// The chart part `word/charts/chartN.xml`; `externalData` names the relationship of the
    /// embedded workbook.
    pub fn xml(&self, external_data: &str) -> String {
        let n = self.categories.len();
        let last = n + 1;
        let max = self.values.iter().copied().fold(0.0_f64, f64::max);
        let mut x = String::with_capacity(4096 + n * 120);
        x.push_str(concat!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#,
            "\n",
            r#"<c:chartSpace xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" "#,
            r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" "#,
            r#"xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">"#,
            r#"<c:date1904 val="0"/><c:lang val="zh-CN"/><c:roundedCorners val="0"/><c:chart>"#
        ));
        x.push_str(&title(&self.title, 1200));
        x.push_str(r#"<c:autoTitleDeleted val="0"/><c:plotArea><c:layout/><c:barChart>"#);
        x.push_str(r#"<c:barDir val="bar"/><c:grouping val="clustered"/><c:varyColors val="0"/>"#);
        let _ = write!(
            x,
            concat!(
                r#"<c:ser><c:idx val="0"/><c:order val="0"/><c:tx><c:strRef><c:f>{sheet}!$B$1</c:f>"#,
                r#"<c:strCache><c:ptCount val="1"/><c:pt idx="0"><c:v>{name}</c:v></c:pt></c:strCache>"#,
                r#"</c:strRef></c:tx><c:spPr><a:solidFill><a:srgbClr val="4472C4"/></a:solidFill></c:spPr>"#,
                r#"<c:invertIfNegative val="0"/><c:dLbls><c:spPr><a:noFill/><a:ln><a:noFill/></a:ln></c:spPr>"#,
                r#"<c:dLblPos val="outEnd"/><c:showLegendKey val="0"/><c:showVal val="1"/>"#,
                r#"<c:showCatName val="0"/><c:showSerName val="0"/><c:showPercent val="0"/>"#,
                r#"<c:showBubbleSize val="0"/></c:dLbls>"#,
                r#"<c:cat><c:strRef><c:f>{sheet}!$A$2:$A${last}</c:f><c:strCache><c:ptCount val="{n}"/>"#
            ),
            sheet = SHEET,
            name = esc(self.value_title),
            last = last,
            n = n,
        );
        for (i, c) in self.categories.iter().enumerate() {
            let _ = write!(x, r#"<c:pt idx="{i}"><c:v>{}</c:v></c:pt>"#, esc_line(c));
        }
        let _ = write!(
            x,
            concat!(
                r#"</c:strCache></c:strRef></c:cat><c:val><c:numRef><c:f>{sheet}!$B$2:$B${last}</c:f>"#,
                r#"<c:numCache><c:formatCode>General</c:formatCode><c:ptCount val="{n}"/>"#
            ),
            sheet = SHEET,
            last = last,
            n = n,
        );
        for (i, v) in self.values.iter().enumerate() {
            let _ = write!(x, r#"<c:pt idx="{i}"><c:v>{v}</c:v></c:pt>"#);
        }
        x.push_str("</c:numCache></c:numRef></c:val></c:ser>");
        x.push_str(
            r#"<c:gapWidth val="60"/><c:axId val="500100001"/><c:axId val="500100002"/></c:barChart>"#,
        );
        // Categories top-down in the given order (a bar chart draws the first at the bottom),
        // with the value axis kept at the bottom.
        x.push_str(concat!(
            r#"<c:catAx><c:axId val="500100001"/><c:scaling><c:orientation val="maxMin"/></c:scaling>"#,
            r#"<c:delete val="0"/><c:axPos val="l"/>"#
        ));
        x.push_str(&title(self.category_title, 900));
        x.push_str(concat!(
            r#"<c:numFmt formatCode="General" sourceLinked="1"/><c:majorTickMark val="none"/>"#,
            r#"<c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/><c:crossAx val="500100002"/>"#,
            r#"<c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/>"#,
            r#"<c:tickLblSkip val="1"/><c:noMultiLvlLbl val="0"/></c:catAx>"#,
            r#"<c:valAx><c:axId val="500100002"/><c:scaling><c:orientation val="minMax"/>"#,
            r#"<c:min val="0"/></c:scaling><c:delete val="0"/><c:axPos val="b"/>"#,
            r#"<c:majorGridlines><c:spPr><a:ln w="6350"><a:solidFill><a:srgbClr val="D9D9D9"/></a:solidFill>"#,
            r#"</a:ln></c:spPr></c:majorGridlines>"#
        ));
        x.push_str(&title(self.value_title, 900));
        let _ = write!(
            x,
            concat!(
                r#"<c:numFmt formatCode="0" sourceLinked="0"/><c:majorTickMark val="out"/>"#,
                r#"<c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/><c:crossAx val="500100001"/>"#,
                r#"<c:crosses val="max"/><c:crossBetween val="between"/><c:majorUnit val="{}"/></c:valAx>"#
            ),
            step(max)
        );
        x.push_str(r#"</c:plotArea><c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart>"#);
        x.push_str(r#"<c:spPr><a:solidFill><a:srgbClr val="FFFFFF"/></a:solidFill><a:ln><a:noFill/></a:ln></c:spPr>"#);
        x.push_str(&text_properties(900));
        let _ =
            write!(x, r#"<c:externalData r:id="{external_data}"><c:autoUpdate val="0"/></c:externalData>"#);
        x.push_str("</c:chartSpace>");
        x
    }

    /// The workbook embedded with the chart, holding the same figures, for 「编辑数据」.
    pub fn workbook(&self) -> Result<Vec<u8>, XlsxError> {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name(SHEET)?;
        let bold = Format::new().set_bold();
        ws.write_string_with_format(0, 0, crate::format::clean(self.category_title), &bold)?;
        ws.write_string_with_format(0, 1, crate::format::clean(self.value_title), &bold)?;
        for (i, (c, v)) in self.categories.iter().zip(&self.values).enumerate() {
            let row = i as u32 + 1;
            ws.write_string(row, 0, crate::format::clean(c))?;
            ws.write_number(row, 1, *v)?;
        }
        ws.set_column_width(0, 20)?;
        wb.save_to_buffer()
    }
}

/// A title with its text in a Chinese bold face at `size` hundredths of a point.
fn title(text: &str, size: u32) -> String {
    format!(
        concat!(
            r#"<c:title><c:tx><c:rich><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="{sz}" b="1"/></a:pPr>"#,
            r#"<a:r><a:rPr lang="zh-CN" altLang="en-US" sz="{sz}" b="1"><a:latin typeface="Times New Roman"/>"#,
            r#"<a:ea typeface="黑体"/></a:rPr><a:t>{text}</a:t></a:r></a:p></c:rich></c:tx>"#,
            r#"<c:overlay val="0"/></c:title>"#
        ),
        sz = size,
        text = esc_line(text),
    )
}

/// Default text of the chart: 宋体 for Chinese, at `size` hundredths of a point.
fn text_properties(size: u32) -> String {
    format!(
        concat!(
            r#"<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="{sz}" b="0">"#,
            r#"<a:latin typeface="Times New Roman"/><a:ea typeface="宋体"/></a:defRPr></a:pPr>"#,
            r#"<a:endParaRPr lang="zh-CN"/></a:p></c:txPr>"#
        ),
        sz = size,
    )
}

/// A round step for a count axis (1, 2, 5, 10, 20, ...) giving at most about six gridlines.
fn step(max: f64) -> f64 {
    if !max.is_finite() || max <= 6.0 {
        return 1.0;
    }
    let raw = max / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let nice = [1.0, 2.0, 5.0, 10.0].into_iter().find(|m| m * magnitude >= raw).unwrap_or(10.0);
    nice * magnitude
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(step(0.0), 1.0);
        assert_eq!(step(5.0), 1.0);
        assert_eq!(step(11.0), 2.0);
        assert_eq!(step(29.0), 5.0);
        assert_eq!(step(55.0), 10.0);
        assert_eq!(step(1234.0), 500.0);
    }

    #[test]
    fn heights_stay_on_a_page() {
        let chart = |n: usize| BarChart {
            title: String::new(),
            category_title: "",
            value_title: "",
            categories: vec![String::new(); n],
            values: vec![0.0; n],
        };
        assert_eq!(chart(1).height_emu(), 6 * EMU_PER_CM);
        assert_eq!(chart(200).height_emu(), 20 * EMU_PER_CM);
    }
}
