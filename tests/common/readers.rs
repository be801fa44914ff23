//! Helpers of the safetensors and ONNX reader tests: their files in tests/data/readers/
//! (made by tests/data/readers/make_test_files.py) and expected values.

use std::path::PathBuf;

pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/readers")
        .join(name)
}

pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(data_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Parses "a b c | d e" lines into (inputs, outputs).
pub fn expected(name: &str) -> Vec<(Vec<f64>, Vec<f64>)> {
    let text = String::from_utf8(read(name)).unwrap();
    text.lines()
        .map(|line| {
            let (x, y) = line.split_once('|').expect("a '|' on each line");
            let nums = |s: &str| {
                s.split_whitespace()
                    .map(|v| v.parse::<f64>().unwrap())
                    .collect::<Vec<_>>()
            };
            (nums(x), nums(y))
        })
        .collect()
}

/// Relative error of `got` against `want`, with |want| floored at 1e-2 so that outputs
/// that cross zero are compared at the scale of the network's outputs.
pub fn rel_err(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs().max(1e-2)
}
