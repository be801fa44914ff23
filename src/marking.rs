//! Scoring elements for refinement on the rayon pool: PruningAMR (SPEC §2.1) on the elements
//! the last refinement created, or BasicAMR (SPEC §2.2) on every element.
//! The `estimate` criterion (interpolation-error indicator, Dörfler marking to the DOF budget)
//! lives in `marking/estimate.rs` and `marking/dorfler.rs`.

use faer::Mat;
use rayon::prelude::*;

use crate::config::Config;
use crate::id_pruning::{QrWorkspace, decide, prune_and_score};
use crate::mesh::{Mesh, MeshError};
use crate::metrics::mean_relative_error;
use crate::network::Inr;
use crate::random::{Purpose, Stream};

mod dorfler;
mod estimate;
pub(crate) use estimate::score_estimate;

/// The outcome of one scoring pass.
#[derive(Clone, Debug, Default)]
pub struct Scoring {
    /// One mark per current element.
    pub marks: Vec<bool>,
    pub scored: usize,
    pub marked: usize,
    /// Floating-point operations the scores needed (forward passes, QR), for the benchmark.
    pub flops: f64,
    /// The DOF budget, not the criterion, stopped the marking (the `estimate` criterion).
    pub budget_bound: bool,
}

impl Scoring {
    /// Every one of `n` elements marked, none scored: a uniform refinement.
    pub fn all(n: usize) -> Scoring {
        Scoring {
            marks: vec![true; n],
            scored: 0,
            marked: n,
            flops: 0.0,
            budget_bound: false,
        }
    }
}

/// `n` points uniform in the INR box [lo, hi] (first `dim` coordinates), as f32 rows.
fn sample_box(dim: usize, lo: &[f64; 4], hi: &[f64; 4], n: usize, stream: &mut Stream) -> Mat<f32> {
    let mut x = Mat::<f32>::zeros(n, dim);
    for i in 0..n {
        for k in 0..dim {
            x[(i, k)] = stream.in_range(lo[k], hi[k]) as f32;
        }
    }
    x
}

/// PruningAMR: restrict the network to each element created by the last refinement (level =
/// iteration), prune it by ID, and mark the element if the pruned network is inaccurate or
/// kept too many neurons. Other elements were judged before and did not change.
pub fn score_pruning(
    mesh: &Mesh,
    inr: &Inr,
    cfg: &Config,
    it: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Scoring {
    let n = mesh.num_elements();
    let candidates: Vec<usize> = (0..n)
        .filter(|&e| mesh.element_level(e) as usize == it)
        .collect();
    let dim = inr.inr_dim();
    let results: Vec<(usize, bool, f64)> = candidates
        .par_iter()
        // One QR workspace per worker thread, so scoring does not allocate per element.
        .map_init(QrWorkspace::new, |ws, &e| {
            let (lo, hi) = mesh.element_bbox(e);
            let (ilo, ihi) = inr.inr_box(&lo, &hi);
            let id = mesh.element_tree_id(e);
            let mut s_id = Stream::new(cfg.seed, it, id, Purpose::IdSamples);
            let mut s_err = Stream::new(cfg.seed, it, id, Purpose::ErrorSamples);
            let x_id = sample_box(dim, &ilo, &ihi, cfg.id_samples, &mut s_id);
            let x_err = sample_box(dim, &ilo, &ihi, cfg.error_samples, &mut s_err);
            let score = prune_and_score(
                inr.network(),
                inr.features(&x_id).as_ref(),
                inr.features(&x_err).as_ref(),
                cfg.epsilon as f32,
                inr.output_scale(),
                ws,
            );
            progress(1);
            let mark = decide(&score, cfg.threshold, cfg.prop_threshold);
            (e, mark, score.flops)
        })
        .collect();
    collect(n, results)
}

/// BasicAMR: on every element, compare the network with the current interpolant at
/// `error_samples` points; mark where the mean relative error reaches the threshold.
pub fn score_basic(
    mesh: &Mesh,
    values: &[f64],
    inr: &Inr,
    cfg: &Config,
    it: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Scoring, MeshError> {
    let n = mesh.num_elements();
    let c = inr.output_dim();
    let dim = mesh.dim();
    let flops_per_point = inr.network().flops_per_point();
    let results: Vec<(usize, bool, f64)> = (0..n)
        .into_par_iter()
        .map(|e| {
            let (lo, hi) = mesh.element_bbox(e);
            let mut s = Stream::new(
                cfg.seed,
                it,
                mesh.element_tree_id(e),
                Purpose::BasicAmrSamples,
            );
            let pts: Vec<[f64; 3]> = (0..cfg.error_samples)
                .map(|_| {
                    let mut p = [0.0; 3];
                    for k in 0..dim {
                        p[k] = s.in_range(lo[k], hi[k]);
                    }
                    p
                })
                .collect();
            let exact = inr.eval_points(&pts);
            let mut approx = vec![0.0; pts.len() * c];
            // Points of the element's box lie in the element for axis-aligned meshes; through
            // location they are right for skewed ones too.
            mesh.interpolate(values, c, &pts, &mut approx)?;
            let err = mean_relative_error(&exact, &approx);
            progress(1);
            Ok((e, err >= cfg.threshold, flops_per_point * pts.len() as f64))
        })
        .collect::<Result<_, MeshError>>()?;
    Ok(collect(n, results))
}

fn collect(n: usize, results: Vec<(usize, bool, f64)>) -> Scoring {
    let mut marks = vec![false; n];
    let mut flops = 0.0;
    for &(e, m, f) in &results {
        marks[e] = m;
        flops += f;
    }
    Scoring {
        marked: marks.iter().filter(|m| **m).count(),
        scored: results.len(),
        marks,
        flops,
        budget_bound: false,
    }
}
