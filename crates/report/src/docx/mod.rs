//! 《现场营销稽查报告》: the monthly on-site audit report as a Word document (Office Open XML
//! written by hand), A4 portrait, with native Word charts.

mod chart;
mod parts;
mod xml;

use std::io::{Cursor, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use self::chart::{BarChart, EMU_PER_CM};
use self::xml::{Body, Cell, Row, RunStyle, Table, runs};
use crate::format::{self, DASH, count, percent, share, yuan, yuan_opt};
use crate::model::{CountLine, MonthlyReport, StationLine};
use crate::{ReportError, write};

/// The report's title: `通山县供电公司2026年3月现场营销稽查报告`.
pub fn report_title(r: &MonthlyReport) -> String {
    format!("{}{}现场营销稽查报告", format::clean(r.company.trim()), format::month_zh(&r.period))
}

/// Writes 《现场营销稽查报告》 for `r` to `path` (a `.docx`), replacing any file there.
pub fn write_monthly_docx(r: &MonthlyReport, path: &Path) -> Result<(), ReportError> {
    let bytes = build(r, path)?;
    write::write_atomically(path, &bytes)
}

fn build(r: &MonthlyReport, path: &Path) -> Result<Vec<u8>, ReportError> {
    let mut charts = Vec::new();
    let body = body(r, &mut charts);
    let zip_err = |source| ReportError::Docx { path: path.to_path_buf(), source };

    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    // A fixed timestamp: the same data gives the same bytes.
    let deflated = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default());
    let stored = deflated.compression_method(CompressionMethod::Stored);
    let mut put = |name: &str, bytes: &[u8], options: SimpleFileOptions| -> Result<(), ReportError> {
        zip.start_file(name, options).map_err(zip_err)?;
        zip.write_all(bytes).map_err(|source| ReportError::Write { path: path.to_path_buf(), source })
    };

    put("[Content_Types].xml", parts::content_types(charts.len()).as_bytes(), deflated)?;
    put("_rels/.rels", parts::package_rels().as_bytes(), deflated)?;
    let title = report_title(r);
    let creator = r.lead.clone().unwrap_or_else(|| r.company.clone());
    let created = format::ymd(&r.generated_on).map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}T00:00:00Z"));
    put("docProps/core.xml", parts::core(&title, &creator, created).as_bytes(), deflated)?;
    put("docProps/app.xml", parts::app(&r.company).as_bytes(), deflated)?;
    put("word/document.xml", body.as_bytes(), deflated)?;
    put("word/_rels/document.xml.rels", parts::document_rels(charts.len()).as_bytes(), deflated)?;
    put("word/styles.xml", parts::styles().as_bytes(), deflated)?;
    put("word/settings.xml", parts::settings().as_bytes(), deflated)?;
    put("word/fontTable.xml", parts::font_table().as_bytes(), deflated)?;
    put("word/footer1.xml", parts::footer().as_bytes(), deflated)?;
    for (i, c) in charts.iter().enumerate() {
        let n = i + 1;
        put(&format!("word/charts/chart{n}.xml"), c.xml("rId1").as_bytes(), deflated)?;
        put(&format!("word/charts/_rels/chart{n}.xml.rels"), parts::chart_rels(n).as_bytes(), deflated)?;
        let workbook =
            c.workbook().map_err(|source| ReportError::Xlsx { path: path.to_path_buf(), source })?;
        put(&format!("word/embeddings/{}", parts::chart_workbook_name(n)), &workbook, stored)?;
    }
    let cursor = zip.finish().map_err(zip_err)?;
    Ok(cursor.into_inner())
}

/// Width of the charts: the text width less a little air.
const CHART_WIDTH: u64 = 15 * EMU_PER_CM;

/// Adds `chart` to the body and to the parts to write.
fn add_chart(b: &mut Body, charts: &mut Vec<BarChart>, chart: BarChart) {
    let rid = parts::chart_rid(charts.len() + 1);
    b.chart(&rid, &chart.title, CHART_WIDTH, chart.height_emu());
    b.figure_caption(&chart.title);
    charts.push(chart);
}

/// `word/document.xml`.
fn body(r: &MonthlyReport, charts: &mut Vec<BarChart>) -> String {
    let mut b = Body::default();
    b.xml.push_str(parts::XML_DECL);
    b.xml.push_str(parts::DOCUMENT_OPEN);
    let month = format::month_zh(&r.period);

    b.paragraph("Title", None, &runs(&report_title(r), RunStyle::default()));
    let mut subtitle = Vec::new();
    if let Some(lead) = r.lead.as_deref().filter(|l| !l.trim().is_empty()) {
        subtitle.push(format!("月度责任人：{}", lead.trim()));
    }
    if !r.generated_on.trim().is_empty() {
        subtitle.push(format!("编制日期：{}", format::date_zh(&r.generated_on)));
    }
    if !subtitle.is_empty() {
        b.paragraph("Subtitle", None, &runs(&subtitle.join("　　"), RunStyle::default()));
    }

    overview(&mut b, r, &month);
    indicators(&mut b, r);
    specialties(&mut b, r, charts);
    stations(&mut b, r, charts);
    rectification(&mut b, r);
    problem_list(&mut b, r);
    next_steps(&mut b, r);

    b.paragraph("Closing", None, "");
    b.paragraph("Closing", None, &runs(r.company.trim(), RunStyle::default()));
    if !r.generated_on.trim().is_empty() {
        b.paragraph("Closing", None, &runs(&format::date_zh(&r.generated_on), RunStyle::default()));
    }
    b.xml.push_str(&parts::section());
    b.xml
}

/// 一、总体情况: the month in words.
fn overview(b: &mut Body, r: &MonthlyReport, month: &str) {
    let s = &r.summary;
    b.heading1("一、总体情况");
    let scope = if r.stations.is_empty() {
        String::from("各供电所")
    } else {
        format!("所辖{}个供电所", count(r.stations.len() as u64))
    };
    let specialties = r.by_specialty.iter().filter(|l| l.count > 0).count();
    let coverage = if specialties > 0 { format!("，覆盖{}个专业", specialties) } else { String::new() };
    b.text(&format!(
        "{month}，{}按照营销稽查常态化管理要求，依托营销稽查监控系统对电量、电价、电费、线损等营销数据开展主题稽查，\
         并组织各专业对{scope}开展现场营销稽查{coverage}。",
        r.company.trim()
    ));
    b.text(&format!(
        "主题稽查共发现疑似问题{}条，涉及金额{}元。经供电所逐户核查，确认问题{}条，排除误报{}条。",
        count(s.findings),
        yuan(s.amount_at_risk),
        count(s.confirmed),
        count(s.false_positive)
    ));
    let rate = match s.on_time_rate {
        Some(rate) => format!("，整改按期率{}", percent(rate)),
        None => String::from("（本月无到期工单，不计算整改按期率）"),
    };
    b.text(&format!(
        "本月派发稽查工单{}张，办结{}张，超期未办结{}张{rate}；通过稽查追补电费{}元。",
        count(s.orders_dispatched),
        count(s.orders_closed),
        count(s.orders_overdue),
        yuan(s.recovered_amount)
    ));
    let mut onsite = format!("现场营销稽查发现问题{}个。", count(s.onsite_problems));
    if !r.problems.is_empty() {
        onsite.push_str(&format!(
            "本月问题清单共{}条，详见第六部分及《现场营销稽查发现问题及整改措施汇总清单》。",
            count(r.problems.len() as u64)
        ));
    }
    b.text(&onsite);
}

/// 二、主要指标.
fn indicators(b: &mut Body, r: &MonthlyReport) {
    b.heading1("二、主要指标");
    if r.indicators.is_empty() {
        b.text("本月无指标数据。");
        return;
    }
    b.text("本月主要营销指标如下表（环比为与上月相比，同比为与去年同期相比；以百分数计的指标，其变化以百分点表示）。");
    b.table_caption("主要营销指标");
    let rows = r
        .indicators
        .iter()
        .map(|l| {
            let name = if l.unit.trim().is_empty() {
                l.name.clone()
            } else {
                format!("{}（{}）", l.name, l.unit.trim())
            };
            Row {
                cells: vec![
                    Cell::left(name),
                    Cell::right(format::value(l.value)),
                    Cell::right(format::value(l.previous)),
                    Cell::right(format::value(l.last_year)),
                    Cell::right(format::change(l.value, l.previous, &l.unit)),
                    Cell::right(format::change(l.value, l.last_year, &l.unit)),
                ],
                bold: false,
            }
        })
        .collect();
    b.table(&Table {
        widths: INDICATOR_WIDTHS.to_vec(),
        header: vec!["指标", "本月", "上月", "去年同期", "环比", "同比"],
        rows,
        size: 21,
    });
}

const INDICATOR_WIDTHS: [u32; 6] = [2470, 1300, 1300, 1300, 1350, 1350];
const SPECIALTY_WIDTHS: [u32; 4] = [3070, 1800, 1800, 2400];
const STATION_WIDTHS: [u32; 8] = [650, 1600, 1000, 1620, 1050, 1050, 1000, 1100];
const STATUS_WIDTHS: [u32; 3] = [4070, 2500, 2500];
/// 供电所 and 专业（来源） hold six characters on one line at 小五 (9 pt).
const PROBLEM_WIDTHS: [u32; 8] = [520, 1250, 1250, 2000, 1670, 680, 1000, 700];

/// The specialties with problems, most first (ties in the order given).
fn specialties_by_count(r: &MonthlyReport) -> Vec<&CountLine> {
    let mut v: Vec<&CountLine> = r.by_specialty.iter().filter(|l| l.count > 0).collect();
    v.sort_by_key(|l| std::cmp::Reverse(l.count));
    v
}

/// 三、发现问题分布: per specialty, table and chart.
fn specialties(b: &mut Body, r: &MonthlyReport, charts: &mut Vec<BarChart>) {
    b.heading1("三、发现问题分布");
    let total: u64 = r.by_specialty.iter().map(|l| l.count).sum();
    if r.by_specialty.is_empty() || total == 0 {
        b.text("本月各专业未发现问题。");
        return;
    }
    let total_amount: f64 = r.by_specialty.iter().map(|l| l.amount).sum();
    let ranked = specialties_by_count(r);
    let top: Vec<String> = ranked
        .iter()
        .take(3)
        .map(|l| format!("{}{}个（占{}）", l.name.trim(), count(l.count), share(l.count, total)))
        .collect();
    b.text(&format!(
        "本月共发现问题{}个，涉及金额{}元。从专业分布看，问题主要集中在{}。",
        count(total),
        yuan(total_amount),
        top.join("、")
    ));
    b.table_caption("发现问题专业分布");
    let mut rows: Vec<Row> = r
        .by_specialty
        .iter()
        .map(|l| Row {
            cells: vec![
                Cell::left(l.name.clone()),
                Cell::right(count(l.count)),
                Cell::right(share(l.count, total)),
                Cell::right(yuan(l.amount)),
            ],
            bold: false,
        })
        .collect();
    rows.push(Row {
        cells: vec![
            Cell::center("合计"),
            Cell::right(count(total)),
            Cell::right(share(total, total)),
            Cell::right(yuan(total_amount)),
        ],
        bold: true,
    });
    b.table(&Table {
        widths: SPECIALTY_WIDTHS.to_vec(),
        header: vec!["专业", "问题数（个）", "占比", "涉及金额（元）"],
        rows,
        size: 21,
    });
    add_chart(
        b,
        charts,
        BarChart {
            title: String::from("各专业发现问题数"),
            category_title: "专业",
            value_title: "问题数（个）",
            categories: r.by_specialty.iter().map(|l| l.name.clone()).collect(),
            values: r.by_specialty.iter().map(|l| l.count as f64).collect(),
        },
    );
}

/// The stations best first; unranked ones last, in the order given.
fn ranked_stations(r: &MonthlyReport) -> Vec<&StationLine> {
    let mut v: Vec<&StationLine> = r.stations.iter().collect();
    v.sort_by_key(|s| s.rank.unwrap_or(u32::MAX));
    v
}

/// 四、各供电所情况: ranked table and chart.
fn stations(b: &mut Body, r: &MonthlyReport, charts: &mut Vec<BarChart>) {
    b.heading1("四、各供电所情况");
    if r.stations.is_empty() {
        b.text("本月无供电所数据。");
        return;
    }
    let stations = ranked_stations(r);
    let mut words = Vec::new();
    let ranked: Vec<_> = stations.iter().filter(|s| s.rank.is_some()).collect();
    if let (Some(first), Some(last)) = (ranked.first(), ranked.last())
        && ranked.len() > 1
    {
        words.push(format!(
            "本月考核排名第一的是{}，排名末位的是{}",
            first.station.trim(),
            last.station.trim()
        ));
    }
    if let Some(most) = stations.iter().filter(|s| s.findings > 0).max_by_key(|s| s.findings) {
        words.push(format!("发现问题最多的是{}（{}个）", most.station.trim(), count(most.findings)));
    }
    let overdue: Vec<String> = stations
        .iter()
        .filter(|s| s.orders_overdue > 0)
        .map(|s| format!("{}{}张", s.station.trim(), count(s.orders_overdue)))
        .collect();
    if overdue.is_empty() {
        words.push(String::from("各供电所均无超期工单"));
    } else {
        words.push(format!("存在超期工单的有{}，需重点督办", overdue.join("、")));
    }
    b.text(&format!("{}。", words.join("；")));
    b.table_caption("各供电所稽查情况");
    let mut rows: Vec<Row> = stations
        .iter()
        .map(|s| Row {
            cells: vec![
                Cell::center(s.rank.map_or_else(|| DASH.to_string(), |r| r.to_string())),
                Cell::left(s.station.clone()),
                Cell::right(count(s.findings)),
                Cell::right(yuan(s.amount)),
                Cell::right(count(s.orders_open)),
                Cell::right(count(s.orders_overdue)),
                Cell::right(count(s.rectified)),
                Cell::right(yuan_opt(s.score)),
            ],
            bold: false,
        })
        .collect();
    let sum = |f: fn(&StationLine) -> u64| count(r.stations.iter().map(f).sum());
    rows.push(Row {
        cells: vec![
            Cell::center(""),
            Cell::center("合计"),
            Cell::right(sum(|s| s.findings)),
            Cell::right(yuan(r.stations.iter().map(|s| s.amount).sum())),
            Cell::right(sum(|s| s.orders_open)),
            Cell::right(sum(|s| s.orders_overdue)),
            Cell::right(sum(|s| s.rectified)),
            Cell::right(DASH),
        ],
        bold: true,
    });
    b.table(&Table {
        widths: STATION_WIDTHS.to_vec(),
        header: vec![
            "排名",
            "供电所",
            "发现问题",
            "涉及金额（元）",
            "未办结工单",
            "超期工单",
            "已整改",
            "考核得分",
        ],
        rows,
        size: 21,
    });
    add_chart(
        b,
        charts,
        BarChart {
            title: String::from("各供电所发现问题数"),
            category_title: "供电所",
            value_title: "问题数（个）",
            categories: stations.iter().map(|s| s.station.clone()).collect(),
            values: stations.iter().map(|s| s.findings as f64).collect(),
        },
    );
}

/// The problems per status, in the order the statuses first appear.
fn status_counts(r: &MonthlyReport) -> Vec<(String, u64)> {
    let mut counts: Vec<(String, u64)> = Vec::new();
    for p in &r.problems {
        let status = p.status.trim();
        let status = if status.is_empty() { DASH } else { status };
        match counts.iter_mut().find(|(s, _)| s == status) {
            Some((_, n)) => *n += 1,
            None => counts.push((status.to_string(), 1)),
        }
    }
    counts
}

/// 五、整改情况.
fn rectification(b: &mut Body, r: &MonthlyReport) {
    let s = &r.summary;
    b.heading1("五、整改情况");
    b.text(&format!(
        "稽查工单方面，本月派发{}张，办结{}张，超期{}张，追补电费{}元。",
        count(s.orders_dispatched),
        count(s.orders_closed),
        count(s.orders_overdue),
        yuan(s.recovered_amount)
    ));
    let counts = status_counts(r);
    if counts.is_empty() {
        b.text("本月问题清单为空，无需整改。");
        return;
    }
    let total = r.problems.len() as u64;
    let parts: Vec<String> =
        counts.iter().map(|(status, n)| format!("{status}{}条（{}）", count(*n), share(*n, total))).collect();
    b.text(&format!("问题清单共{}条，其中{}。", count(total), parts.join("、")));
    b.table_caption("问题整改状态");
    let mut rows: Vec<Row> = counts
        .iter()
        .map(|(status, n)| Row {
            cells: vec![Cell::left(status.clone()), Cell::right(count(*n)), Cell::right(share(*n, total))],
            bold: false,
        })
        .collect();
    rows.push(Row {
        cells: vec![Cell::center("合计"), Cell::right(count(total)), Cell::right(share(total, total))],
        bold: true,
    });
    b.table(&Table {
        widths: STATUS_WIDTHS.to_vec(),
        header: vec!["整改状态", "问题数（条）", "占比"],
        rows,
        size: 21,
    });
}

/// 六、问题清单: one row per problem; the header repeats on every page.
fn problem_list(b: &mut Body, r: &MonthlyReport) {
    b.heading1("六、问题清单");
    if r.problems.is_empty() {
        b.text("本月无问题。");
        return;
    }
    b.text("本月发现问题及整改措施如下表，电子版见《现场营销稽查发现问题及整改措施汇总清单》。");
    b.table_caption("发现问题及整改措施清单");
    let rows = r
        .problems
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut problem = p.problem.trim().to_string();
            if let Some(c) = p.customer.as_deref().filter(|c| !c.trim().is_empty()) {
                problem.push_str(&format!("\n涉及用户：{}", c.trim()));
            }
            if let Some(a) = p.amount {
                problem.push_str(&format!("\n涉及金额：{}元", yuan(a)));
            }
            // The source under the specialty: a column of its own would squeeze the station.
            let specialty = match p.source.trim() {
                "" => p.specialty.clone(),
                source => format!("{}\n（{source}）", p.specialty.trim()),
            };
            Row {
                cells: vec![
                    Cell::center((i + 1).to_string()),
                    Cell::left(p.station.clone()),
                    Cell::left(specialty),
                    Cell::left(problem),
                    Cell::left(p.measure.clone()),
                    Cell::center(p.responsible.clone()),
                    Cell::center(p.deadline.clone().unwrap_or_else(|| DASH.to_string())),
                    Cell::center(p.status.clone()),
                ],
                bold: false,
            }
        })
        .collect();
    b.table(&Table {
        widths: PROBLEM_WIDTHS.to_vec(),
        header: vec![
            "序号",
            "供电所",
            "专业（来源）",
            "发现问题",
            "整改措施",
            "责任人",
            "整改期限",
            "整改状态",
        ],
        rows,
        size: 18,
    });
}

/// 七、下一步工作: the standard measures, with this month's open and overdue counts.
fn next_steps(b: &mut Body, r: &MonthlyReport) {
    let s = &r.summary;
    // Orders still open: the stations' own count when there are stations, else what the month's
    // dispatch and closure leave.
    let open: u64 = if r.stations.is_empty() {
        s.orders_dispatched.saturating_sub(s.orders_closed)
    } else {
        r.stations.iter().map(|l| l.orders_open).sum()
    };
    b.heading1("七、下一步工作");
    b.heading2("（一）抓好问题整改闭环");
    let overdue = if s.orders_overdue > 0 {
        format!("（其中超期{}张）", count(s.orders_overdue))
    } else {
        String::from("（目前无超期工单）")
    };
    b.text(&format!(
        "对尚未办结的{}张稽查工单{overdue}和问题清单中尚未完成整改的问题逐项跟踪督办，责任供电所须按整改措施在整改期限内完成整改，\
         及时反馈整改情况并上传佐证材料；超期工单按考核办法考核并升级督办。",
        count(open)
    ));
    b.heading2("（二）开展整改复查");
    b.text("对已办结归档的稽查工单按比例开展抽查、暗访，核实整改是否到位，防止问题反弹。");
    b.heading2("（三）突出重点专业");
    let ranked = specialties_by_count(r);
    let focus: Vec<&str> = ranked.iter().take(2).map(|l| l.name.trim()).collect();
    if focus.is_empty() {
        b.text("结合营销指标变化，下月组织各专业开展专项稽查，从源头上堵塞管理漏洞。");
    } else {
        b.text(&format!(
            "针对本月问题较为集中的{}专业，下月组织开展专项稽查，从源头上堵塞管理漏洞。",
            focus.join("、")
        ));
    }
    b.heading2("（四）强化考核结果运用");
    let stations = ranked_stations(r);
    let last = stations.iter().rev().find(|s| s.rank.is_some()).filter(|_| stations.len() > 1);
    match last {
        Some(last) => b.text(&format!(
            "将本月稽查结果纳入供电所及相关人员月度绩效考核，对排名末位的{}进行约谈督导。",
            last.station.trim()
        )),
        None => b.text("将本月稽查结果纳入供电所及相关人员月度绩效考核，落实营销责任追究机制。"),
    }
}

#[cfg(test)]
mod tests {
    use super::parts::TEXT_WIDTH;
    use super::*;

    #[test]
    fn tables_fit_between_the_margins() {
        for widths in [
            &INDICATOR_WIDTHS[..],
            &SPECIALTY_WIDTHS[..],
            &STATION_WIDTHS[..],
            &STATUS_WIDTHS[..],
            &PROBLEM_WIDTHS[..],
        ] {
            assert!(widths.iter().sum::<u32>() <= TEXT_WIDTH, "{widths:?} wider than {TEXT_WIDTH}");
        }
        assert!(CHART_WIDTH <= u64::from(TEXT_WIDTH) * 635);
    }

    #[test]
    fn title_reads_as_in_the_article() {
        let r = MonthlyReport {
            period: "2026-03".into(),
            company: "通山县供电公司".into(),
            ..MonthlyReport::default()
        };
        assert_eq!(report_title(&r), "通山县供电公司2026年3月现场营销稽查报告");
    }
}
