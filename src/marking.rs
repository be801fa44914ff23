//! Scoring elements for refinement on the rayon pool: PruningAMR (SPEC §2.1) on the elements
//! the last refinement created, or BasicAMR (SPEC §2.2) on every element.
//! The `estimate` criterion (interpolation-error indicator, Dörfler marking to the DOF budget)
//! lives in `marking/estimate.rs` and `marking/dorfler.rs`.
//!
//! With several processes ([`Ranks`]) each scores a contiguous block of the candidates, split by
//! cost, and the per-element results are gathered in element order; since every element's
//! random streams are keyed by the element, the marks are those of one process.

use faer::Mat;
use rayon::prelude::*;

use std::ops::Range;

use crate::config::Config;
use crate::error::Error;
use crate::field::MeshField;
use crate::id_pruning::{ScoreWorkspace, decide, prune_and_score};
use crate::mesh::{Mesh, MeshError, Split};
use crate::metrics::mean_relative_error;
use crate::network::Inr;
use crate::random::{Purpose, Stream};
use crate::ranks::{Ranks, counts, partition_by_cost};

mod around;
mod dorfler;
mod estimate;
mod freeing;
mod matching;
pub(crate) use estimate::score_estimate;

/// The outcome of one scoring pass.
#[derive(Clone, Debug, Default)]
pub struct Scoring {
    /// One mark per current element.
    pub marks: Vec<bool>,
    /// How each element is split, when not every marked one is split isotropically (the
    /// anisotropic `estimate` criterion); `Split::NONE` for unmarked ones.
    pub splits: Option<Vec<Split>>,
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
            splits: None,
            scored: 0,
            marked: n,
            flops: 0.0,
            budget_bound: false,
        }
    }

    /// Refines `field` as this scoring says: by `splits` where it has them, else every
    /// marked element along all its axes.
    pub fn refine(&self, field: &mut MeshField) -> Result<(), MeshError> {
        match &self.splits {
            Some(splits) => field.refine_split(splits),
            None => field.refine(&self.marks),
        }
    }
}

/// `n` points uniform in element `e`, in INR coordinates, as f32 rows. An axis-aligned box
/// element draws in its INR box as the original does, coordinate by coordinate (the same
/// draws as always, so box-mesh results do not move); any other element draws inside itself
/// through its element map, never in its bounding box, which holds points of other elements.
fn sample_element(mesh: &Mesh, inr: &Inr, e: usize, n: usize, stream: &mut Stream) -> Mat<f32> {
    let dim = inr.inr_dim();
    let sampler = mesh.element_sampler(e);
    let mut x = Mat::<f32>::zeros(n, dim);
    if sampler.is_box() {
        let (lo, hi) = mesh.element_bbox(e);
        let (lo, hi) = inr.inr_box(&lo, &hi);
        for i in 0..n {
            for k in 0..dim {
                x[(i, k)] = stream.in_range(lo[k], hi[k]) as f32;
            }
        }
        return x;
    }
    for i in 0..n {
        let q = inr.to_inr(&sampler.point(stream));
        for k in 0..dim {
            x[(i, k)] = q[k] as f32;
        }
    }
    x
}

/// `n` mesh points uniform in element `e` (BasicAMR compares the network with the
/// interpolant there); box elements keep the original's per-coordinate draws.
fn sample_mesh_points(mesh: &Mesh, e: usize, n: usize, stream: &mut Stream) -> Vec<[f64; 3]> {
    let sampler = mesh.element_sampler(e);
    (0..n).map(|_| sampler.point(stream)).collect()
}

/// PruningAMR: restrict the network to each element created by the last refinement (level =
/// iteration), prune it by ID, and mark the element if the pruned network is inaccurate or
/// kept too many neurons. Other elements were judged before and did not change.
pub fn score_pruning(
    mesh: &Mesh,
    inr: &Inr,
    cfg: &Config,
    it: usize,
    ranks: &dyn Ranks,
    progress: &(dyn Fn(u64) + Sync),
) -> Scoring {
    let n = mesh.num_elements();
    let candidates: Vec<usize> = (0..n)
        .filter(|&e| mesh.element_level(e) as usize == it)
        .collect();
    let blocks = blocks(ranks, candidates.len(), cfg.id_samples + cfg.error_samples);
    let results: Vec<(bool, f64)> = candidates[blocks[ranks.rank()].clone()]
        .par_iter()
        // One workspace per worker thread, so scoring does not allocate per element.
        .map_init(ScoreWorkspace::new, |ws, &e| {
            let id = mesh.element_tree_id(e);
            let mut s_id = Stream::new(cfg.seed, it, id, Purpose::IdSamples);
            let mut s_err = Stream::new(cfg.seed, it, id, Purpose::ErrorSamples);
            let x_id = sample_element(mesh, inr, e, cfg.id_samples, &mut s_id);
            let x_err = sample_element(mesh, inr, e, cfg.error_samples, &mut s_err);
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
            (mark, score.flops)
        })
        .collect();
    collect(n, &candidates, results, &blocks, ranks)
}

/// BasicAMR: on every element, compare the network with the current interpolant at
/// `error_samples` points; mark where the mean relative error reaches the threshold.
pub fn score_basic(
    mesh: &Mesh,
    values: &[f64],
    inr: &Inr,
    cfg: &Config,
    it: usize,
    ranks: &dyn Ranks,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Scoring, Error> {
    let n = mesh.num_elements();
    let c = inr.output_dim();
    let flops_per_point = inr.network().flops_per_point();
    let blocks = blocks(ranks, n, cfg.error_samples);
    let results = blocks[ranks.rank()]
        .clone()
        .into_par_iter()
        .map(|e| {
            let mut s = Stream::new(
                cfg.seed,
                it,
                mesh.element_tree_id(e),
                Purpose::BasicAmrSamples,
            );
            let pts = sample_mesh_points(mesh, e, cfg.error_samples, &mut s);
            let exact = inr.eval_points(&pts);
            let mut approx = vec![0.0; pts.len() * c];
            // The points lie in the element; location still finds the leaf holding each (a
            // point on a shared side may be given to the neighbour, whose value there agrees).
            mesh.interpolate(values, c, &pts, &mut approx)?;
            let err = mean_relative_error(&exact, &approx);
            progress(1);
            Ok((err >= cfg.threshold, flops_per_point * pts.len() as f64))
        })
        .collect::<Result<Vec<_>, Error>>();
    let results = Error::agreed(ranks, results)?;
    let all: Vec<usize> = (0..n).collect();
    Ok(collect(n, &all, results, &blocks, ranks))
}

/// Every rank's contiguous block of `n` candidates that cost `samples` sample points each.
fn blocks(ranks: &dyn Ranks, n: usize, samples: usize) -> Vec<Range<usize>> {
    partition_by_cost(&vec![samples as f64; n], ranks.size())
}

/// The scoring of `candidates` from this rank's `local` (mark, flops) of its block: the blocks
/// gathered in rank order, so in candidate order, and the flops added in that order.
fn collect(
    n: usize,
    candidates: &[usize],
    local: Vec<(bool, f64)>,
    blocks: &[Range<usize>],
    ranks: &dyn Ranks,
) -> Scoring {
    let counts = counts(blocks);
    let (local_marks, local_flops): (Vec<bool>, Vec<f64>) = local.into_iter().unzip();
    let scored = ranks.all_gather_marks(&local_marks, &counts);
    let flops_each = ranks.all_gather_values(&local_flops, &counts);
    let mut marks = vec![false; n];
    let mut flops = 0.0;
    for ((&e, &m), &f) in candidates.iter().zip(&scored).zip(&flops_each) {
        marks[e] = m;
        flops += f;
    }
    Scoring {
        marked: marks.iter().filter(|m| **m).count(),
        scored: candidates.len(),
        marks,
        splits: None,
        flops,
        budget_bound: false,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Cli;
    use crate::field::MeshField;
    use crate::metrics::RmsePoints;
    use crate::network::{Coordinates, builtin_mesh, builtin_network};
    use crate::ranks::Single;
    use crate::ranks::threads::on_ranks;

    /// What a rank ends up holding after each shared step, as bits.
    #[derive(Debug, PartialEq)]
    struct Held {
        pruning: (Vec<bool>, u64),
        basic: (Vec<bool>, u64),
        estimate: (Vec<bool>, u64),
        rmse: Vec<u64>,
        values: Vec<u64>,
    }

    fn held(cfg: &Config, field: &MeshField, inr: &Inr, ranks: &dyn Ranks) -> Held {
        let (mesh, values) = (field.mesh(), field.values());
        let bits = |s: Scoring| (s.marks, s.flops.to_bits());
        let pruning = score_pruning(mesh, inr, cfg, 2, ranks, &|_| ());
        let basic = score_basic(mesh, values, inr, cfg, 2, ranks, &|_| ()).unwrap();
        let estimate = score_estimate(field, inr, cfg, ranks, &|_| ());
        // Six batches of RMSE points, the last short: with 7 ranks one holds none.
        let points = RmsePoints::draw(mesh, inr, 5 * 4096 + 7, 3, ranks, &|_| ());
        let err = points.rmse(mesh, values, ranks, &|_| ()).unwrap();
        let mut refined = field.clone();
        refined.refine(&pruning.marks).unwrap();
        refined.update_on(inr, ranks).unwrap();
        Held {
            rmse: std::iter::once(err.total)
                .chain(err.per_component)
                .map(f64::to_bits)
                .collect(),
            values: refined.values().iter().map(|v| v.to_bits()).collect(),
            pruning: bits(pruning),
            basic: bits(basic),
            estimate: bits(estimate),
        }
    }

    /// Scoring under every criterion, the RMSE and the new vertices' values shared between
    /// 2, 3 and 7 ranks (threads standing in for MPI processes) hold one process's bits on
    /// every rank.
    #[test]
    fn shared_work_holds_the_bits_of_one_process() {
        let cfg = Cli::try_parse_from(["pruningamr", "--INR_key", "hos"])
            .unwrap()
            .validate()
            .unwrap();
        let (file, _) = builtin_network("hos").unwrap();
        let inr = Inr::new(file, Coordinates::Identity, 2).unwrap();
        let mut mesh = Mesh::parse(builtin_mesh("hos").unwrap(), "hos").unwrap();
        mesh.refine_uniformly();
        mesh.refine_uniformly();
        let field = MeshField::new(mesh, &inr).unwrap();
        let one = held(&cfg, &field, &inr, &Single);
        assert!(one.pruning.0.iter().any(|&m| m) && one.basic.0.iter().any(|&m| m));
        assert!(one.values.len() > field.values().len());
        for size in [2, 3, 7] {
            for (rank, got) in on_ranks(size, |r| held(&cfg, &field, &inr, r))
                .into_iter()
                .enumerate()
            {
                assert!(got == one, "rank {rank} of {size}");
            }
        }
    }
}
