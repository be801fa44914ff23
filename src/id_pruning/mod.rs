//! The network and its pruning by interpolative decomposition (SPEC §2.1 steps 3–4).

pub mod network;

pub use network::{Activation, Layer, Network, NetworkError};
