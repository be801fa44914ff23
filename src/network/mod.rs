//! The network an INR is made of and the files it is read from: `model` (layers, activations,
//! forward passes), `file` (a network with the input/output transforms stored beside it),
//! `inr` (mesh points to network inputs), `builtin` (the shipped networks and meshes), and the
//! readers, one per format — `torch` (with its safe `pickle` reader), `npz`, `safetensors`,
//! `onnx` — behind `load`, which tells the format from the content. State dicts (torch,
//! safetensors, npz of state-dict keys) share `state_dict` (which keys are the layers) and
//! `netconfig` (what the user says the file does not: activations, encodings). `archive`,
//! `positional` is NeRF's positional encoding (an input transform of `file`). `tensor` and `error`
//! serve every reader; `verify` checks a network against the user's own
//! values.
//! `kernels` evaluates the activations (and the Fourier features' sin/cos) on slices in SIMD.

pub mod archive;
pub mod builtin;
pub mod error;
pub mod file;
pub mod inr;
pub mod kernels;
pub mod load;
pub mod model;
pub mod netconfig;
pub mod npy;
pub mod npz;
#[doc(hidden)]
pub mod onnx;
pub mod pickle;
pub mod positional;
#[doc(hidden)]
pub mod safetensors;
mod state_dict;
pub mod tensor;
pub mod torch;
pub mod verify;

pub use builtin::{BUILTIN_KEYS, BuiltinError, LICENSED_CT_KEYS, builtin_mesh, builtin_network};
pub use error::CheckpointError;
pub use file::{NetworkFile, TransformError};
pub use inr::{Coordinates, EVAL_ROWS, Inr, InrError};
pub use load::{Loaded, load, load_with, read, read_with};
pub use model::{Activation, ForwardBuffers, Layer, Network, NetworkError};
pub use netconfig::{ActivationList, Description, NetworkConfig};
pub use npz::{load_npz, save_npz};
pub use torch::{ActivationSource, TorchCheckpoint, TorchLayout, load_torch_checkpoint};
