//! The leaves around a point of a box mesh and how each touches it: found by locating points
//! a small step off the point in every octant, so one search serves coarse and fine
//! neighbours alike. Used by `freeing` (the leaves a hanging vertex hangs on) and `matching`
//! (the leaves around a vertex a planned split would make).

use crate::mesh::Mesh;

/// How a leaf touches a point of its closure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Touch {
    /// The point is a corner of the leaf: a vertex is there.
    Corner,
    /// The point lies inside the leaf's face or edge (or the leaf itself) along `axes`; the
    /// leaf's split makes a vertex there exactly when it halves those axes, which needs the
    /// point at the leaf's midpoint along them (`at_mid`).
    Inside { axes: u8, at_mid: bool },
}

/// A step well inside the leaves around any vertex of `mesh`, and well outside the mesh at
/// its border (relative 1e-7 of the mesh's extent).
pub(super) fn octant_step(mesh: &Mesh) -> [f64; 3] {
    let (lo, hi) = mesh.bounding_box();
    std::array::from_fn(|i| 1e-7 * (hi[i] - lo[i]))
}

/// The distinct leaves around point `x`, each with how it touches `x`, in octant order.
pub(super) fn leaves_around(mesh: &Mesh, x: [f64; 3], step: &[f64; 3]) -> Vec<(usize, Touch)> {
    let dim = mesh.dim();
    let mut out: Vec<(usize, Touch)> = Vec::with_capacity(1 << dim);
    for octant in 0..1usize << dim {
        let mut p = x;
        for (i, pi) in p.iter_mut().enumerate().take(dim) {
            *pi += if octant >> i & 1 == 1 {
                step[i]
            } else {
                -step[i]
            };
        }
        let Some((e, _)) = mesh.locate_point(&p) else {
            continue;
        };
        if out.iter().any(|t| t.0 == e) {
            continue;
        }
        let (lo, hi) = mesh.element_bbox(e);
        let (mut axes, mut at_mid) = (0u8, true);
        for i in 0..dim {
            let (a, b) = (lo[i], hi[i]);
            let tol = 1e-9 * (b - a);
            if x[i] > a + tol && x[i] < b - tol {
                axes |= 1 << i;
                at_mid &= (x[i] - 0.5 * (a + b)).abs() <= tol;
            }
        }
        let touch = if axes == 0 {
            Touch::Corner
        } else {
            Touch::Inside { axes, at_mid }
        };
        out.push((e, touch));
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Two unit cubes along x.
    pub(in crate::marking) fn two_cubes() -> Mesh {
        let text =
            "MFEM INLINE mesh v1.0\ntype = hex\nnx = 2\nny = 1\nnz = 1\nsx = 2\nsy = 1\nsz = 1\n";
        Mesh::parse(text, "two cubes").unwrap()
    }

    /// The leaf spanning `lo`..`hi`.
    pub(in crate::marking) fn element_at(mesh: &Mesh, lo: [f64; 3], hi: [f64; 3]) -> usize {
        (0..mesh.num_elements())
            .find(|&e| mesh.element_bbox(e) == (lo, hi))
            .unwrap()
    }

    /// Around the centre of the cubes' shared face: both cubes, the point inside that face
    /// (along y and z) at its midpoint; around a corner of the face: a vertex.
    #[test]
    fn the_leaves_around_a_point_and_how_they_touch_it() {
        let mesh = two_cubes();
        let step = octant_step(&mesh);
        let (left, right) = (
            element_at(&mesh, [0.0; 3], [1.0; 3]),
            element_at(&mesh, [1.0, 0.0, 0.0], [2.0, 1.0, 1.0]),
        );
        let inside = Touch::Inside {
            axes: 0b110,
            at_mid: true,
        };
        assert_eq!(
            leaves_around(&mesh, [1.0, 0.5, 0.5], &step),
            vec![(left, inside), (right, inside)]
        );
        let quarter = leaves_around(&mesh, [1.0, 0.25, 0.5], &step);
        assert!(quarter.iter().all(|t| t.1
            == Touch::Inside {
                axes: 0b110,
                at_mid: false
            }));
        let corner = leaves_around(&mesh, [1.0, 0.0, 0.0], &step);
        assert_eq!(corner, vec![(left, Touch::Corner), (right, Touch::Corner)]);
        // An edge midpoint on the border: the left cube only, inside along x.
        assert_eq!(
            leaves_around(&mesh, [0.5, 0.0, 0.0], &step),
            vec![(
                left,
                Touch::Inside {
                    axes: 0b001,
                    at_mid: true
                }
            )]
        );
    }
}
