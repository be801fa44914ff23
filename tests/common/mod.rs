//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use clap::Parser;
use pruningamr::config::{Cli, Config};
use pruningamr::experiment::RunSummary;
use pruningamr::run::{Silent, run};

/// The reference data folder. Tests that need it are `#[ignore = "needs PRUNINGAMR_REFERENCE"]`
/// (so cargo counts them as ignored, never as passed, without the data) and `.ci/run` runs
/// them with `--include-ignored`.
pub fn reference_dir() -> PathBuf {
    match std::env::var_os("PRUNINGAMR_REFERENCE") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "this test needs the reference data: set PRUNINGAMR_REFERENCE (../shared/reference)"
        ),
    }
}

/// The reference data folder when it is set: for tests that run without it and check more
/// with it.
pub fn reference_if_set() -> Option<PathBuf> {
    std::env::var_os("PRUNINGAMR_REFERENCE").map(PathBuf::from)
}

/// A JSON file of the reference folder.
pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {}: {e}", path.display()))
}
pub mod files;
pub mod meshes;
pub mod pickle;
pub mod picture;
pub mod readers;

/// A fresh, empty output folder `target/test-runs/<group>/<name>` (what an earlier run of the
/// test left there is removed).
pub fn out_dir(group: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-runs")
        .join(group)
        .join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    dir
}

/// The validated configuration of `pruningamr --quiet --output <out> <args…>`.
pub fn config(out: &Path, args: &[&str]) -> Config {
    let out = out.display().to_string();
    let mut full = vec!["pruningamr", "--quiet", "--output", &out];
    full.extend_from_slice(args);
    Cli::try_parse_from(full).unwrap().validate().unwrap()
}

/// A whole run on a pool of `threads` workers.
pub fn run_with_threads(cfg: &Config, threads: usize) -> RunSummary {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| run(cfg, &Silent))
        .unwrap()
}
