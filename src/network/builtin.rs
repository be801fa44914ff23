//! The built-in INRs: networks the project trained itself (`examples/train_builtin.rs`) and
//! their start meshes, both compiled into the binary so it runs from any folder.

use std::path::{Path, PathBuf};

use super::error::CheckpointError;
use super::file::NetworkFile;
use super::npz::read_npz;

/// A built-in key and what it stands for.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinKey {
    pub key: &'static str,
    pub description: &'static str,
}

pub const BUILTIN_KEYS: &[BuiltinKey] = &[
    BuiltinKey {
        key: "hos",
        description: "2D, sin(1/r) on [0,1]^2, small network 2->32x4->1 ReLU",
    },
    BuiltinKey {
        key: "hol",
        description: "2D, sin(1/r) on [0,1]^2, wide network 2->256x4->1 ReLU",
    },
    BuiltinKey {
        key: "hof",
        description: "2D, sin(1/r) on [0,1]^2, wide network trained longer",
    },
    BuiltinKey {
        key: "NS_PINN",
        description: "3D (x, y, t), unsteady flow u, v, p; 3->32x10->3 tanh, standardized inputs",
    },
    BuiltinKey {
        key: "CT_demo",
        description: "4D (t, z, y, x) moving blobs, Fourier features, 128x5 SiLU; sliced at --time_slice",
    },
];

/// The original's CT keys name weights licensed by their authors; they are not shipped.
pub const LICENSED_CT_KEYS: &[&str] = &["CT2_cpu", "CT2", "CT3_cpu", "CT3", "CT_cpu"];

/// True for keys the original treats as 4-D CT INRs (sliced in time, `_tslice_` in folders).
pub fn is_ct_key(key: &str) -> bool {
    key.contains("CT")
}

/// Why a key gives no network or start mesh. All but `Load` are the command line's fault.
#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    #[error("--mesh: key {key:?} has no built-in start mesh; give --mesh FILE")]
    NoMesh { key: String },
    #[error(
        "--INR_key: the weights of the CT network {key:?} are licensed by the authors of \
         \"Distributed Stochastic Optimization of a Neural Representation Network for \
         Time-Space Tomography Reconstruction\" and are not shipped; put the file at \
         checkpoints/{key}.ckpt or pass it with --checkpoint FILE (or try --INR_key CT_demo)"
    )]
    LicensedCt { key: String },
    #[error("--INR_key: unknown key {key:?}; built-in keys: {list}")]
    UnknownKey { key: String, list: String },
    #[error(transparent)]
    Load(#[from] CheckpointError),
}

impl BuiltinError {
    /// True when the command line is at fault (exit status 2), not a file.
    pub fn is_usage(&self) -> bool {
        match self {
            BuiltinError::Load(c) => c.is_usage(),
            _ => true,
        }
    }
}

/// The start mesh a key uses (MFEM text).
pub fn builtin_mesh(key: &str) -> Result<&'static str, BuiltinError> {
    Ok(match key {
        "hos" | "hol" | "hof" => include_str!("../../meshes/rectangle.mesh"),
        "NS_PINN" => include_str!("../../meshes/NS_PINN_2x2x10_z0_20.mesh"),
        k if is_ct_key(k) => include_str!("../../meshes/box-hex.mesh"),
        k => return Err(BuiltinError::NoMesh { key: k.to_string() }),
    })
}

/// The start mesh of a key sliced in time (`--time_slices`): NS_PINN's (x, y, t) network goes
/// on the x-y cross-section of its 3-D start mesh; every other key keeps its own.
pub(crate) fn builtin_sliced_mesh(key: &str) -> Result<&'static str, BuiltinError> {
    match key {
        "NS_PINN" => Ok(include_str!("../../meshes/NS_PINN_2x2_xy.mesh")),
        k => builtin_mesh(k),
    }
}

/// The names of a key's outputs when its network file names none: NS_PINN's flow u, v, p;
/// the sin(1/r) networks' f; a CT network's density; else `f` / `f_0`, `f_1`, ...
pub(crate) fn output_names(key: &str, outputs: usize) -> Vec<String> {
    let named: &[&str] = match key {
        "NS_PINN" => &["u", "v", "p"],
        "hos" | "hol" | "hof" => &["f"],
        k if is_ct_key(k) => &["density"],
        _ => &[],
    };
    if named.len() == outputs {
        named.iter().map(|n| n.to_string()).collect()
    } else {
        super::inr::generic_output_names(outputs)
    }
}

fn builtin_bytes(key: &str) -> Option<&'static [u8]> {
    Some(match key {
        "hos" => include_bytes!("../../checkpoints/hos.npz"),
        "hol" => include_bytes!("../../checkpoints/hol.npz"),
        "hof" => include_bytes!("../../checkpoints/hof.npz"),
        "NS_PINN" => include_bytes!("../../checkpoints/NS_PINN.npz"),
        "CT_demo" => include_bytes!("../../checkpoints/CT_demo.npz"),
        _ => return None,
    })
}

/// The network of a built-in key, and a description of where it came from.
pub fn builtin_network(key: &str) -> Result<(NetworkFile, String), BuiltinError> {
    if let Some(bytes) = builtin_bytes(key) {
        let name = format!("built-in {key} (checkpoints/{key}.npz)");
        return Ok((read_npz(bytes, Path::new(&name))?, name));
    }
    if is_ct_key(key) {
        // The original's CT networks are licensed by their authors and cannot ship here.
        for ext in ["ckpt", "pt", "pth", "npz"] {
            let p = PathBuf::from("checkpoints").join(format!("{key}.{ext}"));
            if p.is_file() {
                return Ok((super::load::load(&p)?.file, p.display().to_string()));
            }
        }
        return Err(BuiltinError::LicensedCt {
            key: key.to_string(),
        });
    }
    let list: Vec<&str> = BUILTIN_KEYS.iter().map(|b| b.key).collect();
    Err(BuiltinError::UnknownKey {
        key: key.to_string(),
        list: list.join(", "),
    })
}
