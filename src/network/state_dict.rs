//! The layer stack of a state dict (named tensors, from a torch.save file, a .safetensors
//! file or an npz of state-dict keys), recognised from the key names the common INR and
//! PINN codebases write:
//!
//! - `Layers.N.weight` (the original's own class; with `weights_list.N` beside it, the same
//!   tensors), `weights_list.N` / `bias_list.N`;
//! - `<prefix>N[.<rest>].weight`: `net.N` and `net.N.linear` (explore_siren), `net.net.N.0`
//!   (the SIREN repo), `linears.N` (DeepXDE), `N` (nn.Sequential), `layers.N`, `model.N`…:
//!   the first all-digit component is the layer index, everything before it names the stack;
//! - weight-norm pairs `weight_g` / `weight_v` and `parametrizations.weight.original0/1`,
//!   folded into one weight (W = g v / ‖v‖ per row);
//! - the original's `gauss` (Fourier matrix); every other tensor is returned as an extra,
//!   which the caller refuses unless the user's config accounts for it.
//!
//! Several stacks, or two weights at one index, are ambiguous: an error listing them.

use std::collections::BTreeMap;
use std::path::Path;

use faer::Mat;

use super::error::CheckpointError;
use super::netconfig::{self, Description, Extra, FoundLayers};
use super::tensor::Tensor;

/// A state dict's network, before activations and transforms.
pub(crate) struct Recognised {
    pub found: FoundLayers,
    /// The stack as users know it (`net.N.linear`, `Layers.N`).
    pub name: String,
    /// The key prefix (`Layers.`, `net.`, `` for nn.Sequential).
    pub prefix: String,
    /// The original's own class (`Layers.N`): its activations are known.
    pub original: bool,
    pub gauss: Option<Mat<f32>>,
    pub extras: Vec<Extra>,
}

#[derive(Default)]
struct Slot {
    /// (rest of the key after the index, weight tensor index)
    weights: Vec<(String, usize)>,
    biases: Vec<(String, usize)>,
}

struct Group {
    prefix: String,
    slots: BTreeMap<u64, Slot>,
    /// A stack without an index (`output_linear.weight`).
    unindexed: bool,
}

/// First all-digit component of a dotted stem: (prefix with its dot, index, rest).
fn split_stem(stem: &str) -> Option<(String, u64, String)> {
    let parts: Vec<&str> = stem.split('.').collect();
    let k = parts
        .iter()
        .position(|p| !p.is_empty() && p.len() <= 18 && p.bytes().all(|b| b.is_ascii_digit()))?;
    let prefix: String = parts[..k].iter().map(|p| format!("{p}.")).collect();
    Some((prefix, parts[k].parse().ok()?, parts[k + 1..].join(".")))
}

/// Weight-norm pairs folded into plain weights, keyed by the stem.
fn fold_weight_norm(tensors: &mut Vec<Tensor>, path: &Path) -> Result<(), CheckpointError> {
    const PAIRS: [(&str, &str); 2] = [
        (".weight_g", ".weight_v"),
        (
            ".parametrizations.weight.original0",
            ".parametrizations.weight.original1",
        ),
    ];
    for (g_suffix, v_suffix) in PAIRS {
        let stems: Vec<String> = tensors
            .iter()
            .filter_map(|t| t.name.strip_suffix(g_suffix).map(str::to_owned))
            .collect();
        for stem in stems {
            let gi = tensors
                .iter()
                .position(|t| t.name == format!("{stem}{g_suffix}"));
            let vi = tensors
                .iter()
                .position(|t| t.name == format!("{stem}{v_suffix}"));
            let (Some(gi), Some(vi)) = (gi, vi) else {
                return Err(CheckpointError::content(
                    path,
                    format!("{stem}{g_suffix} has no matching {stem}{v_suffix} (weight norm)"),
                ));
            };
            let (g, v) = (&tensors[gi], &tensors[vi]);
            let [rows, cols] = v.shape[..] else {
                return Err(CheckpointError::content(
                    path,
                    format!("{} has shape {:?}; expected out × in", v.name, v.shape),
                ));
            };
            if g.data.len() != rows {
                return Err(CheckpointError::content(
                    path,
                    format!(
                        "{} has {} entries for the {rows} rows of {} (weight norm over dim 0 \
                         is read)",
                        g.name,
                        g.data.len(),
                        v.name
                    ),
                ));
            }
            let mut data = Vec::with_capacity(rows * cols);
            for r in 0..rows {
                let row = &v.data[r * cols..(r + 1) * cols];
                let norm = row
                    .iter()
                    .map(|x| f64::from(*x).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let s = if norm > 0.0 {
                    f64::from(g.data[r]) / norm
                } else {
                    0.0
                };
                data.extend(row.iter().map(|x| (f64::from(*x) * s) as f32));
            }
            let folded = Tensor {
                name: format!("{stem}.weight"),
                shape: vec![rows, cols],
                data,
            };
            let (hi, lo) = (gi.max(vi), gi.min(vi));
            tensors.remove(hi);
            tensors[lo] = folded;
        }
    }
    Ok(())
}

/// Finds the layer stack of a state dict.
pub(crate) fn recognise(
    mut tensors: Vec<Tensor>,
    path: &Path,
    desc: &Description,
) -> Result<Recognised, CheckpointError> {
    fold_weight_norm(&mut tensors, path)?;
    let bad = |w: String| CheckpointError::content(path, w);
    if tensors.iter().any(|t| t.name.contains("_orig_mod.")) {
        // torch.compile wraps the module; its keys are the module's with a prefix.
        for t in &mut tensors {
            t.name = t.name.replace("_orig_mod.", "");
        }
    }
    unsupported_architectures(
        tensors
            .iter()
            .map(|t| (t.name.as_str(), t.shape.as_slice())),
        path,
    )?;
    let mut groups: Vec<Group> = Vec::new();
    let mut used = vec![false; tensors.len()];
    let mut gauss = None;
    for (ti, t) in tensors.iter().enumerate() {
        let name = t.name.as_str();
        if name == "gauss" {
            used[ti] = true;
            gauss = Some(ti);
            continue;
        }
        // (prefix, index, rest, is_weight)
        let parsed = if let Some(i) = name.strip_prefix("weights_list.") {
            i.parse()
                .ok()
                .map(|i| ("weights_list.".to_owned(), i, String::new(), true))
        } else if let Some(i) = name.strip_prefix("bias_list.") {
            i.parse()
                .ok()
                .map(|i| ("weights_list.".to_owned(), i, String::new(), false))
        } else if let Some(stem) = name.strip_suffix(".weight") {
            Some(match split_stem(stem) {
                Some((p, i, r)) => (p, i, r, true),
                None => (format!("{stem}."), 0, String::new(), true),
            })
        } else {
            name.strip_suffix(".bias")
                .map(|stem| match split_stem(stem) {
                    Some((p, i, r)) => (p, i, r, false),
                    None => (format!("{stem}."), 0, String::new(), false),
                })
        };
        let Some((prefix, index, rest, is_weight)) = parsed else {
            continue;
        };
        if is_weight && t.shape.len() != 2 {
            return Err(bad(format!(
                "{name} has shape {:?}: not a linear layer (a normalization layer, a \
                 convolution?); only MLPs of linear layers are read",
                t.shape
            )));
        }
        let unindexed = name
            .strip_suffix(".weight")
            .or(name.strip_suffix(".bias"))
            .is_some_and(|stem| {
                !name.starts_with("weights_list.")
                    && !name.starts_with("bias_list.")
                    && split_stem(stem).is_none()
            });
        let g = match groups.iter().position(|g| g.prefix == prefix) {
            Some(g) => g,
            None => {
                groups.push(Group {
                    prefix: prefix.clone(),
                    slots: BTreeMap::new(),
                    unindexed,
                });
                groups.len() - 1
            }
        };
        let slot = groups[g].slots.entry(index).or_default();
        if is_weight {
            slot.weights.push((rest, ti));
        } else {
            slot.biases.push((rest, ti));
        }
        used[ti] = true;
    }
    groups.retain(|g| g.slots.values().any(|s| !s.weights.is_empty()));
    let label = |g: &Group| -> String {
        if g.prefix == "weights_list." {
            "weights_list.N".to_owned()
        } else if g.unindexed {
            g.prefix.trim_end_matches('.').to_owned()
        } else if g.prefix.is_empty() {
            "N (nn.Sequential)".to_owned()
        } else {
            format!("{}N", g.prefix)
        }
    };
    let has = |p: &str| groups.iter().any(|g| g.prefix == p);
    let original = has("Layers.");
    let chosen = if let Some(stack) = netconfig::chosen_stack(desc) {
        let want = if stack.ends_with('.') || stack.is_empty() {
            stack.to_owned()
        } else {
            format!("{stack}.")
        };
        match groups.iter().position(|g| g.prefix == want) {
            Some(i) => i,
            None => {
                let names: Vec<String> = groups.iter().map(label).collect();
                return Err(desc.config_error(format!(
                    "stack {stack:?} is not in {} (its stacks: {})",
                    path.display(),
                    names.join(", ")
                )));
            }
        }
    } else if original {
        // The original's model holds `Layers` and its `weights_list` (the same tensors).
        match groups.iter().position(|g| g.prefix == "weights_list.") {
            Some(i) => i,
            None => groups
                .iter()
                .position(|g| g.prefix == "Layers.")
                .unwrap_or(0),
        }
    } else {
        match groups.len() {
            0 => {
                let keys: Vec<String> = tensors
                    .iter()
                    .take(12)
                    .map(|t| format!("`{}`", t.name))
                    .collect();
                return Err(bad(format!(
                    "no network found: expected weights_list/bias_list/act_list, or layers as \
                     `<name>.N.weight`/`<name>.N.bias` keys; the file has {}",
                    if keys.is_empty() {
                        "no tensors".to_owned()
                    } else {
                        keys.join(", ")
                    }
                )));
            }
            1 => 0,
            _ => {
                for g in &groups {
                    skip_connection(g, &tensors, &label(g), path)?;
                }
                let names: Vec<String> = groups.iter().map(|g| format!("`{}`", label(g))).collect();
                return Err(bad(format!(
                    "the state dict holds several stacks of layers ({}); cannot tell which is \
                     the network: name it in a network config (\"stack\": \"{}\"), or save \
                     only the network's state_dict()",
                    names.join(", "),
                    groups[0].prefix
                )));
            }
        }
    };
    // Tensors of the stacks not chosen are the same tensors (the original) or extras.
    let group = groups.swap_remove(chosen);
    let name = label(&group);
    skip_connection(&group, &tensors, &name, path)?;
    if original && group.prefix == "weights_list." {
        for g in &groups {
            if g.prefix == "Layers." {
                for s in g.slots.values() {
                    for (_, ti) in s.weights.iter().chain(&s.biases) {
                        used[*ti] = true;
                    }
                }
            }
        }
    }
    for g in &groups {
        if original && g.prefix == "Layers." {
            continue;
        }
        for s in g.slots.values() {
            for (_, ti) in s.weights.iter().chain(&s.biases) {
                used[*ti] = false;
            }
        }
    }
    let mut labels = Vec::with_capacity(group.slots.len());
    let mut weights = Vec::with_capacity(group.slots.len());
    for (n, (index, slot)) in group.slots.iter().enumerate() {
        let contiguous = group.prefix == "weights_list.";
        if contiguous && *index != n as u64 {
            return Err(bad(format!(
                "weights_list.{n} is missing (the next is {index})"
            )));
        }
        let stem = |rest: &str| {
            if group.unindexed {
                group.prefix.trim_end_matches('.').to_owned()
            } else if rest.is_empty() {
                format!("{}{index}", group.prefix)
            } else {
                format!("{}{index}.{rest}", group.prefix)
            }
        };
        let (rest, wi) = match &slot.weights[..] {
            [w] => w.clone(),
            [] => {
                let (r, _) = &slot.biases[0];
                return Err(bad(if contiguous {
                    format!("bias_list.{index} has no matching weights_list.{index}")
                } else {
                    format!("{}.bias has no matching {}.weight", stem(r), stem(r))
                }));
            }
            many => {
                let names: Vec<String> = many
                    .iter()
                    .map(|(r, _)| format!("`{}.weight`", stem(r)))
                    .collect();
                return Err(bad(format!(
                    "layer {index} of {name} has several weights ({}); cannot tell which is \
                     the layer",
                    names.join(", ")
                )));
            }
        };
        let bias = slot
            .biases
            .iter()
            .find(|(r, _)| *r == rest)
            .map(|(_, b)| *b);
        for (r, b) in &slot.biases {
            if *r != rest {
                used[*b] = false;
            }
        }
        let w = &tensors[wi];
        let (rows, cols) = (w.shape[0], w.shape[1]);
        let weight = Mat::from_fn(rows, cols, |r, c| w.data[r * cols + c]);
        let bias = match bias {
            Some(b) => {
                let b = &tensors[b];
                if b.shape.len() != 1 {
                    return Err(bad(format!(
                        "{} has shape {:?}; a bias must be 1-D",
                        b.name, b.shape
                    )));
                }
                b.data.clone()
            }
            None if contiguous => {
                return Err(bad(format!(
                    "weights_list.{index} has no matching bias_list.{index}"
                )));
            }
            None => vec![0.0; rows],
        };
        labels.push(if contiguous {
            format!("weights_list.{index}")
        } else {
            stem(&rest)
        });
        weights.push((weight, bias));
    }
    let gauss = match gauss {
        None => None,
        Some(gi) => {
            let g = &tensors[gi];
            if g.data.is_empty() {
                None
            } else {
                let [rows, cols] = g.shape[..] else {
                    return Err(bad(format!(
                        "gauss has shape {:?}; a Fourier matrix must be 2-D (input_dim × F)",
                        g.shape
                    )));
                };
                Some(Mat::from_fn(rows, cols, |r, c| g.data[r * cols + c]))
            }
        }
    };
    let extras = tensors
        .into_iter()
        .zip(used)
        .filter(|(_, u)| !u)
        .map(|(t, _)| Extra {
            name: t.name,
            shape: t.shape,
            data: t.data,
        })
        .collect();
    Ok(Recognised {
        found: FoundLayers { labels, weights },
        name,
        prefix: group.prefix,
        original,
        gauss,
        extras,
    })
}

/// A layer whose input is the previous layer's output plus the network's input is NeRF's
/// skip connection (the input concatenated back in), which an MLP cannot express.
fn skip_connection(
    g: &Group,
    tensors: &[Tensor],
    name: &str,
    path: &Path,
) -> Result<(), CheckpointError> {
    let shapes: Vec<(usize, usize, String)> = g
        .slots
        .values()
        .filter_map(|s| s.weights.first())
        .map(|(_, ti)| {
            let t = &tensors[*ti];
            (t.shape[0], t.shape[1], t.name.clone())
        })
        .collect();
    let Some(first_in) = shapes.first().map(|s| s.1) else {
        return Ok(());
    };
    for w in shapes.windows(2) {
        let ((prev_out, _, _), (_, inp, wname)) = (&w[0], &w[1]);
        if inp != prev_out && *inp == prev_out + first_in {
            return Err(CheckpointError::content(
                path,
                format!(
                    "{wname} takes {inp} inputs: the previous layer's {prev_out} plus the \
                     network's {first_in} inputs, a skip connection (as in NeRF or NeuS) in \
                     {name}; networks with skip connections are not read (only plain MLPs): \
                     export the network to ONNX only if it is a plain MLP, or train one \
                     without skips"
                ),
            ));
        }
    }
    Ok(())
}

/// Architectures that are not MLPs but whose state dicts look like one in part, told from the
/// tensors' names and shapes alone (so before any data is read: torch-ngp's int32 `offsets`
/// would otherwise stop the reader first with a less useful message).
pub(crate) fn unsupported_architectures<'a>(
    tensors: impl Iterator<Item = (&'a str, &'a [usize])> + Clone,
    path: &Path,
) -> Result<(), CheckpointError> {
    let has = |p: &str| tensors.clone().any(|(n, _)| n.contains(p));
    let leaf = |n: &str| n.rsplit('.').next().unwrap_or(n).to_owned();
    let what = if has("filters.") && has("linear.") {
        Some(
            "a multiplicative filter network (MFN, FourierNet or GaborNet: filters.N and \
             linear.N; its layers multiply filter outputs together)",
        )
    } else if has("hash")
        || has("embeddings")
        // tiny-cuda-nn's torch modules hold all their weights as one flat `params`.
        || tensors.clone().any(|(n, s)| leaf(n) == "params" && s.len() == 1)
    {
        Some(
            "a hash-grid encoding (instant-NGP: torch-ngp's embeddings and offsets, or \
             tiny-cuda-nn's flat params; a table lookup before the MLP)",
        )
    } else if has("scale_0") || has("omega_0") && has("scale") {
        Some("a WIRE network (omega_0, scale_0: complex Gabor wavelet activations)")
    } else {
        None
    };
    match what {
        Some(w) => Err(CheckpointError::content(
            path,
            format!("this looks like {w}; {NOT_AN_MLP}"),
        )),
        None => Ok(()),
    }
}

/// The end of every "not an MLP" message: what it is not, and what to do instead.
pub(crate) const NOT_AN_MLP: &str = "such a network is not an MLP of pointwise activations \
     and is not read: PruningAMR prunes plain MLPs; fit the field with one (a SIREN, --activations sine:30, or \
     a Fourier-feature MLP) and give that network";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_split_at_the_first_index() {
        assert_eq!(
            split_stem("net.net.3.0"),
            Some(("net.net.".into(), 3, "0".into()))
        );
        assert_eq!(
            split_stem("net.2.linear"),
            Some(("net.".into(), 2, "linear".into()))
        );
        assert_eq!(split_stem("4"), Some((String::new(), 4, String::new())));
        assert_eq!(split_stem("output_linear"), None);
    }
}
