//! The theft model over the stored data: each customer's year of days up to a day, scored and
//! explained by a [`Model`] (the built-in one unless another is given). LOSS-THEFT and
//! `jicha theft score --period` both read it from here.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use jicha_core::calendar::{Period, from_epoch_days, to_epoch_days};
use jicha_store::DataDir;
use jicha_store::series::Series;
use jicha_theft::model::{WINDOW_DAYS, feature_row};
use jicha_theft::{Explained, Model};
use rayon::prelude::*;

use crate::day_blocks::Rows;
use crate::error::{EngineError, EngineResult};
use crate::session::Session;
use crate::snapshot::write_renamed;

/// The first day of the model's year ending on `last` (days since 1970-01-01).
pub fn window_first(last: i32) -> i32 {
    last - WINDOW_DAYS as i32 + 1
}

/// Every customer's year of days up to a day (NaN = no reading), read from the stored blocks
/// row by row as it is scored: a million customers' year is never held whole.
pub struct Year {
    /// The customers' rows.
    pub rows: Rows,
    /// The store's earliest day of consumption, before the year or in it.
    pub min_day: Option<i32>,
    /// The store's latest day of consumption.
    pub max_day: Option<i32>,
}

/// The store's first and last day of consumption.
fn stored_span(session: &Session) -> (Option<i32>, Option<i32>) {
    let span = jicha_store::relational::span(session.series_files(Series::DailyConsumption));
    (span.map(|s| s.0), span.map(|s| s.1))
}

/// Whether stored consumption from `min_day` to `max_day` covers the days `first..=last` (a store
/// that starts later, or ends sooner, leaves those days empty for everyone: not missing
/// readings). The last day may be missing: its consumption needs the next day's reading, which a
/// month's export may leave out.
fn covers(min_day: Option<i32>, max_day: Option<i32>, first: i32, last: i32) -> bool {
    min_day.is_some_and(|d| d <= first) && max_day.is_some_and(|d| d >= last - 1)
}

impl Year {
    /// The year up to `last` of every customer with consumption in it.
    pub fn open(session: &Session, last: i32) -> EngineResult<Year> {
        let (min_day, max_day) = stored_span(session);
        Ok(Year { rows: Rows::open(session, window_first(last), last)?, min_day, max_day })
    }

    /// Whether the stored data covers the whole year (see [`covers`]).
    pub fn covers_window(&self) -> bool {
        covers(self.min_day, self.max_day, self.rows.first, self.rows.last())
    }

    /// The model's score of every row (None when the stored data does not cover the year),
    /// and what `per_row` gives for each row's days, in one pass over the rows.
    pub fn scan<T: Send>(
        &self,
        model: &Model,
        per_row: impl Fn(&[f32]) -> T + Sync,
    ) -> (Option<Vec<f64>>, Vec<T>) {
        let covers = self.covers_window();
        let days = self.rows.days.max(1);
        let chunks = self.rows.map_chunks(|range, matrix| {
            let scores = covers.then(|| model.score_matrix(matrix, range.len()));
            let each: Vec<T> = matrix.chunks_exact(days).map(&per_row).collect();
            (scores, each)
        });
        let mut scores = covers.then(|| Vec::with_capacity(self.rows.len()));
        let mut each = Vec::with_capacity(self.rows.len());
        for (s, e) in chunks {
            if let (Some(all), Some(s)) = (scores.as_mut(), s) {
                all.extend(s);
            }
            each.extend(e);
        }
        (scores, each)
    }

    /// [`Year::scan`], kept in the data folder's cache for the next run over the same year: the
    /// same committed files, the same model, the same `per_row` (`what` names it and its
    /// parameters) and this build's version. Rerunning a period, with other parameters or other
    /// themes, then reads the scores back instead of scoring a million years again. A cache that
    /// cannot be read or written only costs the time of the scan.
    pub fn scan_kept<T: Kept>(
        &self,
        dir: &DataDir,
        model: &Model,
        what: &str,
        per_row: impl Fn(&[f32]) -> T + Sync,
    ) -> (Option<Vec<f64>>, Vec<T>) {
        let Some(path) = self.kept_path(dir, model, what) else { return self.scan(model, per_row) };
        if let Some(kept) = read_kept(&path, self.rows.len(), self.covers_window()) {
            // Read again: kept among the newest (see `prune_kept`).
            let _ = std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
            return kept;
        }
        let (scores, rows) = self.scan(model, per_row);
        if write_renamed(&path, |w| write_kept(w, scores.as_deref(), &rows)).is_ok() {
            prune_kept(&path);
        }
        (scores, rows)
    }

    /// Where the scan of this year is kept: named by the year's last day and a digest of all
    /// that decides the scan's result, this build included (the running program's size and
    /// time of writing, so that a rebuilt program, whose features or scoring may differ, never
    /// reads a scan another build kept). None when the program cannot be told.
    fn kept_path(&self, dir: &DataDir, model: &Model, what: &str) -> Option<PathBuf> {
        use sha2::{Digest, Sha256};
        let program = std::env::current_exe().and_then(std::fs::metadata).ok()?;
        let written = program.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
        let mut h = Sha256::new();
        for part in [KEPT_MAGIC, env!("CARGO_PKG_VERSION"), model.fingerprint(), what] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.update(program.len().to_le_bytes());
        h.update(written.as_nanos().to_le_bytes());
        h.update(self.rows.first.to_le_bytes());
        h.update((self.rows.days as u64).to_le_bytes());
        h.update([u8::from(self.covers_window())]);
        for f in self.rows.files() {
            h.update(f.as_bytes());
            h.update([0]);
        }
        let digest: String = h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect();
        let last = from_epoch_days(self.rows.last());
        Some(dir.root().join("cache").join("theft").join(format!("year-{last}-{digest}.v1.scores")))
    }

    /// The explanations of some rows.
    pub fn explain(&self, rows: &[usize], model: &Model) -> Vec<Explained> {
        let x: Vec<Vec<f64>> = rows
            .par_iter()
            .map_init(
                || vec![0.0f32; self.rows.days],
                |row, r| {
                    self.rows.fill(*r, row);
                    feature_row(row)
                },
            )
            .collect();
        model.explain(&x, 3)
    }
}

/// What a scan keeps of each row, as a fixed number of bytes in the kept scan (see
/// [`Year::scan_kept`]).
pub trait Kept: Send + Sized {
    /// Bytes a row takes.
    const BYTES: usize;
    /// The row's bytes (exactly [`Kept::BYTES`]).
    fn put(&self, out: &mut Vec<u8>);
    /// The row back from its bytes.
    fn get(bytes: &[u8]) -> Self;
}

/// The first bytes of a kept scan (the last two digits are the format's version).
const KEPT_MAGIC: &str = "JCYEAR01";
/// Kept scans left in the cache at most (the newest; each is about 45 bytes a customer).
const KEPT_FILES: usize = 12;

/// A kept scan: magic, rows (u64), whether it has scores (u8), then each row's score (f64) when
/// it has, then each row's [`Kept`] bytes.
fn write_kept<T: Kept>(w: &mut impl Write, scores: Option<&[f64]>, rows: &[T]) -> std::io::Result<()> {
    w.write_all(KEPT_MAGIC.as_bytes())?;
    w.write_all(&(rows.len() as u64).to_le_bytes())?;
    w.write_all(&[u8::from(scores.is_some())])?;
    let mut bytes = Vec::with_capacity(1 << 20);
    for s in scores.unwrap_or_default().chunks(1 << 16) {
        bytes.clear();
        bytes.extend(s.iter().flat_map(|v| v.to_le_bytes()));
        w.write_all(&bytes)?;
    }
    for chunk in rows.chunks(1 << 14) {
        bytes.clear();
        chunk.iter().for_each(|r| r.put(&mut bytes));
        w.write_all(&bytes)?;
    }
    Ok(())
}

/// The kept scan at `path` when it is whole and of `rows` rows, with scores when `scored`.
fn read_kept<T: Kept>(path: &Path, rows: usize, scored: bool) -> Option<(Option<Vec<f64>>, Vec<T>)> {
    let bytes = std::fs::read(path).ok()?;
    let head = KEPT_MAGIC.len() + 8 + 1;
    let score_bytes = if scored { 8 * rows } else { 0 };
    if bytes.len() != head + score_bytes + rows * T::BYTES
        || &bytes[..KEPT_MAGIC.len()] != KEPT_MAGIC.as_bytes()
        || bytes[KEPT_MAGIC.len()..head - 1] != (rows as u64).to_le_bytes()
        || bytes[head - 1] != u8::from(scored)
    {
        return None;
    }
    let (scores, each) = bytes[head..].split_at(score_bytes);
    let scores = scored.then(|| {
        scores.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("eight bytes"))).collect()
    });
    Some((scores, each.chunks_exact(T::BYTES.max(1)).take(rows).map(T::get).collect()))
}

/// Keeps the newest [`KEPT_FILES`] kept scans beside `path` (and removes temporary files a
/// killed run left, not this process's own).
fn prune_kept(path: &Path) {
    let Some(folder) = path.parent() else { return };
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    let own = format!(".{}-", std::process::id());
    let mut kept = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") && !name.contains(&own) {
            let _ = std::fs::remove_file(e.path());
        } else if name.ends_with(".scores") {
            let modified = e.metadata().and_then(|m| m.modified()).ok();
            kept.push((modified, e.path()));
        }
    }
    kept.sort_by(|a, b| b.cmp(a));
    for (_, old) in kept.into_iter().skip(KEPT_FILES) {
        if old != path {
            let _ = std::fs::remove_file(old);
        }
    }
}

/// Scores every customer of the stored data over the year up to the end of `period`: id, score
/// and the signals in words ("中文 / English").
pub fn score_stored(
    dir: &DataDir,
    period: Period,
    model: &Model,
) -> EngineResult<Vec<(String, f64, String)>> {
    let session = Session::open(dir)?;
    let last = to_epoch_days(period.last_day());
    // Refused before the year's rows are indexed.
    let (min_day, max_day) = stored_span(&session);
    if !covers(min_day, max_day, window_first(last), last) {
        let day = |d: Option<i32>| d.map_or("-".into(), |d| from_epoch_days(d).to_string());
        let (from, to) = (day(min_day), day(max_day));
        let first = from_epoch_days(window_first(last));
        let end = period.last_day();
        return Err(EngineError::BadInput(format!(
            "已存日用电量为 {from} 至 {to}，模型需要 {first} 至 {end} 的一整年 / the stored consumption runs from {from} to {to}; the model needs the whole year {first} to {end}"
        )));
    }
    let year = Year::open(&session, last)?;
    // Scored and explained chunk by chunk, in one pass over the rows.
    let days = year.rows.days.max(1);
    let chunks = year.rows.map_chunks(|range, matrix| {
        let scores = model.score_matrix(matrix, range.len());
        let x: Vec<Vec<f64>> = matrix.chunks_exact(days).map(feature_row).collect();
        (scores, model.explain(&x, 3))
    });
    let first: NaiveDate = from_epoch_days(window_first(last));
    let mut out = Vec::with_capacity(year.rows.len());
    for (scores, explained) in chunks {
        for (score, e) in scores.into_iter().zip(explained) {
            let (zh, en) = Model::words(&e, first, WINDOW_DAYS);
            out.push((year.rows.id(out.len()).to_string(), score, format!("{zh} / {en}")));
        }
    }
    Ok(out)
}
