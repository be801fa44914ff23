//! The reference quad and hex: corner order, edges, faces and the multilinear shape functions,
//! all in MFEM's conventions so vertex lists read from and written to MFEM files mean the same.

/// Reference coordinates of the corners, quad corners being the first four (z = 0).
pub(crate) const CORNERS: [[u8; 3]; 8] = [
    [0, 0, 0],
    [1, 0, 0],
    [1, 1, 0],
    [0, 1, 0],
    [0, 0, 1],
    [1, 0, 1],
    [1, 1, 1],
    [0, 1, 1],
];

/// Quad edges, numbered as MFEM's boundary sides: y=0, x=1, y=1, x=0.
pub(crate) const QUAD_EDGES: [[usize; 2]; 4] = [[0, 1], [1, 2], [2, 3], [3, 0]];

/// Hex edges (MFEM's order).
pub(crate) const HEX_EDGES: [[usize; 2]; 12] = [
    [0, 1],
    [1, 2],
    [3, 2],
    [0, 3],
    [4, 5],
    [5, 6],
    [7, 6],
    [4, 7],
    [0, 4],
    [1, 5],
    [2, 6],
    [3, 7],
];

/// The four hex edges along each reference axis (ξ, η, ζ), in cyclic order around it, so
/// that where they cross a plane across that axis is the outline of the element's cut.
pub const HEX_EDGES_ALONG: [[[usize; 2]; 4]; 3] = [
    [[0, 1], [3, 2], [7, 6], [4, 5]],
    [[0, 3], [1, 2], [5, 6], [4, 7]],
    [[0, 4], [1, 5], [2, 6], [3, 7]],
];

/// Hex faces, outward oriented, cyclic corner order: z=0, y=0, x=1, y=1, x=0, z=1.
pub(crate) const HEX_FACES: [[usize; 4]; 6] = [
    [3, 2, 1, 0],
    [0, 1, 5, 4],
    [1, 2, 6, 5],
    [2, 3, 7, 6],
    [3, 0, 4, 7],
    [4, 5, 6, 7],
];

/// Number of corners of a d-dimensional reference element.
pub(crate) const fn num_corners(dim: usize) -> usize {
    if dim == 2 { 4 } else { 8 }
}

/// The element's sides (quad edges in 2D, hex faces in 3D) as corner lists.
pub(crate) fn sides(dim: usize) -> &'static [&'static [usize]] {
    const QUAD: [&[usize]; 4] = [
        &QUAD_EDGES[0],
        &QUAD_EDGES[1],
        &QUAD_EDGES[2],
        &QUAD_EDGES[3],
    ];
    const HEX: [&[usize]; 6] = [
        &HEX_FACES[0],
        &HEX_FACES[1],
        &HEX_FACES[2],
        &HEX_FACES[3],
        &HEX_FACES[4],
        &HEX_FACES[5],
    ];
    if dim == 2 { &QUAD } else { &HEX }
}

/// `CHILD_NUMBER[mask][corner]`: the number, among the children of a split halving the axes
/// of `mask`, of the child at parent corner `corner` (children are numbered in corner order,
/// skipping corners off the halved axes; isotropic children keep their corner index).
const CHILD_NUMBER: [[u8; 8]; 8] = {
    let mut t = [[0u8; 8]; 8];
    let mut mask = 0;
    while mask < 8 {
        let mut k = 0;
        let mut c = 0;
        while c < 8 {
            t[mask][c] = k;
            let on = (CORNERS[c][0] as usize)
                | ((CORNERS[c][1] as usize) << 1)
                | ((CORNERS[c][2] as usize) << 2);
            if on & !mask == 0 {
                k += 1;
            }
            c += 1;
        }
        mask += 1;
    }
    t
};

/// The child of a node split by `split` holding reference point ξ, and ξ in that child.
#[inline]
pub(crate) fn child_of(dim: usize, split: super::Split, xi: &[f64; 3]) -> (usize, [f64; 3]) {
    let upper = |a: usize| a < dim && split.halves(a) && xi[a] >= 0.5;
    let (bx, by, bz) = (upper(0), upper(1), upper(2));
    let planar = match (bx, by) {
        (false, false) => 0,
        (true, false) => 1,
        (true, true) => 2,
        (false, true) => 3,
    };
    let corner = planar + if bz { 4 } else { 0 };
    // Doubling and subtracting 0 or 1 is exact in binary floating point, so the descent
    // adds no round-off however deep the tree.
    let shift = |a: usize, b: bool| {
        if a >= dim {
            0.0
        } else if !split.halves(a) {
            xi[a]
        } else if b {
            2.0 * xi[a] - 1.0
        } else {
            2.0 * xi[a]
        }
    };
    let child = CHILD_NUMBER[split.mask() as usize][corner] as usize;
    (child, [shift(0, bx), shift(1, by), shift(2, bz)])
}

/// Multilinear shape functions at ξ, in corner order.
#[inline]
pub(crate) fn shape(dim: usize, xi: &[f64; 3], out: &mut [f64; 8]) {
    let (x, y) = (xi[0], xi[1]);
    let q = [(1.0 - x) * (1.0 - y), x * (1.0 - y), x * y, (1.0 - x) * y];
    if dim == 2 {
        out[..4].copy_from_slice(&q);
        out[4..].fill(0.0);
    } else {
        let z = xi[2];
        for k in 0..4 {
            out[k] = q[k] * (1.0 - z);
            out[k + 4] = q[k] * z;
        }
    }
}

/// Derivatives of the shape functions: `grad[k][a]` = ∂N_k/∂ξ_a.
#[inline]
pub(crate) fn shape_grad(dim: usize, xi: &[f64; 3], grad: &mut [[f64; 3]; 8]) {
    let (x, y) = (xi[0], xi[1]);
    let q = [(1.0 - x) * (1.0 - y), x * (1.0 - y), x * y, (1.0 - x) * y];
    let dqx = [-(1.0 - y), 1.0 - y, y, -y];
    let dqy = [-(1.0 - x), -x, x, 1.0 - x];
    if dim == 2 {
        for k in 0..4 {
            grad[k] = [dqx[k], dqy[k], 0.0];
        }
        for g in grad.iter_mut().skip(4) {
            *g = [0.0; 3];
        }
    } else {
        let z = xi[2];
        for k in 0..4 {
            grad[k] = [dqx[k] * (1.0 - z), dqy[k] * (1.0 - z), -q[k]];
            grad[k + 4] = [dqx[k] * z, dqy[k] * z, q[k]];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_along_an_axis_are_hex_edges_in_cyclic_order() {
        for (axis, edges) in HEX_EDGES_ALONG.iter().enumerate() {
            let mut seen = Vec::new();
            for &[i, j] in edges {
                assert!(HEX_EDGES.contains(&[i, j]), "[{i}, {j}] is not a hex edge");
                let (a, b) = (CORNERS[i], CORNERS[j]);
                assert_eq!((a[axis], b[axis]), (0, 1), "[{i}, {j}] along axis {axis}");
                seen.push([a[(axis + 1) % 3], a[(axis + 2) % 3]]);
            }
            // Consecutive edges differ in one of the other two coordinates: a cycle, not a bow tie.
            for k in 0..4 {
                let (p, q) = (seen[k], seen[(k + 1) % 4]);
                let differ = (p[0] != q[0]) as u8 + (p[1] != q[1]) as u8;
                assert_eq!(differ, 1, "axis {axis}: {seen:?}");
            }
        }
    }

    #[test]
    fn child_descent_matches_corner_table() {
        for (i, c) in CORNERS.iter().enumerate() {
            let xi = [
                0.25 + 0.5 * f64::from(c[0]),
                0.25 + 0.5 * f64::from(c[1]),
                0.25 + 0.5 * f64::from(c[2]),
            ];
            let (child, sub) = child_of(3, super::super::Split::isotropic(3), &xi);
            assert_eq!(child, i);
            assert_eq!(sub, [0.5, 0.5, 0.5]);
            if i < 4 {
                assert_eq!(child_of(2, super::super::Split::isotropic(2), &xi).0, i);
            }
        }
    }

    #[test]
    fn shape_functions_are_a_partition_of_unity() {
        let mut n = [0.0; 8];
        shape(3, &[0.3, 0.7, 0.1], &mut n);
        assert!((n.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        let mut g = [[0.0; 3]; 8];
        shape_grad(3, &[0.3, 0.7, 0.1], &mut g);
        for a in 0..3 {
            assert!(g.iter().map(|gk| gk[a]).sum::<f64>().abs() < 1e-15);
        }
    }
}
