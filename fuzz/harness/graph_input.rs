//! The `onnx` and `safetensors` fuzz targets' input handling, shared with
//! `tests/fuzz_readers.rs` (which includes this file by path) so the stable mutation tests
//! run exactly what the fuzzers run: the whole path from bytes to a network (the reader, the
//! layer-stack recognition, the adaptation to the crate's network).

// The fuzz targets read only the loaded networks; the tests read the refusals too.
#![allow(dead_code)]

use std::path::Path;

use pruningamr::network::{ActivationList, Description, NetworkFile, read_with};

/// An ONNX graph: it stores its activations, so nothing is given.
pub fn load_onnx(data: &[u8]) -> Result<NetworkFile, String> {
    read_with(data, Path::new("fuzz.onnx"), &Description::default())
        .map(|l| l.file)
        .map_err(|e| e.to_string())
}

/// A safetensors state dict, with activations given so that a recognised stack goes on to
/// become a network (a header's own `pruningamr` config still supplies the rest).
pub fn load_safetensors(data: &[u8]) -> Result<NetworkFile, String> {
    let desc = Description {
        activations: ActivationList::parse("tanh").ok(),
        ..Description::default()
    };
    read_with(data, Path::new("fuzz.safetensors"), &desc)
        .map(|l| l.file)
        .map_err(|e| e.to_string())
}
