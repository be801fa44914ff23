//! Dörfler (bulk) marking under a DOF budget: the smallest set of elements holding a fraction
//! θ of the squared estimated error (Dörfler 1996; the marking for which Stevenson 2007 and
//! Cascón et al. 2008 prove quasi-optimal rates), extended while that steepens the predicted
//! error-per-DOF slope, and cut to what fits in `max_dofs`.

/// Element indices by `eta` descending, ties by the smaller index, so the marking does not
/// depend on how the indicators were computed in parallel.
pub(crate) fn order_descending(eta: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..eta.len()).collect();
    idx.sort_by(|&a, &b| eta[b].total_cmp(&eta[a]).then(a.cmp(&b)));
    idx
}

/// How many of `order`'s first elements Dörfler's criterion takes: the shortest prefix with
/// Σ η² ≥ θ Σ η² (θ ≥ 1: every element with η > 0; nothing when every η is 0).
pub(crate) fn dorfler_count(eta: &[f64], order: &[usize], theta: f64) -> usize {
    let total: f64 = eta.iter().map(|e| e * e).sum();
    // A NaN total (a non-finite network output) marks nothing rather than everything.
    if theta <= 0.0 || total.is_nan() || total <= 0.0 {
        return 0;
    }
    if theta >= 1.0 {
        return order.iter().take_while(|&&e| eta[e] > 0.0).count();
    }
    let target = theta * total;
    let mut acc = 0.0;
    for (k, &e) in order.iter().enumerate() {
        acc += eta[e] * eta[e];
        if acc >= target {
            return k + 1;
        }
    }
    order.len()
}

/// Which prefix of `order` to refine: at least Dörfler's `wanted` elements, extended to the
/// prefix with the steepest predicted log–log decrease of the estimated error per DOF, cut to
/// what fits in `max_dofs`. `decrease[e]` is how much refining element e is predicted to
/// lower Σ η² (`total`), never below `total / reduction` together (16 for a smooth field,
/// h² → h²/4); `counts[k]` is the number of vertices refining the first k elements adds
/// (`Mesh::new_vertex_counts`), `dofs` the mesh's vertices now.
///
/// Why the extension: Dörfler's set is optimal when the error is concentrated, but on a
/// field whose error fills the domain (NS_PINN) a set holding θ of Σ η² is a large scattered
/// fraction of the elements, and refining it buys less per DOF than refining everything
/// (error² × (1 − θ(1 − 1/16)) for DOFs × (1 + 7θ) in 3-D, against 1/16 for × 8): the steepest
/// prefix is then the whole mesh. The predicted slope is
/// ln(E / (E − D_k)) / ln((N + counts[k]) / N), D_k the prefix's predicted decrease.
/// Returns the prefix length, whether the budget cut it below `wanted`, and its predicted
/// slope (0 for an empty prefix).
#[allow(clippy::too_many_arguments)]
pub(crate) fn choose_prefix(
    decrease: &[f64],
    total: f64,
    order: &[usize],
    counts: &[usize],
    dofs: usize,
    wanted: usize,
    max_dofs: usize,
    reduction: f64,
) -> (usize, bool, f64) {
    let room = max_dofs.saturating_sub(dofs);
    // counts is nondecreasing: the longest prefix that fits.
    let fit = counts.partition_point(|&c| c <= room).saturating_sub(1);
    let n = dofs.max(1) as f64;
    let slope = |acc: f64, k: usize| {
        let after = (total - acc).max(total / reduction);
        (total / after).ln() / ((n + counts[k] as f64) / n).ln()
    };
    let mut acc: f64 = order[..wanted.min(fit)].iter().map(|&e| decrease[e]).sum();
    if fit <= wanted {
        let s = if fit == 0 { 0.0 } else { slope(acc, fit) };
        return (fit, fit < wanted, s);
    }
    let (mut best, mut best_slope) = (wanted, slope(acc, wanted));
    for k in wanted + 1..=fit {
        acc += decrease[order[k - 1]];
        let s = slope(acc, k);
        // Strictly steeper: ties keep the smaller set (a NaN slope never wins).
        if s > best_slope {
            (best, best_slope) = (k, s);
        }
    }
    (best, false, best_slope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::Mesh;

    /// Isotropic refinement's predicted decreases (η² × 15/16) and Σ η².
    fn iso_decrease(eta: &[f64]) -> (Vec<f64>, f64) {
        let dec = eta.iter().map(|e| e * e * 15.0 / 16.0).collect();
        (dec, eta.iter().map(|e| e * e).sum())
    }

    fn dorfler(eta: &[f64], theta: f64) -> Vec<usize> {
        let order = order_descending(eta);
        let k = dorfler_count(eta, &order, theta);
        order[..k].to_vec()
    }

    #[test]
    fn dorfler_known_answers() {
        let eta = [3.0, 1.0, 2.0, 0.0]; // squares 9, 1, 4, 0; total 14
        assert_eq!(dorfler(&eta, 0.0), Vec::<usize>::new());
        assert_eq!(dorfler(&eta, 0.5), vec![0]); // 9 ≥ 7
        assert_eq!(dorfler(&eta, 9.0 / 14.0), vec![0]); // exactly reached
        assert_eq!(dorfler(&eta, 0.7), vec![0, 2]); // 9 < 9.8 ≤ 13
        assert_eq!(dorfler(&eta, 13.5 / 14.0), vec![0, 2, 1]);
        assert_eq!(dorfler(&eta, 1.0), vec![0, 2, 1]); // a zero indicator is not needed
        assert_eq!(dorfler(&[0.0, 0.0], 0.5), Vec::<usize>::new());
        assert_eq!(dorfler(&[], 0.5), Vec::<usize>::new());
    }

    #[test]
    fn dorfler_ties_go_to_the_smaller_index() {
        let eta = [1.0, 2.0, 2.0, 1.0]; // squares 1, 4, 4, 1; total 10
        assert_eq!(order_descending(&eta), vec![1, 2, 0, 3]);
        assert_eq!(dorfler(&eta, 0.3), vec![1]);
        assert_eq!(dorfler(&eta, 0.5), vec![1, 2]);
        assert_eq!(dorfler(&eta, 0.85), vec![1, 2, 0]);
        assert_eq!(dorfler(&[1.0; 4], 0.5), vec![0, 1]);
        assert_eq!(dorfler(&[1.0; 4], 0.51), vec![0, 1, 2]);
        assert_eq!(dorfler(&[1.0; 4], 1.0), vec![0, 1, 2, 3]);
    }

    /// n × n quads on [0, 1]².
    pub(crate) fn square_mesh(n: usize) -> Mesh {
        let text =
            format!("MFEM INLINE mesh v1.0\ntype = quad\nnx = {n}\nny = {n}\nsx = 1.0\nsy = 1.0\n");
        Mesh::parse(&text, "test square").unwrap()
    }

    #[test]
    fn prefix_counts_are_the_vertices_refine_creates() {
        // 2×2 quads, 9 vertices. Refining element 0 alone adds 5 (centre + 4 midpoints);
        // elements 0 and 1 (sharing an edge) add 5 + 4 = 9; all four add 16.
        let mesh = square_mesh(2);
        assert_eq!(mesh.new_vertex_counts(&[0, 1, 2, 3]), vec![0, 5, 9, 13, 16]);
        // And on an adaptive 3-D mesh, against refining a copy.
        let mut cube = Mesh::parse(
            "MFEM INLINE mesh v1.0\ntype = hex\nnx = 2\nny = 2\nnz = 2\nsx = 1\nsy = 1\nsz = 1\n",
            "cube",
        )
        .unwrap();
        let mut marks = vec![false; 8];
        marks[0] = true;
        cube.refine(&marks).unwrap();
        let order: Vec<usize> = (0..cube.num_elements()).rev().step_by(2).collect();
        let counts = cube.new_vertex_counts(&order);
        for k in 0..=order.len() {
            let mut marks = vec![false; cube.num_elements()];
            for &e in &order[..k] {
                marks[e] = true;
            }
            let mut trial = cube.clone();
            assert_eq!(
                trial.refine(&marks).unwrap().new_vertices.len(),
                counts[k],
                "k {k}"
            );
        }
    }

    #[test]
    fn the_budget_takes_the_longest_prefix_that_fits() {
        let mesh = square_mesh(2);
        let order = [0, 1, 2, 3];
        let counts = mesh.new_vertex_counts(&order);
        // A concentrated error: Dörfler's one element is also the steepest prefix.
        let eta = [1.0, 1e-3, 1e-3, 1e-3];
        let (dec, total) = iso_decrease(&eta);
        let pick = |wanted, max_dofs| {
            let (k, cut, _) =
                choose_prefix(&dec, total, &order, &counts, 9, wanted, max_dofs, 16.0);
            (k, cut)
        };
        assert_eq!(pick(1, 1000), (1, false));
        assert_eq!(pick(4, 9 + 16), (4, false));
        assert_eq!(pick(4, 9 + 15), (3, true));
        assert_eq!(pick(4, 9 + 9), (2, true));
        assert_eq!(pick(4, 9 + 8), (1, true));
        assert_eq!(pick(4, 9 + 4), (0, true));
    }

    #[test]
    fn a_flat_error_refines_everything() {
        // Equal indicators: Dörfler (θ = 0.5) takes 2 of 4 elements, which divides E by
        // 1/(1 − ½·15/16) = 1.88 for 9/9 more DOFs (slope ln 1.88 / ln 2 = 0.91); all four
        // divide it by 16 for 16/9 more (slope ln 16 / ln(25/9) = 2.71).
        let mesh = square_mesh(2);
        let order = [0, 1, 2, 3];
        let counts = mesh.new_vertex_counts(&order);
        let (dec, total) = iso_decrease(&[1.0; 4]);
        let (k, cut, slope) = choose_prefix(&dec, total, &order, &counts, 9, 2, 1000, 16.0);
        assert_eq!((k, cut), (4, false));
        assert!((slope - 16f64.ln() / (25.0f64 / 9.0).ln()).abs() < 1e-12);
        // Under a budget of 3 elements' vertices the best that fits is taken.
        let (k, cut, _) = choose_prefix(&dec, total, &order, &counts, 9, 2, 9 + 13, 16.0);
        assert_eq!((k, cut), (3, false));
    }
}
