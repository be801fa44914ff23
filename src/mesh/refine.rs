//! Refinement: a marked leaf is halved along the reference axes of its [`Split`], all of them
//! (isotropic: 4 or 8 children, child i at parent corner i) or some (anisotropic hexes and
//! quads: 2 or 4 children), children keeping the parent's orientation.
//!
//! Vertices are shared through one map keyed by the pair of vertices a new vertex is the
//! midpoint of, as MFEM's ncmesh keys its nodes: an edge midpoint by the edge's ends, a face
//! centre by the midpoints of two opposite edges of the face. A face can be reached by either
//! pair, so a centre is looked up under both; it is created under the pair of the segment that
//! already cuts the face, if one does, so that MFEM (`QuadFaceSplitType`) finds exactly one
//! pair of parents. A body centre belongs to its element alone.
//!
//! Two sides of a face must never halve it across each other (the halves would overlap without
//! either being inside the other; neither MFEM nor the hanging constraints can express it):
//! `closure` widens anisotropic splits before they are made.

use std::sync::OnceLock;

use super::keys::{FxSet, child_tree_id, edge_key, face_key};
use super::reference::{CORNERS, num_corners, sides};
use super::{Mesh, NO_CHILD, Node, RefineOutcome, Split};

/// Index of lattice point p ∈ {0,1,2}^3 (half-units of the parent's reference box).
#[inline]
fn lat(p: [i32; 3]) -> usize {
    (p[0] + 3 * p[1] + 9 * p[2]) as usize
}

fn offset(mut p: [i32; 3], a: usize, d: i32) -> [i32; 3] {
    p[a] += d;
    p
}

fn unlat(l: usize) -> [i32; 3] {
    [(l % 3) as i32, (l / 3 % 3) as i32, (l / 9) as i32]
}

/// What a new vertex of a split is, by how many lattice coordinates are odd.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Midpoint of a parent edge (1 odd coordinate).
    Edge,
    /// Centre of a parent face of a hex (2 of 3 odd).
    Face,
    /// Centre of the parent (all odd).
    Body,
}

/// A vertex of the refined element that is not a parent corner.
struct Entity {
    at: usize,
    kind: Kind,
    /// Lattice points whose midpoint it is (along its first odd axis).
    parents: [usize; 2],
    /// For a face centre, the other pair (along its second odd axis).
    alt: [usize; 2],
    /// For a face centre or the body: the parent corners it is the mean of.
    corners: [usize; 8],
    num_corners: usize,
}

/// The plan of a split: its new vertices (edges first, then faces, then the body, so a
/// vertex's parents exist before it) and its children's corners as lattice points.
struct Plan {
    entities: Vec<Entity>,
    /// For child k: the lattice point of each of its corners, in corner order.
    children: Vec<[usize; 8]>,
    /// The parent corner each child sits at (its index in `CORNERS`).
    child_corner: Vec<usize>,
    /// Edges of the children that lie on a parent face, as lattice pairs: the segments by
    /// which a face is seen to be cut.
    face_edges: Vec<[usize; 2]>,
}

fn plan(dim: usize, mask: u8) -> Plan {
    let nc = num_corners(dim);
    let zmax = if dim == 3 { 2 } else { 0 };
    let split = |a: usize| mask & (1 << a) != 0;
    let mut entities = Vec::new();
    for odd in 1..=dim {
        for z in (0..=zmax).filter(|&z| z != 1 || split(2)) {
            for y in (0..3).filter(|&y| y != 1 || split(1)) {
                for x in (0..3).filter(|&x| x != 1 || split(0)) {
                    let p = [x, y, z];
                    let axes: Vec<usize> = (0..3).filter(|&a| p[a] == 1).collect();
                    if axes.len() != odd {
                        continue;
                    }
                    let a0 = axes[0];
                    let parents = [lat(offset(p, a0, -1)), lat(offset(p, a0, 1))];
                    let kind = if odd == dim {
                        Kind::Body
                    } else if odd == 1 {
                        Kind::Edge
                    } else {
                        Kind::Face
                    };
                    let mut corners = [0; 8];
                    let mut num = 0;
                    let mut alt = [0; 2];
                    if kind == Kind::Face {
                        let a1 = axes[1];
                        alt = [lat(offset(p, a1, -1)), lat(offset(p, a1, 1))];
                        for (d0, d1) in [(-1, -1), (1, -1), (1, 1), (-1, 1)] {
                            corners[num] = lat(offset(offset(p, a0, d0), a1, d1));
                            num += 1;
                        }
                    } else if kind == Kind::Body {
                        for c in CORNERS.iter().take(nc) {
                            corners[num] = lat(c.map(|x| 2 * i32::from(x)));
                            num += 1;
                        }
                    }
                    entities.push(Entity {
                        at: lat(p),
                        kind,
                        parents,
                        alt,
                        corners,
                        num_corners: num,
                    });
                }
            }
        }
    }
    let mut children = Vec::new();
    let mut child_corner = Vec::new();
    for (i, ci) in CORNERS.iter().enumerate().take(nc) {
        if (0..3).any(|a| ci[a] == 1 && !split(a)) {
            continue;
        }
        let mut corners = [0; 8];
        for (j, cj) in CORNERS.iter().enumerate().take(nc) {
            corners[j] = lat(std::array::from_fn(|a| {
                if split(a) {
                    i32::from(ci[a]) + i32::from(cj[a])
                } else {
                    2 * i32::from(cj[a])
                }
            }));
        }
        children.push(corners);
        child_corner.push(i);
    }
    let mut face_edges: Vec<[usize; 2]> = Vec::new();
    if dim == 3 {
        for child in &children {
            for e in super::reference::HEX_EDGES {
                let (p, q) = (unlat(child[e[0]]), unlat(child[e[1]]));
                // On a parent face (halves of the parent's edges included: the parent's
                // edge can lie inside a larger face): a shared even coordinate (0 or 2).
                let on_side = (0..3).any(|a| p[a] == q[a] && p[a] != 1);
                let pair = [child[e[0]].min(child[e[1]]), child[e[0]].max(child[e[1]])];
                if on_side && !face_edges.contains(&pair) {
                    face_edges.push(pair);
                }
            }
        }
    }
    Plan {
        entities,
        children,
        child_corner,
        face_edges,
    }
}

/// The plan of every split of every dimension, indexed by `[dim − 2][mask]`.
fn cached_plan(dim: usize, split: Split) -> &'static Plan {
    static PLANS: OnceLock<Vec<Vec<Plan>>> = OnceLock::new();
    &PLANS.get_or_init(|| {
        (2..=3)
            .map(|d| (0..(1u8 << d)).map(|m| plan(d, m)).collect())
            .collect()
    })[dim - 2][split.mask() as usize]
}

/// Child number `k` of a split with corner `corner` (for tree identities): isotropic children
/// keep their corner index, as before anisotropic splits existed; anisotropic ones get numbers
/// no isotropic child has.
fn child_number(dim: usize, split: Split, k: usize, corner: usize) -> usize {
    if split == Split::isotropic(dim) {
        corner
    } else {
        8 * (1 + split.mask() as usize) + k
    }
}

/// Sides of the parent (bit k = side k) that the child at `corner` of a split touches: those
/// holding a parent corner of the child's region.
fn child_side_mask(dim: usize, split: Split, corner: usize) -> u8 {
    let ci = CORNERS[corner];
    let in_region = |c: usize| (0..dim).all(|a| !split.halves(a) || CORNERS[c][a] == ci[a]);
    sides(dim)
        .iter()
        .enumerate()
        .filter(|(_, s)| s.iter().any(|&c| in_region(c)))
        .fold(0u8, |m, (k, _)| m | (1 << k))
}

pub(super) fn refine(mesh: &mut Mesh, splits: &[Split]) -> RefineOutcome {
    let first_new_vertex = mesh.vertices.len();
    let old_leaves = std::mem::take(&mut mesh.leaves);
    let mut leaves = Vec::with_capacity(
        old_leaves.len() + 7 * splits.iter().filter(|s| **s != Split::NONE).count(),
    );
    let mut refined = 0;
    for (&node, &s) in old_leaves.iter().zip(splits) {
        if s == Split::NONE {
            leaves.push(node);
        } else {
            let (first, n) = split(mesh, node as usize, s);
            leaves.extend(first..first + n);
            refined += 1;
        }
    }
    mesh.leaves = leaves;
    mesh.leaf_of_node.clear();
    mesh.leaf_of_node.resize(mesh.nodes.len(), u32::MAX);
    for (e, &n) in mesh.leaves.iter().enumerate() {
        mesh.leaf_of_node[n as usize] = e as u32;
    }
    RefineOutcome {
        refined,
        new_vertices: first_new_vertex..mesh.vertices.len(),
    }
}

/// For each prefix of `order` (leaf indices with their splits), how many vertices refining it
/// would create: `counts[k]` for the first k leaves (`counts[0] = 0`). Each leaf adds its
/// body centre and the edge midpoints and face centres that neither the mesh nor an earlier
/// leaf of the prefix has; keys as `split` makes them, from the leaf's corners alone, so the
/// count is exact, for the splits as given (before `closure` widens any).
pub(super) fn new_vertex_counts(mesh: &Mesh, order: &[(usize, Split)]) -> Vec<usize> {
    let dim = mesh.dim;
    let mut edges: FxSet<u64> = Default::default();
    let mut faces: FxSet<[u32; 4]> = Default::default();
    let mut counts = Vec::with_capacity(order.len() + 1);
    let mut total = 0;
    counts.push(0);
    for &(e, s) in order {
        let node = &mesh.nodes[mesh.leaves[e] as usize];
        let mut lattice = corner_lattice(dim, node);
        for ent in &cached_plan(dim, s).entities {
            let ends = ent.parents.map(|l| lattice[l]);
            let p = edge_key(ends[0], ends[1]);
            // A vertex the prefix makes gets an id no mesh vertex has, so that nothing is
            // found under it; the prefix's own vertices are told apart by what they split.
            let found = match ent.kind {
                Kind::Body => {
                    total += 1;
                    None
                }
                Kind::Edge => mesh.edge_mid(ends[0], ends[1]).or_else(|| {
                    total += usize::from(edges.insert(p));
                    None
                }),
                Kind::Face => {
                    let alt = ent.alt.map(|l| lattice[l]);
                    let found = mesh
                        .edge_mid(ends[0], ends[1])
                        .or_else(|| mesh.edge_mid(alt[0], alt[1]));
                    found.or_else(|| {
                        let corners = face_key([0, 1, 2, 3].map(|k| lattice[ent.corners[k]]));
                        total += usize::from(faces.insert(corners));
                        None
                    })
                }
            };
            lattice[ent.at] = found.unwrap_or(u32::MAX);
        }
        counts.push(total);
    }
    counts
}

fn corner_lattice(dim: usize, node: &Node) -> [u32; 27] {
    let mut lattice = [u32::MAX; 27];
    for (c, corner) in CORNERS.iter().enumerate().take(num_corners(dim)) {
        lattice[lat(corner.map(|x| 2 * i32::from(x)))] = node.vertices[c];
    }
    lattice
}

fn push_vertex(mesh: &mut Mesh, ids: &[u32], parents: [u32; 2]) -> u32 {
    let mut x = [0.0; 3];
    for &v in ids {
        let p = mesh.vertices[v as usize];
        for a in 0..3 {
            x[a] += p[a];
        }
    }
    let n = ids.len() as f64;
    let id = mesh.vertices.len() as u32;
    mesh.vertices.push(x.map(|s| s / n));
    mesh.vertex_parents.push(parents);
    id
}

impl Mesh {
    /// True when the segment from `a` to `b` is an edge of an element, on a face of its
    /// parent.
    pub(super) fn is_face_edge(&self, a: u32, b: u32) -> bool {
        self.face_edges.contains(&edge_key(a, b))
    }

    /// Midpoint of the edge from `a` to `b`, if it was split (or, on an anisotropically
    /// refined mesh, if a vertex is there however it was made).
    pub(super) fn edge_mid(&self, a: u32, b: u32) -> Option<u32> {
        self.mid.get(&edge_key(a, b)).copied().or_else(|| {
            let (x, y) = (
                self.vertices.get(a as usize)?,
                self.vertices.get(b as usize)?,
            );
            self.vertex_at(std::array::from_fn(|i| 0.5 * (x[i] + y[i])))
        })
    }
}

/// Splits tree node `node` by `split`; returns the index of its first child and the number
/// of children.
fn split(mesh: &mut Mesh, node: usize, split: Split) -> (u32, u32) {
    let dim = mesh.dim;
    let nc = num_corners(dim);
    let parent = mesh.nodes[node].clone();
    let plan = cached_plan(dim, split);
    let mut lattice = corner_lattice(dim, &parent);
    for ent in &plan.entities {
        let parents = ent.parents.map(|l| lattice[l]);
        let id = match ent.kind {
            Kind::Body => {
                let corners = ent.corners.map(|l| lattice[l]);
                push_vertex(mesh, &corners[..ent.num_corners], parents)
            }
            Kind::Edge => {
                let key = edge_key(parents[0], parents[1]);
                let v = mesh.edge_mid(parents[0], parents[1]).unwrap_or_else(|| {
                    let v = push_vertex(mesh, &parents, parents);
                    mesh.record_place(v);
                    v
                });
                mesh.mid.insert(key, v);
                v
            }
            Kind::Face => {
                let alt = ent.alt.map(|l| lattice[l]);
                let (p, q) = (edge_key(parents[0], parents[1]), edge_key(alt[0], alt[1]));
                let found = mesh
                    .edge_mid(parents[0], parents[1])
                    .or_else(|| mesh.edge_mid(alt[0], alt[1]));
                let v = found.unwrap_or_else(|| {
                    // Its parents are the ends of the chord that cuts the face, if one does
                    // (as MFEM's `CheckAnisoFace` has it).
                    let parents = if mesh.face_edges.contains(&q) {
                        alt
                    } else {
                        parents
                    };
                    let corners = ent.corners.map(|l| lattice[l]);
                    let v = push_vertex(mesh, &corners[..4], parents);
                    mesh.record_place(v);
                    v
                });
                // Found under both pairs from now on.
                mesh.mid.insert(p, v);
                mesh.mid.insert(q, v);
                v
            }
        };
        lattice[ent.at] = id;
    }
    for pair in &plan.face_edges {
        mesh.face_edges
            .insert(edge_key(lattice[pair[0]], lattice[pair[1]]));
    }
    let first = mesh.nodes.len() as u32;
    for (k, (corners, &ci)) in plan.children.iter().zip(&plan.child_corner).enumerate() {
        let mut vertices = [0u32; 8];
        for (v, &l) in vertices.iter_mut().zip(corners).take(nc) {
            *v = lattice[l];
        }
        let mut axis_levels = parent.axis_levels;
        for (a, l) in axis_levels.iter_mut().enumerate().take(dim) {
            *l += u8::from(split.halves(a));
        }
        mesh.nodes.push(Node {
            vertices,
            first_child: NO_CHILD,
            split: Split::NONE,
            level: parent.level + 1,
            axis_levels,
            attribute: parent.attribute,
            tree_id: child_tree_id(parent.tree_id, child_number(dim, split, k, ci)),
            root: parent.root,
            root_side_mask: parent.root_side_mask & child_side_mask(dim, split, ci),
        });
    }
    mesh.nodes[node].first_child = first;
    mesh.nodes[node].split = split;
    (first, plan.children.len() as u32)
}
