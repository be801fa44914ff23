//! A network as read from a file, with the input and output transforms stored beside it
//! (SPEC §3.2–3.3), its validation, the errors of every network reader, and the entry point
//! that tells a PyTorch checkpoint from an npz by content.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::pickle::PickleError;
use crate::id_pruning::{ForwardBuffers, Network, NetworkError};

/// A network plus the transforms that turn a mesh point into its input and its output into
/// the field: x → (x − mean)/std → [cos 2πxG, sin 2πxG] → network → × output_scale.
#[derive(Clone, Debug)]
pub struct NetworkFile {
    pub network: Network,
    pub input_mean: Option<Vec<f32>>,
    pub input_std: Option<Vec<f32>>,
    /// Fourier feature matrix G, input_dim × F; the first layer then takes 2F inputs.
    pub fourier_gauss: Option<Mat<f32>>,
    pub output_scale: Option<f32>,
}

impl NetworkFile {
    /// A bare network, no transforms.
    pub fn plain(network: Network) -> NetworkFile {
        NetworkFile {
            network,
            input_mean: None,
            input_std: None,
            fourier_gauss: None,
            output_scale: None,
        }
    }

    /// Dimension of the points the INR takes (before Fourier features).
    pub fn input_dim(&self) -> usize {
        match &self.fourier_gauss {
            Some(g) => g.nrows(),
            None => self.network.input_dim(),
        }
    }

    pub fn output_dim(&self) -> usize {
        self.network.output_dim()
    }

    /// Checks that the transforms fit the network: what the readers (and the writer) refuse.
    pub fn validate(&self) -> Result<(), String> {
        let first_in = self.network.input_dim();
        if let Some(g) = &self.fourier_gauss {
            if g.nrows() == 0 || g.ncols() == 0 {
                return Err(format!(
                    "fourier_gauss is {} × {}, it must have at least one row and column",
                    g.nrows(),
                    g.ncols()
                ));
            }
            if 2 * g.ncols() != first_in {
                return Err(format!(
                    "fourier_gauss has {} columns, giving {} features, but the first layer \
                     takes {first_in} inputs",
                    g.ncols(),
                    2 * g.ncols()
                ));
            }
            let finite = (0..g.ncols()).all(|j| g.col_as_slice(j).iter().all(|v| v.is_finite()));
            if !finite {
                return Err("fourier_gauss has a non-finite entry (NaN or infinity)".into());
            }
        }
        let d = self.input_dim();
        match (&self.input_mean, &self.input_std) {
            (None, None) => {}
            (Some(_), None) => return Err("input_mean is given without input_std".into()),
            (None, Some(_)) => return Err("input_std is given without input_mean".into()),
            (Some(mean), Some(std)) => {
                if mean.len() != d || std.len() != d {
                    return Err(format!(
                        "input_mean has {} entries and input_std {}, but the input dimension \
                         is {d}",
                        mean.len(),
                        std.len()
                    ));
                }
                if !mean.iter().all(|v| v.is_finite()) {
                    return Err("input_mean has a non-finite entry (NaN or infinity)".into());
                }
                if let Some((i, s)) = std
                    .iter()
                    .enumerate()
                    .find(|(_, s)| !(s.is_finite() && **s > 0.0))
                {
                    return Err(format!(
                        "input_std[{i}] = {s}; every standard deviation must be finite and > 0"
                    ));
                }
            }
        }
        if let Some(s) = self.output_scale
            && !(s.is_finite() && s != 0.0)
        {
            return Err(format!(
                "output_scale = {s}; it must be finite and non-zero"
            ));
        }
        Ok(())
    }

    /// What the network sees for points `x` (rows = points, input_dim columns): standardized,
    /// then Fourier features if any.
    pub fn network_input(&self, x: MatRef<'_, f32>) -> Mat<f32> {
        assert_eq!(
            x.ncols(),
            self.input_dim(),
            "points have {} coordinates, the INR takes {}",
            x.ncols(),
            self.input_dim()
        );
        let mut z = x.to_owned();
        if let (Some(mean), Some(std)) = (&self.input_mean, &self.input_std) {
            for (j, (m, s)) in mean.iter().zip(std).enumerate() {
                for v in z.col_as_slice_mut(j) {
                    *v = (*v - m) / s;
                }
            }
        }
        let Some(g) = &self.fourier_gauss else {
            return z;
        };
        let f = g.ncols();
        let mut p = Mat::<f32>::zeros(z.nrows(), f);
        matmul(
            p.as_mut(),
            Accum::Replace,
            z.as_ref(),
            g.as_ref(),
            2.0 * std::f32::consts::PI,
            Par::Seq,
        );
        Mat::from_fn(z.nrows(), 2 * f, |i, j| {
            if j < f {
                p[(i, j)].cos()
            } else {
                p[(i, j - f)].sin()
            }
        })
    }

    /// As [`NetworkFile::evaluate`], the network's layers in `buffers` kept between calls.
    pub fn evaluate_with<'w>(
        &self,
        x: MatRef<'_, f32>,
        buffers: &'w mut ForwardBuffers,
    ) -> MatMut<'w, f32> {
        let input = self.network_input(x);
        let mut y = self.network.forward_with(input.as_ref(), buffers);
        if let Some(s) = self.output_scale {
            for j in 0..y.ncols() {
                for i in 0..y.nrows() {
                    y[(i, j)] *= s;
                }
            }
        }
        y
    }

    /// The field at points `x` (rows = points): transforms, network, output scale.
    pub fn evaluate(&self, x: MatRef<'_, f32>) -> Mat<f32> {
        let input = self.network_input(x);
        let mut y = self.network.forward(input.as_ref());
        if let Some(s) = self.output_scale {
            for j in 0..y.ncols() {
                for v in y.col_as_slice_mut(j) {
                    *v *= s;
                }
            }
        }
        y
    }
}

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
}

impl CheckpointError {
    pub fn path(&self) -> &Path {
        match self {
            CheckpointError::Read { path, .. }
            | CheckpointError::Write { path, .. }
            | CheckpointError::Zip { path, .. }
            | CheckpointError::Pickle { path, .. }
            | CheckpointError::Content { path, .. }
            | CheckpointError::Network { path, .. } => path,
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

/// The largest network file read: far above any INR.
const MAX_FILE_BYTES: u64 = 2 << 30;

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    crate::input_file::read_capped(path, MAX_FILE_BYTES).map_err(|source| CheckpointError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Zip archives are opened with the archive known to start at byte 0: torch writes a zip64
/// end record that makes the `zip` crate's offset detection misplace the central directory.
pub(crate) type Archive<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

pub(crate) fn open_zip<'a>(bytes: &'a [u8], path: &Path) -> Result<Archive<'a>, CheckpointError> {
    let config = zip::read::Config {
        archive_offset: zip::read::ArchiveOffset::Known(0),
    };
    zip::ZipArchive::with_config(config, Cursor::new(bytes))
        .map_err(|e| CheckpointError::zip(path, e))
}

/// The largest archive member we inflate: far above any INR, far below what would exhaust
/// memory on a decompression bomb.
const MAX_MEMBER_BYTES: u64 = 1 << 30;

/// Members up to this size may compress any amount (a pickle of repeated opcodes does).
const MAX_RATIO_FREE_BYTES: u64 = 32 << 20;
/// Above it, the largest inflation accepted.
const MAX_RATIO: u64 = 256;

/// Reads one archive member whole, checking its declared size (and, through the zip reader,
/// its CRC).
pub(crate) fn read_member(
    archive: &mut Archive<'_>,
    name: &str,
    path: &Path,
) -> Result<Option<Vec<u8>>, CheckpointError> {
    let mut file = match archive.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(CheckpointError::zip(path, format!("member {name}: {e}"))),
    };
    let size = file.size();
    if size > MAX_MEMBER_BYTES {
        return Err(CheckpointError::zip(
            path,
            format!("member {name} claims {size} bytes, more than a network file may hold"),
        ));
    }
    // Weights hardly compress; a large member inflating hundreds of times is a zip bomb,
    // which would cost gigabytes of memory for a file of a few kilobytes.
    let packed = file.compressed_size().max(1);
    if size > MAX_RATIO_FREE_BYTES && size / packed > MAX_RATIO {
        return Err(CheckpointError::zip(
            path,
            format!(
                "member {name} inflates from {packed} to {size} bytes; a network's arrays do \
                 not compress {MAX_RATIO}-fold (a zip bomb?)"
            ),
        ));
    }
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 24));
    (&mut file)
        .take(size + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CheckpointError::zip(path, format!("member {name}: {e}")))?;
    if buf.len() as u64 != size {
        return Err(CheckpointError::zip(
            path,
            format!(
                "member {name} holds {} bytes but its header says {size}",
                buf.len()
            ),
        ));
    }
    Ok(Some(buf))
}

pub(crate) fn member_names(archive: &Archive<'_>) -> Vec<String> {
    archive
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.into_owned())
        .collect()
}

/// Reads any network file, telling the format from the content, not the extension: a zip
/// holding a `data.pkl` is a PyTorch checkpoint, a zip of `.npy` members is our npz.
pub fn load_network_file(path: &Path) -> Result<NetworkFile, CheckpointError> {
    load_network_file_noted(path).map(|(file, _)| file)
}

/// [`load_network_file`], plus notes the user should see (an assumption the loader made).
pub fn load_network_file_noted(path: &Path) -> Result<(NetworkFile, Vec<String>), CheckpointError> {
    let bytes = read_file(path)?;
    read_network_file_noted(&bytes, path)
}

/// [`load_network_file`] on bytes already read; `path` only names them in errors.
pub fn read_network_file(bytes: &[u8], path: &Path) -> Result<NetworkFile, CheckpointError> {
    read_network_file_noted(bytes, path).map(|(file, _)| file)
}

/// [`read_network_file`] with the loader's notes.
pub fn read_network_file_noted(
    bytes: &[u8],
    path: &Path,
) -> Result<(NetworkFile, Vec<String>), CheckpointError> {
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
        let ckpt = super::torch_ckpt::read_torch_checkpoint(bytes, path, None)?;
        let mut notes = Vec::new();
        if ckpt.activations == super::torch_ckpt::ActivationSource::AssumedReluIdentity {
            notes.push(format!(
                "{}: a flat state dict names no activation classes; assuming ReLU on the hidden \
                 layers and Identity on the output, as in the original's networks",
                path.display()
            ));
        }
        return Ok((ckpt.file, notes));
    }
    if names.iter().any(|n| n.ends_with(".npy")) {
        return super::npz::read_npz(bytes, path).map(|f| (f, Vec::new()));
    }
    Err(CheckpointError::content(
        path,
        "the zip archive holds neither data.pkl (a PyTorch checkpoint) nor .npy arrays (an npz)",
    ))
}
