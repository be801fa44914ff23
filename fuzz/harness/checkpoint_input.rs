//! The `checkpoint` fuzz target's input decoding, shared with `tests/fuzz_readers.rs` (which
//! includes this file by path) so the stable mutation tests run exactly what the fuzzer runs.
//! The first byte picks what the rest is:
//! - 0: a whole file (zip layer, format dispatch, everything behind it);
//! - 1: the `data.pkl` of a torch.save archive whose storages are fixed (layouts, tensors);
//! - 2: `weight_0.npy` of an npz whose other members are fixed (the npy parser, shapes);
//! - 3: a bare pickle for the unpickler alone.

// The fuzz target reads only the loaded networks; the tests read the refusals too.
#![allow(dead_code)]

use std::io::{Cursor, Write};
use std::path::Path;

use pruningamr::network::NetworkFile;
use pruningamr::network::npy::{write_npy_f32, write_npy_text};
use pruningamr::network::pickle::unpickle;

/// A zip of stored members; empty if writing fails (it cannot, in memory).
pub fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        if z.start_file(*name, opts).is_err() || z.write_all(bytes).is_err() {
            return Vec::new();
        }
    }
    z.finish().map(|c| c.into_inner()).unwrap_or_default()
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A torch.save archive around `pickle`, with float32 storages `0`–`3` of 8 values each.
pub fn torch_archive(pickle: &[u8]) -> Vec<u8> {
    let s: Vec<Vec<u8>> = (0..4)
        .map(|k| {
            f32_bytes(&[0.5, -1.0, 2.0, 0.25, 1.5, -0.75, 3.0, 1.0].map(|v| v * (k + 1) as f32))
        })
        .collect();
    zip_of(&[
        ("net/data.pkl", pickle),
        ("net/byteorder", b"little"),
        ("net/data/0", &s[0]),
        ("net/data/1", &s[1]),
        ("net/data/2", &s[2]),
        ("net/data/3", &s[3]),
        ("net/version", b"3\n"),
    ])
}

/// An npz of a 2 → 3 → 1 network with `weight_0` replaced by `npy`.
pub fn npz_with_weight_0(npy: &[u8]) -> Vec<u8> {
    let b0 = write_npy_f32(&[3], &[0.0, -1.0, 1.0]);
    let w1 = write_npy_f32(&[1, 3], &[1.0, -1.0, 2.0]);
    let b1 = write_npy_f32(&[1], &[0.5]);
    let acts = write_npy_text(&["Tanh".to_string(), "Identity".to_string()]);
    zip_of(&[
        ("weight_0.npy", npy),
        ("bias_0.npy", &b0),
        ("weight_1.npy", &w1),
        ("bias_1.npy", &b1),
        ("activations.npy", &acts),
    ])
}

/// What one fuzz input became.
pub enum Loaded {
    Network(Box<NetworkFile>),
    Pickle,
    Refused(String),
}

/// The dispatch on the first byte; every refusal names the input `fuzz.ckpt`.
pub fn load(data: &[u8]) -> Loaded {
    let Some((&mode, rest)) = data.split_first() else {
        return Loaded::Refused("fuzz.ckpt: empty".into());
    };
    let bytes = match mode % 4 {
        0 => rest.to_vec(),
        1 => torch_archive(rest),
        2 => npz_with_weight_0(rest),
        _ => {
            return match unpickle(rest) {
                Ok(_) => Loaded::Pickle,
                Err(e) => Loaded::Refused(format!("fuzz.ckpt: {e}")),
            };
        }
    };
    match pruningamr::network::read(&bytes, Path::new("fuzz.ckpt")).map(|l| l.file) {
        Ok(f) => Loaded::Network(Box::new(f)),
        Err(e) => Loaded::Refused(e.to_string()),
    }
}

/// A network that loads evaluates (its transforms were validated against it).
pub fn exercise_network(f: &NetworkFile) {
    let d = f.input_dim();
    if d == 0 || d > 64 {
        return;
    }
    let x = faer::Mat::from_fn(3, d, |i, j| (i * d + j) as f32 * 0.125 - 0.5);
    let mut buffers = pruningamr::network::ForwardBuffers::default();
    let y = f.evaluate(x.as_ref(), &mut buffers);
    assert_eq!((y.nrows(), y.ncols()), (3, f.output_dim()));
}
