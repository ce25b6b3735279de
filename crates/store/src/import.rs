//! One import as a transaction over the data dir.
//!
//! Rows are staged first (relational rows into a staging database, series rows into staged
//! Parquet files under `staging/`), nothing committed is touched until every check has passed.
//! The commit writes the new partition files under fresh names, then commits the relational
//! upserts and the new manifest in one database transaction: that transaction is the commit
//! point. Files the new manifest no longer names are deleted afterwards; a crash before that
//! leaves orphans, which the next import removes.

use crate::derive::{DerivedRange, derive_consumption};
use crate::error::{StoreError, StoreResult, io_err};
use crate::layout::{DataDir, sync_dir};
use crate::relational::{RelationalStore, RowIssue, SeriesFile, Sqlite};
use crate::series::{
    BATCH_ROWS, BackgroundWriters, BatchBuilder, PartitionWriter, Series, TextColumn, WrittenFile, dates,
    read_batches,
};
use crate::status::ImportRecord;
use foldhash::HashMap;
use jicha_core::calendar::{Period, from_epoch_days, to_epoch_days};
use jicha_core::schema::{self, Table};
use jicha_core::value::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;
use std::time::Instant;

/// Months of daily consumption derived at once (one per core of the machine we size for).
const DERIVE_THREADS: usize = 2;

/// What happened to a staged series row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesRowOutcome {
    /// Staged.
    Staged,
    /// Its key was already staged by an earlier row of this data set.
    Duplicate,
    /// The named column refers to nothing in this data set or the store.
    UnknownReference(&'static str),
}

/// What a commit did.
#[derive(Debug, Clone, Default)]
pub struct CommitSummary {
    /// Rows upserted per table.
    pub rows: Vec<(String, u64)>,
    /// Series partitions (series, month) written.
    pub partitions: Vec<(String, String)>,
    /// Derived consumption rows written.
    pub derived_rows: u64,
    /// Seconds spent in the commit, all phases.
    pub commit_seconds: f64,
    /// Of which: closing staged files and placing partitions.
    pub place_seconds: f64,
    /// Of which: deriving daily consumption.
    pub derive_seconds: f64,
}

/// Ids of the tables series rows refer to, each mapped to a dense index.
#[derive(Default)]
struct KeyMaps {
    meters: HashMap<String, u32>,
    customers: HashMap<String, u32>,
    areas: HashMap<String, u32>,
    feeders: HashMap<String, u32>,
}

fn key_map(keys: Vec<String>) -> HashMap<String, u32> {
    keys.into_iter().enumerate().map(|(i, k)| (k, i as u32)).collect()
}

/// A staged series partition: rows being written and the keys already seen.
struct StagedPartition {
    builder: BatchBuilder,
    writer: u64,
    keys: StagedKeys,
}

/// The (key, day) pairs a staged partition holds, as a bitset over key index x day of month.
struct StagedKeys {
    first_day: i32,
    seen: Vec<u64>,
}

impl StagedKeys {
    /// Marks (key, day) as seen; false if it already was.
    fn mark(&mut self, key: u32, day: i32) -> bool {
        let bit = key as usize * 31 + (day - self.first_day) as usize;
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        let was = self.seen[word] & mask != 0;
        self.seen[word] |= mask;
        !was
    }

    fn contains(&self, key: u32, day: i32) -> bool {
        if day < self.first_day || day >= self.first_day + 31 {
            return false;
        }
        let bit = key as usize * 31 + (day - self.first_day) as usize;
        self.seen.get(bit / 64).is_some_and(|w| w & (1u64 << (bit % 64)) != 0)
    }
}

/// An import in progress. Dropping it without [`ImportTxn::commit`] leaves the data dir as it was.
pub struct ImportTxn {
    dir: DataDir,
    created_root: bool,
    lock: Option<File>,
    rel: Option<Sqlite>,
    keys: Option<KeyMaps>,
    staged: BTreeMap<(Series, Period), StagedPartition>,
    writers: Option<BackgroundWriters>,
    series_rows: BTreeMap<&'static str, u64>,
    started_at: String,
    committed: bool,
    file_counter: u64,
}

fn now_text() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

impl ImportTxn {
    /// Starts an import: takes the data dir's lock, removes what an interrupted import left, and
    /// prepares the staging area.
    pub fn begin(dir: &DataDir) -> StoreResult<ImportTxn> {
        let root = dir.root();
        let created_root = !root.exists();
        std::fs::create_dir_all(root).map_err(io_err(format!("创建数据目录 {}", root.display())))?;
        let lock = dir.lock()?;
        let mut txn = ImportTxn {
            dir: dir.clone(),
            created_root,
            lock: Some(lock),
            rel: None,
            keys: None,
            staged: BTreeMap::new(),
            writers: None,
            series_rows: BTreeMap::new(),
            started_at: now_text(),
            committed: false,
            file_counter: 0,
        };
        txn.recover()?;
        let staging = dir.staging();
        std::fs::create_dir_all(&staging).map_err(io_err(format!("创建 {}", staging.display())))?;
        txn.rel = Some(Sqlite::open_for_import(&dir.database(), &staging.join("stage.sqlite"))?);
        Ok(txn)
    }

    /// Removes the staging area and every series file the manifest does not name.
    fn recover(&mut self) -> StoreResult<()> {
        let staging = self.dir.staging();
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io_err(format!("清理 {}", staging.display())))?;
        }
        let series_root = self.dir.series_root();
        if !series_root.exists() {
            return Ok(());
        }
        let named: BTreeSet<String> = if self.dir.exists() {
            let conn = crate::relational::open_read_only(&self.dir.database())?;
            crate::relational::read_manifest(&conn)?.into_iter().map(|f| f.file).collect()
        } else {
            BTreeSet::new()
        };
        for series in walk_files(&series_root)? {
            let rel = series.strip_prefix(&series_root).map(|p| p.to_string_lossy().replace('\\', "/"));
            if let Ok(rel) = rel
                && !named.contains(&rel)
            {
                std::fs::remove_file(&series)
                    .map_err(io_err(format!("删除残留文件 {}", series.display())))?;
            }
        }
        Ok(())
    }

    fn rel(&mut self) -> &mut Sqlite {
        // Set in `begin` and only taken in `commit`/drop.
        self.rel.as_mut().expect("relational store open during an import")
    }

    /// Stages one validated row of a relational table.
    pub fn stage_relational(
        &mut self,
        table: &'static Table,
        file_no: u32,
        line: u64,
        cells: &[Cell],
    ) -> StoreResult<()> {
        self.rel().stage_row(table, file_no, line, cells)
    }

    /// Checks duplicate keys and references among the staged relational rows.
    pub fn check_relational(&mut self) -> StoreResult<Vec<RowIssue>> {
        self.rel().check_staged()
    }

    fn keys(&mut self) -> StoreResult<&KeyMaps> {
        if self.keys.is_none() {
            let rel = self.rel();
            let maps = KeyMaps {
                meters: key_map(rel.known_keys(&schema::METERS)?),
                customers: key_map(rel.known_keys(&schema::CUSTOMERS)?),
                areas: key_map(rel.known_keys(&schema::TRANSFORMER_AREAS)?),
                feeders: key_map(rel.known_keys(&schema::FEEDERS)?),
            };
            self.keys = Some(maps);
        }
        Ok(self.keys.as_ref().expect("just set"))
    }

    /// Stages one validated row of a series table (readings, daily_usage, supply). Relational
    /// rows must all be staged before the first series row, since series rows refer to them.
    pub fn stage_series(&mut self, table: &'static Table, cells: &[Cell]) -> StoreResult<SeriesRowOutcome> {
        let Some(series) = Series::of_table(table) else {
            return Err(StoreError::Corrupt(format!("{} is not a series table", table.name)));
        };
        let (key, key_count, date) = {
            let keys = self.keys()?;
            match series {
                Series::Readings => {
                    let id = cells[0].as_text().unwrap_or_default();
                    let Some(&k) = keys.meters.get(id) else {
                        return Ok(SeriesRowOutcome::UnknownReference("meter_id"));
                    };
                    (k, keys.meters.len(), cells[1].as_date())
                }
                Series::DailyUsage => {
                    let id = cells[0].as_text().unwrap_or_default();
                    let Some(&k) = keys.customers.get(id) else {
                        return Ok(SeriesRowOutcome::UnknownReference("customer_id"));
                    };
                    (k, keys.customers.len(), cells[1].as_date())
                }
                _ => {
                    let id = cells[1].as_text().unwrap_or_default();
                    let found = if cells[0].as_text() == Some("tq") {
                        keys.areas.get(id).copied()
                    } else {
                        keys.feeders.get(id).map(|k| k + keys.areas.len() as u32)
                    };
                    let Some(k) = found else { return Ok(SeriesRowOutcome::UnknownReference("point_id")) };
                    (k, keys.areas.len() + keys.feeders.len(), cells[2].as_date())
                }
            }
        };
        let Some(date) = date else { return Err(StoreError::Corrupt("series row without a date".into())) };
        let period = Period::of(date);
        let day = to_epoch_days(date);
        if !self.staged.contains_key(&(series, period)) {
            self.file_counter += 1;
            let path = self.dir.staging().join(format!(
                "{}-{}-{}.parquet",
                series.name(),
                period,
                self.file_counter
            ));
            let writer = self.writers.get_or_insert_with(BackgroundWriters::new).create(&path, series)?;
            let first_day = to_epoch_days(period.first_day());
            let seen = vec![0u64; (key_count * 31).div_ceil(64)];
            self.staged.insert(
                (series, period),
                StagedPartition {
                    builder: BatchBuilder::new(series),
                    writer,
                    keys: StagedKeys { first_day, seen },
                },
            );
        }
        let Some(part) = self.staged.get_mut(&(series, period)) else {
            return Err(StoreError::Corrupt("staged partition vanished".into()));
        };
        if !part.keys.mark(key, day) {
            return Ok(SeriesRowOutcome::Duplicate);
        }
        part.builder.push(cells);
        if part.builder.len() >= BATCH_ROWS {
            let batch = part.builder.finish()?;
            let id = part.writer;
            self.writers.get_or_insert_with(BackgroundWriters::new).write(id, batch)?;
        }
        *self.series_rows.entry(table.name).or_default() += 1;
        Ok(SeriesRowOutcome::Staged)
    }

    fn new_file_name(&mut self, series: Series, period: Period) -> String {
        self.file_counter += 1;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f");
        format!("{}/{}/{}-{}-{}.parquet", series.name(), period, stamp, std::process::id(), self.file_counter)
    }

    /// Commits everything staged: from the moment this returns `Ok`, the import is the stored
    /// state; if it fails or the process dies first, the stored state is as before.
    pub fn commit(mut self, source: &str, files: u64, progress: &dyn Fn(&str)) -> StoreResult<CommitSummary> {
        let started = Instant::now();
        let mut summary = CommitSummary::default();
        // 1. Close the staged partition files.
        let staged = std::mem::take(&mut self.staged);
        let mut writers = self.writers.take().unwrap_or_default();
        let mut pending = Vec::new();
        for ((series, period), part) in staged {
            let StagedPartition { mut builder, writer, keys } = part;
            if !builder.is_empty() {
                writers.write(writer, builder.finish()?)?;
            }
            pending.push((series, period, writer, keys));
        }
        let mut staged_files = writers.finish()?;
        let mut closed: Vec<(Series, Period, WrittenFile, StagedKeys)> = Vec::new();
        for (series, period, writer, keys) in pending {
            let Some(at) = staged_files.iter().position(|(id, _)| *id == writer) else {
                return Err(StoreError::Corrupt("staged partition file missing".into()));
            };
            closed.push((series, period, staged_files.swap_remove(at).1, keys));
        }
        self.keys()?;
        let earliest_meter_change = self.rel().earliest_meter_change()?;
        let counts = self.rel().staged_counts()?;
        // 2. Upsert the relational rows (uncommitted until the end).
        progress("写入关系表 / writing tables");
        self.rel().begin_commit()?;
        let mut manifest = self.rel().manifest()?;
        let mut removed: Vec<String> = Vec::new();
        let mut added: Vec<SeriesFile> = Vec::new();
        // 3. Place each staged partition: a new file when its days overlap nothing stored,
        //    else merged with the overlapping files, the new rows winning.
        for (series, period, file, part) in &closed {
            progress(&format!("写入分区 / writing {} {}", series.name(), period));
            let month = period.to_string();
            let overlapping: Vec<SeriesFile> = manifest
                .iter()
                .filter(|f| {
                    f.series == series.name()
                        && f.month == month
                        && f.min_day <= file.max_day
                        && f.max_day >= file.min_day
                })
                .cloned()
                .collect();
            let name = self.new_file_name(*series, *period);
            let target = self.dir.series_file(&name);
            let written = if overlapping.is_empty() {
                if let Some(dir) = target.parent() {
                    std::fs::create_dir_all(dir).map_err(io_err(format!("创建目录 {}", dir.display())))?;
                }
                std::fs::rename(&file.path, &target)
                    .map_err(io_err(format!("移动 {}", file.path.display())))?;
                WrittenFile { path: target, ..file.clone() }
            } else {
                let keys = self.keys.as_ref().ok_or_else(|| StoreError::Corrupt("keys not loaded".into()))?;
                let mut writer = PartitionWriter::create(&target, *series)?;
                for old in &overlapping {
                    for batch in read_batches(&self.dir.series_file(&old.file))? {
                        let batch = batch?;
                        let keep = replaced_rows(*series, &batch, keys, part)?;
                        let batch = arrow::compute::filter_record_batch(&batch, &keep)?;
                        writer.write(&batch)?;
                    }
                }
                for batch in read_batches(&file.path)? {
                    writer.write(&batch?)?;
                }
                writer.close()?
            };
            for old in &overlapping {
                removed.push(old.file.clone());
            }
            manifest.retain(|f| !overlapping.iter().any(|o| o.file == f.file));
            let entry = SeriesFile {
                series: series.name().into(),
                month: month.clone(),
                file: name,
                min_day: written.min_day,
                max_day: written.max_day,
                rows: written.rows,
                bytes: written.bytes,
            };
            manifest.push(entry.clone());
            added.push(entry);
            summary.partitions.push((series.name().into(), month));
        }
        summary.place_seconds = started.elapsed().as_secs_f64();
        let deriving = Instant::now();
        // 4. Derive daily consumption for the days the new registers, usage or meters touch.
        let mut ranges: BTreeMap<Period, (i32, i32)> = BTreeMap::new();
        let mut touch = |a: i32, b: i32| {
            let mut day = a;
            while day <= b {
                let p = Period::of(from_epoch_days(day));
                let end = b.min(to_epoch_days(p.last_day()));
                let r = ranges.entry(p).or_insert((day, end));
                r.0 = r.0.min(day);
                r.1 = r.1.max(end);
                day = end + 1;
            }
        };
        for (series, _, file, _) in &closed {
            match series {
                Series::Readings => touch(file.min_day - 1, file.max_day),
                Series::DailyUsage => touch(file.min_day, file.max_day),
                _ => {}
            }
        }
        if let Some(earliest) = earliest_meter_change {
            // Only days that have registers can have consumption: clamp to the stored readings.
            let readings = manifest.iter().filter(|f| f.series == Series::Readings.name());
            let first = readings.clone().map(|f| f.min_day).min();
            let last = readings.map(|f| f.max_day).max();
            if let (Some(first), Some(last)) = (first, last) {
                let from = earliest.max(first - 1);
                if from <= last {
                    touch(from, last);
                }
            }
        }
        if !ranges.is_empty() {
            let meters = self.rel().meters()?;
            let jobs: Vec<(Period, i32, i32, String)> = ranges
                .into_iter()
                .map(|(period, (a, b))| (period, a, b, self.new_file_name(Series::DailyConsumption, period)))
                .collect();
            progress(&format!("计算日用电量 / deriving consumption ({} 个月 months)", jobs.len()));
            // Months are independent: derive two at a time, one per core.
            let next = std::sync::atomic::AtomicUsize::new(0);
            let snapshot = &manifest;
            let dir = &self.dir;
            let results: Vec<(usize, StoreResult<crate::derive::DerivedResult>)> =
                std::thread::scope(|scope| {
                    let workers: Vec<_> = (0..DERIVE_THREADS)
                        .map(|_| {
                            scope.spawn(|| {
                                let mut done = Vec::new();
                                loop {
                                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                    let Some((period, a, b, name)) = jobs.get(i) else { break };
                                    let range = DerivedRange { period: *period, first: *a, last: *b };
                                    done.push((
                                        i,
                                        derive_consumption(
                                            dir,
                                            snapshot,
                                            &meters,
                                            range,
                                            &dir.series_file(name),
                                        ),
                                    ));
                                }
                                done
                            })
                        })
                        .collect();
                    workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
                });
            let mut by_job: Vec<Option<StoreResult<crate::derive::DerivedResult>>> =
                std::iter::repeat_with(|| None).take(jobs.len()).collect();
            for (i, r) in results {
                by_job[i] = Some(r);
            }
            for (i, (period, _, _, name)) in jobs.iter().enumerate() {
                let result = by_job[i].take().ok_or_else(|| {
                    StoreError::Corrupt("日用电量推导线程异常退出 / a derivation thread died".into())
                })??;
                if let Some(written) = result.written {
                    let entry = SeriesFile {
                        series: Series::DailyConsumption.name().into(),
                        month: period.to_string(),
                        file: name.clone(),
                        min_day: written.min_day,
                        max_day: written.max_day,
                        rows: written.rows,
                        bytes: written.bytes,
                    };
                    summary.derived_rows += result.new_rows;
                    manifest.push(entry.clone());
                    added.push(entry);
                }
                for old in &result.replaced {
                    removed.push(old.clone());
                }
                manifest.retain(|f| !result.replaced.contains(&f.file));
            }
        }
        // Make the new files' directory entries durable before the commit point names them.
        for f in &added {
            if let Some(dir) = self.dir.series_file(&f.file).parent() {
                sync_dir(dir)?;
            }
        }
        summary.derive_seconds = deriving.elapsed().as_secs_f64();
        // 5. The commit point.
        let mut rows: Vec<(String, u64)> = counts.iter().map(|(t, n)| (t.to_string(), *n)).collect();
        rows.extend(self.series_rows.iter().map(|(t, n)| (t.to_string(), *n)));
        let total_rows: u64 = rows.iter().map(|r| r.1).sum();
        let detail = rows.iter().map(|(t, n)| format!("{t}={n}")).collect::<Vec<_>>().join(" ");
        let record = ImportRecord {
            started_at: self.started_at.clone(),
            finished_at: now_text(),
            source: source.to_owned(),
            files,
            rows: total_rows,
            outcome: "committed".into(),
            detail,
        };
        let rel = self.rel();
        rel.update_manifest(&removed, &added)?;
        rel.record_import(&record)?;
        rel.commit()?;
        self.committed = true;
        // 6. Tidy up: superseded files and the staging area.
        for f in &removed {
            let _ = std::fs::remove_file(self.dir.series_file(f));
        }
        self.rel = None;
        let _ = std::fs::remove_dir_all(self.dir.staging());
        summary.rows = rows;
        summary.commit_seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }
}

/// For each row of a stored batch, whether it survives a merge (its key is not being replaced).
fn replaced_rows(
    series: Series,
    batch: &arrow::record_batch::RecordBatch,
    keys: &KeyMaps,
    part: &StagedKeys,
) -> StoreResult<arrow::array::BooleanArray> {
    let bad =
        || StoreError::Corrupt(format!("{} 分区文件列类型不符 / unexpected column types", series.name()));
    let (key_idx, date_col): (Vec<Option<u32>>, usize) = match series {
        Series::Readings | Series::DailyUsage => {
            let map = if series == Series::Readings { &keys.meters } else { &keys.customers };
            let col = TextColumn::of(batch.column(0)).ok_or_else(bad)?;
            (
                col.map_rows(|id| map.get(id).copied().unwrap_or(u32::MAX))
                    .into_iter()
                    .map(|k| k.filter(|k| *k != u32::MAX))
                    .collect(),
                1,
            )
        }
        _ => {
            let kinds = TextColumn::of(batch.column(0)).ok_or_else(bad)?.map_rows(|k| k == "tq");
            let ids = TextColumn::of(batch.column(1)).ok_or_else(bad)?;
            let tq = ids.map_rows(|id| keys.areas.get(id).copied());
            let fd = ids.map_rows(|id| keys.feeders.get(id).map(|k| k + keys.areas.len() as u32));
            let k = kinds
                .iter()
                .zip(tq.iter().zip(fd.iter()))
                .map(|(kind, (t, f))| if kind.unwrap_or(false) { t.flatten() } else { f.flatten() })
                .collect();
            (k, 2)
        }
    };
    let days = dates(batch.column(date_col)).ok_or_else(bad)?;
    let keep: Vec<bool> = key_idx
        .iter()
        .zip(days.iter())
        .map(|(k, d)| match (k, d) {
            (Some(k), Some(d)) => !part.contains(*k, d),
            _ => true,
        })
        .collect();
    Ok(arrow::array::BooleanArray::from(keep))
}

fn walk_files(root: &std::path::Path) -> StoreResult<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(io_err(format!("读取目录 {}", dir.display())))?;
        for e in entries {
            let e = e.map_err(io_err(format!("读取目录 {}", dir.display())))?;
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    Ok(out)
}

impl Drop for ImportTxn {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // Abandoned: close the staging database, then remove every trace of this import.
        self.staged.clear();
        self.writers = None;
        self.rel = None;
        let _ = std::fs::remove_dir_all(self.dir.staging());
        if self.created_root {
            self.lock = None;
            let _ = std::fs::remove_dir_all(self.dir.root());
        }
    }
}
