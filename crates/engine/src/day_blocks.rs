//! Each committed daily-consumption file as a dense block: its customers (in the file's order)
//! by its days, the stored `f64` kWh per cell. The theft model reads a year of every customer's
//! days, and the customer and area themes four months of them; decoding those Parquet rows (365 M
//! for the year at a million customers) and mapping each row's text id took most of their time,
//! where a block is read as it lies, a customer's days side by side.
//!
//! A block is derived data under `cache/series/`, named after the Parquet file it comes from.
//! Committed files are never changed (an import that touches a partition writes new files and
//! removes the old ones), so a block stays true as long as its file exists. It is written beside
//! and renamed into place, deleted freely (blocks of files no longer stored are removed when the
//! blocks are next assembled), and one that does not read whole is built again from its file.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::Array;
use jicha_store::DataDir;
use jicha_store::relational::SeriesFile;
use jicha_store::series::{Series, read_batches};

use crate::columns::{date_array, float_array};
use crate::error::{EngineError, EngineResult};
use crate::kernels::{Interner, column};
use crate::session::Session;
use crate::snapshot::write_renamed;

/// The first bytes of a block file (the last two digits are the format's version).
const MAGIC: &[u8; 8] = b"JCDAYS01";
/// Header: magic, first day (i32), days (u32), customers (u32), id bytes (u64).
const HEADER: usize = 8 + 4 + 4 + 4 + 8;
/// A day without a row in the file: a NaN of its own (a row without a value is `f64::NAN`; the
/// store holds no NaN kWh, the importer refuses them).
const NO_ROW: u64 = 0x7ff8_0000_0000_0d0d;

/// One file's days.
struct Block {
    first: i32,
    days: usize,
    customers: Vec<String>,
    values: Vec<f64>,
}

/// Where the block of a committed file lies.
fn path(dir: &DataDir, file: &SeriesFile) -> PathBuf {
    dir.root().join("cache").join("series").join(&file.file).with_extension("v1.days")
}

/// The block of a committed file, from its Parquet rows.
fn build(dir: &DataDir, file: &SeriesFile) -> EngineResult<Block> {
    let days = (file.max_day - file.min_day + 1).max(0) as usize;
    let mut ids = Interner::default();
    let mut values: Vec<f64> = Vec::new();
    for batch in read_batches(&dir.series_file(&file.file))? {
        let batch = batch?;
        let rows = ids.rows(column(&batch, "customer_id")?, true)?;
        let (ds, kwh) = (date_array(&batch, "date")?, float_array(&batch, "kwh")?);
        values.resize(ids.len() * days, f64::from_bits(NO_ROW));
        for (i, d) in ds.iter().enumerate() {
            let (Some(c), Some(d)) = (rows[i], d) else { continue };
            if d < file.min_day || d > file.max_day {
                return Err(EngineError::Internal(format!(
                    "{}: a day outside the manifest's range {}..{}",
                    file.file, file.min_day, file.max_day
                )));
            }
            let k = kwh.is_valid(i).then(|| kwh.value(i)).filter(|k| !k.is_nan());
            values[c as usize * days + (d - file.min_day) as usize] = k.unwrap_or(f64::NAN);
        }
    }
    values.resize(ids.len() * days, f64::from_bits(NO_ROW));
    Ok(Block { first: file.min_day, days, customers: ids.names, values })
}

/// Writes a block into place.
fn write(target: &Path, block: &Block) -> std::io::Result<()> {
    write_renamed(target, |w: &mut BufWriter<File>| {
        let id_bytes: usize = block.customers.iter().map(String::len).sum();
        w.write_all(MAGIC)?;
        w.write_all(&block.first.to_le_bytes())?;
        w.write_all(&(block.days as u32).to_le_bytes())?;
        w.write_all(&(block.customers.len() as u32).to_le_bytes())?;
        w.write_all(&(id_bytes as u64).to_le_bytes())?;
        let mut end = 0u32;
        w.write_all(&end.to_le_bytes())?;
        for c in &block.customers {
            end += c.len() as u32;
            w.write_all(&end.to_le_bytes())?;
        }
        for c in &block.customers {
            w.write_all(c.as_bytes())?;
        }
        let mut bytes = Vec::with_capacity(1 << 20);
        for chunk in block.values.chunks(1 << 17) {
            bytes.clear();
            bytes.extend(chunk.iter().flat_map(|v| v.to_bits().to_le_bytes()));
            w.write_all(&bytes)?;
        }
        Ok(())
    })
}

/// An open block file, mapped, whose header and ids are read and checked against its file's
/// range; the days are read from the mapping row by row, without a copy through a buffer.
struct Stored {
    map: memmap2::Mmap,
    /// Where the days start in `map`.
    values_at: usize,
    first: i32,
    days: usize,
    /// Where each id ends in `ids` (the first starts at 0).
    ends: Vec<u32>,
    ids: String,
}

impl Stored {
    fn id(&self, c: usize) -> Option<&str> {
        let from = if c == 0 { 0 } else { self.ends[c - 1] as usize };
        self.ids.get(from..self.ends[c] as usize)
    }

    /// Customer `c`'s days: the mapped bytes themselves where they lie on an 8-byte boundary
    /// (a little-endian machine), else decoded into `buf`.
    fn row<'a>(&'a self, c: usize, buf: &'a mut Vec<f64>) -> &'a [f64] {
        let width = 8 * self.days;
        let bytes = &self.map[self.values_at + c * width..self.values_at + (c + 1) * width];
        if cfg!(target_endian = "little") {
            // SAFETY: every bit pattern is an f64; align_to hands over only aligned elements.
            let (head, values, tail) = unsafe { bytes.align_to::<f64>() };
            if head.is_empty() && tail.is_empty() {
                return values;
            }
        }
        buf.clear();
        buf.extend(bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("eight bytes"))));
        buf
    }
}

/// The header of the block of `file` when one was written for the file's range and its size
/// is what the header says: (first day, days, customers, id bytes).
fn header(reader: &mut impl Read, size: u64, file: &SeriesFile) -> Option<(i32, usize, usize, usize)> {
    let mut header = [0u8; HEADER];
    reader.read_exact(&mut header).ok()?;
    let int = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("four bytes"));
    let (first, days, n) = (int(8) as i32, int(12) as usize, int(16) as usize);
    let id_bytes = u64::from_le_bytes(header[20..28].try_into().expect("eight bytes"));
    let expected_days = (file.max_day - file.min_day + 1).max(0) as usize;
    let total = HEADER as u64 + 4 * (n as u64 + 1) + id_bytes + 8 * (n * days) as u64;
    let fits = &header[..8] == MAGIC && first == file.min_day && days == expected_days && size == total;
    fits.then_some((first, days, n, id_bytes as usize))
}

/// Whether the block of `file` is stored whole (by its header and size).
fn is_stored(dir: &DataDir, file: &SeriesFile) -> bool {
    let Ok(mut handle) = File::open(path(dir, file)) else { return false };
    let Ok(meta) = handle.metadata() else { return false };
    header(&mut handle, meta.len(), file).is_some()
}

/// Opens the stored block of `file`, its ids read and its days mapped.
fn open(dir: &DataDir, file: &SeriesFile) -> Option<Stored> {
    let handle = File::open(path(dir, file)).ok()?;
    let size = handle.metadata().ok()?.len();
    let mut reader = BufReader::with_capacity(1 << 20, &handle);
    let (first, days, n, id_bytes) = header(&mut reader, size, file)?;
    let mut offsets = vec![0u8; 4 * (n + 1)];
    reader.read_exact(&mut offsets).ok()?;
    let mut bytes = vec![0u8; id_bytes];
    reader.read_exact(&mut bytes).ok()?;
    drop(reader);
    let ends: Vec<u32> = offsets
        .chunks_exact(4)
        .skip(1)
        .map(|o| u32::from_le_bytes(o.try_into().expect("four bytes")))
        .collect();
    // SAFETY: a block is written beside its place and renamed into it, and never written or cut
    // short once there (a rebuilt block is renamed over it; removing it leaves the mapping
    // whole), so the mapped bytes do not change while they are read.
    let map = unsafe { memmap2::MmapOptions::new().populate().map(&handle) }.ok()?;
    let values_at = HEADER + offsets.len() + id_bytes;
    // The size was checked against the header: the days fill the rest of the file.
    if map.len() != values_at + 8 * n * days {
        return None;
    }
    let stored = Stored { map, values_at, first, days, ends, ids: String::from_utf8(bytes).ok()? };
    // Every id on character boundaries, in order.
    (0..n).all(|c| stored.id(c).is_some()).then_some(stored)
}

/// Hands one file's row of a customer to `f` when it has a row in `first..=last`: the id, the
/// first day of the cells and the cells of the window (a day without a value is a NaN).
fn visit_row(
    first: i32,
    last: i32,
    block_first: i32,
    id: &str,
    row: &[f64],
    f: &mut impl FnMut(&str, i32, &[f64]),
) {
    let from = first.max(block_first);
    let to = last.min(block_first + row.len() as i32 - 1);
    if from > to {
        return;
    }
    let cells = &row[(from - block_first) as usize..=(to - block_first) as usize];
    if cells.iter().any(|v| v.to_bits() != NO_ROW) {
        f(id, from, cells);
    }
}

/// Hands each row of a block held in memory to `f`.
fn visit_held(block: &Block, first: i32, last: i32, f: &mut impl FnMut(&str, i32, &[f64])) {
    for (c, id) in block.customers.iter().enumerate() {
        visit_row(first, last, block.first, id, &block.values[c * block.days..(c + 1) * block.days], f);
    }
}

/// Hands each row of a stored block to `f`.
fn visit_stored(block: &Stored, first: i32, last: i32, f: &mut impl FnMut(&str, i32, &[f64])) {
    let mut buf = Vec::with_capacity(block.days);
    for c in 0..block.ends.len() {
        let id = block.id(c).expect("checked when opened");
        visit_row(first, last, block.first, id, block.row(c, &mut buf), f);
    }
}

/// The committed files of daily consumption with days in `first..=last`, by their first day.
fn files_of(session: &Session, first: i32, last: i32) -> Vec<&SeriesFile> {
    let mut files: Vec<&SeriesFile> = session
        .series_files(Series::DailyConsumption)
        .iter()
        .filter(|f| f.min_day <= last && f.max_day >= first && f.rows > 0)
        .collect();
    files.sort_by(|a, b| (a.min_day, &a.file).cmp(&(b.min_day, &b.file)));
    files
}

/// The block of a file is on disk (Ok(None)), or held here when it could not be written.
type Ensured = Option<Block>;

/// Makes sure the block of each file is stored: those missing or unreadable are built from their
/// files side by side on up to four threads. Each file's block is built once per session, also
/// when themes running at the same time ask for it (through the session's memo).
fn ensure(session: &Session, files: &[&SeriesFile]) -> EngineResult<Vec<Arc<Ensured>>> {
    let dir = session.dir();
    let one = |file: &SeriesFile| -> EngineResult<Arc<Ensured>> {
        session.memo(&format!("day_block/{}", file.file), || {
            if is_stored(dir, file) {
                return Ok(None);
            }
            let block = build(dir, file)?;
            Ok(write(&path(dir, file), &block).err().map(|_| block))
        })
    };
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4).min(files.len());
    let done: Mutex<Vec<(usize, EngineResult<Arc<Ensured>>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    let result = one(file);
                    done.lock().expect("no worker panics holding the lock").push((i, result));
                }
            });
        }
    });
    let mut out: Vec<Option<Arc<Ensured>>> = vec![None; files.len()];
    for (i, result) in done.into_inner().expect("no worker panicked") {
        out[i] = Some(result?);
    }
    Ok(out.into_iter().map(|e| e.expect("every file ensured")).collect())
}

/// Hands every customer's row of each committed file of daily consumption with days in
/// `first..=last` to `f(id, from, cells)`: the customer's id, the first day of the cells, and
/// its days of the file inside the window (NaN where it has no value). A customer's row is
/// handed over when it has a row in the window, even one without a value, as the query `SELECT
/// customer_id, date, kwh FROM daily_consumption WHERE date BETWEEN first AND last` would give
/// it; files come by their first day, customers in each file's order.
pub fn for_each_row(
    session: &Session,
    first: i32,
    last: i32,
    mut f: impl FnMut(&str, i32, &[f64]),
) -> EngineResult<()> {
    let dir = session.dir();
    let files = files_of(session, first, last);
    let ensured = ensure(session, &files)?;
    for (file, held) in files.iter().zip(ensured) {
        if let Some(block) = held.as_ref() {
            visit_held(block, first, last, &mut f);
            continue;
        }
        match open(dir, file) {
            Some(block) => visit_stored(&block, first, last, &mut f),
            // Removed or spoilt since it was written: read from its file.
            None => visit_held(&build(dir, file)?, first, last, &mut f),
        }
    }
    remove_orphans(dir);
    Ok(())
}

/// Removes the blocks of files no longer stored, and temporary files a killed run left.
fn remove_orphans(dir: &DataDir) {
    let root = dir.root().join("cache").join("series").join("daily_consumption");
    let Ok(months) = std::fs::read_dir(&root) else { return };
    for month in months.flatten() {
        let Ok(entries) = std::fs::read_dir(month.path()) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let source = name.strip_suffix(".v1.days").map(|stem| {
                dir.series_file(&format!(
                    "daily_consumption/{}/{stem}.parquet",
                    month.file_name().to_string_lossy()
                ))
            });
            let orphan = match source {
                Some(source) => !source.exists(),
                None => name.ends_with(".tmp"),
            };
            if orphan {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
