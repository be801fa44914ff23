//! The pruned network of SPEC §2.1 step 4: hidden layer i keeps only its skeleton neurons I_i,
//! and the layer after it reads them through T_i, since H_i ≈ H_i[:, I_i] · T_i.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use super::qr::{InterpolativeDecomposition, QrWorkspace, Stopping, interpolative_decomposition};
use crate::network::model::{Layer, Network, NetworkError};

/// Why a pruned network could not be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PruneError {
    #[error("{given} decompositions given for a network with {hidden} hidden layers")]
    LayerCount { given: usize, hidden: usize },
    #[error(
        "hidden layer {layer}: decomposition is {rows} × {cols} but the layer has {width} neurons"
    )]
    Shape {
        layer: usize,
        rows: usize,
        cols: usize,
        width: usize,
    },
    /// Typically non-finite weights, when some R11 was too ill-conditioned for f32.
    #[error("pruned network: {0}")]
    Network(#[from] NetworkError),
}

/// The pruning of one network on one element: one ID per hidden layer and the network they
/// give. The decompositions exist even when the network does not (non-finite weights).
#[derive(Debug)]
pub struct Pruning {
    pub decompositions: Vec<InterpolativeDecomposition>,
    pub network: Result<Network, PruneError>,
    /// Work of the decompositions and of forming the pruned weights.
    pub flops: f64,
}

impl Pruning {
    /// k_i, the neurons kept in each hidden layer.
    pub fn ks(&self) -> Vec<usize> {
        self.decompositions.iter().map(|d| d.rank).collect()
    }
}

/// Decomposes each hidden activation H_i (rows = sample points), as
/// [`Network::forward_keep_hidden`] gives them, with tolerance `epsilon`, and builds the
/// pruned network.
pub fn prune(
    net: &Network,
    hidden: &[MatRef<'_, f32>],
    epsilon: f32,
    ws: &mut QrWorkspace,
) -> Pruning {
    let decompositions: Vec<_> = hidden
        .iter()
        .map(|h| interpolative_decomposition(*h, epsilon, Stopping::AtRank, ws))
        .collect();
    let network = pruned_network(net, &decompositions);
    let flops =
        decompositions.iter().map(|d| d.flops).sum::<f64>() + pruning_flops(net, &decompositions);
    Pruning {
        decompositions,
        network,
        flops,
    }
}

/// Builds the pruned network: W'_i = W_i[I_i, :] · T_{i−1}ᵀ, b'_i = b_i[I_i] for hidden
/// layers (T_{−1} = identity), W'_L = W_L · T_{L−1}ᵀ, b'_L = b_L. Activations are kept.
pub fn pruned_network(
    net: &Network,
    decompositions: &[InterpolativeDecomposition],
) -> Result<Network, PruneError> {
    let layers = net.layers();
    let hidden = layers.len() - 1;
    if decompositions.len() != hidden {
        return Err(PruneError::LayerCount {
            given: decompositions.len(),
            hidden,
        });
    }
    for (i, (d, l)) in decompositions.iter().zip(layers).enumerate() {
        if d.t.ncols() != l.out_dim() || d.t.nrows() != d.rank || d.pivots.len() != d.rank {
            return Err(PruneError::Shape {
                layer: i,
                rows: d.t.nrows(),
                cols: d.t.ncols(),
                width: l.out_dim(),
            });
        }
    }

    let mut pruned = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        let all_rows: Vec<usize>;
        let rows: &[usize] = match decompositions.get(i) {
            Some(d) => &d.pivots,
            None => {
                all_rows = (0..layer.out_dim()).collect();
                &all_rows
            }
        };
        let kept = Mat::from_fn(rows.len(), layer.in_dim(), |r, c| {
            layer.weight[(rows[r], c)]
        });
        let weight = match i.checked_sub(1).map(|p| &decompositions[p]) {
            None => kept,
            Some(prev) => {
                let mut w = Mat::<f32>::zeros(rows.len(), prev.rank);
                matmul(
                    w.as_mut(),
                    Accum::Replace,
                    kept.as_ref(),
                    prev.t.transpose(),
                    1.0f32,
                    Par::Seq,
                );
                w
            }
        };
        pruned.push(Layer {
            weight,
            bias: rows.iter().map(|&r| layer.bias[r]).collect(),
            activation: layer.activation,
        });
    }
    Ok(Network::new(pruned)?)
}

/// Multiply-adds of forming the pruned weights, for FLOP accounting.
pub fn pruning_flops(net: &Network, decompositions: &[InterpolativeDecomposition]) -> f64 {
    net.layers()
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, l)| {
            let rows = decompositions.get(i).map_or(l.out_dim(), |d| d.rank);
            let k_prev = decompositions.get(i - 1).map_or(0, |d| d.rank);
            2.0 * (rows * l.in_dim() * k_prev) as f64
        })
        .sum()
}
