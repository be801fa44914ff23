//! The one entry point for network files: tells a PyTorch checkpoint from an npz by content,
//! not by extension, and returns the network with the notes the user should see.

use std::path::Path;

use super::archive::{member_names, open_zip, read_file};
use super::error::CheckpointError;
use super::file::NetworkFile;

/// A network file as read, with what the user should be told about how it was read (an
/// assumption the loader made).
#[derive(Clone, Debug)]
pub struct Loaded {
    pub file: NetworkFile,
    pub notes: Vec<String>,
}

/// Reads any network file.
pub fn load(path: &Path) -> Result<Loaded, CheckpointError> {
    read(&read_file(path)?, path)
}

/// [`load`] on bytes already read; `path` only names them in errors.
pub fn read(bytes: &[u8], path: &Path) -> Result<Loaded, CheckpointError> {
    if bytes.starts_with(b"\x93NUMPY") {
        return Err(CheckpointError::content(
            path,
            "this is a single .npy array, not a network; save the network with np.savez \
             (weight_0, bias_0, …, activations)",
        ));
    }
    if bytes.first() == Some(&0x80) {
        return Err(CheckpointError::content(
            path,
            "this is a bare pickle (the legacy torch.save format before PyTorch 1.6), which is \
             not read; re-save it with a current PyTorch (torch.save writes a zip archive)",
        ));
    }
    if !bytes.starts_with(b"PK") {
        return Err(CheckpointError::content(
            path,
            "not a network file: neither a PyTorch checkpoint (zip with data.pkl) nor an npz",
        ));
    }
    let archive = open_zip(bytes, path)?;
    let names = member_names(&archive);
    if names
        .iter()
        .any(|n| n == "data.pkl" || n.ends_with("/data.pkl"))
    {
        let ckpt = super::torch::read_torch_checkpoint(bytes, path, None)?;
        let mut notes = Vec::new();
        if ckpt.activations == super::torch::ActivationSource::AssumedReluIdentity {
            notes.push(format!(
                "{}: a flat state dict names no activation classes; assuming ReLU on the hidden \
                 layers and Identity on the output, as in the original's networks",
                path.display()
            ));
        }
        return Ok(Loaded {
            file: ckpt.file,
            notes,
        });
    }
    if names.iter().any(|n| n.ends_with(".npy")) {
        return super::npz::read_npz(bytes, path).map(|file| Loaded {
            file,
            notes: Vec::new(),
        });
    }
    Err(CheckpointError::content(
        path,
        "the zip archive holds neither data.pkl (a PyTorch checkpoint) nor .npy arrays (an npz)",
    ))
}
