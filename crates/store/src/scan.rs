//! Reading what is committed: the manifest and the rows of a series.

use crate::error::{StoreError, StoreResult};
use crate::layout::DataDir;
use crate::relational::{SeriesFile, open_read_only, read_manifest};
use crate::series::{Series, TextColumn, dates, numbers, read_batches};
use arrow::array::Array;
use arrow::record_batch::RecordBatch;
use jicha_core::calendar::from_epoch_days;

/// The committed manifest.
pub fn manifest(dir: &DataDir) -> StoreResult<Vec<SeriesFile>> {
    if !dir.exists() {
        return Err(StoreError::Missing(dir.root().to_owned()));
    }
    read_manifest(&open_read_only(&dir.database())?)
}

/// Every committed batch of a series, partition by partition.
pub fn scan(dir: &DataDir, series: Series) -> StoreResult<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for f in manifest(dir)?.into_iter().filter(|f| f.series == series.name()) {
        for batch in read_batches(&dir.series_file(&f.file))? {
            out.push(batch?);
        }
    }
    Ok(out)
}

/// The derived daily consumption as (customer_id, date `YYYY-MM-DD`, kWh or unknown), sorted:
/// for tests and small data sets.
pub fn daily_consumption(dir: &DataDir) -> StoreResult<Vec<(String, String, Option<f64>)>> {
    let mut rows = Vec::new();
    for batch in scan(dir, Series::DailyConsumption)? {
        let bad = || StoreError::Corrupt("daily_consumption columns".into());
        let ids = TextColumn::of(batch.column(0)).ok_or_else(bad)?;
        let days = dates(batch.column(1)).ok_or_else(bad)?;
        let kwh = numbers(batch.column(2)).ok_or_else(bad)?;
        for i in 0..batch.num_rows() {
            rows.push((
                ids.value(i).unwrap_or_default().to_string(),
                from_epoch_days(days.value(i)).to_string(),
                kwh.is_valid(i).then(|| kwh.value(i)),
            ));
        }
    }
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(rows)
}
