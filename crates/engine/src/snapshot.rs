//! Columnar snapshots of the relational tables, so an audit does not parse every bill and payment
//! out of SQLite on each run. A snapshot is an Arrow IPC file under `cache/relational/`, named by
//! the table and the store's `data_version` (which every import raises in the same transaction
//! that changes the tables): a snapshot of another version is never read. It is derived data:
//! written beside and renamed into place, deleted freely, and any snapshot that cannot be read is
//! ignored and rebuilt from SQLite.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::buffer::Buffer;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::ipc::convert::fb_to_schema;
use datafusion::arrow::ipc::reader::{FileDecoder, read_footer_length};
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::arrow::ipc::{Block, root_as_footer};
use jicha_store::DataDir;

/// The folder of the snapshots.
pub fn folder(dir: &DataDir) -> PathBuf {
    dir.root().join("cache").join("relational")
}

fn path(dir: &DataDir, table: &str, version: &str) -> PathBuf {
    folder(dir).join(format!("{table}.v{version}.arrow"))
}

/// The snapshot of `table` at `version` as its batches, when one was written with `schema` (this
/// build's) and reads whole. The file is mapped, not read: its columns are the page cache's pages
/// (no copy, no fresh memory cleared for it), held for as long as a batch refers to them.
pub fn read(dir: &DataDir, table: &str, version: &str, schema: &Schema) -> Option<Vec<RecordBatch>> {
    let file = File::open(path(dir, table, version)).ok()?;
    // SAFETY: a snapshot is written beside its place and renamed into it, and never written or
    // cut short once there (a newer version is another file; removing this one leaves the
    // mapping whole), so the mapped bytes do not change while they are read.
    let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }.ok()?;
    decode(&Buffer::from(bytes::Bytes::from_owner(map)), schema)
}

/// The batches of an Arrow IPC file held in `buf` (slices of it, not copies), when its schema is
/// `schema`.
fn decode(buf: &Buffer, schema: &Schema) -> Option<Vec<RecordBatch>> {
    let n = buf.len();
    let trailer: [u8; 10] = buf.get(n.checked_sub(10)?..)?.try_into().ok()?;
    let footer_len = read_footer_length(trailer).ok()?;
    let footer = root_as_footer(buf.get(n.checked_sub(10 + footer_len)?..n - 10)?).ok()?;
    let stored = fb_to_schema(footer.schema()?);
    if stored != *schema {
        return None;
    }
    let mut decoder = FileDecoder::new(Arc::new(stored), footer.version());
    // A block's place as the footer gives it, checked (a damaged file's can be negative or past
    // its end).
    let block_of = |b: &Block| {
        let at = usize::try_from(b.offset()).ok()?;
        let meta = usize::try_from(b.metaDataLength()).ok()?;
        let len = meta.checked_add(usize::try_from(b.bodyLength()).ok()?)?;
        (at.checked_add(len)? <= n).then(|| buf.slice_with_length(at, len))
    };
    for b in footer.dictionaries().iter().flatten() {
        decoder.read_dictionary(b, &block_of(b)?).ok()?;
    }
    let mut out = Vec::new();
    for b in footer.recordBatches()?.iter() {
        out.extend(decoder.read_record_batch(b, &block_of(b)?).ok()?);
    }
    Some(out)
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
