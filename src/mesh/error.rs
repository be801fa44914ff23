//! Errors of the mesh module: every message names the file (and line) it is about.

use std::io;

/// What went wrong while reading a mesh or using it.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// The file could not be opened or read.
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    /// The text is not a mesh we accept; `line` is 1-based.
    #[error("{file}:{line}: {message}")]
    Parse {
        file: String,
        line: usize,
        message: String,
    },
    /// A caller passed arrays whose lengths do not fit the mesh.
    #[error("{what}: expected length {expected}, got {got}")]
    Length {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A split halves an axis the mesh's elements do not have.
    #[error("split {mask:#05b} halves an axis a {dim}-D element does not have")]
    SplitAxes { mask: u8, dim: usize },
    /// Anisotropic splits were asked of a mesh whose start elements are not all boxes with
    /// reference axes along x, y, z.
    #[error(
        "anisotropic refinement needs start elements that are boxes with reference axes along x, y, z"
    )]
    NotAligned,
}

impl MeshError {
    pub(crate) fn parse(file: &str, line: usize, message: impl Into<String>) -> MeshError {
        MeshError::Parse {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}
