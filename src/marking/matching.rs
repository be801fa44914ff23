//! Choosing the planned splits together. Each element's best split (`estimate::best_split`)
//! is chosen alone, as if every vertex it makes took the network's value. But a vertex it
//! makes on a face or edge that a neighbour does not halve the same way hangs: constrained to
//! the neighbour's coarser interpolant, it costs a DOF and lowers little error. (If every
//! vertex a split makes hangs, the children's interpolant is the parent's: the split lowers
//! nothing.) Neighbours that halved different axes are where most hanging vertices of the
//! anisotropic runs come from.
//!
//! This pass revisits the planned elements and the leaves around the vertices they would
//! make, each choosing its split knowing the others', to raise
//!   Σ_K own_K(m_K) · (1 − β · hanging_K / made_K) + freed_K(m_K) − price · (vertices made),
//! where made_K counts the new vertices K's split makes and hanging_K those of them some
//! leaf around them does not make; `price` is the error decrease per vertex at which the
//! marking stopped. It is coordinate ascent over the leaves' splits (a few sweeps in a fixed
//! order, so deterministic): the planned elements may change their axes but stay refined
//! (Dörfler's set is kept), and their neighbours may join when that pays.

use rayon::prelude::*;

use super::around::{Touch, leaves_around, octant_step};
use crate::mesh::{FxMap, Mesh, Place, Split};

/// β: the share of a split's own gain lost per hanging vertex, as a fraction of the
/// vertices it makes. A hanging vertex lowers no error this step, but the next step's
/// `freeing` prices freeing it, so its value is deferred rather than lost; on CT_demo any β
/// from 0 to 0.5 gave the same error per DOF within 2 % (0.25 the lowest at 1,000–5,000
/// DOFs), β = 1 3 % more and 1.5 8 % more.
const HANGING_LOSS: f64 = 0.25;

/// Sweeps of coordinate ascent: the second settles what the first changed next to it.
const SWEEPS: usize = 2;

/// A leaf of the pass that can make a position: its split does when it halves `axes`.
#[derive(Clone, Copy)]
struct Member {
    slot: u32,
    axes: u8,
}

/// A point where a planned split could make a vertex (none is there yet).
struct Position {
    members: Vec<Member>,
    /// Leaves around the point that will not make a vertex there: outside the pass, or
    /// needing more than one split to.
    fixed: u32,
    /// Members whose current split makes it.
    made: u32,
}

impl Position {
    /// Made by some leaf and not by all of them: the vertex hangs.
    fn hangs_with(&self, made: u32) -> bool {
        made > 0 && (made < self.members.len() as u32 || self.fixed > 0)
    }
}

/// What each element's splits are predicted to lower Σ η² by, per split mask m (bit a:
/// axis a; entry 0, no split, is 0).
pub(super) struct SplitGains {
    /// The element's own η² (−∞: the mask is not allowed).
    pub own: Vec<[f64; 8]>,
    /// What the split frees on the neighbours whose corners hang on the element.
    pub freed: Vec<[f64; 8]>,
}

/// Revises `splits` (one per leaf; `Split::NONE` unplanned) as the module comment says, at
/// `price` per vertex made. For 3-D box meshes (the anisotropic plan); a no-op otherwise.
pub(super) fn match_splits(mesh: &Mesh, gains: &SplitGains, price: f64, splits: &mut [Split]) {
    let (own, freed) = (&gains.own[..], &gains.freed[..]);
    let n = mesh.num_elements();
    if mesh.dim() != 3 || splits.len() != n || !price.is_finite() || price <= 0.0 {
        return;
    }
    let planned: Vec<usize> = (0..n).filter(|&e| splits[e] != Split::NONE).collect();
    if planned.is_empty() {
        return;
    }
    let step = octant_step(mesh);
    // Each slot's lattice points: their places (the mesh's names of positions), the points
    // and their axes.
    let lattice = |elements: &[usize]| -> Vec<[Lattice; 19]> {
        elements
            .par_iter()
            .with_min_len(256)
            .map(|&e| {
                let (elo, ehi) = mesh.element_bbox(e);
                std::array::from_fn(|i| {
                    let (x, axes) = lattice_point(&elo, &ehi, i);
                    // A lattice point of a leaf lies in a start element; were it not, its
                    // bits name it alone.
                    let place = mesh
                        .place(x)
                        .unwrap_or((u32::MAX, x.map(|c| c.to_bits() as i64)));
                    (place, x, axes)
                })
            })
            .collect()
    };
    // The leaves around every lattice point of the planned elements, then of the leaves
    // that could make a vertex a planned split makes (the neighbours that may join); `None`
    // where a vertex is there already. Numbered in order of first sight.
    let mut index: FxMap<Place, u32> = FxMap::default();
    let mut around: Vec<Option<Vec<(usize, Touch)>>> = Vec::new();
    let mut visit = |points: &[[Lattice; 19]], around: &mut Vec<_>| -> Vec<[u32; 19]> {
        let mut fresh: Vec<[f64; 3]> = Vec::new();
        let ids = points
            .iter()
            .map(|ps| {
                ps.map(|(k, x, _)| {
                    *index.entry(k).or_insert_with(|| {
                        fresh.push(x);
                        (around.len() + fresh.len() - 1) as u32
                    })
                })
            })
            .collect();
        around.par_extend(fresh.par_iter().with_min_len(64).map(|&x| {
            let leaves = leaves_around(mesh, x, &step);
            (!leaves.iter().any(|l| l.1 == Touch::Corner)).then_some(leaves)
        }));
        ids
    };
    let mut slots: Vec<usize> = planned.clone();
    let mut slot_of = vec![u32::MAX; n];
    for (s, &e) in slots.iter().enumerate() {
        slot_of[e] = s as u32;
    }
    let mut points = lattice(&planned);
    let mut ids = visit(&points, &mut around);
    let mut neighbours: Vec<usize> = Vec::new();
    for (s, &e) in planned.iter().enumerate() {
        for (i, &(_, _, axes)) in points[s].iter().enumerate() {
            if splits[e].mask() & axes != axes {
                continue;
            }
            if let Some(leaves) = &around[ids[s][i] as usize] {
                neighbours.extend(leaves.iter().filter_map(|&(l, t)| {
                    (slot_of[l] == u32::MAX && matches!(t, Touch::Inside { at_mid: true, .. }))
                        .then_some(l)
                }));
            }
        }
    }
    neighbours.sort_unstable();
    neighbours.dedup();
    for &e in &neighbours {
        slot_of[e] = slots.len() as u32;
        slots.push(e);
    }
    let more = lattice(&neighbours);
    ids.extend(visit(&more, &mut around));
    points.extend(more);

    // Positions: the points where no vertex is, with the leaves that can make them.
    let mask: Vec<u8> = slots.iter().map(|&e| splits[e].mask()).collect();
    let positions: Vec<Position> = around
        .par_iter()
        .map(|leaves| {
            let mut pos = Position {
                members: Vec::new(),
                fixed: 0,
                made: 0,
            };
            for &(l, touch) in leaves.iter().flatten() {
                match touch {
                    Touch::Inside { axes, at_mid: true } if slot_of[l] != u32::MAX => {
                        let slot = slot_of[l];
                        pos.members.push(Member { slot, axes });
                        pos.made += u32::from(mask[slot as usize] & axes == axes);
                    }
                    _ => pos.fixed += 1,
                }
            }
            pos
        })
        .collect();
    let slot_positions: Vec<Vec<(u32, u8)>> = ids
        .par_iter()
        .zip(&points)
        .map(|(ids, ps)| {
            ids.iter()
                .zip(ps)
                .filter(|(p, _)| around[**p as usize].is_some())
                .map(|(&p, &(_, _, axes))| (p, axes))
                .collect()
        })
        .collect();
    let mut state = State {
        own,
        freed,
        price,
        slots: &slots,
        mask,
        made: vec![0; slots.len()],
        hanging: vec![0; slots.len()],
        positions,
        slot_positions,
    };
    for s in 0..slots.len() {
        let (made, hanging) = state.counts(s, state.mask[s]);
        state.made[s] = made;
        state.hanging[s] = hanging;
    }
    // The neighbours first: seeing the planned splits, they join where that frees the
    // planned elements' vertices; then the planned elements adapt to them.
    let order: Vec<usize> = (planned.len()..slots.len())
        .chain(0..planned.len())
        .collect();
    for _ in 0..SWEEPS {
        for &s in &order {
            let stays_refined = s < planned.len();
            state.improve(s, stays_refined);
        }
    }
    for (s, &e) in slots.iter().enumerate() {
        splits[e] = Split::axes(3, state.mask[s]).unwrap_or(Split::NONE);
    }
}

/// A lattice point of a slot: its place, the point, and the axes along which it lies at
/// the slot's midpoint (the axes a split must halve to make it).
type Lattice = (Place, [f64; 3], u8);

/// Point `i` (0..19) of the 3 × 3 × 3 lattice of the box `lo`..`hi` other than its corners,
/// with the axes along which it lies at the box's midpoint.
fn lattice_point(lo: &[f64; 3], hi: &[f64; 3], i: usize) -> ([f64; 3], u8) {
    // The 27 points by base-3 digits (0: lo, 1: midpoint, 2: hi), corners (no 1) skipped.
    let t = LATTICE[i];
    let digit = |a: usize| t / 3usize.pow(a as u32) % 3;
    let axes: u8 = (0..3).map(|a| u8::from(digit(a) == 1) << a).sum();
    let x = std::array::from_fn(|a| match digit(a) {
        0 => lo[a],
        1 => 0.5 * (lo[a] + hi[a]),
        _ => hi[a],
    });
    (x, axes)
}

/// The base-3 numbers below 27 with a digit 1: the lattice points that are not corners.
const LATTICE: [usize; 19] = {
    let mut out = [0; 19];
    let (mut t, mut k) = (0, 0);
    while t < 27 {
        if t % 3 == 1 || t / 3 % 3 == 1 || t / 9 == 1 {
            out[k] = t;
            k += 1;
        }
        t += 1;
    }
    out
};

struct State<'a> {
    own: &'a [[f64; 8]],
    freed: &'a [[f64; 8]],
    price: f64,
    slots: &'a [usize],
    mask: Vec<u8>,
    /// Per slot: the new vertices its split makes, and how many of those hang.
    made: Vec<u32>,
    hanging: Vec<u32>,
    positions: Vec<Position>,
    slot_positions: Vec<Vec<(u32, u8)>>,
}

impl State<'_> {
    /// The slot's share of the objective with split `mask`, `made` vertices of which
    /// `hanging` hang.
    fn value(&self, s: usize, mask: u8, made: u32, hanging: u32) -> f64 {
        if mask == 0 {
            return 0.0;
        }
        let e = self.slots[s];
        let kept = if made == 0 {
            1.0
        } else {
            1.0 - HANGING_LOSS * f64::from(hanging) / f64::from(made)
        };
        self.own[e][mask as usize] * kept + self.freed[e][mask as usize]
    }

    /// Vertices slot `s` makes with split `mask` (the others' splits as they are), and how
    /// many of them hang.
    fn counts(&self, s: usize, mask: u8) -> (u32, u32) {
        let old = self.mask[s];
        let (mut made, mut hanging) = (0, 0);
        for &(p, axes) in &self.slot_positions[s] {
            if mask & axes != axes {
                continue;
            }
            let pos = &self.positions[p as usize];
            let after = pos.made + 1 - u32::from(old & axes == axes);
            made += 1;
            hanging += u32::from(pos.hangs_with(after));
        }
        (made, hanging)
    }

    /// Change of the objective if slot `s` took split `mask`.
    fn gain_of(&self, s: usize, mask: u8) -> f64 {
        let old = self.mask[s];
        let (made, hanging) = self.counts(s, mask);
        let mut delta =
            self.value(s, mask, made, hanging) - self.value(s, old, self.made[s], self.hanging[s]);
        for &(p, axes) in &self.slot_positions[s] {
            let (was, now) = (old & axes == axes, mask & axes == axes);
            if was == now {
                continue;
            }
            let pos = &self.positions[p as usize];
            let after = pos.made + u32::from(now) - u32::from(was);
            delta -=
                self.price * (f64::from(u8::from(after > 0)) - f64::from(u8::from(pos.made > 0)));
            let (before, then) = (pos.hangs_with(pos.made), pos.hangs_with(after));
            if before == then {
                continue;
            }
            // The other leaves making the vertex: their share of hanging ones changes.
            for m in &pos.members {
                let o = m.slot as usize;
                if o == s || self.mask[o] & m.axes != m.axes {
                    continue;
                }
                let h = if then {
                    self.hanging[o] + 1
                } else {
                    self.hanging[o] - 1
                };
                delta += self.value(o, self.mask[o], self.made[o], h)
                    - self.value(o, self.mask[o], self.made[o], self.hanging[o]);
            }
        }
        delta
    }

    /// Gives slot `s` its best split, the others' as they are (unsplit not allowed when
    /// `stays_refined`).
    fn improve(&mut self, s: usize, stays_refined: bool) {
        let e = self.slots[s];
        let old = self.mask[s];
        let mut best = (old, 0.0);
        for mask in 0..8u8 {
            if mask == old
                || (mask == 0 && stays_refined)
                || (mask != 0 && self.own[e][mask as usize] == f64::NEG_INFINITY)
            {
                continue;
            }
            let g = self.gain_of(s, mask);
            // Strictly better by more than round-off: ties keep the split as it is.
            if g > best.1 + 1e-12 * self.price {
                best = (mask, g);
            }
        }
        if best.0 != old {
            self.apply(s, best.0);
        }
    }

    fn apply(&mut self, s: usize, mask: u8) {
        let old = self.mask[s];
        let (made, hanging) = self.counts(s, mask);
        for i in 0..self.slot_positions[s].len() {
            let (p, axes) = self.slot_positions[s][i];
            let (was, now) = (old & axes == axes, mask & axes == axes);
            if was == now {
                continue;
            }
            let pos = &self.positions[p as usize];
            let after = pos.made + u32::from(now) - u32::from(was);
            let (before, then) = (pos.hangs_with(pos.made), pos.hangs_with(after));
            if before != then {
                for k in 0..pos.members.len() {
                    let m = self.positions[p as usize].members[k];
                    let o = m.slot as usize;
                    if o != s && self.mask[o] & m.axes == m.axes {
                        if then {
                            self.hanging[o] += 1;
                        } else {
                            self.hanging[o] -= 1;
                        }
                    }
                }
            }
            self.positions[p as usize].made = after;
        }
        self.mask[s] = mask;
        self.made[s] = made;
        self.hanging[s] = hanging;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marking::around::tests::{element_at, two_cubes};

    const Y: usize = 0b010;
    const Z: usize = 0b100;
    const YZ: usize = 0b110;
    const ISO: usize = 0b111;

    fn split(mask: usize) -> Split {
        Split::axes(3, mask as u8).unwrap()
    }

    /// The left cube planned to halve y, the right one z: each split's two vertices on the
    /// shared face would hang on the other cube. Both halving z pays most (worked out in the
    /// comments), and leaves nothing hanging.
    #[test]
    fn neighbours_that_halve_different_axes_come_to_agree() {
        let mut mesh = two_cubes();
        let left = element_at(&mesh, [0.0; 3], [1.0; 3]);
        let right = element_at(&mesh, [1.0, 0.0, 0.0], [2.0, 1.0, 1.0]);
        let mut own = vec![[0.0; 8]; 2];
        (own[left][Y], own[left][Z], own[left][YZ]) = (1.0, 0.9, 1.5);
        (own[right][Y], own[right][Z], own[right][YZ]) = (0.9, 1.0, 1.5);
        let freed = vec![[0.0; 8]; 2];
        let mut splits = vec![Split::NONE; 2];
        (splits[left], splits[right]) = (split(Y), split(Z));
        let mut apart = mesh.clone();
        apart.refine_split(&splits).unwrap();
        assert!(apart.num_hanging() > 0);
        // With price 0.2, the right cube halving z: the left halving y keeps 1 − β/2 of each
        // gain for 8 vertices (0.4 − β), z 0.9 + 1 for 6 (0.7), y and z 1.5(1 − 3β/10) + 1
        // for 12 (0.1 − 0.45β). Then the right cube keeps z.
        match_splits(&mesh, &SplitGains { own, freed }, 0.2, &mut splits);
        assert_eq!((splits[left], splits[right]), (split(Z), split(Z)));
        mesh.refine_split(&splits).unwrap();
        assert_eq!(mesh.num_hanging(), 0);
        assert_eq!(mesh.num_vertices(), 12 + 6);
    }

    /// The left cube planned isotropically: five of its 19 vertices lie on the shared face
    /// and hang unless the right cube halves y and z. The right cube's own gain of 0.06 does
    /// not pay for its 5 vertices of its own at price 0.02 (0.1); with the vertices it frees
    /// (β · 5/19 of the left cube's gain of 1) it does. With a gain of 0.02 it still does not.
    #[test]
    fn a_neighbour_joins_when_freeing_the_planned_vertices_pays() {
        for (gain, joins) in [(0.06, true), (0.02, false)] {
            let mut mesh = two_cubes();
            let left = element_at(&mesh, [0.0; 3], [1.0; 3]);
            let right = element_at(&mesh, [1.0, 0.0, 0.0], [2.0, 1.0, 1.0]);
            let mut own = vec![[0.0; 8]; 2];
            own[left][ISO] = 1.0;
            (own[right][YZ], own[right][ISO]) = (gain, gain);
            let freed = vec![[0.0; 8]; 2];
            let mut splits = vec![Split::NONE; 2];
            splits[left] = split(ISO);
            match_splits(&mesh, &SplitGains { own, freed }, 0.02, &mut splits);
            let expected = if joins { split(YZ) } else { Split::NONE };
            assert_eq!(
                (splits[left], splits[right]),
                (split(ISO), expected),
                "{gain}"
            );
            mesh.refine_split(&splits).unwrap();
            assert_eq!(mesh.num_hanging(), if joins { 0 } else { 5 }, "{gain}");
        }
    }

    /// A mask a leaf may not take is never chosen, and a planned leaf is never unplanned,
    /// however little its split is worth.
    #[test]
    fn planned_leaves_stay_refined_along_allowed_axes() {
        let mesh = two_cubes();
        let left = element_at(&mesh, [0.0; 3], [1.0; 3]);
        let right = element_at(&mesh, [1.0, 0.0, 0.0], [2.0, 1.0, 1.0]);
        let mut own = vec![[f64::NEG_INFINITY; 8]; 2];
        for o in &mut own {
            (o[0], o[ISO]) = (0.0, 1e-9);
        }
        own[right][Y] = 10.0;
        let freed = vec![[0.0; 8]; 2];
        let mut splits = vec![Split::NONE; 2];
        (splits[left], splits[right]) = (split(ISO), split(ISO));
        match_splits(&mesh, &SplitGains { own, freed }, 1.0, &mut splits);
        assert_eq!((splits[left], splits[right]), (split(ISO), split(Y)));
    }
}
