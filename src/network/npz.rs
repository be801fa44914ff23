//! The project's own network format: an npz archive (what `np.savez` writes: a zip of `.npy`
//! arrays) that numpy users can write and read.
//!
//! Members (names as given to `np.savez`; each is stored as `<name>.npy`):
//! - `weight_0`, `bias_0`, `weight_1`, `bias_1`, …: float16/32/64, weight `out × in` (C or
//!   Fortran order), bias 1-D of length `out`; indices from 0 without gaps;
//! - `activations`: 1-D string array (`np.array(["ReLU", "ReLU", "Identity"])`, dtype `<U…`),
//!   one per layer: ReLU, LeakyReLU, Tanh, SiLU, Sigmoid, GELU, Softplus, ELU, Sine, Gauss,
//!   Identity (case does not matter; the aliases of `netconfig::parse_activation`).
//!   Parameters follow after colons: `LeakyReLU:0.2` (negative_slope), `ELU:1.5` (alpha),
//!   `Softplus:2` or `Softplus:2:10` (beta, threshold), `GELU:tanh` (approximate), `Sine:30`
//!   (ω: sin(ω z)), `Gauss:2` (s: exp(−(s z)²)); absent parameters take PyTorch's defaults;
//! - optional `input_mean`, `input_std`: 1-D, one entry per input coordinate; the network
//!   sees (x − mean)/std; both or neither; std > 0;
//! - optional `fourier_gauss`: 2-D, input_dim × F; the first layer then takes the 2F features
//!   [cos 2πxG, sin 2πxG] (of the standardized x);
//! - optional `output_scale`: a scalar (shape `()` or `(1,)`) multiplying every output;
//! - members named `meta_…` are ignored (free for notes); any other member is an error, so a
//!   misspelt transform cannot be silently skipped.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::Path;

use faer::Mat;

use super::archive::{member_names, open_zip, read_file, read_member};
use super::error::CheckpointError;
use super::file::NetworkFile;
use super::model::{Layer, Network};
pub use super::netconfig::{activation_spec, parse_activation};
use super::npy::{NpyArray, NpyData, parse_npy, write_npy_f32, write_npy_text};

/// Reads a network saved in the project's npz format.
pub fn load_npz(path: &Path) -> Result<NetworkFile, CheckpointError> {
    let bytes = read_file(path)?;
    read_npz(&bytes, path)
}

/// [`load_npz`] on bytes already read; `path` only names them in errors.
pub fn read_npz(bytes: &[u8], path: &Path) -> Result<NetworkFile, CheckpointError> {
    let bad = |w: String| CheckpointError::content(path, w);
    let mut archive = open_zip(bytes, path)?;
    let mut arrays: BTreeMap<String, NpyArray> = BTreeMap::new();
    for name in member_names(&archive) {
        if name.ends_with('/') {
            continue;
        }
        let Some(stem) = name.strip_suffix(".npy") else {
            return Err(bad(format!("member {name} is not an .npy array")));
        };
        if stem.starts_with("meta_") {
            continue;
        }
        let known = matches!(
            stem,
            "activations" | "input_mean" | "input_std" | "fourier_gauss" | "output_scale"
        ) || index_of(stem, "weight_").is_some()
            || index_of(stem, "bias_").is_some();
        if !known {
            return Err(bad(format!(
                "unknown member {name}: an npz network holds weight_N, bias_N, activations and \
                 optionally input_mean, input_std, fourier_gauss, output_scale (meta_… is free)"
            )));
        }
        let Some(data) = read_member(&mut archive, &name, path)? else {
            return Err(bad(format!("member {name} cannot be opened")));
        };
        let array = parse_npy(&data).map_err(|w| bad(format!("{name}: {w}")))?;
        arrays.insert(stem.to_owned(), array);
    }

    let floats = |stem: &str, a: &NpyArray| -> Result<Vec<f32>, CheckpointError> {
        match &a.data {
            NpyData::Float(v) => Ok(v.clone()),
            NpyData::Text(_) => Err(bad(format!(
                "{stem}.npy is a {} (text) array; it must hold numbers",
                a.descr
            ))),
        }
    };
    let weights: BTreeMap<usize, &NpyArray> = arrays
        .iter()
        .filter_map(|(k, a)| Some((index_of(k, "weight_")?, a)))
        .collect();
    let biases: BTreeMap<usize, &NpyArray> = arrays
        .iter()
        .filter_map(|(k, a)| Some((index_of(k, "bias_")?, a)))
        .collect();
    if weights.is_empty() {
        return Err(bad("the npz has no weight_0: it holds no network".into()));
    }
    let n = weights.len();
    for i in 0..n {
        if !weights.contains_key(&i) {
            return Err(bad(format!(
                "weight_{i} is missing (the highest is weight_{})",
                weights.keys().last().copied().unwrap_or(0)
            )));
        }
        if !biases.contains_key(&i) {
            return Err(bad(format!("bias_{i} is missing for weight_{i}")));
        }
    }
    if let Some(extra) = biases.keys().find(|&&i| i >= n) {
        return Err(bad(format!("bias_{extra} has no weight_{extra}")));
    }

    let Some(acts) = arrays.get("activations") else {
        return Err(bad(format!(
            "activations is missing: give one name per layer ({n}), e.g. \
             np.array([\"ReLU\", …, \"Identity\"])"
        )));
    };
    let NpyData::Text(names) = &acts.data else {
        return Err(bad(format!(
            "activations.npy is a {} array; it must hold strings (np.array([\"ReLU\", …]))",
            acts.descr
        )));
    };
    if acts.shape.len() != 1 || names.len() != n {
        return Err(bad(format!(
            "activations has shape {:?}, expected ({n},): one per layer",
            acts.shape
        )));
    }

    let mut layers = Vec::with_capacity(n);
    for i in 0..n {
        let (w, b) = (weights[&i], biases[&i]);
        let [rows, cols] = w.shape[..] else {
            return Err(bad(format!(
                "weight_{i} has shape {:?}; a weight must be 2-D (out × in)",
                w.shape
            )));
        };
        if b.shape.len() != 1 {
            return Err(bad(format!(
                "bias_{i} has shape {:?}; a bias must be 1-D",
                b.shape
            )));
        }
        let wv = floats(&format!("weight_{i}"), w)?;
        let activation =
            parse_activation(&names[i]).map_err(|w| bad(format!("activations[{i}]: {w}")))?;
        layers.push(Layer {
            weight: Mat::from_fn(rows, cols, |r, c| wv[r * cols + c]),
            bias: floats(&format!("bias_{i}"), b)?,
            activation,
        });
    }
    super::netconfig::fold_frequencies(&mut layers);
    let network = Network::new(layers).map_err(|source| CheckpointError::Network {
        path: path.to_path_buf(),
        source,
    })?;

    let vector = |stem: &str| -> Result<Option<Vec<f32>>, CheckpointError> {
        let Some(a) = arrays.get(stem) else {
            return Ok(None);
        };
        if a.shape.len() != 1 {
            return Err(bad(format!(
                "{stem} has shape {:?}; it must be 1-D",
                a.shape
            )));
        }
        floats(stem, a).map(Some)
    };
    let fourier_gauss = match arrays.get("fourier_gauss") {
        None => None,
        Some(g) => {
            let [rows, cols] = g.shape[..] else {
                return Err(bad(format!(
                    "fourier_gauss has shape {:?}; it must be 2-D (input_dim × F)",
                    g.shape
                )));
            };
            let v = floats("fourier_gauss", g)?;
            Some(Mat::from_fn(rows, cols, |r, c| v[r * cols + c]))
        }
    };
    let output_scale = match arrays.get("output_scale") {
        None => None,
        Some(s) => match floats("output_scale", s)?[..] {
            [v] if s.shape.len() <= 1 => Some(v),
            _ => {
                return Err(bad(format!(
                    "output_scale has shape {:?}; it must be a scalar",
                    s.shape
                )));
            }
        },
    };
    let file = NetworkFile {
        network,
        input_mean: vector("input_mean")?,
        input_std: vector("input_std")?,
        fourier_gauss,
        output_scale,
        positional: None,
        output_names: Vec::new(),
        input_names: Vec::new(),
    };
    file.validate().map_err(|e| bad(e.to_string()))?;
    Ok(file)
}

fn index_of(stem: &str, prefix: &str) -> Option<usize> {
    let digits = stem.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The npz bytes of a network (float32, stored without compression).
pub fn npz_bytes(net: &NetworkFile) -> Result<Vec<u8>, String> {
    net.validate().map_err(|e| e.to_string())?;
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, l) in net.network.layers().iter().enumerate() {
        let (rows, cols) = (l.weight.nrows(), l.weight.ncols());
        let w: Vec<f32> = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .map(|(r, c)| l.weight[(r, c)])
            .collect();
        members.push((format!("weight_{i}.npy"), write_npy_f32(&[rows, cols], &w)));
        members.push((
            format!("bias_{i}.npy"),
            write_npy_f32(&[l.bias.len()], &l.bias),
        ));
    }
    let acts: Vec<String> = net
        .network
        .layers()
        .iter()
        .map(|l| activation_spec(l.activation))
        .collect();
    members.push(("activations.npy".into(), write_npy_text(&acts)));
    if let Some(m) = &net.input_mean {
        members.push(("input_mean.npy".into(), write_npy_f32(&[m.len()], m)));
    }
    if let Some(s) = &net.input_std {
        members.push(("input_std.npy".into(), write_npy_f32(&[s.len()], s)));
    }
    if net.positional.is_some() {
        // The format has no member for it; written without, the file would be another network.
        return Err(
            "the npz format holds no positional encoding; keep the network in its own file \
             with its network config"
                .into(),
        );
    }
    if let Some(g) = &net.fourier_gauss {
        let (rows, cols) = (g.nrows(), g.ncols());
        let v: Vec<f32> = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .map(|(r, c)| g[(r, c)])
            .collect();
        members.push(("fourier_gauss.npy".into(), write_npy_f32(&[rows, cols], &v)));
    }
    if let Some(s) = net.output_scale {
        members.push(("output_scale.npy".into(), write_npy_f32(&[], &[s])));
    }

    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(
            members
                .iter()
                .any(|(_, b)| b.len() as u64 >= u32::MAX as u64),
        );
    for (name, bytes) in members {
        zip.start_file(name.as_str(), options)
            .map_err(|e| format!("zip: {e}"))?;
        zip.write_all(&bytes).map_err(|e| format!("zip: {e}"))?;
    }
    let cursor = zip.finish().map_err(|e| format!("zip: {e}"))?;
    Ok(cursor.into_inner())
}

/// Writes a network in the npz format, to a temporary name renamed into place, so an
/// interrupted write never leaves a torn file.
pub fn save_npz(path: &Path, net: &NetworkFile) -> Result<(), CheckpointError> {
    let bytes = npz_bytes(net).map_err(|w| CheckpointError::content(path, w))?;
    crate::io::write_atomically(path, |w| w.write_all(&bytes)).map_err(|source| {
        CheckpointError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::model::Activation;

    #[test]
    fn activation_specs_round_trip() {
        for a in [
            Activation::Relu,
            Activation::LeakyRelu {
                negative_slope: 0.2,
            },
            Activation::LeakyRelu {
                negative_slope: 0.01,
            },
            Activation::Tanh,
            Activation::Silu,
            Activation::Sigmoid,
            Activation::Gelu { tanh_approx: true },
            Activation::Gelu { tanh_approx: false },
            Activation::Softplus {
                beta: 2.0,
                threshold: 10.0,
            },
            Activation::Elu { alpha: 1.5 },
            Activation::Identity,
        ] {
            assert_eq!(parse_activation(&activation_spec(a)), Ok(a), "{a:?}");
        }
        assert_eq!(activation_spec(Activation::Relu), "ReLU");
        assert_eq!(
            parse_activation("leakyrelu:0.3"),
            Ok(Activation::LeakyRelu {
                negative_slope: 0.3
            })
        );
        assert_eq!(
            parse_activation("Softplus:3"),
            Ok(Activation::Softplus {
                beta: 3.0,
                threshold: 20.0
            })
        );
        assert!(parse_activation("Dropout").unwrap_err().contains("unknown"));
        assert!(parse_activation("ReLU:2").is_err());
        assert!(parse_activation("ELU:nan").is_err());
    }
}
