//! Where things are in the data dir.
//!
//! ```text
//! jicha-data/
//!   jicha.sqlite            relational tables + the manifest (series_files) + import history
//!   .lock                   held by the one process that may change the data dir
//!   series/<series>/<YYYY-MM>/<name>.parquet   committed partition files (named by the manifest)
//!   staging/                an import in progress; removed on success, failure, or next start
//!   cache/relational/       derived Arrow snapshots of the relational tables, named by data version
//! ```

use crate::error::{StoreError, StoreResult, io_err};
use std::path::{Path, PathBuf};

/// The data dir at a path.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data dir at `root` (it need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether a store has been committed here.
    pub fn exists(&self) -> bool {
        self.database().is_file()
    }

    /// The relational database (and manifest).
    pub fn database(&self) -> PathBuf {
        self.root.join("jicha.sqlite")
    }

    /// The lock file.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join(".lock")
    }

    /// The folder of an import in progress.
    pub fn staging(&self) -> PathBuf {
        self.root.join("staging")
    }

    /// The folder of the series files.
    pub fn series_root(&self) -> PathBuf {
        self.root.join("series")
    }

    /// Takes the lock that lets one process change the data dir; it is held until the returned
    /// file is dropped. Fails at once with [`StoreError::Locked`] when another process holds it.
    pub fn lock(&self) -> StoreResult<std::fs::File> {
        let path = self.lock_file();
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(format!("打开锁文件 {}", path.display())))?;
        match lock.try_lock() {
            Ok(()) => Ok(lock),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(self.root.clone())),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(StoreError::Io { context: format!("锁定 {}", self.root.display()), source: e })
            }
        }
    }

    /// The absolute path of a manifest-relative file name.
    pub fn series_file(&self, relative: &str) -> PathBuf {
        self.series_root().join(relative)
    }
}

/// Makes a file's (or folder's) creation durable by syncing its parent folder.
pub(crate) fn sync_dir(path: &Path) -> StoreResult<()> {
    let dir = std::fs::File::open(path).map_err(io_err(format!("打开目录 {}", path.display())))?;
    dir.sync_all().map_err(io_err(format!("同步目录 {}", path.display())))
}
