//! Error measures: BasicAMR's per-element interpolation error (SPEC §2.2) and the RMSE of the
//! interpolant over the whole mesh after each iteration (SPEC §2.3), on points drawn once.
//! With several processes each draws, holds and measures its own contiguous block of the
//! point batches; the per-batch sums are gathered and added in batch order, the order one
//! process adds them in, so the RMSE has the same bits for any number of processes.

use std::ops::Range;

use rayon::prelude::*;
use serde::Serialize;

use crate::mesh::{ElementSampler, Mesh, MeshError};
use crate::network::Inr;
use crate::random::{Purpose, Stream};
use crate::ranks::{Ranks, partition_even, sum_in_batch_order};

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

impl Rmse {
    /// No RMSE (`--rmse_samples 0`): NaN, which parameters.json writes as null.
    pub fn skipped() -> Rmse {
        Rmse {
            total: f64::NAN,
            per_component: Vec::new(),
            points: 0,
        }
    }
}

/// Points drawn per batch: large enough for efficient GEMMs, small enough to spread over
/// threads; each batch has its own random stream, so results never depend on scheduling.
const RMSE_BATCH: usize = 4096;

/// The RMSE points of a run and the network's values there (SPEC §2.3): drawn once, uniform
/// over the start mesh (a start element chosen in proportion to its volume, then a uniform
/// point inside it), and evaluated once; each iteration only interpolates. A point is kept
/// as (start element, reference coordinates), so locating it in the refined mesh is a tree
/// descent, never a search, and it cannot fall outside the mesh.
pub struct RmsePoints {
    /// Every rank's batches; this rank holds the points of `batches[rank]`.
    batches: Vec<Range<usize>>,
    /// Points of all ranks.
    total: usize,
    roots: Vec<u32>,
    xi: Vec<[f64; 3]>,
    /// The network at the points, point-major (`p * ncomp + c`); f32 is what it computes.
    exact: Vec<f32>,
    ncomp: usize,
}

impl RmsePoints {
    /// Draws `n_points` points uniform over `mesh` (its start elements) from streams keyed by
    /// (seed, batch) and evaluates the network on them; this rank draws its block of batches.
    pub fn draw(
        mesh: &Mesh,
        inr: &Inr,
        n_points: usize,
        seed: u64,
        ranks: &dyn Ranks,
        progress: &(dyn Fn(u64) + Sync),
    ) -> RmsePoints {
        let c = inr.output_dim();
        let samplers: Vec<ElementSampler> = (0..mesh.num_start_elements())
            .map(|r| mesh.root_sampler(r))
            .collect();
        // Cumulative volumes in element order: the same sums on every thread count.
        let mut cumulative = Vec::with_capacity(samplers.len());
        let mut total = 0.0;
        for s in &samplers {
            total += s.volume().max(0.0);
            cumulative.push(total);
        }
        // A mesh has at least one element (the reader refuses an empty one); without any there
        // is nowhere to draw.
        let n_points = if samplers.is_empty() { 0 } else { n_points };
        // Batches cost the same (but the last), so an even split balances them.
        let blocks = partition_even(n_points.div_ceil(RMSE_BATCH), ranks.size());
        type Batch = (Vec<u32>, Vec<[f64; 3]>, Vec<f32>);
        let batches: Vec<Batch> = blocks[ranks.rank()]
            .clone()
            .into_par_iter()
            .map(|b| {
                let n = RMSE_BATCH.min(n_points - b * RMSE_BATCH);
                let mut s = Stream::new(seed, 0, b as u64, Purpose::Rmse);
                let mut roots = Vec::with_capacity(n);
                let mut xis = Vec::with_capacity(n);
                let mut pts = Vec::with_capacity(n);
                for _ in 0..n {
                    let u = s.unit() * total;
                    let r = cumulative
                        .partition_point(|&v| v <= u)
                        .min(samplers.len() - 1);
                    let xi = samplers[r].reference_point(&mut s);
                    roots.push(r as u32);
                    xis.push(xi);
                    pts.push(samplers[r].map(&xi));
                }
                let mut exact = vec![0.0; n * c];
                inr.eval_points_into(&pts, &mut exact);
                progress(n as u64);
                (roots, xis, exact.into_iter().map(|v| v as f32).collect())
            })
            .collect();
        let here: usize = batches.iter().map(|b| b.0.len()).sum();
        let mut out = RmsePoints {
            batches: blocks,
            total: n_points,
            roots: Vec::with_capacity(here),
            xi: Vec::with_capacity(here),
            exact: Vec::with_capacity(here * c),
            ncomp: c,
        };
        for (r, x, e) in batches {
            out.roots.extend(r);
            out.xi.extend(x);
            out.exact.extend(e);
        }
        out
    }

    /// Number of points this rank holds.
    pub fn len_here(&self) -> usize {
        self.roots.len()
    }

    /// RMSE = sqrt(Σ_points Σ_components (f − I)² / N) of the interpolant of vertex `values`
    /// (vertex-major, hanging ones constrained) on `mesh`, a refinement of the mesh the points
    /// were drawn on. `ranks` must be the group the points were drawn by.
    pub fn rmse(
        &self,
        mesh: &Mesh,
        values: &[f64],
        ranks: &dyn Ranks,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Rmse, MeshError> {
        let c = self.ncomp;
        let expected = mesh.num_vertices() * c;
        if values.len() != expected {
            return Err(MeshError::Length {
                what: "vertex values",
                expected,
                got: values.len(),
            });
        }
        let n_points = self.total;
        let here = self.len_here();
        let sums: Vec<Vec<f64>> = (0..here.div_ceil(RMSE_BATCH))
            .into_par_iter()
            .map(|b| {
                // This rank's `b`-th batch: every batch but the run's last is full.
                let range = b * RMSE_BATCH..((b + 1) * RMSE_BATCH).min(here);
                let mut sum = vec![0.0; c];
                let mut approx = vec![0.0; c];
                for p in range.clone() {
                    let (e, xi) = mesh.descend(self.roots[p] as usize, self.xi[p]);
                    mesh.evaluate_in_element(values, c, e, &xi, &mut approx);
                    for k in 0..c {
                        let d = f64::from(self.exact[p * c + k]) - approx[k];
                        sum[k] += d * d;
                    }
                }
                progress(range.len() as u64);
                sum
            })
            .collect();
        // Summing in batch order keeps the result bit-identical for any thread count and
        // any number of ranks.
        let all = ranks.reduce_sums_in_order(sums, &self.batches);
        let mut per = sum_in_batch_order(&all);
        per.resize(c, 0.0);
        let n = n_points.max(1) as f64;
        Ok(Rmse {
            total: (per.iter().sum::<f64>() / n).sqrt(),
            per_component: per.iter().map(|s| (s / n).sqrt()).collect(),
            points: n_points,
        })
    }
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
