//! Typed access to query results by column name: every column is cast to the plain type the
//! theme wants, so themes do not care whether text came dictionary-encoded or dates as Date32.

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampSecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};

use crate::error::{EngineError, EngineResult};

fn column(batch: &RecordBatch, name: &str, ty: &DataType) -> EngineResult<ArrayRef> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| EngineError::Internal(format!("结果缺少列 / result lacks column {name}")))?;
    cast(col, ty).map_err(|e| EngineError::Internal(format!("column {name}: {e}")))
}

fn array<A: Array + Clone + 'static>(batch: &RecordBatch, name: &str, ty: &DataType) -> EngineResult<A> {
    column(batch, name, ty)?
        .as_any()
        .downcast_ref::<A>()
        .cloned()
        .ok_or_else(|| EngineError::Internal(format!("column {name}: unexpected type")))
}

macro_rules! typed {
    ($fn:ident, $array:ty, $ty:expr, $out:ty, $get:expr) => {
        /// The column as a vector of optional values.
        pub fn $fn(batch: &RecordBatch, name: &str) -> EngineResult<Vec<Option<$out>>> {
            let a: $array = array(batch, name, &$ty)?;
            Ok((0..a.len()).map(|i| if a.is_null(i) { None } else { Some($get(&a, i)) }).collect())
        }
    };
}

typed!(texts, StringArray, DataType::Utf8, String, |a: &StringArray, i| a.value(i).to_string());
typed!(floats, Float64Array, DataType::Float64, f64, |a: &Float64Array, i| a.value(i));
typed!(ints, Int64Array, DataType::Int64, i64, |a: &Int64Array, i| a.value(i));
typed!(days, Date32Array, DataType::Date32, i32, |a: &Date32Array, i| a.value(i));
typed!(bools, BooleanArray, DataType::Boolean, bool, |a: &BooleanArray, i| a.value(i));
typed!(
    seconds,
    TimestampSecondArray,
    DataType::Timestamp(TimeUnit::Second, None),
    i64,
    |a: &TimestampSecondArray, i| a.value(i)
);

/// A number column as an array, to read in place (the kernels' scans) rather than copy.
pub fn float_array(batch: &RecordBatch, name: &str) -> EngineResult<Float64Array> {
    array(batch, name, &DataType::Float64)
}

/// A date column as an array, to read in place rather than copy.
pub fn date_array(batch: &RecordBatch, name: &str) -> EngineResult<Date32Array> {
    array(batch, name, &DataType::Date32)
}

/// A text column as a string array, to read its values in place rather than copy each one.
pub fn strings(batch: &RecordBatch, name: &str) -> EngineResult<StringArray> {
    array(batch, name, &DataType::Utf8)
}

/// Row `i` of a required text column read in place: a null is empty text.
pub fn text_at(a: &StringArray, i: usize) -> &str {
    if a.is_valid(i) { a.value(i) } else { "" }
}

/// Row `i` of an optional text column read in place.
pub fn text_opt(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

/// A required text column: a null becomes empty text.
pub fn text(batch: &RecordBatch, name: &str) -> EngineResult<Vec<String>> {
    Ok(texts(batch, name)?.into_iter().map(Option::unwrap_or_default).collect())
}
