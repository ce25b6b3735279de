//! The documents read back with reader libraries: calamine for the workbooks, the zip crate and
//! quick-xml for the Word document. What is asserted is what a user opening the file would see.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use calamine::{Data, DataType, Reader, Xlsx, open_workbook};
use jicha_report::{
    CENSUS_HEADERS, CENSUS_SHEET, CensusForm, CensusRow, CountLine, INSTRUCTIONS_SHEET, IndicatorLine,
    MonthlyReport, PROBLEM_HEADERS, PROBLEM_SHEET, Problem, ReportError, SUMMARY_SHEET, StationLine, Summary,
    write_census_forms, write_monthly_docx, write_problem_list_xlsx,
};
use quick_xml::events::Event;

// ---------------------------------------------------------------------------------------------
// Data

/// A station name full of markup characters and two control characters (which must vanish).
const NASTY_STATION: &str = "<横石&潭>\"所'\u{1}\u{0}";
/// What the document must show for it.
const NASTY_STATION_SHOWN: &str = "<横石&潭>\"所'";

fn problem(station: &str, specialty: &str, source: &str, text: &str, status: &str) -> Problem {
    Problem {
        station: station.into(),
        specialty: specialty.into(),
        source: source.into(),
        problem: text.into(),
        customer: None,
        measure: "核实后整改".into(),
        responsible: "张三".into(),
        deadline: Some("2026-04-15".into()),
        status: status.into(),
        amount: None,
    }
}

fn report() -> MonthlyReport {
    let mut problems = vec![
        Problem {
            customer: Some("0701234567 李四".into()),
            amount: Some(1234.5),
            ..problem("大畈供电所", "电费抄核收", "主题稽查", "居民电价执行错误，\n实为商业用电", "整改中")
        },
        problem("大畈供电所", "计量", "现场稽查", "=1+1", "已整改"),
        problem("南林桥供电所", "业扩报装", "现场稽查", "@SUM(A1)", "整改中"),
        problem("南林桥供电所", "用电检查", "主题稽查", "-2", "待整改"),
        problem(NASTY_STATION, "线损", "现场稽查", "台区线损率异常 <12%> & 'x' \"y\"\u{7}", "已整改"),
        problem("闯王供电所", "计量", "现场稽查", "+86 计量箱未加封", "整改中"),
    ];
    problems[4].measure = "更换封印\t复查".into();
    problems[3].deadline = None;
    MonthlyReport {
        period: "2026-03".into(),
        company: "通山县供电公司".into(),
        generated_on: "2026-04-01".into(),
        lead: Some("王五".into()),
        summary: Summary {
            findings: 1520,
            amount_at_risk: 1_234_567.891,
            orders_dispatched: 48,
            orders_closed: 40,
            orders_overdue: 3,
            on_time_rate: Some(0.9254),
            recovered_amount: 56_789.5,
            onsite_problems: 6,
            confirmed: 1200,
            false_positive: 320,
        },
        indicators: vec![
            IndicatorLine {
                name: "售电量".into(),
                unit: "万千瓦时".into(),
                value: Some(1100.0),
                previous: Some(1000.0),
                last_year: None,
            },
            IndicatorLine {
                name: "线损率".into(),
                unit: "%".into(),
                value: Some(3.2),
                previous: Some(3.55),
                last_year: Some(4.0),
            },
        ],
        by_specialty: vec![
            CountLine { name: "电费抄核收".into(), count: 12, amount: 3000.0 },
            CountLine { name: "业扩报装".into(), count: 5, amount: 0.0 },
            CountLine { name: "计量".into(), count: 9, amount: 1500.25 },
            CountLine { name: "用电检查".into(), count: 0, amount: 0.0 },
            CountLine { name: "线损".into(), count: 3, amount: 800.0 },
        ],
        stations: vec![
            StationLine {
                station: "南林桥供电所".into(),
                findings: 7,
                amount: 2000.0,
                orders_open: 4,
                orders_overdue: 2,
                rectified: 3,
                score: Some(88.5),
                rank: Some(3),
            },
            StationLine {
                station: "大畈供电所".into(),
                findings: 12,
                amount: 1234.5,
                orders_open: 2,
                orders_overdue: 1,
                rectified: 10,
                score: Some(95.25),
                rank: Some(1),
            },
            StationLine {
                station: NASTY_STATION.into(),
                findings: 4,
                amount: 0.0,
                orders_open: 1,
                orders_overdue: 0,
                rectified: 4,
                score: Some(91.0),
                rank: Some(2),
            },
        ],
        problems,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading a package

/// Every part of a zip package, by name.
fn parts(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        out.insert(f.name().unwrap().into_owned(), bytes);
    }
    out
}

/// An XML element: name, attributes, children, and the text directly inside it.
#[derive(Debug, Default, Clone)]
struct Node {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    /// Every descendant (self included) named `name`, in document order.
    fn all<'a>(&'a self, name: &str) -> Vec<&'a Node> {
        let mut out = Vec::new();
        self.collect(name, &mut out);
        out
    }

    fn collect<'a>(&'a self, name: &str, out: &mut Vec<&'a Node>) {
        if self.name == name {
            out.push(self);
        }
        for c in &self.children {
            c.collect(name, out);
        }
    }

    fn first(&self, name: &str) -> Option<&Node> {
        self.all(name).into_iter().next()
    }

    /// The text of every `w:t` below, `w:br` as a line break, `w:tab` as a tab.
    fn word_text(&self) -> String {
        let mut s = String::new();
        self.word_text_into(&mut s);
        s
    }

    fn word_text_into(&self, s: &mut String) {
        match self.name.as_str() {
            "w:t" => s.push_str(&self.text),
            "w:br" => s.push('\n'),
            "w:tab" => s.push('\t'),
            _ => self.children.iter().for_each(|c| c.word_text_into(s)),
        }
    }

    /// Every text inside (any element), concatenated.
    fn all_text(&self) -> String {
        let mut s = self.text.clone();
        for c in &self.children {
            s.push_str(&c.all_text());
        }
        s
    }
}

/// Parses `xml` strictly: matching end tags, one root, known entities only, no characters XML
/// 1.0 forbids. Panics with the part's name otherwise.
fn parse(part: &str, bytes: &[u8]) -> Node {
    let xml = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{part}: not UTF-8: {e}"));
    for c in xml.chars() {
        assert!(
            !c.is_control() || matches!(c, '\t' | '\n' | '\r'),
            "{part}: forbidden character U+{:04X}",
            c as u32
        );
    }
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = vec![Node::default()];
    let start = |e: &quick_xml::events::BytesStart| -> Node {
        let name = e.name().as_ref().to_string();
        let mut attrs = BTreeMap::new();
        for a in e.attributes() {
            let a = a.unwrap_or_else(|err| panic!("{part}: bad attribute in <{name}>: {err}"));
            let key = a.key.as_ref().to_string();
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .unwrap_or_else(|err| panic!("{part}: bad attribute value in <{name}>: {err}"));
            attrs.insert(key, value.into_owned());
        }
        Node { name, attrs, ..Node::default() }
    };
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => stack.push(start(&e)),
            Ok(Event::Empty(e)) => {
                let node = start(&e);
                stack.last_mut().unwrap().children.push(node);
            }
            Ok(Event::End(e)) => {
                let node = stack.pop().unwrap();
                assert_eq!(node.name, e.name().as_ref(), "{part}: mismatched end tag");
                assert!(!stack.is_empty(), "{part}: end tag without start");
                stack.last_mut().unwrap().children.push(node);
            }
            Ok(Event::Text(t)) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
            Ok(Event::CData(t)) => {
                stack.last_mut().unwrap().text.push_str(&t.xml10_content());
            }
            Ok(Event::GeneralRef(r)) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref().unwrap().unwrap().to_string()
                } else {
                    match &*r.xml10_content() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        "apos" => "'",
                        other => panic!("{part}: unknown entity &{other};"),
                    }
                    .to_string()
                };
                stack.last_mut().unwrap().text.push_str(&c);
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("{part}: not well-formed at {}: {e}", reader.error_position()),
        }
    }
    assert_eq!(stack.len(), 1, "{part}: unclosed element <{}>", stack.last().unwrap().name);
    let mut root = stack.pop().unwrap();
    assert_eq!(root.children.len(), 1, "{part}: not exactly one root element");
    root.children.pop().unwrap()
}

fn write_docx(r: &MonthlyReport) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("稽查报告.docx");
    write_monthly_docx(r, &path).unwrap();
    (dir, path)
}

/// The package's parts, all parsed (which asserts that each is well formed).
fn docx(r: &MonthlyReport) -> BTreeMap<String, Node> {
    let (_dir, path) = write_docx(r);
    parts(&path)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".xml") || name.ends_with(".rels"))
        .map(|(name, bytes)| {
            let node = parse(&name, &bytes);
            (name, node)
        })
        .collect()
}

fn paragraphs_of_style<'a>(doc: &'a Node, style: &str) -> Vec<&'a Node> {
    doc.all("w:p")
        .into_iter()
        .filter(|p| {
            p.first("w:pPr").and_then(|pr| pr.first("w:pStyle")).and_then(|s| s.attr("w:val")) == Some(style)
        })
        .collect()
}

fn rows_text(table: &Node) -> Vec<Vec<String>> {
    table
        .children
        .iter()
        .filter(|c| c.name == "w:tr")
        .map(|tr| tr.children.iter().filter(|c| c.name == "w:tc").map(Node::word_text).collect())
        .collect()
}

/// The body table whose header row starts with `first_header`.
fn table_with_header<'a>(doc: &'a Node, first_header: &str) -> &'a Node {
    doc.all("w:tbl")
        .into_iter()
        .find(|t| rows_text(t).first().and_then(|r| r.first()).map(String::as_str) == Some(first_header))
        .unwrap_or_else(|| panic!("no table headed {first_header}"))
}

// ---------------------------------------------------------------------------------------------
// The Word report

#[test]
fn docx_headings_are_word_headings_in_order() {
    let parts = docx(&report());
    let doc = &parts["word/document.xml"];
    let h1: Vec<String> = paragraphs_of_style(doc, "Heading1").iter().map(|p| p.word_text()).collect();
    assert_eq!(
        h1,
        [
            "一、总体情况",
            "二、主要指标",
            "三、发现问题分布",
            "四、各供电所情况",
            "五、整改情况",
            "六、问题清单",
            "七、下一步工作"
        ]
    );
    assert!(!paragraphs_of_style(doc, "Heading2").is_empty());
    let title = paragraphs_of_style(doc, "Title");
    assert_eq!(title.len(), 1);
    assert_eq!(title[0].word_text(), "通山县供电公司2026年3月现场营销稽查报告");

    // The styles are Word's built-in headings, with outline levels for the navigation pane and
    // Chinese faces for East-Asian text.
    let styles = &parts["word/styles.xml"];
    for (id, name, level) in [("Heading1", "heading 1", "0"), ("Heading2", "heading 2", "1")] {
        let style = styles.all("w:style").into_iter().find(|s| s.attr("w:styleId") == Some(id)).unwrap();
        assert_eq!(style.first("w:name").unwrap().attr("w:val"), Some(name));
        assert_eq!(style.first("w:outlineLvl").unwrap().attr("w:val"), Some(level));
        assert!(style.first("w:rFonts").unwrap().attr("w:eastAsia").is_some());
    }
    let defaults = styles.first("w:docDefaults").unwrap();
    assert_eq!(defaults.first("w:rFonts").unwrap().attr("w:eastAsia"), Some("宋体"));
}

#[test]
fn docx_is_a4_portrait_and_every_table_fits_the_page() {
    let parts = docx(&report());
    let doc = &parts["word/document.xml"];
    let sect = doc.first("w:sectPr").unwrap();
    let size = sect.first("w:pgSz").unwrap();
    assert_eq!((size.attr("w:w"), size.attr("w:h")), (Some("11906"), Some("16838")));
    assert_eq!(size.attr("w:orient"), None);
    let margins = sect.first("w:pgMar").unwrap();
    let margin = |k: &str| margins.attr(k).unwrap().parse::<u32>().unwrap();
    let text_width = 11906 - margin("w:left") - margin("w:right");
    let tables = doc.all("w:tbl");
    assert_eq!(tables.len(), 5, "指标, 专业, 供电所, 整改状态, 问题清单");
    for t in tables {
        assert_eq!(t.first("w:tblLayout").unwrap().attr("w:type"), Some("fixed"));
        let grid: u32 =
            t.all("w:gridCol").iter().map(|g| g.attr("w:w").unwrap().parse::<u32>().unwrap()).sum();
        assert!(grid <= text_width, "table {grid} twips wide, text width {text_width}");
        for tr in t.all("w:tr") {
            let cells = tr.all("w:tcW");
            let sum: u32 = cells.iter().map(|c| c.attr("w:w").unwrap().parse::<u32>().unwrap()).sum();
            assert_eq!(sum, grid, "row cells do not add up to the grid");
        }
    }
    for extent in doc.all("wp:extent") {
        let cx: u64 = extent.attr("cx").unwrap().parse().unwrap();
        assert!(cx <= u64::from(text_width) * 635, "chart wider than the text");
    }
    // Page numbers: 第 X 页 共 Y 页.
    let footer = &parts["word/footer1.xml"];
    let text = footer.word_text();
    assert!(text.starts_with("第 ") && text.contains(" 页 共 ") && text.ends_with(" 页"), "{text}");
    let fields: Vec<String> = footer.all("w:instrText").iter().map(|n| n.text.trim().to_string()).collect();
    assert_eq!(fields, ["PAGE", "NUMPAGES"]);
    let footer_rid = sect.first("w:footerReference").unwrap().attr("r:id").unwrap();
    let rels = &parts["word/_rels/document.xml.rels"];
    let rel = rels.all("Relationship").into_iter().find(|r| r.attr("Id") == Some(footer_rid)).unwrap();
    assert_eq!(rel.attr("Target"), Some("footer1.xml"));
}

#[test]
fn docx_problem_list_has_a_row_per_problem_and_a_repeating_header() {
    let r = report();
    let parts = docx(&r);
    let doc = &parts["word/document.xml"];
    let table = table_with_header(doc, "序号");
    let rows = rows_text(table);
    assert_eq!(rows.len(), r.problems.len() + 1);
    assert_eq!(
        rows[0],
        ["序号", "供电所", "专业（来源）", "发现问题", "整改措施", "责任人", "整改期限", "整改状态"]
    );
    let first_row = table.children.iter().find(|c| c.name == "w:tr").unwrap();
    assert!(first_row.first("w:tblHeader").is_some(), "header row must repeat on each page");
    let body_rows: Vec<&Node> = table.children.iter().filter(|c| c.name == "w:tr").skip(1).collect();
    assert!(body_rows.iter().all(|tr| tr.first("w:tblHeader").is_none()));
    for (i, (row, p)) in rows[1..].iter().zip(&r.problems).enumerate() {
        assert_eq!(row[0], (i + 1).to_string());
        assert_eq!(row[2], format!("{}\n（{}）", p.specialty, p.source));
        assert!(row[3].starts_with(p.problem.trim_end_matches('\u{7}')), "{} vs {}", row[3], p.problem);
        assert_eq!(row[7], p.status);
    }
    // The customer and amount travel with the problem; a missing deadline shows a dash.
    assert_eq!(
        rows[1][3],
        "居民电价执行错误，\n实为商业用电\n涉及用户：0701234567 李四\n涉及金额：1,234.50元"
    );
    assert_eq!(rows[2][3], "=1+1");
    assert_eq!(rows[5][4], "更换封印\t复查");
    assert_eq!(rows[4][6], "—");
}

#[test]
fn docx_text_survives_escaping_and_loses_control_characters() {
    let r = report();
    let (_dir, path) = write_docx(&r);
    let raw = parts(&path);
    let document = String::from_utf8(raw["word/document.xml"].clone()).unwrap();
    assert!(!document.contains('\u{1}') && !document.contains('\u{0}') && !document.contains('\u{7}'));
    let doc = parse("word/document.xml", &raw["word/document.xml"]);
    let problems = rows_text(table_with_header(&doc, "序号"));
    assert_eq!(problems[5][1], NASTY_STATION_SHOWN);
    assert_eq!(problems[5][3], "台区线损率异常 <12%> & 'x' \"y\"");
    let stations = rows_text(table_with_header(&doc, "排名"));
    assert!(stations.iter().any(|row| row[1] == NASTY_STATION_SHOWN));
    // In the chart's cached categories too.
    let chart2 = parse("word/charts/chart2.xml", &raw["word/charts/chart2.xml"]);
    let categories: Vec<String> =
        chart2.first("c:cat").unwrap().all("c:v").iter().map(|v| v.text.clone()).collect();
    assert!(categories.contains(&NASTY_STATION_SHOWN.to_string()), "{categories:?}");
}

#[test]
fn docx_figures_are_formatted_for_reading() {
    let parts = docx(&report());
    let doc = &parts["word/document.xml"];
    let body: String = paragraphs_of_style(doc, "BodyText").iter().map(|p| p.word_text() + "\n").collect();
    assert!(body.contains("疑似问题1,520条，涉及金额1,234,567.89元"), "{body}");
    assert!(body.contains("整改按期率92.5%"), "{body}");
    assert!(body.contains("追补电费56,789.50元"), "{body}");
    assert!(body.contains("尚未办结的7张稽查工单（其中超期3张）"), "{body}");

    let indicators = rows_text(table_with_header(doc, "指标"));
    assert_eq!(indicators[0], ["指标", "本月", "上月", "去年同期", "环比", "同比"]);
    assert_eq!(indicators[1], ["售电量（万千瓦时）", "1,100.00", "1,000.00", "—", "+10.0%", "—"]);
    assert_eq!(indicators[2], ["线损率（%）", "3.20", "3.55", "4.00", "-0.35百分点", "-0.80百分点"]);

    let specialties = rows_text(table_with_header(doc, "专业"));
    assert_eq!(specialties.len(), 1 + 5 + 1);
    assert_eq!(specialties[1], ["电费抄核收", "12", "41.4%", "3,000.00"]);
    assert_eq!(specialties[6], ["合计", "29", "100.0%", "5,300.25"]);

    // Stations best first, whatever order they came in.
    let stations = rows_text(table_with_header(doc, "排名"));
    let order: Vec<(&str, &str)> = stations[1..4].iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
    assert_eq!(order, [("1", "大畈供电所"), ("2", NASTY_STATION_SHOWN), ("3", "南林桥供电所")]);
    assert_eq!(stations[1][7], "95.25");

    let statuses = rows_text(table_with_header(doc, "整改状态"));
    assert_eq!(statuses[1], ["整改中", "3", "50.0%"]);
    assert_eq!(statuses.last().unwrap(), &["合计", "6", "100.0%"]);
}

#[test]
fn docx_charts_are_native_parts_wired_into_the_package() {
    let r = report();
    let parts = docx(&r);
    let doc = &parts["word/document.xml"];
    let types = &parts["[Content_Types].xml"];
    let rels = &parts["word/_rels/document.xml.rels"];
    let chart_refs: Vec<&str> = doc.all("c:chart").iter().map(|c| c.attr("r:id").unwrap()).collect();
    assert_eq!(chart_refs.len(), 2);
    for (i, rid) in chart_refs.iter().enumerate() {
        let part = format!("word/charts/chart{}.xml", i + 1);
        let rel = rels.all("Relationship").into_iter().find(|r| r.attr("Id") == Some(rid)).unwrap();
        assert_eq!(
            rel.attr("Type"),
            Some("http://schemas.openxmlformats.org/officeDocument/2006/relationships/chart")
        );
        assert_eq!(rel.attr("Target").map(|t| format!("word/{t}")), Some(part.clone()));
        let listed =
            types.all("Override").into_iter().find(|o| o.attr("PartName") == Some(&format!("/{part}")));
        assert_eq!(
            listed.and_then(|o| o.attr("ContentType")),
            Some("application/vnd.openxmlformats-officedocument.drawingml.chart+xml"),
            "{part} missing from [Content_Types].xml"
        );
        assert!(parts.contains_key(&part));
    }

    // Chart 1: problems per specialty, with Chinese titles and the figures cached.
    let chart = &parts["word/charts/chart1.xml"];
    let titles: Vec<String> = chart.all("c:title").iter().map(|t| t.all_text()).collect();
    assert_eq!(titles, ["各专业发现问题数", "专业", "问题数（个）"]);
    let cat: Vec<String> = chart.first("c:cat").unwrap().all("c:v").iter().map(|v| v.text.clone()).collect();
    let names: Vec<String> = r.by_specialty.iter().map(|l| l.name.clone()).collect();
    assert_eq!(cat, names);
    let val: Vec<f64> =
        chart.first("c:val").unwrap().all("c:v").iter().map(|v| v.text.parse().unwrap()).collect();
    assert_eq!(val, [12.0, 5.0, 9.0, 0.0, 3.0]);
    assert_eq!(chart.first("c:ptCount").unwrap().attr("val"), Some("1"));
    assert_eq!(chart.first("c:cat").unwrap().first("c:ptCount").unwrap().attr("val"), Some("5"));

    // Chart 2: stations in rank order, with a caption under each chart.
    let chart = &parts["word/charts/chart2.xml"];
    let val: Vec<f64> =
        chart.first("c:val").unwrap().all("c:v").iter().map(|v| v.text.parse().unwrap()).collect();
    assert_eq!(val, [12.0, 4.0, 7.0]);
    let captions: Vec<String> = paragraphs_of_style(doc, "Caption").iter().map(|p| p.word_text()).collect();
    assert!(captions.contains(&"图1　各专业发现问题数".to_string()), "{captions:?}");
    assert!(captions.contains(&"图2　各供电所发现问题数".to_string()), "{captions:?}");

    // The embedded workbook behind 「编辑数据」 holds the same figures.
    let chart_rels = &parts["word/charts/_rels/chart1.xml.rels"];
    let target = chart_rels.first("Relationship").unwrap().attr("Target").unwrap();
    assert_eq!(target, "../embeddings/Microsoft_Excel_Worksheet1.xlsx");
    let (_dir, path) = write_docx(&r);
    let raw = self::parts(&path);
    let embedded = raw["word/embeddings/Microsoft_Excel_Worksheet1.xlsx"].clone();
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(embedded)).unwrap();
    let range = wb.worksheet_range("Sheet1").unwrap();
    assert_eq!(range.get_value((1, 0)), Some(&Data::String("电费抄核收".into())));
    assert_eq!(range.get_value((1, 1)), Some(&Data::Float(12.0)));
}

#[test]
fn docx_of_an_empty_month_says_so() {
    let r = MonthlyReport {
        period: "2026-02".into(),
        company: "通山县供电公司".into(),
        ..MonthlyReport::default()
    };
    let parts = docx(&r);
    assert!(!parts.keys().any(|k| k.starts_with("word/charts/")));
    assert!(
        parts["[Content_Types].xml"]
            .all("Override")
            .iter()
            .all(|o| !o.attr("PartName").unwrap().contains("chart"))
    );
    let doc = &parts["word/document.xml"];
    assert_eq!(paragraphs_of_style(doc, "Heading1").len(), 7);
    assert!(doc.all("w:tbl").is_empty());
    let text = doc.word_text();
    assert!(text.contains("本月各专业未发现问题。") && text.contains("本月无问题。"), "{text}");
    assert!(text.contains("不计算整改按期率"), "{text}");
}

#[test]
fn docx_is_the_same_for_the_same_data() {
    let (_a, a) = write_docx(&report());
    let (_b, b) = write_docx(&report());
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
}

// ---------------------------------------------------------------------------------------------
// The Excel list

fn cell(range: &calamine::Range<Data>, row: u32, col: u32) -> Data {
    range.get_value((row, col)).cloned().unwrap_or(Data::Empty)
}

fn text(range: &calamine::Range<Data>, row: u32, col: u32) -> String {
    match cell(range, row, col) {
        Data::String(s) => s,
        Data::Empty => String::new(),
        other => panic!("({row}, {col}) is not text: {other:?}"),
    }
}

#[test]
fn xlsx_list_has_a_row_per_problem_and_no_formulas() {
    let r = report();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("清单.xlsx");
    write_problem_list_xlsx(&r, &path).unwrap();
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(wb.sheet_names(), [PROBLEM_SHEET, SUMMARY_SHEET]);
    assert_eq!(PROBLEM_SHEET, "整改措施汇总清单");
    let range = wb.worksheet_range(PROBLEM_SHEET).unwrap();
    assert_eq!(text(&range, 0, 0), "通山县供电公司2026年3月现场营销稽查发现问题及整改措施汇总清单");
    let header: Vec<String> = (0..11).map(|c| text(&range, 1, c)).collect();
    assert_eq!(
        header,
        [
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
            "涉及金额(元)"
        ]
    );
    assert_eq!(header, PROBLEM_HEADERS);
    assert_eq!(range.end().unwrap().0, 1 + r.problems.len() as u32, "one row per problem, nothing after");
    for (i, p) in r.problems.iter().enumerate() {
        let row = i as u32 + 2;
        assert_eq!(cell(&range, row, 0), Data::Float((i + 1) as f64));
        assert_eq!(text(&range, row, 1), p.station.replace(['\u{0}', '\u{1}'], ""));
        assert_eq!(text(&range, row, 4), p.problem.replace('\u{7}', ""));
        assert_eq!(text(&range, row, 9), p.status);
    }
    // What looks like a formula or a number stays the auditor's text.
    assert_eq!(cell(&range, 3, 4), Data::String("=1+1".into()));
    assert_eq!(cell(&range, 4, 4), Data::String("@SUM(A1)".into()));
    assert_eq!(cell(&range, 5, 4), Data::String("-2".into()));
    assert_eq!(cell(&range, 7, 4), Data::String("+86 计量箱未加封".into()));
    let formulas = wb.worksheet_formula(PROBLEM_SHEET).unwrap();
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "a cell became a formula");
    // Amounts are numbers; a missing amount is an empty cell.
    assert_eq!(cell(&range, 2, 10), Data::Float(1234.5));
    assert_eq!(cell(&range, 3, 10), Data::Empty);
    assert_eq!(text(&range, 2, 5), "0701234567 李四");
    assert_eq!(text(&range, 2, 8), "2026-04-15");
    assert_eq!(cell(&range, 5, 8), Data::Empty, "no deadline, no text");

    // 汇总: stations x statuses, with totals.
    let summary = wb.worksheet_range(SUMMARY_SHEET).unwrap();
    let statuses: Vec<String> = (1..5).map(|c| text(&summary, 1, c)).collect();
    assert_eq!(statuses, ["整改中", "已整改", "待整改", "合计"]);
    assert_eq!(text(&summary, 2, 0), "大畈供电所");
    let row: Vec<Data> = (1..5).map(|c| cell(&summary, 2, c)).collect();
    assert_eq!(row, [Data::Float(1.0), Data::Float(1.0), Data::Float(0.0), Data::Float(2.0)]);
    assert_eq!(text(&summary, 6, 0), "合计");
    assert_eq!(cell(&summary, 6, 4), Data::Float(6.0));
}

#[test]
fn xlsx_list_prints_on_a4_landscape_with_the_header_on_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("清单.xlsx");
    write_problem_list_xlsx(&report(), &path).unwrap();
    let raw = parts(&path);
    let sheet = parse("sheet1", &raw["xl/worksheets/sheet1.xml"]);
    let setup = sheet.first("pageSetup").unwrap();
    assert_eq!(setup.attr("paperSize"), Some("9"));
    assert_eq!(setup.attr("orientation"), Some("landscape"));
    assert_eq!(setup.attr("fitToWidth"), None, "1 is the default");
    assert_eq!(setup.attr("fitToHeight"), Some("0"));
    assert_eq!(sheet.first("pageSetUpPr").unwrap().attr("fitToPage"), Some("1"));
    let pane = sheet.first("pane").unwrap();
    assert_eq!((pane.attr("ySplit"), pane.attr("state")), (Some("2"), Some("frozen")));
    assert_eq!(sheet.first("mergeCell").unwrap().attr("ref"), Some("A1:K1"));
    let titles = print_titles(&raw);
    assert_eq!(titles, "整改措施汇总清单!$2:$2");
    // Wrapped text and borders on the body cells.
    let styles = parse("styles", &raw["xl/styles.xml"]);
    assert!(styles.all("alignment").iter().any(|a| a.attr("wrapText") == Some("1")));
    assert!(styles.all("left").iter().any(|b| b.attr("style") == Some("thin")));
}

// ---------------------------------------------------------------------------------------------
// The census forms

fn census_forms() -> Vec<CensusForm> {
    let row = |i: u32| CensusRow {
        check_id: format!("PC2026-{i:04}"),
        customer_id: format!("070100{i:04}"),
        name: format!("用户{i}"),
        address: "通山县大畈镇 <街>&巷".into(),
        category: "商业用电".into(),
        tq: "大畈1号台区".into(),
        meters: "3300012345".into(),
        contract_kva: if i == 1 { Some(50.0) } else { None },
        phone: "13800000000".into(),
    };
    vec![
        CensusForm {
            campaign: "2026年营业普查".into(),
            station_id: "S01".into(),
            station: "大畈/供电所".into(),
            kind: "census".into(),
            rows: (1..=3).map(row).collect(),
        },
        CensusForm {
            campaign: "2026年营业普查".into(),
            station_id: "S02".into(),
            station: "南林桥供电所".into(),
            kind: "audit".into(),
            rows: vec![row(9)],
        },
        CensusForm {
            campaign: "2026年营业普查".into(),
            station_id: "S02".into(),
            station: "南林桥供电所".into(),
            kind: "audit".into(),
            rows: vec![],
        },
    ]
}

#[test]
fn census_forms_are_one_workbook_per_station_that_reads_back_as_field_checks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("普查").join("三月");
    let forms = census_forms();
    let paths = write_census_forms(&forms, &out).unwrap();
    let names: Vec<String> =
        paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(
        names,
        [
            "S01-大畈_供电所-普查登记表.xlsx",
            "S02-南林桥供电所-普查登记表.xlsx",
            "S02-南林桥供电所-普查登记表-2.xlsx"
        ]
    );
    for p in &paths {
        assert_eq!(p.parent(), Some(out.as_path()));
        assert!(p.is_file());
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3, "no temporary file left behind");

    let mut wb: Xlsx<_> = open_workbook(&paths[0]).unwrap();
    assert_eq!(wb.sheet_names(), [CENSUS_SHEET, INSTRUCTIONS_SHEET]);
    let range = wb.worksheet_range(CENSUS_SHEET).unwrap();
    let header: Vec<String> = (0..18).map(|c| text(&range, 0, c)).collect();
    assert_eq!(
        header,
        [
            "检查编号",
            "户号",
            "检查日期",
            "检查人",
            "检查类型",
            "封印完好",
            "计量装置正常",
            "确认窃电",
            "追补电量",
            "追补电费",
            "检查情况",
            "户名",
            "用电地址",
            "用电类别",
            "台区",
            "电能表",
            "合同容量",
            "联系电话"
        ]
    );
    assert_eq!(header, CENSUS_HEADERS);
    assert_eq!(range.end().unwrap().0, 3);
    for (i, r) in forms[0].rows.iter().enumerate() {
        let row = i as u32 + 1;
        assert_eq!(cell(&range, row, 0), Data::String(r.check_id.clone()));
        // Leading zeros kept: the id is text, not a number.
        assert_eq!(cell(&range, row, 1), Data::String(r.customer_id.clone()));
        assert_eq!(cell(&range, row, 2), Data::Empty, "检查日期 left for the field worker");
        assert_eq!(cell(&range, row, 4), Data::String("census".into()));
        for c in 5..=10 {
            assert_eq!(cell(&range, row, c), Data::Empty);
        }
        assert_eq!(text(&range, row, 12), "通山县大畈镇 <街>&巷");
        assert_eq!(text(&range, row, 17), "13800000000");
    }
    assert_eq!(cell(&range, 1, 16), Data::Float(50.0));
    assert_eq!(cell(&range, 2, 16), Data::Empty);
    let instructions = wb.worksheet_range(INSTRUCTIONS_SHEET).unwrap();
    let all: String = instructions.used_cells().filter_map(|(_, _, d)| d.get_string()).collect();
    assert!(
        all.contains("2026-03-05")
            && all.contains("“是”或“否”")
            && all.contains("检查日期及其后各项一律留空")
    );

    let mut wb: Xlsx<_> = open_workbook(&paths[1]).unwrap();
    let range = wb.worksheet_range(CENSUS_SHEET).unwrap();
    assert_eq!(cell(&range, 1, 4), Data::String("audit".into()));
}

#[test]
fn census_form_matches_the_importers_field_checks_table() {
    use jicha_core::schema::FIELD_CHECKS;
    // The importer places the sheet by its name and the columns by their Chinese headers.
    assert_eq!(CENSUS_SHEET, FIELD_CHECKS.name_zh);
    let importer: Vec<&str> = FIELD_CHECKS.columns.iter().map(|c| c.name_zh).collect();
    assert_eq!(CENSUS_HEADERS[..importer.len()], importer[..]);
    // What the form offers or prefills, the importer accepts.
    assert_eq!(jicha_core::codes::parse_bool("是"), Some(true));
    assert_eq!(jicha_core::codes::parse_bool("否"), Some(false));
    assert!(jicha_core::calendar::parse_date("2026-03-05").is_some());
    let kind = FIELD_CHECKS.columns.iter().find(|c| c.name == "kind").unwrap();
    let jicha_core::schema::ColumnType::Code(codes) = kind.ty else { panic!("kind is a code") };
    for k in ["census", "audit", "routine", "spot"] {
        assert_eq!(codes.parse(k), Some(k));
    }
}

#[test]
fn census_form_guides_input_and_prints_on_a4_landscape() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_census_forms(&census_forms()[..1], dir.path()).unwrap();
    let raw = parts(&paths[0]);
    let sheet = parse("sheet1", &raw["xl/worksheets/sheet1.xml"]);
    let validations = sheet.all("dataValidation");
    let by_range = |r: &str| validations.iter().find(|v| v.attr("sqref") == Some(r)).copied();
    for col in ["F", "G", "H"] {
        let v = by_range(&format!("{col}2:{col}4")).unwrap_or_else(|| panic!("no list on {col}"));
        assert_eq!(v.attr("type"), Some("list"));
        assert_eq!(v.first("formula1").unwrap().text, "\"是,否\"");
    }
    let date = by_range("C2:C4").expect("date validation on 检查日期");
    assert_eq!(date.attr("type"), Some("date"));
    for col in ["I", "J"] {
        assert_eq!(by_range(&format!("{col}2:{col}4")).unwrap().attr("type"), Some("decimal"));
    }
    let setup = sheet.first("pageSetup").unwrap();
    assert_eq!((setup.attr("paperSize"), setup.attr("orientation")), (Some("9"), Some("landscape")));
    assert_eq!(setup.attr("fitToHeight"), Some("0"));
    let pane = sheet.first("pane").unwrap();
    assert_eq!((pane.attr("ySplit"), pane.attr("state")), (Some("1"), Some("frozen")));
    let titles = print_titles(&raw);
    assert_eq!(titles, "现场检查!$1:$1");
    // A typed date shows (and imports) as 2026-03-05: the blank date cells carry that format.
    let styles = parse("styles", &raw["xl/styles.xml"]);
    let date_format = styles.all("numFmt").into_iter().find(|f| f.attr("formatCode") == Some("yyyy-mm-dd"));
    let date_format_id = date_format.expect("a yyyy-mm-dd format").attr("numFmtId").unwrap().to_string();
    let c2 =
        sheet.all("c").into_iter().find(|c| c.attr("r") == Some("C2")).expect("C2 has a formatted blank");
    let xf: usize = c2.attr("s").unwrap().parse().unwrap();
    let cell_xfs = styles.first("cellXfs").unwrap();
    assert_eq!(cell_xfs.children[xf].attr("numFmtId"), Some(date_format_id.as_str()));
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn errors_name_the_file_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("没有这个文件夹").join("报告.docx");
    let err = write_monthly_docx(&report(), &missing).unwrap_err();
    assert!(matches!(err, ReportError::Write { .. }));
    let message = err.to_string();
    assert!(message.contains("无法写入文件") && message.contains("cannot write file"), "{message}");
    assert!(message.contains(&missing.display().to_string()), "{message}");

    // A folder where a file should go: the rename fails, the temporary file is removed.
    let taken = dir.path().join("清单.xlsx");
    std::fs::create_dir(&taken).unwrap();
    let err = write_problem_list_xlsx(&report(), &taken).unwrap_err();
    assert!(err.to_string().contains(&taken.display().to_string()), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 1, "{left:?}");

    // A file where the folder should go.
    let file = dir.path().join("普查");
    std::fs::write(&file, b"").unwrap();
    let err = write_census_forms(&census_forms(), &file).unwrap_err();
    assert!(matches!(err, ReportError::CreateDir { .. }));
    assert!(err.to_string().contains("无法创建文件夹"), "{err}");
}

/// The rows repeated on every printed page, as the workbook defines them.
fn print_titles(raw: &BTreeMap<String, Vec<u8>>) -> String {
    parse("workbook", &raw["xl/workbook.xml"])
        .all("definedName")
        .into_iter()
        .find(|d| d.attr("name") == Some("_xlnm.Print_Titles"))
        .unwrap()
        .text
        .clone()
}
