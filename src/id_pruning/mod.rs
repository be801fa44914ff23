//! Pruning the network by interpolative decomposition (SPEC §2.1): `qr` (the rank-stopped
//! pivoted QR and the ID), `pruned` (the pruned network), `element_test` (the PruningAMR score
//! of one element from its sample points).

pub mod element_test;
pub mod pruned;
pub mod qr;

pub use element_test::{ElementScore, ScoreWorkspace, decide, prune_and_score};
pub use pruned::{PruneError, Pruning, prune, pruned_network};
pub use qr::{InterpolativeDecomposition, QrWorkspace, Stopping, interpolative_decomposition};
