//! Throughput of the theft model's parts on one core: the features of a year's series, and the
//! whole scoring (features and the trees). Synthetic series: seasons, a level per customer,
//! about 2% days without a reading and 3% at zero, readings in hundredths of a kWh.
//!
//! For comparison, the cost of a shape learner's transform that was measured and not adopted
//! (docs/theft-model.md, "Tried on 2026-11-29"): MiniRocket's 9,996 columns, each the share of
//! days on which one of 84 dilated kernels exceeds one of its levels.
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

/// MiniRocket's kernels: nine taps, weight 2 on three of them and -1 on the other six.
fn kernels() -> Vec<[usize; 3]> {
    let mut k = Vec::with_capacity(84);
    for a in 0..9 {
        for b in a + 1..9 {
            for c in b + 1..9 {
                k.push([a, b, c]);
            }
        }
    }
    k
}

/// The dilations MiniRocket spreads over a year (exponentially, up to (365 - 1) / 8).
const DILATIONS: [usize; 17] = [1, 2, 3, 4, 5, 6, 8, 9, 11, 13, 16, 19, 22, 27, 32, 38, 45];

/// Levels per kernel and dilation: 84 x 17 x 7 = 9,996 columns.
const LEVELS: usize = 7;

/// The kernels' outputs of one series (the log of a day's kWh plus 1 when it has no reading, as
/// the two channels MiniRocket sums), each passed to `each(kernel index, output)`.
fn convolve(series: &[f32], kernels: &[[usize; 3]], mut each: impl FnMut(usize, &[f32])) {
    let n = series.len();
    let x: Vec<f32> =
        series.iter().map(|v| if v.is_nan() { 1.0 } else { v.signum() * v.abs().ln_1p() }).collect();
    let mut taps = vec![vec![0.0f32; n]; 9];
    let (mut sum, mut out) = (vec![0.0f32; n], vec![0.0f32; n]);
    for (d, dilation) in DILATIONS.iter().enumerate() {
        for (j, tap) in taps.iter_mut().enumerate() {
            let shift = (j as isize - 4) * *dilation as isize;
            // tap[t] = x[t + shift], zero outside the series.
            tap.fill(0.0);
            let s = shift.unsigned_abs().min(n);
            if shift >= 0 {
                tap[..n - s].copy_from_slice(&x[s..]);
            } else {
                tap[s..].copy_from_slice(&x[..n - s]);
            }
        }
        for (t, s) in sum.iter_mut().enumerate() {
            *s = taps.iter().map(|tap| tap[t]).sum();
        }
        for (k, [a, b, c]) in kernels.iter().enumerate() {
            let (a, b, c) = (&taps[*a][..n], &taps[*b][..n], &taps[*c][..n]);
            for ((((o, a), b), c), s) in out.iter_mut().zip(a).zip(b).zip(c).zip(&sum) {
                *o = 3.0 * (a + b + c) - s;
            }
            each(d * kernels.len() + k, &out);
        }
    }
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
    // The shape transform: levels from the quantiles of the first series' outputs, as MiniRocket
    // takes them from a training series.
    let kernels = kernels();
    let mut levels = vec![[0.0f32; LEVELS]; DILATIONS.len() * kernels.len()];
    convolve(&data[0], &kernels, |at, out| {
        let mut sorted = out.to_vec();
        sorted.sort_by(f32::total_cmp);
        for (q, level) in levels[at].iter_mut().enumerate() {
            *level = sorted[(q + 1) * sorted.len() / (LEVELS + 1)];
        }
    });
    let mut columns = vec![0.0f32; levels.len() * LEVELS];
    let t = Instant::now();
    let mut check = 0.0f64;
    for _ in 0..rounds {
        for s in &data {
            convolve(s, &kernels, |at, out| {
                let level = &levels[at];
                let mut above = [0u32; LEVELS];
                for v in out {
                    for q in 0..LEVELS {
                        above[q] += u32::from(*v > level[q]);
                    }
                }
                for q in 0..LEVELS {
                    columns[at * LEVELS + q] = above[q] as f32 / out.len() as f32;
                }
            });
            check += columns.iter().map(|v| f64::from(*v)).sum::<f64>();
        }
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / (rounds * count) as f64;
    println!(
        "shape transform ({} columns, not in the model): {per:.3} µs per series (checksum {check:.6e})",
        columns.len()
    );
}
