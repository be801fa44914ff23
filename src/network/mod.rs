//! The network an INR is made of and the files it is read from: `model` (layers, activations,
//! forward passes), `file` (a network with the input/output transforms stored beside it),
//! `inr` (mesh points to network inputs), `builtin` (the shipped networks and meshes), and the
//! readers, one per format — `torch` (with its safe `pickle` reader), `npz` — behind `load`,
//! which tells the format from the content. `archive` and `error` serve every reader.
//! `kernels` evaluates the activations (and the Fourier features' sin/cos) on slices in SIMD.

pub mod archive;
pub mod builtin;
pub mod error;
pub mod file;
pub mod inr;
pub mod kernels;
pub mod load;
pub mod model;
pub mod npy;
pub mod npz;
pub mod pickle;
pub mod torch;

pub use builtin::{BUILTIN_KEYS, BuiltinError, LICENSED_CT_KEYS, builtin_mesh, builtin_network};
pub use error::CheckpointError;
pub use file::{NetworkFile, TransformError};
pub use inr::{Coordinates, EVAL_ROWS, Inr, InrError};
pub use load::{Loaded, load, read};
pub use model::{Activation, ForwardBuffers, Layer, Network, NetworkError};
pub use npz::{load_npz, save_npz};
pub use torch::{ActivationSource, TorchCheckpoint, TorchLayout, load_torch_checkpoint};
