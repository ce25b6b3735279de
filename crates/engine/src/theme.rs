//! What an audit theme (稽查主题) is: a named, parameterised check over the stored data.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use jicha_core::calendar::{Period, to_epoch_days};

use crate::error::EngineResult;
use crate::finding::{EntityType, Finding, Severity};
use crate::session::Session;

/// 营销专业: the nine specialties a theme belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Specialty {
    /// 优质服务.
    Service,
    /// 用电检查.
    Inspection,
    /// 电费电价.
    Billing,
    /// 营业窗口.
    Counter,
    /// 农电业务.
    Rural,
    /// 计量与用电信息采集.
    Metering,
    /// 市场与客户服务.
    Market,
    /// 业扩报装.
    Expansion,
    /// 线损管理.
    Loss,
}

impl Specialty {
    /// All nine, in the order of audit-themes.md.
    pub const ALL: [Specialty; 9] = [
        Specialty::Service,
        Specialty::Inspection,
        Specialty::Billing,
        Specialty::Counter,
        Specialty::Rural,
        Specialty::Metering,
        Specialty::Market,
        Specialty::Expansion,
        Specialty::Loss,
    ];

    /// The code of audit-themes.md.
    pub fn code(self) -> &'static str {
        match self {
            Specialty::Service => "service",
            Specialty::Inspection => "inspection",
            Specialty::Billing => "billing",
            Specialty::Counter => "counter",
            Specialty::Rural => "rural",
            Specialty::Metering => "metering",
            Specialty::Market => "market",
            Specialty::Expansion => "expansion",
            Specialty::Loss => "loss",
        }
    }

    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Specialty::Service => "优质服务",
            Specialty::Inspection => "用电检查",
            Specialty::Billing => "电费电价",
            Specialty::Counter => "营业窗口",
            Specialty::Rural => "农电业务",
            Specialty::Metering => "计量与用电信息采集",
            Specialty::Market => "市场与客户服务",
            Specialty::Expansion => "业扩报装",
            Specialty::Loss => "线损管理",
        }
    }
}

/// One parameter of a theme with its default (the reference semantics).
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Name, as in `jicha.toml`.
    pub name: &'static str,
    /// Default value.
    pub default: f64,
    /// What it means, Chinese first.
    pub doc: &'static str,
}

/// A parameter given per key rather than once, e.g. SVC-HOURS's weekly budget per station.
#[derive(Debug, Clone, Copy)]
pub struct KeyedParam {
    /// Name, as in `jicha.toml` (a table of key = number).
    pub name: &'static str,
    /// What the keys are, Chinese first.
    pub key: &'static str,
    /// What it means, Chinese first.
    pub doc: &'static str,
}

/// The parameter values of one run of one theme.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: BTreeMap<String, f64>,
    keyed: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Params {
    /// The defaults of a theme.
    pub fn defaults(theme: &dyn Theme) -> Params {
        Params {
            values: theme.params().iter().map(|p| (p.name.to_string(), p.default)).collect(),
            keyed: BTreeMap::new(),
        }
    }

    /// A value; a theme only asks for the parameters it declares, so a missing one is its default
    /// of zero only through a programming error, caught by the registry test.
    pub fn get(&self, name: &str) -> f64 {
        self.values.get(name).copied().unwrap_or(0.0)
    }

    /// Sets a value.
    pub fn set(&mut self, name: &str, value: f64) {
        self.values.insert(name.to_string(), value);
    }

    /// A keyed parameter's table (empty when not configured).
    pub fn keyed(&self, name: &str) -> &BTreeMap<String, f64> {
        static EMPTY: BTreeMap<String, f64> = BTreeMap::new();
        self.keyed.get(name).unwrap_or(&EMPTY)
    }

    /// Sets a keyed parameter's table.
    pub fn set_keyed(&mut self, name: &str, table: BTreeMap<String, f64>) {
        self.keyed.insert(name.to_string(), table);
    }

    /// As a JSON object, for the run record.
    pub fn to_json(&self) -> serde_json::Value {
        let mut o: serde_json::Map<String, serde_json::Value> =
            self.values.iter().map(|(k, v)| (k.clone(), crate::finding::num(*v))).collect();
        for (name, table) in &self.keyed {
            let t = table.iter().map(|(k, v)| (k.clone(), crate::finding::num(*v))).collect();
            o.insert(name.clone(), serde_json::Value::Object(t));
        }
        serde_json::Value::Object(o)
    }
}

/// What a theme reads: a table (or view) and the columns that must hold values.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    /// Table or view.
    pub table: &'static str,
    /// Columns.
    pub columns: &'static [&'static str],
}

/// Shorthand for a [`Need`].
pub const fn need(table: &'static str, columns: &'static [&'static str]) -> Need {
    Need { table, columns }
}

/// The window of one audit run: a month, or one day for the daily watch.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// The audited month (for a daily run, the month of its day).
    pub period: Period,
    /// The as-of date (by default the first day of the following month; the next day for a
    /// daily run).
    pub as_of: NaiveDate,
    /// The watched day of a daily run.
    pub day: Option<NaiveDate>,
}

impl Window {
    /// The window of a period with the default as-of date.
    pub fn new(period: Period, as_of: Option<NaiveDate>) -> Window {
        Window { period, as_of: as_of.unwrap_or(period.next().first_day()), day: None }
    }

    /// The window of the daily watch over `day` (usually yesterday).
    pub fn daily(day: NaiveDate) -> Window {
        Window { period: Period::of(day), as_of: day + chrono::Days::new(1), day: Some(day) }
    }

    /// What findings of this window carry as their period: the month `YYYY-MM`, or the day
    /// `YYYY-MM-DD` of a daily run (so each day's findings have their own ids).
    pub fn label(&self) -> String {
        match self.day {
            Some(d) => d.format("%Y-%m-%d").to_string(),
            None => self.period.to_string(),
        }
    }

    /// The watched day of a daily run (the period's last day for a monthly one), days since
    /// 1970-01-01.
    pub fn watched_day(&self) -> i32 {
        to_epoch_days(self.day.unwrap_or(self.period.last_day()))
    }

    /// First day of the period, days since 1970-01-01.
    pub fn first(&self) -> i32 {
        to_epoch_days(self.period.first_day())
    }

    /// Last day of the period.
    pub fn last(&self) -> i32 {
        to_epoch_days(self.period.last_day())
    }

    /// Days in the period.
    pub fn days(&self) -> i64 {
        i64::from(self.period.days())
    }

    /// The as-of date, days since 1970-01-01.
    pub fn as_of_day(&self) -> i32 {
        to_epoch_days(self.as_of)
    }
}

/// An audit theme. Adding one is adding one file under `themes/` and one line to the registry.
pub trait Theme: Send + Sync {
    /// Stable code, e.g. `VOL-ZERO`.
    fn code(&self) -> &'static str;
    /// 中文名.
    fn name_zh(&self) -> &'static str;
    /// English name.
    fn name_en(&self) -> &'static str;
    /// Specialty.
    fn specialty(&self) -> Specialty;
    /// The entity its findings are about.
    fn entity(&self) -> EntityType;
    /// Default severity.
    fn severity(&self) -> Severity;
    /// Parameters with their defaults.
    fn params(&self) -> &'static [Param];
    /// The tables and columns it reads; when one is missing or empty the theme is not run.
    fn needs(&self) -> &'static [Need];
    /// Keyed parameters (a table per key), none by default.
    fn keyed_params(&self) -> &'static [KeyedParam] {
        &[]
    }
    /// A daily-watch theme (`jicha daily`) rather than a monthly one (`jicha audit`).
    fn daily(&self) -> bool {
        false
    }
    /// Why the theme cannot run with these parameters (e.g. a budget that is not configured).
    fn unconfigured(&self, _params: &Params) -> Option<String> {
        None
    }
    /// The file of a custom theme (None for a built-in one).
    fn custom_source(&self) -> Option<&std::path::Path> {
        None
    }
    /// A theme that reads a whole year of every customer's days: an audit starts it before the
    /// others, so the rest run beside it instead of after it.
    fn long_running(&self) -> bool {
        false
    }
    /// Runs the theme over the window.
    fn run(&self, session: &Session, window: &Window, params: &Params) -> EngineResult<Vec<Finding>>;

    /// A finding of this theme on one entity in the window's period, carrying the theme's own
    /// code, entity type and severity (so a theme states only what is particular to the hit).
    fn finding(
        &self,
        window: &Window,
        entity_id: impl Into<String>,
        station_id: Option<String>,
        evidence: &[(&str, serde_json::Value)],
    ) -> Finding
    where
        Self: Sized,
    {
        finding_of(self, window, entity_id, station_id, evidence)
    }
}

/// A finding of `theme` on one entity in the window (for code holding a `&dyn Theme`).
pub fn finding_of(
    theme: &dyn Theme,
    window: &Window,
    entity_id: impl Into<String>,
    station_id: Option<String>,
    evidence: &[(&str, serde_json::Value)],
) -> Finding {
    Finding::new(theme.code(), theme.entity(), entity_id, station_id, window, theme.severity(), evidence)
}
