//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

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
pub mod meshes;
pub mod pickle;
pub mod picture;
pub mod readers;
