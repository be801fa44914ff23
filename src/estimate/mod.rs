//! The a-posteriori estimate of the order-1 interpolation error on an element, for the
//! `estimate` criterion: `jet` (the INR's value, gradient and Hessian with respect to the mesh
//! coordinates by forward-mode differentiation, in f64) and `indicator` (η_K ≈ ‖f − I f‖ on an
//! axis-aligned box from the jets at its sub-cell centres). Marking is in `marking`.

mod activation;
mod indicator;
mod jet;
#[cfg(test)]
mod tests;

pub(crate) use indicator::{CurvatureMode, Layout, indicator_from_jet};
pub(crate) use jet::JetNetwork;
