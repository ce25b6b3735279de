//! The two monthly documents of the on-site audit (《现场营销稽查报告》 .docx and
//! 《现场营销稽查发现问题及整改措施汇总清单》 .xlsx), assembled from the month's findings, the
//! closed loop's orders and on-site problems, and the indicators, then rendered by
//! `jicha-report`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jicha_core::calendar::Period;
use jicha_engine::audit::Catalogue;
use jicha_engine::indicators::{Options, Span, compute};
use jicha_flow::Flow;
use jicha_flow::orders::State;
use jicha_report::{CountLine, IndicatorLine, MonthlyReport, Problem, StationLine, Summary};
use jicha_store::DataDir;
use rusqlite::params;

/// The indicators the report shows, in its order.
const REPORT_INDICATORS: &[&str] = &[
    "supply_kwh",
    "sales_kwh",
    "loss_rate",
    "avg_price",
    "recovery_rate",
    "collection_rate",
    "reliability",
    "audit_on_time",
    "recovered_amount",
];

fn state_zh(code: &str) -> String {
    State::parse(code).map_or_else(|| code.to_string(), |s| s.name_zh().to_string())
}

/// Assembles the month's report.
pub fn assemble(root: &Path, catalogue: &Catalogue, period: Period) -> anyhow::Result<MonthlyReport> {
    let dir = DataDir::new(root);
    let p = period.to_string();
    let findings = jicha_store::findings::load(&dir, &p)?;
    let mut session = jicha_engine::Session::open(&dir)?;
    let flow = Flow::new(root);
    let system = jicha_flow::Actor::system();
    let orders = crate::indicators::order_source(&flow, &system);
    let ind = compute(&mut session, Span::Month(period), None, &Options::from_catalogue(catalogue), &orders);
    let _ = std::thread::spawn(move || drop(session)).join();
    let ind = ind?;
    let name = |s: &str| ind.station_names.get(s).cloned().unwrap_or_else(|| s.to_string());
    let specialty = |theme: &str| match catalogue.get(theme) {
        Some(t) => t.specialty().name_zh().to_string(),
        None if theme == crate::census::CENSUS_THEME => {
            jicha_engine::Specialty::Inspection.name_zh().to_string()
        }
        None => "其他".to_string(),
    };
    let theme_zh = |theme: &str| match catalogue.get(theme) {
        Some(t) => t.name_zh().to_string(),
        None if theme == crate::census::CENSUS_THEME => "普查与专项稽查发现".to_string(),
        None => theme.to_string(),
    };

    // The rectification on-time rate is the indicator's (稽查整改按期率), one definition.
    let rows = ind.rows();
    let on_time_rate = rows
        .iter()
        .find(|r| r.station_id.is_empty() && r.code == "audit_on_time")
        .and_then(|r| r.value)
        .map(|v| v.value);
    let mut summary = Summary {
        on_time_rate,
        findings: findings.len() as u64,
        amount_at_risk: findings.iter().filter_map(|f| f.amount_at_risk).sum(),
        ..Summary::default()
    };
    let mut by_specialty: BTreeMap<String, CountLine> = BTreeMap::new();
    let mut stations: BTreeMap<String, StationLine> = BTreeMap::new();
    for f in &findings {
        let sp = specialty(&f.theme);
        let e =
            by_specialty.entry(sp.clone()).or_insert_with(|| CountLine { name: sp, ..CountLine::default() });
        e.count += 1;
        e.amount += f.amount_at_risk.unwrap_or(0.0);
        let st = f.station_id.clone().unwrap_or_default();
        let s = stations
            .entry(st.clone())
            .or_insert_with(|| StationLine { station: name(&st), ..StationLine::default() });
        s.findings += 1;
        s.amount += f.amount_at_risk.unwrap_or(0.0);
    }

    let mut problems = Vec::new();
    let mut lead = None;
    if flow.database().exists() {
        let conn = flow.connect()?;
        let today = crate::schedule::today().to_string();
        // Orders holding the month's findings or its on-site problems.
        let mut stmt = conn.prepare(
            "SELECT station_id, state, deadline FROM orders
             WHERE order_id IN (SELECT order_id FROM order_items WHERE period = ?1)
                OR order_id IN (SELECT order_id FROM onsite_problems WHERE month = ?1)",
        )?;
        let rows = stmt.query_map([&p], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })?;
        for row in rows {
            let (st, state, deadline) = row?;
            let s = stations
                .entry(st.clone())
                .or_insert_with(|| StationLine { station: name(&st), ..StationLine::default() });
            summary.orders_dispatched += 1;
            let closed = matches!(state.as_str(), "accepted" | "archived");
            let with_station = matches!(state.as_str(), "dispatched" | "verifying" | "rectifying");
            if closed {
                summary.orders_closed += 1;
                s.rectified += 1;
            } else {
                s.orders_open += 1;
            }
            if with_station && deadline < today {
                summary.orders_overdue += 1;
                s.orders_overdue += 1;
            }
        }
        let mut stmt = conn.prepare(
            "SELECT o.station_id, i.theme, i.entity_type, i.entity_id, i.result, i.cause, i.recovered,
                    i.amount_at_risk, o.deadline, o.state, o.number
             FROM order_items i JOIN orders o ON o.order_id = i.order_id WHERE i.period = ?1
             ORDER BY o.station_id, o.number, i.theme, i.entity_id",
        )?;
        let rows = stmt.query_map(params![p], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<f64>>(6)?,
                r.get::<_, Option<f64>>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, String>(9)?,
                r.get::<_, String>(10)?,
            ))
        })?;
        for row in rows {
            let (st, theme, etype, eid, result, cause, recovered, amount, deadline, state, number) = row?;
            match result.as_deref() {
                Some("confirmed") => summary.confirmed += 1,
                Some("false_positive") => summary.false_positive += 1,
                _ => {}
            }
            summary.recovered_amount += recovered.unwrap_or(0.0);
            problems.push(Problem {
                station: name(&st),
                specialty: specialty(&theme),
                source: "主题稽查".into(),
                problem: format!("{}（{}）", theme_zh(&theme), eid),
                customer: (etype == "customer").then(|| eid.clone()),
                measure: cause.unwrap_or_else(|| format!("按稽查工单 {number} 逐户核查整改")),
                responsible: format!("{}所长", name(&st)),
                deadline: Some(deadline),
                status: state_zh(&state),
                amount,
            });
        }
        let mut stmt = conn.prepare(
            "SELECT p.station_id, p.specialty, p.entity_type, p.entity_id, p.description, p.measure, p.responsible,
                    o.deadline, o.state
             FROM onsite_problems p JOIN orders o ON o.order_id = p.order_id WHERE p.month = ?1
             ORDER BY p.station_id, p.problem_id",
        )?;
        let rows = stmt.query_map([&p], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
            ))
        })?;
        for row in rows {
            let (st, sp, etype, eid, description, measure, responsible, deadline, state) = row?;
            summary.onsite_problems += 1;
            let sp_zh = jicha_engine::Specialty::ALL
                .iter()
                .find(|s| s.code() == sp)
                .map_or(sp.clone(), |s| s.name_zh().to_string());
            problems.push(Problem {
                station: name(&st),
                specialty: sp_zh,
                source: "现场稽查".into(),
                problem: description,
                customer: (etype == "customer").then_some(eid),
                measure,
                responsible,
                deadline: Some(deadline),
                status: state_zh(&state),
                amount: None,
            });
        }
        lead = jicha_flow::onsite::lead_of(&conn, &p)?.map(|u| u.display_name);
    }

    // Ranked by money at risk per finding found (less is better), then by overdue orders.
    let mut stations: Vec<StationLine> = stations.into_values().filter(|s| !s.station.is_empty()).collect();
    stations.sort_by(|a, b| a.amount.total_cmp(&b.amount).then(a.orders_overdue.cmp(&b.orders_overdue)));
    for (i, s) in stations.iter_mut().enumerate() {
        s.rank = Some(i as u32 + 1);
    }
    let indicators = REPORT_INDICATORS
        .iter()
        .filter_map(|code| rows.iter().find(|r| r.station_id.is_empty() && r.code == *code))
        .map(|r| {
            let pct = r.unit == "%";
            let v = |x: Option<jicha_engine::indicators::Value>| {
                x.map(|x| if pct { x.value * 100.0 } else { x.value })
            };
            IndicatorLine {
                name: r.name.to_string(),
                unit: r.unit.to_string(),
                value: v(r.value),
                previous: v(r.previous),
                last_year: v(r.last_year),
            }
        })
        .collect();
    let company = {
        let conn = jicha_store::relational::open_read_only(&dir.database())?;
        conn.query_row("SELECT MAX(company) FROM stations", [], |r| r.get::<_, Option<String>>(0))
            .ok()
            .flatten()
            .unwrap_or_else(|| "供电公司".into())
    };
    let mut by_specialty: Vec<CountLine> = by_specialty.into_values().collect();
    by_specialty.sort_by_key(|c| std::cmp::Reverse(c.count));
    Ok(MonthlyReport {
        period: p,
        company,
        generated_on: crate::schedule::today().to_string(),
        lead,
        summary,
        indicators,
        by_specialty,
        stations,
        problems,
    })
}

/// Writes both documents into `out` and returns their paths.
pub fn write(
    root: &Path,
    catalogue: &Catalogue,
    period: Period,
    out: &Path,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let r = assemble(root, catalogue, period)?;
    std::fs::create_dir_all(out)?;
    let docx = out.join(format!("{}.docx", jicha_report::report_title(&r)));
    let xlsx = out.join(format!("{}.xlsx", jicha_report::problem_list_title(&r)));
    jicha_report::write_monthly_docx(&r, &docx)?;
    jicha_report::write_problem_list_xlsx(&r, &xlsx)?;
    Ok((docx, xlsx))
}
