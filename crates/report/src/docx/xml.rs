//! WordprocessingML by hand: escaping, paragraphs, tables and inline charts.

use std::fmt::Write;

use crate::format::clean;

/// Escapes text for an XML text node or attribute, after dropping what XML cannot hold.
pub(crate) fn esc(s: &str) -> String {
    let s = clean(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// [`esc`] for a one-line attribute: line breaks and tabs become spaces.
pub(crate) fn esc_line(s: &str) -> String {
    esc(&s.replace(['\n', '\r', '\t'], " "))
}

/// Character formatting of a run.
#[derive(Clone, Copy, Default)]
pub(crate) struct RunStyle {
    pub bold: bool,
    /// Half-points; `None` keeps the paragraph style's size.
    pub size: Option<u32>,
}

/// Runs for `text`: line breaks become `w:br`, tabs `w:tab`.
pub(crate) fn runs(text: &str, style: RunStyle) -> String {
    let mut rpr = String::new();
    if style.bold {
        rpr.push_str("<w:b/><w:bCs/>");
    }
    if let Some(sz) = style.size {
        let _ = write!(rpr, r#"<w:sz w:val="{sz}"/><w:szCs w:val="{sz}"/>"#);
    }
    let rpr = if rpr.is_empty() { String::new() } else { format!("<w:rPr>{rpr}</w:rPr>") };
    let mut out = String::new();
    let text = clean(text);
    for (i, line) in text.split('\n').enumerate() {
        out.push_str("<w:r>");
        out.push_str(&rpr);
        if i > 0 {
            out.push_str("<w:br/>");
        }
        for (j, piece) in line.split('\t').enumerate() {
            if j > 0 {
                out.push_str("<w:tab/>");
            }
            if !piece.is_empty() {
                let _ = write!(out, r#"<w:t xml:space="preserve">{}</w:t>"#, esc(piece));
            }
        }
        out.push_str("</w:r>");
    }
    out
}

/// Horizontal alignment of a paragraph or cell.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

impl Align {
    fn jc(self) -> &'static str {
        match self {
            Align::Left => "left",
            Align::Center => "center",
            Align::Right => "right",
        }
    }
}

/// A table cell: its text and alignment.
pub(crate) struct Cell {
    pub text: String,
    pub align: Align,
}

impl Cell {
    pub fn left(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), align: Align::Left }
    }
    pub fn center(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), align: Align::Center }
    }
    pub fn right(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), align: Align::Right }
    }
}

/// A row of body cells; a bold row is a total (合计).
pub(crate) struct Row {
    pub cells: Vec<Cell>,
    pub bold: bool,
}

/// A table with fixed column widths (twips) so that it never runs past the margins.
pub(crate) struct Table {
    pub widths: Vec<u32>,
    pub header: Vec<&'static str>,
    pub rows: Vec<Row>,
    /// Font size of the cells in half-points.
    pub size: u32,
}

/// Grey of the header row.
const HEADER_FILL: &str = "D9D9D9";

/// The document body being assembled, with the numbering of tables and figures.
#[derive(Default)]
pub(crate) struct Body {
    pub xml: String,
    tables: u32,
    figures: u32,
    drawings: u32,
}

impl Body {
    /// A paragraph of `style` holding `inner` (runs).
    pub fn paragraph(&mut self, style: &str, align: Option<Align>, inner: &str) {
        self.xml.push_str("<w:p><w:pPr>");
        let _ = write!(self.xml, r#"<w:pStyle w:val="{style}"/>"#);
        if let Some(a) = align {
            let _ = write!(self.xml, r#"<w:jc w:val="{}"/>"#, a.jc());
        }
        self.xml.push_str("</w:pPr>");
        self.xml.push_str(inner);
        self.xml.push_str("</w:p>");
    }

    pub fn heading1(&mut self, text: &str) {
        self.paragraph("Heading1", None, &runs(text, RunStyle::default()));
    }

    pub fn heading2(&mut self, text: &str) {
        self.paragraph("Heading2", None, &runs(text, RunStyle::default()));
    }

    /// A body paragraph, first line indented by two characters.
    pub fn text(&mut self, text: &str) {
        self.paragraph("BodyText", None, &runs(text, RunStyle::default()));
    }

    /// The caption above the next table: `表N　title`.
    pub fn table_caption(&mut self, title: &str) {
        self.tables += 1;
        let text = format!("表{}　{title}", self.tables);
        self.paragraph("Caption", Some(Align::Center), &runs(&text, RunStyle::default()));
    }

    /// The caption below a figure: `图N　title`.
    pub fn figure_caption(&mut self, title: &str) {
        self.figures += 1;
        let text = format!("图{}　{title}", self.figures);
        self.paragraph("Caption", Some(Align::Center), &runs(&text, RunStyle::default()));
    }

    /// A centred paragraph holding the chart of relationship `rid`, `cx` x `cy` EMU.
    pub fn chart(&mut self, rid: &str, title: &str, cx: u64, cy: u64) {
        self.drawings += 1;
        let id = self.drawings;
        let inner = format!(
            concat!(
                r#"<w:r><w:drawing><wp:inline distT="0" distB="0" distL="0" distR="0">"#,
                r#"<wp:extent cx="{cx}" cy="{cy}"/><wp:effectExtent l="0" t="0" r="0" b="0"/>"#,
                r#"<wp:docPr id="{id}" name="图表 {id}" descr="{descr}"/><wp:cNvGraphicFramePr/>"#,
                r#"<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">"#,
                r#"<c:chart r:id="{rid}"/></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>"#
            ),
            cx = cx,
            cy = cy,
            id = id,
            descr = esc_line(title),
            rid = rid,
        );
        self.paragraph("Figure", Some(Align::Center), &inner);
    }

    /// A table whose header row repeats at the top of every page it runs onto.
    pub fn table(&mut self, t: &Table) {
        let total: u32 = t.widths.iter().sum();
        let _ = write!(
            self.xml,
            concat!(
                r#"<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="{}" w:type="dxa"/>"#,
                r#"<w:jc w:val="center"/>{}<w:tblLayout w:type="fixed"/>"#,
                r#"<w:tblCellMar><w:left w:w="57" w:type="dxa"/><w:right w:w="57" w:type="dxa"/></w:tblCellMar>"#,
                r#"<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" w:lastColumn="0" w:noHBand="0" w:noVBand="1"/>"#,
                "</w:tblPr><w:tblGrid>"
            ),
            total, BORDERS
        );
        for w in &t.widths {
            let _ = write!(self.xml, r#"<w:gridCol w:w="{w}"/>"#);
        }
        self.xml.push_str("</w:tblGrid>");
        let size = Some(t.size);
        self.xml.push_str("<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>");
        for (text, w) in t.header.iter().zip(&t.widths) {
            self.cell(*w, Some(HEADER_FILL), Align::Center, &runs(text, RunStyle { bold: true, size }));
        }
        self.xml.push_str("</w:tr>");
        for row in &t.rows {
            self.xml.push_str("<w:tr><w:trPr><w:cantSplit/></w:trPr>");
            for (cell, w) in row.cells.iter().zip(&t.widths) {
                self.cell(*w, None, cell.align, &runs(&cell.text, RunStyle { bold: row.bold, size }));
            }
            self.xml.push_str("</w:tr>");
        }
        self.xml.push_str("</w:tbl>");
    }

    fn cell(&mut self, width: u32, fill: Option<&str>, align: Align, inner: &str) {
        let _ = write!(self.xml, r#"<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/>"#);
        if let Some(fill) = fill {
            let _ = write!(self.xml, r#"<w:shd w:val="clear" w:color="auto" w:fill="{fill}"/>"#);
        }
        self.xml.push_str(r#"<w:vAlign w:val="center"/></w:tcPr>"#);
        self.paragraph("TableText", Some(align), inner);
        self.xml.push_str("</w:tc>");
    }
}

/// Single thin lines around and inside every table (set on the table itself so that WPS and
/// older Word draw them even without the table style).
const BORDERS: &str = concat!(
    "<w:tblBorders>",
    r#"<w:top w:val="single" w:sz="4" w:space="0" w:color="000000"/>"#,
    r#"<w:left w:val="single" w:sz="4" w:space="0" w:color="000000"/>"#,
    r#"<w:bottom w:val="single" w:sz="4" w:space="0" w:color="000000"/>"#,
    r#"<w:right w:val="single" w:sz="4" w:space="0" w:color="000000"/>"#,
    r#"<w:insideH w:val="single" w:sz="4" w:space="0" w:color="000000"/>"#,
    r#"<w:insideV w:val="single" w:sz="4" w:space="0" w:color="000000"/>"#,
    "</w:tblBorders>"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(esc(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
        assert_eq!(esc("a\u{1}b\u{0}"), "ab");
        assert_eq!(esc_line("a\nb"), "a b");
    }

    #[test]
    fn runs_break_lines() {
        let xml = runs("一\n二\t三", RunStyle::default());
        assert_eq!(xml.matches("<w:br/>").count(), 1);
        assert_eq!(xml.matches("<w:tab/>").count(), 1);
        assert!(xml.contains(">一<") && xml.contains(">二<") && xml.contains(">三<"));
    }
}
