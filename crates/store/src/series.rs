//! The daily series as Parquet: one schema per series, row builders, and partition files.

use crate::error::{StoreError, StoreResult, io_err};
use arrow::array::{
    Array, ArrayRef, Date32Array, Date32Builder, DictionaryArray, Float64Array, Float64Builder, StringArray,
    StringDictionaryBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use jicha_core::calendar::to_epoch_days;
use jicha_core::schema::{self, ColumnType, Table};
use jicha_core::value::Cell;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A daily series kept columnar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Series {
    /// 日冻结示数: meter registers.
    Readings,
    /// 日用电量: daily kWh where only that is available.
    DailyUsage,
    /// 供电量: energy into areas and feeders.
    Supply,
    /// Daily consumption per customer, derived at import from readings and daily usage.
    DailyConsumption,
}

/// Rows per record batch while building.
pub const BATCH_ROWS: usize = 65_536;

impl Series {
    /// Every series.
    pub const ALL: [Series; 4] =
        [Series::Readings, Series::DailyUsage, Series::Supply, Series::DailyConsumption];

    /// The folder and manifest name.
    pub fn name(self) -> &'static str {
        match self {
            Series::Readings => "readings",
            Series::DailyUsage => "daily_usage",
            Series::Supply => "supply",
            Series::DailyConsumption => "daily_consumption",
        }
    }

    /// The series of a manifest name.
    pub fn from_name(name: &str) -> Option<Series> {
        Series::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The series an exchange-format table is kept in.
    pub fn of_table(table: &Table) -> Option<Series> {
        match table.name {
            "readings" => Some(Series::Readings),
            "daily_usage" => Some(Series::DailyUsage),
            "supply" => Some(Series::Supply),
            _ => None,
        }
    }

    /// The columns, as the exchange format names them (the derived series has its own).
    pub fn columns(self) -> Vec<(&'static str, ColumnType, bool)> {
        let table = match self {
            Series::Readings => &schema::READINGS,
            Series::DailyUsage => &schema::DAILY_USAGE,
            Series::Supply => &schema::SUPPLY,
            Series::DailyConsumption => {
                return vec![
                    ("customer_id", ColumnType::Text, true),
                    ("date", ColumnType::Date, true),
                    ("kwh", ColumnType::Number, false),
                ];
            }
        };
        table.columns.iter().map(|c| (c.name, c.ty, c.required)).collect()
    }

    /// The Arrow schema: text as dictionary-encoded strings, dates as Date32, numbers as Float64.
    pub fn schema(self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns()
            .into_iter()
            .map(|(name, ty, required)| Field::new(name, arrow_type(ty), !required))
            .collect();
        Arc::new(Schema::new(fields))
    }
}

fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Date => DataType::Date32,
        ColumnType::Number => DataType::Float64,
        _ => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
    }
}

enum ColumnBuilder {
    Text(StringDictionaryBuilder<Int32Type>),
    Date(Date32Builder),
    Number(Float64Builder),
}

/// Builds record batches of one series row by row.
pub struct BatchBuilder {
    series: Series,
    columns: Vec<ColumnBuilder>,
    len: usize,
}

impl BatchBuilder {
    /// An empty builder.
    pub fn new(series: Series) -> BatchBuilder {
        let columns = series
            .columns()
            .into_iter()
            .map(|(_, ty, _)| match ty {
                ColumnType::Date => ColumnBuilder::Date(Date32Builder::with_capacity(BATCH_ROWS)),
                ColumnType::Number => ColumnBuilder::Number(Float64Builder::with_capacity(BATCH_ROWS)),
                _ => ColumnBuilder::Text(StringDictionaryBuilder::with_capacity(
                    BATCH_ROWS,
                    BATCH_ROWS,
                    BATCH_ROWS * 12,
                )),
            })
            .collect();
        BatchBuilder { series, columns, len: 0 }
    }

    /// Rows buffered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no row is buffered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one row; cells are in the series' column order and already validated.
    pub fn push(&mut self, cells: &[Cell]) {
        for (b, cell) in self.columns.iter_mut().zip(cells) {
            match (b, cell) {
                (ColumnBuilder::Text(b), Cell::Text(t)) => {
                    b.append_value(t);
                }
                (ColumnBuilder::Text(b), Cell::Code(t)) => {
                    b.append_value(t);
                }
                (ColumnBuilder::Date(b), Cell::Date(d)) => b.append_value(to_epoch_days(*d)),
                (ColumnBuilder::Number(b), Cell::Number(n)) => b.append_value(*n),
                (ColumnBuilder::Text(b), _) => b.append_null(),
                (ColumnBuilder::Date(b), _) => b.append_null(),
                (ColumnBuilder::Number(b), _) => b.append_null(),
            }
        }
        self.len += 1;
    }

    /// Appends one derived consumption row without going through cells.
    pub fn push_consumption(&mut self, customer: &str, day: i32, kwh: Option<f64>) {
        if let [ColumnBuilder::Text(c), ColumnBuilder::Date(d), ColumnBuilder::Number(k)] =
            &mut self.columns[..]
        {
            c.append_value(customer);
            d.append_value(day);
            k.append_option(kwh);
            self.len += 1;
        }
    }

    /// Takes the buffered rows as a record batch.
    pub fn finish(&mut self) -> StoreResult<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    ColumnBuilder::Text(b) => Arc::new(b.finish()),
                    ColumnBuilder::Date(b) => Arc::new(b.finish()),
                    ColumnBuilder::Number(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.len = 0;
        Ok(RecordBatch::try_new(self.series.schema(), arrays)?)
    }
}

fn writer_properties(series: Series) -> WriterProperties {
    // Derived consumption is read a customer at a time as well as scanned (a finding's chart, a
    // customer's page): its row groups are smaller, so the customer-id dictionary a point read
    // must decode holds about 4,000 ids rather than 35,000.
    let rows = if series == Series::DailyConsumption { 1 << 17 } else { 1 << 20 };
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(rows));
    // Min/max of ids prune nothing where rows are not in id order (every row group holds every
    // meter), and computing them costs a string comparison per row; dates and numbers keep their
    // statistics. Derived consumption is written in customer order, so its customer ids keep
    // page statistics: one customer's days (a finding's chart, a customer's page) are then read
    // from a page or two per month instead of the whole month.
    let sorted_key = matches!(series, Series::DailyConsumption).then_some("customer_id");
    for (name, ty, _) in series.columns() {
        if !matches!(ty, ColumnType::Date | ColumnType::Number) && Some(name) != sorted_key {
            builder = builder.set_column_statistics_enabled(ColumnPath::from(name), EnabledStatistics::None);
        }
    }
    builder.build()
}

/// Writes one partition file and tracks its row count and day range.
pub struct PartitionWriter {
    path: PathBuf,
    writer: ArrowWriter<File>,
    rows: u64,
    min_day: i32,
    max_day: i32,
    date_column: usize,
}

impl PartitionWriter {
    /// Creates the file (it must not exist).
    pub fn create(path: &Path, series: Series) -> StoreResult<PartitionWriter> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(format!("创建目录 {}", dir.display())))?;
        }
        let file = File::create_new(path).map_err(io_err(format!("创建文件 {}", path.display())))?;
        let writer = ArrowWriter::try_new(file, series.schema(), Some(writer_properties(series)))?;
        let date_column = series.columns().iter().position(|c| c.0 == "date").unwrap_or(1);
        Ok(PartitionWriter {
            path: path.to_owned(),
            writer,
            rows: 0,
            min_day: i32::MAX,
            max_day: i32::MIN,
            date_column,
        })
    }

    /// Writes a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> StoreResult<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if let Some(dates) = batch.column(self.date_column).as_any().downcast_ref::<Date32Array>() {
            if let Some(min) = arrow::compute::min(dates) {
                self.min_day = self.min_day.min(min);
            }
            if let Some(max) = arrow::compute::max(dates) {
                self.max_day = self.max_day.max(max);
            }
        }
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch)?;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Finishes the file, syncs it to disk, and returns (path, rows, min_day, max_day, bytes).
    pub fn close(self) -> StoreResult<WrittenFile> {
        let file = self.writer.into_inner()?;
        file.sync_all().map_err(io_err(format!("同步文件 {}", self.path.display())))?;
        let bytes = file.metadata().map_err(io_err(format!("读取 {}", self.path.display())))?.len();
        Ok(WrittenFile {
            path: self.path,
            rows: self.rows,
            min_day: self.min_day,
            max_day: self.max_day,
            bytes,
        })
    }
}

/// A finished partition file.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// Where it is.
    pub path: PathBuf,
    /// Rows.
    pub rows: u64,
    /// First day held.
    pub min_day: i32,
    /// Last day held.
    pub max_day: i32,
    /// Size.
    pub bytes: u64,
}

/// Reads a partition file batch by batch.
pub fn read_batches(path: &Path) -> StoreResult<impl Iterator<Item = StoreResult<RecordBatch>>> {
    let file = File::open(path).map_err(io_err(format!("打开 {}", path.display())))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.with_batch_size(BATCH_ROWS).build()?;
    Ok(reader.map(|b| b.map_err(Into::into)))
}

/// A text column of a stored batch, dictionary-encoded or plain.
pub enum TextColumn<'a> {
    /// Dictionary-encoded (as the store writes).
    Dict(&'a DictionaryArray<Int32Type>, &'a StringArray),
    /// Plain strings.
    Plain(&'a StringArray),
}

impl<'a> TextColumn<'a> {
    /// Views a column as text.
    pub fn of(array: &'a ArrayRef) -> Option<TextColumn<'a>> {
        if let Some(d) = array.as_any().downcast_ref::<DictionaryArray<Int32Type>>() {
            let values = d.values().as_any().downcast_ref::<StringArray>()?;
            return Some(TextColumn::Dict(d, values));
        }
        array.as_any().downcast_ref::<StringArray>().map(TextColumn::Plain)
    }

    /// The text of row `i`.
    pub fn value(&self, i: usize) -> Option<&'a str> {
        match self {
            TextColumn::Dict(d, values) => d.key(i).map(|k| values.value(k)),
            TextColumn::Plain(s) => s.is_valid(i).then(|| s.value(i)),
        }
    }

    /// For each row, the index of its distinct value mapped through `f` (called once per distinct
    /// value of a dictionary).
    pub fn map_rows<T: Copy>(&self, f: impl FnMut(&str) -> T) -> Vec<Option<T>> {
        self.map_rows_cached(&mut DictCache::default(), f)
    }

    /// As [`TextColumn::map_rows`], reusing the mapping of the previous batch when it shares
    /// the dictionary: the batches of one Parquet row group all carry the same (large)
    /// dictionary, which must be mapped once, not once per batch.
    pub fn map_rows_cached<T: Copy>(
        &self,
        cache: &mut DictCache<T>,
        mut f: impl FnMut(&str) -> T,
    ) -> Vec<Option<T>> {
        match self {
            TextColumn::Dict(d, values) => {
                // The cache holds the dictionary it mapped, so its buffer cannot be freed and its
                // address reused by the next row group's dictionary (which would pass for the
                // same one and map every id to the wrong meter).
                let same = cache.held.as_ref().is_some_and(|h| Arc::ptr_eq(h, d.values()));
                if !same {
                    cache.mapped = (0..values.len()).map(|i| f(values.value(i))).collect();
                    cache.held = Some(d.values().clone());
                }
                let mapped = &cache.mapped;
                d.keys().iter().map(|k| k.map(|k| mapped[k as usize])).collect()
            }
            TextColumn::Plain(s) => s.iter().map(|v| v.map(&mut f)).collect(),
        }
    }
}

/// The mapping of the last dictionary seen, see [`TextColumn::map_rows_cached`].
pub struct DictCache<T> {
    held: Option<ArrayRef>,
    mapped: Vec<T>,
}

impl<T> Default for DictCache<T> {
    fn default() -> Self {
        DictCache { held: None, mapped: Vec::new() }
    }
}

/// Downcasts a Date32 column.
pub fn dates(array: &ArrayRef) -> Option<&Date32Array> {
    array.as_any().downcast_ref::<Date32Array>()
}

/// Downcasts a Float64 column.
pub fn numbers(array: &ArrayRef) -> Option<&Float64Array> {
    array.as_any().downcast_ref::<Float64Array>()
}

/// The files a writer thread closed, by handle.
type ClosedFiles = StoreResult<Vec<(u64, WrittenFile)>>;

enum WriterMessage {
    Create(u64, PathBuf, Series),
    Write(u64, RecordBatch),
}

/// Partition writers on a thread of their own, so that Parquet encoding and compression run
/// beside the parsing of the next rows (the machine has two cores and an import uses both).
/// The channel is bounded, so memory stays bounded whatever the input size.
pub struct BackgroundWriters {
    tx: Option<std::sync::mpsc::SyncSender<WriterMessage>>,
    handle: Option<std::thread::JoinHandle<ClosedFiles>>,
    next: u64,
}

impl Default for BackgroundWriters {
    fn default() -> Self {
        Self::new()
    }
}

impl BackgroundWriters {
    /// Starts the writer thread.
    pub fn new() -> BackgroundWriters {
        let (tx, rx) = std::sync::mpsc::sync_channel::<WriterMessage>(8);
        let handle = std::thread::spawn(move || -> StoreResult<Vec<(u64, WrittenFile)>> {
            let mut writers: Vec<(u64, PartitionWriter)> = Vec::new();
            for message in rx {
                match message {
                    WriterMessage::Create(id, path, series) => {
                        writers.push((id, PartitionWriter::create(&path, series)?));
                    }
                    WriterMessage::Write(id, batch) => {
                        if let Some((_, w)) = writers.iter_mut().find(|(i, _)| *i == id) {
                            w.write(&batch)?;
                        }
                    }
                }
            }
            writers.into_iter().map(|(id, w)| Ok((id, w.close()?))).collect()
        });
        BackgroundWriters { tx: Some(tx), handle: Some(handle), next: 0 }
    }

    fn send(&mut self, message: WriterMessage) -> StoreResult<()> {
        let sent = self.tx.as_ref().map(|tx| tx.send(message).is_ok()).unwrap_or(false);
        if sent {
            return Ok(());
        }
        // The thread stopped: its result says why.
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(StoreError::Corrupt("列式写入线程已停止 / the writer thread stopped".into())),
        }
    }

    /// Opens a new partition file on the writer thread; returns its handle.
    pub fn create(&mut self, path: &Path, series: Series) -> StoreResult<u64> {
        self.next += 1;
        let id = self.next;
        self.send(WriterMessage::Create(id, path.to_owned(), series))?;
        Ok(id)
    }

    /// Queues a batch for a partition file.
    pub fn write(&mut self, id: u64, batch: RecordBatch) -> StoreResult<()> {
        self.send(WriterMessage::Write(id, batch))
    }

    fn join(&mut self) -> StoreResult<Vec<(u64, WrittenFile)>> {
        self.tx = None;
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|_| StoreError::Corrupt("列式写入线程崩溃 / the writer thread panicked".into()))?,
            None => Ok(Vec::new()),
        }
    }

    /// Closes every file and returns them by handle.
    pub fn finish(mut self) -> StoreResult<Vec<(u64, WrittenFile)>> {
        self.join()
    }
}

impl Drop for BackgroundWriters {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

#[cfg(test)]
mod dict_cache_tests {
    use super::*;

    fn dict(values: &[&str], keys: &[i32]) -> ArrayRef {
        let keys = arrow::array::Int32Array::from(keys.to_vec());
        let values: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
        Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values).unwrap())
    }

    #[test]
    fn a_new_dictionary_of_the_same_length_is_mapped_afresh() {
        let mut cache = DictCache::default();
        // Many row groups in turn, each with its own dictionary of the same length, the previous
        // one dropped first: an address-based identity would see the same dictionary again.
        for round in 0..50 {
            let names = if round % 2 == 0 { ["a", "b", "c"] } else { ["c", "a", "b"] };
            let col = dict(&names, &[0, 1, 2]);
            let text = TextColumn::of(&col).unwrap();
            // Map each id to its first letter's code, as derive maps ids to matrix rows.
            let got: Vec<Option<u8>> = text.map_rows_cached(&mut cache, |s| s.as_bytes()[0]);
            let want: Vec<Option<u8>> = names.iter().map(|s| Some(s.as_bytes()[0])).collect();
            assert_eq!(got, want, "round {round}");
        }
    }
}
