//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The reference data folder, or None (the test then prints why and passes).
pub fn reference_dir() -> Option<PathBuf> {
    match std::env::var_os("PRUNINGAMR_REFERENCE") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            println!("skipped: PRUNINGAMR_REFERENCE not set");
            None
        }
    }
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
