//! Anisotropic splits made safe for nonconforming meshes: the splits of one refinement are
//! widened (axes added) until every two leaves facing each other across a face nest, one's
//! face inside the other's, and no split halves a face across a chord that already cuts it.
//! Either would leave two cuts of one face that are not one inside the other: they could not
//! be constrained, and MFEM (`QuadFaceSplitType`) could not load them.
//!
//! Works on meshes whose start elements are boxes with reference axes along x, y, z (then
//! every element is a box and a face's size along each axis says how often it was halved).
//! If the mesh was nested before, a pair that stops nesting differs by one halving in each of
//! the face's two axes, so adding one axis to one of the two always mends it.

use super::{Mesh, Split};

/// Coarser by at least one halving (sizes of nested dyadic faces differ by factors of 2).
fn finer(x: f64, y: f64) -> bool {
    x < 0.75 * y
}

impl Mesh {
    /// Box of tree node `node` (start elements are axis-aligned boxes: corner 0 is the low
    /// corner, the last one the high corner).
    pub(super) fn node_box(&self, node: usize) -> ([f64; 3], [f64; 3]) {
        let v = &self.nodes[node].vertices;
        let last = if self.dim == 2 { 2 } else { 6 };
        (
            self.vertices[v[0] as usize],
            self.vertices[v[last] as usize],
        )
    }

    /// Leaves across side `side` (0: low, 1: high) of axis `normal` of leaf `e` whose faces
    /// overlap its face with area, into `out` (`stack`: the descent's workspace).
    fn leaves_across(
        &self,
        e: usize,
        normal: usize,
        side: usize,
        out: &mut Vec<usize>,
        stack: &mut Vec<usize>,
    ) {
        out.clear();
        let (lo, hi) = self.node_box(self.leaves[e] as usize);
        let plane = if side == 0 { lo[normal] } else { hi[normal] };
        let mut p = [0.0; 3];
        for a in 0..self.dim {
            p[a] = 0.5 * (lo[a] + hi[a]);
        }
        p[normal] = plane + if side == 0 { -1e-6 } else { 1e-6 } * (hi[normal] - lo[normal]);
        let Some(root) = self
            .root_grid
            .candidates(self.dim, &p)
            .iter()
            .map(|&r| r as usize)
            .find(|&r| {
                let (rlo, rhi) = self.node_box(r);
                (0..self.dim).all(|a| rlo[a] <= p[a] && p[a] <= rhi[a])
            })
        else {
            return;
        };
        // Positions made as means of 2 or of 4 vertices differ in the last bits.
        let tol: [f64; 3] = std::array::from_fn(|a| 1e-9 * (hi[a] - lo[a]));
        stack.clear();
        stack.push(root);
        while let Some(n) = stack.pop() {
            let (blo, bhi) = self.node_box(n);
            let t = tol[normal];
            let across = if side == 0 {
                blo[normal] < plane - t && plane - t <= bhi[normal]
            } else {
                blo[normal] <= plane + t && plane + t < bhi[normal]
            };
            let overlaps = (0..self.dim)
                .filter(|&a| a != normal)
                .all(|a| blo[a] < hi[a] - tol[a] && bhi[a] > lo[a] + tol[a]);
            if !(across && overlaps) {
                continue;
            }
            let node = &self.nodes[n];
            if node.first_child == super::NO_CHILD {
                out.push(self.leaf_of_node[n] as usize);
            } else {
                let first = node.first_child as usize;
                stack.extend(first..first + node.split.num_children());
            }
        }
    }

    /// `split` of leaf `e`, widened until it halves none of the leaf's faces across a chord
    /// already cutting that face (an edge between the midpoints of two opposite edges, made
    /// by the element on the other side): such a face is cut both ways instead, as MFEM's
    /// `CheckAnisoFace` requires.
    fn crossing_cuts(&self, e: usize, mut split: Split) -> Split {
        let node = &self.nodes[self.leaves[e] as usize];
        let corner = |p: [usize; 3]| {
            let c = super::reference::CORNERS
                .iter()
                .position(|c| (0..3).all(|a| usize::from(c[a]) == p[a]))
                .unwrap_or(0);
            node.vertices[c]
        };
        loop {
            let before = split;
            for normal in 0..3 {
                let (a, b) = ((normal + 1) % 3, (normal + 2) % 3);
                for side in 0..2 {
                    for (cut, other) in [(a, b), (b, a)] {
                        if !split.halves(cut) || split.halves(other) {
                            continue;
                        }
                        // This split's chord joins the midpoints of the face's edges along
                        // `cut`; the crossing one those of its edges along `other`.
                        let end = |o: usize, c: usize| {
                            let mut p = [0; 3];
                            p[normal] = side;
                            p[other] = o;
                            p[cut] = c;
                            corner(p)
                        };
                        let m0 = self.edge_mid(end(0, 0), end(1, 0));
                        let m1 = self.edge_mid(end(0, 1), end(1, 1));
                        if let (Some(m0), Some(m1)) = (m0, m1)
                            && self.is_face_edge(m0, m1)
                        {
                            split = split.with_axis(other);
                        }
                    }
                }
            }
            if split == before {
                return split;
            }
        }
    }

    /// Widens `splits` (one per leaf) until facing leaves nest after the refinement (module
    /// comment). Only for axis-aligned box meshes in 3-D; quads' faces are edges, which
    /// always nest.
    pub(super) fn close_splits(&self, splits: &mut [Split]) {
        if self.dim != 3 {
            return;
        }
        let size = |e: usize, s: Split| -> [f64; 3] {
            let (lo, hi) = self.node_box(self.leaves[e] as usize);
            std::array::from_fn(|a| (hi[a] - lo[a]) * if s.halves(a) { 0.5 } else { 1.0 })
        };
        let mut work: Vec<usize> = (0..splits.len())
            .filter(|&e| splits[e] != Split::NONE)
            .collect();
        let (mut across, mut stack) = (Vec::new(), Vec::new());
        while let Some(e) = work.pop() {
            let crossing = self.crossing_cuts(e, splits[e]);
            if crossing != splits[e] {
                splits[e] = crossing;
                work.push(e);
                continue;
            }
            for normal in 0..3 {
                let (a, b) = ((normal + 1) % 3, (normal + 2) % 3);
                for side in 0..2 {
                    self.leaves_across(e, normal, side, &mut across, &mut stack);
                    for &f in &across {
                        for (a, b) in [(a, b), (b, a)] {
                            let (se, sf) = (size(e, splits[e]), size(f, splits[f]));
                            // e finer along a, f finer along b: they would cross.
                            if !(finer(se[a], sf[a]) && finer(sf[b], se[b])) {
                                continue;
                            }
                            if !splits[e].halves(b) && !finer(sf[b], 0.5 * se[b]) {
                                splits[e] = splits[e].with_axis(b);
                                work.push(e);
                            } else if !splits[f].halves(a) && !finer(se[a], 0.5 * sf[a]) {
                                splits[f] = splits[f].with_axis(a);
                                work.push(f);
                            } else {
                                debug_assert!(false, "leaves {e} and {f} did not nest before");
                            }
                        }
                    }
                }
            }
        }
    }
}
