//! The multilinear map of a straight-sided quad/hex from reference to physical coordinates:
//! evaluation, Jacobian, a volume check, and its inversion (exact when the map is affine,
//! Newton's method otherwise).

use super::reference::{CORNERS, num_corners, shape, shape_grad};

/// Physical point of reference coordinates `xi`.
#[inline]
pub(crate) fn map(dim: usize, corners: &[[f64; 3]; 8], xi: &[f64; 3]) -> [f64; 3] {
    let mut n = [0.0; 8];
    shape(dim, xi, &mut n);
    let mut x = [0.0; 3];
    for (nk, c) in n.iter().zip(corners.iter()).take(num_corners(dim)) {
        for a in 0..3 {
            x[a] += nk * c[a];
        }
    }
    x
}

/// Jacobian `j[a][b]` = ∂x_a/∂ξ_b (only the leading dim × dim block is meaningful).
#[inline]
pub(crate) fn jacobian(dim: usize, corners: &[[f64; 3]; 8], xi: &[f64; 3]) -> [[f64; 3]; 3] {
    let mut g = [[0.0; 3]; 8];
    shape_grad(dim, xi, &mut g);
    let mut j = [[0.0; 3]; 3];
    for (gk, c) in g.iter().zip(corners.iter()).take(num_corners(dim)) {
        for a in 0..dim {
            for b in 0..dim {
                j[a][b] += c[a] * gk[b];
            }
        }
    }
    j
}

fn det(dim: usize, j: &[[f64; 3]; 3]) -> f64 {
    if dim == 2 {
        j[0][0] * j[1][1] - j[0][1] * j[1][0]
    } else {
        j[0][0] * (j[1][1] * j[2][2] - j[1][2] * j[2][1])
            - j[0][1] * (j[1][0] * j[2][2] - j[1][2] * j[2][0])
            + j[0][2] * (j[1][0] * j[2][1] - j[1][1] * j[2][0])
    }
}

/// Inverse of the leading dim × dim block (identity elsewhere), or None if singular.
fn inverse(dim: usize, j: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let d = det(dim, j);
    if d == 0.0 || !d.is_finite() {
        return None;
    }
    let mut inv = [[0.0; 3]; 3];
    if dim == 2 {
        inv[0][0] = j[1][1] / d;
        inv[0][1] = -j[0][1] / d;
        inv[1][0] = -j[1][0] / d;
        inv[1][1] = j[0][0] / d;
        inv[2][2] = 1.0;
    } else {
        // the transposed cofactor matrix over the determinant
        for (a, row) in inv.iter_mut().enumerate() {
            for (b, slot) in row.iter_mut().enumerate() {
                let (r0, r1) = ((b + 1) % 3, (b + 2) % 3);
                let (c0, c1) = ((a + 1) % 3, (a + 2) % 3);
                *slot = (j[r0][c0] * j[r1][c1] - j[r0][c1] * j[r1][c0]) / d;
            }
        }
    }
    Some(inv)
}

fn extent(dim: usize, corners: &[[f64; 3]; 8]) -> f64 {
    let mut e: f64 = 0.0;
    for a in 0..dim {
        let (lo, hi) = corners
            .iter()
            .take(num_corners(dim))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
                (lo.min(c[a]), hi.max(c[a]))
            });
        e = e.max(hi - lo);
    }
    e
}

/// The constant Jacobian of an affine element (a parallelogram or parallelepiped, e.g. an
/// axis-aligned box), or None when the map is not affine.
fn affine_jacobian(dim: usize, corners: &[[f64; 3]; 8]) -> Option<[[f64; 3]; 3]> {
    let origin = corners[0];
    let mut j = [[0.0; 3]; 3];
    // Edge vectors from corner 0 along ξ_x (corner 1), ξ_y (corner 3), ξ_z (corner 4).
    for (b, &c) in [1usize, 3, 4].iter().enumerate().take(dim) {
        for a in 0..dim {
            j[a][b] = corners[c][a] - origin[a];
        }
    }
    let affine_tol = 1e-13 * extent(dim, corners);
    let is_affine = CORNERS
        .iter()
        .enumerate()
        .take(num_corners(dim))
        .all(|(k, c)| {
            let xi = [f64::from(c[0]), f64::from(c[1]), f64::from(c[2])];
            (0..dim).all(|a| {
                let pred = origin[a] + (0..dim).map(|b| j[a][b] * xi[b]).sum::<f64>();
                (pred - corners[k][a]).abs() <= affine_tol
            })
        });
    is_affine.then_some(j)
}

/// True when the Jacobian determinant is clearly positive on the whole element: at every
/// corner and the centre, and for a general hex throughout (see [`hex_det_positive`]). A
/// quad's determinant is affine in ξ, so its corners decide.
pub(crate) fn has_positive_volume(dim: usize, corners: &[[f64; 3]; 8]) -> bool {
    let scale = extent(dim, corners);
    if !(scale > 0.0 && scale.is_finite()) {
        return false;
    }
    let floor = 1e-12 * scale.powi(dim as i32);
    let centre = [0.5; 3];
    let at_samples = CORNERS
        .iter()
        .take(num_corners(dim))
        .map(|c| [f64::from(c[0]), f64::from(c[1]), f64::from(c[2])])
        .chain(std::iter::once(centre))
        .all(|xi| det(dim, &jacobian(dim, corners, &xi)) > floor);
    // An affine map's determinant is constant; only a general hex needs the full check.
    at_samples
        && (dim == 2
            || affine_jacobian(dim, corners).is_some()
            || hex_det_positive(corners, [0.0; 3], 1.0, floor, 0))
}

/// Whether a hex's Jacobian determinant exceeds `floor` on the reference box at `origin`
/// with side `size`. The determinant of a trilinear map has degree 2 in each coordinate, so
/// its 27 Bernstein coefficients on the box bound it from below; where they are
/// inconclusive the box is halved (a few levels: an element that close to folding is
/// refused). Positive corners and centre do not suffice: a hex can fold along an edge.
#[allow(clippy::needless_range_loop)] // index loops say which axis each pass works along
fn hex_det_positive(
    corners: &[[f64; 3]; 8],
    origin: [f64; 3],
    size: f64,
    floor: f64,
    depth: usize,
) -> bool {
    const MAX_DEPTH: usize = 4;
    let t = [0.0, 0.5, 1.0];
    let mut b = [[[0.0f64; 3]; 3]; 3];
    for (i, bi) in b.iter_mut().enumerate() {
        for (j, bij) in bi.iter_mut().enumerate() {
            for (k, v) in bij.iter_mut().enumerate() {
                let xi = [
                    origin[0] + size * t[i],
                    origin[1] + size * t[j],
                    origin[2] + size * t[k],
                ];
                *v = det(3, &jacobian(3, corners, &xi));
                // A value is a value: at or below the floor anywhere settles it.
                if v.is_nan() || *v <= floor {
                    return false;
                }
            }
        }
    }
    bernstein_in_place(&mut b);
    if b.iter().flatten().flatten().all(|&c| c > floor) {
        return true;
    }
    if depth == MAX_DEPTH {
        return false;
    }
    let half = size / 2.0;
    (0..8).all(|c| {
        let o = [
            origin[0] + half * f64::from(c & 1),
            origin[1] + half * f64::from((c >> 1) & 1),
            origin[2] + half * f64::from((c >> 2) & 1),
        ];
        hex_det_positive(corners, o, half, floor, depth + 1)
    })
}

/// Jacobian determinant at reference point `xi`.
#[inline]
pub(crate) fn det_at(dim: usize, corners: &[[f64; 3]; 8], xi: &[f64; 3]) -> f64 {
    det(dim, &jacobian(dim, corners, xi))
}

/// True when the element map is affine (a parallelogram or parallelepiped): its Jacobian
/// determinant is then constant and uniform reference points map to uniform points.
pub(crate) fn is_affine(dim: usize, corners: &[[f64; 3]; 8]) -> bool {
    affine_jacobian(dim, corners).is_some()
}

/// The element's volume (area in 2D): the integral of the Jacobian determinant over the
/// reference cell. A quad's determinant is affine in ξ, so its value at the centre is its
/// mean; a hex's has degree 2 in each coordinate, which 2-point Gauss rules integrate exactly.
pub(crate) fn volume(dim: usize, corners: &[[f64; 3]; 8]) -> f64 {
    if dim == 2 {
        return det_at(2, corners, &[0.5, 0.5, 0.0]);
    }
    let g = 0.5 / 3f64.sqrt();
    let nodes = [0.5 - g, 0.5 + g];
    let mut sum = 0.0;
    for &x in &nodes {
        for &y in &nodes {
            for &z in &nodes {
                sum += det_at(3, corners, &[x, y, z]);
            }
        }
    }
    sum / 8.0
}

/// An upper bound of the Jacobian determinant over the reference cell, for rejection
/// sampling. A quad's determinant is affine in ξ, so its largest corner value is its maximum;
/// a hex's is bounded by its largest Bernstein coefficient (the polynomial lies in their hull).
pub(crate) fn det_upper_bound(dim: usize, corners: &[[f64; 3]; 8]) -> f64 {
    if dim == 2 {
        return CORNERS
            .iter()
            .take(4)
            .map(|c| det_at(2, corners, &[f64::from(c[0]), f64::from(c[1]), 0.0]))
            .fold(f64::NEG_INFINITY, f64::max);
    }
    let t = [0.0, 0.5, 1.0];
    let mut b = [[[0.0f64; 3]; 3]; 3];
    for (i, bi) in b.iter_mut().enumerate() {
        for (j, bij) in bi.iter_mut().enumerate() {
            for (k, v) in bij.iter_mut().enumerate() {
                *v = det_at(3, corners, &[t[i], t[j], t[k]]);
            }
        }
    }
    bernstein_in_place(&mut b);
    b.iter()
        .flatten()
        .flatten()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Values of a polynomial of degree ≤ 2 per coordinate at {0, ½, 1}³ → its Bernstein
/// coefficients, axis by axis: the middle one of a quadratic with values p0, pm, p1 is
/// 2 pm − (p0 + p1)/2.
#[allow(clippy::needless_range_loop)] // index loops say which axis each pass works along
fn bernstein_in_place(b: &mut [[[f64; 3]; 3]; 3]) {
    let mid = |p0: f64, pm: f64, p1: f64| 2.0 * pm - 0.5 * (p0 + p1);
    for i in 0..3 {
        for j in 0..3 {
            b[i][j][1] = mid(b[i][j][0], b[i][j][1], b[i][j][2]);
        }
    }
    for i in 0..3 {
        for j in 0..3 {
            b[i][1][j] = mid(b[i][0][j], b[i][1][j], b[i][2][j]);
        }
    }
    for i in 0..3 {
        for j in 0..3 {
            b[1][i][j] = mid(b[0][i][j], b[1][i][j], b[2][i][j]);
        }
    }
}

/// How to get reference coordinates from a physical point in one element.
#[derive(Debug, Clone)]
pub(crate) enum Inverse {
    /// x = origin + J ξ exactly (parallelograms/parallelepipeds, e.g. axis-aligned boxes).
    Affine {
        origin: [f64; 3],
        jinv: [[f64; 3]; 3],
    },
    /// A general multilinear map, inverted by Newton's method.
    Newton { corners: [[f64; 3]; 8] },
}

impl Inverse {
    pub(crate) fn new(dim: usize, corners: &[[f64; 3]; 8]) -> Inverse {
        match affine_jacobian(dim, corners).and_then(|j| inverse(dim, &j)) {
            Some(jinv) => Inverse::Affine {
                origin: corners[0],
                jinv,
            },
            None => Inverse::Newton { corners: *corners },
        }
    }

    /// Reference coordinates of `x`, or None if Newton's method fails to converge.
    #[inline]
    pub(crate) fn apply(&self, dim: usize, x: &[f64; 3]) -> Option<[f64; 3]> {
        match self {
            Inverse::Affine { origin, jinv } => {
                let mut xi = [0.0; 3];
                for a in 0..dim {
                    xi[a] = (0..dim).map(|b| jinv[a][b] * (x[b] - origin[b])).sum();
                }
                Some(xi)
            }
            Inverse::Newton { corners } => newton(dim, corners, x),
        }
    }
}

/// Reference coordinates of `x` in a general multilinear element.
fn newton(dim: usize, corners: &[[f64; 3]; 8], x: &[f64; 3]) -> Option<[f64; 3]> {
    // The element's image lies in the hull of its corners: a point outside their box is not
    // in it, whatever Newton would say.
    let scale = extent(dim, corners);
    for a in 0..dim {
        let (lo, hi) = corners[..num_corners(dim)]
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), c| {
                (l.min(c[a]), h.max(c[a]))
            });
        let slack = 1e-9 * scale;
        if !(x[a] >= lo - slack && x[a] <= hi + slack) {
            return None;
        }
    }
    let centre = [0.5, 0.5, if dim == 3 { 0.5 } else { 0.0 }];
    let first = newton_from(dim, corners, x, centre);
    if first.is_some_and(|xi| in_cell(dim, &xi)) {
        return first;
    }
    // A strongly distorted element's map folds just outside the reference cell, and Newton
    // from the centre can end on a preimage out there although the point is inside (or not
    // converge): restart from the grid points whose images lie nearest to the point.
    let ticks = [0.1, 0.3, 0.5, 0.7, 0.9];
    let mut starts: Vec<(f64, [f64; 3])> = Vec::with_capacity(125);
    for &t0 in &ticks {
        for &t1 in &ticks {
            for &t2 in if dim == 3 { &ticks[..] } else { &[0.0][..] } {
                let xi = [t0, t1, t2];
                let y = map(dim, corners, &xi);
                let d2: f64 = (0..dim).map(|a| (y[a] - x[a]).powi(2)).sum();
                starts.push((d2, xi));
            }
        }
    }
    starts.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (_, start) in starts.iter().take(3) {
        let xi = newton_from(dim, corners, x, *start);
        if xi.is_some_and(|xi| in_cell(dim, &xi)) {
            return xi;
        }
    }
    first
}

/// Inside the reference cell, up to round-off.
fn in_cell(dim: usize, xi: &[f64; 3]) -> bool {
    (0..dim).all(|a| (-1e-9..=1.0 + 1e-9).contains(&xi[a]))
}

fn newton_from(
    dim: usize,
    corners: &[[f64; 3]; 8],
    x: &[f64; 3],
    start: [f64; 3],
) -> Option<[f64; 3]> {
    let mut xi = start;
    for _ in 0..60 {
        let y = map(dim, corners, &xi);
        let jinv = inverse(dim, &jacobian(dim, corners, &xi))?;
        let mut step = [0.0; 3];
        let mut size: f64 = 0.0;
        for a in 0..dim {
            step[a] = (0..dim).map(|b| jinv[a][b] * (y[b] - x[b])).sum();
            size = size.max(step[a].abs());
        }
        for a in 0..dim {
            // Far outside the element the map may fold; keep iterates in a sane window.
            xi[a] = (xi[a] - step[a]).clamp(-2.0, 3.0);
        }
        if size < 1e-15 {
            return Some(xi);
        }
    }
    // Converged to round-off but not below the strict step size: accept if the residual is tiny.
    let y = map(dim, corners, &xi);
    let scale = extent(dim, corners);
    (0..dim)
        .all(|a| (y[a] - x[a]).abs() <= 1e-12 * scale)
        .then_some(xi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skewed() -> [[f64; 3]; 8] {
        let mut c = [[0.0; 3]; 8];
        let q = [[0.0, 0.0], [2.0, 0.2], [2.5, 1.7], [-0.3, 1.1]];
        for k in 0..8 {
            let z = if k < 4 { 0.0 } else { 1.0 + 0.1 * k as f64 };
            c[k] = [q[k % 4][0] + 0.2 * z, q[k % 4][1], z];
        }
        c
    }

    #[test]
    fn newton_inverts_a_skewed_hex_and_quad() {
        let c = skewed();
        for dim in [2, 3] {
            let inv = Inverse::new(dim, &c);
            assert!(matches!(inv, Inverse::Newton { .. }));
            let xi = [0.3, 0.8, if dim == 3 { 0.45 } else { 0.0 }];
            let x = map(dim, &c, &xi);
            let back = inv.apply(dim, &x).unwrap();
            for a in 0..dim {
                assert!((back[a] - xi[a]).abs() < 1e-12, "{back:?} vs {xi:?}");
            }
        }
    }

    #[test]
    fn newton_inverts_a_strongly_distorted_hex() {
        // Found by fuzzing: the Jacobian is positive throughout the cell, but the map folds
        // just outside it, and Newton from the centre ended on a preimage out there.
        let v = [
            [-1.0, -1.0, -1.0],
            [1.0, -2.0, -1.0],
            [-1.0, 1.0, -1.0],
            [1.0, 1.0, -1.0],
            [-1.0, -1.0, 1.0],
            [1.0, -1.0, 9.0],
            [-1.0, 1.0, 45.0],
            [0.0, 127.0, 1.0],
        ];
        let mut c = [[0.0; 3]; 8];
        for (k, &id) in [0, 1, 3, 2, 4, 5, 7, 6].iter().enumerate() {
            c[k] = v[id];
        }
        assert!(has_positive_volume(3, &c));
        let inv = Inverse::new(3, &c);
        let ticks: Vec<f64> = (0..=10).map(|i| f64::from(i) / 10.0).collect();
        for &a in &ticks {
            for &b in &ticks {
                for &z in &ticks {
                    let xi = [a, b, z];
                    let back = inv.apply(3, &map(3, &c, &xi)).unwrap();
                    for k in 0..3 {
                        assert!((back[k] - xi[k]).abs() < 1e-9, "{back:?} vs {xi:?}");
                    }
                }
            }
        }
        // Outside the corners' box: not in the element.
        assert_eq!(inv.apply(3, &[0.0, 200.0, 0.0]), None);
    }

    #[test]
    fn a_hex_folded_along_an_edge_is_refused() {
        // Found by fuzzing: positive Jacobian at the corners and the centre, −256 at the
        // middle of an edge; point location failed inside it.
        let v = [
            [-1.0, -1.0, -1.0],
            [1.0, -1.0, -1.0],
            [-1.0, 1.0, -1.0],
            [1.0, 1.0, -1.0],
            [-1.0, -1.0, 1.0],
            [1.0, 21.0, 0.0],
            [-4.0, 1.0, 46.0],
            [0.0, 127.0, 1.0],
        ];
        let mut c = [[0.0; 3]; 8];
        for (k, &id) in [0, 1, 3, 2, 4, 5, 7, 6].iter().enumerate() {
            c[k] = v[id];
        }
        assert!(det(3, &jacobian(3, &c, &[0.5, 0.5, 0.5])) > 0.0);
        assert!(det(3, &jacobian(3, &c, &[0.5, 0.0, 1.0])) < 0.0);
        assert!(!has_positive_volume(3, &c));
    }

    #[test]
    fn boxes_are_affine_and_volume_sign_is_checked() {
        let mut c = [[0.0; 3]; 8];
        for (k, r) in CORNERS.iter().enumerate() {
            c[k] = [
                1.0 + 4.0 * f64::from(r[0]),
                -2.0 + 4.0 * f64::from(r[1]),
                20.0 * f64::from(r[2]),
            ];
        }
        assert!(matches!(Inverse::new(3, &c), Inverse::Affine { .. }));
        assert_eq!(
            Inverse::new(3, &c).apply(3, &[3.0, 0.0, 5.0]),
            Some([0.5, 0.5, 0.25])
        );
        assert!(has_positive_volume(3, &c));
        c.swap(1, 3);
        assert!(!has_positive_volume(3, &c));
    }
}
