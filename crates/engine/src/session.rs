//! The query session over the data dir: every series the manifest names as a Parquet listing
//! table over exactly those files, the relational tables read from SQLite into Arrow when a theme
//! first needs them, and the derived `tq_daily` view.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, RecordBatch, StringBuilder,
    TimestampSecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use jicha_core::calendar::{parse_date, parse_datetime, to_epoch_days};
use jicha_core::schema::{ColumnType, Table};
use jicha_store::DataDir;
use jicha_store::relational::{SeriesFile, data_version, open_read_only, relational_tables};
use jicha_store::scan::manifest;
use jicha_store::series::Series;
use rusqlite::types::ValueRef;

use crate::error::{EngineError, EngineResult, query_err};
use crate::snapshot;

/// The derived view of each transformer area's day: its supply, the consumption of its customers
/// active that day, and whether the day is valid (a supply figure and every such customer's
/// consumption known). The loss themes compute the same in one pass (`kernels::area_days`); the
/// view is for custom themes.
const TQ_DAILY_SQL: &str = "
SELECT s.point_id AS tq_id, s.date AS date, s.kwh AS supply_kwh,
       SUM(CASE WHEN c.customer_id IS NOT NULL THEN dc.kwh END) AS consumption_kwh,
       COUNT(c.customer_id) = COUNT(dc.kwh) AS valid
FROM (SELECT point_id, date, kwh FROM supply WHERE point_type = 'tq') s
LEFT JOIN customers c
  ON c.tq_id = s.point_id AND c.opened_on <= s.date AND (c.closed_on IS NULL OR s.date < c.closed_on)
LEFT JOIN daily_consumption dc
  ON dc.customer_id = c.customer_id AND dc.date = s.date
GROUP BY s.point_id, s.date, s.kwh";

/// Which columns of a table hold at least one value, and how many rows it has.
#[derive(Debug, Clone, Default)]
pub struct Presence {
    /// Rows.
    pub rows: u64,
    /// Columns with at least one non-empty value.
    pub columns: BTreeSet<String>,
}

/// One shared result, or none yet; its lock is held while it is computed.
type Memo = Arc<Mutex<Option<Arc<dyn Any + Send + Sync>>>>;

/// A DataFusion session over one data dir.
pub struct Session {
    dir: DataDir,
    ctx: SessionContext,
    runtime: tokio::runtime::Runtime,
    presence: BTreeMap<String, Presence>,
    memo: Mutex<HashMap<String, Memo>>,
    /// The manifest read when the session opened.
    files: Vec<SeriesFile>,
}

impl Session {
    /// Opens the data dir: registers every series the manifest names.
    pub fn open(dir: &DataDir) -> EngineResult<Session> {
        let files = manifest(dir)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| EngineError::Internal(format!("tokio runtime: {e}")))?;
        // Statistics let COUNT(column) and date filters be answered from Parquet metadata.
        let config = SessionConfig::new().with_collect_statistics(true);
        let ctx = SessionContext::new_with_config(config);
        let mut session = Session {
            dir: dir.clone(),
            ctx,
            runtime,
            presence: BTreeMap::new(),
            memo: Mutex::new(HashMap::new()),
            files: Vec::new(),
        };
        for series in Series::ALL {
            let paths: Vec<String> = files
                .iter()
                .filter(|f| f.series == series.name())
                .map(|f| dir.series_file(&f.file).to_string_lossy().into_owned())
                .collect();
            let rows: u64 = files.iter().filter(|f| f.series == series.name()).map(|f| f.rows).sum();
            session.register_series(series, &paths)?;
            let mut p = Presence { rows, columns: BTreeSet::new() };
            if rows > 0 {
                for (name, _, required) in series.columns() {
                    if required {
                        p.columns.insert(name.to_string());
                    }
                }
            }
            session.presence.insert(series.name().to_string(), p);
        }
        session.files = files;
        // By series, for `series_files`.
        session.files.sort_by(|a, b| a.series.cmp(&b.series));
        Ok(session)
    }

    fn register_series(&mut self, series: Series, paths: &[String]) -> EngineResult<()> {
        let schema = series.schema();
        let context = format!("注册 / register {}", series.name());
        if paths.is_empty() {
            let table = MemTable::try_new(schema, vec![vec![]]).map_err(query_err(&context))?;
            self.ctx.register_table(series.name(), Arc::new(table)).map_err(query_err(&context))?;
            return Ok(());
        }
        let urls = paths
            .iter()
            .map(ListingTableUrl::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(query_err(&context))?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config =
            ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).with_schema(schema);
        let table = ListingTable::try_new(config).map_err(query_err(&context))?;
        self.ctx.register_table(series.name(), Arc::new(table)).map_err(query_err(&context))?;
        Ok(())
    }

    /// Whether a loaded table or series has any row.
    pub fn has_rows(&self, table: &str) -> bool {
        self.row_count(table) > 0
    }

    /// Rows of a loaded table or series (0 when not loaded).
    pub fn row_count(&self, table: &str) -> u64 {
        self.presence.get(table).map_or(0, |p| p.rows)
    }

    /// The committed files of a series, as the manifest named them when the session opened.
    pub fn series_files(&self, series: Series) -> &[SeriesFile] {
        let at = self.files.partition_point(|f| f.series.as_str() < series.name());
        let to = at + self.files[at..].partition_point(|f| f.series == series.name());
        &self.files[at..to]
    }

    /// The data dir.
    pub fn dir(&self) -> &DataDir {
        &self.dir
    }

    /// The DataFusion context, for custom queries.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Loads relational tables (and the views built on them) not loaded yet.
    pub fn require(&mut self, tables: &[&str]) -> EngineResult<()> {
        let mut wanted: Vec<&str> = Vec::new();
        for &t in tables {
            if t == "tq_daily" {
                wanted.push("customers");
            } else {
                wanted.push(t);
            }
        }
        let missing: Vec<&'static Table> = relational_tables()
            .filter(|t| wanted.contains(&t.name) && !self.presence.contains_key(t.name))
            .collect();
        if !missing.is_empty() {
            // From the snapshots of this data version where they exist; else each table on its own
            // thread and connection (the big ones, bills and payments, read side by side), then
            // snapshotted for the next run.
            let db = self.dir.database();
            let dir = &self.dir;
            let read: Vec<EngineResult<Vec<RecordBatch>>> = std::thread::scope(|scope| {
                let handles: Vec<_> = missing
                    .iter()
                    .map(|table| {
                        let db = &db;
                        scope.spawn(move || {
                            let conn = open_read_only(db)?;
                            let err =
                                |source| EngineError::Relational { table: table.name.to_string(), source };
                            // One read transaction: the version names exactly the rows read.
                            conn.execute_batch("BEGIN").map_err(err)?;
                            // No version readable: no snapshot is read or written.
                            let version = data_version(&conn).ok().flatten();
                            if let Some(v) = &version
                                && let Some(batches) =
                                    snapshot::read(dir, table.name, v, &table_schema(table))
                            {
                                return Ok(batches);
                            }
                            let batch = read_table(&conn, table)?;
                            if let Some(v) = &version {
                                // A snapshot that cannot be written costs only the next run's read.
                                let _ = snapshot::write(dir, table.name, v, &batch);
                            }
                            Ok(vec![batch])
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(EngineError::Internal("reader thread panicked".into())))
                    })
                    .collect()
            });
            let parts = self.ctx.copied_config().target_partitions().max(1);
            let batch_size = self.ctx.copied_config().batch_size().max(1);
            for (table, loaded) in missing.into_iter().zip(read) {
                let batches = loaded?;
                let presence = presence_of(table, &batches);
                let context = format!("注册 / register {}", table.name);
                let mem = MemTable::try_new(
                    Arc::new(table_schema(table)),
                    partitioned(&batches, parts, batch_size),
                )
                .map_err(query_err(&context))?;
                self.ctx.register_table(table.name, Arc::new(mem)).map_err(query_err(&context))?;
                self.presence.insert(table.name.to_string(), presence);
            }
        }
        if tables.contains(&"tq_daily") && !self.presence.contains_key("tq_daily") {
            let sql = format!("CREATE VIEW tq_daily AS {TQ_DAILY_SQL}");
            self.run(&sql, "tq_daily")?;
            let (s, c) = (&self.presence["supply"], &self.presence["customers"]);
            let mut p = Presence { rows: s.rows.min(c.rows.max(1)), columns: BTreeSet::new() };
            if s.rows > 0 {
                for col in ["tq_id", "date", "supply_kwh", "consumption_kwh", "valid"] {
                    p.columns.insert(col.to_string());
                }
            }
            self.presence.insert("tq_daily".to_string(), p);
        }
        Ok(())
    }

    /// Why a table or its columns cannot feed a theme, or `None` when they can. A column counts as
    /// present when it holds at least one value; a series column when the series has rows and,
    /// for an optional column, one value.
    pub fn missing(&mut self, table: &str, columns: &[&str]) -> EngineResult<Option<String>> {
        let Some(p) = self.presence.get(table) else {
            return Ok(Some(format!("表 {table} 未加载 / table {table} not loaded")));
        };
        if p.rows == 0 {
            return Ok(Some(format!("表 {table} 无数据 / table {table} is empty")));
        }
        let absent: Vec<&str> = columns.iter().copied().filter(|c| !p.columns.contains(*c)).collect();
        let mut still = Vec::new();
        for c in absent {
            // Optional series columns: ask the Parquet statistics once.
            if Series::from_name(table).is_some() {
                let sql = format!("SELECT COUNT(\"{c}\") FROM {table}");
                let n = self.run(&sql, &format!("{table}.{c}")).ok().and_then(|b| first_i64(&b)).unwrap_or(0);
                if n > 0 {
                    if let Some(p) = self.presence.get_mut(table) {
                        p.columns.insert(c.to_string());
                    }
                    continue;
                }
            }
            still.push(c);
        }
        if still.is_empty() {
            Ok(None)
        } else {
            let list = still.join(", ");
            Ok(Some(format!("表 {table} 缺少列 {list} / table {table} lacks {list}")))
        }
    }

    /// An intermediate result several themes share (the customers' archive, a month's
    /// consumption per customer, ...), computed by the first theme that asks for it under `key`
    /// and kept for the rest of the session. The key must name everything the result depends on.
    /// Themes running at the same time that ask for one key wait for the first one's result
    /// instead of computing it again; a failed computation is not kept.
    pub fn memo<T: Any + Send + Sync>(
        &self,
        key: &str,
        compute: impl FnOnce() -> EngineResult<T>,
    ) -> EngineResult<Arc<T>> {
        let poisoned = || EngineError::Internal("memo poisoned".into());
        let slot = self.memo.lock().map_err(|_| poisoned())?.entry(key.to_string()).or_default().clone();
        let mut value = slot.lock().map_err(|_| poisoned())?;
        if let Some(v) = value.clone() {
            return v
                .downcast::<T>()
                .map_err(|_| EngineError::Internal(format!("memo {key} holds another type")));
        }
        let v = Arc::new(compute()?);
        *value = Some(v.clone());
        Ok(v)
    }

    /// Runs a query and hands each result batch to `f` as it arrives: the scan decodes on the
    /// runtime's threads while `f` works, and the result is never held whole (for the big scans
    /// the kernels aggregate).
    pub fn for_each_batch(
        &self,
        sql: &str,
        context: &str,
        mut f: impl FnMut(&RecordBatch) -> EngineResult<()>,
    ) -> EngineResult<()> {
        use futures::StreamExt;
        self.runtime.block_on(async {
            let df = self.ctx.sql(sql).await.map_err(query_err(context))?;
            let mut stream = df.execute_stream().await.map_err(query_err(context))?;
            while let Some(batch) = stream.next().await {
                f(&batch.map_err(query_err(context))?)?;
            }
            Ok(())
        })
    }

    /// Runs a query to completion.
    pub fn run(&self, sql: &str, context: &str) -> EngineResult<Vec<RecordBatch>> {
        self.runtime.block_on(async {
            let df = self.ctx.sql(sql).await.map_err(query_err(context))?;
            df.collect().await.map_err(query_err(context))
        })
    }
}

impl Session {
    /// Runs a query from a user (a custom theme): DDL, DML and other statements are refused, so
    /// it can read the registered tables but never write or reach outside the data dir.
    pub fn run_read_only(&self, sql: &str, context: &str) -> EngineResult<Vec<RecordBatch>> {
        let options =
            SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        self.runtime.block_on(async {
            let df = self.ctx.sql_with_options(sql, options).await.map_err(query_err(context))?;
            df.collect().await.map_err(query_err(context))
        })
    }
}

/// A date literal for SQL.
pub fn date_lit(day: i32) -> String {
    format!("DATE '{}'", jicha_core::calendar::from_epoch_days(day))
}

fn first_i64(batches: &[RecordBatch]) -> Option<i64> {
    let b = batches.iter().find(|b| b.num_rows() > 0)?;
    let col = datafusion::arrow::compute::cast(b.column(0), &DataType::Int64).ok()?;
    let a = col.as_any().downcast_ref::<datafusion::arrow::array::Int64Array>()?;
    (!a.is_null(0)).then(|| a.value(0))
}

enum Builder {
    Text(StringBuilder),
    Number(Float64Builder),
    Date(Date32Builder),
    DateTime(TimestampSecondBuilder),
    Bool(BooleanBuilder),
}

fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Number => DataType::Float64,
        ColumnType::Date => DataType::Date32,
        ColumnType::DateTime => DataType::Timestamp(TimeUnit::Second, None),
        ColumnType::Bool => DataType::Boolean,
        _ => DataType::Utf8,
    }
}

/// Reads a whole relational table into one batch: dates as Date32, date-times as timestamps
/// (local time, no zone), text and codes as Utf8, empty text as null.
fn read_table(conn: &rusqlite::Connection, table: &Table) -> EngineResult<RecordBatch> {
    let err = |source| EngineError::Relational { table: table.name.to_string(), source };
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let sql = format!("SELECT {} FROM {}", names.join(", "), table.name);
    let mut stmt = conn.prepare(&sql).map_err(err)?;
    let mut builders: Vec<Builder> = table
        .columns
        .iter()
        .map(|c| match c.ty {
            ColumnType::Number => Builder::Number(Float64Builder::new()),
            ColumnType::Date => Builder::Date(Date32Builder::new()),
            ColumnType::DateTime => Builder::DateTime(TimestampSecondBuilder::new()),
            ColumnType::Bool => Builder::Bool(BooleanBuilder::new()),
            _ => Builder::Text(StringBuilder::new()),
        })
        .collect();
    let mut q = stmt.query([]).map_err(err)?;
    while let Some(row) = q.next().map_err(err)? {
        for (i, b) in builders.iter_mut().enumerate() {
            let v = row.get_ref(i).map_err(err)?;
            let text = match v {
                ValueRef::Text(t) => std::str::from_utf8(t).ok().map(str::trim).filter(|t| !t.is_empty()),
                _ => None,
            };
            match b {
                Builder::Text(b) => b.append_option(text),
                Builder::Number(b) => {
                    let x = match v {
                        ValueRef::Real(x) => Some(x),
                        ValueRef::Integer(n) => Some(n as f64),
                        _ => text.and_then(|t| t.parse().ok()),
                    };
                    b.append_option(x);
                }
                Builder::Date(b) => {
                    let d = text.and_then(parse_date).map(to_epoch_days);
                    b.append_option(d);
                }
                Builder::DateTime(b) => {
                    let t = text.and_then(parse_datetime).map(|t| t.and_utc().timestamp());
                    b.append_option(t);
                }
                Builder::Bool(b) => {
                    let x = match v {
                        ValueRef::Integer(n) => Some(n != 0),
                        ValueRef::Real(x) => Some(x != 0.0),
                        _ => text.and_then(jicha_core::codes::parse_bool),
                    };
                    b.append_option(x);
                }
            }
        }
    }
    let schema: SchemaRef = Arc::new(table_schema(table));
    let arrays: Vec<ArrayRef> = builders
        .into_iter()
        .map(|b| -> ArrayRef {
            match b {
                Builder::Text(mut b) => Arc::new(b.finish()),
                Builder::Number(mut b) => Arc::new(b.finish()),
                Builder::Date(mut b) => Arc::new(b.finish()),
                Builder::DateTime(mut b) => Arc::new(b.finish()),
                Builder::Bool(mut b) => Arc::new(b.finish()),
            }
        })
        .collect();
    RecordBatch::try_new(schema, arrays).map_err(|e| EngineError::Internal(format!("{}: {e}", table.name)))
}

/// The Arrow schema a relational table is read into.
fn table_schema(table: &Table) -> Schema {
    Schema::new(table.columns.iter().map(|c| Field::new(c.name, arrow_type(c.ty), true)).collect::<Vec<_>>())
}

/// The rows of a loaded table and the columns holding a value (an empty text was read as null).
fn presence_of(table: &Table, batches: &[RecordBatch]) -> Presence {
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    let columns = table
        .columns
        .iter()
        .enumerate()
        .filter(|(i, _)| batches.iter().any(|b| b.column(*i).null_count() < b.num_rows()))
        .map(|(_, c)| c.name.to_string())
        .collect();
    Presence { rows, columns }
}

/// The batches cut into slices of `batch_size` rows (no copy) dealt into `parts` partitions of
/// consecutive slices, so the scans of a big table run on every core.
fn partitioned(batches: &[RecordBatch], parts: usize, batch_size: usize) -> Vec<Vec<RecordBatch>> {
    let slices: Vec<RecordBatch> = batches
        .iter()
        .flat_map(|b| {
            (0..b.num_rows())
                .step_by(batch_size)
                .map(move |at| b.slice(at, batch_size.min(b.num_rows() - at)))
        })
        .collect();
    if slices.is_empty() {
        return vec![vec![]];
    }
    let per = slices.len().div_ceil(parts);
    slices.chunks(per).map(<[RecordBatch]>::to_vec).collect()
}
