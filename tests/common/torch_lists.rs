//! TEST-ONLY stand-in for the checkpoint loader: reads the reference `*_lists.ckpt` files of
//! the high-oscillation networks without parsing the pickle, relying on the layout
//! `pickletools` shows for them: storage `data/i` holds weight i (row-major, out × in, offset
//! 0, contiguous) and `data/(L+i)` bias i, little-endian f32; ReLU on hidden layers, Identity
//! on the output. The caller gives the layer sizes and every storage's size is checked.
//! To be replaced by the crate's real loader.

use std::io::Read;
use std::path::Path;

use faer::Mat;
use pruningamr::id_pruning::{Activation, Layer, Network};
use zip::ZipArchive;
use zip::read::{ArchiveOffset, Config};

/// The ReLU MLP with layer sizes `dims` (input, hidden…, output) stored in `path`.
pub fn load_relu_lists(path: &Path, dims: &[usize]) -> Result<Network, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = Config {
        archive_offset: ArchiveOffset::Known(0),
    };
    let mut zip =
        ZipArchive::with_config(config, file).map_err(|e| format!("{}: {e}", path.display()))?;
    let pkl = zip
        .file_names()
        .filter_map(Result::ok)
        .find(|n| n.ends_with("/data.pkl"))
        .ok_or_else(|| format!("{}: no data.pkl", path.display()))?
        .into_owned();
    let prefix = &pkl[..pkl.len() - "data.pkl".len()];
    let n_layers = dims.len() - 1;
    let mut read = |key: usize, len: usize| -> Result<Vec<f32>, String> {
        let name = format!("{prefix}data/{key}");
        let mut entry = zip.by_name(&name).map_err(|e| format!("{name}: {e}"))?;
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{name}: {e}"))?;
        if bytes.len() != 4 * len {
            return Err(format!(
                "{name}: {} bytes, expected {}",
                bytes.len(),
                4 * len
            ));
        }
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    };
    let mut layers = Vec::with_capacity(n_layers);
    for i in 0..n_layers {
        let (fan_in, fan_out) = (dims[i], dims[i + 1]);
        let w = read(i, fan_in * fan_out)?;
        let bias = read(n_layers + i, fan_out)?;
        layers.push(Layer {
            weight: Mat::from_fn(fan_out, fan_in, |r, c| w[r * fan_in + c]),
            bias,
            activation: if i + 1 < n_layers {
                Activation::Relu
            } else {
                Activation::Identity
            },
        });
    }
    Network::new(layers).map_err(|e| format!("{}: {e}", path.display()))
}
