//! What refining an element buys its neighbours: a vertex hanging on the element's face or
//! edge is constrained to the element's coarse interpolant, so the fine elements around it
//! carry error their own refinement cannot lower. Splitting the element (with its other
//! blockers) frees the vertex, and that error goes. The estimate criterion prices splits with
//! it; without it, the fine side of a coarse–fine interface looks worth refining again (its η
//! holds the constraint error, its children's predicted η not), which adds hanging vertices
//! rather than freeing them.

use rayon::prelude::*;

use super::around::{Touch, leaves_around, octant_step};
use crate::mesh::Mesh;

/// For every element and split mask m (bit i: axis i; entry 0 unused), the predicted decrease
/// of Σ η² on the neighbours when the element is halved along the axes of m.
///
/// `penalty[e]` is the part of η_e² due to hanging corners (η² with the constrained corner
/// values minus η² with the network's own values there). It is shared among e's hanging
/// corners in proportion to the squared constraint change (`raw − values`) at each, and a
/// vertex's share is split evenly among the leaves it hangs on (its blockers). A blocker's
/// split frees the vertex when it halves every axis along which the vertex lies inside the
/// blocker, at the blocker's midpoint; a vertex that one split of some blocker cannot free (a
/// level difference above one) frees nothing this step.
pub(crate) fn freed_decrease(
    mesh: &Mesh,
    values: &[f64],
    raw: &[f64],
    ncomp: usize,
    penalty: &[f64],
) -> Vec<[f64; 8]> {
    let n = mesh.num_elements();
    let mut out = vec![[0.0; 8]; n];
    if mesh.num_hanging() == 0 {
        return out;
    }
    let change = |v: usize| -> f64 {
        (0..ncomp)
            .map(|c| {
                let d = raw[v * ncomp + c] - values[v * ncomp + c];
                d * d
            })
            .sum()
    };
    // Each element's penalty shared among its hanging corners.
    let mut share = vec![0.0; mesh.num_vertices()];
    for (e, &p) in penalty.iter().enumerate() {
        if p <= 0.0 {
            continue;
        }
        let corners = mesh.element_vertices(e);
        let weight: f64 = corners.iter().map(|&v| change(v as usize)).sum();
        if weight <= 0.0 {
            continue;
        }
        for &v in corners {
            share[v as usize] += p * change(v as usize) / weight;
        }
    }
    let step = octant_step(mesh);
    let freed: Vec<Vec<(usize, u8, f64)>> = (0..mesh.num_vertices())
        .into_par_iter()
        .with_min_len(256)
        .filter(|&v| share[v] > 0.0)
        .map(|v| {
            let mut blockers: Vec<(usize, u8)> = Vec::new();
            for (e, touch) in leaves_around(mesh, mesh.vertices()[v], &step) {
                match touch {
                    Touch::Corner => {}
                    // Not freed by one split of this blocker.
                    Touch::Inside { at_mid: false, .. } => return Vec::new(),
                    Touch::Inside { axes, .. } => blockers.push((e, axes)),
                }
            }
            let each = share[v] / blockers.len().max(1) as f64;
            blockers
                .into_iter()
                .map(|(e, axes)| (e, axes, each))
                .collect()
        })
        .collect();
    // Summed in vertex order, so the result does not depend on the thread count.
    for (e, axes, amount) in freed.into_iter().flatten() {
        for (m, slot) in out[e].iter_mut().enumerate().skip(1) {
            if m as u8 & axes == axes {
                *slot += amount;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marking::around::tests::{element_at, two_cubes};

    /// Refines the leaf spanning `lo`..`hi` isotropically.
    fn refine_at(mesh: &mut Mesh, lo: [f64; 3], hi: [f64; 3]) {
        let mut marks = vec![false; mesh.num_elements()];
        marks[element_at(mesh, lo, hi)] = true;
        mesh.refine(&marks).unwrap();
    }

    /// Two unit cubes along x, the right one refined: five vertices hang on the shared face.
    fn two_cubes_right_refined() -> Mesh {
        let mut mesh = two_cubes();
        refine_at(&mut mesh, [1.0, 0.0, 0.0], [2.0, 1.0, 1.0]);
        mesh
    }

    /// f = y² + 2z² at the vertices, constrained as the mesh does.
    fn fields(mesh: &Mesh) -> (Vec<f64>, Vec<f64>) {
        let raw: Vec<f64> = mesh
            .vertices()
            .iter()
            .map(|p| p[1] * p[1] + 2.0 * p[2] * p[2])
            .collect();
        let values = mesh.constrain(&raw, 1).unwrap();
        (raw, values)
    }

    /// What `freed_decrease` gives when the whole penalty, 1, is leaf `e`'s.
    fn freed_by_penalty_on(mesh: &Mesh, e: usize) -> Vec<[f64; 8]> {
        let (raw, values) = fields(mesh);
        let mut penalty = vec![0.0; mesh.num_elements()];
        penalty[e] = 1.0;
        freed_decrease(mesh, &values, &raw, 1, &penalty)
    }

    /// The five vertices hanging on the shared face are freed by the left cube alone, each by
    /// the splits halving the axes along which it lies inside that face.
    #[test]
    fn a_fine_elements_constraint_error_goes_to_the_coarse_neighbour_by_axes() {
        let mesh = two_cubes_right_refined();
        assert_eq!(mesh.num_hanging(), 5);
        let left = element_at(&mesh, [0.0; 3], [1.0; 3]);
        let fine = element_at(&mesh, [1.0, 0.0, 0.0], [1.5, 0.5, 0.5]);
        let out = freed_by_penalty_on(&mesh, fine);
        // The fine element's hanging corners and their squared constraint changes:
        // (1, ½, 0): y-edge midpoint, ½ against ¼; (1, 0, ½): z-edge midpoint, 1 against ½;
        // (1, ½, ½): face centre, 3/2 against ¾.
        let (y, z, centre) = (1.0 / 16.0, 1.0 / 4.0, 9.0 / 16.0);
        let total = y + z + centre;
        let expected = [
            0.0,
            0.0,
            y / total,
            y / total,
            z / total,
            z / total,
            1.0,
            1.0,
        ];
        for m in 1..8 {
            assert!(
                (out[left][m] - expected[m]).abs() < 1e-12,
                "mask {m:03b}: {} against {}",
                out[left][m],
                expected[m]
            );
        }
        for (e, o) in out.iter().enumerate() {
            if e != left {
                assert_eq!(*o, [0.0; 8], "element {e}");
            }
        }
    }

    /// A vertex two levels finer than the face it hangs on (at a quarter point) cannot be
    /// freed by one split: its share goes nowhere, while the midpoint vertices' still count.
    #[test]
    fn a_vertex_at_a_quarter_point_frees_nothing_this_step() {
        let mut mesh = two_cubes_right_refined();
        refine_at(&mut mesh, [1.0, 0.0, 0.0], [1.5, 0.5, 0.5]);
        let left = element_at(&mesh, [0.0; 3], [1.0; 3]);
        let finest = element_at(&mesh, [1.0, 0.0, 0.0], [1.25, 0.25, 0.25]);
        let out = freed_by_penalty_on(&mesh, finest);
        // Its hanging corners: (1, ¼, 0), (1, 0, ¼), (1, ¼, ¼), all at quarter points of the
        // left cube's face or edges.
        assert_eq!(out[left], [0.0; 8]);
        // The next finest element up the face has the midpoint (1, ½, 0) among its corners.
        let next = element_at(&mesh, [1.0, 0.25, 0.0], [1.25, 0.5, 0.25]);
        let out = freed_by_penalty_on(&mesh, next);
        assert!(out[left][0b010] > 0.0 && out[left][0b100] == 0.0);
        let all: f64 = out.iter().map(|o| o[7]).sum();
        assert!(all > 0.0 && all < 1.0, "{all}");
    }
}
