//! What is stored: counts, date ranges, stations and the last imports.

use crate::error::{StoreError, StoreResult};
use crate::layout::DataDir;
use crate::relational::{open_read_only, read_manifest, relational_tables, span};
use crate::series::Series;
use chrono::NaiveDate;
use jicha_core::calendar::{Period, from_epoch_days};
use serde::Serialize;

/// One import as the history records it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportRecord {
    /// When it started (local time).
    pub started_at: String,
    /// When it committed.
    pub finished_at: String,
    /// What was imported (the path given).
    pub source: String,
    /// Files read.
    pub files: u64,
    /// Rows stored.
    pub rows: u64,
    /// `committed`.
    pub outcome: String,
    /// Rows per table.
    pub detail: String,
}

/// One table's row count and date range.
#[derive(Debug, Clone, Serialize)]
pub struct TableStatus {
    /// Table or series name.
    pub table: String,
    /// Chinese name.
    pub name_zh: String,
    /// Rows stored.
    pub rows: u64,
    /// First date (or period) stored, where the table has one.
    pub first: Option<String>,
    /// Last date (or period) stored.
    pub last: Option<String>,
    /// Partition files (series only).
    pub files: Option<u64>,
    /// Bytes on disk (series only).
    pub bytes: Option<u64>,
}

/// A station and its customer count.
#[derive(Debug, Clone, Serialize)]
pub struct StationStatus {
    /// 供电单位编码.
    pub station_id: String,
    /// 供电单位名称.
    pub name: String,
    /// Customers stored.
    pub customers: u64,
}

/// Everything `jicha status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The data dir.
    pub data_dir: String,
    /// Version counter, raised by each committed import.
    pub data_version: u64,
    /// Tables and series.
    pub tables: Vec<TableStatus>,
    /// Stations.
    pub stations: Vec<StationStatus>,
    /// The last imports, newest first.
    pub imports: Vec<ImportRecord>,
}

/// Which column gives a relational table's date range.
fn date_column(table: &str) -> Option<&'static str> {
    Some(match table {
        "customers" => "opened_on",
        "meters" => "installed_on",
        "tariffs" => "valid_from",
        "bills" | "surveys" => "period",
        "payments" => "paid_on",
        "work_orders" => "accepted_at",
        "outages" => "start_at",
        "field_checks" => "checked_on",
        _ => return None,
    })
}

impl Status {
    /// Reads the status of a data dir without changing anything in it.
    pub fn read(dir: &DataDir) -> StoreResult<Status> {
        if !dir.exists() {
            return Err(StoreError::Missing(dir.root().to_owned()));
        }
        let conn = open_read_only(&dir.database())?;
        let mut tables = Vec::new();
        for t in relational_tables() {
            let (rows, first, last): (i64, Option<String>, Option<String>) = match date_column(t.name) {
                Some(c) => conn.query_row(
                    &format!("SELECT count(*), min({c}), max({c}) FROM {}", t.name),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?,
                None => (
                    conn.query_row(&format!("SELECT count(*) FROM {}", t.name), [], |r| r.get(0))?,
                    None,
                    None,
                ),
            };
            let shorten = |s: String| s.chars().take(10).collect::<String>();
            tables.push(TableStatus {
                table: t.name.into(),
                name_zh: t.name_zh.into(),
                rows: rows as u64,
                first: first.map(shorten),
                last: last.map(shorten),
                files: None,
                bytes: None,
            });
        }
        let manifest = read_manifest(&conn)?;
        for s in Series::ALL {
            let files: Vec<_> = manifest.iter().filter(|f| f.series == s.name()).collect();
            let name_zh = match s {
                Series::Readings => "日冻结示数",
                Series::DailyUsage => "日用电量",
                Series::Supply => "供电量",
                Series::DailyConsumption => "日用电量(推导)",
            };
            tables.push(TableStatus {
                table: s.name().into(),
                name_zh: name_zh.into(),
                rows: files.iter().map(|f| f.rows).sum(),
                first: span(files.iter().copied()).map(|(d, _)| from_epoch_days(d).to_string()),
                last: span(files.iter().copied()).map(|(_, d)| from_epoch_days(d).to_string()),
                files: Some(files.len() as u64),
                bytes: Some(files.iter().map(|f| f.bytes).sum()),
            });
        }
        let mut stmt = conn.prepare(
            "SELECT s.station_id, s.name, (SELECT count(*) FROM customers c WHERE c.station_id = s.station_id)
             FROM stations s ORDER BY s.station_id",
        )?;
        let stations = stmt
            .query_map([], |r| {
                Ok(StationStatus {
                    station_id: r.get(0)?,
                    name: r.get(1)?,
                    customers: r.get::<_, i64>(2)? as u64,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt = conn.prepare(
            "SELECT started_at, finished_at, source, files, rows, outcome, detail FROM imports ORDER BY import_id DESC LIMIT 10",
        )?;
        let imports = stmt
            .query_map([], |r| {
                Ok(ImportRecord {
                    started_at: r.get(0)?,
                    finished_at: r.get(1)?,
                    source: r.get(2)?,
                    files: r.get::<_, i64>(3)? as u64,
                    rows: r.get::<_, i64>(4)? as u64,
                    outcome: r.get(5)?,
                    detail: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let data_version =
            crate::relational::data_version(&conn).ok().flatten().and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(Status { data_dir: dir.root().display().to_string(), data_version, tables, stations, imports })
    }
}

/// What keeps a month's audit from being a true one: the stored daily usage (readings, daily
/// kWh or the consumption derived from them) ends before the month's last day, or the stored bills
/// before the month. Each kind counts only when any of it is stored at all, so a county that loads
/// no bills is not held up by them. `None` when the month is in; otherwise why, in Chinese and
/// English, e.g. for a scheduled monthly audit that must wait for the month's import instead of
/// listing every customer as missing its readings.
pub fn month_not_in(dir: &DataDir, period: Period) -> StoreResult<Option<String>> {
    not_in(dir, &period.to_string(), |conn, ends| {
        let mut lacks = Vec::new();
        if let Some(day) = ends.usage.filter(|d| *d < period.last_day()) {
            lacks.push((format!("日电量只到 {day}"), format!("the daily usage ends on {day}")));
        }
        let bills_end: Option<String> = conn.query_row("SELECT max(period) FROM bills", [], |r| r.get(0))?;
        if let Some(last) = bills_end.and_then(|p| Period::parse(&p)).filter(|p| *p < period) {
            lacks.push((format!("电费发行只到 {last}"), format!("the bills end with {last}")));
        }
        Ok(lacks)
    })
}

/// What keeps a day's watch and briefing from being true ones: the stored daily consumption or
/// the stored supply ends before the day (each only when any of it is stored). Without it the
/// briefing would give the day's supply as unknown and find no drop, as if nothing had happened.
pub fn day_not_in(dir: &DataDir, day: NaiveDate) -> StoreResult<Option<String>> {
    not_in(dir, &day.to_string(), |_, ends| {
        let mut lacks = Vec::new();
        if let Some(end) = ends.consumption.filter(|d| *d < day) {
            lacks.push((format!("日用电量只到 {end}"), format!("the daily consumption ends on {end}")));
        }
        if let Some(end) = ends.supply.filter(|d| *d < day) {
            lacks.push((format!("供电量只到 {end}"), format!("the supply ends on {end}")));
        }
        Ok(lacks)
    })
}

/// The last stored day of the daily usage (any of its series), of the daily consumption (a day's
/// consumption from readings needs the next day's reading; daily kWh give it at once) and of the
/// supply.
struct SeriesEnds {
    usage: Option<NaiveDate>,
    consumption: Option<NaiveDate>,
    supply: Option<NaiveDate>,
}

/// Why the data of `what` (a month or a day) is not all in, from what `lacks` finds missing
/// (Chinese, English); with nothing imported at all, that.
fn not_in(
    dir: &DataDir,
    what: &str,
    lacks: impl FnOnce(&rusqlite::Connection, &SeriesEnds) -> StoreResult<Vec<(String, String)>>,
) -> StoreResult<Option<String>> {
    if !dir.database().exists() {
        return Ok(Some(format!(
            "{what} 的数据尚未导入：还没有导入任何数据 / {what}'s data is not imported: nothing is"
        )));
    }
    let conn = open_read_only(&dir.database())?;
    let manifest = read_manifest(&conn)?;
    let end = |of: &[Series]| {
        span(manifest.iter().filter(|f| of.iter().any(|s| f.series == s.name()))).map(|s| s.1)
    };
    let ends = SeriesEnds {
        usage: end(&[Series::Readings, Series::DailyUsage, Series::DailyConsumption]).map(from_epoch_days),
        consumption: end(&[Series::Readings])
            .map(|d| d - 1)
            .max(end(&[Series::DailyUsage]))
            .map(from_epoch_days),
        supply: end(&[Series::Supply]).map(from_epoch_days),
    };
    let (zh, en): (Vec<String>, Vec<String>) = lacks(&conn, &ends)?.into_iter().unzip();
    Ok((!zh.is_empty()).then(|| {
        format!(
            "{what} 的数据尚未导入齐（{}）/ {what}'s data is not all imported yet ({})",
            zh.join("，"),
            en.join(", ")
        )
    }))
}
