//! The audit engine (稽查引擎): a DataFusion session over the data dir, the catalogue of audit
//! themes, and the findings they produce.
//!
//! Arrow and Parquet are taken from DataFusion's re-exports, so the workspace has one Arrow.

pub mod assessment;
pub mod audit;
pub mod columns;
pub mod config;
pub mod custom;
pub mod day_blocks;
pub mod error;
pub mod finding;
pub mod id_table;
pub mod indicators;
pub mod kernels;
pub mod session;
pub mod snapshot;
pub mod store;
pub mod theft;
pub mod theme;
pub mod themes;
pub mod warning;

pub use audit::{AuditRun, Outcome, ThemeRun};
pub use error::{EngineError, EngineResult};
pub use finding::{EntityType, Finding, Severity};
pub use session::Session;
pub use theme::{Params, Specialty, Theme, Window};
