//! Point location and interpolation: a multilinear field is reproduced exactly on refined
//! nonconforming meshes (its interpolant is exact once hanging values are constrained),
//! constrained fields are continuous across nonconforming interfaces, skewed elements are
//! inverted by Newton, and points outside give None / NaN.

mod common;

use common::meshes::{
    Rng, SKEWED_HEXES, SKEWED_QUADS, refine_randomly, refine_randomly_anisotropic,
};
use pruningamr::mesh::Mesh;

fn random_points(mesh: &Mesh, n: usize, seed: u64) -> Vec<[f64; 3]> {
    let (lo, hi) = mesh.bounding_box();
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let mut x = [0.0; 3];
            for a in 0..mesh.dim() {
                x[a] = lo[a] + (hi[a] - lo[a]) * rng.unit();
            }
            x
        })
        .collect()
}

fn multilinear(x: &[f64; 3]) -> [f64; 2] {
    let [x, y, z] = *x;
    [
        1.0 + 2.0 * x - 3.0 * y + 0.5 * z + x * y - 2.0 * y * z + x * z + 4.0 * x * y * z,
        x - y * z,
    ]
}

fn smooth(x: &[f64; 3]) -> f64 {
    (3.0 * x[0]).sin() * (2.0 * x[1]).cos() + (x[2] * 1.7).exp()
}

const HEXES: &str =
    "MFEM INLINE mesh v1.0\ntype = hex\nnx = 2\nny = 3\nnz = 2\nsx = 2\nsy = 1.5\nsz = 1\n";
const QUADS: &str = "MFEM INLINE mesh v1.0\ntype = quad\nnx = 3\nny = 2\nsx = 1.5\nsy = 1\n";

#[test]
fn multilinear_fields_are_interpolated_exactly_on_nonconforming_meshes() {
    for (text, rounds, aniso) in [
        (QUADS, 7, false),
        (HEXES, 4, false),
        (QUADS, 7, true),
        (HEXES, 5, true),
    ] {
        let mut mesh = Mesh::parse(text, "inline").unwrap();
        if aniso {
            refine_randomly_anisotropic(&mut mesh, rounds, 0.35, 11);
        } else {
            refine_randomly(&mut mesh, rounds, 0.35, 11);
        }
        assert!(mesh.num_hanging() > 0);
        let raw: Vec<f64> = mesh.vertices().iter().flat_map(multilinear).collect();
        let constrained = mesh.constrain(&raw, 2).unwrap();
        for (r, c) in raw.iter().zip(&constrained) {
            assert!(
                (r - c).abs() < 1e-12,
                "constraining changed a multilinear field: {r} vs {c}"
            );
        }
        let points = random_points(&mesh, 20_000, 5);
        let mut out = vec![0.0; points.len() * 2];
        assert_eq!(
            mesh.interpolate(&constrained, 2, &points, &mut out)
                .unwrap(),
            0
        );
        for (p, got) in points.iter().zip(out.chunks(2)) {
            let want = multilinear(p);
            for c in 0..2 {
                assert!(
                    (got[c] - want[c]).abs() < 1e-11,
                    "at {p:?}: {got:?} vs {want:?}"
                );
            }
        }
        // the located element holds the point, in reference coordinates inside [0,1]^d
        for (p, hit) in points.iter().zip(mesh.locate(&points)) {
            let (e, xi) = hit.unwrap();
            let (lo, hi) = mesh.element_bbox(e);
            for a in 0..mesh.dim() {
                assert!((0.0..=1.0).contains(&xi[a]));
                let x = lo[a] + xi[a] * (hi[a] - lo[a]);
                assert!((x - p[a]).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn constrained_fields_are_continuous_at_every_hanging_vertex() {
    for (text, rounds, aniso, seed) in [
        (QUADS, 6, false, 2),
        (HEXES, 3, false, 2),
        (QUADS, 7, true, 2),
        (HEXES, 5, true, 2),
        (HEXES, 5, true, 3),
        (HEXES, 6, true, 4),
    ] {
        let mut mesh = Mesh::parse(text, "inline").unwrap();
        if aniso {
            refine_randomly_anisotropic(&mut mesh, rounds, 0.4, seed);
        } else {
            refine_randomly(&mut mesh, rounds, 0.4, seed);
        }
        let raw: Vec<f64> = mesh.vertices().iter().map(smooth).collect();
        let u = mesh.constrain(&raw, 1).unwrap();
        let mut checked = 0;
        for c in mesh.hanging_constraints().iter() {
            let x = mesh.vertices()[c.vertex as usize];
            // every leaf whose closed box holds the vertex must interpolate its value there
            for e in 0..mesh.num_elements() {
                let (lo, hi) = mesh.element_bbox(e);
                let inside = (0..mesh.dim()).all(|a| lo[a] <= x[a] && x[a] <= hi[a]);
                if !inside {
                    continue;
                }
                let mut xi = [0.0; 3];
                for a in 0..mesh.dim() {
                    xi[a] = (x[a] - lo[a]) / (hi[a] - lo[a]);
                }
                let mut v = [0.0];
                mesh.evaluate_in_element(&u, 1, e, &xi, &mut v);
                assert!(
                    (v[0] - u[c.vertex as usize]).abs() < 1e-12,
                    "jump at hanging vertex {x:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > mesh.num_hanging());
    }
}

/// A 2×2 quad mesh and a 2×1×1 hex mesh with a moved interior vertex: not parallelograms.

#[test]
fn skewed_meshes_locate_by_newton() {
    for (text, rounds) in [(SKEWED_QUADS, 5), (SKEWED_HEXES, 3)] {
        let mut mesh = Mesh::parse(text, "skewed").unwrap();
        refine_randomly(&mut mesh, rounds, 0.4, 9);
        let dim = mesh.dim();
        // the coordinates themselves are an order-1 field: interpolating them gives the point
        let coords: Vec<f64> = mesh
            .vertices()
            .iter()
            .flat_map(|x| x.iter().copied())
            .collect();
        let points = random_points(&mesh, 5000, 1);
        let mut out = vec![0.0; points.len() * 3];
        let outside = mesh.interpolate(&coords, 3, &points, &mut out).unwrap();
        assert!(outside > 0 && outside < points.len(), "outside {outside}");
        let hits = mesh.locate(&points);
        let mut inside = 0;
        for ((p, got), hit) in points.iter().zip(out.chunks(3)).zip(&hits) {
            match hit {
                Some(_) => {
                    inside += 1;
                    for a in 0..dim {
                        assert!((got[a] - p[a]).abs() < 1e-10, "{p:?} -> {got:?}");
                    }
                }
                None => assert!(got.iter().all(|v| v.is_nan())),
            }
        }
        assert_eq!(inside + outside, points.len());
        // points on the boundary and a hair outside it are still found
        let corner = mesh.vertices()[0];
        let nudged = [
            corner[0] - 1e-13,
            corner[1] - 1e-13,
            if dim == 3 { corner[2] - 1e-13 } else { 0.0 },
        ];
        assert!(mesh.locate_point(&corner).is_some());
        assert!(mesh.locate_point(&nudged).is_some());
        assert!(mesh.locate_point(&[-0.5, -0.5, -0.5]).is_none());
    }
}

#[test]
fn boundary_and_outside_points_on_boxes() {
    let mut mesh = Mesh::parse(HEXES, "inline").unwrap();
    refine_randomly(&mut mesh, 3, 0.5, 4);
    let (lo, hi) = mesh.bounding_box();
    for p in [
        lo,
        hi,
        [hi[0], lo[1], hi[2]],
        [1.0, 0.75, 0.5],
        [hi[0] + 1e-12, hi[1], hi[2]],
    ] {
        let (e, xi) = mesh
            .locate_point(&p)
            .unwrap_or_else(|| panic!("{p:?} not found"));
        let (elo, ehi) = mesh.element_bbox(e);
        for a in 0..3 {
            assert!((elo[a] + xi[a] * (ehi[a] - elo[a]) - p[a]).abs() < 1e-11);
        }
    }
    for p in [
        [hi[0] + 1e-6, 0.5, 0.5],
        [-1.0, 0.2, 0.2],
        [0.5, 0.5, 7.0],
        [f64::NAN, 0.5, 0.5],
    ] {
        assert!(mesh.locate_point(&p).is_none(), "{p:?} should be outside");
    }
    let values = vec![1.0; mesh.num_vertices()];
    let mut out = vec![0.0; 2];
    assert_eq!(
        mesh.interpolate(&values, 1, &[[0.5, 0.5, 0.5], [9.0, 9.0, 9.0]], &mut out)
            .unwrap(),
        1
    );
    assert_eq!(out[0], 1.0);
    assert!(out[1].is_nan());
    assert!(mesh.interpolate(&values, 1, &[[0.5; 3]], &mut []).is_err());
}
