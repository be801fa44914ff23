//! Hanging vertices and their constraints. A vertex hangs when it lies inside an edge of a
//! leaf (at any depth of that edge's split tree) or, in 3D, inside a face of a leaf (on the
//! segments cutting the face and within its halves, at any depth). Each hanging vertex is the midpoint
//! of its two parents, so its constraint is the mean of theirs, composed until only
//! non-hanging vertices remain (e.g. 0.75/0.25 two levels down an edge).

use super::Mesh;
use super::reference::{HEX_EDGES, HEX_FACES, QUAD_EDGES};

/// The hanging vertices of a mesh, each with its parents and its constraint.
#[derive(Debug, Clone, Default)]
pub struct HangingConstraints {
    is_hanging: Vec<bool>,
    /// Hanging vertex ids, increasing.
    hanging: Vec<u32>,
    parents: Vec<[u32; 2]>,
    /// `terms[offsets[k]..offsets[k + 1]]` is hanging vertex k's constraint.
    offsets: Vec<usize>,
    terms: Vec<(u32, f64)>,
}

/// One hanging vertex.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraint<'a> {
    pub vertex: u32,
    /// The two vertices it is the midpoint of (what MFEM's `vertex_parents` lists).
    pub parents: [u32; 2],
    /// (non-hanging vertex, weight), weights summing to 1, vertex ids increasing.
    pub terms: &'a [(u32, f64)],
}

impl HangingConstraints {
    /// Number of hanging vertices.
    pub fn len(&self) -> usize {
        self.hanging.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hanging.is_empty()
    }

    /// True when vertex `v` hangs.
    pub fn is_hanging(&self, v: usize) -> bool {
        self.is_hanging.get(v).copied().unwrap_or(false)
    }

    /// Hanging vertices in increasing id order.
    pub fn iter(&self) -> impl Iterator<Item = Constraint<'_>> + '_ {
        (0..self.hanging.len()).map(move |k| self.entry(k))
    }

    /// The constraint of vertex `v`, if it hangs.
    pub fn get(&self, v: u32) -> Option<Constraint<'_>> {
        self.hanging.binary_search(&v).ok().map(|k| self.entry(k))
    }

    fn entry(&self, k: usize) -> Constraint<'_> {
        Constraint {
            vertex: self.hanging[k],
            parents: self.parents[k],
            terms: &self.terms[self.offsets[k]..self.offsets[k + 1]],
        }
    }
}

/// Marks everything inside segment (a, b) (at any depth of its split tree). With `parents`
/// (a leaf edge): each such vertex hangs from the ends of the segment it halves; after
/// anisotropic splits a face centre can be the midpoint of a chord made after it, and its
/// constraint and MFEM's parents must be that chord's ends. A pair already right keeps its
/// order.
fn hang_edge(mesh: &Mesh, a: u32, b: u32, mark: &mut [bool], mut parents: Option<&mut [[u32; 2]]>) {
    if let Some(m) = mesh.edge_mid(a, b) {
        mark[m as usize] = true;
        if let Some(p) = parents.as_deref_mut() {
            let q = &mut p[m as usize];
            if *q != [a, b] && *q != [b, a] {
                *q = [a, b];
            }
        }
        hang_edge(mesh, a, m, mark, parents.as_deref_mut());
        hang_edge(mesh, m, b, mark, parents);
    }
}

/// Marks everything strictly inside quad face (v0, v1, v2, v3) (cyclic order); the face's
/// boundary edges are handled by the caller. A cut face is cut once, by the segment between
/// the midpoints of two opposite edges (a face cut both ways is cut one way, then its halves
/// the other, as MFEM sees it); the segment's inside and each half's inside hang.
fn hang_face(mesh: &Mesh, f: [u32; 4], mark: &mut [bool]) {
    let mids: [Option<u32>; 4] = std::array::from_fn(|k| mesh.edge_mid(f[k], f[(k + 1) % 4]));
    // The fine side cuts the face once: by a chord that is an edge, or both ways at once (a
    // centre, found under both pairs); a chord that is an edge decides the direction.
    let pair = |i: usize| mids[i].zip(mids[i + 2]);
    let chord = |i: usize| pair(i).filter(|&(a, b)| mesh.is_face_edge(a, b));
    let centre = |i: usize| pair(i).filter(|&(a, b)| mesh.edge_mid(a, b).is_some());
    let first = if chord(0).is_some() || (chord(1).is_none() && centre(0).is_some()) {
        pair(0)
    } else {
        None
    };
    if let Some((a, b)) = first {
        hang_edge(mesh, a, b, mark, None);
        hang_face(mesh, [f[0], a, b, f[3]], mark);
        hang_face(mesh, [a, f[1], f[2], b], mark);
    } else if let Some((a, b)) = chord(1).or_else(|| centre(1)) {
        hang_edge(mesh, a, b, mark, None);
        hang_face(mesh, [f[0], f[1], a, b], mark);
        hang_face(mesh, [b, a, f[2], f[3]], mark);
    }
}

pub(super) fn compute(mesh: &Mesh) -> HangingConstraints {
    let nv = mesh.vertices.len();
    let mut mark = vec![false; nv];
    let edges: &[[usize; 2]] = if mesh.dim == 2 {
        &QUAD_EDGES
    } else {
        &HEX_EDGES
    };
    // Vertices inside leaf edges take their parents from them (`hang_edge`); other hanging
    // vertices keep the pair they were made from.
    let mut parents: Vec<[u32; 2]> = mesh.vertex_parents.clone();
    for &node in &mesh.leaves {
        let v = &mesh.nodes[node as usize].vertices;
        for e in edges {
            hang_edge(mesh, v[e[0]], v[e[1]], &mut mark, Some(&mut parents));
        }
    }
    if mesh.dim == 3 {
        for &node in &mesh.leaves {
            let v = &mesh.nodes[node as usize].vertices;
            for f in &HEX_FACES {
                hang_face(mesh, [v[f[0]], v[f[1]], v[f[2]], v[f[3]]], &mut mark);
            }
        }
    }
    let mut out = HangingConstraints {
        is_hanging: mark,
        offsets: vec![0],
        ..Default::default()
    };
    // Constraints composed parents first (a parent can be younger than its child, see above).
    let mut terms: Vec<Option<Vec<(u32, f64)>>> = vec![None; nv];
    let mut stack: Vec<u32> = Vec::new();
    for v in 0..nv {
        if !out.is_hanging[v] || terms[v].is_some() {
            continue;
        }
        stack.push(v as u32);
        while let Some(&top) = stack.last() {
            let t = top as usize;
            let pending: Vec<u32> = parents[t]
                .iter()
                .copied()
                .filter(|&p| out.is_hanging[p as usize] && terms[p as usize].is_none())
                .collect();
            if !pending.is_empty() {
                debug_assert!(stack.len() <= nv, "constraint parents form a cycle");
                stack.extend(pending);
                continue;
            }
            stack.pop();
            if terms[t].is_some() {
                continue;
            }
            let mut combined: Vec<(u32, f64)> = Vec::new();
            for p in parents[t] {
                match &terms[p as usize] {
                    Some(tp) => combined.extend(tp.iter().map(|&(u, w)| (u, 0.5 * w))),
                    None => combined.push((p, 0.5)),
                }
            }
            combined.sort_unstable_by_key(|t| t.0);
            let mut merged: Vec<(u32, f64)> = Vec::with_capacity(combined.len());
            for (u, w) in combined {
                match merged.last_mut() {
                    Some(last) if last.0 == u => last.1 += w,
                    _ => merged.push((u, w)),
                }
            }
            terms[t] = Some(merged);
        }
    }
    for v in 0..nv {
        if let Some(t) = terms[v].take() {
            out.terms.extend(t);
            out.hanging.push(v as u32);
            out.parents.push(parents[v]);
            out.offsets.push(out.terms.len());
        }
    }
    out
}
