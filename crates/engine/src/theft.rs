//! The theft model over the stored data: each customer's year of days up to a day, scored and
//! explained by a [`Model`] (the built-in one unless another is given). LOSS-THEFT and
//! `jicha theft score --period` both read it from here.

use std::sync::Arc;

use chrono::NaiveDate;
use jicha_core::calendar::{Period, from_epoch_days, to_epoch_days};
use jicha_store::DataDir;
use jicha_theft::model::{WINDOW_DAYS, feature_row};
use jicha_theft::{Explained, Model};
use rayon::prelude::*;

use crate::error::{EngineError, EngineResult};
use crate::kernels::{DailySeries, daily_series};
use crate::session::Session;

/// Rows explained at a time: bounds the feature matrix's memory.
const CHUNK: usize = 65_536;

/// The first day of the model's year ending on `last` (days since 1970-01-01).
pub fn window_first(last: i32) -> i32 {
    last - WINDOW_DAYS as i32 + 1
}

/// Every customer with consumption in the year up to `last`, and the model's score of each (by
/// the series' rows); no scores when the stored data does not reach back a year.
pub fn model_scores(
    session: &Session,
    last: i32,
    model: &Model,
) -> EngineResult<(Arc<DailySeries>, Option<Vec<f64>>)> {
    let series = daily_series(session, window_first(last), last)?;
    if !series.covers_window() {
        return Ok((series, None));
    }
    let scores = model.score_matrix(&series.values, series.customers.len());
    Ok((series, Some(scores)))
}

/// The explanations of some rows of a series.
pub fn explain(series: &DailySeries, rows: &[usize], model: &Model) -> Vec<Explained> {
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let x: Vec<Vec<f64>> = chunk.par_iter().map(|c| feature_row(series.row(*c))).collect();
        out.extend(model.explain(&x, 3));
    }
    out
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
    let (series, scores) = model_scores(&session, last, model)?;
    let Some(scores) = scores else {
        return Err(EngineError::BadInput(format!(
            "已存日用电量始于 {}，模型需要 {} 至 {} 的一整年 / the stored consumption starts on {}; the model needs the year {} to {}",
            series.min_day.map_or("-".into(), |d| from_epoch_days(d).to_string()),
            from_epoch_days(window_first(last)),
            period.last_day(),
            series.min_day.map_or("-".into(), |d| from_epoch_days(d).to_string()),
            from_epoch_days(window_first(last)),
            period.last_day()
        )));
    };
    let rows: Vec<usize> = (0..scores.len()).collect();
    let explained = explain(&series, &rows, model);
    let first: NaiveDate = from_epoch_days(window_first(last));
    Ok(explained
        .iter()
        .enumerate()
        .map(|(c, e)| {
            let (zh, en) = Model::words(e, first, WINDOW_DAYS);
            (series.customers.names[c].clone(), scores[c], format!("{zh} / {en}"))
        })
        .collect())
}
