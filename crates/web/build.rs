//! Installs the pinned web libraries (assets/npm/package-lock.json) from the npm registry into the
//! build directory and hands their paths to the crate, which embeds them: the binary never loads
//! anything from a CDN. Runs npm only when the lock file changed.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("npm");
    let src = manifest.join("assets/npm");
    println!("cargo:rerun-if-changed=assets/npm/package.json");
    println!("cargo:rerun-if-changed=assets/npm/package-lock.json");
    let lock = std::fs::read(src.join("package-lock.json")).expect("assets/npm/package-lock.json");
    let echarts = out.join("node_modules/echarts/dist/echarts.min.js");
    let stamp = out.join("installed-lock.json");
    let current = std::fs::read(&stamp).ok().is_some_and(|s| s == lock) && echarts.exists();
    if !current {
        std::fs::create_dir_all(&out).expect("npm build dir");
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(src.join(f), out.join(f)).expect("copy npm manifest");
        }
        let status = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&out)
            .status()
            .expect("npm is needed to build the web assets (apt-get install npm)");
        assert!(status.success(), "npm ci failed in {}", out.display());
        std::fs::write(&stamp, &lock).expect("stamp");
    }
    println!("cargo:rustc-env=JICHA_ECHARTS_JS={}", echarts.display());
}
