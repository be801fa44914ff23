//! Why a network file was not read or written: one error type for every network reader, each
//! message starting with the file's path.

use std::path::{Path, PathBuf};

use super::model::NetworkError;
use super::onnx::OnnxError;
use super::pickle::PickleError;
use super::safetensors::SafetensorsError;

/// Why a network file was not read or written. Every message starts with the file's path.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{}: cannot read the file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot write the file: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a readable zip archive: {what}", path.display())]
    Zip { path: PathBuf, what: String },
    #[error("{}: data.pkl: {source}", path.display())]
    Pickle { path: PathBuf, source: PickleError },
    /// The content is readable but is not a network we can use (missing key, bad shape,
    /// bad dtype, short storage, …).
    #[error("{}: {what}", path.display())]
    Content { path: PathBuf, what: String },
    #[error("{}: {source}", path.display())]
    Network { path: PathBuf, source: NetworkError },
    /// The file does not say something the network needs (its activations, what a tensor
    /// outside the layers is) and the user did not give it: the command line's to fix
    /// (`what` names the option).
    #[error("{}: {what}", path.display())]
    Undescribed {
        option: &'static str,
        path: PathBuf,
        what: String,
    },
    /// The network config (a JSON file) cannot be used.
    #[error("{}: {what}", path.display())]
    Config { path: PathBuf, what: String },
    #[error("{}: {source}", path.display())]
    Onnx { path: PathBuf, source: OnnxError },
    #[error("{}: {source}", path.display())]
    Safetensors {
        path: PathBuf,
        source: SafetensorsError,
    },
}

impl CheckpointError {
    pub fn path(&self) -> &Path {
        match self {
            CheckpointError::Read { path, .. }
            | CheckpointError::Write { path, .. }
            | CheckpointError::Zip { path, .. }
            | CheckpointError::Pickle { path, .. }
            | CheckpointError::Content { path, .. }
            | CheckpointError::Network { path, .. }
            | CheckpointError::Undescribed { path, .. }
            | CheckpointError::Config { path, .. }
            | CheckpointError::Onnx { path, .. }
            | CheckpointError::Safetensors { path, .. } => path,
        }
    }

    /// True when the command line is at fault (exit status 2): the network needs options
    /// that were not given.
    pub fn is_usage(&self) -> bool {
        matches!(self, CheckpointError::Undescribed { .. })
    }

    pub(crate) fn config(path: &Path, what: impl Into<String>) -> CheckpointError {
        CheckpointError::Config {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    pub(crate) fn content(path: &Path, what: impl Into<String>) -> CheckpointError {
        CheckpointError::Content {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    pub(crate) fn zip(path: &Path, what: impl std::fmt::Display) -> CheckpointError {
        CheckpointError::Zip {
            path: path.to_path_buf(),
            what: what.to_string(),
        }
    }
}
