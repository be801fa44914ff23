//! Point location: a uniform grid over the start elements' bounding boxes picks candidate
//! start elements, the point's reference coordinates in one of them are computed (exactly
//! for affine elements, by Newton otherwise), and the refinement tree is descended in
//! reference coordinates, which children split exactly in halves. Also interpolation of
//! vertex values at points.

use rayon::prelude::*;

use super::Mesh;
use super::error::MeshError;
use super::reference::{num_corners, shape};

/// Reference coordinates this far outside [0,1] (relative to the element) still count as
/// inside, then are clamped: round-off on shared boundaries and the domain's boundary.
const INSIDE_TOL: f64 = 1e-10;

/// Start elements listed per cell of a uniform grid over the mesh's bounding box.
#[derive(Debug, Clone, Default)]
pub(crate) struct RootGrid {
    lo: [f64; 3],
    inv_cell: [f64; 3],
    n: [usize; 3],
    cell_start: Vec<u32>,
    cell_roots: Vec<u32>,
}

impl RootGrid {
    pub(crate) fn build(mesh: &Mesh) -> RootGrid {
        let dim = mesh.dim;
        let (lo, hi) = mesh.bounding_box();
        let per_axis = ((2 * mesh.num_roots) as f64)
            .powf(1.0 / dim as f64)
            .ceil()
            .clamp(1.0, 512.0) as usize;
        // Mean extent of a start element along each axis: no axis gets cells much finer than
        // the elements (8 × 9 × 6000 flat elements would otherwise each sit in hundreds of
        // cells of a cubic grid and fill gigabytes of lists).
        let mut mean = [0.0f64; 3];
        for r in 0..mesh.num_roots {
            let (blo, bhi) = super::bbox(
                mesh.nodes[r].vertices[..num_corners(dim)]
                    .iter()
                    .map(|&v| mesh.vertices[v as usize]),
            );
            for a in 0..dim {
                mean[a] += (bhi[a] - blo[a]) / mesh.num_roots as f64;
            }
        }
        let mut n = [1usize; 3];
        let mut inv_cell = [0.0; 3];
        for a in 0..dim {
            let ext = hi[a] - lo[a];
            let across = if mean[a] > 0.0 {
                (2.0 * ext / mean[a]).ceil().clamp(1.0, 512.0) as usize
            } else {
                1
            };
            n[a] = per_axis.min(across);
            inv_cell[a] = if ext > 0.0 { n[a] as f64 / ext } else { 0.0 };
        }
        let ncell = n[0] * n[1] * n[2];
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); ncell];
        let grid = RootGrid {
            lo,
            inv_cell,
            n,
            cell_start: Vec::new(),
            cell_roots: Vec::new(),
        };
        for r in 0..mesh.num_roots {
            let (blo, bhi) = super::bbox(
                mesh.nodes[r].vertices[..num_corners(dim)]
                    .iter()
                    .map(|&v| mesh.vertices[v as usize]),
            );
            let mut c0 = [0usize; 3];
            let mut c1 = [0usize; 3];
            for a in 0..dim {
                let pad = 1e-9 * (bhi[a] - blo[a]);
                c0[a] = grid.cell(a, blo[a] - pad);
                c1[a] = grid.cell(a, bhi[a] + pad);
            }
            for k in c0[2]..=c1[2] {
                for j in c0[1]..=c1[1] {
                    for i in c0[0]..=c1[0] {
                        lists[i + n[0] * (j + n[1] * k)].push(r as u32);
                    }
                }
            }
        }
        let mut cell_start = Vec::with_capacity(ncell + 1);
        let mut cell_roots = Vec::new();
        cell_start.push(0);
        for l in lists {
            cell_roots.extend(l);
            cell_start.push(cell_roots.len() as u32);
        }
        RootGrid {
            cell_start,
            cell_roots,
            ..grid
        }
    }

    #[inline]
    fn cell(&self, a: usize, x: f64) -> usize {
        let c = ((x - self.lo[a]) * self.inv_cell[a]).floor();
        if c.is_nan() || c < 0.0 {
            0
        } else {
            (c as usize).min(self.n[a] - 1)
        }
    }

    #[inline]
    pub(super) fn candidates(&self, dim: usize, x: &[f64; 3]) -> &[u32] {
        let mut idx = 0;
        let mut stride = 1;
        for (a, &xa) in x.iter().enumerate().take(dim) {
            idx += self.cell(a, xa) * stride;
            stride *= self.n[a];
        }
        &self.cell_roots[self.cell_start[idx] as usize..self.cell_start[idx + 1] as usize]
    }
}

impl Mesh {
    /// For each point: a leaf holding it and the point's reference coordinates in [0,1]^d
    /// there, or None outside the mesh. Parallel over points; O(depth) per point.
    pub fn locate(&self, points: &[[f64; 3]]) -> Vec<Option<(usize, [f64; 3])>> {
        points
            .par_iter()
            .with_min_len(1024)
            .map(|p| self.locate_point(p))
            .collect()
    }

    /// [`Mesh::locate`] for one point.
    pub fn locate_point(&self, x: &[f64; 3]) -> Option<(usize, [f64; 3])> {
        let dim = self.dim;
        for &r in self.root_grid.candidates(dim, x) {
            let Some(xi) = self.root_inverse[r as usize].apply(dim, x) else {
                continue;
            };
            if !(0..dim).all(|a| xi[a] >= -INSIDE_TOL && xi[a] <= 1.0 + INSIDE_TOL) {
                continue;
            }
            return Some(self.descend(r as usize, xi));
        }
        None
    }

    /// Value of the order-1 interpolant of vertex `values` (vertex-major, `v * ncomp + c`) at
    /// leaf `e`, reference coordinates `xi`, written to `out` (`ncomp` entries).
    #[inline]
    pub fn evaluate_in_element(
        &self,
        values: &[f64],
        ncomp: usize,
        e: usize,
        xi: &[f64; 3],
        out: &mut [f64],
    ) {
        let mut n = [0.0; 8];
        shape(self.dim, xi, &mut n);
        out.fill(0.0);
        for (nk, &v) in n.iter().zip(self.element_vertices(e)) {
            let base = v as usize * ncomp;
            for (o, val) in out.iter_mut().zip(&values[base..base + ncomp]) {
                *o += nk * val;
            }
        }
    }

    /// Interpolates vertex values (vertex-major, `v * ncomp + c`, hanging ones already
    /// constrained) at `points`, writing `out[p * ncomp + c]`. Points outside the mesh get
    /// NaN; returns how many there were. Parallel over points.
    pub fn interpolate(
        &self,
        values: &[f64],
        ncomp: usize,
        points: &[[f64; 3]],
        out: &mut [f64],
    ) -> Result<usize, MeshError> {
        self.check_values(values.len(), ncomp)?;
        if out.len() != points.len() * ncomp {
            return Err(MeshError::Length {
                what: "interpolation output",
                expected: points.len() * ncomp,
                got: out.len(),
            });
        }
        let outside = points
            .par_iter()
            .zip(out.par_chunks_mut(ncomp))
            .with_min_len(1024)
            .map(|(p, o)| match self.locate_point(p) {
                Some((e, xi)) => {
                    self.evaluate_in_element(values, ncomp, e, &xi, o);
                    0usize
                }
                None => {
                    o.fill(f64::NAN);
                    1
                }
            })
            .sum();
        Ok(outside)
    }
}
