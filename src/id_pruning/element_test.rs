//! The PruningAMR score of one element (SPEC §2.1 steps 2–7), given its sample points: prune
//! the network with an ID of each hidden layer on the ID samples, then compare pruned and
//! original outputs on the error samples.

use faer::{Mat, MatRef};

use super::pruned::prune;
use super::qr::QrWorkspace;
use crate::network::model::{ForwardBuffers, Network};

/// Added to outputs before the relative error, as the original does to avoid dividing by
/// values near zero; users' thresholds depend on it.
pub const OUTPUT_OFFSET: f32 = 5.0;

/// What the element test found.
#[derive(Clone, Debug, PartialEq)]
pub struct ElementScore {
    /// k_i: neurons kept per hidden layer.
    pub ks: Vec<usize>,
    /// Width of each hidden layer.
    pub widths: Vec<usize>,
    /// Σ k_i / Σ width_i.
    pub prop: f64,
    /// Relative error of the pruned network on the error samples; +∞ when the pruned network
    /// could not be built or gave NaN (so the element is refined, never silently accepted).
    pub error: f64,
    /// Floating-point operations done (forward passes, decompositions, pruned weights).
    pub flops: f64,
}

/// Refine the element? error > threshold or prop > prop_threshold (SPEC §2.1 step 7).
pub fn decide(score: &ElementScore, threshold: f64, prop_threshold: f64) -> bool {
    score.error > threshold || score.prop > prop_threshold
}

/// What one worker thread reuses from element to element: the QR's buffers and the forward
/// passes' (both point sets stacked, every layer of the network, the pruned network's), so
/// scoring allocates and zeroes no matrices per element.
#[derive(Debug)]
pub struct ScoreWorkspace {
    qr: QrWorkspace,
    stacked: Mat<f32>,
    layers: ForwardBuffers,
    pruned: ForwardBuffers,
}

impl ScoreWorkspace {
    pub fn new() -> ScoreWorkspace {
        ScoreWorkspace {
            qr: QrWorkspace::new(),
            stacked: Mat::new(),
            layers: ForwardBuffers::default(),
            pruned: ForwardBuffers::default(),
        }
    }
}

impl Default for ScoreWorkspace {
    fn default() -> ScoreWorkspace {
        ScoreWorkspace::new()
    }
}

/// The element test. `id_inputs` and `err_inputs` are network inputs (rows = points, already
/// transformed: standardized or Fourier features). Both point sets go through the network in
/// one pass (one GEMM per layer); the hidden activations of the ID rows are decomposed.
///
/// Panics if the inputs' column counts differ from the network's input dimension (a caller
/// bug: inputs are built by the program, never read as they are from a file).
pub fn prune_and_score(
    net: &Network,
    id_inputs: MatRef<'_, f32>,
    err_inputs: MatRef<'_, f32>,
    epsilon: f32,
    output_scale: f32,
    ws: &mut ScoreWorkspace,
) -> ElementScore {
    let (n_id, n_err) = (id_inputs.nrows(), err_inputs.nrows());
    let dim = net.input_dim();
    assert!(
        id_inputs.ncols() == dim && err_inputs.ncols() == dim,
        "element test: inputs have {} and {} columns, the network takes {dim}",
        id_inputs.ncols(),
        err_inputs.ncols()
    );
    let ScoreWorkspace {
        qr,
        stacked,
        layers,
        pruned: pruned_buffers,
    } = ws;
    if stacked.nrows() != n_id + n_err || stacked.ncols() != dim {
        *stacked = Mat::zeros(n_id + n_err, dim);
    }
    stacked.as_mut().subrows_mut(0, n_id).copy_from(id_inputs);
    stacked
        .as_mut()
        .subrows_mut(n_id, n_err)
        .copy_from(err_inputs);
    // The forward pass keeps every layer's activations in `layers`: the hidden ones, then
    // the outputs.
    net.forward(stacked.as_ref(), layers);
    let (outputs, hidden) = layers.layers().split_last().expect("a network has layers");
    let id_rows: Vec<MatRef<'_, f32>> =
        hidden.iter().map(|h| h.as_ref().subrows(0, n_id)).collect();
    let pruning = prune(net, &id_rows, epsilon, qr);
    let mut flops = net.flops_per_point() * (n_id + n_err) as f64 + pruning.flops;

    let error = match &pruning.network {
        Ok(pruned) => {
            let approx = pruned.forward(err_inputs, pruned_buffers);
            flops += pruned.flops_per_point() * n_err as f64;
            let exact = outputs.as_ref().subrows(n_id, n_err);
            let e = relative_error(
                offset_outputs(exact, output_scale).as_ref(),
                offset_outputs(approx.as_ref(), output_scale).as_ref(),
            );
            if e.is_nan() { f64::INFINITY } else { e }
        }
        Err(_) => f64::INFINITY,
    };

    let ks = pruning.ks();
    let widths = net.hidden_widths();
    // A network without hidden layers has nothing to prune: it keeps nothing.
    let total: usize = widths.iter().sum();
    let prop = if total == 0 {
        0.0
    } else {
        ks.iter().sum::<usize>() as f64 / total as f64
    };
    ElementScore {
        ks,
        widths,
        prop,
        error,
        flops,
    }
}

/// scale · f + 5, rounded to f32 as the reference does.
fn offset_outputs(f: MatRef<'_, f32>, scale: f32) -> Mat<f32> {
    Mat::from_fn(f.nrows(), f.ncols(), |r, c| {
        scale * f[(r, c)] + OUTPUT_OFFSET
    })
}

/// The original's relative error, read literally: a = mean |y − y'| over every entry (a
/// scalar), then the mean of a / |y_ij| over every entry. Accumulated in f64. An entry with
/// y = 0 makes it infinite; no entries give NaN.
pub fn relative_error(y: MatRef<'_, f32>, y_approx: MatRef<'_, f32>) -> f64 {
    let count = (y.nrows() * y.ncols()) as f64;
    let mut abs_diff = 0.0f64;
    let mut inv_abs = 0.0f64;
    for c in 0..y.ncols() {
        for r in 0..y.nrows() {
            let (a, b) = (y[(r, c)] as f64, y_approx[(r, c)] as f64);
            abs_diff += (a - b).abs();
            inv_abs += 1.0 / a.abs();
        }
    }
    (abs_diff / count) * (inv_abs / count)
}
