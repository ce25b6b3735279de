//! The data dir: everything Jicha has stored, kept so that an import is all or nothing and a year
//! of daily readings for a million customers can be scanned in seconds.
//!
//! - Relational tables (archives, bills, payments, work orders, ...) live in SQLite behind the
//!   [`relational::RelationalStore`] trait, so a PostgreSQL backend can take its place.
//! - Daily series (readings, daily usage, supply, and the derived daily consumption) are Parquet
//!   files partitioned by month; a partition is a set of files with disjoint day ranges.
//! - The manifest (the `series_files` table, in the same database as the relational tables) names
//!   the committed files, so one database transaction commits both at once.

pub mod derive;
pub mod error;
pub mod findings;
pub mod import;
pub mod layout;
pub mod lookup;
pub mod relational;
pub mod scan;
pub mod series;
pub mod status;

pub use error::{StoreError, StoreResult};
pub use import::{CommitSummary, ImportTxn, SeriesRowOutcome};
pub use layout::DataDir;
pub use relational::RowIssue;
pub use status::{ImportRecord, Status, TableStatus, day_not_in, month_not_in};
