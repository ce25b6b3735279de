//! Renders the documents of the monthly on-site audit (现场营销稽查) from plain data:
//!
//! - 《现场营销稽查报告》 as a Word document ([`write_monthly_docx`]),
//! - 《现场营销稽查发现问题及整改措施汇总清单》 as an Excel workbook ([`write_problem_list_xlsx`]),
//! - the census registration forms (用电营业普查登记表), one Excel workbook per station
//!   ([`write_census_forms`]), laid out so that the filled-in form imports back as `field_checks`.
//!
//! The crate reads no database: the caller fills the structs of [`model`]. Every document is
//! written to a temporary file next to its destination and renamed into place, so a failure never
//! leaves a half-written file under the final name.

mod census;
mod docx;
mod error;
mod format;
pub mod model;
mod problems;
mod write;

pub use census::{CENSUS_HEADERS, CENSUS_SHEET, INSTRUCTIONS_SHEET, write_census_forms};
pub use docx::{report_title, write_monthly_docx};
pub use error::ReportError;
pub use model::{
    CensusForm, CensusRow, CountLine, IndicatorLine, MonthlyReport, Problem, StationLine, Summary,
};
pub use problems::{
    PROBLEM_HEADERS, PROBLEM_SHEET, SUMMARY_SHEET, problem_list_title, write_problem_list_xlsx,
};
