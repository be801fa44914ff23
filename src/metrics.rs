//! Error measures: BasicAMR's per-element interpolation error (SPEC §2.2) and the RMSE of the
//! interpolant over the whole domain after each iteration (SPEC §2.3).

use rayon::prelude::*;
use serde::Serialize;

use crate::mesh::MeshError;
use crate::network::Inr;
use crate::random::{Purpose, Stream};

/// The original's relative error of an approximation `approx` of `exact` (all entries of all
/// components): a = mean |exact − approx|, then the mean of a / |exact| over the entries.
/// The pruning score adds 5 to both first; BasicAMR does not (a value of f near zero makes
/// this huge, as in the original).
pub fn mean_relative_error(exact: &[f64], approx: &[f64]) -> f64 {
    debug_assert_eq!(exact.len(), approx.len());
    let n = exact.len().max(1) as f64;
    let a = exact
        .iter()
        .zip(approx)
        .map(|(e, p)| (e - p).abs())
        .sum::<f64>()
        / n;
    exact.iter().map(|e| a / e.abs()).sum::<f64>() / n
}

/// Points per RMSE estimate: (2^M)^d with M = 9, 7, 5 for d = 2, 3, 4 INR input coordinates.
pub fn rmse_points(inr_dim: usize) -> usize {
    match inr_dim {
        0 | 1 => 1 << 18,
        2 => 1 << 18,
        3 => 1 << 21,
        _ => 1 << 20,
    }
}

/// RMSE of the interpolant against the network, overall and per output component.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Rmse {
    pub total: f64,
    pub per_component: Vec<f64>,
    pub points: usize,
}

/// Points drawn per batch: large enough for efficient GEMMs, small enough to spread over
/// threads; each batch has its own random stream, so results never depend on scheduling.
const RMSE_BATCH: usize = 4096;

/// Where and how the RMSE points are drawn.
#[derive(Clone, Copy, Debug)]
pub struct RmseSampling {
    /// The mesh box (for a time-sliced INR, the spatial box at the slice).
    pub lo: [f64; 3],
    pub hi: [f64; 3],
    pub n_points: usize,
    pub seed: u64,
    pub iteration: usize,
}

/// RMSE = sqrt(Σ_points Σ_components (f − I)² / N) over N points uniform in the mesh box.
/// `interpolate(points, out)` writes the interpolant point-major into `out`.
pub fn rmse<F>(
    inr: &Inr,
    sampling: RmseSampling,
    interpolate: F,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Rmse, MeshError>
where
    F: Fn(&[[f64; 3]], &mut [f64]) -> Result<(), MeshError> + Sync,
{
    let RmseSampling {
        lo,
        hi,
        n_points,
        seed,
        iteration,
    } = sampling;
    let c = inr.output_dim();
    let dim = inr.mesh_dim();
    let n_batches = n_points.div_ceil(RMSE_BATCH);
    let sums: Vec<Vec<f64>> = (0..n_batches)
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new(), Vec::new()),
            |(pts, exact, approx), b| {
                let n = RMSE_BATCH.min(n_points - b * RMSE_BATCH);
                let mut s = Stream::new(seed, iteration, b as u64, Purpose::Rmse);
                pts.clear();
                pts.extend((0..n).map(|_| {
                    let mut p = [0.0; 3];
                    for (k, v) in p.iter_mut().enumerate().take(dim) {
                        *v = s.in_range(lo[k], hi[k]);
                    }
                    p
                }));
                exact.resize(n * c, 0.0);
                approx.resize(n * c, 0.0);
                inr.eval_points_into(pts, exact);
                interpolate(pts, approx)?;
                let mut sum = vec![0.0; c];
                for (e, a) in exact.chunks_exact(c).zip(approx.chunks_exact(c)) {
                    for k in 0..c {
                        let d = e[k] - a[k];
                        sum[k] += d * d;
                    }
                }
                progress(n as u64);
                Ok(sum)
            },
        )
        .collect::<Result<_, MeshError>>()?;
    // Summing in batch order keeps the result bit-identical for any thread count.
    let mut per = vec![0.0; c];
    for s in &sums {
        for k in 0..c {
            per[k] += s[k];
        }
    }
    let n = n_points.max(1) as f64;
    Ok(Rmse {
        total: (per.iter().sum::<f64>() / n).sqrt(),
        per_component: per.iter().map(|s| (s / n).sqrt()).collect(),
        points: n_points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_is_the_originals_metric() {
        // a = mean(|1-1.5|, |2-2|) = 0.25; error = mean(0.25/1, 0.25/2) = 0.1875
        let e = mean_relative_error(&[1.0, -2.0], &[1.5, -2.0]);
        assert!((e - 0.1875).abs() < 1e-12);
    }

    #[test]
    fn point_counts_follow_the_spec() {
        assert_eq!(rmse_points(2), 262_144);
        assert_eq!(rmse_points(3), 2_097_152);
        assert_eq!(rmse_points(4), 1_048_576);
    }
}
