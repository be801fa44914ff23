//! Loading networks (PyTorch checkpoints, the project's npz) and the built-in INRs.

pub mod inr;

pub use inr::{InputTransform, Inr, InrError};
