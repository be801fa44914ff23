//! Dörfler (bulk) marking under a DOF budget: the smallest set of elements holding a fraction
//! θ of the squared estimated error (Dörfler 1996; the marking for which Stevenson 2007 and
//! Cascón et al. 2008 prove quasi-optimal rates), cut to what fits in `max_dofs`.

use crate::mesh::Mesh;

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

/// Vertices refining a leaf can create at most: its centre and every edge midpoint (and face
/// centre in 3-D) that does not exist yet.
fn max_new_vertices(dim: usize) -> usize {
    if dim == 2 { 1 + 4 } else { 1 + 6 + 12 }
}

/// The longest prefix (at most `wanted` elements) of `order` whose refinement keeps the mesh at
/// or below `max_dofs` vertices. New vertices grow with the marked set (a superset splits a
/// superset of edges and faces), so the count is bisected, refining a copy of the mesh; the
/// copy is only made when the worst case per element might not fit.
pub(crate) fn fit_budget(mesh: &Mesh, order: &[usize], wanted: usize, max_dofs: usize) -> usize {
    let room = max_dofs.saturating_sub(mesh.num_vertices());
    if wanted * max_new_vertices(mesh.dim()) <= room {
        return wanted;
    }
    let new_vertices = |k: usize| {
        let mut marks = vec![false; mesh.num_elements()];
        for &e in &order[..k] {
            marks[e] = true;
        }
        let mut trial = mesh.clone();
        trial
            .refine(&marks)
            .map(|o| o.new_vertices.len())
            .unwrap_or(usize::MAX)
    };
    // Invariant: prefix `lo` fits, prefix `hi + 1` does not (or hi = wanted).
    let (mut lo, mut hi) = (room / max_new_vertices(mesh.dim()), wanted);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if new_vertices(mid) <= room {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_budget_takes_the_longest_prefix_that_fits() {
        // 2×2 quads, 9 vertices. Refining element 0 alone adds 5 (centre + 4 midpoints);
        // elements 0 and 1 (sharing an edge) add 5 + 4 = 9; all four add 16.
        let mesh = square_mesh(2);
        let order = [0, 1, 2, 3];
        assert_eq!(fit_budget(&mesh, &order, 4, 9 + 16), 4);
        assert_eq!(fit_budget(&mesh, &order, 4, 9 + 15), 3);
        assert_eq!(fit_budget(&mesh, &order, 4, 9 + 9), 2);
        assert_eq!(fit_budget(&mesh, &order, 4, 9 + 8), 1);
        assert_eq!(fit_budget(&mesh, &order, 4, 9 + 4), 0);
        // θ binds before the budget.
        assert_eq!(fit_budget(&mesh, &order, 1, 1000), 1);
    }
}
