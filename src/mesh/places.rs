//! Vertices by position, for meshes refined anisotropically. After splits along different
//! axes one point can be the midpoint of several segments (an edge, and chords of faces in
//! two planes), made in any order, so pair keys alone do not find every vertex. On a mesh of
//! axis-aligned boxes every vertex sits on the dyadic lattice of a start element, so its
//! integer coordinates in the lowest-numbered start element holding it name it exactly
//! (rounding a position that is a lattice point within round-off is unambiguous).

use super::Mesh;
use super::keys::FxMap;

/// Lattice points per start-element side: deeper than any refinement that fits in memory.
const SCALE: f64 = (1u64 << 40) as f64;

/// A start element and integer coordinates in its box.
pub(crate) type Place = (u32, [i64; 3]);

/// Vertex ids by place.
#[derive(Debug, Clone, Default)]
pub(super) struct Places(FxMap<Place, u32>);

impl Mesh {
    /// The place of point `x`, if a start element holds it: equal for equal points however
    /// they were computed.
    pub(crate) fn place(&self, x: [f64; 3]) -> Option<Place> {
        let dim = self.dim;
        let root = self
            .root_grid
            .candidates(dim, &x)
            .iter()
            .copied()
            .filter(|&r| {
                let (lo, hi) = self.node_box(r as usize);
                (0..dim).all(|a| {
                    let tol = 1e-9 * (hi[a] - lo[a]);
                    lo[a] - tol <= x[a] && x[a] <= hi[a] + tol
                })
            })
            .min()?;
        let (lo, hi) = self.node_box(root as usize);
        let mut at = [0i64; 3];
        for a in 0..dim {
            at[a] = ((x[a] - lo[a]) / (hi[a] - lo[a]) * SCALE).round() as i64;
        }
        Some((root, at))
    }

    /// Starts the index (at the first anisotropic refinement) with every vertex.
    pub(super) fn index_places(&mut self) {
        if self.places.is_some() {
            return;
        }
        let mut places = Places::default();
        for (v, &x) in self.vertices.iter().enumerate() {
            if let Some(p) = self.place(x) {
                places.0.insert(p, v as u32);
            }
        }
        self.places = Some(places);
    }

    /// The vertex at point `x`, when the index is kept.
    pub(super) fn vertex_at(&self, x: [f64; 3]) -> Option<u32> {
        let places = self.places.as_ref()?;
        places.0.get(&self.place(x)?).copied()
    }

    /// Records new vertex `v` in the index, when it is kept.
    pub(super) fn record_place(&mut self, v: u32) {
        if self.places.is_some()
            && let Some(p) = self.place(self.vertices[v as usize])
            && let Some(places) = self.places.as_mut()
        {
            places.0.insert(p, v);
        }
    }
}
