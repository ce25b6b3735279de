//! Reads a data set in the exchange format (data-format.md) and loads it into the store.
//!
//! A data set is a folder of CSV and XLSX files, one workbook, or one CSV file. Every value is
//! checked; every problem of the whole data set is collected into one report naming file, line,
//! column and value; and only a data set without problems is committed, in one transaction.

pub mod decode;
pub mod discover;
pub mod parse;
pub mod pipeline;

pub use pipeline::{ImportOutcome, IngestError, Progress, Rejection, import};
