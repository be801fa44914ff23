//! pruningamr: PruningAMR (Zvonek & Gillette) in Rust. Turns an implicit neural
//! representation into an adaptively refined nonconforming quad/hex mesh, refining where
//! pruning the network restricted to an element shows fine detail.

pub mod config;
pub mod error;
pub mod id_pruning;
pub mod input_file;
pub mod inr_setup;
pub mod mesh;
pub mod mesh_handler;
pub mod pictures;
pub mod plot;
pub mod random;
pub mod refinement;
pub mod run;
