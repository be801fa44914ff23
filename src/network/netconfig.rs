//! What a network file does not say about itself, as the user gives it: activations
//! (`--activations`, and the names users write for them) and the network config JSON
//! (`--network_config FILE`, or `<checkpoint>.json` beside the file): encoding, input
//! normalization, output scale and names, which stack of a state dict is the network.
//!
//! Nothing here guesses: a state dict without activations is an error naming the option,
//! unless it is the original's own `Layers.N` layout (ReLU, as its class defines).

use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

use faer::Mat;
use serde::Deserialize;

use super::error::CheckpointError;
use super::file::NetworkFile;
use super::model::{Activation, Layer};
use super::positional::{Axis, NERF_ORDER, PositionalEncoding};

/// The names accepted for each activation (compared ignoring case, `_`, `-` and blanks), the
/// first being how the activation is written back.
const NAMES: &[(&str, &[&str])] = &[
    ("ReLU", &["relu"]),
    ("LeakyReLU", &["leakyrelu", "lrelu"]),
    ("Tanh", &["tanh"]),
    ("SiLU", &["silu", "swish"]),
    ("Sigmoid", &["sigmoid"]),
    ("GELU", &["gelu"]),
    ("Softplus", &["softplus"]),
    ("ELU", &["elu"]),
    ("Sine", &["sine", "sin", "siren"]),
    ("Gauss", &["gauss", "gaussian"]),
    ("Identity", &["identity", "linear", "none"]),
];

fn canonical(name: &str) -> Option<&'static str> {
    let key: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    NAMES
        .iter()
        .find(|(_, aliases)| aliases.contains(&key.as_str()))
        .map(|(c, _)| *c)
}

/// Reads one activation: a name (any case, aliases such as `sin`, `swish`, `linear`),
/// optionally followed by `:`-separated parameters — `Sine:30` (ω), `Gauss:2` (s),
/// `LeakyReLU:0.2` (slope), `ELU:1.5` (α), `Softplus:2` or `Softplus:2:10` (β, threshold),
/// `GELU:tanh`. Absent parameters take PyTorch's defaults (ω = s = 1).
pub fn parse_activation(spec: &str) -> Result<Activation, String> {
    let mut parts = spec.trim().split(':');
    let name = parts.next().unwrap_or("");
    let params: Vec<&str> = parts.collect();
    let Some(base) = canonical(name).and_then(Activation::from_name) else {
        return Err(format!(
            "unknown activation {spec:?}; expected ReLU, LeakyReLU, Tanh, SiLU (swish), \
             Sigmoid, GELU, Softplus, ELU, Sine (sin), Gauss or Identity (linear)"
        ));
    };
    let num = |i: usize, what: &str| -> Result<Option<f32>, String> {
        let Some(p) = params.get(i) else {
            return Ok(None);
        };
        match p.trim().parse::<f32>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(format!("{spec:?}: {what} {p:?} is not a finite number")),
        }
    };
    let max_params = match base {
        Activation::LeakyRelu { .. }
        | Activation::Elu { .. }
        | Activation::Gelu { .. }
        | Activation::Sine { .. }
        | Activation::Gauss { .. } => 1,
        Activation::Softplus { .. } => 2,
        _ => 0,
    };
    if params.len() > max_params {
        return Err(format!(
            "{spec:?}: {} takes {max_params} parameter(s), got {}",
            base.name(),
            params.len()
        ));
    }
    Ok(match base {
        Activation::LeakyRelu { negative_slope } => Activation::LeakyRelu {
            negative_slope: num(0, "negative_slope")?.unwrap_or(negative_slope),
        },
        Activation::Elu { alpha } => Activation::Elu {
            alpha: num(0, "alpha")?.unwrap_or(alpha),
        },
        Activation::Softplus { beta, threshold } => {
            let beta = num(0, "beta")?.unwrap_or(beta);
            if beta <= 0.0 {
                return Err(format!("{spec:?}: Softplus beta must be > 0"));
            }
            Activation::Softplus {
                beta,
                threshold: num(1, "threshold")?.unwrap_or(threshold),
            }
        }
        Activation::Sine { omega } => Activation::Sine {
            omega: num(0, "omega")?.unwrap_or(omega),
        },
        Activation::Gauss { scale } => Activation::Gauss {
            scale: num(0, "scale")?.unwrap_or(scale),
        },
        Activation::Gelu { .. } => match params.first().map(|p| p.trim()) {
            None | Some("none") => Activation::Gelu { tanh_approx: false },
            Some("tanh") => Activation::Gelu { tanh_approx: true },
            Some(p) => {
                return Err(format!(
                    "{spec:?}: GELU approximation {p:?} is not none or tanh"
                ));
            }
        },
        other => other,
    })
}

/// How [`parse_activation`] reads an activation back: the class name, with its parameters
/// when they differ from the defaults (Rust's shortest round-trip float formatting).
pub fn activation_spec(a: Activation) -> String {
    let default = Activation::from_name(a.name());
    if Some(a) == default {
        return a.name().to_owned();
    }
    match a {
        Activation::LeakyRelu { negative_slope } => format!("LeakyReLU:{negative_slope}"),
        Activation::Elu { alpha } => format!("ELU:{alpha}"),
        Activation::Softplus { beta, threshold } => format!("Softplus:{beta}:{threshold}"),
        Activation::Gelu { tanh_approx: true } => "GELU:tanh".to_owned(),
        Activation::Sine { omega } => format!("Sine:{omega}"),
        Activation::Gauss { scale } => format!("Gauss:{scale}"),
        other => other.name().to_owned(),
    }
}

/// Activations as the user lists them: one for every hidden layer (the output then
/// Identity), or one per layer including the output.
#[derive(Clone, Debug, PartialEq)]
pub enum ActivationList {
    Hidden(Activation),
    PerLayer(Vec<Activation>),
}

impl ActivationList {
    /// `--activations` text: comma-separated names with parameters after colons.
    pub fn parse(text: &str) -> Result<ActivationList, String> {
        let items: Vec<&str> = text.split(',').map(str::trim).collect();
        ActivationList::from_items(&items)
    }

    fn from_items(items: &[&str]) -> Result<ActivationList, String> {
        if items.is_empty() || items.iter().any(|s| s.is_empty()) {
            return Err(
                "an empty activation name; write e.g. sine:30 or tanh,tanh,identity".into(),
            );
        }
        let acts = items
            .iter()
            .map(|s| parse_activation(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match acts[..] {
            [one] => ActivationList::Hidden(one),
            _ => ActivationList::PerLayer(acts),
        })
    }

    /// One activation per layer for a network of `n` layers.
    pub fn resolve(&self, n: usize) -> Result<Vec<Activation>, String> {
        match self {
            ActivationList::Hidden(a) if n == 1 => Ok(vec![*a]),
            ActivationList::Hidden(a) => {
                let mut v = vec![*a; n - 1];
                v.push(Activation::Identity);
                Ok(v)
            }
            ActivationList::PerLayer(v) if v.len() == n => Ok(v.clone()),
            ActivationList::PerLayer(v) => Err(format!(
                "{} activations were given for {n} layers (give one for all hidden layers, or \
                 one per layer including the output)",
                v.len()
            )),
        }
    }
}

/// Folds Sine's ω and Gauss's s into the layer's weight and bias, so the network runs
/// sin(z) and exp(−z²) only: sin(ω(Wx + b)) = sin((ωW)x + ωb).
pub(crate) fn fold_frequencies(layers: &mut [Layer]) {
    for l in layers {
        let (factor, unit) = match l.activation {
            Activation::Sine { omega } => (omega, Activation::Sine { omega: 1.0 }),
            Activation::Gauss { scale } => (scale, Activation::Gauss { scale: 1.0 }),
            _ => continue,
        };
        if factor != 1.0 {
            for j in 0..l.weight.ncols() {
                for v in l.weight.col_as_slice_mut(j) {
                    *v *= factor;
                }
            }
            for b in &mut l.bias {
                *b *= factor;
            }
        }
        l.activation = unit;
    }
}

// ---------------------------------------------------------------------------------------
// The network config file

/// The network config JSON (README, "Bring your own network"). Unknown keys are errors, so a
/// misspelt key cannot be silently skipped.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// One name (all hidden layers, output Identity) or one per layer.
    #[serde(default)]
    pub activations: Option<OneOrMany>,
    #[serde(default)]
    pub encoding: Option<EncodingConfig>,
    #[serde(default)]
    pub input: Option<InputConfig>,
    #[serde(default)]
    pub output_scale: Option<f64>,
    #[serde(default)]
    pub output_names: Option<Vec<String>>,
    /// Names of the input coordinates: checked against the input count, named in messages,
    /// and `t`/`time` says which input is time (a time slice must put time there).
    #[serde(default)]
    pub input_names: Option<Vec<String>>,
    /// The key prefix of the layer stack, when a state dict holds several (`"net.net."`).
    #[serde(default)]
    pub stack: Option<String>,
    /// Tensors of the state dict that are not part of the network (they are errors otherwise).
    #[serde(default)]
    pub ignore: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EncodingConfig {
    /// Random Fourier features: z = scale · x M (M as inputs × features), features
    /// [sin z, cos z] or [cos z, sin z].
    Fourier {
        #[serde(alias = "key")]
        matrix: MatrixRef,
        #[serde(alias = "shape_convention")]
        shape: MatrixShape,
        order: FeatureOrder,
        #[serde(default = "tau")]
        scale: f64,
    },
    /// NeRF's positional encoding: x, then sin(2ᵏ x), cos(2ᵏ x) for k < frequencies (times π
    /// with `pi`), in NeRF's order (per frequency all sines then all cosines) unless `order`
    /// nests the axes otherwise.
    Positional {
        frequencies: u32,
        #[serde(default = "yes")]
        include_input: bool,
        #[serde(default)]
        pi: bool,
        #[serde(default = "nerf_order")]
        order: [Axis; 3],
    },
}

fn tau() -> f64 {
    TAU
}
fn yes() -> bool {
    true
}
fn nerf_order() -> [Axis; 3] {
    NERF_ORDER
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum MatrixRef {
    Key(String),
    Rows(Vec<Vec<f64>>),
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum MatrixShape {
    /// B of shape features × inputs (Tancik, NeRP: x Bᵀ).
    FeaturesByInputs,
    /// G of shape inputs × features (the original: x G).
    InputsByFeatures,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum FeatureOrder {
    SinCos,
    CosSin,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    pub mean: Option<Vec<f64>>,
    pub std: Option<Vec<f64>>,
    /// With `max`: the box mapped onto [−1, 1] per coordinate.
    pub min: Option<Vec<f64>>,
    pub max: Option<Vec<f64>>,
}

impl NetworkConfig {
    pub fn parse(text: &str) -> Result<NetworkConfig, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Reads a config file (a few kilobytes; capped like every input).
    pub fn read(path: &Path) -> Result<NetworkConfig, CheckpointError> {
        let bytes =
            crate::io::read_capped(path, 16 << 20).map_err(|source| CheckpointError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| CheckpointError::config(path, "not UTF-8 text"))?;
        NetworkConfig::parse(&text).map_err(|w| CheckpointError::config(path, w))
    }

    pub(crate) fn activation_list(&self) -> Result<Option<ActivationList>, String> {
        match &self.activations {
            None => Ok(None),
            Some(OneOrMany::One(s)) => ActivationList::parse(s).map(Some),
            Some(OneOrMany::Many(v)) => {
                let items: Vec<&str> = v.iter().map(String::as_str).collect();
                ActivationList::from_items(&items).map(Some)
            }
        }
        .map_err(|w| format!("activations: {w}"))
    }
}

/// What the user says about a network besides the file: `--activations` and a config.
#[derive(Clone, Debug, Default)]
pub struct Description {
    pub activations: Option<ActivationList>,
    pub config: Option<NetworkConfig>,
    /// The config file, for messages.
    pub config_path: Option<PathBuf>,
}

impl Description {
    /// From the command line: `--activations` and `--network_config FILE` (read now).
    pub fn from_options(
        activations: Option<ActivationList>,
        config: Option<&Path>,
    ) -> Result<Description, CheckpointError> {
        let config_path = config.map(Path::to_path_buf);
        let config = config.map(NetworkConfig::read).transpose()?;
        Ok(Description {
            activations,
            config,
            config_path,
        })
    }

    /// With activations given by a caller of the library (one per layer).
    pub fn with_activations(acts: Option<&[Activation]>) -> Description {
        Description {
            activations: acts.map(|a| ActivationList::PerLayer(a.to_vec())),
            ..Description::default()
        }
    }

    /// The command line's activations, else the config's.
    pub(crate) fn activation_list(&self) -> Result<Option<ActivationList>, CheckpointError> {
        if self.activations.is_some() {
            return Ok(self.activations.clone());
        }
        match &self.config {
            Some(c) => c.activation_list().map_err(|w| self.config_error(w)),
            None => Ok(None),
        }
    }

    pub(crate) fn config_error(&self, what: impl Into<String>) -> CheckpointError {
        let path = self
            .config_path
            .clone()
            .unwrap_or_else(|| PathBuf::from("network config"));
        CheckpointError::config(&path, what)
    }

    fn stack(&self) -> Option<&str> {
        self.config.as_ref()?.stack.as_deref()
    }
}

/// A layer stack as found in a file: weights and biases, and the label of each layer.
pub(crate) struct FoundLayers {
    pub labels: Vec<String>,
    pub weights: Vec<(Mat<f32>, Vec<f32>)>,
}

/// An encoding matrix a state dict holds: its key and its values (row-major).
pub(crate) struct Extra {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Where the activations of a network came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ActivationsFrom {
    Given,
    /// The original's own `Layers.N` class: ReLU on hidden layers, Identity on the output.
    OriginalClass,
}

/// Builds the network of a state dict from its layer stack and the user's description.
/// `original` is true for the original's own layout; `gauss` is the original's Fourier
/// matrix (inputs × features, [cos, sin], 2π); `extras` are the tensors outside the stack.
pub(crate) fn state_dict_network(
    path: &Path,
    found: FoundLayers,
    stack_name: &str,
    original: bool,
    gauss: Option<Mat<f32>>,
    mut extras: Vec<Extra>,
    desc: &Description,
) -> Result<(NetworkFile, ActivationsFrom), CheckpointError> {
    let n = found.weights.len();
    let given = desc.activation_list()?;
    let config = desc.config.clone().unwrap_or_default();
    // Tensors the encoding names, or that the config ignores, are accounted for.
    let enc_key = match &config.encoding {
        Some(EncodingConfig::Fourier {
            matrix: MatrixRef::Key(k),
            ..
        }) => Some(k.clone()),
        _ => None,
    };
    let enc_tensor = match &enc_key {
        Some(k) => match extras.iter().position(|e| &e.name == k) {
            Some(i) => Some(extras.remove(i)),
            None if k == "gauss" && gauss.is_some() => None,
            None => {
                let names: Vec<&str> = extras.iter().map(|e| e.name.as_str()).collect();
                return Err(desc.config_error(format!(
                    "encoding.matrix {k:?} is not a tensor of {} outside the layers (those \
                     are: {})",
                    path.display(),
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )));
            }
        },
        None => None,
    };
    extras.retain(|e| !config.ignore.contains(&e.name));
    let shapes = describe_stack(&found);
    let acts = match &given {
        Some(list) => Some(
            list.resolve(n)
                .map_err(|w| CheckpointError::content(path, w))?,
        ),
        None if original => None,
        None => {
            let also = if extras.is_empty() {
                String::new()
            } else {
                format!(
                    "; it also holds {} outside the layers, which a network config must \
                     describe (\"encoding\") or list under \"ignore\"",
                    extras_list(&extras)
                )
            };
            return Err(CheckpointError::Undescribed {
                option: "activations",
                path: path.to_path_buf(),
                what: format!(
                    "a state dict of {n} layers {stack_name} ({shapes}) stores no \
                     activations; give them with --activations (one for every hidden layer, \
                     e.g. sine:30 for SIREN or tanh for DeepXDE, or one per layer: \
                     relu,relu,identity) or in a network config (--network_config FILE, or \
                     {}.json beside it){also}",
                    path.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
            });
        }
    };
    if !extras.is_empty() {
        return Err(CheckpointError::Undescribed {
            option: "network_config",
            path: path.to_path_buf(),
            what: format!(
                "{} {} not part of the layer stack {stack_name} ({shapes}); if it is an input \
                 encoding, describe it in a network config (--network_config FILE, or {}.json \
                 beside it: \"encoding\": {{\"type\": \"fourier\", \"matrix\": \"{}\", \
                 \"shape\": …, \"order\": …}}), else list it under \"ignore\"",
                extras_list(&extras),
                if extras.len() == 1 { "is" } else { "are" },
                path.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                extras[0].name
            ),
        });
    }
    let from = if given.is_some() {
        ActivationsFrom::Given
    } else {
        ActivationsFrom::OriginalClass
    };
    let mut layers: Vec<Layer> = found
        .weights
        .into_iter()
        .enumerate()
        .map(|(i, (weight, bias))| Layer {
            weight,
            bias,
            activation: match &acts {
                Some(a) => a[i],
                None if i + 1 == n => Activation::Identity,
                None => Activation::Relu,
            },
        })
        .collect();
    fold_frequencies(&mut layers);
    let network =
        super::model::Network::new(layers).map_err(|source| CheckpointError::Network {
            path: path.to_path_buf(),
            source,
        })?;
    let mut file = NetworkFile {
        fourier_gauss: gauss,
        ..NetworkFile::plain(network)
    };
    apply_config(&mut file, &config, enc_tensor, desc, path)?;
    file.validate()
        .map_err(|w| CheckpointError::content(path, w.to_string()))?;
    Ok((file, from))
}

fn extras_list(extras: &[Extra]) -> String {
    let items: Vec<String> = extras
        .iter()
        .take(8)
        .map(|e| format!("tensor {} ({})", e.name, dims(&e.shape)))
        .collect();
    let more = extras.len().saturating_sub(8);
    if more > 0 {
        format!("{} and {more} more", items.join(", "))
    } else {
        items.join(", ")
    }
}

fn dims(shape: &[usize]) -> String {
    if shape.is_empty() {
        return "scalar".into();
    }
    let s: Vec<String> = shape.iter().map(usize::to_string).collect();
    s.join(" × ")
}

/// `net.0.linear, net.1.linear, net.2: 2→32→32→1`.
fn describe_stack(found: &FoundLayers) -> String {
    let mut s = match found.weights.first() {
        Some((w, _)) => w.ncols().to_string(),
        None => return "empty".into(),
    };
    for (w, _) in &found.weights {
        s.push('→');
        s.push_str(&w.nrows().to_string());
    }
    let mut names = found.labels.clone();
    if names.len() > 12 {
        let last = names.pop().unwrap_or_default();
        names.truncate(10);
        names.push(format!("… {last}"));
    }
    format!("{}: {s}", names.join(", "))
}

/// The stack the config names, when it names one.
pub(crate) fn chosen_stack(desc: &Description) -> Option<&str> {
    desc.stack()
}

/// Applies the config's transforms (encoding, input normalization, output scale, names) to
/// a network; a transform the file already has is not replaced but refused.
pub(crate) fn apply_config(
    file: &mut NetworkFile,
    config: &NetworkConfig,
    enc_tensor: Option<Extra>,
    desc: &Description,
    path: &Path,
) -> Result<(), CheckpointError> {
    let err = |w: String| desc.config_error(w);
    if let Some(EncodingConfig::Positional {
        frequencies,
        include_input,
        pi,
        order,
    }) = &config.encoding
    {
        if file.fourier_gauss.is_some() {
            return Err(err(format!(
                "{} already holds a Fourier matrix; the config's positional encoding would be \
                 a second encoding",
                path.display()
            )));
        }
        // The input count is what makes the first layer's width: (2L + 1)·d with the raw
        // input, 2L·d without.
        let first_in = file.network.input_dim();
        let per_input = 2 * (*frequencies as usize) + usize::from(*include_input);
        if *frequencies == 0 || !first_in.is_multiple_of(per_input) {
            return Err(err(format!(
                "a positional encoding of {frequencies} frequencies gives {per_input} features \
                 per input ({}), but the first layer takes {first_in} inputs, not a multiple \
                 of {per_input}; check \"frequencies\" and \"include_input\"",
                if *include_input {
                    "x, then a sine and a cosine per frequency"
                } else {
                    "a sine and a cosine per frequency"
                }
            )));
        }
        let enc = PositionalEncoding::new(
            first_in / per_input,
            *frequencies,
            *include_input,
            *pi,
            *order,
        )
        .map_err(err)?;
        file.positional = Some(enc);
    }
    if let Some(EncodingConfig::Fourier {
        matrix,
        shape,
        order,
        scale,
    }) = &config.encoding
    {
        let (rows, cols, data): (usize, usize, Vec<f64>) = match (matrix, enc_tensor) {
            (_, Some(t)) => {
                let [r, c] = t.shape[..] else {
                    return Err(err(format!(
                        "encoding.matrix {} has shape {:?}; it must be 2-D",
                        t.name, t.shape
                    )));
                };
                (r, c, t.data.iter().map(|&v| f64::from(v)).collect())
            }
            (MatrixRef::Rows(rows), None) => {
                let r = rows.len();
                let c = rows.first().map_or(0, Vec::len);
                if r == 0 || c == 0 || rows.iter().any(|row| row.len() != c) {
                    return Err(err(
                        "encoding.matrix: the rows must be non-empty and of equal length".into(),
                    ));
                }
                (r, c, rows.concat())
            }
            (MatrixRef::Key(k), None) if k == "gauss" && file.fourier_gauss.is_some() => {
                // The original's own `gauss`, already read with its meaning.
                return check_gauss_convention(*shape, *order, *scale).map_err(err);
            }
            (MatrixRef::Key(k), None) => {
                return Err(err(format!("encoding.matrix {k:?} names no tensor")));
            }
        };
        if file.fourier_gauss.is_some() {
            return Err(err(format!(
                "{} already holds a Fourier matrix; the config's encoding would be a second one",
                path.display()
            )));
        }
        if !(scale.is_finite() && *scale != 0.0) {
            return Err(err(format!(
                "encoding.scale = {scale}; it must be finite and non-zero"
            )));
        }
        // NetworkFile computes [cos 2πxG, sin 2πxG] with G inputs × features: transpose B,
        // fold scale/2π into G (exactly 1 for the usual 2π), and for [sin, cos] swap the
        // halves of the first layer's columns.
        let (d, f) = match shape {
            MatrixShape::InputsByFeatures => (rows, cols),
            MatrixShape::FeaturesByInputs => (cols, rows),
        };
        let factor = scale / TAU;
        let g = Mat::from_fn(d, f, |i, j| {
            let v = match shape {
                MatrixShape::InputsByFeatures => data[i * cols + j],
                MatrixShape::FeaturesByInputs => data[j * cols + i],
            };
            (v * factor) as f32
        });
        let first_in = file.network.input_dim();
        if 2 * f != first_in {
            return Err(err(format!(
                "encoding.matrix gives {f} frequencies ({} features) for {d} inputs (read as \
                 {}), but the first layer takes {first_in} inputs",
                2 * f,
                match shape {
                    MatrixShape::InputsByFeatures => "inputs_by_features",
                    MatrixShape::FeaturesByInputs => "features_by_inputs",
                }
            )));
        }
        if *order == FeatureOrder::SinCos {
            swap_first_layer_halves(file, f);
        }
        file.fourier_gauss = Some(g);
    }
    if let Some(input) = &config.input {
        let (mean, std) = match (&input.mean, &input.std, &input.min, &input.max) {
            (Some(m), Some(s), None, None) => (m.clone(), s.clone()),
            (None, None, Some(lo), Some(hi)) => {
                if lo.len() != hi.len() {
                    return Err(err("input.min and input.max differ in length".into()));
                }
                // [min, max] onto [−1, 1]: (x − (min + max)/2) / ((max − min)/2).
                let mean = lo.iter().zip(hi).map(|(a, b)| 0.5 * (a + b)).collect();
                let std = lo.iter().zip(hi).map(|(a, b)| 0.5 * (b - a)).collect();
                (mean, std)
            }
            _ => {
                return Err(err(
                    "input: give either \"mean\" and \"std\", or \"min\" and \"max\"".into(),
                ));
            }
        };
        if file.input_mean.is_some() {
            return Err(err(format!(
                "{} already stores an input normalization",
                path.display()
            )));
        }
        file.input_mean = Some(mean.iter().map(|&v| v as f32).collect());
        file.input_std = Some(std.iter().map(|&v| v as f32).collect());
    }
    if let Some(s) = config.output_scale {
        if file.output_scale.is_some() {
            return Err(err(format!(
                "{} already stores an output scale",
                path.display()
            )));
        }
        file.output_scale = Some(s as f32);
    }
    if let Some(names) = &config.output_names {
        if names.len() != file.output_dim() {
            return Err(err(format!(
                "output_names has {} names but the network has {} outputs",
                names.len(),
                file.output_dim()
            )));
        }
        // They name the ParaView arrays, picture titles and per-output RMSE (issue 16).
        file.output_names = names.clone();
    }
    if let Some(names) = &config.input_names {
        if names.len() != file.input_dim() {
            return Err(err(format!(
                "input_names has {} names but the network takes {} inputs",
                names.len(),
                file.input_dim()
            )));
        }
        file.input_names = names.clone();
    }
    file.validate()
        .map_err(|w| CheckpointError::content(path, w.to_string()))
}

/// The original's `gauss` is inputs × features, [cos, sin], 2π; a config describing it
/// otherwise contradicts the file's own meaning.
fn check_gauss_convention(
    shape: MatrixShape,
    order: FeatureOrder,
    scale: f64,
) -> Result<(), String> {
    if shape == MatrixShape::InputsByFeatures && order == FeatureOrder::CosSin && scale == TAU {
        Ok(())
    } else {
        Err(
            "the original's `gauss` is inputs_by_features, cos_sin, scale 2π; a file that \
             means otherwise must name its matrix under another key"
                .into(),
        )
    }
}

/// Reorders the first layer's input columns from [sin | cos] to [cos | sin] halves.
pub(crate) fn swap_first_layer_halves(file: &mut NetworkFile, f: usize) {
    let mut layers = file.network.layers().to_vec();
    let w = &layers[0].weight;
    let swapped = Mat::from_fn(w.nrows(), w.ncols(), |r, c| {
        if c < f { w[(r, c + f)] } else { w[(r, c - f)] }
    });
    layers[0].weight = swapped;
    // The shapes are unchanged, so the network is still valid.
    if let Ok(n) = super::model::Network::new(layers) {
        file.network = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_of_the_config_name_the_outputs() {
        use crate::network::model::{Layer, Network};
        let net = Network::new(vec![Layer {
            weight: faer::Mat::from_fn(3, 2, |i, j| (i + j) as f32),
            bias: vec![0.0; 3],
            activation: Activation::Identity,
        }])
        .unwrap();
        let mut file = NetworkFile::plain(net);
        let config = NetworkConfig::parse(r#"{"output_names": ["u", "v", "p"]}"#).unwrap();
        let desc = Description::default();
        apply_config(&mut file, &config, None, &desc, Path::new("net.pt")).unwrap();
        assert_eq!(file.output_names, ["u", "v", "p"]);
        let two = NetworkConfig::parse(r#"{"output_names": ["u", "v"]}"#).unwrap();
        let err = apply_config(&mut file, &two, None, &desc, Path::new("net.pt")).unwrap_err();
        assert!(
            err.to_string().contains("output_names has 2 names"),
            "{err}"
        );
    }

    #[test]
    fn a_positional_encoding_takes_its_inputs_from_the_first_layer() {
        use crate::network::model::Network;
        let net = |width: usize| {
            let layer = Layer {
                weight: Mat::from_fn(1, width, |_, j| j as f32),
                bias: vec![0.0],
                activation: Activation::Identity,
            };
            NetworkFile::plain(Network::new(vec![layer]).unwrap())
        };
        let config = NetworkConfig::parse(
            r#"{"encoding": {"type": "positional", "frequencies": 4, "pi": true,
                "order": ["function", "frequency", "input"]}}"#,
        )
        .unwrap();
        let desc = Description::default();
        let mut file = net(27);
        apply_config(&mut file, &config, None, &desc, Path::new("pe.pt")).unwrap();
        assert_eq!(
            (file.input_dim(), file.positional.as_ref().unwrap().width()),
            (3, 27)
        );
        let err = apply_config(&mut net(26), &config, None, &desc, Path::new("pe.pt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a multiple of 9"), "{err}");
        assert!(
            NetworkConfig::parse(
                r#"{"encoding": {"type": "positional", "frequencies": 4, "order": ["x"]}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn aliases_and_parameters() {
        assert_eq!(
            parse_activation("sin:30"),
            Ok(Activation::Sine { omega: 30.0 })
        );
        assert_eq!(
            parse_activation("SINE"),
            Ok(Activation::Sine { omega: 1.0 })
        );
        assert_eq!(parse_activation("swish"), Ok(Activation::Silu));
        assert_eq!(parse_activation("linear"), Ok(Activation::Identity));
        assert_eq!(
            parse_activation("leaky_relu:0.2"),
            Ok(Activation::LeakyRelu {
                negative_slope: 0.2
            })
        );
        assert_eq!(
            parse_activation("Gaussian:2"),
            Ok(Activation::Gauss { scale: 2.0 })
        );
        assert!(parse_activation("sine:30:1").is_err());
        assert!(parse_activation("softplus:0").is_err());
        assert!(
            parse_activation("cosine")
                .unwrap_err()
                .contains("unknown activation")
        );
        for a in [
            Activation::Sine { omega: 30.0 },
            Activation::Gauss { scale: 0.5 },
        ] {
            assert_eq!(parse_activation(&activation_spec(a)), Ok(a));
        }
    }

    #[test]
    fn lists_expand_to_layers() {
        let l = ActivationList::parse("sine:30").unwrap();
        assert_eq!(
            l.resolve(3).unwrap(),
            vec![
                Activation::Sine { omega: 30.0 },
                Activation::Sine { omega: 30.0 },
                Activation::Identity
            ]
        );
        let l = ActivationList::parse("tanh, tanh ,linear").unwrap();
        assert_eq!(l.resolve(3).unwrap()[2], Activation::Identity);
        assert!(
            l.resolve(4)
                .unwrap_err()
                .contains("3 activations were given for 4 layers")
        );
        assert!(ActivationList::parse("tanh,,relu").is_err());
    }

    #[test]
    fn config_keys_are_checked() {
        let c = NetworkConfig::parse(
            r#"{"activations": "relu", "encoding": {"type": "fourier", "matrix": "B",
                "shape": "features_by_inputs", "order": "sin_cos"}}"#,
        )
        .unwrap();
        assert!(matches!(c.encoding, Some(EncodingConfig::Fourier { scale, .. }) if scale == TAU));
        assert!(NetworkConfig::parse(r#"{"activation": "relu"}"#).is_err());
        assert!(
            NetworkConfig::parse(r#"{"encoding": {"type": "fourier", "matrix": "B"}}"#).is_err()
        );
    }

    #[test]
    fn sine_frequency_is_folded() {
        let mut layers = vec![Layer {
            weight: Mat::from_fn(1, 1, |_, _| 0.5),
            bias: vec![0.25],
            activation: Activation::Sine { omega: 30.0 },
        }];
        fold_frequencies(&mut layers);
        assert_eq!(layers[0].activation, Activation::Sine { omega: 1.0 });
        assert_eq!((layers[0].weight[(0, 0)], layers[0].bias[0]), (15.0, 7.5));
    }
}
