//! Each committed daily-consumption file as a dense block: its customers (in the file's order)
//! by its days, the stored `f64` kWh per cell; and each committed file of register readings
//! likewise, its meters by its days, the total register and the time-of-use gap per day (what
//! VOL-REVERSE, VOL-MISSING and VOL-TOU read, decoded from 31 M Parquet rows per month otherwise). The theft model reads a year of every customer's
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
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, RecordBatch};
use jicha_store::DataDir;
use jicha_store::relational::SeriesFile;
use jicha_store::series::{Series, read_batches};

use crate::columns::{date_array, float_array};
use crate::error::{EngineError, EngineResult};
use crate::kernels::{Interner, column};
use crate::session::Session;
use crate::snapshot::write_renamed;
use crate::themes::common::hundredths;

/// Header: magic, first day (i32), days (u32), rows (u32), id bytes (u64). The ids' ends (u32
/// each) and their bytes follow, then zeros up to an 8-byte boundary, then the cells: a row is
/// read in place as `f64`s from the mapping (its start is page-aligned).
const HEADER: usize = 8 + 4 + 4 + 4 + 8;
/// A cell without a value in the file: a NaN of its own (a consumption row without a value is
/// `f64::NAN`; the store holds no NaN kWh, the importer refuses them; as a register cell's
/// integer it is far beyond any register in hundredths).
const NO_ROW: u64 = 0x7ff8_0000_0000_0d0d;

/// What the blocks of one series hold.
struct Kind {
    series: Series,
    /// The first bytes of a block file (the last two digits are the format's version).
    magic: &'static [u8; 8],
    /// The block's file name in place of `parquet` (the format's version, then the kind).
    extension: &'static str,
    /// The kind's last part of the file name, also in older formats' names.
    suffix: &'static str,
    /// Cells per day.
    width: usize,
}

/// Daily consumption: a cell per day, the kWh as `f64` (NaN: a row without a value).
const CONSUMPTION: Kind = Kind {
    series: Series::DailyConsumption,
    magic: b"JCDAYS02",
    extension: "v2.days",
    suffix: ".days",
    width: 1,
};
/// Register readings: two cells per day, the total register and how far the time-of-use
/// registers are from it (|peak + flat + valley - total|, each rounded first), both in
/// hundredths as `i64` held in the cell's 8 bytes (read with [`register`]); [`NO_ROW`] for a day
/// without a total, and for the gap unless all four registers were read.
const REGISTERS: Kind =
    Kind { series: Series::Readings, magic: b"JCREGS02", extension: "v2.regs", suffix: ".regs", width: 2 };

/// Where the cells start: after the header, the ids' ends and bytes, and the zeros that put them
/// on an 8-byte boundary.
fn values_at(rows: usize, id_bytes: usize) -> usize {
    (ids_at(rows) + id_bytes).next_multiple_of(8)
}

impl Kind {
    fn of(file: &SeriesFile) -> &'static Kind {
        if file.series == REGISTERS.series.name() { &REGISTERS } else { &CONSUMPTION }
    }
}

/// A register cell's value in hundredths, when it has one.
pub fn register(cell: f64) -> Option<i64> {
    let bits = cell.to_bits();
    (bits != NO_ROW).then_some(bits as i64)
}

/// The cell of a register value in hundredths.
fn register_cell(hundredths: i64) -> f64 {
    f64::from_bits(hundredths as u64)
}

/// One file's days: each row's cells, [`Kind::width`] per day.
struct Block {
    first: i32,
    days: usize,
    width: usize,
    /// The rows' ids (customers, or meters for registers).
    customers: Vec<String>,
    values: Vec<f64>,
}

/// Where the block of a committed file lies.
fn path(dir: &DataDir, file: &SeriesFile) -> PathBuf {
    dir.root().join("cache").join("series").join(&file.file).with_extension(Kind::of(file).extension)
}

/// The block of a committed file, from its Parquet rows: `put(batch, places, values)` fills, for
/// each (row of the batch, place in `values`), the cells of that row's day from the batch's
/// columns (rows without an id or a date have no place).
fn build_with(
    dir: &DataDir,
    file: &SeriesFile,
    id: &str,
    mut put: impl FnMut(&RecordBatch, &[(usize, usize)], &mut [f64]) -> EngineResult<()>,
) -> EngineResult<Block> {
    let (days, width) = ((file.max_day - file.min_day + 1).max(0) as usize, Kind::of(file).width);
    let mut ids = Interner::default();
    let mut values: Vec<f64> = Vec::new();
    for batch in read_batches(&dir.series_file(&file.file))? {
        let batch = batch?;
        let rows = ids.rows(column(&batch, id)?, true)?;
        let ds = date_array(&batch, "date")?;
        values.resize(ids.len() * days * width, f64::from_bits(NO_ROW));
        let mut places = Vec::with_capacity(batch.num_rows());
        for (i, d) in ds.iter().enumerate() {
            let (Some(c), Some(d)) = (rows[i], d) else { continue };
            if d < file.min_day || d > file.max_day {
                return Err(EngineError::Internal(format!(
                    "{}: a day outside the manifest's range {}..{}",
                    file.file, file.min_day, file.max_day
                )));
            }
            places.push((i, (c as usize * days + (d - file.min_day) as usize) * width));
        }
        put(&batch, &places, &mut values)?;
    }
    values.resize(ids.len() * days * width, f64::from_bits(NO_ROW));
    // Every row kept has a cell (an id met only on rows without a day has none): a reader of a
    // block whose days all lie in its window takes each row as present without looking.
    let cells = (days * width).max(1);
    let has_cell = |row: &[f64]| row.iter().any(|v| v.to_bits() != NO_ROW);
    let mut customers = ids.names;
    if !values.chunks_exact(cells).all(has_cell) {
        let mut kept = 0;
        for c in 0..customers.len() {
            if has_cell(&values[c * cells..(c + 1) * cells]) {
                values.copy_within(c * cells..(c + 1) * cells, kept * cells);
                customers.swap(c, kept);
                kept += 1;
            }
        }
        customers.truncate(kept);
        values.truncate(kept * cells);
    }
    Ok(Block { first: file.min_day, days, width, customers, values })
}

/// The block of a committed file, from its Parquet rows.
fn build(dir: &DataDir, file: &SeriesFile) -> EngineResult<Block> {
    if Kind::of(file).series == Series::Readings {
        // As the registers' scan reads them: a row counts with its total, its gap with all four.
        return build_with(dir, file, "meter_id", |b, places, values| {
            let total = float_array(b, "total")?;
            let tou = [float_array(b, "peak")?, float_array(b, "flat")?, float_array(b, "valley")?];
            for &(i, at) in places {
                if total.is_valid(i) {
                    let t = hundredths(total.value(i));
                    values[at] = register_cell(t);
                    if tou.iter().all(|a| a.is_valid(i)) {
                        let sum: i64 = tou.iter().map(|a| hundredths(a.value(i))).sum();
                        values[at + 1] = register_cell((sum - t).abs());
                    }
                }
            }
            Ok(())
        });
    }
    build_with(dir, file, "customer_id", |b, places, values| {
        let kwh = float_array(b, "kwh")?;
        for &(i, at) in places {
            let k = kwh.is_valid(i).then(|| kwh.value(i)).filter(|k| !k.is_nan());
            values[at] = k.unwrap_or(f64::NAN);
        }
        Ok(())
    })
}

/// Writes the block of `file` into place.
fn write(dir: &DataDir, file: &SeriesFile, block: &Block) -> std::io::Result<()> {
    write_renamed(&path(dir, file), |w: &mut BufWriter<File>| {
        let id_bytes: usize = block.customers.iter().map(String::len).sum();
        w.write_all(Kind::of(file).magic)?;
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
        let ids_end = ids_at(block.customers.len()) + id_bytes;
        w.write_all(&[0u8; 8][..values_at(block.customers.len(), id_bytes) - ids_end])?;
        let mut bytes = Vec::with_capacity(1 << 20);
        for chunk in block.values.chunks(1 << 17) {
            bytes.clear();
            bytes.extend(chunk.iter().flat_map(|v| v.to_bits().to_le_bytes()));
            w.write_all(&bytes)?;
        }
        Ok(())
    })
}

/// An open block file, mapped, whose header and ids are checked against its file's range; the
/// ids and the days are read from the mapping as they lie, without a copy.
struct Stored {
    map: memmap2::Mmap,
    /// Where the days start in `map`.
    values_at: usize,
    first: i32,
    days: usize,
    width: usize,
    /// Rows.
    rows: usize,
}

/// Where the ids' bytes start in a block of `rows` rows (after the header and their ends).
fn ids_at(rows: usize) -> usize {
    HEADER + 4 * (rows + 1)
}

impl Stored {
    /// Where id `k` ends (id `k - 1`'s end is where it starts; the first starts at 0).
    fn end(&self, k: usize) -> usize {
        let at = HEADER + 4 * k;
        u32::from_le_bytes(self.map[at..at + 4].try_into().expect("four bytes")) as usize
    }

    /// The ids' text.
    fn ids(&self) -> &str {
        let at = ids_at(self.rows);
        // SAFETY: checked to be UTF-8 when the block was opened, and the mapped bytes do not
        // change (see `open`).
        unsafe { std::str::from_utf8_unchecked(&self.map[at..at + self.end(self.rows)]) }
    }

    fn id(&self, c: usize) -> Option<&str> {
        self.ids().get(self.end(c)..self.end(c + 1))
    }

    /// Bytes of a row.
    fn row_bytes(&self) -> usize {
        8 * self.days * self.width
    }

    /// Row `c`'s cells: the mapped bytes themselves (the format puts them on an 8-byte boundary;
    /// a block is opened only on a little-endian machine, see [`open`]).
    fn row(&self, c: usize) -> &[f64] {
        let width = self.row_bytes();
        let bytes = &self.map[self.values_at + c * width..self.values_at + (c + 1) * width];
        // SAFETY: every bit pattern is an f64; align_to hands over only aligned elements.
        let (head, values, tail) = unsafe { bytes.align_to::<f64>() };
        assert!(head.is_empty() && tail.is_empty(), "a block's cells lie on an 8-byte boundary");
        values
    }
}

/// The header of the block of `file` when one was written for the file's series and range and
/// its size is what the header says: (first day, days, rows, id bytes).
fn header(reader: &mut impl Read, size: u64, file: &SeriesFile) -> Option<(i32, usize, usize, usize)> {
    let mut header = [0u8; HEADER];
    reader.read_exact(&mut header).ok()?;
    let int = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("four bytes"));
    let (first, days, n) = (int(8) as i32, int(12) as usize, int(16) as usize);
    let id_bytes = u64::from_le_bytes(header[20..28].try_into().expect("eight bytes"));
    // A spoilt header's counts cannot exceed the file (nor overflow the sums below).
    if id_bytes > size || n as u64 > size || days as u64 > size {
        return None;
    }
    let expected_days = (file.max_day - file.min_day + 1).max(0) as usize;
    let kind = Kind::of(file);
    let total = values_at(n, id_bytes as usize) as u64 + 8 * (n * days * kind.width) as u64;
    let fits = &header[..8] == kind.magic && first == file.min_day && days == expected_days && size == total;
    fits.then_some((first, days, n, id_bytes as usize))
}

/// Whether the block of `file` is stored whole (by its header and size).
fn is_stored(dir: &DataDir, file: &SeriesFile) -> bool {
    let Ok(mut handle) = File::open(path(dir, file)) else { return false };
    let Ok(meta) = handle.metadata() else { return false };
    header(&mut handle, meta.len(), file).is_some()
}

/// Opens the stored block of `file`, its ids read and its days mapped (all of them faulted in at
/// once with `populate`, for a block read through; else page by page as they are read).
fn open(dir: &DataDir, file: &SeriesFile, populate: bool) -> Option<Stored> {
    // The cells are little-endian f64s, read in place: elsewhere the block is built in memory.
    if cfg!(target_endian = "big") {
        return None;
    }
    let handle = File::open(path(dir, file)).ok()?;
    let size = handle.metadata().ok()?.len();
    let (first, days, n, id_bytes) = header(&mut BufReader::with_capacity(HEADER, &handle), size, file)?;
    // SAFETY: a block is written beside its place and renamed into it, and never written or cut
    // short once there (a rebuilt block is renamed over it; removing it leaves the mapping
    // whole), so the mapped bytes do not change while they are read.
    let mut options = memmap2::MmapOptions::new();
    if populate {
        options.populate();
    }
    let map = unsafe { options.map(&handle) }.ok()?;
    let values_at = values_at(n, id_bytes);
    // The size was checked against the header: the days fill the rest of the file.
    let width = Kind::of(file).width;
    if map.len() != values_at + 8 * n * days * width {
        return None;
    }
    let stored = Stored { map, values_at, first, days, width, rows: n };
    // The ids are UTF-8, their ends in order from 0 to their bytes, each on a character boundary.
    let text = std::str::from_utf8(&stored.map[ids_at(n)..ids_at(n) + id_bytes]).ok()?;
    let whole = stored.end(0) == 0 && stored.end(n) == id_bytes;
    (whole && (0..n).all(|c| text.get(stored.end(c)..stored.end(c + 1)).is_some())).then_some(stored)
}

/// One file's block as it is read: held in memory (built because it could not be stored, or
/// rebuilt because its stored copy was spoilt) or stored and mapped.
enum Source {
    Held(Arc<Ensured>),
    Built(Block),
    Stored(Stored),
}

impl Source {
    /// The block of `file`: the one held in the memo, else the stored one (mapped; faulted in at
    /// once with `populate`), else built again from its file when the stored one is gone or
    /// spoilt.
    fn of(dir: &DataDir, file: &SeriesFile, held: Arc<Ensured>, populate: bool) -> EngineResult<Source> {
        if held.is_some() {
            return Ok(Source::Held(held));
        }
        Ok(match open(dir, file, populate) {
            Some(stored) => Source::Stored(stored),
            None => Source::Built(build(dir, file)?),
        })
    }

    fn held(&self) -> Option<&Block> {
        match self {
            Source::Held(held) => held.as_ref().as_ref(),
            Source::Built(block) => Some(block),
            Source::Stored(_) => None,
        }
    }

    fn first(&self) -> i32 {
        match (self, self.held()) {
            (Source::Stored(s), _) => s.first,
            (_, Some(b)) => b.first,
            _ => unreachable!("a block is held or stored"),
        }
    }

    /// Cells per day.
    fn width(&self) -> usize {
        match (self, self.held()) {
            (Source::Stored(s), _) => s.width,
            (_, Some(b)) => b.width,
            _ => unreachable!("a block is held or stored"),
        }
    }

    /// Rows (customers, or meters for registers).
    fn len(&self) -> usize {
        match (self, self.held()) {
            (Source::Stored(s), _) => s.rows,
            (_, Some(b)) => b.customers.len(),
            _ => unreachable!("a block is held or stored"),
        }
    }

    fn id(&self, c: usize) -> &str {
        match (self, self.held()) {
            (Source::Stored(s), _) => s.id(c).expect("checked when opened"),
            (_, Some(b)) => &b.customers[c],
            _ => unreachable!("a block is held or stored"),
        }
    }

    /// Row `c`'s cells.
    fn row(&self, c: usize) -> &[f64] {
        match (self, self.held()) {
            (Source::Stored(s), _) => s.row(c),
            (_, Some(b)) => &b.values[c * b.days * b.width..(c + 1) * b.days * b.width],
            _ => unreachable!("a block is held or stored"),
        }
    }

    /// The part of row `c` inside `first..=last` when it has a row there (a cell other than
    /// [`NO_ROW`]): the first day of the cells, and the cells.
    fn cells(&self, c: usize, first: i32, last: i32) -> Option<(i32, &[f64])> {
        let (block_first, width) = (self.first(), self.width());
        let row = self.row(c);
        let from = first.max(block_first);
        let to = last.min(block_first + (row.len() / width) as i32 - 1);
        if from > to {
            return None;
        }
        let cells = &row[(from - block_first) as usize * width..(to - block_first + 1) as usize * width];
        cells.iter().any(|v| v.to_bits() != NO_ROW).then_some((from, cells))
    }

    /// Hands each customer's row inside `first..=last` to `f` (see [`for_each_row`]).
    fn visit(&self, first: i32, last: i32, f: &mut impl FnMut(&str, i32, &[f64])) {
        for c in 0..self.len() {
            if let Some((from, cells)) = self.cells(c, first, last) {
                f(self.id(c), from, cells);
            }
        }
    }
}

/// The committed files of a series with days in `first..=last`, by their first day.
fn files_of<'a>(session: &'a Session, kind: &Kind, first: i32, last: i32) -> Vec<&'a SeriesFile> {
    let mut files: Vec<&SeriesFile> = session
        .series_files(kind.series)
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
            Ok(write(dir, file, &block).err().map(|_| block))
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
    f: impl FnMut(&str, i32, &[f64]),
) -> EngineResult<()> {
    visit_all(session, &CONSUMPTION, first, last, f)
}

/// Every meter's register readings over a window, read in place from the register blocks of
/// the committed files (not copied into a matrix): the meters with a total in the window, and for
/// each (meter, day) the total register and the time-of-use gap in hundredths, as the query
/// `SELECT meter_id, date, total, peak, flat, valley FROM readings WHERE total IS NOT NULL AND date
/// BETWEEN first AND last` gives them (see [`REGISTERS`]). The blocks stay mapped while it lives.
pub struct RegisterDays {
    /// The files' blocks, by their first day (partitions have disjoint days).
    sources: Vec<Source>,
    /// For each file, each meter's row in it ([`ABSENT`]: none).
    at: Vec<Vec<u32>>,
    /// The window's first day.
    pub first: i32,
    /// Days in the window.
    pub days: usize,
}

impl RegisterDays {
    /// The register days of `first..=last`, and the meters with a total in it (in the order the
    /// files meet them: a meter's index in it is its `m` in [`RegisterDays::fill`]).
    pub fn open(session: &Session, first: i32, last: i32) -> EngineResult<(Interner, RegisterDays)> {
        let mut meters = Interner::with_capacity(session.row_count("meters") as usize);
        // A file whose days all lie in the window is read through (faulted in at once).
        let (sources, at_all, _) = index(session, &REGISTERS, (first, last), true, &mut meters, |_, _| {})?;
        Ok((meters, RegisterDays { sources, at: at_all, first, days: days_of(first, last) }))
    }

    /// Meter `m`'s days of the window into `out` (`days` long, day `first + k` at `k`): each
    /// day's total register and, when all four registers were read, the gap of its time-of-use
    /// registers; `(None, None)` for a day without a total. A later file's day replaces an
    /// earlier one's where it has a total (partitions have disjoint days: none does).
    pub fn fill(&self, m: usize, out: &mut Vec<(Option<i64>, Option<i64>)>) {
        out.clear();
        out.resize(self.days, (None, None));
        let last = last_of(self.first, self.days);
        for (source, at) in self.sources.iter().zip(&self.at) {
            let Some(&c) = at.get(m).filter(|c| **c != ABSENT) else { continue };
            let Some((from, cells)) = source.cells(c as usize, self.first, last) else { continue };
            let at = (from - self.first) as usize;
            for (day, cell) in out[at..].iter_mut().zip(cells.chunks_exact(2)) {
                if let Some(total) = register(cell[0]) {
                    *day = (Some(total), register(cell[1]));
                }
            }
        }
    }
}

/// Hands every row of each committed file of a series with days in `first..=last` to `f`.
fn visit_all(
    session: &Session,
    kind: &Kind,
    first: i32,
    last: i32,
    mut f: impl FnMut(&str, i32, &[f64]),
) -> EngineResult<()> {
    let dir = session.dir();
    let files = files_of(session, kind, first, last);
    let ensured = ensure(session, &files)?;
    // One file at a time: a block is let go (and its pages unmapped) once read; its pages
    // faulted in at once when the window holds all its days (the day before a month, e.g., is
    // read from its block page by page).
    for (file, held) in files.iter().zip(ensured) {
        let whole = first <= file.min_day && file.max_day <= last;
        Source::of(dir, file, held, whole)?.visit(first, last, &mut f);
    }
    remove_orphans(dir, kind);
    Ok(())
}

/// No row of a customer in a file.
const ABSENT: u32 = u32::MAX;

/// What [`index`] gives: the blocks, each one's rows by id, the files' names.
type Indexed = (Vec<Source>, Vec<Vec<u32>>, Vec<String>);

/// The blocks of a series' files with days in `first..=last`, by their first day, each with its
/// rows' places by id: `at[i]` is the row of the `i`th id of `ids` in the file ([`ABSENT`]:
/// none). Ids go into `ids` as the files meet them; a row counts when it has a cell in the window,
/// as every row of a file whose days all lie in the window has (see `build_with`), so those are
/// not looked at (and are faulted in at once with `populate_whole`). `opened(ids, source)` sees
/// each file once its ids are in. The files' names come third.
fn index(
    session: &Session,
    kind: &Kind,
    (first, last): (i32, i32),
    populate_whole: bool,
    ids: &mut Interner,
    mut opened: impl FnMut(&Interner, &Source),
) -> EngineResult<Indexed> {
    let dir = session.dir();
    let files = files_of(session, kind, first, last);
    let ensured = ensure(session, &files)?;
    let (mut sources, mut places) = (Vec::with_capacity(files.len()), Vec::with_capacity(files.len()));
    for (file, held) in files.iter().zip(ensured) {
        let whole = first <= file.min_day && file.max_day <= last;
        let source = Source::of(dir, file, held, whole && populate_whole)?;
        let mut at = vec![ABSENT; ids.len()];
        for c in 0..source.len() {
            if whole || source.cells(c, first, last).is_some() {
                let i = ids.intern_next(source.id(c)) as usize;
                if i >= at.len() {
                    at.resize(i + 1, ABSENT);
                }
                at[i] = c as u32;
            }
        }
        opened(ids, &source);
        sources.push(source);
        places.push(at);
    }
    remove_orphans(dir, kind);
    Ok((sources, places, files.iter().map(|f| f.file.clone()).collect()))
}

/// The last day of a window of `days` days from `first`.
fn last_of(first: i32, days: usize) -> i32 {
    first + days as i32 - 1
}

/// The days of the window `first..=last` (none when it is empty).
pub fn days_of(first: i32, last: i32) -> usize {
    (last - first + 1).max(0) as usize
}

/// Every customer's days over a window, read from the files' blocks when asked for, not copied
/// into a matrix: each customer's row put together from the files that hold it (a later file's
/// cells over an earlier one's, as [`for_each_row`] hands them over). The stored blocks stay
/// mapped while the rows are read.
///
/// The rows go in the first file's order, with the customers it lacks put in among them by id:
/// stored in customer order, every file is then read front to back, and those customers' rows
/// are not scattered over the files at the end.
pub struct Rows {
    /// The files' blocks, by their first day.
    sources: Vec<Source>,
    /// The files' names (committed files never change: the names say what the rows hold).
    files: Vec<String>,
    /// For each file, each row's customer's row in it ([`ABSENT`]: none).
    at: Vec<Vec<u32>>,
    /// The customers, in the order the files meet them.
    customers: Interner,
    /// Each row's customer (its index in `customers`).
    order: Vec<u32>,
    /// Each customer's row.
    row_of: Vec<u32>,
    /// The window's first day.
    pub first: i32,
    /// Days per row.
    pub days: usize,
}

/// Rows handed over at a time by [`Rows::map_chunks`], to one thread.
const CHUNK: usize = 512;
/// Rows read between two lets-go of the pages read (in parallel, by chunks).
const STRETCH: usize = 64 * CHUNK;

impl Rows {
    /// The rows of every customer with a row in `first..=last` (see [`for_each_row`]).
    pub fn open(session: &Session, first: i32, last: i32) -> EngineResult<Rows> {
        let mut customers = Interner::with_capacity(session.row_count("customers") as usize);
        // Customers met in the first file.
        let mut in_first = None;
        let (sources, met, files) =
            index(session, &CONSUMPTION, (first, last), false, &mut customers, |ids, source| {
                // What the ids' check read is not needed until the rows are.
                release(source, (0, source.len()));
                in_first.get_or_insert(ids.len());
            })?;
        let in_first = in_first.unwrap_or(0);
        // The first file's customers, and the others put in among them by id.
        let names = &customers.names;
        let mut others: Vec<u32> = (in_first as u32..names.len() as u32).collect();
        others.sort_unstable_by(|a, b| names[*a as usize].cmp(&names[*b as usize]));
        let mut order = Vec::with_capacity(names.len());
        let mut rest = others.into_iter().peekable();
        for i in 0..in_first as u32 {
            while let Some(o) = rest.next_if(|o| names[*o as usize] < names[i as usize]) {
                order.push(o);
            }
            order.push(i);
        }
        order.extend(rest);
        let mut row_of = vec![0u32; order.len()];
        for (r, i) in order.iter().enumerate() {
            row_of[*i as usize] = r as u32;
        }
        let at = met
            .into_iter()
            .map(|at| order.iter().map(|i| at.get(*i as usize).copied().unwrap_or(ABSENT)).collect())
            .collect();
        Ok(Rows { sources, files, at, customers, order, row_of, first, days: days_of(first, last) })
    }

    /// The names of the committed files the rows come from, by their first day.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// Customers.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Row `r`'s customer.
    pub fn id(&self, r: usize) -> &str {
        &self.customers.names[self.order[r] as usize]
    }

    /// The row of a customer, when it has one.
    pub fn row_of(&self, id: &str) -> Option<usize> {
        self.customers.get(id).map(|i| self.row_of[i as usize] as usize)
    }

    /// No customer.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The window's last day.
    pub fn last(&self) -> i32 {
        last_of(self.first, self.days)
    }

    /// Row `r`'s days into `out` (`days` long): the kWh as `f32`, NaN for a day without a
    /// value.
    pub fn fill(&self, r: usize, out: &mut [f32]) {
        out.fill(f32::NAN);
        for (source, at) in self.sources.iter().zip(&self.at) {
            let Some(&c) = at.get(r).filter(|c| **c != ABSENT) else { continue };
            let Some((from, cells)) = source.cells(c as usize, self.first, self.last()) else { continue };
            let at = (from - self.first) as usize;
            for (out, k) in out[at..at + cells.len()].iter_mut().zip(cells) {
                *out = if k.is_nan() { f32::NAN } else { *k as f32 };
            }
        }
    }

    /// Hands every row to `f` as a row-major matrix of some rows (`range`, [`CHUNK`] at a
    /// time), chunks side by side on the rayon pool, and gives back what `f` gave for each chunk,
    /// in the rows' order. The stored pages of the rows read are let go as it goes (they stay in
    /// the page cache), so the blocks do not all stay in memory.
    pub fn map_chunks<T: Send>(&self, f: impl Fn(std::ops::Range<usize>, &[f32]) -> T + Sync) -> Vec<T> {
        use rayon::prelude::*;
        let n = self.len();
        let mut out = Vec::with_capacity(n.div_ceil(CHUNK));
        for start in (0..n).step_by(STRETCH) {
            let end = (start + STRETCH).min(n);
            let starts: Vec<usize> = (start..end).step_by(CHUNK).collect();
            out.par_extend(starts.into_par_iter().map(|a| {
                let b = (a + CHUNK).min(end);
                let mut matrix = vec![0.0; (b - a) * self.days];
                for (r, row) in (a..b).zip(matrix.chunks_exact_mut(self.days.max(1))) {
                    self.fill(r, row);
                }
                f(a..b, &matrix)
            }));
            for (source, at) in self.sources.iter().zip(&self.at) {
                release(source, span(&at[start..end]));
            }
        }
        out
    }
}

/// The span of a file's rows that some rows read (their rows in the file, [`ABSENT`] for none):
/// (lowest, highest + 1), empty when none.
fn span(at: &[u32]) -> (usize, usize) {
    at.iter()
        .filter(|c| **c != ABSENT)
        .fold((usize::MAX, 0), |(lo, hi), c| (lo.min(*c as usize), hi.max(*c as usize + 1)))
}

/// Lets go of the mapped pages of a stored block's rows `from..to` (the page cache keeps them;
/// a row read again is mapped again).
fn release(source: &Source, (from, to): (usize, usize)) {
    if let Source::Stored(s) = source
        && from < to
    {
        let width = s.row_bytes();
        let (at, end) = (s.values_at + from * width, (s.values_at + to * width).min(s.map.len()));
        // SAFETY: the mapping is a shared read-only one of a file never written in place (see
        // `open`): pages let go are only unmapped and come back with the same bytes when read
        // again, also by a read on another thread at the same time.
        let _ = unsafe { s.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, at, end - at) };
    }
}

/// Removes the blocks of a series' files no longer stored, blocks of an older format, and
/// temporary files a killed run left (not this process's own: another theme may be writing one).
fn remove_orphans(dir: &DataDir, kind: &Kind) {
    let series = kind.series.name();
    let root = dir.root().join("cache").join("series").join(series);
    let Ok(months) = std::fs::read_dir(&root) else { return };
    let (suffix, own) = (format!(".{}", kind.extension), format!(".{}-", std::process::id()));
    for month in months.flatten() {
        let Ok(entries) = std::fs::read_dir(month.path()) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let source = name.strip_suffix(&suffix).map(|stem| {
                dir.series_file(&format!("{series}/{}/{stem}.parquet", month.file_name().to_string_lossy()))
            });
            let orphan = match source {
                Some(source) => !source.exists(),
                // A temporary file a killed run left, or a block of an older format.
                None => (name.ends_with(".tmp") && !name.contains(&own)) || name.ends_with(kind.suffix),
            };
            if orphan {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
