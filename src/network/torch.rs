//! PyTorch `torch.save` checkpoints read by hand: the zip archive, its `data.pkl` through the
//! safe unpickler, and the raw storages `data/<key>`, turned into a [`NetworkFile`].
//!
//! Layouts understood (SPEC §3.2):
//! - the original PruningAMR dict: `weights_list`, `bias_list` (plain lists or
//!   `ParameterList`s), `act_list` (a list or `ModuleList` of activation modules), optional
//!   `gauss` (Fourier matrix, input_dim × F; an empty tensor means none), other keys ignored;
//! - a pickled `nn.Sequential` / `nn.ModuleList` of `Linear` and activation modules;
//! - state dicts, any of the layouts `state_dict` recognises (`Layers.N`, `net.N.linear`,
//!   `linears.N`, `N.weight`, weight norm, …), also under a `state_dict` /
//!   `model_state_dict` / `model` / `net` key, and NeRP's `{'net': …, 'enc': B}`.
//!
//! A state dict holds no activation classes: they come from the caller (`--activations`, a
//! network config), or, for the original's own `Layers.N` class only, from what that class
//! builds (ReLU, Identity on the output); anything else without them is an error
//! ([`CheckpointError::Undescribed`]). [`TorchCheckpoint::activations`] says which.

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use faer::Mat;

use super::archive::{Archive, member_names, open_zip, read_file, read_member};
use super::error::CheckpointError;
use super::file::NetworkFile;
use super::model::{Activation, Layer, Network};
use super::netconfig::{
    ActivationsFrom, Description, EncodingConfig, FeatureOrder, MatrixRef, MatrixShape,
    apply_config, fold_frequencies, state_dict_network,
};
use super::pickle::{Dict, Pickle, PickleError, StorageDtype, TensorRef, Value, unpickle};
use super::state_dict::recognise;
use super::tensor::Tensor;

/// Where the activations of a loaded network come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivationSource {
    /// Module objects in the file.
    File,
    /// The original's own `Layers.N` state dict: ReLU on hidden layers, Identity on the
    /// output, as its class builds them.
    AssumedReluIdentity,
    /// The caller's list.
    Given,
}

/// Which layout the checkpoint used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TorchLayout {
    /// `weights_list` / `bias_list` / `act_list` dict.
    ListsDict,
    /// Flat state dict; the key prefix of the layers (`weights_list.`, `Layers.`, ``).
    FlatStateDict { prefix: String },
    /// Pickled `nn.Sequential` / `nn.ModuleList`.
    Modules,
}

/// A checkpoint's network and how it was read.
#[derive(Clone, Debug)]
pub struct TorchCheckpoint {
    pub file: NetworkFile,
    pub layout: TorchLayout,
    pub activations: ActivationSource,
}

/// Reads a `torch.save` checkpoint (see the module documentation for the layouts).
pub fn load_torch_checkpoint(path: &Path) -> Result<NetworkFile, CheckpointError> {
    load_torch_checkpoint_with(path, None).map(|c| c.file)
}

/// [`load_torch_checkpoint`], with activations to use instead of the file's (one per layer),
/// and reporting the layout and where the activations came from.
pub fn load_torch_checkpoint_with(
    path: &Path,
    activations: Option<&[Activation]>,
) -> Result<TorchCheckpoint, CheckpointError> {
    let bytes = read_file(path)?;
    read_torch_checkpoint(&bytes, path, activations)
}

/// [`load_torch_checkpoint_with`] on bytes already read; `path` only names them in errors.
pub fn read_torch_checkpoint(
    bytes: &[u8],
    path: &Path,
    activations: Option<&[Activation]>,
) -> Result<TorchCheckpoint, CheckpointError> {
    read_torch_with(bytes, path, &Description::with_activations(activations))
}

/// [`read_torch_checkpoint`] with what the user says about the network (`--activations`,
/// a network config).
pub(crate) fn read_torch_with(
    bytes: &[u8],
    path: &Path,
    desc: &Description,
) -> Result<TorchCheckpoint, CheckpointError> {
    let mut archive = open_zip(bytes, path)?;
    let names = member_names(&archive);
    let Some(pkl_name) = names
        .iter()
        .find(|n| *n == "data.pkl" || n.ends_with("/data.pkl"))
        .cloned()
    else {
        return Err(CheckpointError::content(
            path,
            "the archive has no data.pkl, so it is not a torch.save checkpoint",
        ));
    };
    let prefix = pkl_name[..pkl_name.len() - "data.pkl".len()].to_owned();
    let pkl = read_member(&mut archive, &pkl_name, path)?
        .ok_or_else(|| CheckpointError::content(path, format!("{pkl_name} cannot be opened")))?;
    if pkl.len() > MAX_PICKLE_BYTES {
        return Err(CheckpointError::content(
            path,
            format!(
                "data.pkl has {} bytes; a network's pickle is a few kilobytes per layer and \
                 this reader stops at {MAX_PICKLE_BYTES}",
                pkl.len()
            ),
        ));
    }
    let big_endian = match read_member(&mut archive, &format!("{prefix}byteorder"), path)? {
        None => false,
        Some(b) if b.trim_ascii() == b"little" => false,
        Some(b) if b.trim_ascii() == b"big" => true,
        Some(b) => {
            return Err(CheckpointError::content(
                path,
                format!(
                    "byteorder says {:?}; expected little or big",
                    String::from_utf8_lossy(&b)
                ),
            ));
        }
    };
    let pickle = unpickle(&pkl).map_err(|e| pickle_error(path, e))?;
    let parsed = network_spec(&pickle, pickle.root(), 0)
        .map_err(|w| CheckpointError::content(path, w.to_string()))?;
    let mut storages = Storages {
        archive,
        prefix,
        big_endian,
        path,
        cache: HashMap::new(),
    };
    match parsed {
        Parsed::Spec(spec) => assemble(spec, &mut storages, desc),
        Parsed::Flat {
            entries,
            keys,
            nerp,
        } => flat_network(entries, keys, nerp, &mut storages, desc),
    }
}

/// A pickle that names a class outside the allow-list: a whole pickled module of the user's
/// own class cannot be read without running its code, so say what to save instead.
fn pickle_error(path: &Path, e: PickleError) -> CheckpointError {
    if let PickleError::Forbidden { name } = &e
        && name.starts_with("torch.Complex")
    {
        return CheckpointError::content(
            path,
            format!(
                "data.pkl holds complex-valued tensors (`{name}`), as WIRE's complex Gabor \
                 wavelet layers do; {}",
                super::state_dict::NOT_AN_MLP
            ),
        );
    }
    if let PickleError::Forbidden { name } = &e {
        // `package.module.ClassName`: a class of the user's code, not a function such as
        // `os.system`.
        let class = name
            .rsplit('.')
            .next()
            .is_some_and(|last| last.starts_with(|c: char| c.is_ascii_uppercase()));
        let torch_or_std = ["torch.", "collections.", "builtins.", "numpy."]
            .iter()
            .any(|p| name.starts_with(p));
        if class && !torch_or_std {
            return CheckpointError::content(
                path,
                format!(
                    "data.pkl: {e}; it is a whole pickled module of class `{name}` \
                     (torch.save(model)), which cannot be read without running that class's \
                     code: save torch.save(model.state_dict(), FILE) instead and give \
                     --activations"
                ),
            );
        }
    }
    CheckpointError::Pickle {
        path: path.to_path_buf(),
        source: e,
    }
}

/// The largest number of parameters densified from a state dict (1 GiB of f32).
const MAX_STATE_DICT_ELEMENTS: u64 = 1 << 28;

/// A flat state dict: every tensor densified in order, then the layer stack recognised.
fn flat_network(
    entries: Vec<(String, TensorRef)>,
    keys: Vec<String>,
    nerp: bool,
    storages: &mut Storages<'_>,
    desc: &Description,
) -> Result<TorchCheckpoint, CheckpointError> {
    let path = storages.path;
    if entries.is_empty() {
        return Err(CheckpointError::content(path, no_network_message(&keys)));
    }
    let shapes: Vec<Vec<usize>> = entries
        .iter()
        .map(|(_, t)| t.size.iter().map(|&d| d as usize).collect())
        .collect();
    super::state_dict::unsupported_architectures(
        entries
            .iter()
            .zip(&shapes)
            .map(|((n, _), s)| (n.as_str(), s.as_slice())),
        path,
    )?;
    let mut total = 0u64;
    let mut tensors = Vec::with_capacity(entries.len());
    for (name, t) in entries {
        total = total.saturating_add(t.numel());
        if total > MAX_STATE_DICT_ELEMENTS {
            return Err(CheckpointError::content(
                path,
                format!(
                    "the state dict holds more than {MAX_STATE_DICT_ELEMENTS} parameters \
                 (reached at {name}); this reader is meant for small MLPs"
                ),
            ));
        }
        let data = storages.dense(&t, &name)?;
        let shape = t.size.iter().map(|&d| d as usize).collect();
        tensors.push(Tensor { name, shape, data });
    }
    // NeRP saves {'net': state_dict, 'enc': B} and encodes as its FFN code does:
    // [sin 2πxBᵀ, cos 2πxBᵀ], B features × inputs.
    let nerp_desc;
    let desc = if nerp && desc.config.as_ref().is_none_or(|c| c.encoding.is_none()) {
        let mut d = desc.clone();
        let mut c = d.config.unwrap_or_default();
        c.encoding = Some(EncodingConfig::Fourier {
            matrix: MatrixRef::Key("enc".into()),
            shape: MatrixShape::FeaturesByInputs,
            order: FeatureOrder::SinCos,
            scale: std::f64::consts::TAU,
        });
        d.config = Some(c);
        nerp_desc = d;
        &nerp_desc
    } else {
        desc
    };
    let r = recognise(tensors, path, desc)?;
    let prefix = r.prefix.clone();
    let (file, from) =
        state_dict_network(path, r.found, &r.name, r.original, r.gauss, r.extras, desc)?;
    Ok(TorchCheckpoint {
        file,
        layout: TorchLayout::FlatStateDict { prefix },
        activations: match from {
            ActivationsFrom::Given => ActivationSource::Given,
            ActivationsFrom::OriginalClass => ActivationSource::AssumedReluIdentity,
        },
    })
}

/// The largest data.pkl read. Unpickling takes up to ~100 bytes of memory per pickle byte
/// (one node per one-byte opcode), and real pickles hold tensors by reference, so a few
/// hundred bytes per tensor: this allows some 100,000 tensors.
const MAX_PICKLE_BYTES: usize = 32 << 20;

/// A layer as the pickle names it: tensors not yet read.
struct RawLayer {
    weight: (TensorRef, String),
    bias: Option<(TensorRef, String)>,
    activation: Option<Activation>,
}

struct Spec {
    layers: Vec<RawLayer>,
    gauss: Option<(TensorRef, String)>,
    layout: TorchLayout,
    activations_in_file: bool,
}

fn assemble(
    spec: Spec,
    storages: &mut Storages<'_>,
    desc: &Description,
) -> Result<TorchCheckpoint, CheckpointError> {
    let path = storages.path;
    let n = spec.layers.len();
    if n == 0 {
        return Err(CheckpointError::content(
            path,
            "the checkpoint has no layers",
        ));
    }
    let given_list = match desc.activation_list()? {
        Some(list) => Some(
            list.resolve(n)
                .map_err(|w| CheckpointError::content(path, w))?,
        ),
        None => None,
    };
    let given = given_list.as_deref();
    if !spec.activations_in_file && given.is_none() {
        let shapes: Vec<String> = spec
            .layers
            .iter()
            .map(|l| format!("{:?}", l.weight.0.size))
            .collect();
        return Err(CheckpointError::Undescribed {
            option: "activations",
            path: path.to_path_buf(),
            what: format!(
                "the dict has weights_list and bias_list ({n} layers, weights {}) but no \
                 act_list, so it stores no activations; give them with --activations (one \
                 for every hidden layer, or one per layer) or in a network config",
                shapes.join(", ")
            ),
        });
    }
    if let Some(acts) = given
        && spec.activations_in_file
    {
        let stored: Vec<Activation> = spec
            .layers
            .iter()
            .map(|l| l.activation.unwrap_or(Activation::Identity))
            .collect();
        if stored != acts {
            let names: Vec<&str> = stored.iter().map(|a| a.name()).collect();
            return Err(CheckpointError::Undescribed {
                option: "activations",
                path: path.to_path_buf(),
                what: format!(
                    "the file stores its activations ({}), which differ from the ones given; \
                 drop --activations (and \"activations\" from the network config)",
                    names.join(", ")
                ),
            });
        }
    }
    let source = match (given, spec.activations_in_file) {
        (Some(_), _) => ActivationSource::Given,
        (None, true) => ActivationSource::File,
        (None, false) => ActivationSource::AssumedReluIdentity,
    };
    let mut layers = Vec::with_capacity(n);
    for (i, raw) in spec.layers.into_iter().enumerate() {
        let (wt, wlabel) = &raw.weight;
        if wt.size.len() != 2 {
            return Err(CheckpointError::content(
                path,
                format!(
                    "{wlabel} has shape {:?}; a weight must be 2-D (out × in)",
                    wt.size
                ),
            ));
        }
        let w = storages.dense(wt, wlabel)?;
        let (rows, cols) = (wt.size[0] as usize, wt.size[1] as usize);
        let weight = Mat::from_fn(rows, cols, |r, c| w[r * cols + c]);
        let bias = match &raw.bias {
            Some((bt, blabel)) => {
                if bt.size.len() != 1 {
                    return Err(CheckpointError::content(
                        path,
                        format!("{blabel} has shape {:?}; a bias must be 1-D", bt.size),
                    ));
                }
                storages.dense(bt, blabel)?
            }
            None => vec![0.0; rows],
        };
        let activation = match (given, raw.activation) {
            (Some(acts), _) => acts[i],
            (None, Some(a)) => a,
            (None, None) => Activation::Identity,
        };
        layers.push(Layer {
            weight,
            bias,
            activation,
        });
    }
    let fourier_gauss = match &spec.gauss {
        None => None,
        Some((g, _)) if g.numel() == 0 => None,
        Some((g, label)) => {
            if g.size.len() != 2 {
                return Err(CheckpointError::content(
                    path,
                    format!(
                        "{label} has shape {:?}; a Fourier matrix must be 2-D (input_dim × F)",
                        g.size
                    ),
                ));
            }
            let v = storages.dense(g, label)?;
            let (rows, cols) = (g.size[0] as usize, g.size[1] as usize);
            Some(Mat::from_fn(rows, cols, |r, c| v[r * cols + c]))
        }
    };
    fold_frequencies(&mut layers);
    let network = Network::new(layers).map_err(|source| CheckpointError::Network {
        path: path.to_path_buf(),
        source,
    })?;
    let mut file = NetworkFile {
        fourier_gauss,
        ..NetworkFile::plain(network)
    };
    if let Some(config) = &desc.config {
        apply_config(&mut file, config, None, desc, path)?;
    }
    file.validate()
        .map_err(|w| CheckpointError::content(path, w.to_string()))?;
    Ok(TorchCheckpoint {
        file,
        layout: spec.layout,
        activations: source,
    })
}

/// The largest tensor we densify (1 GiB of f32).
const MAX_TENSOR_ELEMENTS: u64 = 1 << 28;

/// The archive's storages, read on demand and kept (tensors often share one storage).
struct Storages<'a> {
    archive: Archive<'a>,
    prefix: String,
    big_endian: bool,
    path: &'a Path,
    cache: HashMap<Rc<str>, Rc<Vec<u8>>>,
}

impl Storages<'_> {
    fn bytes(&mut self, t: &TensorRef, label: &str) -> Result<Rc<Vec<u8>>, CheckpointError> {
        let key = &t.storage.key;
        if let Some(b) = self.cache.get(key) {
            return Ok(b.clone());
        }
        let name = format!("{}data/{}", self.prefix, key);
        let Some(bytes) = read_member(&mut self.archive, &name, self.path)? else {
            return Err(CheckpointError::content(
                self.path,
                format!("storage data/{key} (holding {label}) is missing from the archive"),
            ));
        };
        let es = t.storage.dtype.size() as u64;
        let need = t.storage.numel.saturating_mul(es);
        if (bytes.len() as u64) < need {
            return Err(CheckpointError::content(
                self.path,
                format!(
                    "storage data/{key} (holding {label}) is short: {} bytes, but the pickle \
                     declares {} {} values ({need} bytes)",
                    bytes.len(),
                    t.storage.numel,
                    t.storage.dtype.name()
                ),
            ));
        }
        let bytes = Rc::new(bytes);
        self.cache.insert(key.clone(), bytes.clone());
        Ok(bytes)
    }

    /// The tensor as a dense row-major f32 array, honouring offset and strides.
    fn dense(&mut self, t: &TensorRef, label: &str) -> Result<Vec<f32>, CheckpointError> {
        let dtype = t.storage.dtype;
        if !matches!(
            dtype,
            StorageDtype::F32 | StorageDtype::F64 | StorageDtype::F16 | StorageDtype::BF16
        ) {
            return Err(CheckpointError::content(
                self.path,
                format!(
                    "{label} is a {} tensor; network parameters must be floating point",
                    dtype.name()
                ),
            ));
        }
        let bytes = self.bytes(t, label)?;
        // A view larger than its storage overlaps itself (zero strides): harmless when small,
        // but it would let a tiny file ask for any amount of memory.
        let numel = t.numel();
        if numel > MAX_TENSOR_ELEMENTS || (numel > t.storage.numel && numel > 1 << 20) {
            return Err(CheckpointError::content(
                self.path,
                format!(
                    "{label} has {numel} elements over a storage of {}, more than a network \
                     file may hold",
                    t.storage.numel
                ),
            ));
        }
        let mut out = Vec::with_capacity(numel as usize);
        if numel == 0 {
            return Ok(out);
        }
        let es = dtype.size();
        let big = self.big_endian;
        let rank = t.size.len();
        let mut idx = vec![0u64; rank];
        loop {
            let lin = t.offset + idx.iter().zip(&t.stride).map(|(i, s)| i * s).sum::<u64>();
            // The unpickler checked the view against the storage length and `bytes` checked
            // the storage length against the member, so this is in bounds; still, no panics.
            let at = lin as usize * es;
            let Some(raw) = bytes.get(at..at + es) else {
                return Err(CheckpointError::content(
                    self.path,
                    format!(
                        "{label} reaches past the end of storage data/{}",
                        t.storage.key
                    ),
                ));
            };
            out.push(decode(dtype, raw, big));
            let mut k = rank;
            loop {
                if k == 0 {
                    return Ok(out);
                }
                k -= 1;
                idx[k] += 1;
                if idx[k] < t.size[k] {
                    break;
                }
                idx[k] = 0;
            }
        }
    }
}

fn decode(dtype: StorageDtype, raw: &[u8], big_endian: bool) -> f32 {
    let mut b = [0u8; 8];
    b[..raw.len()].copy_from_slice(raw);
    if big_endian {
        b[..raw.len()].reverse();
    }
    match dtype {
        StorageDtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        StorageDtype::F64 => f64::from_le_bytes(b) as f32,
        StorageDtype::F16 => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
        StorageDtype::BF16 => f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16),
        _ => f32::NAN,
    }
}

const WRAPPER_KEYS: &[&str] = &["state_dict", "model_state_dict", "model"];

/// What the pickle holds: layers with their tensors named (lists dict, modules), or a flat
/// state dict to recognise.
enum Parsed {
    Spec(Spec),
    Flat {
        entries: Vec<(String, TensorRef)>,
        /// The dict's keys (to name them when none is a tensor).
        keys: Vec<String>,
        /// NeRP's {'net': state_dict, 'enc': B}: `enc` is NeRP's Fourier matrix.
        nerp: bool,
    },
}

fn network_spec(pk: &Pickle, v: &Value, depth: usize) -> Result<Parsed, String> {
    if let Some(d) = pk.dict(v) {
        if let Some(w) = d.get("weights_list")
            && pk.tensor(w).is_none()
        {
            return lists_layout(pk, d, w).map(Parsed::Spec);
        }
        if depth == 0 {
            if let (Some(net), Some(enc)) = (d.get("net"), d.get("enc"))
                && let (Some(inner), Some(b)) = (pk.dict(net), pk.tensor(enc))
            {
                let mut entries = tensor_entries(pk, inner);
                entries.push(("enc".to_owned(), b.clone()));
                return Ok(Parsed::Flat {
                    entries,
                    keys: dict_keys(d),
                    nerp: true,
                });
            }
            for key in WRAPPER_KEYS.iter().chain(&["net"]) {
                if let Some(inner) = d.get(key)
                    && (pk.dict(inner).is_some() || pk.object(inner).is_some())
                {
                    return network_spec(pk, inner, depth + 1);
                }
            }
        }
        return Ok(Parsed::Flat {
            entries: tensor_entries(pk, d),
            keys: dict_keys(d),
            nerp: false,
        });
    }
    if pk.object(v).is_some() {
        let mut layers = Vec::new();
        modules_layout(pk, v, "model", 0, &mut layers)?;
        return Ok(Parsed::Spec(Spec {
            layers,
            gauss: None,
            layout: TorchLayout::Modules,
            activations_in_file: true,
        }));
    }
    Err(format!(
        "the checkpoint holds a {}, not a network (expected a dict with weights_list, bias_list \
         and act_list, a state dict with `N.weight` keys, or an nn.Sequential)",
        pk.kind(v)
    ))
}

fn dict_keys(d: &Dict) -> Vec<String> {
    d.entries()
        .iter()
        .take(12)
        .map(|(k, _)| match k {
            Value::Str(s) => format!("`{s}`"),
            other => format!("{other:?}"),
        })
        .collect()
}

fn no_network_message(keys: &[String]) -> String {
    format!(
        "no network found: expected weights_list/bias_list/act_list, \
         `weights_list.N`/`bias_list.N` or `<name>.N.weight`/`<name>.N.bias` keys; the dict \
         has {}",
        if keys.is_empty() {
            "no keys".to_owned()
        } else {
            keys.join(", ")
        }
    )
}

/// The tensors of a state dict, in its order; other values (an epoch count, a config
/// string) cannot be network parameters.
fn tensor_entries(pk: &Pickle, d: &Dict) -> Vec<(String, TensorRef)> {
    d.entries()
        .iter()
        .filter_map(|(k, v)| match (k, pk.tensor(v)) {
            (Value::Str(key), Some(t)) => Some((key.to_string(), t.clone())),
            _ => None,
        })
        .collect()
}

const PARAMETER_LIST: &str = "torch.nn.modules.container.ParameterList";
const MODULE_LIST: &str = "torch.nn.modules.container.ModuleList";
const SEQUENTIAL: &str = "torch.nn.modules.container.Sequential";
const LINEAR: &str = "torch.nn.modules.linear.Linear";

/// Items of a list, tuple, ParameterList (`_parameters`) or ModuleList (`_modules`), each
/// with its label.
fn items<'p>(pk: &'p Pickle, v: &Value, name: &str) -> Result<Vec<(&'p Value, String)>, String> {
    if let Some(seq) = pk.sequence(v) {
        return Ok(seq
            .iter()
            .enumerate()
            .map(|(i, x)| (x, format!("{name}[{i}]")))
            .collect());
    }
    if let Some((class, state)) = pk.object(v) {
        let field = match class {
            PARAMETER_LIST => "_parameters",
            MODULE_LIST | SEQUENTIAL => "_modules",
            _ => return Err(format!("{name} is a `{class}`, not a list")),
        };
        let Some(d) = state.and_then(|s| s.get(field)).and_then(|f| pk.dict(f)) else {
            return Err(format!("{name} (a `{class}`) has no {field} dict"));
        };
        return Ok(d
            .entries()
            .iter()
            .map(|(k, x)| {
                let key = match k {
                    Value::Str(s) => s.to_string(),
                    other => format!("{other:?}"),
                };
                (x, format!("{name}[{key}]"))
            })
            .collect());
    }
    Err(format!(
        "{name} is a {}; expected a list, ParameterList or ModuleList",
        pk.kind(v)
    ))
}

fn tensor(pk: &Pickle, v: &Value, label: &str) -> Result<(TensorRef, String), String> {
    match pk.tensor(v) {
        Some(t) => Ok((t.clone(), label.to_owned())),
        None => Err(format!("{label} is a {}, not a tensor", pk.kind(v))),
    }
}

fn gauss_of(pk: &Pickle, d: &Dict) -> Result<Option<(TensorRef, String)>, String> {
    match d.get("gauss") {
        None | Some(Value::None) => Ok(None),
        Some(g) => tensor(pk, g, "gauss").map(Some),
    }
}

fn lists_layout(pk: &Pickle, d: &Dict, weights: &Value) -> Result<Spec, String> {
    let weights = items(pk, weights, "weights_list")?;
    let Some(biases) = d.get("bias_list") else {
        return Err("the dict has weights_list but no bias_list".into());
    };
    let biases = items(pk, biases, "bias_list")?;
    if weights.len() != biases.len() {
        return Err(format!(
            "weights_list has {} entries but bias_list has {}",
            weights.len(),
            biases.len()
        ));
    }
    let acts = match d.get("act_list") {
        None => None,
        Some(a) => {
            let acts = items(pk, a, "act_list")?;
            if acts.len() != weights.len() {
                return Err(format!(
                    "act_list has {} entries but weights_list has {}",
                    acts.len(),
                    weights.len()
                ));
            }
            let mut out = Vec::with_capacity(acts.len());
            for (a, label) in acts {
                match pk.object(a) {
                    Some((class, state)) => match activation_of(pk, class, state, &label)? {
                        Some(act) => out.push(act),
                        None => return Err(format!("{label} is a `{class}`, not an activation")),
                    },
                    None => {
                        return Err(format!(
                            "{label} is a {}, not an activation module",
                            pk.kind(a)
                        ));
                    }
                }
            }
            Some(out)
        }
    };
    let mut layers = Vec::with_capacity(weights.len());
    for (i, ((w, wl), (b, bl))) in weights.into_iter().zip(biases).enumerate() {
        layers.push(RawLayer {
            weight: tensor(pk, w, &wl)?,
            bias: Some(tensor(pk, b, &bl)?),
            activation: acts.as_ref().and_then(|a| a.get(i).copied()),
        });
    }
    Ok(Spec {
        layers,
        gauss: gauss_of(pk, d)?,
        layout: TorchLayout::ListsDict,
        activations_in_file: acts.is_some(),
    })
}

/// An activation module as the network model's [`Activation`], its parameters read from the
/// module's attributes (PyTorch defaults where absent); `None` for non-activation classes.
fn activation_of(
    pk: &Pickle,
    class: &str,
    state: Option<&Dict>,
    label: &str,
) -> Result<Option<Activation>, String> {
    let short = class.rsplit('.').next().unwrap_or(class);
    let base = if class == "torch.nn.modules.linear.Identity" {
        Activation::Identity
    } else if class.starts_with("torch.nn.modules.activation.") {
        match Activation::from_name(short) {
            Some(a) => a,
            None => return Err(format!("{label}: activation `{class}` is not supported")),
        }
    } else {
        return Ok(None);
    };
    let num = |key: &str, default: f32| -> Result<f32, String> {
        let v = match state.and_then(|s| s.get(key)) {
            None => return Ok(default),
            Some(Value::Float(f)) => *f as f32,
            Some(Value::Int(i)) => *i as f32,
            Some(other) => {
                return Err(format!(
                    "{label}: {short}.{key} is a {}, not a number",
                    pk.kind(other)
                ));
            }
        };
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("{label}: {short}.{key} = {v} is not finite"))
        }
    };
    Ok(Some(match base {
        Activation::LeakyRelu { negative_slope } => Activation::LeakyRelu {
            negative_slope: num("negative_slope", negative_slope)?,
        },
        Activation::Elu { alpha } => Activation::Elu {
            alpha: num("alpha", alpha)?,
        },
        Activation::Softplus { beta, threshold } => Activation::Softplus {
            beta: num("beta", beta)?,
            threshold: num("threshold", threshold)?,
        },
        Activation::Gelu { .. } => match state.and_then(|s| s.get("approximate")) {
            None => Activation::Gelu { tanh_approx: false },
            Some(Value::Str(s)) if &**s == "none" => Activation::Gelu { tanh_approx: false },
            Some(Value::Str(s)) if &**s == "tanh" => Activation::Gelu { tanh_approx: true },
            Some(other) => {
                return Err(format!(
                    "{label}: GELU.approximate is {other:?}; expected 'none' or 'tanh'"
                ));
            }
        },
        other => other,
    }))
}

/// Walks a pickled `Sequential`/`ModuleList`: each `Linear` starts a layer, an activation
/// module after it sets that layer's activation.
fn modules_layout(
    pk: &Pickle,
    v: &Value,
    label: &str,
    depth: usize,
    layers: &mut Vec<RawLayer>,
) -> Result<(), String> {
    if depth > 16 {
        return Err(format!("{label}: modules nested too deeply"));
    }
    let Some((class, state)) = pk.object(v) else {
        return Err(format!("{label} is a {}, not a module", pk.kind(v)));
    };
    match class {
        SEQUENTIAL | MODULE_LIST => {
            for (m, l) in items(pk, v, label)? {
                modules_layout(pk, m, &l, depth + 1, layers)?;
            }
            Ok(())
        }
        LINEAR => {
            let params = state
                .and_then(|s| s.get("_parameters"))
                .and_then(|p| pk.dict(p))
                .ok_or_else(|| format!("{label} (Linear) has no _parameters"))?;
            let w = params
                .get("weight")
                .ok_or_else(|| format!("{label} (Linear) has no weight"))?;
            let bias = match params.get("bias") {
                None | Some(Value::None) => None,
                Some(b) => Some(tensor(pk, b, &format!("{label}.bias"))?),
            };
            layers.push(RawLayer {
                weight: tensor(pk, w, &format!("{label}.weight"))?,
                bias,
                activation: None,
            });
            Ok(())
        }
        _ => {
            let Some(act) = activation_of(pk, class, state, label)? else {
                return Err(format!("{label}: `{class}` is not a layer of an MLP"));
            };
            let Some(last) = layers.last_mut() else {
                return Err(format!("{label}: activation before any Linear layer"));
            };
            match last.activation {
                None | Some(Activation::Identity) => last.activation = Some(act),
                Some(_) if act == Activation::Identity => {}
                Some(prev) => {
                    return Err(format!(
                        "{label}: two activations in a row ({} then {})",
                        prev.name(),
                        act.name()
                    ));
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_widens_exactly() {
        assert_eq!(
            decode(StorageDtype::F16, &0x3c00u16.to_le_bytes(), false),
            1.0
        );
        assert_eq!(
            decode(StorageDtype::F16, &0xc000u16.to_le_bytes(), false),
            -2.0
        );
        assert_eq!(
            decode(StorageDtype::F16, &0x0001u16.to_le_bytes(), false),
            f32::powi(2.0, -24)
        );
        assert_eq!(
            decode(StorageDtype::F16, &0x7bffu16.to_le_bytes(), false),
            65504.0
        );
        assert!(decode(StorageDtype::F16, &0x7c00u16.to_le_bytes(), false).is_infinite());
        assert!(decode(StorageDtype::F16, &0x7e00u16.to_le_bytes(), false).is_nan());
        let bf = decode(StorageDtype::BF16, &[0x80, 0x3f], false);
        assert_eq!(bf, 1.0);
        assert_eq!(decode(StorageDtype::F64, &2.5f64.to_be_bytes(), true), 2.5);
    }
}
