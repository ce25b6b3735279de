//! Columnar snapshots of the relational tables, so an audit does not parse every bill and payment
//! out of SQLite on each run. A snapshot is an Arrow IPC file under `cache/relational/`, named by
//! the table and the store's `data_version` (which every import raises in the same transaction
//! that changes the tables): a snapshot of another version is never read. It is derived data:
//! written beside and renamed into place, deleted freely, and any snapshot that cannot be read is
//! ignored and rebuilt from SQLite.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use jicha_store::DataDir;

/// The folder of the snapshots.
pub fn folder(dir: &DataDir) -> PathBuf {
    dir.root().join("cache").join("relational")
}

fn path(dir: &DataDir, table: &str, version: &str) -> PathBuf {
    folder(dir).join(format!("{table}.v{version}.arrow"))
}

/// The snapshot of `table` at `version` as its batches, when one was written with `schema` (this
/// build's) and reads whole.
pub fn read(dir: &DataDir, table: &str, version: &str, schema: &Schema) -> Option<Vec<RecordBatch>> {
    let file = File::open(path(dir, table, version)).ok()?;
    let reader = FileReader::try_new(std::io::BufReader::with_capacity(1 << 20, file), None).ok()?;
    if *reader.schema() != *schema {
        return None;
    }
    reader.collect::<Result<_, _>>().ok()
}

/// Writes the snapshot of `table` at `version` (into a temporary file renamed into place) and
/// removes the table's snapshots of other versions. Failing to write only costs the next run
/// the read from SQLite, so errors are returned for the caller to ignore.
pub fn write(dir: &DataDir, table: &str, version: &str, batch: &RecordBatch) -> std::io::Result<()> {
    let target = path(dir, table, version);
    write_renamed(&target, |out| {
        let mut w = FileWriter::try_new(out, &batch.schema()).map_err(std::io::Error::other)?;
        // Written in slices of a million rows, read back as such.
        let step = 1 << 20;
        let mut at = 0;
        while at < batch.num_rows() {
            let len = step.min(batch.num_rows() - at);
            w.write(&batch.slice(at, len)).map_err(std::io::Error::other)?;
            at += len;
        }
        w.finish().map_err(std::io::Error::other)
    })?;
    remove_other_versions(&folder(dir), table, &target);
    Ok(())
}

/// Writes derived data into `target` through a temporary file beside it (`.<name>.<pid>-<n>.tmp`),
/// synced and then renamed into place, so a reader sees the whole file or none; the folder is
/// made when missing. A failed write leaves no temporary file behind.
pub(crate) fn write_renamed(
    target: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let folder = target.parent().ok_or_else(|| std::io::Error::other("a file without a folder"))?;
    std::fs::create_dir_all(folder)?;
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = folder.join(format!(".{name}.{}-{n}.tmp", std::process::id()));
    let result = (|| {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes the table's other snapshots, and temporary files a killed run left (a write still in
/// progress elsewhere then fails its rename and only costs that run's next read).
fn remove_other_versions(folder: &Path, table: &str, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    let (snapshot, temporary) = (format!("{table}.v"), format!(".{table}.v"));
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let stale = (name.starts_with(&snapshot) && name.ends_with(".arrow") && p != keep)
            || (name.starts_with(&temporary) && name.ends_with(".tmp"));
        if stale {
            let _ = std::fs::remove_file(p);
        }
    }
}
