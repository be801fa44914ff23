//! Start meshes that are not boxes (issue 15): the shipped L-shape, square with a hole and
//! skewed hex mesh load; runs on them have a finite RMSE every iteration that matches a
//! brute-force estimate over dense points inside the mesh within 4σ; BasicAMR refines the
//! elements at the L's re-entrant corner; `--rmse_samples` sets or skips the RMSE.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pruningamr::mesh::Mesh;
use pruningamr::run::{EachIteration, IterationView, Silent, load_inputs, run};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

use common::config;

fn out_dir(name: &str) -> PathBuf {
    common::out_dir("run_meshes", name)
}

#[test]
fn the_shipped_example_meshes_load_and_are_not_boxes() {
    for (name, dim, elements, area) in [
        ("l_shape.mesh", 2, 12, 0.75),
        ("square_hole.mesh", 2, 32, 1.0 - 0.08),
        ("skewed_hex.mesh", 3, 8, 1.0),
    ] {
        let m = Mesh::read(&repo(&format!("meshes/examples/{name}"))).unwrap();
        assert_eq!((m.dim(), m.num_elements()), (dim, elements), "{name}");
        let samplers: Vec<_> = (0..m.num_elements())
            .map(|e| m.element_sampler(e))
            .collect();
        let total: f64 = samplers.iter().map(|s| s.volume()).sum();
        assert!((total - area).abs() < 1e-12, "{name}: volume {total}");
        assert!(samplers.iter().any(|s| !s.is_box()), "{name}");
    }
}

/// Dense points inside the mesh: the centres of a fine grid over its bounding box that
/// point location finds in the mesh (every cell has the same area, so the mean over them is
/// a midpoint rule for the mean over the mesh).
fn dense_points_inside(mesh: &Mesh, per_axis: usize) -> Vec<[f64; 3]> {
    let (lo, hi) = mesh.bounding_box();
    let mut pts = Vec::new();
    for j in 0..per_axis {
        for i in 0..per_axis {
            let p = [
                lo[0] + (hi[0] - lo[0]) * (i as f64 + 0.5) / per_axis as f64,
                lo[1] + (hi[1] - lo[1]) * (j as f64 + 0.5) / per_axis as f64,
                0.0,
            ];
            if mesh.locate_point(&p).is_some() {
                pts.push(p);
            }
        }
    }
    pts
}

/// Runs hos on `mesh` and checks each iteration's RMSE against the brute-force one: the
/// run's estimate is the mean of e² over N uniform points, so its standard deviation is
/// sd(e²)/√N, with sd(e²) taken over the dense points.
fn rmse_matches_brute_force(name: &str, mesh: &str, extra: &[&str]) -> Vec<(usize, f64, f64, f64)> {
    let mesh_arg = repo(&format!("meshes/examples/{mesh}"))
        .display()
        .to_string();
    let mut args = vec!["--INR_key", "hos", "--mesh", &mesh_arg];
    args.extend_from_slice(extra);
    let cfg = config(&out_dir(name), &args);
    let inputs = load_inputs(&cfg).unwrap();
    let dense = dense_points_inside(&inputs.mesh, 1024);
    let exact = inputs.inr.eval_points(&dense);
    let brute = Mutex::new(Vec::new());
    let obs = EachIteration::new(|v: &IterationView<'_>| {
        let mesh = v.field.mesh();
        let mut approx = vec![0.0; dense.len()];
        let outside = mesh
            .interpolate(v.field.values(), 1, &dense, &mut approx)
            .unwrap();
        assert_eq!(outside, 0);
        let e2: Vec<f64> = exact
            .iter()
            .zip(&approx)
            .map(|(f, i)| (f - i) * (f - i))
            .collect();
        let n = e2.len() as f64;
        let mean = e2.iter().sum::<f64>() / n;
        let var = e2.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        brute.lock().unwrap().push((v.it, mean, var.sqrt()));
    });
    let s = run(&cfg, &obs).unwrap();
    let brute = brute.into_inner().unwrap();
    assert_eq!(brute.len(), s.iterations.len());
    assert_eq!(s.iterations.len(), 4, "{name}");
    let mut rows = Vec::new();
    for (r, (it, mse, sd)) in s.iterations.iter().zip(brute) {
        assert_eq!(r.it, it);
        assert!(
            r.rmse.is_finite() && r.rmse > 0.0,
            "{name} it {it}: RMSE {}",
            r.rmse
        );
        assert_eq!(r.rmse_per_component.len(), 1);
        let n = s.rmse_setup.points as f64;
        let sigma = sd / n.sqrt();
        let z = (r.rmse * r.rmse - mse) / sigma;
        println!(
            "{name} it {it}: RMSE {:.6e}, brute force {:.6e} over {} points, MSE difference {z:+.2} σ (σ of the MSE {sigma:.3e})",
            r.rmse,
            mse.sqrt(),
            dense.len()
        );
        assert!(z.abs() <= 4.0, "{name} it {it}: {z} σ");
        rows.push((it, r.rmse, mse.sqrt(), z));
    }
    let p = common::read_json(&s.experiment_dir.join("parameters.json"));
    assert_eq!(p["rmse_sampling"]["points"], 262_144);
    assert_eq!(p["status"], "complete");
    rows
}

#[test]
fn l_shape_pruning_rmse_matches_brute_force() {
    rmse_matches_brute_force("l_pruning", "l_shape.mesh", &[]);
}

#[test]
fn l_shape_basic_rmse_matches_brute_force() {
    rmse_matches_brute_force("l_basic", "l_shape.mesh", &["--avg_error"]);
}

#[test]
fn square_hole_pruning_rmse_matches_brute_force() {
    rmse_matches_brute_force("hole_pruning", "square_hole.mesh", &[]);
}

#[test]
fn square_hole_basic_rmse_matches_brute_force() {
    rmse_matches_brute_force("hole_basic", "square_hole.mesh", &["--avg_error"]);
}

/// Levels, after the first adaptive iteration of a BasicAMR run on `mesh`, of the elements
/// that have a vertex at one of `corners`.
fn levels_at_corners(name: &str, mesh: &str, corners: &[[f64; 3]], threshold: &str) -> Vec<u32> {
    let mesh_arg = repo(&format!("meshes/examples/{mesh}"))
        .display()
        .to_string();
    let cfg = config(
        &out_dir(name),
        &[
            "--INR_key",
            "hos",
            "--mesh",
            &mesh_arg,
            "--avg_error",
            "--threshold",
            threshold,
            "--max_it",
            "3",
            "--rmse_samples",
            "4096",
        ],
    );
    let seen = Mutex::new(Vec::new());
    let obs = EachIteration::new(|v: &IterationView<'_>| {
        let mesh = v.field.mesh();
        let at_corner: Vec<u32> = (0..mesh.num_elements())
            .filter(|&e| {
                mesh.element_vertices(e)
                    .iter()
                    .any(|&u| corners.contains(&mesh.vertices()[u as usize]))
            })
            .map(|e| mesh.element_level(e))
            .collect();
        seen.lock().unwrap().push((v.it, at_corner));
    });
    let s = run(&cfg, &obs).unwrap();
    assert_eq!(s.iterations.len(), 3, "{name}");
    let (it, levels) = seen.into_inner().unwrap().swap_remove(2);
    assert_eq!(it, 2);
    println!("{name}: levels of the elements at the corners after it 2: {levels:?}");
    levels
}

#[test]
fn basic_amr_refines_the_elements_at_the_re_entrant_corner() {
    // hos has no feature at (½, ½): with the threshold at 1e-4 every element whose
    // interpolation error is measurable is refined. An element whose samples fell outside
    // the mesh would score NaN and never be.
    let levels = levels_at_corners("l_corner", "l_shape.mesh", &[[0.5, 0.5, 0.0]], "1e-4");
    // Three start elements meet at the corner; refined at it 2 (level 2 → 3), each leaves a
    // child of level 3 there.
    assert_eq!(levels.len(), 3, "{levels:?}");
    assert!(levels.iter().all(|&l| l == 3), "{levels:?}");
}

#[test]
fn basic_amr_refines_the_skewed_elements_at_the_holes_corners() {
    // The hole's sides are slanted: the bounding box of an element at a corner of the hole
    // reaches into the hole, where the interpolant is NaN. With threshold 0 BasicAMR marks
    // every element whose error is a number (err ≥ 0), so an element sampled in its box
    // (NaN ≥ 0 is false) would stay unrefined. (hos is a ReLU network, piecewise linear: on
    // an element no kink crosses, the bilinear interpolant is exact and the error is ~0, so
    // a positive threshold tells nothing here.)
    let corners = [
        [0.5, 0.3, 0.0],
        [0.7, 0.5, 0.0],
        [0.5, 0.7, 0.0],
        [0.3, 0.5, 0.0],
    ];
    let levels = levels_at_corners("hole_corner", "square_hole.mesh", &corners, "0");
    // Two start elements meet at each corner of the hole.
    assert_eq!(levels.len(), 8, "{levels:?}");
    assert!(levels.iter().all(|&l| l == 3), "{levels:?}");
}

#[test]
fn a_skewed_hex_mesh_runs_with_a_finite_rmse() {
    let mesh_arg = repo("meshes/examples/skewed_hex.mesh")
        .display()
        .to_string();
    let cfg = config(
        &out_dir("hex"),
        &[
            "--INR_key",
            "NS_PINN",
            "--mesh",
            &mesh_arg,
            "--original",
            "--max_it",
            "2",
            "--rmse_samples",
            "20000",
        ],
    );
    let s = run(&cfg, &Silent).unwrap();
    assert_eq!(s.iterations[1].dofs, 729);
    for r in &s.iterations {
        assert!(r.rmse.is_finite() && r.rmse > 0.0, "{r:?}");
        assert_eq!(r.rmse_per_component.len(), 3);
        assert!(r.rmse_per_component.iter().all(|c| c.is_finite()));
    }
    assert_eq!(s.rmse_setup.points, 20000);
}

#[test]
fn rmse_samples_zero_skips_the_rmse_and_says_why() {
    let cfg = config(
        &out_dir("no_rmse"),
        &[
            "--INR_key",
            "hos",
            "--original",
            "--max_it",
            "2",
            "--rmse_samples",
            "0",
        ],
    );
    let s = run(&cfg, &Silent).unwrap();
    let p = common::read_json(&s.experiment_dir.join("parameters.json"));
    assert_eq!(p["err_dof_dict"]["1"][0], serde_json::Value::Null);
    assert_eq!(p["err_dof_dict"]["1"][1], 289);
    assert_eq!(p["iterations"][1]["rmse"], serde_json::Value::Null);
    assert_eq!(p["rmse_sampling"]["points"], 0);
    assert!(
        p["rmse_sampling"]["skipped"]
            .as_str()
            .unwrap()
            .contains("--rmse_samples 0"),
        "{p}"
    );
}

#[test]
fn the_rmse_points_are_the_same_every_iteration_and_for_any_thread_count() {
    // The points come from (seed, batch) alone: two runs with different max_it and thread
    // counts measure their first iteration on the same points, to the bit.
    let args = ["--INR_key", "hos", "--original", "--rmse_samples", "50000"];
    let a = {
        let mut v = args.to_vec();
        v.extend(["--max_it", "1"]);
        config(&out_dir("same_a"), &v)
    };
    let b = {
        let mut v = args.to_vec();
        v.extend(["--max_it", "2"]);
        config(&out_dir("same_b"), &v)
    };
    let ra = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| run(&a, &Silent))
        .unwrap();
    let rb = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| run(&b, &Silent))
        .unwrap();
    assert_eq!(ra.iterations[0].rmse, rb.iterations[0].rmse);
    assert_eq!(rb.rmse_setup.points, 50000);
}
