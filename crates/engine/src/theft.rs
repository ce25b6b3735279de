//! The theft model over the stored data: each customer's year of days up to a day, scored and
//! explained by a [`Model`] (the built-in one unless another is given). LOSS-THEFT and
//! `jicha theft score --period` both read it from here.

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
}

impl Year {
    /// The year up to `last` of every customer with consumption in it.
    pub fn open(session: &Session, last: i32) -> EngineResult<Year> {
        let min_day = session
            .series_files(Series::DailyConsumption)
            .iter()
            .filter(|f| f.rows > 0)
            .map(|f| f.min_day)
            .min();
        Ok(Year { rows: Rows::open(session, window_first(last), last)?, min_day })
    }

    /// Whether the stored data reaches back to the year's first day (a store that starts later
    /// leaves the year's early days empty for everyone: not missing readings).
    pub fn covers_window(&self) -> bool {
        self.min_day.is_some_and(|d| d <= self.rows.first)
    }

    /// The model's score of every row (None when the stored data does not reach back a year),
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

    /// The explanations of some rows.
    pub fn explain(&self, rows: &[usize], model: &Model) -> Vec<Explained> {
        let x: Vec<Vec<f64>> = rows
            .par_iter()
            .map_init(
                || (vec![0.0f32; self.rows.days], Vec::new()),
                |(row, buf), r| {
                    self.rows.fill(*r, row, buf);
                    feature_row(row)
                },
            )
            .collect();
        model.explain(&x, 3)
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
    let year = Year::open(&session, last)?;
    if !year.covers_window() {
        return Err(EngineError::BadInput(format!(
            "已存日用电量始于 {}，模型需要 {} 至 {} 的一整年 / the stored consumption starts on {}; the model needs the year {} to {}",
            year.min_day.map_or("-".into(), |d| from_epoch_days(d).to_string()),
            from_epoch_days(window_first(last)),
            period.last_day(),
            year.min_day.map_or("-".into(), |d| from_epoch_days(d).to_string()),
            from_epoch_days(window_first(last)),
            period.last_day()
        )));
    }
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
