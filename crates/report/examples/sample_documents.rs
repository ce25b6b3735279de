//! Writes the three documents for a made-up month of a county company, to open in Word, WPS or
//! Excel: `cargo run -p jicha-report --example sample_documents -- /tmp/jicha-samples`.

use std::path::PathBuf;

use jicha_report::{
    CensusForm, CensusRow, CountLine, IndicatorLine, MonthlyReport, Problem, StationLine, Summary,
    write_census_forms, write_monthly_docx, write_problem_list_xlsx,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "jicha-samples".into()));
    std::fs::create_dir_all(&dir)?;
    let r = sample();
    let docx = dir.join(format!("{}.docx", jicha_report::report_title(&r)));
    write_monthly_docx(&r, &docx)?;
    let xlsx = dir.join(format!("{}.xlsx", jicha_report::problem_list_title(&r)));
    write_problem_list_xlsx(&r, &xlsx)?;
    let forms = write_census_forms(&census(), &dir.join("普查登记表"))?;
    for p in [docx, xlsx].iter().chain(&forms) {
        println!("{}", p.display());
    }
    Ok(())
}

const STATIONS: [&str; 12] = [
    "通羊供电所",
    "南林桥供电所",
    "大畈供电所",
    "横石潭供电所",
    "闯王供电所",
    "九宫山供电所",
    "厦铺供电所",
    "洪港供电所",
    "黄沙铺供电所",
    "杨芳林供电所",
    "燕厦供电所",
    "慈口供电所",
];

const SPECIALTIES: [&str; 9] = [
    "优质服务",
    "用电检查",
    "电费电价",
    "营业窗口",
    "农电业务",
    "计量与用电信息采集",
    "市场与客户服务",
    "业扩报装",
    "线损管理",
];

fn sample() -> MonthlyReport {
    let counts = [3u64, 7, 12, 2, 4, 9, 1, 6, 5];
    let by_specialty = SPECIALTIES
        .iter()
        .zip(counts)
        .map(|(name, count)| CountLine { name: name.to_string(), count, amount: count as f64 * 812.37 })
        .collect();
    let stations = STATIONS
        .iter()
        .enumerate()
        .map(|(i, s)| StationLine {
            station: s.to_string(),
            findings: (i as u64 * 7) % 11 + 1,
            amount: (i as f64 + 1.0) * 1523.4,
            orders_open: (i as u64 * 3) % 5,
            orders_overdue: u64::from(i % 4 == 1),
            rectified: (i as u64 * 5) % 9,
            score: Some(98.5 - i as f64 * 1.75),
            rank: Some(i as u32 + 1),
        })
        .collect();
    let measures = [
        (
            "电费电价",
            "主题稽查",
            "居民生活电价用户实际经营农家乐，执行电价与用电性质不符",
            "按商业电价改类，追补差价电费",
        ),
        (
            "计量与用电信息采集",
            "现场稽查",
            "计量箱封印缺失，表尾接线盒未加封",
            "重新加封并登记封印台账，复查同台区计量箱",
        ),
        ("用电检查", "现场稽查", "临时用电超期未拆表，仍在计费", "督促用户办理销户或转正式用电"),
        ("业扩报装", "主题稽查", "低压非居民新装超时限接电 12 天", "查明超时原因，按业扩时限考核责任人"),
        ("线损管理", "主题稽查", "台区线损率连续 3 日超过 10%", "组织现场排查窃电和户变关系错误"),
        ("营业窗口", "现场稽查", "营业厅未公示最新电价表", "更新公示内容"),
    ];
    let problems = (0..18)
        .map(|i| {
            let (specialty, source, problem, measure) = measures[i % measures.len()];
            Problem {
                station: STATIONS[i % STATIONS.len()].to_string(),
                specialty: specialty.to_string(),
                source: source.to_string(),
                problem: problem.to_string(),
                customer: (i % 3 != 2).then(|| format!("07010{:05} 用户{}", i * 37, i + 1)),
                measure: measure.to_string(),
                responsible: ["张明", "李华", "王强"][i % 3].to_string(),
                deadline: Some(format!("2026-04-{:02}", 10 + i % 15)),
                status: ["整改中", "已整改", "待整改", "已验收"][i % 4].to_string(),
                amount: (i % 2 == 0).then_some(i as f64 * 356.8),
            }
        })
        .collect();
    MonthlyReport {
        period: "2026-03".into(),
        company: "通山县供电公司".into(),
        generated_on: "2026-04-01".into(),
        lead: Some("陈晓".into()),
        summary: Summary {
            findings: 1523,
            amount_at_risk: 386_421.57,
            orders_dispatched: 64,
            orders_closed: 51,
            orders_overdue: 3,
            on_time_rate: Some(0.9412),
            recovered_amount: 48_215.3,
            onsite_problems: 18,
            confirmed: 1187,
            false_positive: 336,
        },
        indicators: vec![
            IndicatorLine {
                name: "售电量".into(),
                unit: "万千瓦时".into(),
                value: Some(5321.4),
                previous: Some(5876.2),
                last_year: Some(4987.5),
            },
            IndicatorLine {
                name: "综合线损率".into(),
                unit: "%".into(),
                value: Some(4.21),
                previous: Some(4.56),
                last_year: Some(5.02),
            },
            IndicatorLine {
                name: "电费回收率".into(),
                unit: "%".into(),
                value: Some(99.87),
                previous: Some(100.0),
                last_year: Some(99.95),
            },
            IndicatorLine {
                name: "售电均价".into(),
                unit: "元/千千瓦时".into(),
                value: Some(612.35),
                previous: Some(608.9),
                last_year: None,
            },
            IndicatorLine {
                name: "追补电费".into(),
                unit: "元".into(),
                value: Some(48_215.3),
                previous: Some(31_002.0),
                last_year: Some(0.0),
            },
        ],
        by_specialty,
        stations,
        problems,
    }
}

fn census() -> Vec<CensusForm> {
    STATIONS[..3]
        .iter()
        .enumerate()
        .map(|(s, station)| {
            let town: String = station.chars().take(2).collect();
            CensusForm {
                campaign: "2026年营业普查".into(),
                station_id: format!("4212240{s:02}"),
                station: station.to_string(),
                kind: "census".into(),
                rows: (0..40)
                    .map(|i| CensusRow {
                        check_id: format!("PC2026-{s}{i:04}"),
                        customer_id: format!("070{s}{i:06}"),
                        name: format!("通山县某某商店{i}"),
                        address: format!("通山县{}镇中心街{}号", town, i + 1),
                        category: ["商业用电", "农业生产用电", "非居民照明"][i % 3].into(),
                        tq: format!("{}{}号台区", town, i % 4 + 1),
                        meters: format!("33000{i:05}"),
                        contract_kva: Some([10.0, 20.0, 50.0][i % 3]),
                        phone: format!("1380715{i:04}"),
                    })
                    .collect(),
            }
        })
        .collect()
}
