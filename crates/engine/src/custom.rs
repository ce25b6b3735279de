//! Custom themes (自定义主题): `themes/*.toml` in the data dir, each one read-only SQL query over
//! the stored tables and the derived `daily_consumption` and `tq_daily` views.
//!
//! ```toml
//! code = "CUS-BIG-ZERO"               # A-Z, 0-9 and '-', not a built-in code
//! name_zh = "大用户整月零电量"
//! name_en = "Large customer with a zero month"
//! specialty = "inspection"            # one of the nine (code or Chinese name)
//! entity = "customer"                 # customer, meter, bill, transformer_area, feeder, work_order, station
//! entity_column = "customer_id"       # the query's column holding the entity id
//! station_column = "station_id"       # optional
//! amount_column = "amount"            # optional: money at risk, yuan
//! severity = "medium"                 # optional (default medium)
//! sql = """
//! SELECT c.customer_id, c.station_id, SUM(d.kwh) AS kwh
//! FROM customers c JOIN daily_consumption d ON d.customer_id = c.customer_id
//! WHERE d.date BETWEEN {period_start} AND {period_end} AND c.contract_kva >= {min_kva}
//! GROUP BY c.customer_id, c.station_id HAVING SUM(d.kwh) = 0
//! """
//! [params]
//! min_kva = 315
//! ```
//!
//! Placeholders: `{period_start}`, `{period_end}`, `{as_of}` (DATE literals), `{period}` (text
//! 'YYYY-MM') and every parameter by name. The query runs with DDL, DML and statements refused, so
//! it can read but never write, and no table reaches outside the data dir. The numeric columns
//! other than the entity, station and amount become the evidence.
//!
//! A custom theme lives for the whole process: its texts are leaked once at load, like the
//! built-in themes' static texts.

use std::collections::BTreeMap;
use std::path::Path;

use jicha_core::schema::TABLES;
use jicha_store::series::Series;

use crate::columns::{floats, texts};
use crate::config::parse_severity;
use crate::error::EngineResult;
use crate::finding::{EntityType, Finding, Severity, num};
use crate::session::{Session, date_lit};
use crate::theme::{Need, Param, Params, Specialty, Theme, Window, finding_of};

/// The folder of custom themes in the data dir.
pub const CUSTOM_DIR: &str = "themes";

/// A custom theme loaded from its file.
#[derive(Debug)]
pub struct CustomTheme {
    code: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    specialty: Specialty,
    entity: EntityType,
    severity: Severity,
    entity_column: String,
    station_column: Option<String>,
    amount_column: Option<String>,
    sql: String,
    params: &'static [Param],
    needs: &'static [Need],
    /// The file it came from.
    pub path: std::path::PathBuf,
}

/// A custom theme that could not be loaded: its file and why.
#[derive(Debug, Clone)]
pub struct Broken {
    /// The file.
    pub path: std::path::PathBuf,
    /// Why, in Chinese and English.
    pub reason: String,
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Loads every `themes/*.toml` of the data dir, in file name order; `builtin` codes are taken.
pub fn load_all(root: &Path, builtin: &[&dyn Theme]) -> (Vec<&'static CustomTheme>, Vec<Broken>) {
    let dir = root.join(CUSTOM_DIR);
    let mut files: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    let (mut ok, mut broken): (Vec<&'static CustomTheme>, Vec<Broken>) = (Vec::new(), Vec::new());
    for path in files {
        let loaded = std::fs::read_to_string(&path)
            .map_err(|e| format!("无法读取 / cannot read: {e}"))
            .and_then(|text| parse(&path, &text));
        match loaded {
            Ok(t) if builtin.iter().any(|b| b.code() == t.code) || ok.iter().any(|o| o.code == t.code) => {
                broken.push(Broken {
                    reason: format!("主题代码 {} 已被占用 / theme code {} is taken", t.code, t.code),
                    path,
                })
            }
            Ok(t) => ok.push(Box::leak(Box::new(t))),
            Err(reason) => broken.push(Broken { path, reason }),
        }
    }
    (ok, broken)
}

/// Parses one custom theme file.
pub fn parse(path: &Path, text: &str) -> Result<CustomTheme, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let at = line.map_or(String::new(), |l| format!("第 {l} 行 / line {l}: "));
        format!("{at}不是有效的 TOML / not valid TOML: {}", e.message().trim())
    })?;
    let known = [
        "code",
        "name_zh",
        "name_en",
        "specialty",
        "entity",
        "entity_column",
        "station_column",
        "amount_column",
        "severity",
        "sql",
        "params",
    ];
    if let Some(k) = table.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("未知字段 “{k}” / unknown field “{k}”; 可用 known: {}", known.join(", ")));
    }
    let text_field = |name: &str, required: bool| -> Result<Option<String>, String> {
        match table.get(name) {
            None if required => Err(format!("缺少字段 {name} / missing field {name}")),
            None => Ok(None),
            Some(v) => match v.as_str().map(str::trim).filter(|s| !s.is_empty()) {
                Some(s) => Ok(Some(s.to_string())),
                None => Err(format!("字段 {name} 应为非空文本 / field {name} must be non-empty text")),
            },
        }
    };
    let req = |name: &str| text_field(name, true).map(Option::unwrap_or_default);
    let code = req("code")?.to_ascii_uppercase();
    if !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!(
            "主题代码 {code} 只能含字母、数字和 - / theme code {code}: letters, digits and '-' only"
        ));
    }
    let specialty = req("specialty")?;
    let specialty = Specialty::ALL
        .into_iter()
        .find(|s| s.code() == specialty || s.name_zh() == specialty)
        .ok_or_else(|| {
            let all: Vec<&str> = Specialty::ALL.iter().map(|s| s.code()).collect();
            format!("未知专业 “{specialty}” / unknown specialty; 可用 known: {}", all.join(", "))
        })?;
    let entity = req("entity")?;
    let entity = EntityType::ALL.into_iter().find(|e| e.code() == entity).ok_or_else(|| {
        let all: Vec<&str> = EntityType::ALL.iter().map(|e| e.code()).collect();
        format!("未知对象类型 “{entity}” / unknown entity; 可用 known: {}", all.join(", "))
    })?;
    let severity = match text_field("severity", false)? {
        None => Severity::Medium,
        Some(s) => parse_severity(&s).ok_or_else(|| {
            format!("severity “{s}” 应为 high、medium 或 low / must be high, medium or low")
        })?,
    };
    let mut params = Vec::new();
    if let Some(p) = table.get("params") {
        let p = p.as_table().ok_or("params 应为表 / params must be a table")?;
        for (name, v) in p {
            let x = match v {
                toml::Value::Integer(i) => *i as f64,
                toml::Value::Float(f) if f.is_finite() => *f,
                _ => return Err(format!("参数 {name} 应为数 / parameter {name} must be a number")),
            };
            params.push(Param {
                name: leak(name.clone()), default: x, doc: "自定义参数 / custom parameter"
            });
        }
    }
    let sql = req("sql")?;
    check_placeholders(&sql, &params)?;
    let needs = tables_read(&sql);
    if needs.is_empty() {
        return Err("SQL 未读取任何已知表 / the SQL reads no known table".to_string());
    }
    Ok(CustomTheme {
        name_zh: leak(req("name_zh")?),
        name_en: leak(req("name_en")?),
        code: leak(code),
        specialty,
        entity,
        severity,
        entity_column: req("entity_column")?,
        station_column: text_field("station_column", false)?,
        amount_column: text_field("amount_column", false)?,
        sql,
        params: Box::leak(params.into_boxed_slice()),
        needs: Box::leak(
            needs.into_iter().map(|t| Need { table: t, columns: &[] }).collect::<Vec<_>>().into_boxed_slice(),
        ),
        path: path.to_path_buf(),
    })
}

const BUILT_IN_PLACEHOLDERS: [&str; 4] = ["period_start", "period_end", "as_of", "period"];

fn placeholders(sql: &str) -> impl Iterator<Item = &str> {
    sql.split('{').skip(1).filter_map(|s| s.split_once('}').map(|(name, _)| name.trim()))
}

fn check_placeholders(sql: &str, params: &[Param]) -> Result<(), String> {
    for name in placeholders(sql) {
        if !BUILT_IN_PLACEHOLDERS.contains(&name) && !params.iter().any(|p| p.name == name) {
            return Err(format!(
                "SQL 中的占位符 {{{name}}} 既不是参数也不是内置值 / placeholder {{{name}}} is neither a parameter nor one of {}",
                BUILT_IN_PLACEHOLDERS.join(", ")
            ));
        }
    }
    Ok(())
}

/// The known tables and views a query names (as whole words).
fn tables_read(sql: &str) -> Vec<&'static str> {
    let words: Vec<String> =
        sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map(str::to_ascii_lowercase).collect();
    let mut names: Vec<&'static str> = TABLES.iter().map(|t| t.name).collect();
    names.extend(Series::ALL.iter().map(|s| s.name()));
    names.push("tq_daily");
    names.sort_unstable();
    names.dedup();
    names.into_iter().filter(|n| words.iter().any(|w| w == n)).collect()
}

impl CustomTheme {
    /// The query with its placeholders filled in.
    pub fn sql_for(&self, w: &Window, p: &Params) -> String {
        let mut sql = self.sql.clone();
        let fill = [
            ("period_start".to_string(), date_lit(w.first())),
            ("period_end".to_string(), date_lit(w.last())),
            ("as_of".to_string(), date_lit(w.as_of_day())),
            ("period".to_string(), format!("'{}'", w.period)),
        ];
        let values = self.params.iter().map(|q| (q.name.to_string(), format!("{}", p.get(q.name))));
        for (name, value) in fill.into_iter().chain(values) {
            sql = sql.replace(&format!("{{{name}}}"), &value);
        }
        sql
    }
}

impl Theme for CustomTheme {
    fn code(&self) -> &'static str {
        self.code
    }
    fn name_zh(&self) -> &'static str {
        self.name_zh
    }
    fn name_en(&self) -> &'static str {
        self.name_en
    }
    fn specialty(&self) -> Specialty {
        self.specialty
    }
    fn entity(&self) -> EntityType {
        self.entity
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn params(&self) -> &'static [Param] {
        self.params
    }
    fn needs(&self) -> &'static [Need] {
        self.needs
    }
    fn custom_source(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        let sql = self.sql_for(w, p);
        let context = format!("自定义主题 / custom theme {}", self.code);
        let mut out = Vec::new();
        for b in session.run_read_only(&sql, &context)? {
            let ids = texts(&b, &self.entity_column)?;
            let stations = match &self.station_column {
                Some(c) => texts(&b, c)?,
                None => vec![None; b.num_rows()],
            };
            let amounts = match &self.amount_column {
                Some(c) => floats(&b, c)?,
                None => vec![None; b.num_rows()],
            };
            let mut evidence_cols: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
            for f in b.schema().fields() {
                let name = f.name();
                let skip = name == &self.entity_column
                    || Some(name) == self.station_column.as_ref()
                    || Some(name) == self.amount_column.as_ref();
                if !skip && f.data_type().is_numeric() {
                    evidence_cols.insert(name.clone(), floats(&b, name)?);
                }
            }
            for i in 0..b.num_rows() {
                let Some(id) = ids[i].clone() else { continue };
                let ev: Vec<(&str, serde_json::Value)> =
                    evidence_cols.iter().filter_map(|(k, v)| v[i].map(|x| (k.as_str(), num(x)))).collect();
                out.push(finding_of(self, w, id, stations[i].clone(), &ev).with_amount(amounts[i]));
            }
        }
        Ok(out)
    }
}
