//! Errors of the store.

use std::path::PathBuf;

/// A failure of the store; each says what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the data dir's lock.
    #[error(
        "数据目录 {0} 正被另一个 jicha 进程导入，请等待其结束 / the data dir {0} is locked by another jicha import; wait for it to finish"
    )]
    Locked(PathBuf),
    /// No data dir where one was expected.
    #[error(
        "数据目录 {0} 不存在，请先导入数据 (jicha import) / no data dir at {0}; import data first (jicha import)"
    )]
    Missing(PathBuf),
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The relational database failed.
    #[error("数据库错误 / database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A Parquet file could not be read or written.
    #[error("列式文件错误 / Parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// An Arrow array could not be built.
    #[error("Arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Stored data is not as the store wrote it.
    #[error("数据目录已损坏 / the data dir is damaged: {0}")]
    Corrupt(String),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Wraps an I/O error with what was being done.
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}
