//! Hanging vertices and their constraints. A vertex hangs when it lies inside an edge of a
//! leaf (at any depth of that edge's split tree) or, in 3D, inside a face of a leaf (the face
//! centre and everything within the face's split tree). Each hanging vertex is the midpoint
//! of its two parents, so its constraint is the mean of theirs, composed until only
//! non-hanging vertices remain (e.g. 0.75/0.25 two levels down an edge).

use super::Mesh;
use super::keys::{edge_key, face_key};
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

fn hang_edge(mesh: &Mesh, a: u32, b: u32, mark: &mut [bool]) {
    if let Some(&m) = mesh.edge_mid.get(&edge_key(a, b)) {
        mark[m as usize] = true;
        hang_edge(mesh, a, m, mark);
        hang_edge(mesh, m, b, mark);
    }
}

/// Marks everything strictly inside quad face (v0, v1, v2, v3) (cyclic order); the face's
/// boundary edges are handled by the caller.
fn hang_face(mesh: &Mesh, f: [u32; 4], mark: &mut [bool]) {
    let Some(&c) = mesh.face_mid.get(&face_key(f)) else {
        return;
    };
    mark[c as usize] = true;
    let mut mids = [0u32; 4];
    for k in 0..4 {
        match mesh.edge_mid.get(&edge_key(f[k], f[(k + 1) % 4])) {
            Some(&m) => mids[k] = m,
            // A split face always has split edges; nothing more can hang inside otherwise.
            None => return,
        }
    }
    for &m in &mids {
        hang_edge(mesh, c, m, mark);
    }
    hang_face(mesh, [f[0], mids[0], c, mids[3]], mark);
    hang_face(mesh, [mids[0], f[1], mids[1], c], mark);
    hang_face(mesh, [c, mids[1], f[2], mids[2]], mark);
    hang_face(mesh, [mids[3], c, mids[2], f[3]], mark);
}

pub(super) fn compute(mesh: &Mesh) -> HangingConstraints {
    let nv = mesh.vertices.len();
    let mut mark = vec![false; nv];
    let edges: &[[usize; 2]] = if mesh.dim == 2 {
        &QUAD_EDGES
    } else {
        &HEX_EDGES
    };
    for &node in &mesh.leaves {
        let v = &mesh.nodes[node as usize].vertices;
        for e in edges {
            hang_edge(mesh, v[e[0]], v[e[1]], &mut mark);
        }
        if mesh.dim == 3 {
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
    // slot[v]: index into `hanging` of vertex v; parents precede children in id order.
    let mut slot = vec![u32::MAX; nv];
    let mut scratch: Vec<(u32, f64)> = Vec::new();
    for v in 0..nv {
        if !out.is_hanging[v] {
            continue;
        }
        let parents = mesh.vertex_parents[v];
        scratch.clear();
        for p in parents {
            debug_assert!((p as usize) < v, "a vertex's parents are older than it");
            let k = slot.get(p as usize).copied().unwrap_or(u32::MAX);
            if k == u32::MAX {
                scratch.push((p, 0.5));
            } else {
                let k = k as usize;
                scratch.extend(
                    out.terms[out.offsets[k]..out.offsets[k + 1]]
                        .iter()
                        .map(|&(u, w)| (u, 0.5 * w)),
                );
            }
        }
        scratch.sort_unstable_by_key(|t| t.0);
        let start = out.terms.len();
        for &(u, w) in &scratch {
            let merge = out.terms.len() > start && out.terms.last().is_some_and(|l| l.0 == u);
            match out.terms.last_mut() {
                Some(last) if merge => last.1 += w,
                _ => out.terms.push((u, w)),
            }
        }
        slot[v] = out.hanging.len() as u32;
        out.hanging.push(v as u32);
        out.parents.push(parents);
        out.offsets.push(out.terms.len());
    }
    out
}
