//! Hand-made data sets: CSV folders imported into a temporary data dir, and a one-theme audit.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{Days, NaiveDate};
use jicha_core::calendar::Period;
use jicha_engine::audit::{Catalogue, Outcome, run};
use jicha_engine::{Finding, Session, Window};
use jicha_ingest::pipeline::NoProgress;
use jicha_ingest::{ImportOutcome, import};
use jicha_store::DataDir;

/// A data set written as CSV files, one per table.
#[derive(Default)]
pub struct DataSet {
    /// Further tables: file name, header, rows.
    pub extra: Vec<(&'static str, &'static str, Vec<String>)>,
    /// Further tariff rows (tariff_code,name,category,price,step_basis,step1_kwh,step2_kwh,step2_price,step3_price,basic_per_kva,valid_from,valid_to).
    pub tariffs: Vec<String>,
    pub customers: Vec<String>,
    pub meters: Vec<String>,
    pub readings: Vec<String>,
    pub usage: Vec<String>,
    pub supply: Vec<String>,
    pub areas: Vec<String>,
}

pub fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// Every day from `from` through `to`.
pub fn days(from: &str, to: &str) -> Vec<NaiveDate> {
    let (mut d, end) = (day(from), day(to));
    let mut out = Vec::new();
    while d <= end {
        out.push(d);
        d = d.checked_add_days(Days::new(1)).unwrap();
    }
    out
}

impl DataSet {
    /// A customer: id, status, opened_on, closed_on, contract_kva, tq_id.
    pub fn customer(
        &mut self,
        id: &str,
        status: &str,
        opened: &str,
        closed: &str,
        kva: &str,
        tq: &str,
    ) -> &mut Self {
        self.customers.push(format!(
            "{id},户{id},地址,resident,R1,220V,{kva},S01,F01,{tq},{status},{opened},{closed},13800000000,,"
        ));
        self
    }

    /// A customer row as written: id,name,address,category,tariff_code,voltage,contract_kva,
    /// station_id,feeder_id,tq_id,status,opened_on,closed_on,phone,temporary,temp_expires_on.
    pub fn customer_raw(&mut self, line: &str) -> &mut Self {
        self.customers.push(line.to_string());
        self
    }

    /// An active customer of a category, tariff, voltage, contract capacity and station.
    pub fn customer_as(
        &mut self,
        id: &str,
        category: &str,
        tariff: &str,
        voltage: &str,
        kva: &str,
        station: &str,
    ) -> &mut Self {
        self.customers.push(format!(
            "{id},户{id},地址,{category},{tariff},{voltage},{kva},{station},F01,,active,2020-01-01,,13800000000,,"
        ));
        self
    }

    /// Daily usage of a customer: `kwh(d)` or unknown when `None`.
    pub fn usage(
        &mut self,
        id: &str,
        from: &str,
        to: &str,
        kwh: impl Fn(NaiveDate) -> Option<f64>,
    ) -> &mut Self {
        for d in days(from, to) {
            let v = kwh(d).map_or(String::new(), |k| format!("{k:.2}"));
            self.usage.push(format!("{id},{d},{v}"));
        }
        self
    }

    pub fn write(&self, folder: &Path) {
        std::fs::create_dir_all(folder).unwrap();
        let put = |name: &str, header: &str, rows: &[String]| {
            let mut s = format!("{header}\n");
            for r in rows {
                writeln!(s, "{r}").unwrap();
            }
            std::fs::write(folder.join(name), s).unwrap();
        };
        put(
            "stations.csv",
            "station_id,name",
            &["S01,横沟桥供电所".to_string(), "S02,桂花供电所".to_string()],
        );
        put(
            "feeders.csv",
            "feeder_id,name,station_id",
            &["F01,10kV 桂花线,S01", "F02,10kV 横沟线,S02", "F03,10kV 马桥线,S01"].map(String::from),
        );
        // An area is "T1" (on F01 of S01) or "T1,F02,S02".
        let areas: Vec<String> = self
            .areas
            .iter()
            .map(|a| match a.split_once(',') {
                Some((id, rest)) => format!("{id},台区{id},{rest}"),
                None => format!("{a},台区{a},F01,S01"),
            })
            .collect();
        put("transformer_areas.csv", "tq_id,name,feeder_id,station_id", &areas);
        let mut tariffs = vec!["R1,居民生活电价,resident,0.5,,,,,,,2020-01-01,".to_string()];
        tariffs.extend(self.tariffs.iter().cloned());
        put(
            "tariffs.csv",
            "tariff_code,name,category,price,step_basis,step1_kwh,step2_kwh,step2_price,step3_price,basic_per_kva,valid_from,valid_to",
            &tariffs,
        );
        for (file, header, rows) in &self.extra {
            put(file, header, rows);
        }
        put(
            "customers.csv",
            "customer_id,name,address,category,tariff_code,voltage,contract_kva,station_id,feeder_id,tq_id,status,opened_on,closed_on,phone,temporary,temp_expires_on",
            &self.customers,
        );
        if !self.meters.is_empty() {
            put(
                "meters.csv",
                "meter_id,customer_id,multiplier,ct_ratio,pt_ratio,installed_on,removed_on,verified_on,seal_ids",
                &self.meters,
            );
        }
        if !self.readings.is_empty() {
            put("readings.csv", "meter_id,date,total,peak,flat,valley", &self.readings);
        }
        if !self.usage.is_empty() {
            put("daily_usage.csv", "customer_id,date,kwh", &self.usage);
        }
        if !self.supply.is_empty() {
            put("supply.csv", "point_type,point_id,date,kwh", &self.supply);
        }
    }

    /// Imports into a fresh data dir under `tmp`.
    pub fn import(&self, tmp: &Path) -> DataDir {
        let folder = tmp.join("set");
        self.write(&folder);
        let dir = DataDir::new(tmp.join("data"));
        match import(&dir, &folder, &NoProgress).expect("import runs") {
            ImportOutcome::Committed { .. } => dir,
            ImportOutcome::Rejected { rejection, .. } => {
                panic!(
                    "rejected: {:#?}",
                    rejection.problems.iter().map(ToString::to_string).collect::<Vec<_>>()
                )
            }
        }
    }
}

/// Runs one theme over March 2026 and returns its findings.
pub fn audit(dir: &DataDir, theme: &str) -> Vec<Finding> {
    let mut session = Session::open(dir).unwrap();
    let themes = Catalogue::builtin().select(&[theme.to_string()], false).unwrap();
    let result = run(
        &mut session,
        Window::new(Period::parse("2026-03").unwrap(), None),
        &Catalogue::builtin(),
        &themes,
    )
    .unwrap();
    match &result.themes[0].outcome {
        Outcome::Ran { .. } => {}
        Outcome::NotRun(r) | Outcome::Failed(r) => panic!("{theme} not run: {r}"),
    }
    result.findings
}

/// Runs several themes in one audit of 2026-03 (side by side, as `jicha audit` does); panics
/// when one is not run.
pub fn audit_all(dir: &DataDir, codes: &[&str]) -> Vec<Finding> {
    let mut session = Session::open(dir).unwrap();
    let codes: Vec<String> = codes.iter().map(|c| (*c).to_string()).collect();
    let themes = Catalogue::builtin().select(&codes, false).unwrap();
    let window = Window::new(Period::parse("2026-03").unwrap(), None);
    let result = run(&mut session, window, &Catalogue::builtin(), &themes).unwrap();
    for t in &result.themes {
        if let Outcome::NotRun(r) | Outcome::Failed(r) = &t.outcome {
            panic!("{} not run: {r}", t.code);
        }
    }
    result.findings
}

pub fn ids(findings: &[Finding]) -> BTreeSet<String> {
    findings.iter().map(|f| f.entity_id.clone()).collect()
}

pub fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_string()).collect()
}

/// Runs one theme with a catalogue over a window and returns its findings (panics when not run).
pub fn audit_with(dir: &DataDir, cat: &Catalogue, theme: &str, window: Window) -> Vec<Finding> {
    let mut session = Session::open(dir).unwrap();
    let daily = window.day.is_some();
    let themes = cat.select(&[theme.to_string()], daily).unwrap();
    let result = run(&mut session, window, cat, &themes).unwrap();
    match &result.themes[0].outcome {
        Outcome::Ran { .. } => {}
        Outcome::NotRun(r) | Outcome::Failed(r) => panic!("{theme} not run: {r}"),
    }
    result.findings
}

/// Runs one daily theme over `date`.
pub fn audit_day(dir: &DataDir, theme: &str, date: &str) -> Vec<Finding> {
    audit_with(dir, &Catalogue::builtin(), theme, Window::daily(day(date)))
}
