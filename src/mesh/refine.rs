//! Isotropic refinement: a marked leaf gets 4 (8) children, child i at parent corner i with
//! the parent's orientation. New vertices are shared through maps keyed by what they split
//! (an edge by its sorted ends, a face by its sorted corners); a body centre is always new.

use std::sync::OnceLock;

use super::keys::{FxSet, child_tree_id, edge_key, face_key};
use super::reference::{CORNERS, num_corners};
use super::{Mesh, NO_CHILD, Node, RefineOutcome};

/// Index of lattice point p ∈ {0,1,2}^3 (half-units of the parent's reference box).
#[inline]
fn lat(p: [i32; 3]) -> usize {
    (p[0] + 3 * p[1] + 9 * p[2]) as usize
}

fn offset(mut p: [i32; 3], a: usize, d: i32) -> [i32; 3] {
    p[a] += d;
    p
}

/// A vertex of the refined element that is not a parent corner: an edge midpoint (1 odd
/// lattice coordinate), a face centre (2) or the body centre (`dim`).
struct Entity {
    at: usize,
    odd: usize,
    /// Lattice points whose midpoint it is (along its first odd axis).
    parents: [usize; 2],
    /// For a 3D face: its corners in cyclic order.
    corners: [usize; 4],
}

/// Edges first, then faces, then the body: a vertex's parents always exist before it.
fn plan(dim: usize) -> Vec<Entity> {
    let zmax = if dim == 3 { 2 } else { 0 };
    let mut out = Vec::new();
    for odd in 1..=dim {
        for z in 0..=zmax {
            for y in 0..3 {
                for x in 0..3 {
                    let p = [x, y, z];
                    let axes: Vec<usize> = (0..3).filter(|&a| p[a] == 1).collect();
                    if axes.len() != odd {
                        continue;
                    }
                    let a0 = axes[0];
                    let parents = [lat(offset(p, a0, -1)), lat(offset(p, a0, 1))];
                    let mut corners = [0; 4];
                    if odd == 2 && dim == 3 {
                        let a1 = axes[1];
                        for (k, (d0, d1)) in
                            [(-1, -1), (1, -1), (1, 1), (-1, 1)].into_iter().enumerate()
                        {
                            corners[k] = lat(offset(offset(p, a0, d0), a1, d1));
                        }
                    }
                    out.push(Entity {
                        at: lat(p),
                        odd,
                        parents,
                        corners,
                    });
                }
            }
        }
    }
    out
}

fn cached_plan(dim: usize) -> &'static [Entity] {
    static PLANS: OnceLock<[Vec<Entity>; 2]> = OnceLock::new();
    &PLANS.get_or_init(|| [plan(2), plan(3)])[dim - 2]
}

/// Sides of the reference element holding corner i (bit k = side k), per dimension.
fn corner_side_mask(dim: usize, i: usize) -> u8 {
    let sides = super::reference::sides(dim);
    sides
        .iter()
        .enumerate()
        .filter(|(_, s)| s.contains(&i))
        .fold(0u8, |m, (k, _)| m | (1 << k))
}

pub(super) fn refine(mesh: &mut Mesh, marked: &[bool]) -> RefineOutcome {
    let first_new_vertex = mesh.vertices.len();
    let nc = num_corners(mesh.dim);
    let old_leaves = std::mem::take(&mut mesh.leaves);
    let mut leaves =
        Vec::with_capacity(old_leaves.len() + 7 * marked.iter().filter(|&&m| m).count());
    let mut refined = 0;
    for (&node, &m) in old_leaves.iter().zip(marked) {
        if m {
            let first = split(mesh, node as usize);
            leaves.extend(first..first + nc as u32);
            refined += 1;
        } else {
            leaves.push(node);
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

/// For each prefix of `order` (leaf indices), how many vertices refining it would create:
/// `counts[k]` for the first k leaves (`counts[0] = 0`). Each leaf adds its body centre and
/// the edge midpoints and face centres that neither the mesh nor an earlier leaf of the prefix
/// has; keys as `split` makes them, from the leaf's corners alone, so the count is exact.
pub(super) fn new_vertex_counts(mesh: &Mesh, order: &[usize]) -> Vec<usize> {
    let dim = mesh.dim;
    let nc = num_corners(dim);
    let mut edges: FxSet<u64> = Default::default();
    let mut faces: FxSet<[u32; 4]> = Default::default();
    let mut counts = Vec::with_capacity(order.len() + 1);
    let mut total = 0;
    counts.push(0);
    for &e in order {
        let node = &mesh.nodes[mesh.leaves[e] as usize];
        let mut lattice = [u32::MAX; 27];
        for (c, corner) in CORNERS.iter().enumerate().take(nc) {
            lattice[lat(corner.map(|x| 2 * i32::from(x)))] = node.vertices[c];
        }
        for ent in cached_plan(dim) {
            total += if ent.odd == dim {
                1
            } else if ent.odd == 1 {
                let key = edge_key(lattice[ent.parents[0]], lattice[ent.parents[1]]);
                usize::from(!mesh.edge_mid.contains_key(&key) && edges.insert(key))
            } else {
                let key = face_key(ent.corners.map(|l| lattice[l]));
                usize::from(!mesh.face_mid.contains_key(&key) && faces.insert(key))
            };
        }
        counts.push(total);
    }
    counts
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

/// Splits tree node `node`; returns the index of its first child.
fn split(mesh: &mut Mesh, node: usize) -> u32 {
    let dim = mesh.dim;
    let nc = num_corners(dim);
    let parent = mesh.nodes[node].clone();
    let mut lattice = [u32::MAX; 27];
    for (c, corner) in CORNERS.iter().enumerate().take(nc) {
        lattice[lat(corner.map(|x| 2 * i32::from(x)))] = parent.vertices[c];
    }
    for ent in cached_plan(dim) {
        let parents = ent.parents.map(|l| lattice[l]);
        let id = if ent.odd == dim {
            // body centre (quad centre in 2D): belongs to this element alone
            push_vertex(mesh, &parent.vertices[..nc], parents)
        } else if ent.odd == 1 {
            let key = edge_key(parents[0], parents[1]);
            match mesh.edge_mid.get(&key) {
                Some(&v) => v,
                None => {
                    let v = push_vertex(mesh, &parents, parents);
                    mesh.edge_mid.insert(key, v);
                    v
                }
            }
        } else {
            let corners = ent.corners.map(|l| lattice[l]);
            let key = face_key(corners);
            match mesh.face_mid.get(&key) {
                Some(&v) => v,
                None => {
                    let v = push_vertex(mesh, &corners, parents);
                    mesh.face_mid.insert(key, v);
                    v
                }
            }
        };
        lattice[ent.at] = id;
    }
    let first = mesh.nodes.len() as u32;
    for (i, ci) in CORNERS.iter().enumerate().take(nc) {
        let mut vertices = [0u32; 8];
        for (j, cj) in CORNERS.iter().enumerate().take(nc) {
            vertices[j] = lattice[lat([0, 1, 2].map(|a| i32::from(ci[a]) + i32::from(cj[a])))];
        }
        mesh.nodes.push(Node {
            vertices,
            first_child: NO_CHILD,
            level: parent.level + 1,
            attribute: parent.attribute,
            tree_id: child_tree_id(parent.tree_id, i),
            root: parent.root,
            root_side_mask: parent.root_side_mask & corner_side_mask(dim, i),
        });
    }
    mesh.nodes[node].first_child = first;
    first
}
