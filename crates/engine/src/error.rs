//! Errors of the audit engine; each says what the user can do about it.

use jicha_store::StoreError;

/// A failure of the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The data dir could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A query failed.
    #[error("查询失败 / query failed: {context}: {source}")]
    Query {
        /// What was being computed.
        context: String,
        /// The cause.
        source: datafusion::error::DataFusionError,
    },
    /// Reading a relational table failed.
    #[error("读取关系表 {table} 失败 / cannot read table {table}: {source}")]
    Relational {
        /// The table.
        table: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The user asked for something that does not exist or cannot be.
    #[error("{0}")]
    BadInput(String),
    /// A result did not have the shape the query promised.
    #[error("内部错误 / internal error: {0}")]
    Internal(String),
}

/// Result of an engine operation.
pub type EngineResult<T> = Result<T, EngineError>;

/// Wraps a DataFusion error with what was being computed.
pub(crate) fn query_err(
    context: impl Into<String>,
) -> impl FnOnce(datafusion::error::DataFusionError) -> EngineError {
    let context = context.into();
    move |source| EngineError::Query { context, source }
}
