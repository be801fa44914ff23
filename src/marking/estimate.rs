//! The `estimate` criterion: on every element (each iteration re-examines all of them, since
//! refining a neighbour changes an element's hanging corner values and so its interpolant),
//! the indicator η_K ≈ ‖f − I f‖_{L2(K)} of `crate::estimate`, then Dörfler marking with θ cut
//! to the `--max_dofs` budget. Σ η_K² estimates RMSE²·|Ω|, the quantity the run reports, so
//! the marked set is the one holding the largest share of the RMSE that the budget buys.

use rayon::prelude::*;

use super::Scoring;
use super::dorfler::{choose_prefix, dorfler_count, order_descending};
use crate::config::Config;
use crate::estimate::{CurvatureMode, JetNetwork, Layout, indicator_from_jet};
use crate::mesh::Mesh;
use crate::network::Inr;
use crate::ranks::{Ranks, partition_by_cost};

/// Points of one stacked jet evaluation: elements are grouped (by index, so the grouping does
/// not depend on the thread count) until their sample points reach this.
const GROUP_POINTS: usize = 256;

/// The indicator of every element of `mesh` for the interpolant with vertex values `values`
/// (constrained, vertex-major), in element order; and the floating-point operations spent.
/// Each rank computes a block of the groups; the indicators are gathered in element order.
pub(crate) fn element_indicators(
    mesh: &Mesh,
    values: &[f64],
    net: &JetNetwork,
    samples: usize,
    ranks: &dyn Ranks,
    progress: &(dyn Fn(u64) + Sync),
) -> (Vec<f64>, f64) {
    let layout = Layout::new(mesh.dim(), samples, CurvatureMode::for_network(net));
    let d = mesh.dim();
    let c = net.outputs();
    let nv = 1usize << d;
    let ns = layout.n_samples();
    let per_group = (GROUP_POINTS / ns).max(1);
    let n = mesh.num_elements();
    let group_of = |g: usize| g * per_group..((g + 1) * per_group).min(n);
    let group_costs: Vec<f64> = (0..n.div_ceil(per_group))
        .map(|g| group_of(g).len() as f64)
        .collect();
    let blocks = partition_by_cost(&group_costs, ranks.size());
    let eta: Vec<Vec<f64>> = blocks[ranks.rank()]
        .clone()
        .into_par_iter()
        .map(|g| {
            let elements = group_of(g);
            let mut x = Vec::with_capacity(elements.len() * ns * d);
            let mut boxes = Vec::with_capacity(elements.len());
            for e in elements.clone() {
                let (lo, hi) = mesh.element_bbox(e);
                let h: Vec<f64> = (0..d).map(|i| hi[i] - lo[i]).collect();
                layout.push_points(&lo[..d], &h, &mut x);
                boxes.push((lo, hi, h));
            }
            let jet = net.jet(&x, layout.mode.jet_order());
            let mut corners = vec![0.0; nv * c];
            let out: Vec<f64> = elements
                .clone()
                .zip(&boxes)
                .enumerate()
                .map(|(k, (e, (lo, hi, h)))| {
                    // The corner of the box each vertex sits at (exact for the axis-aligned
                    // elements of the built-in and reference meshes; a skewed element is
                    // estimated on its bounding box).
                    for &v in mesh.element_vertices(e) {
                        let p = mesh.vertices()[v as usize];
                        let bit: usize = (0..d)
                            .map(|i| usize::from(2.0 * p[i] > lo[i] + hi[i]) << i)
                            .sum();
                        let src = &values[v as usize * c..(v as usize + 1) * c];
                        corners[bit * c..(bit + 1) * c].copy_from_slice(src);
                    }
                    indicator_from_jet(h, &layout, &corners, &jet, k * ns).eta
                })
                .collect();
            progress(out.len() as u64);
            out
        })
        .collect();
    let counts: Vec<usize> = blocks
        .iter()
        .map(|b| (b.end * per_group).min(n) - (b.start * per_group).min(n))
        .collect();
    let eta = ranks.all_gather_values(&eta.concat(), &counts);
    let rows = (n * ns * layout.mode.jet_order().rows_per_point(d)) as f64;
    (eta, rows * net.flops_per_row())
}

/// The factor by which refining an element divides its η² (h → h/2). A smooth field's
/// error is h² pointwise: 2⁴. A kink's error is h pointwise on a band of width h, crossing
/// half the children: 2^(d−1) children × (¼ · 2^−d) = 1/8, so 2³ for piecewise-linear networks
/// and for smooth ones with kinks (the rarer, cautious case).
fn reduction(mode: CurvatureMode) -> f64 {
    match mode {
        CurvatureMode::Diagonal => 16.0,
        CurvatureMode::PiecewiseLinear | CurvatureMode::Full => 8.0,
    }
}

/// Scores every element by the indicator and marks by Dörfler's criterion with `cfg.theta`,
/// extended to the prefix (by η) with the steepest predicted error-per-DOF slope and cut to
/// the longest one that keeps the mesh within `cfg.max_dofs` vertices (`choose_prefix`).
pub(crate) fn score_estimate(
    mesh: &Mesh,
    values: &[f64],
    inr: &Inr,
    cfg: &Config,
    ranks: &dyn Ranks,
    progress: &(dyn Fn(u64) + Sync),
) -> Scoring {
    // Every rank holds every indicator, so each marks the same elements as one process would.
    let net = JetNetwork::new(inr);
    let (eta, flops) = element_indicators(mesh, values, &net, cfg.error_samples, ranks, progress);
    let order = order_descending(&eta);
    let wanted = dorfler_count(&eta, &order, cfg.theta);
    let counts = mesh.new_vertex_counts(&order);
    let (k, budget_bound) = choose_prefix(
        &eta,
        &order,
        &counts,
        mesh.num_vertices(),
        wanted,
        cfg.max_dofs,
        reduction(CurvatureMode::for_network(&net)),
    );
    let mut marks = vec![false; eta.len()];
    for &e in &order[..k] {
        marks[e] = true;
    }
    Scoring {
        marks,
        scored: eta.len(),
        marked: k,
        flops,
        budget_bound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::MeshField;
    use crate::metrics::RmsePoints;
    use crate::network::{Coordinates, builtin_mesh, builtin_network};
    use crate::ranks::Single;

    /// Σ_K η_K² estimates ‖f − I f‖² = RMSE²·|Ω| on the built-in hos network (ReLU, so the
    /// estimate sees only sampled values and gradients) on a uniform and an adaptive mesh.
    #[test]
    fn the_indicators_add_up_to_the_measured_rmse() {
        let (file, _) = builtin_network("hos").unwrap();
        let mut mesh = Mesh::parse(builtin_mesh("hos").unwrap(), "hos").unwrap();
        mesh.refine_uniformly();
        mesh.refine_uniformly();
        let inr = Inr::new(file, Coordinates::Identity, 2).unwrap();
        let mut field = MeshField::new(mesh, &inr).unwrap();
        let points = RmsePoints::draw(field.mesh(), &inr, 1 << 18, 3, &Single, &|_| ());
        for round in 0..3 {
            let net = JetNetwork::new(&inr);
            let (eta, flops) =
                element_indicators(field.mesh(), field.values(), &net, 64, &Single, &|_| ());
            assert!(flops > 0.0);
            let estimate = eta.iter().map(|e| e * e).sum::<f64>().sqrt(); // |Ω| = 1
            let measured = points
                .rmse(field.mesh(), field.values(), &Single, &|_| ())
                .unwrap()
                .total;
            let ratio = estimate / measured;
            assert!(
                (ratio - 1.0).abs() < 0.15,
                "round {round}: {estimate} vs {measured}"
            );
            // Refine the elements holding half the estimate, as the criterion does.
            let order = order_descending(&eta);
            let k = dorfler_count(&eta, &order, 0.5);
            let mut marks = vec![false; eta.len()];
            for &e in &order[..k] {
                marks[e] = true;
            }
            field.refine(&marks).unwrap();
            field.update(&inr).unwrap();
        }
    }
}
