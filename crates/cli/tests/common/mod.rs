//! What the CLI tests share: the binary with a data dir, the fixtures, running it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `jicha --data DATA --quiet`.
pub fn jicha(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jicha"));
    c.arg("--data").arg(data).arg("--quiet");
    c
}

/// The repository's test fixtures.
pub fn fixtures() -> PathBuf {
    // Read when the test runs, not when it is compiled: checkouts sharing one target dir
    // (CI clones beside the work tree) would otherwise see another checkout's path.
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()))
        .join("../../tests/fixtures")
}

/// Runs to the end.
pub fn run(c: &mut Command) -> Output {
    c.output().expect("jicha runs")
}
