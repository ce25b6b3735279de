//! Point reads of the derived daily consumption: a few customers' days through the Parquet page
//! index, without a query engine.
//!
//! Derived consumption is written in customer order with page statistics on `customer_id`, so one
//! customer's days of a month sit in a page or two. [`ConsumptionIndex`] keeps each file's footer
//! and page index in memory (read once, on first use) and reads only the pages whose id range can
//! hold one of the customers asked for. The web app's finding charts and customer pages read
//! through it; the audit scans whole months through the query engine instead.

use crate::error::{StoreError, StoreResult, io_err};
use crate::layout::DataDir;
use crate::relational::SeriesFile;
use crate::series::{Series, TextColumn, dates, numbers};
use arrow::array::Array;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One customer's known days: (days since 1970-01-01, kWh or unknown), in day order.
pub type Days = Arc<Vec<(i32, Option<f64>)>>;

/// A customer's window of days: (customer, first day, last day).
type Window = (String, i32, i32);

/// How many customers' windows [`ConsumptionIndex::customer_days`] keeps before it starts over
/// (a generation of this many is kept beside the current one).
const RECENT: usize = 4096;

/// The committed daily consumption files of a data dir, ready for point reads.
pub struct ConsumptionIndex {
    files: Vec<IndexedFile>,
    /// Recently read (customer, from, to) windows: two generations, the older dropped when the
    /// newer fills, so memory stays bounded and what is read again and again stays.
    recent: Mutex<[HashMap<Window, Days>; 2]>,
}

struct IndexedFile {
    path: PathBuf,
    min_day: i32,
    max_day: i32,
    meta: Mutex<Option<ArrowReaderMetadata>>,
}

impl ConsumptionIndex {
    /// The derived consumption files named by a manifest (footers are read on first use).
    pub fn new(dir: &DataDir, manifest: &[SeriesFile]) -> ConsumptionIndex {
        let mut files: Vec<IndexedFile> = manifest
            .iter()
            .filter(|f| f.series == Series::DailyConsumption.name())
            .map(|f| IndexedFile {
                path: dir.series_file(&f.file),
                min_day: f.min_day,
                max_day: f.max_day,
                meta: Mutex::new(None),
            })
            .collect();
        files.sort_by_key(|f| f.min_day);
        ConsumptionIndex { files, recent: Mutex::new([HashMap::new(), HashMap::new()]) }
    }

    /// The committed files of the data dir at `dir`.
    pub fn open(dir: &DataDir) -> StoreResult<ConsumptionIndex> {
        Ok(ConsumptionIndex::new(dir, &crate::scan::manifest(dir)?))
    }

    /// One customer's known days between `from` and `to` (inclusive, days since 1970-01-01).
    /// Windows read recently are answered from memory.
    pub fn customer_days(&self, customer: &str, from: i32, to: i32) -> StoreResult<Days> {
        let key = (customer.to_owned(), from, to);
        {
            let recent = self.recent.lock().map_err(|_| poisoned())?;
            if let Some(d) = recent[0].get(&key).or_else(|| recent[1].get(&key)) {
                return Ok(d.clone());
            }
        }
        let mut days = Vec::new();
        self.each_day(&[customer], from, to, |_, d, k| days.push((d, k)))?;
        days.sort_by_key(|d| d.0);
        let days = Arc::new(days);
        let mut recent = self.recent.lock().map_err(|_| poisoned())?;
        if recent[0].len() >= RECENT {
            recent[1] = std::mem::take(&mut recent[0]);
        }
        recent[0].insert(key, days.clone());
        Ok(days)
    }

    /// Calls `f(index into customers, day, kWh)` for every stored day of those customers between
    /// `from` and `to`. `customers` need not be sorted; each day of a customer comes once (a
    /// month's files hold disjoint day ranges).
    pub fn each_day(
        &self,
        customers: &[&str],
        from: i32,
        to: i32,
        mut f: impl FnMut(usize, i32, Option<f64>),
    ) -> StoreResult<()> {
        let mut sorted: Vec<(&str, usize)> = customers.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        sorted.sort_unstable();
        let ids: Vec<&str> = sorted.iter().map(|s| s.0).collect();
        for file in self.files.iter().filter(|x| x.max_day >= from && x.min_day <= to) {
            let meta = file.metadata()?;
            let Some((row_groups, selection)) = select(meta.metadata(), &ids) else { continue };
            let source = File::open(&file.path).map_err(io_err(format!("打开 {}", file.path.display())))?;
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(source, meta)
                .with_row_groups(row_groups)
                .with_row_selection(selection)
                .with_batch_size(8192)
                .build()?;
            for batch in reader {
                let batch = batch?;
                let bad =
                    || StoreError::Corrupt(format!("{}: daily_consumption columns", file.path.display()));
                let id_col = TextColumn::of(batch.column(0)).ok_or_else(bad)?;
                let day_col = dates(batch.column(1)).ok_or_else(bad)?;
                let kwh_col = numbers(batch.column(2)).ok_or_else(bad)?;
                for i in 0..batch.num_rows() {
                    let day = day_col.value(i);
                    if day < from || day > to || day_col.is_null(i) {
                        continue;
                    }
                    let Some(id) = id_col.value(i) else { continue };
                    if let Ok(at) = ids.binary_search(&id) {
                        f(sorted[at].1, day, kwh_col.is_valid(i).then(|| kwh_col.value(i)));
                    }
                }
            }
        }
        Ok(())
    }
}

impl IndexedFile {
    /// The footer with its page index, read once.
    fn metadata(&self) -> StoreResult<ArrowReaderMetadata> {
        let mut cached = self.meta.lock().map_err(|_| poisoned())?;
        if let Some(m) = cached.as_ref() {
            return Ok(m.clone());
        }
        let source = File::open(&self.path).map_err(io_err(format!("打开 {}", self.path.display())))?;
        let meta = ArrowReaderMetadata::load(
            &source,
            ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional),
        )?;
        *cached = Some(meta.clone());
        Ok(meta)
    }
}

fn poisoned() -> StoreError {
    StoreError::Corrupt("consumption index lock poisoned".into())
}

/// The row groups and the rows in them whose `customer_id` pages may hold one of `ids` (sorted):
/// None when no page can. Files without a page index are read whole.
fn select(meta: &ParquetMetaData, ids: &[&str]) -> Option<(Vec<usize>, RowSelection)> {
    let may_hold = |min: Option<&[u8]>, max: Option<&[u8]>| {
        let (Some(min), Some(max)) = (min, max) else { return true };
        let first = ids.partition_point(|id| id.as_bytes() < min);
        ids.get(first).is_some_and(|id| id.as_bytes() <= max)
    };
    let mut row_groups = Vec::new();
    let mut selectors: Vec<RowSelector> = Vec::new();
    let push = |selectors: &mut Vec<RowSelector>, rows: usize, take: bool| {
        if rows == 0 {
            return;
        }
        match selectors.last_mut() {
            Some(last) if last.skip != take => last.row_count += rows,
            _ => selectors.push(if take { RowSelector::select(rows) } else { RowSelector::skip(rows) }),
        }
    };
    for (g, group) in meta.row_groups().iter().enumerate() {
        let rows = group.num_rows() as usize;
        let pages = meta
            .column_index()
            .zip(meta.offset_index())
            .and_then(|(ci, oi)| Some((ci.get(g)?.first()?, oi.get(g)?.first()?)));
        let Some((ColumnIndexMetaData::BYTE_ARRAY(index), offsets)) = pages else {
            let stats = group.column(0).statistics();
            if stats.is_none_or(|s| may_hold(s.min_bytes_opt(), s.max_bytes_opt())) {
                row_groups.push(g);
                push(&mut selectors, rows, true);
            }
            continue;
        };
        let locations = offsets.page_locations();
        let mut group_selectors = Vec::new();
        let mut any = false;
        for (p, loc) in locations.iter().enumerate() {
            let start = loc.first_row_index as usize;
            let end = locations.get(p + 1).map_or(rows, |n| n.first_row_index as usize);
            let take = !index.is_null_page(p) && may_hold(index.min_value(p), index.max_value(p));
            any |= take;
            push(&mut group_selectors, end - start, take);
        }
        if any {
            row_groups.push(g);
            for s in group_selectors {
                push(&mut selectors, s.row_count, !s.skip);
            }
        }
    }
    (!row_groups.is_empty()).then(|| (row_groups, RowSelection::from(selectors)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::{BatchBuilder, PartitionWriter};

    /// A file of 3,000 customers x 30 days in customer order (pages of 20,000 rows), read back
    /// through the index: exactly each customer's days, nothing of its neighbours.
    #[test]
    fn reads_one_customers_days_through_the_page_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("series/daily_consumption/2025-01/a.parquet");
        let mut w = PartitionWriter::create(&path, Series::DailyConsumption).unwrap();
        let mut b = BatchBuilder::new(Series::DailyConsumption);
        let base = 20_089; // 2025-01-01
        for c in 0..3000 {
            let id = format!("C{c:06}");
            for d in 0..30 {
                let kwh = if d == 7 { None } else { Some(f64::from(c * 100 + d)) };
                b.push_consumption(&id, base + d, kwh);
            }
            if b.len() >= 8192 {
                w.write(&b.finish().unwrap()).unwrap();
            }
        }
        w.write(&b.finish().unwrap()).unwrap();
        let written = w.close().unwrap();
        let data = DataDir::new(dir.path());
        let manifest = vec![SeriesFile {
            series: "daily_consumption".into(),
            month: "2025-01".into(),
            file: "daily_consumption/2025-01/a.parquet".into(),
            min_day: written.min_day,
            max_day: written.max_day,
            rows: written.rows,
            bytes: written.bytes,
        }];
        let index = ConsumptionIndex::new(&data, &manifest);
        let days = index.customer_days("C001234", base + 5, base + 9).unwrap();
        assert_eq!(
            *days,
            vec![
                (base + 5, Some(123_405.0)),
                (base + 6, Some(123_406.0)),
                (base + 7, None),
                (base + 8, Some(123_408.0)),
                (base + 9, Some(123_409.0)),
            ]
        );
        assert!(index.customer_days("C999999", base, base + 40).unwrap().is_empty());
        let mut sums = [0.0; 2];
        let mut n = 0;
        index
            .each_day(&["C002999", "C000000"], base, base + 29, |i, _, k| {
                sums[i] += k.unwrap_or(0.0);
                n += 1;
            })
            .unwrap();
        assert_eq!(n, 60);
        assert_eq!(sums[1], (0..30).filter(|d| *d != 7).map(f64::from).sum::<f64>());
        assert_eq!(sums[0], (0..30).filter(|d| *d != 7).map(|d| f64::from(299_900 + d)).sum::<f64>());
        // The page index is used: a customer's window reads a small part of the file.
        let meta = index.files[0].metadata().unwrap();
        let (_, selection) = select(meta.metadata(), &["C001234"]).unwrap();
        assert!(selection.row_count() < 30_000, "read {} of 90,000 rows", selection.row_count());
    }
}
