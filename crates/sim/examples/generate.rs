//! Generates a county data set from the command line, for timing the generator without the CLI:
//! `cargo run --release -p jicha-sim --example generate -- --out /var/tmp/gen --customers 100000 --months 12`.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use jicha_sim::{GenerateOptions, NoProgress, generate};

fn main() -> Result<()> {
    let mut opts = GenerateOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--out" => opts.out = value()?.into(),
            "--customers" => opts.customers = value()?.parse().context("--customers")?,
            "--stations" => opts.stations = value()?.parse().context("--stations")?,
            "--start" => opts.start = value()?.parse().context("--start")?,
            "--months" => opts.months = value()?.parse().context("--months")?,
            "--seed" => opts.seed = value()?.parse().context("--seed")?,
            "--gbk" => opts.gbk = true,
            "--xlsx" => opts.xlsx = true,
            other => bail!("unknown option {other}"),
        }
    }
    let t = Instant::now();
    let s = generate(&opts, &NoProgress)?;
    println!("generated in {:.1} s, {} bytes", t.elapsed().as_secs_f64(), s.bytes);
    for (name, rows) in &s.files {
        println!("  {name}: {rows} rows");
    }
    println!("ground truth: {} lines", s.anomalies);
    for (theme, n) in &s.themes {
        println!("  {theme}: {n}");
    }
    println!("unplanned: {}", s.unplanned.len());
    for u in s.unplanned.iter().take(20) {
        println!("  {u}");
    }
    println!(
        "near threshold: {}, DAY-SUPPLY disagreements: {}",
        s.near_threshold, s.day_supply_disagreements
    );
    for e in &s.near_examples {
        println!("  near: {e}");
    }
    for n in &s.notes {
        println!("note: {n}");
    }
    Ok(())
}
