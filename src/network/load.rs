//! The one entry point for network files: tells the format by content (a PyTorch zip, an
//! npz, `.safetensors`, ONNX), applies what the user says about the network (activations, a
//! network config given or found beside the file as `<file>.json`), and returns the network
//! with the notes the user should see.

use std::path::{Path, PathBuf};

use super::archive::{member_names, open_zip, read_file, read_member};
use super::error::CheckpointError;
use super::file::NetworkFile;
use super::model::Activation;
use super::netconfig::{
    ActivationsFrom, Description, NetworkConfig, apply_config, state_dict_network,
};
use super::npy::{NpyData, parse_npy};
use super::state_dict::recognise;
use super::tensor::{MAX_TOTAL_ELEMENTS, Tensor};

/// A network file as read, with what the user should be told about how it was read (an
/// assumption the loader made, the config it found).
#[derive(Clone, Debug)]
pub struct Loaded {
    pub file: NetworkFile,
    pub notes: Vec<String>,
    /// Names of the outputs, when the network config gives them.
    pub output_names: Option<Vec<String>>,
}

/// Reads any network file (activations only from the file itself; a config beside it is
/// used).
pub fn load(path: &Path) -> Result<Loaded, CheckpointError> {
    load_with(path, &Description::default())
}

/// Reads any network file with what the user says about it. Without a config in `desc`,
/// `<file>.json` beside the file is read if it exists.
pub fn load_with(path: &Path, desc: &Description) -> Result<Loaded, CheckpointError> {
    let bytes = read_file(path)?;
    let mut notes = Vec::new();
    let found;
    let desc = if desc.config.is_none() {
        let beside = beside_config(path);
        if beside.is_file() {
            let mut d = desc.clone();
            d.config = Some(NetworkConfig::read(&beside)?);
            d.config_path = Some(beside.clone());
            notes.push(format!(
                "{}: read the network config {} beside it",
                path.display(),
                beside.display()
            ));
            found = d;
            &found
        } else {
            desc
        }
    } else {
        desc
    };
    let mut loaded = read_with(&bytes, path, desc)?;
    notes.append(&mut loaded.notes);
    loaded.notes = notes;
    Ok(loaded)
}

/// `<file>.json` (e.g. `siren.pth.json`): the full file name, so that a training script's
/// own `siren.json` beside the weights is never mistaken for a network config.
pub fn beside_config(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".json");
    path.with_file_name(name)
}

/// [`load`] on bytes already read; `path` only names them in errors.
pub fn read(bytes: &[u8], path: &Path) -> Result<Loaded, CheckpointError> {
    read_with(bytes, path, &Description::default())
}

/// [`load_with`] on bytes already read (no config is looked for beside `path`).
pub fn read_with(bytes: &[u8], path: &Path, desc: &Description) -> Result<Loaded, CheckpointError> {
    let output_names = desc.config.as_ref().and_then(|c| c.output_names.clone());
    let with_names = |file: NetworkFile, notes: Vec<String>| Loaded {
        file,
        notes,
        output_names: output_names.clone(),
    };
    if bytes.starts_with(b"\x93NUMPY") {
        return Err(CheckpointError::content(
            path,
            "this is a single .npy array, not a network; save the network with np.savez \
             (weight_0, bias_0, …, activations)",
        ));
    }
    // Before the pickle test: a header of 128 + 256k bytes starts with 0x80 too.
    if is_safetensors(bytes) {
        return read_safetensors(bytes, path, desc);
    }
    if bytes.first() == Some(&0x80) {
        return Err(bare_pickle(bytes, path));
    }
    let onnx_name = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    if !bytes.starts_with(b"PK") {
        // An ONNX ModelProto starts with field 1 (ir_version, a varint): byte 0x08.
        if onnx_name || bytes.first() == Some(&0x08) {
            return read_onnx(bytes, path, desc).map(|f| with_names(f, Vec::new()));
        }
        return Err(CheckpointError::content(
            path,
            "not a network file: neither a PyTorch checkpoint (zip with data.pkl), an npz, a \
             .safetensors file nor an ONNX model",
        ));
    }
    let archive = open_zip(bytes, path)?;
    let names = member_names(&archive);
    if names
        .iter()
        .any(|n| n == "constants.pkl" || n.ends_with("/constants.pkl") || n.contains("/code/"))
    {
        return Err(CheckpointError::content(
            path,
            "this is a TorchScript archive (torch.jit.save / torch.jit.script), whose network \
             is code, which is not run; save torch.save(model.state_dict(), FILE) and give \
             --activations, or export it with torch.onnx.export",
        ));
    }
    if names
        .iter()
        .any(|n| n == "data.pkl" || n.ends_with("/data.pkl"))
    {
        let ckpt = super::torch::read_torch_with(bytes, path, desc)?;
        let mut notes = Vec::new();
        if ckpt.activations == super::torch::ActivationSource::AssumedReluIdentity {
            notes.push(format!(
                "{}: a flat state dict of the original's own class (Layers.N) names no \
                 activation classes; assuming ReLU on the hidden layers and Identity on the \
                 output, as that class builds them",
                path.display()
            ));
        }
        return Ok(with_names(ckpt.file, notes));
    }
    if names.iter().any(|n| n.ends_with(".npy")) {
        return read_any_npz(bytes, path, desc).map(|f| with_names(f, Vec::new()));
    }
    Err(CheckpointError::content(
        path,
        "the zip archive holds neither data.pkl (a PyTorch checkpoint) nor .npy arrays (an npz)",
    ))
}

/// Says what a bare (non-zip) pickle is: torch's format before 1.6 starts with its magic
/// number; DeepXDE's `model.save(protocol="pickle")` is a plain pickle of the state dict.
fn bare_pickle(bytes: &[u8], path: &Path) -> CheckpointError {
    // pickle protocol 2, LONG1 of 10 bytes: 0x1950a86a20f9469cfc6c, torch's legacy magic.
    const LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
    let what = if bytes.starts_with(LEGACY_MAGIC) {
        "this is the legacy torch.save format (before PyTorch 1.6, or \
         _use_new_zipfile_serialization=False), which is not read; re-save it with a current \
         PyTorch (torch.save writes a zip archive)"
    } else if bytes.windows(16).any(|w| w == b"_load_from_bytes") {
        "this is a plain pickle.dump of a state dict (DeepXDE's model.save(..., \
         protocol=\"pickle\")), which is not read; save with model.save(path) (the default \
         protocol \"backend\" writes torch.save's zip) and give --activations"
    } else {
        "this is a bare pickle (the legacy torch.save format before PyTorch 1.6, or a plain \
         pickle.dump), not torch.save's zip archive, and is not read; save the network with a \
         current torch.save(model.state_dict(), FILE) and give --activations"
    };
    CheckpointError::content(path, what)
}

/// A safetensors file starts with the header's length (u64, little-endian) and the header,
/// a JSON object.
fn is_safetensors(bytes: &[u8]) -> bool {
    let Some(head) = bytes.get(..8) else {
        return false;
    };
    let n = u64::from_le_bytes(head.try_into().unwrap_or([0; 8]));
    n >= 2 && n <= (bytes.len() as u64).saturating_sub(8) && bytes.get(8) == Some(&b'{')
}

fn read_safetensors(
    bytes: &[u8],
    path: &Path,
    desc: &Description,
) -> Result<Loaded, CheckpointError> {
    let (tensors, meta) = super::safetensors::read_safetensors(bytes).map_err(|source| {
        CheckpointError::Safetensors {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let mut notes = Vec::new();
    // The header's `__metadata__["pruningamr"]` is a network config; a config the user gives
    // replaces it.
    let from_meta;
    let desc = match (&desc.config, meta) {
        (None, Some(text)) => {
            let label = PathBuf::from(format!("{} (__metadata__ \"pruningamr\")", path.display()));
            let config =
                NetworkConfig::parse(&text).map_err(|w| CheckpointError::config(&label, w))?;
            let mut d = desc.clone();
            d.config = Some(config);
            d.config_path = Some(label);
            notes.push(format!(
                "{}: read the network config in its __metadata__ \"pruningamr\"",
                path.display()
            ));
            from_meta = d;
            &from_meta
        }
        _ => desc,
    };
    let file = state_dict_file(tensors, path, desc)?;
    Ok(Loaded {
        file,
        notes,
        output_names: desc.config.as_ref().and_then(|c| c.output_names.clone()),
    })
}

/// A state dict's named tensors → the network the user describes.
fn state_dict_file(
    tensors: Vec<Tensor>,
    path: &Path,
    desc: &Description,
) -> Result<NetworkFile, CheckpointError> {
    let r = recognise(tensors, path, desc)?;
    let (file, from) =
        state_dict_network(path, r.found, &r.name, r.original, r.gauss, r.extras, desc)?;
    debug_assert!(from == ActivationsFrom::Given || r.original);
    Ok(file)
}

/// The members that make an npz the project's own format; an npz of none of them holds a
/// state dict (`np.savez(path, **state_dict)`).
fn is_native_member(stem: &str) -> bool {
    let indexed = |p: &str| {
        stem.strip_prefix(p)
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    matches!(
        stem,
        "activations" | "input_mean" | "input_std" | "fourier_gauss" | "output_scale"
    ) || indexed("weight_")
        || indexed("bias_")
}

fn read_any_npz(
    bytes: &[u8],
    path: &Path,
    desc: &Description,
) -> Result<NetworkFile, CheckpointError> {
    let mut archive = open_zip(bytes, path)?;
    let names = member_names(&archive);
    let native = names
        .iter()
        .filter_map(|n| n.strip_suffix(".npy"))
        .any(is_native_member);
    if native {
        let mut file = super::npz::read_npz(bytes, path)?;
        let stored: Vec<Activation> = file.network.layers().iter().map(|l| l.activation).collect();
        check_stored_activations(&stored, desc, path)?;
        if let Some(config) = &desc.config {
            apply_config(&mut file, config, None, desc, path)?;
        }
        return Ok(file);
    }
    let mut tensors = Vec::new();
    let mut total = 0usize;
    for name in names {
        if name.ends_with('/') {
            continue;
        }
        let Some(stem) = name.strip_suffix(".npy") else {
            return Err(CheckpointError::content(
                path,
                format!("member {name} is not an .npy array"),
            ));
        };
        let Some(data) = read_member(&mut archive, &name, path)? else {
            continue;
        };
        let array =
            parse_npy(&data).map_err(|w| CheckpointError::content(path, format!("{name}: {w}")))?;
        let NpyData::Float(values) = array.data else {
            return Err(CheckpointError::content(
                path,
                format!(
                    "{name} is a {} (text) array; a state dict holds numbers",
                    array.descr
                ),
            ));
        };
        total = total.saturating_add(values.len());
        if total > MAX_TOTAL_ELEMENTS {
            return Err(CheckpointError::content(
                path,
                format!(
                    "the npz holds more than {MAX_TOTAL_ELEMENTS} values; this reader is meant for small MLPs"
                ),
            ));
        }
        tensors.push(Tensor {
            name: stem.to_owned(),
            shape: array.shape.clone(),
            data: values,
        });
    }
    state_dict_file(tensors, path, desc)
}

/// A file that stores its activations takes no others: `--activations` that differ would
/// silently change the network.
fn check_stored_activations(
    stored: &[Activation],
    desc: &Description,
    path: &Path,
) -> Result<(), CheckpointError> {
    let Some(list) = desc.activation_list()? else {
        return Ok(());
    };
    let given = list
        .resolve(stored.len())
        .map_err(|w| CheckpointError::content(path, w))?;
    let mut given_folded = given.clone();
    // Stored Sine/Gauss layers have their ω folded already; compare like with like.
    for a in &mut given_folded {
        match a {
            Activation::Sine { omega } => *omega = 1.0,
            Activation::Gauss { scale } => *scale = 1.0,
            _ => {}
        }
    }
    if given == stored || given_folded == stored {
        return Ok(());
    }
    let names: Vec<String> = stored
        .iter()
        .map(|a| super::netconfig::activation_spec(*a))
        .collect();
    Err(CheckpointError::Undescribed {
        option: "activations",
        path: path.to_path_buf(),
        what: format!(
            "the file stores its activations ({}), which differ from the ones given; drop \
             --activations (and \"activations\" from the network config)",
            names.join(", ")
        ),
    })
}

fn read_onnx(
    bytes: &[u8],
    path: &Path,
    desc: &Description,
) -> Result<NetworkFile, CheckpointError> {
    let mlp = super::onnx::read_onnx(bytes).map_err(|source| CheckpointError::Onnx {
        path: path.to_path_buf(),
        source,
    })?;
    let stored: Vec<Activation> = mlp
        .layers
        .iter()
        .map(|l| super::onnx::activation(l.act))
        .collect();
    check_stored_activations(&stored, desc, path)?;
    let mut file = super::onnx::network_file(mlp).map_err(|w| CheckpointError::content(path, w))?;
    if let Some(config) = &desc.config {
        apply_config(&mut file, config, None, desc, path)?;
    }
    Ok(file)
}
