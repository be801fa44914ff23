//! Uniform random points inside an element, not its bounding box: on a skewed element the
//! box holds points of other elements or outside the mesh (where the interpolant is NaN).
//!
//! An axis-aligned box element keeps the formula every box-mesh result was computed with,
//! x_a = lo_a + (hi_a − lo_a)·u per coordinate, so marks and DOFs on box meshes do not
//! change. Any other straight-sided element draws reference coordinates ξ uniformly and keeps
//! them with probability det J(ξ) / max det J (rejection), which makes the mapped points
//! uniform in physical space; an affine element (det J constant) keeps every draw.

use super::geometry::{det_at, det_upper_bound, is_affine, map, volume};
use super::reference::num_corners;
use super::{Mesh, NO_CHILD};
use crate::random::Stream;

/// Draws after which a rejection sampler takes its candidate anyway. The acceptance rate is
/// mean det J / max det J, far above 1e-4 for any element the reader accepts, so this never
/// happens in practice; it only bounds the loop.
const MAX_REJECTIONS: usize = 10_000;

/// Uniform points in one straight-sided quad or hex.
#[derive(Clone, Debug)]
pub struct ElementSampler {
    dim: usize,
    corners: [[f64; 3]; 8],
    lo: [f64; 3],
    hi: [f64; 3],
    /// The element is the axis-aligned box [lo, hi].
    is_box: bool,
    /// det J is constant: no rejection needed.
    affine: bool,
    det_max: f64,
    volume: f64,
}

impl ElementSampler {
    fn new(dim: usize, corners: [[f64; 3]; 8]) -> ElementSampler {
        let (lo, hi) = super::bbox(corners.iter().take(num_corners(dim)).copied());
        ElementSampler {
            dim,
            lo,
            hi,
            is_box: is_axis_aligned_box(dim, &corners, &lo, &hi),
            affine: is_affine(dim, &corners),
            det_max: det_upper_bound(dim, &corners),
            volume: volume(dim, &corners),
            corners,
        }
    }

    /// True when the element is an axis-aligned box (its corners are its bounding box's).
    pub fn is_box(&self) -> bool {
        self.is_box
    }

    /// Area (2D) or volume (3D).
    pub fn volume(&self) -> f64 {
        self.volume
    }

    /// A point uniform in the element, in physical coordinates (z = 0 in 2D).
    pub fn point(&self, s: &mut Stream) -> [f64; 3] {
        if self.is_box {
            let mut p = [0.0; 3];
            for (k, v) in p.iter_mut().enumerate().take(self.dim) {
                *v = s.in_range(self.lo[k], self.hi[k]);
            }
            return p;
        }
        self.map(&self.reference_point(s))
    }

    /// Reference coordinates of a point uniform in the element (in physical measure).
    pub fn reference_point(&self, s: &mut Stream) -> [f64; 3] {
        let mut xi = [0.0; 3];
        for _ in 0..MAX_REJECTIONS {
            for v in xi.iter_mut().take(self.dim) {
                *v = s.unit();
            }
            if self.affine || s.unit() * self.det_max <= det_at(self.dim, &self.corners, &xi) {
                break;
            }
        }
        xi
    }

    /// The physical point of reference coordinates `xi`.
    pub fn map(&self, xi: &[f64; 3]) -> [f64; 3] {
        map(self.dim, &self.corners, xi)
    }
}

/// Whether the corners are exactly the 2^d corners of their bounding box [lo, hi] (in any
/// order): the element is then that box.
fn is_axis_aligned_box(dim: usize, corners: &[[f64; 3]; 8], lo: &[f64; 3], hi: &[f64; 3]) -> bool {
    let nc = num_corners(dim);
    let mut seen = 0u32;
    for c in corners.iter().take(nc) {
        let mut pattern = 0usize;
        for a in 0..dim {
            if c[a] == hi[a] && lo[a] < hi[a] {
                pattern |= 1 << a;
            } else if c[a] != lo[a] {
                return false;
            }
        }
        seen |= 1 << pattern;
    }
    seen.count_ones() as usize == nc
}

impl Mesh {
    fn corners_of(&self, node: usize) -> [[f64; 3]; 8] {
        let mut c = [[0.0; 3]; 8];
        let vs = &self.nodes[node].vertices;
        for k in 0..num_corners(self.dim) {
            c[k] = self.vertices[vs[k] as usize];
        }
        c
    }

    /// Sampler of uniform points in leaf `e`.
    pub fn element_sampler(&self, e: usize) -> ElementSampler {
        ElementSampler::new(self.dim, self.corners_of(self.leaves[e] as usize))
    }

    /// Number of start elements (the RMSE points are drawn over them).
    pub(crate) fn num_start_elements(&self) -> usize {
        self.num_roots
    }

    /// Sampler of uniform points in start element `r` (its reference coordinates are those
    /// [`Mesh::descend`] takes).
    pub(crate) fn root_sampler(&self, r: usize) -> ElementSampler {
        ElementSampler::new(self.dim, self.corners_of(r))
    }

    /// The leaf holding the point of reference coordinates `xi` of start element `root`, and
    /// the point's reference coordinates in that leaf: the tree descent of point location,
    /// without the search for the start element.
    pub(crate) fn descend(&self, root: usize, mut xi: [f64; 3]) -> (usize, [f64; 3]) {
        for v in xi.iter_mut().take(self.dim) {
            *v = v.clamp(0.0, 1.0);
        }
        let mut node = root;
        loop {
            let first = self.nodes[node].first_child;
            if first == NO_CHILD {
                return (self.leaf_of_node[node] as usize, xi);
            }
            let (child, sub) = super::reference::child_of(self.dim, self.nodes[node].split, &xi);
            node = first as usize + child;
            xi = sub;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::reference::CORNERS;
    use crate::random::Purpose;

    fn sampler(dim: usize, pts: &[[f64; 3]]) -> ElementSampler {
        let mut c = [[0.0; 3]; 8];
        c[..pts.len()].copy_from_slice(pts);
        ElementSampler::new(dim, c)
    }

    #[test]
    fn boxes_are_recognized_in_any_corner_order() {
        let b = sampler(
            2,
            &[
                [1.0, 0.0, 0.0],
                [1.0, 2.0, 0.0],
                [0.0, 2.0, 0.0],
                [0.0, 0.0, 0.0],
            ],
        );
        assert!(b.is_box());
        assert_eq!(b.volume(), 2.0);
        let skew = sampler(
            2,
            &[
                [0.0, 0.0, 0.0],
                [1.0, 0.1, 0.0],
                [1.0, 1.0, 0.0],
                [0.0, 1.0, 0.0],
            ],
        );
        assert!(!skew.is_box());
    }

    #[test]
    fn points_of_a_trapezoid_are_inside_and_uniform() {
        // The trapezoid 0 ≤ x ≤ 1, 0 ≤ y ≤ 1 + x (area 1.5): P(x < 0.5) = 0.625 / 1.5.
        let t = sampler(
            2,
            &[
                [0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [1.0, 2.0, 0.0],
                [0.0, 1.0, 0.0],
            ],
        );
        assert!((t.volume() - 1.5).abs() < 1e-12);
        let mut s = Stream::new(3, 0, 0, Purpose::Rmse);
        let n = 200_000;
        let mut left = 0usize;
        for _ in 0..n {
            let p = t.point(&mut s);
            assert!(p[0] >= 0.0 && p[0] <= 1.0 && p[1] >= 0.0 && p[1] <= 1.0 + p[0] + 1e-12);
            left += usize::from(p[0] < 0.5);
        }
        let want = 0.625 / 1.5;
        let sigma = (want * (1.0 - want) / n as f64).sqrt();
        let got = left as f64 / n as f64;
        assert!(
            (got - want).abs() < 4.0 * sigma,
            "{got} vs {want} ± {sigma}"
        );
    }

    #[test]
    fn hex_volume_and_bound_hold() {
        let mut c = [[0.0; 3]; 8];
        for (k, r) in CORNERS.iter().enumerate() {
            let (x, y, z) = (f64::from(r[0]), f64::from(r[1]), f64::from(r[2]));
            // a hex whose top face is larger: x, y scaled by 1 + z
            c[k] = [x * (1.0 + z), y * (1.0 + z), z];
        }
        let h = ElementSampler::new(3, c);
        // ∫0^1 (1 + z)² dz = 7/3
        assert!((h.volume() - 7.0 / 3.0).abs() < 1e-12, "{}", h.volume());
        assert!(h.det_max >= 4.0 - 1e-12);
    }
}
