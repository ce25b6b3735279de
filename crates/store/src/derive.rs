//! Daily consumption per customer, derived at import (audit-themes.md, "Reference semantics"):
//! from the registers of the customer's meters, or from `daily_usage` for a customer without a
//! meter in service that day.
//!
//! Work is bounded by the days being derived: the registers of those days (plus the next one) are
//! laid out as a dense meter x day matrix, so memory grows with meters x days of one month at most,
//! never with the history stored.

use crate::error::{StoreError, StoreResult};
use crate::layout::DataDir;
use crate::relational::{MeterRow, SeriesFile};
use crate::series::{
    BATCH_ROWS, BatchBuilder, DictCache, PartitionWriter, Series, TextColumn, WrittenFile, dates, numbers,
    read_batches,
};
use arrow::array::Array;
use foldhash::HashMap;
use jicha_core::calendar::Period;
use jicha_core::consumption::{MeterSpan, day_consumption};
use std::collections::BTreeMap;
use std::path::Path;

/// The days to derive: an inclusive range inside one month.
#[derive(Debug, Clone, Copy)]
pub struct DerivedRange {
    /// The month partition.
    pub period: Period,
    /// First day, as days since 1970-01-01.
    pub first: i32,
    /// Last day.
    pub last: i32,
}

/// What a derivation wrote.
#[derive(Debug, Default)]
pub struct DerivedResult {
    /// The new partition file, if it holds any row.
    pub written: Option<WrittenFile>,
    /// Manifest names of the derived files it replaces.
    pub replaced: Vec<String>,
    /// Rows derived for the range (excluding rows kept from replaced files).
    pub new_rows: u64,
}

fn bad(series: Series) -> StoreError {
    StoreError::Corrupt(format!("{} 分区文件列类型不符 / unexpected column types", series.name()))
}

/// Derives the consumption of `range` and writes it, with the rows of the replaced derived files
/// that fall outside the range, to `target`.
pub fn derive_consumption(
    dir: &DataDir,
    manifest: &[SeriesFile],
    meters: &[MeterRow],
    range: DerivedRange,
    target: &Path,
) -> StoreResult<DerivedResult> {
    let DerivedRange { period, first, last } = range;
    let width = (last - first + 2) as usize;
    // Meters in service on some day of the range get a row of the register matrix.
    let mut slot_of: HashMap<&str, u32> = HashMap::default();
    let mut by_customer: BTreeMap<&str, Vec<MeterSpan>> = BTreeMap::new();
    for m in meters {
        let span = MeterSpan {
            index: 0,
            multiplier: m.multiplier,
            installed_on: m.installed_on,
            removed_on: m.removed_on,
        };
        let serves = (first..=last).any(|d| span.in_service(d));
        if !serves {
            continue;
        }
        let slot = slot_of.len() as u32;
        slot_of.insert(&m.meter_id, slot);
        by_customer.entry(&m.customer_id).or_default().push(MeterSpan { index: slot as usize, ..span });
    }
    let mut matrix = vec![f64::NAN; slot_of.len() * width];
    // Days on which no meter at all has a register: the data set does not reach them, so they
    // get no consumption rows (rather than a row of unknowns for every customer).
    let mut registered = vec![false; width];
    let overlapping = |series: Series, a: i32, b: i32| {
        manifest.iter().filter(move |f| f.series == series.name() && f.min_day <= b && f.max_day >= a)
    };
    for f in overlapping(Series::Readings, first, last + 1) {
        let mut cache = DictCache::default();
        for batch in read_batches(&dir.series_file(&f.file))? {
            let batch = batch?;
            let ids = TextColumn::of(batch.column(0)).ok_or_else(|| bad(Series::Readings))?;
            let slots = ids.map_rows_cached(&mut cache, |id| slot_of.get(id).copied());
            let days = dates(batch.column(1)).ok_or_else(|| bad(Series::Readings))?;
            let totals = numbers(batch.column(2)).ok_or_else(|| bad(Series::Readings))?;
            for (i, slot) in slots.iter().enumerate() {
                let (Some(Some(slot)), Some(total)) = (slot, totals.is_valid(i).then(|| totals.value(i)))
                else {
                    continue;
                };
                let day = days.value(i);
                if day < first || day > last + 1 {
                    continue;
                }
                matrix[*slot as usize * width + (day - first) as usize] = total;
                registered[(day - first) as usize] = true;
            }
        }
    }
    // Daily usage of the range, for customers without a meter in service.
    let mut usage: BTreeMap<String, Vec<(i32, Option<f64>)>> = BTreeMap::new();
    for f in overlapping(Series::DailyUsage, first, last) {
        for batch in read_batches(&dir.series_file(&f.file))? {
            let batch = batch?;
            let ids = TextColumn::of(batch.column(0)).ok_or_else(|| bad(Series::DailyUsage))?;
            let days = dates(batch.column(1)).ok_or_else(|| bad(Series::DailyUsage))?;
            let kwh = numbers(batch.column(2)).ok_or_else(|| bad(Series::DailyUsage))?;
            for i in 0..batch.num_rows() {
                let day = days.value(i);
                if let Some(id) = ids.value(i)
                    && (first..=last).contains(&day)
                {
                    usage
                        .entry(id.to_owned())
                        .or_default()
                        .push((day, kwh.is_valid(i).then(|| kwh.value(i))));
                }
            }
        }
    }
    let mut writer: Option<PartitionWriter> = None;
    let mut builder = BatchBuilder::new(Series::DailyConsumption);
    let mut result = DerivedResult::default();
    let flush =
        |builder: &mut BatchBuilder, writer: &mut Option<PartitionWriter>, force: bool| -> StoreResult<()> {
            if builder.len() >= BATCH_ROWS || (force && !builder.is_empty()) {
                if writer.is_none() {
                    *writer = Some(PartitionWriter::create(target, Series::DailyConsumption)?);
                }
                if let Some(w) = writer.as_mut() {
                    w.write(&builder.finish()?)?;
                }
            }
            Ok(())
        };
    // Rows of the replaced files outside the range stay.
    let month = period.to_string();
    for f in manifest.iter().filter(|f| {
        f.series == Series::DailyConsumption.name()
            && f.month == month
            && f.min_day <= last
            && f.max_day >= first
    }) {
        result.replaced.push(f.file.clone());
        for batch in read_batches(&dir.series_file(&f.file))? {
            let batch = batch?;
            let days = dates(batch.column(1)).ok_or_else(|| bad(Series::DailyConsumption))?;
            let keep: arrow::array::BooleanArray =
                days.iter().map(|d| Some(d.is_some_and(|d| d < first || d > last))).collect();
            let kept = arrow::compute::filter_record_batch(&batch, &keep)?;
            if kept.num_rows() > 0 {
                if writer.is_none() {
                    writer = Some(PartitionWriter::create(target, Series::DailyConsumption)?);
                }
                if let Some(w) = writer.as_mut() {
                    w.write(&kept)?;
                }
            }
        }
    }
    let empty: Vec<MeterSpan> = Vec::new();
    let mut customers: Vec<&str> = by_customer.keys().copied().collect();
    customers.extend(usage.keys().map(String::as_str).filter(|c| !by_customer.contains_key(c)));
    customers.sort_unstable();
    for customer in customers {
        let spans = by_customer.get(customer).unwrap_or(&empty);
        let own_usage = usage.get(customer);
        for day in first..=last {
            let kwh = if registered[(day - first) as usize] && spans.iter().any(|m| m.in_service(day)) {
                Some(day_consumption(spans, day, |slot, d| {
                    let v = matrix[slot * width + (d - first) as usize];
                    (!v.is_nan()).then_some(v)
                }))
            } else {
                own_usage.and_then(|u| u.iter().find(|(d, _)| *d == day)).map(|(_, k)| *k)
            };
            if let Some(kwh) = kwh {
                builder.push_consumption(customer, day, kwh);
                result.new_rows += 1;
                flush(&mut builder, &mut writer, false)?;
            }
        }
    }
    flush(&mut builder, &mut writer, true)?;
    if let Some(w) = writer {
        result.written = Some(w.close()?);
    }
    Ok(result)
}
