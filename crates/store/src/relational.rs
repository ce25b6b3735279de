//! The relational tables behind one trait: SQLite now, PostgreSQL later.
//!
//! An import stages its rows beside the committed tables (with the file and line each came from),
//! checks duplicate keys and references with set queries over the staged and committed rows, and
//! then upserts everything, writes the manifest and records the import in one transaction.

use crate::error::StoreResult;
use crate::status::ImportRecord;
use jicha_core::calendar::to_epoch_days;
use jicha_core::schema::{ColumnType, Reference, Storage, TABLES, Table};
use jicha_core::value::Cell;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::Path;

/// One committed series file, as the manifest names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesFile {
    /// Series name (`readings`, `daily_usage`, `supply`, `daily_consumption`).
    pub series: String,
    /// Partition month `YYYY-MM`.
    pub month: String,
    /// Path relative to the series root.
    pub file: String,
    /// First day held, as days since 1970-01-01.
    pub min_day: i32,
    /// Last day held.
    pub max_day: i32,
    /// Rows held.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// A meter as consumption derivation needs it.
#[derive(Debug, Clone)]
pub struct MeterRow {
    /// 电能表资产编号.
    pub meter_id: String,
    /// 户号.
    pub customer_id: String,
    /// 综合倍率.
    pub multiplier: f64,
    /// 装表日期, days since 1970-01-01.
    pub installed_on: i32,
    /// 拆表日期.
    pub removed_on: Option<i32>,
}

/// A duplicate key or dangling reference found among the staged rows.
#[derive(Debug, Clone, PartialEq)]
pub struct RowIssue {
    /// The table.
    pub table: &'static str,
    /// The column (the first key column for a duplicate).
    pub column: &'static str,
    /// The staged file number.
    pub file_no: u32,
    /// The line.
    pub line: u64,
    /// The value.
    pub value: String,
    /// For a duplicate, the (file, line) of the other row with the same key.
    pub other: Option<(u32, u64)>,
}

/// What the import needs from a relational backend.
pub trait RelationalStore {
    /// Stages one validated row of a relational table.
    fn stage_row(
        &mut self,
        table: &'static Table,
        file_no: u32,
        line: u64,
        cells: &[Cell],
    ) -> StoreResult<()>;
    /// Finds duplicate keys among the staged rows and references that exist neither in the staged
    /// nor in the committed rows.
    fn check_staged(&mut self) -> StoreResult<Vec<RowIssue>>;
    /// The keys (first key column) of a table, staged and committed.
    fn known_keys(&mut self, table: &'static Table) -> StoreResult<Vec<String>>;
    /// The staged row count of each table.
    fn staged_counts(&mut self) -> StoreResult<Vec<(&'static str, u64)>>;
    /// The earliest day whose consumption the staged meters change, if any.
    fn earliest_meter_change(&mut self) -> StoreResult<Option<i32>>;
    /// Starts the commit transaction and upserts the staged rows into the committed tables.
    fn begin_commit(&mut self) -> StoreResult<()>;
    /// Every committed meter (inside the commit transaction: with the staged ones applied).
    fn meters(&mut self) -> StoreResult<Vec<MeterRow>>;
    /// The manifest.
    fn manifest(&mut self) -> StoreResult<Vec<SeriesFile>>;
    /// Replaces manifest entries inside the commit transaction.
    fn update_manifest(&mut self, removed: &[String], added: &[SeriesFile]) -> StoreResult<()>;
    /// Records the import inside the commit transaction.
    fn record_import(&mut self, record: &ImportRecord) -> StoreResult<()>;
    /// Commits: from here on the import is the stored state.
    fn commit(&mut self) -> StoreResult<()>;
}

/// SQLite backend: `jicha.sqlite` in the data dir, with an attached staging database.
pub struct Sqlite {
    conn: Connection,
    staged: Vec<&'static str>,
    insert_sql: std::collections::HashMap<&'static str, String>,
}

const SCHEMA_VERSION: &str = "1";

fn sql_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Number => "REAL",
        ColumnType::Bool => "INTEGER",
        _ => "TEXT",
    }
}

fn create_table_sql(schema: &str, t: &Table, staging: bool) -> String {
    let mut cols: Vec<String> = t.columns.iter().map(|c| format!("{} {}", c.name, sql_type(c.ty))).collect();
    if staging {
        cols.push("_file INTEGER NOT NULL".into());
        cols.push("_line INTEGER NOT NULL".into());
    } else {
        cols.push(format!("PRIMARY KEY ({})", t.key.join(", ")));
    }
    format!("CREATE TABLE IF NOT EXISTS {schema}.{} ({})", t.name, cols.join(", "))
}

/// Relational tables only.
pub fn relational_tables() -> impl Iterator<Item = &'static Table> {
    TABLES.iter().filter(|t| t.storage == Storage::Relational)
}

/// Creates the committed schema if the database is new.
pub(crate) fn create_schema(conn: &Connection) -> StoreResult<()> {
    let mut sql = String::new();
    for t in relational_tables() {
        sql.push_str(&create_table_sql("main", t, false));
        sql.push_str(";\n");
    }
    sql.push_str(
        "CREATE TABLE IF NOT EXISTS main.series_files (file TEXT PRIMARY KEY, series TEXT NOT NULL,
            month TEXT NOT NULL, min_day INTEGER NOT NULL, max_day INTEGER NOT NULL,
            rows INTEGER NOT NULL, bytes INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS main.imports (import_id INTEGER PRIMARY KEY, started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL, source TEXT NOT NULL, files INTEGER NOT NULL,
            rows INTEGER NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS main.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    );
    conn.execute_batch(&sql)?;
    conn.execute(
        "INSERT OR IGNORE INTO main.meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION],
    )?;
    Ok(())
}

/// Opens the committed database for reading (status, queries). Statements cannot write
/// (`query_only`), but the connection may: an import killed inside its commit leaves a hot
/// journal, and SQLite rolls it back on the next read only through a writable connection, which
/// is exactly the recovery wanted. It waits for an import's commit rather than failing.
pub fn open_read_only(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// `YYYY-MM-DD` written into a buffer (chrono's formatter is slow on this path).
fn date_text(d: chrono::NaiveDate, buf: &mut [u8; 19]) -> &str {
    use chrono::Datelike;
    put_digits(&mut buf[0..4], d.year().unsigned_abs());
    buf[4] = b'-';
    put_digits(&mut buf[5..7], d.month());
    buf[7] = b'-';
    put_digits(&mut buf[8..10], d.day());
    std::str::from_utf8(&buf[..10]).unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM:SS` written into a buffer.
fn datetime_text(dt: chrono::NaiveDateTime, buf: &mut [u8; 19]) -> &str {
    use chrono::Timelike;
    date_text(dt.date(), buf);
    buf[10] = b' ';
    put_digits(&mut buf[11..13], dt.hour());
    buf[13] = b':';
    put_digits(&mut buf[14..16], dt.minute());
    buf[16] = b':';
    put_digits(&mut buf[17..19], dt.second());
    std::str::from_utf8(&buf[..19]).unwrap_or_default()
}

fn put_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn parse_day(text: &str) -> Option<i32> {
    jicha_core::calendar::parse_date(text).map(to_epoch_days)
}

impl Sqlite {
    /// Opens (creating if needed) the committed database and attaches a fresh staging database.
    pub fn open_for_import(database: &Path, staging: &Path) -> StoreResult<Sqlite> {
        let conn = Connection::open(database)?;
        // Readers (status, the audit engine) may hold the database for a moment: wait for them.
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "DELETE")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "cache_size", -262_144)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        create_schema(&conn)?;
        conn.execute("ATTACH DATABASE ?1 AS staging", [staging.to_string_lossy()])?;
        conn.execute_batch("PRAGMA staging.journal_mode = OFF; PRAGMA staging.synchronous = OFF;")?;
        let mut sql = String::new();
        for t in relational_tables() {
            sql.push_str(&create_table_sql("staging", t, true));
            sql.push_str(";\n");
        }
        conn.execute_batch(&sql)?;
        conn.execute_batch("BEGIN")?;
        // Indexes the pages read by (a customer's meters, bills and payments; a station's or an
        // area's customers), made inside the import's transaction: a refused import adds none.
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS main.customers_station ON customers (station_id);
             CREATE INDEX IF NOT EXISTS main.customers_tq ON customers (tq_id);
             CREATE INDEX IF NOT EXISTS main.meters_customer ON meters (customer_id);
             CREATE INDEX IF NOT EXISTS main.bills_customer ON bills (customer_id);
             CREATE INDEX IF NOT EXISTS main.payments_bill ON payments (bill_id);",
        )?;
        Ok(Sqlite { conn, staged: Vec::new(), insert_sql: std::collections::HashMap::new() })
    }

    fn end_staging(&mut self) -> StoreResult<()> {
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    fn index_staged(&mut self) -> StoreResult<()> {
        self.end_staging()?;
        for t in relational_tables() {
            let key = t.key.join(", ");
            self.conn.execute_batch(&format!(
                "CREATE INDEX IF NOT EXISTS staging.{0}_key ON {0} ({1})",
                t.name, key
            ))?;
        }
        Ok(())
    }
}

impl RelationalStore for Sqlite {
    fn stage_row(
        &mut self,
        table: &'static Table,
        file_no: u32,
        line: u64,
        cells: &[Cell],
    ) -> StoreResult<()> {
        if !self.staged.contains(&table.name) {
            self.staged.push(table.name);
        }
        let sql = self.insert_sql.entry(table.name).or_insert_with(|| {
            let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
            format!(
                "INSERT INTO staging.{} ({}, _file, _line) VALUES ({})",
                table.name,
                names.join(", "),
                vec!["?"; names.len() + 2].join(", ")
            )
        });
        let mut stmt = self.conn.prepare_cached(sql)?;
        // Bound in place: no per-row vector of owned values on this path (tens of millions of
        // bills and payments go through it).
        let mut text = [0u8; 19];
        for (i, cell) in cells.iter().enumerate() {
            let at = i + 1;
            match *cell {
                Cell::Null => stmt.raw_bind_parameter(at, rusqlite::types::Null)?,
                Cell::Text(t) => stmt.raw_bind_parameter(at, t)?,
                Cell::Code(c) => stmt.raw_bind_parameter(at, c)?,
                Cell::Number(n) => stmt.raw_bind_parameter(at, n)?,
                Cell::Bool(b) => stmt.raw_bind_parameter(at, i64::from(b))?,
                Cell::Date(d) => stmt.raw_bind_parameter(at, date_text(d, &mut text))?,
                Cell::DateTime(dt) => stmt.raw_bind_parameter(at, datetime_text(dt, &mut text))?,
                Cell::Period(p) => stmt.raw_bind_parameter(at, p.to_string())?,
            }
        }
        stmt.raw_bind_parameter(cells.len() + 1, i64::from(file_no))?;
        stmt.raw_bind_parameter(cells.len() + 2, line as i64)?;
        stmt.raw_execute()?;
        Ok(())
    }

    fn check_staged(&mut self) -> StoreResult<Vec<RowIssue>> {
        self.index_staged()?;
        let mut issues = Vec::new();
        for t in relational_tables() {
            if !self.staged.contains(&t.name) {
                continue;
            }
            // Duplicate keys: every later row paired with the first row of its key.
            let keys = t.key.join(", ");
            let sql = format!(
                "WITH d AS (SELECT {keys} FROM staging.{t} GROUP BY {keys} HAVING count(*) > 1),
                 r AS (SELECT s._file, s._line, s.{first},
                         row_number() OVER w AS n,
                         first_value(s._file) OVER w AS f0, first_value(s._line) OVER w AS l0
                       FROM staging.{t} s JOIN d USING ({keys})
                       WINDOW w AS (PARTITION BY {keys_s} ORDER BY s._file, s._line))
                 SELECT _file, _line, {first}, f0, l0 FROM r WHERE n > 1 ORDER BY _file, _line",
                first = t.key[0],
                t = t.name,
                keys_s = t.key.iter().map(|k| format!("s.{k}")).collect::<Vec<_>>().join(", "),
            );
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| {
                Ok(RowIssue {
                    table: t.name,
                    column: t.key[0],
                    file_no: r.get::<_, i64>(0)? as u32,
                    line: r.get::<_, i64>(1)? as u64,
                    value: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    other: Some((r.get::<_, i64>(3)? as u32, r.get::<_, i64>(4)? as u64)),
                })
            })?;
            for row in rows {
                issues.push(row?);
            }
            for c in t.columns {
                let sql = match c.reference {
                    None => continue,
                    Some(Reference::Table(target)) => {
                        let Some(tt) = jicha_core::schema::table(target) else { continue };
                        let k = tt.key[0];
                        format!(
                            "SELECT s._file, s._line, s.{col} FROM staging.{t} s
                             WHERE s.{col} IS NOT NULL
                               AND NOT EXISTS (SELECT 1 FROM staging.{target} r WHERE r.{k} = s.{col})
                               AND NOT EXISTS (SELECT 1 FROM main.{target} r WHERE r.{k} = s.{col})
                             ORDER BY s._file, s._line",
                            col = c.name,
                            t = t.name,
                        )
                    }
                    Some(Reference::PointBy(kind_col)) => format!(
                        "SELECT s._file, s._line, s.{col} FROM staging.{t} s
                         WHERE CASE s.{kind_col}
                           WHEN 'tq' THEN NOT EXISTS (SELECT 1 FROM staging.transformer_areas r WHERE r.tq_id = s.{col})
                                      AND NOT EXISTS (SELECT 1 FROM main.transformer_areas r WHERE r.tq_id = s.{col})
                           ELSE NOT EXISTS (SELECT 1 FROM staging.feeders r WHERE r.feeder_id = s.{col})
                                      AND NOT EXISTS (SELECT 1 FROM main.feeders r WHERE r.feeder_id = s.{col})
                           END
                         ORDER BY s._file, s._line",
                        col = c.name,
                        t = t.name,
                    ),
                };
                let mut stmt = self.conn.prepare(&sql)?;
                let rows = stmt.query_map([], |r| {
                    Ok(RowIssue {
                        table: t.name,
                        column: c.name,
                        file_no: r.get::<_, i64>(0)? as u32,
                        line: r.get::<_, i64>(1)? as u64,
                        value: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        other: None,
                    })
                })?;
                for row in rows {
                    issues.push(row?);
                }
            }
        }
        Ok(issues)
    }

    fn known_keys(&mut self, table: &'static Table) -> StoreResult<Vec<String>> {
        self.end_staging()?;
        let k = table.key[0];
        let sql = format!("SELECT {k} FROM staging.{t} UNION SELECT {k} FROM main.{t}", t = table.name);
        let mut stmt = self.conn.prepare(&sql)?;
        let keys = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(keys)
    }

    fn staged_counts(&mut self) -> StoreResult<Vec<(&'static str, u64)>> {
        self.end_staging()?;
        let mut out = Vec::new();
        for t in relational_tables() {
            if self.staged.contains(&t.name) {
                let n: i64 =
                    self.conn
                        .query_row(&format!("SELECT count(*) FROM staging.{}", t.name), [], |r| r.get(0))?;
                out.push((t.name, n as u64));
            }
        }
        Ok(out)
    }

    fn earliest_meter_change(&mut self) -> StoreResult<Option<i32>> {
        self.end_staging()?;
        let mut stmt = self.conn.prepare(
            "SELECT s.installed_on, m.installed_on FROM staging.meters s
             LEFT JOIN main.meters m ON m.meter_id = s.meter_id
             WHERE m.meter_id IS NULL OR s.multiplier IS NOT m.multiplier
                OR s.installed_on IS NOT m.installed_on OR s.removed_on IS NOT m.removed_on
                OR s.customer_id IS NOT m.customer_id",
        )?;
        let mut earliest: Option<i32> = None;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))?;
        for row in rows {
            let (new, old) = row?;
            for d in [Some(new), old].into_iter().flatten().filter_map(|t| parse_day(&t)) {
                earliest = Some(earliest.map_or(d, |e| e.min(d)));
            }
        }
        Ok(earliest)
    }

    fn begin_commit(&mut self) -> StoreResult<()> {
        self.end_staging()?;
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        for t in relational_tables() {
            if !self.staged.contains(&t.name) {
                continue;
            }
            let cols: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
            let cols = cols.join(", ");
            self.conn.execute(
                &format!(
                    // In key order (the staging key index gives it): appends to the primary-key
                    // B-tree instead of inserting at random places. Staged keys are unique.
                    "INSERT OR REPLACE INTO main.{t} ({cols}) SELECT {cols} FROM staging.{t} ORDER BY {keys}",
                    t = t.name,
                    keys = t.key.join(", ")
                ),
                [],
            )?;
        }
        Ok(())
    }

    fn meters(&mut self) -> StoreResult<Vec<MeterRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT meter_id, customer_id, multiplier, installed_on, removed_on FROM main.meters ORDER BY customer_id, installed_on, meter_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (meter_id, customer_id, multiplier, installed, removed) = row?;
            let installed_on = parse_day(&installed)
                .ok_or_else(|| crate::StoreError::Corrupt(format!("meters.installed_on {installed}")))?;
            out.push(MeterRow {
                meter_id,
                customer_id,
                multiplier,
                installed_on,
                removed_on: removed.as_deref().and_then(parse_day),
            });
        }
        Ok(out)
    }

    fn manifest(&mut self) -> StoreResult<Vec<SeriesFile>> {
        read_manifest(&self.conn)
    }

    fn update_manifest(&mut self, removed: &[String], added: &[SeriesFile]) -> StoreResult<()> {
        {
            let mut del = self.conn.prepare_cached("DELETE FROM main.series_files WHERE file = ?1")?;
            for f in removed {
                del.execute([f])?;
            }
        }
        let mut ins = self.conn.prepare_cached(
            "INSERT INTO main.series_files (file, series, month, min_day, max_day, rows, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for f in added {
            ins.execute(rusqlite::params![
                f.file,
                f.series,
                f.month,
                f.min_day,
                f.max_day,
                f.rows as i64,
                f.bytes as i64
            ])?;
        }
        Ok(())
    }

    fn record_import(&mut self, r: &ImportRecord) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO main.imports (started_at, finished_at, source, files, rows, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![r.started_at, r.finished_at, r.source, r.files as i64, r.rows as i64, r.outcome, r.detail],
        )?;
        let next = data_version(&self.conn)?.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + 1;
        self.conn.execute(
            "INSERT OR REPLACE INTO main.meta (key, value) VALUES ('data_version', ?1)",
            [next.to_string()],
        )?;
        Ok(())
    }

    fn commit(&mut self) -> StoreResult<()> {
        self.conn.execute_batch("COMMIT")?;
        self.conn.execute_batch("DETACH DATABASE staging")?;
        Ok(())
    }
}

/// The store's data version (raised by every committed import), None before the first import.
pub fn data_version(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM main.meta WHERE key = 'data_version'", [], |row| row.get(0)).optional()
}

/// Reads the manifest from a connection.
/// The first and last day that files with rows hold (None: none has rows).
pub fn span<'a>(files: impl IntoIterator<Item = &'a SeriesFile>) -> Option<(i32, i32)> {
    files
        .into_iter()
        .filter(|f| f.rows > 0)
        .map(|f| (f.min_day, f.max_day))
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
}

pub(crate) fn read_manifest(conn: &Connection) -> StoreResult<Vec<SeriesFile>> {
    let mut stmt = conn.prepare(
        "SELECT series, month, file, min_day, max_day, rows, bytes FROM main.series_files ORDER BY series, month, min_day",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(SeriesFile {
            series: r.get(0)?,
            month: r.get(1)?,
            file: r.get(2)?,
            min_day: r.get(3)?,
            max_day: r.get(4)?,
            rows: r.get::<_, i64>(5)? as u64,
            bytes: r.get::<_, i64>(6)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_are_written_as_stored() {
        let mut buf = [0u8; 19];
        let d = chrono::NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
        assert_eq!(date_text(d, &mut buf), "2026-03-05");
        let dt = d.and_hms_opt(8, 7, 0).unwrap();
        assert_eq!(datetime_text(dt, &mut buf), "2026-03-05 08:07:00");
    }
}
