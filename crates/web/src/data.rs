//! What the pages and the API read: findings, the archive, bills, daily series. Every function
//! takes the user's station scope (None = every station) and applies it in the query itself.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use jicha_engine::audit::Catalogue;
use jicha_engine::columns;
use jicha_store::findings::FindingRow;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use serde_json::{Map, Value};

use crate::{AppError, Stored};
use jicha_store::lookup::ConsumptionIndex;

/// A table row as a JSON object, column by column.
pub type Row = Map<String, Value>;

/// A finding with the names people read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FindingView {
    /// Stable id.
    pub finding_id: String,
    /// Theme code.
    pub theme: String,
    /// Theme name, Chinese.
    pub theme_name_zh: String,
    /// Theme name, English.
    pub theme_name_en: String,
    /// Specialty code.
    pub specialty: String,
    /// Entity type.
    pub entity_type: String,
    /// Entity id.
    pub entity_id: String,
    /// Station.
    pub station_id: Option<String>,
    /// Period.
    pub period: String,
    /// Severity.
    pub severity: String,
    /// Evidence (named numbers).
    pub evidence: Value,
    /// Money at risk, yuan.
    pub amount_at_risk: Option<f64>,
}

impl FindingView {
    /// Names from the catalogue.
    pub fn of(row: FindingRow, catalogue: &Catalogue) -> FindingView {
        let theme = catalogue.get(&row.theme);
        FindingView {
            theme_name_zh: theme.map(|t| t.name_zh().to_string()).unwrap_or_else(|| row.theme.clone()),
            theme_name_en: theme.map(|t| t.name_en().to_string()).unwrap_or_else(|| row.theme.clone()),
            specialty: theme
                .map(|t| t.specialty().code().to_string())
                .or_else(|| row.theme.strip_prefix("ONSITE-").map(str::to_ascii_lowercase))
                .unwrap_or_default(),
            evidence: serde_json::from_str(&row.evidence).unwrap_or(Value::Null),
            finding_id: row.finding_id,
            theme: row.theme,
            entity_type: row.entity_type,
            entity_id: row.entity_id,
            station_id: row.station_id,
            period: row.period,
            severity: row.severity,
            amount_at_risk: row.amount_at_risk,
        }
    }
}

/// Filters, sort and page of the findings list.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct FindingQuery {
    /// `YYYY-MM` (default: the latest audited).
    #[serde(default)]
    pub period: String,
    /// Theme code.
    #[serde(default)]
    pub theme: String,
    /// Station.
    #[serde(default)]
    pub station: String,
    /// Specialty code.
    #[serde(default)]
    pub specialty: String,
    /// `high`, `medium`, `low`.
    #[serde(default)]
    pub severity: String,
    /// Entity id (exact).
    #[serde(default)]
    pub entity: String,
    /// At least this much money at risk.
    #[serde(default)]
    pub min_amount: Option<f64>,
    /// `amount` (default), `severity`, `theme`, `station`, `entity`, `period`.
    #[serde(default)]
    pub sort: String,
    /// `desc` (default) or `asc`.
    #[serde(default)]
    pub dir: String,
    /// From 1.
    #[serde(default)]
    pub page: Option<u32>,
    /// Rows per page (at most 500; default 50).
    #[serde(default)]
    pub per_page: Option<u32>,
}

impl FindingQuery {
    /// The page, from 1.
    pub fn page(&self) -> u32 {
        self.page.unwrap_or(1).max(1)
    }

    /// Rows per page.
    pub fn per_page(&self) -> u32 {
        self.per_page.unwrap_or(50).clamp(1, 500)
    }
}

fn has_table(conn: &Connection, name: &str) -> Result<bool, AppError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )? > 0)
}

/// The audited periods, newest first.
pub fn periods(conn: &Connection) -> Result<Vec<String>, AppError> {
    if !has_table(conn, "findings")? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached("SELECT DISTINCT period FROM audit_runs ORDER BY period DESC")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn finding_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<FindingRow> {
    Ok(FindingRow {
        finding_id: r.get(0)?,
        theme: r.get(1)?,
        entity_type: r.get(2)?,
        entity_id: r.get(3)?,
        station_id: r.get(4)?,
        period: r.get(5)?,
        severity: r.get(6)?,
        evidence: r.get(7)?,
        amount_at_risk: r.get(8)?,
    })
}

const FINDING_COLUMNS: &str =
    "finding_id, theme, entity_type, entity_id, station_id, period, severity, evidence, amount_at_risk";

fn where_clause(
    catalogue: &Catalogue,
    scope: Option<&str>,
    q: &FindingQuery,
    period: &str,
) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as V;
    let mut sql = String::from(" WHERE period = ?");
    let mut args = vec![V::Text(period.to_string())];
    let mut eq = |col: &str, v: &str| {
        if !v.is_empty() {
            sql.push_str(&format!(" AND {col} = ?"));
            args.push(V::Text(v.to_string()));
        }
    };
    eq("station_id", scope.unwrap_or(&q.station));
    eq("theme", &q.theme);
    eq("severity", &q.severity);
    eq("entity_id", q.entity.trim());
    if !q.specialty.is_empty() {
        let codes: Vec<String> = catalogue
            .themes
            .iter()
            .filter(|t| t.specialty().code() == q.specialty)
            .map(|t| format!("'{}'", t.code().replace('\'', "''")))
            .collect();
        sql.push_str(&format!(
            " AND theme IN ({})",
            if codes.is_empty() { "''".into() } else { codes.join(",") }
        ));
    }
    if let Some(m) = q.min_amount {
        sql.push_str(" AND amount_at_risk >= ?");
        args.push(V::Real(m));
    }
    (sql, args)
}

/// How many findings match each filter of the list, kept per audit run (findings change only
/// when an audit stores them): paging through a filter's pages counts its matches once.
#[derive(Default)]
pub struct Counts(std::sync::Mutex<HashMap<String, u64>>);

impl Counts {
    /// Filters kept before the cache starts over.
    const KEPT: usize = 4096;

    fn get_or_count(
        &self,
        conn: &Connection,
        sql: &str,
        args: &[rusqlite::types::Value],
    ) -> Result<u64, AppError> {
        let run = latest_run(conn);
        let key = format!("{run}\u{1}{sql}\u{1}{args:?}");
        if let Some(n) = self.0.lock().map_err(|_| AppError::internal("counts"))?.get(&key) {
            return Ok(*n);
        }
        let n = conn.prepare_cached(sql)?.query_row(params_from_iter(args), |r| r.get::<_, i64>(0))? as u64;
        let mut kept = self.0.lock().map_err(|_| AppError::internal("counts"))?;
        if kept.len() >= Counts::KEPT
            || kept.keys().next().is_some_and(|k| !k.starts_with(&format!("{run}\u{1}")))
        {
            kept.clear();
        }
        kept.insert(key, n);
        Ok(n)
    }
}

/// The latest audit run (0 before any): what the caches of figures over findings are kept by,
/// since findings change only when an audit run stores them.
pub fn latest_run(conn: &Connection) -> i64 {
    conn.query_row("SELECT COALESCE(MAX(run_id), 0) FROM audit_runs", [], |r| r.get(0)).unwrap_or(0)
}

/// One page of findings and how many match.
pub fn findings(
    conn: &Connection,
    catalogue: &Catalogue,
    counts: &Counts,
    scope: Option<&str>,
    q: &FindingQuery,
) -> Result<(String, u64, Vec<FindingView>), AppError> {
    let page = (q.per_page(), u64::from(q.page() - 1) * u64::from(q.per_page()));
    select_findings(conn, catalogue, Some(counts), scope, q, Some(page))
}

/// Every finding matching (for exports), in list order: one query, no paging.
pub fn all_findings(
    conn: &Connection,
    catalogue: &Catalogue,
    scope: Option<&str>,
    q: &FindingQuery,
) -> Result<(String, Vec<FindingView>), AppError> {
    let (period, _, rows) = select_findings(conn, catalogue, None, scope, q, None)?;
    Ok((period, rows))
}

/// The findings matching `q` in its order, one page (limit, offset) or all, with how many match.
fn select_findings(
    conn: &Connection,
    catalogue: &Catalogue,
    counts: Option<&Counts>,
    scope: Option<&str>,
    q: &FindingQuery,
    page: Option<(u32, u64)>,
) -> Result<(String, u64, Vec<FindingView>), AppError> {
    let period = if q.period.is_empty() {
        periods(conn)?.into_iter().next().unwrap_or_default()
    } else {
        q.period.clone()
    };
    if !has_table(conn, "findings")? {
        return Ok((period, 0, Vec::new()));
    }
    let (w, args) = where_clause(catalogue, scope, q, &period);
    let column = match q.sort.as_str() {
        "severity" => "CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END",
        "theme" => "theme",
        "station" => "station_id",
        "entity" => "entity_id",
        "period" => "period",
        // SQLite sorts NULL first, so money descending puts findings without an amount last.
        _ => "amount_at_risk",
    };
    let dir = if q.dir == "asc" { "ASC" } else { "DESC" };
    let limit = page.map(|(n, skip)| format!(" LIMIT {n} OFFSET {skip}")).unwrap_or_default();
    // Ties in order of id, in the sort's direction (so money order is the indexes' order).
    let sql =
        format!("SELECT {FINDING_COLUMNS} FROM findings{w} ORDER BY {column} {dir}, finding_id {dir}{limit}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows: Vec<FindingRow> =
        stmt.query_map(params_from_iter(&args), finding_of)?.collect::<Result<_, _>>()?;
    let total = match (page, counts) {
        (Some(_), Some(counts)) => {
            counts.get_or_count(conn, &format!("SELECT COUNT(*) FROM findings{w}"), &args)?
        }
        _ => rows.len() as u64,
    };
    Ok((period, total, rows.into_iter().map(|r| FindingView::of(r, catalogue)).collect()))
}

/// One finding, if the user may see it.
pub fn finding(conn: &Connection, scope: Option<&str>, id: &str) -> Result<Option<FindingRow>, AppError> {
    if !has_table(conn, "findings")? {
        return Ok(None);
    }
    let row = conn
        .prepare_cached(&format!("SELECT {FINDING_COLUMNS} FROM findings WHERE finding_id = ?1"))?
        .query_row([id], finding_of)
        .optional()?;
    Ok(row.filter(|f| scope.is_none() || f.station_id.as_deref() == scope))
}

/// Findings on one entity, newest period first.
pub fn findings_of_entity(
    conn: &Connection,
    catalogue: &Catalogue,
    scope: Option<&str>,
    entity_type: &str,
    entity_id: &str,
) -> Result<Vec<FindingView>, AppError> {
    if !has_table(conn, "findings")? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FINDING_COLUMNS} FROM findings WHERE entity_type = ?1 AND entity_id = ?2
         AND (?3 IS NULL OR station_id = ?3) ORDER BY period DESC, theme"
    ))?;
    let rows: Vec<FindingRow> = stmt
        .query_map(rusqlite::params![entity_type, entity_id, scope], finding_of)?
        .collect::<Result<_, _>>()?;
    Ok(rows.into_iter().map(|r| FindingView::of(r, catalogue)).collect())
}

/// A count and a sum of money under a label.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Group {
    /// Theme code, station id, specialty code or period.
    pub key: String,
    /// Name to show (Chinese).
    pub name_zh: String,
    /// Name to show (English).
    pub name_en: String,
    /// Findings.
    pub findings: i64,
    /// Money at risk, yuan.
    pub amount: f64,
}

/// The dashboard's figures for a period.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// The period.
    pub period: String,
    /// Audited periods, newest first.
    pub periods: Vec<String>,
    /// Findings.
    pub findings: i64,
    /// Money at risk.
    pub amount: f64,
    /// By theme, most money first.
    pub by_theme: Vec<Group>,
    /// By station.
    pub by_station: Vec<Group>,
    /// By specialty.
    pub by_specialty: Vec<Group>,
    /// Over the audited months, oldest first.
    pub trend: Vec<Group>,
}

/// The dashboard of a data dir with nothing imported.
pub fn summary_empty() -> Summary {
    Summary {
        period: String::new(),
        periods: Vec::new(),
        findings: 0,
        amount: 0.0,
        by_theme: Vec::new(),
        by_station: Vec::new(),
        by_specialty: Vec::new(),
        trend: Vec::new(),
    }
}

/// Station names by id.
pub fn station_names(conn: &Connection) -> Result<BTreeMap<String, String>, AppError> {
    if !has_table(conn, "stations")? {
        return Ok(BTreeMap::new());
    }
    let mut stmt = conn.prepare_cached("SELECT station_id, name FROM stations")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The dashboard's figures.
pub fn summary(
    conn: &Connection,
    catalogue: &Catalogue,
    scope: Option<&str>,
    period: &str,
) -> Result<Summary, AppError> {
    let periods = periods(conn)?;
    let period =
        if period.is_empty() { periods.first().cloned().unwrap_or_default() } else { period.to_string() };
    let mut s = Summary {
        period: period.clone(),
        periods,
        findings: 0,
        amount: 0.0,
        by_theme: Vec::new(),
        by_station: Vec::new(),
        by_specialty: Vec::new(),
        trend: Vec::new(),
    };
    if !has_table(conn, "findings")? {
        return Ok(s);
    }
    let names = station_names(conn)?;
    let group = |sql: &str, p: &str| -> Result<Vec<(String, i64, f64)>, AppError> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(rusqlite::params![p, scope], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                r.get(1)?,
                r.get::<_, Option<f64>>(2)?.unwrap_or(0.0),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    let scoped = "(?2 IS NULL OR station_id = ?2)";
    for (theme, n, amount) in group(
        &format!(
            "SELECT theme, COUNT(*), SUM(amount_at_risk) FROM findings WHERE period = ?1 AND {scoped} GROUP BY theme"
        ),
        &period,
    )? {
        let t = catalogue.get(&theme);
        s.findings += n;
        s.amount += amount;
        let spec = t.map(|t| t.specialty());
        let key = spec.map(|s| s.code()).unwrap_or("other").to_string();
        match s.by_specialty.iter_mut().find(|g| g.key == key) {
            Some(g) => {
                g.findings += n;
                g.amount += amount;
            }
            None => s.by_specialty.push(Group {
                name_zh: spec.map(|s| s.name_zh()).unwrap_or("其他").to_string(),
                name_en: key.clone(),
                key,
                findings: n,
                amount,
            }),
        }
        s.by_theme.push(Group {
            name_zh: t.map(|t| t.name_zh().to_string()).unwrap_or_else(|| theme.clone()),
            name_en: t.map(|t| t.name_en().to_string()).unwrap_or_else(|| theme.clone()),
            key: theme,
            findings: n,
            amount,
        });
    }
    for (station, n, amount) in group(
        &format!(
            "SELECT station_id, COUNT(*), SUM(amount_at_risk) FROM findings WHERE period = ?1 AND {scoped}
             GROUP BY station_id"
        ),
        &period,
    )? {
        let name = names.get(&station).cloned().unwrap_or_else(|| station.clone());
        s.by_station.push(Group { name_zh: name.clone(), name_en: name, key: station, findings: n, amount });
    }
    for (p, n, amount) in group(
        &format!(
            "SELECT period, COUNT(*), SUM(amount_at_risk) FROM findings WHERE ?1 = ?1 AND {scoped}
             GROUP BY period ORDER BY period"
        ),
        "",
    )? {
        s.trend.push(Group { name_zh: p.clone(), name_en: p.clone(), key: p, findings: n, amount });
    }
    let by_money = |a: &Group, b: &Group| b.amount.total_cmp(&a.amount).then(b.findings.cmp(&a.findings));
    s.by_theme.sort_by(by_money);
    s.by_station.sort_by(by_money);
    s.by_specialty.sort_by(by_money);
    Ok(s)
}

fn value_of(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
        ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(_) => Value::Null,
    }
}

/// Rows of a query as JSON objects, column by column (the archive pages show them as they are).
pub fn rows(
    conn: &Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<Map<String, Value>>, AppError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let names: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let mut out = Vec::new();
    let mut q = stmt.query(args)?;
    while let Some(r) = q.next()? {
        let mut m = Map::new();
        for (i, n) in names.iter().enumerate() {
            m.insert(n.clone(), value_of(r.get_ref(i)?));
        }
        out.push(m);
    }
    Ok(out)
}

/// A customer's page: archive, meters, bills (last 13), payments, as the user may see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CustomerView {
    /// 用户档案.
    pub archive: Map<String, Value>,
    /// 电能表.
    pub meters: Vec<Map<String, Value>>,
    /// 电费发行, newest first.
    pub bills: Vec<Map<String, Value>>,
    /// 实收, newest first.
    pub payments: Vec<Map<String, Value>>,
}

/// A customer, if the user may see it.
pub fn customer(conn: &Connection, scope: Option<&str>, id: &str) -> Result<Option<CustomerView>, AppError> {
    if !has_table(conn, "customers")? {
        return Ok(None);
    }
    let archive = rows(
        conn,
        "SELECT * FROM customers WHERE customer_id = ?1 AND (?2 IS NULL OR station_id = ?2)",
        &[&id, &scope],
    )?;
    let Some(archive) = archive.into_iter().next() else { return Ok(None) };
    Ok(Some(CustomerView {
        archive,
        meters: rows(conn, "SELECT * FROM meters WHERE customer_id = ?1 ORDER BY installed_on", &[&id])?,
        bills: rows(
            conn,
            "SELECT * FROM bills WHERE customer_id = ?1 ORDER BY period DESC LIMIT 13",
            &[&id],
        )?,
        payments: rows(
            conn,
            "SELECT p.* FROM payments p JOIN bills b ON b.bill_id = p.bill_id WHERE b.customer_id = ?1
             ORDER BY p.paid_on DESC LIMIT 26",
            &[&id],
        )?,
    }))
}

/// A transformer area (台区), if the user may see it, and its customers with the days they were
/// connected.
pub fn area(
    conn: &Connection,
    scope: Option<&str>,
    id: &str,
) -> Result<Option<(Row, Vec<Member>)>, AppError> {
    if !has_table(conn, "transformer_areas")? {
        return Ok(None);
    }
    let found = rows(
        conn,
        "SELECT * FROM transformer_areas WHERE tq_id = ?1 AND (?2 IS NULL OR station_id = ?2)",
        &[&id, &scope],
    )?;
    let Some(area) = found.into_iter().next() else { return Ok(None) };
    let mut stmt =
        conn.prepare_cached("SELECT customer_id, opened_on, closed_on FROM customers WHERE tq_id = ?1")?;
    let day = |v: Option<String>| v.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()).map(days_of);
    let customers = stmt
        .query_map([id], |r| {
            Ok(Member { customer_id: r.get(0)?, opened: day(r.get(1)?), closed: day(r.get(2)?) })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some((area, customers)))
}

/// A customer of a transformer area, with the days it was connected.
#[derive(Debug, Clone)]
pub struct Member {
    /// 户号.
    pub customer_id: String,
    /// Opened on (days since 1970-01-01), if known.
    pub opened: Option<i32>,
    /// Closed on, if closed.
    pub closed: Option<i32>,
}

impl Member {
    /// Whether the customer was connected on `day`: opened by then and not yet closed (as the
    /// engine's `tq_daily` view and the loss themes count an area's customers).
    pub fn active(&self, day: i32) -> bool {
        self.opened.is_none_or(|o| o <= day) && self.closed.is_none_or(|c| day < c)
    }
}

/// A station, if the user may see it, with its areas and customer count.
pub fn station(
    conn: &Connection,
    scope: Option<&str>,
    id: &str,
) -> Result<Option<(Row, Vec<Row>, i64)>, AppError> {
    if scope.is_some_and(|s| s != id) || !has_table(conn, "stations")? {
        return Ok(None);
    }
    let found = rows(conn, "SELECT * FROM stations WHERE station_id = ?1", &[&id])?;
    let Some(station) = found.into_iter().next() else { return Ok(None) };
    let areas = rows(
        conn,
        "SELECT a.tq_id, a.name, a.feeder_id, a.capacity_kva, a.ownership,
                (SELECT COUNT(*) FROM customers c WHERE c.tq_id = a.tq_id) AS customers
         FROM transformer_areas a WHERE a.station_id = ?1 ORDER BY a.tq_id",
        &[&id],
    )?;
    let customers: i64 =
        conn.query_row("SELECT COUNT(*) FROM customers WHERE station_id = ?1", [id], |r| r.get(0))?;
    Ok(Some((station, areas, customers)))
}

/// One day of a series.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The value (kWh), None when unknown.
    pub kwh: Option<f64>,
}

/// One day of an area: supply, consumption, loss rate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AreaDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// 供电量.
    pub supply_kwh: Option<f64>,
    /// 售电量 (when every customer's day is known).
    pub consumption_kwh: Option<f64>,
    /// 线损率 %.
    pub loss_pct: Option<f64>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An engine failure, logged.
pub fn engine_err(e: jicha_engine::EngineError) -> AppError {
    AppError::internal(&e.to_string())
}

/// The first day of the month `months_back` months before `period`'s, and `period`'s last day.
pub fn window(period: &str, months_back: u32) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d").ok()?;
    let last = first.checked_add_months(chrono::Months::new(1))?.pred_opt()?;
    let from = first.checked_sub_months(chrono::Months::new(months_back))?;
    Some((from, last))
}

/// A customer's daily consumption between two days (every day, unknown ones as None).
pub fn customer_daily(
    consumption: &ConsumptionIndex,
    id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Day>, AppError> {
    let known: BTreeMap<i32, Option<f64>> = consumption
        .customer_days(id, days_of(from), days_of(to))
        .map_err(store_err)?
        .iter()
        .copied()
        .collect();
    Ok(every_day(from, to)
        .map(|d| Day { date: d.to_string(), kwh: known.get(&days_of(d)).copied().flatten() })
        .collect())
}

/// A store failure, logged.
pub fn store_err(e: jicha_store::StoreError) -> AppError {
    AppError::internal(&e.to_string())
}

fn days_of(d: NaiveDate) -> i32 {
    jicha_core::calendar::to_epoch_days(d)
}

fn every_day(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

/// An area's supply, its customers' consumption and the loss rate, day by day.
pub fn area_daily(
    stored: &Stored,
    tq_id: &str,
    customers: &[Member],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<AreaDay>, AppError> {
    let mut supply = BTreeMap::new();
    let sql = format!(
        "SELECT date, kwh FROM supply WHERE point_type = 'tq' AND point_id = {} AND date >= DATE '{from}'
         AND date <= DATE '{to}'",
        quote(tq_id)
    );
    for b in stored.session.run(&sql, "area_supply").map_err(engine_err)? {
        for (d, k) in columns::days(&b, "date")
            .map_err(engine_err)?
            .into_iter()
            .zip(columns::floats(&b, "kwh").map_err(engine_err)?)
        {
            if let (Some(d), Some(k)) = (d, k) {
                supply.insert(d, k);
            }
        }
    }
    let mut consumption: BTreeMap<i32, (f64, i64)> = BTreeMap::new();
    let ids: Vec<&str> = customers.iter().map(|c| c.customer_id.as_str()).collect();
    stored
        .consumption
        .each_day(&ids, days_of(from), days_of(to), |i, day, kwh| {
            if let Some(k) = kwh.filter(|_| customers[i].active(day)) {
                let c = consumption.entry(day).or_insert((0.0, 0));
                c.0 += k;
                c.1 += 1;
            }
        })
        .map_err(store_err)?;
    // A day's consumption is shown when every customer connected that day is known.
    Ok(every_day(from, to)
        .map(|d| {
            let key = days_of(d);
            let s = supply.get(&key).copied();
            let active = customers.iter().filter(|c| c.active(key)).count() as i64;
            let c = match consumption.get(&key) {
                Some((k, known)) if *known == active => Some((k * 100.0).round() / 100.0),
                _ => None,
            };
            let loss = match (s, c) {
                (Some(s), Some(c)) if s > 0.0 => Some(((s - c) / s * 10_000.0).round() / 100.0),
                _ => None,
            };
            AreaDay { date: d.to_string(), supply_kwh: s, consumption_kwh: c, loss_pct: loss }
        })
        .collect())
}
