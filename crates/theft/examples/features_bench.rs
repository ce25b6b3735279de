//! Throughput of the theft model's parts on one core: the features of a year's series, and the
//! whole scoring (features and the trees). Synthetic series: seasons, a level per customer,
//! about 2% days without a reading and 3% at zero, readings in hundredths of a kWh.
//!
//! `cargo run --release --example features_bench [SERIES] [ROUNDS]`

use jicha_theft::Model;
use jicha_theft::features::{COUNT, compute};
use std::time::Instant;

/// A year of days drawn from `seed` (a linear congruential generator: the same every run).
fn series(days: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    let mut next = move || {
        s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (s >> 33) as f64 / (1u64 << 31) as f64
    };
    let level = 2.0 + 20.0 * next();
    (0..days)
        .map(|d| {
            let r = next();
            if r < 0.02 {
                f32::NAN
            } else if r < 0.05 {
                0.0
            } else {
                let season = 1.0 + 0.3 * (d as f64 / 58.0).sin();
                ((level * season * (0.7 + 0.6 * next())) * 100.0).round() as f32 / 100.0
            }
        })
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().expect("a whole number"));
    let (count, rounds) = (args.next().unwrap_or(20_000), args.next().unwrap_or(10));
    let data: Vec<Vec<f32>> = (0..count).map(|i| series(365, i as u64)).collect();
    let mut row = vec![0.0; COUNT];
    // A checksum of every feature, so a change that alters a value shows.
    let mut check = 0.0f64;
    for s in &data {
        compute(s, &mut row);
    }
    let t = Instant::now();
    for _ in 0..rounds {
        for s in &data {
            compute(s, &mut row);
            check += row.iter().filter(|v| v.is_finite()).sum::<f64>();
        }
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / (rounds * count) as f64;
    println!("features: {per:.3} µs per series (checksum {check:.15e})");
    let model = Model::builtin();
    // The whole scoring as the audit runs it (a matrix of series), on one thread.
    let matrix: Vec<f32> = data.concat();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a pool of one thread");
    let t = Instant::now();
    let mut total = 0.0;
    for _ in 0..rounds {
        total += one.install(|| model.score_matrix(&matrix, count)).iter().sum::<f64>();
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / (rounds * count) as f64;
    println!("features and trees: {per:.3} µs per series (checksum {total:.15e})");
}
