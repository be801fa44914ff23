//! Loading networks (PyTorch checkpoints, the project's npz) and the built-in INRs, and the
//! transforms that turn mesh points into network inputs.

pub mod builtin;
pub mod checkpoint;
pub mod inr;
pub mod npy;
pub mod npz;
pub mod pickle;
pub mod torch_ckpt;

pub use builtin::{builtin_mesh, builtin_network};
pub use checkpoint::{
    CheckpointError, NetworkFile, load_network_file, load_network_file_noted, read_network_file,
};
pub use inr::{EVAL_ROWS, Inr, InrError};
pub use npz::{load_npz, save_npz};
pub use torch_ckpt::{ActivationSource, TorchCheckpoint, TorchLayout, load_torch_checkpoint};
