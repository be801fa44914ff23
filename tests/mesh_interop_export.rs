//! Writes refined nonconforming meshes (2D and 3D, several levels, level jumps above one)
//! with smooth constrained fields as MFEM files and ParaView files under
//! `target/interop/{2d,3d}/`, with a `probe.json` holding our counts and interpolated values at
//! random points. `tests/interop/check_mfem.py` loads them with real MFEM (PyMFEM) and meshio
//! and compares; `tests/interop/run.sh` runs both.

mod common;

use std::path::{Path, PathBuf};

use common::meshes::{SKEWED_HEXES, SKEWED_QUADS};
use pruningamr::mesh::{Mesh, ParaViewWriter, Split};
use serde_json::json;

struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn field(x: &[f64; 3], ncomp: usize) -> Vec<f64> {
    let f0 = (3.0 * x[0]).sin() * (2.0 * x[1] + 0.3).cos() + 0.5 * (1.5 * x[2]).exp();
    let f1 = (x[0] - 0.3).powi(2) + x[1] * x[1] * x[2] - (4.0 * x[2]).cos();
    [f0, f1][..ncomp].to_vec()
}

/// Largest level jump over hanging vertices, seen through the weights: a vertex one level
/// below a coarse edge only has weights 1/2, deeper ones have 1/4, 3/4, ...
fn has_deep_hanging(mesh: &Mesh) -> bool {
    mesh.hanging_constraints().iter().any(|c| {
        c.terms
            .iter()
            .any(|&(_, w)| (w - 0.25).abs() < 1e-15 || (w - 0.75).abs() < 1e-15 || w < 0.2)
    })
}

/// Refines `rounds` times around `centre` (plus a few random elements), or uniformly when
/// `centre` is None, writing every iteration.
fn export(
    name: &str,
    start: &str,
    ncomp: usize,
    rounds: usize,
    centre: Option<[f64; 3]>,
) -> serde_json::Value {
    export_with(name, start, ncomp, rounds, centre, false)
}

/// [`export`]; with `aniso`, each marked element is halved along a random non-empty set of
/// its axes.
fn export_with(
    name: &str,
    start: &str,
    ncomp: usize,
    rounds: usize,
    centre: Option<[f64; 3]>,
    aniso: bool,
) -> serde_json::Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/interop")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut mesh = Mesh::parse(start, name).unwrap();
    let names: Vec<String> = (0..ncomp).map(|c| format!("u{c}")).collect();
    let mut paraview = ParaViewWriter::new(&dir.join("ParaView"), "fields", names).unwrap();
    let mut rng = Rng(17);
    let mut iterations = Vec::new();
    for it in 0..rounds {
        // refine around a point (deep levels there, coarse neighbours) plus a few random ones
        let r = 0.6 * 0.6f64.powi(it as i32);
        let marks: Vec<bool> = (0..mesh.num_elements())
            .map(|e| {
                let Some(centre) = centre else { return true };
                let c = mesh.element_center(e);
                let d: f64 = (0..3)
                    .map(|a| (c[a] - centre[a]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                d < r || rng.unit() < 0.05
            })
            .collect();
        if aniso {
            let all = (1u64 << mesh.dim()) - 1;
            let splits: Vec<Split> = marks
                .iter()
                .map(|&m| {
                    let mask = if m {
                        1 + (rng.unit() * all as f64) as u8
                    } else {
                        0
                    };
                    Split::axes(mesh.dim(), mask.min(all as u8)).unwrap()
                })
                .collect();
            mesh.refine_split(&splits).unwrap();
        } else {
            mesh.refine(&marks).unwrap();
        }
        let raw: Vec<f64> = mesh
            .vertices()
            .iter()
            .flat_map(|x| field(x, ncomp))
            .collect();
        let values = mesh.constrain(&raw, ncomp).unwrap();
        let mesh_file = format!("it_{it}.mesh");
        let gf_file = format!("it_{it}.gf");
        mesh.write_mfem(&dir.join(&mesh_file)).unwrap();
        mesh.write_gf(&values, ncomp, &dir.join(&gf_file)).unwrap();
        paraview.write_iteration(&mesh, &values, ncomp, it).unwrap();

        // random points, plus every hanging vertex (where constraints matter most)
        let (lo, hi) = mesh.bounding_box();
        let mut points: Vec<[f64; 3]> = (0..300)
            .map(|_| {
                let mut x = [0.0; 3];
                for a in 0..mesh.dim() {
                    x[a] = lo[a] + (hi[a] - lo[a]) * rng.unit();
                }
                x
            })
            .filter(|p| mesh.locate_point(p).is_some())
            .collect();
        points.extend(
            mesh.hanging_constraints()
                .iter()
                .take(300)
                .map(|c| mesh.vertices()[c.vertex as usize]),
        );
        let mut out = vec![0.0; points.len() * ncomp];
        assert_eq!(
            mesh.interpolate(&values, ncomp, &points, &mut out).unwrap(),
            0
        );
        let text = std::fs::read_to_string(dir.join(&mesh_file)).unwrap();
        if mesh.num_hanging() > 0 {
            assert!(text.starts_with("MFEM mesh v1.1\n"));
            assert!(text.contains(&format!("\nvertex_parents\n{}\n", mesh.num_hanging())));
        }
        iterations.push(json!({
            "it": it,
            "mesh": mesh_file,
            "gf": gf_file,
            "vtu": format!("ParaView/fields_{it}.vtu"),
            "ne": mesh.num_elements(),
            "nv": mesh.num_vertices(),
            "true_dofs": mesh.num_true_dofs(),
            "hanging": mesh.num_hanging(),
            "max_level": (0..mesh.num_elements()).map(|e| mesh.element_level(e)).max(),
            "points": points.iter().map(|p| p[..mesh.dim()].to_vec()).collect::<Vec<_>>(),
            "values": out.chunks(ncomp).map(<[f64]>::to_vec).collect::<Vec<_>>(),
        }));
    }
    if centre.is_some() {
        assert!(has_deep_hanging(&mesh), "{name}: no level jump above one");
    } else {
        assert_eq!(mesh.num_hanging(), 0);
    }
    let probe = json!({
        "dim": mesh.dim(),
        "ncomp": ncomp,
        "pvd": "ParaView/fields.pvd",
        "iterations": iterations,
    });
    std::fs::write(
        dir.join("probe.json"),
        serde_json::to_string_pretty(&probe).unwrap(),
    )
    .unwrap();
    probe
}

fn out_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop")
}

#[test]
fn export_2d_and_3d_meshes_for_mfem() {
    let quads = "MFEM INLINE mesh v1.0\ntype = quad\nnx = 4\nny = 4\nsx = 1.0\nsy = 1.0\n";
    let p2 = export("2d", quads, 1, 6, Some([0.3, 0.2, 0.0]));
    let hexes =
        "MFEM INLINE mesh v1.0\ntype = hex\nnx = 2\nny = 2\nnz = 3\nsx = 1.0\nsy = 1.0\nsz = 1.5\n";
    let p3 = export("3d", hexes, 2, 4, Some([0.3, 0.6, 0.4]));
    for p in [p2, p3] {
        let last = &p["iterations"].as_array().unwrap().last().unwrap().clone();
        assert!(last["hanging"].as_u64().unwrap() > 0);
        assert!(last["max_level"].as_u64().unwrap() >= 3);
    }
    // straight-sided but not parallelograms: location by Newton, compared with MFEM's
    export("2d_skewed", SKEWED_QUADS, 1, 5, Some([1.2, 0.9, 0.0]));
    export("3d_skewed", SKEWED_HEXES, 1, 3, Some([1.0, 0.5, 0.5]));
    // anisotropic: elements halved along some of their axes, splits widened where faces
    // would cross
    export_with("2d_aniso", quads, 1, 6, Some([0.3, 0.2, 0.0]), true);
    export_with("3d_aniso", hexes, 2, 5, Some([0.3, 0.6, 0.4]), true);
    // no hanging vertices: written as plain v1.0
    let pu = export("2d_uniform", quads, 2, 2, None);
    let last = pu["iterations"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ne"], 256);
    let text = std::fs::read_to_string(out_dir().join("2d_uniform/it_1.mesh")).unwrap();
    assert!(text.starts_with("MFEM mesh v1.0\n") && !text.contains("vertex_parents"));
    // 4 sides × 16 boundary edges
    assert!(text.contains("\nboundary\n64\n"));
    let pvd = std::fs::read_to_string(out_dir().join("3d/ParaView/fields.pvd")).unwrap();
    assert_eq!(pvd.matches("<DataSet ").count(), 4);
    assert!(pvd.contains("timestep=\"3\"") && pvd.contains("file=\"fields_3.vtu\""));
}
