//! The built-in INRs: networks the project trained itself (`examples/train_builtin.rs`) and
//! their start meshes, both compiled into the binary so it runs from any folder.

use anyhow::Result;

use super::NetworkFile;
use super::npz::read_npz;
use crate::config::{BUILTIN_KEYS, UsageError, is_ct_key};

/// The key names no start mesh or network: the command line's fault (exit status 2).
fn usage(option: &'static str, message: String) -> anyhow::Error {
    UsageError { option, message }.into()
}

/// The start mesh a key uses (MFEM text).
pub fn builtin_mesh(key: &str) -> Result<&'static str> {
    Ok(match key {
        "hos" | "hol" | "hof" => include_str!("../../meshes/rectangle.mesh"),
        "NS_PINN" => include_str!("../../meshes/NS_PINN_2x2x10_z0_20.mesh"),
        k if is_ct_key(k) => include_str!("../../meshes/box-hex.mesh"),
        k => {
            return Err(usage(
                "mesh",
                format!("key {k:?} has no built-in start mesh; give --mesh FILE"),
            ));
        }
    })
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
pub fn builtin_network(key: &str) -> Result<(NetworkFile, String)> {
    if let Some(bytes) = builtin_bytes(key) {
        let name = format!("built-in {key} (checkpoints/{key}.npz)");
        return Ok((read_npz(bytes, std::path::Path::new(&name))?, name));
    }
    if is_ct_key(key) {
        // The original's CT networks are licensed by their authors and cannot ship here.
        for ext in ["ckpt", "pt", "pth", "npz"] {
            let p = std::path::PathBuf::from("checkpoints").join(format!("{key}.{ext}"));
            if p.is_file() {
                return Ok((super::load_network_file(&p)?, p.display().to_string()));
            }
        }
        return Err(usage(
            "INR_key",
            format!(
                "the weights of the CT network {key:?} are licensed by the authors of \
                 \"Distributed Stochastic Optimization of a Neural Representation Network for \
                 Time-Space Tomography Reconstruction\" and are not shipped; put the file at \
                 checkpoints/{key}.ckpt or pass it with --checkpoint FILE (or try --INR_key \
                 CT_demo)"
            ),
        ));
    }
    let list: Vec<&str> = BUILTIN_KEYS.iter().map(|b| b.key).collect();
    Err(usage(
        "INR_key",
        format!("unknown key {key:?}; built-in keys: {}", list.join(", ")),
    ))
}
