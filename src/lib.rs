//! pruningamr: PruningAMR (Zvonek & Gillette) in Rust. Turns an implicit neural
//! representation into an adaptively refined nonconforming quad/hex mesh, refining where
//! pruning the network restricted to an element shows fine detail.
//!
//! Data flows one way, top to bottom (README, "Layout"): `config` (validated options) →
//! `experiment` (the run's folder, its records and parameters.json) → `run` (the loop) →
//! `marking` (which elements to refine) → `id_pruning` / `metrics` (the element scores, the
//! RMSE) → `field` (the interpolant on the mesh) → `mesh`; `network` (the model and its file
//! readers) and `plot` (pure drawing; `figures` adapts a run to it) beside them. The modules
//! tests, benches and fuzz targets reach into are `#[doc(hidden)] pub`; the rest is private.

pub mod config;
pub mod error;
mod estimate;
pub mod experiment;
#[doc(hidden)]
pub mod field;
#[doc(hidden)]
pub mod figures;
#[doc(hidden)]
pub mod id_pruning;
#[doc(hidden)]
pub mod io;
mod marking;
#[doc(hidden)]
pub mod mesh;
mod metrics;
#[doc(hidden)]
pub mod network;
#[doc(hidden)]
pub mod plot;
#[doc(hidden)]
pub mod random;
#[doc(hidden)]
pub mod ranks;
pub mod run;
pub mod series;

pub use error::Error;
