//! The whole run (SPEC §2, §5): uniform refinement against the reference RMSE, adaptive
//! refinement that refines, stop reasons, parameters.json, independence of the thread count,
//! every built-in key.

mod common;

use std::path::{Path, PathBuf};

use pruningamr::experiment::StopReason;
use serde_json::Value;

use common::{config, run_with_threads};

fn out_dir(name: &str) -> PathBuf {
    common::out_dir("run", name)
}

fn reference_hos_args(dir: &Path) -> Vec<String> {
    vec![
        "--checkpoint".into(),
        dir.join("checkpoints/high_oscillation_small_lists.ckpt")
            .display()
            .to_string(),
        "--mesh".into(),
        dir.join("meshes/rectangle.mesh").display().to_string(),
    ]
}

#[test]
#[ignore = "needs PRUNINGAMR_REFERENCE"]
fn uniform_refinement_matches_the_reference_rmse() {
    let dir = common::reference_dir();
    let reference = common::read_json(&dir.join("runs/uniform_hos.json"));
    let out = out_dir("uniform_hos");
    let mut args: Vec<String> = reference_hos_args(&dir);
    args.extend(["--original", "--max_it", "5"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = run_with_threads(&config(&out, &args), 2);
    let dofs: Vec<usize> = s.iterations.iter().map(|r| r.dofs).collect();
    assert_eq!(dofs, vec![81, 289, 1089, 4225, 16641]);
    assert_eq!(s.stop_reason, StopReason::MaxIt);
    for (r, want) in s
        .iterations
        .iter()
        .zip(reference["iterations"].as_array().unwrap())
    {
        assert_eq!(r.dofs as u64, want["dofs"].as_u64().unwrap());
        let (rmse, tol) = (
            want["rmse"].as_f64().unwrap(),
            want["tolerance"].as_f64().unwrap(),
        );
        let rel = (r.rmse - rmse).abs() / rmse;
        println!(
            "it {}: dofs {} rmse {:.6} reference {:.6} relative {:.4} (tolerance {tol})",
            r.it, r.dofs, r.rmse, rmse, rel
        );
        assert!(rel <= tol, "it {}: RMSE {} vs {rmse}", r.it, r.rmse);
        assert_eq!(r.hanging, 0);
    }
}

#[test]
#[ignore = "needs PRUNINGAMR_REFERENCE"]
fn adaptive_refinement_refines_the_reference_network() {
    let dir = common::reference_dir();
    let out = out_dir("adaptive_hos");
    let args = reference_hos_args(&dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = run_with_threads(&config(&out, &args), 2);
    // Two uniform iterations, then adaptive ones that refine some elements, not all.
    assert_eq!(s.iterations[1].dofs, 289);
    let adaptive = &s.iterations[2];
    assert_eq!(adaptive.kind.name(), "adaptive");
    assert!(adaptive.marked > 0 && adaptive.marked < 256, "{adaptive:?}");
    assert!(adaptive.hanging > 0);
    assert!(adaptive.rmse < s.iterations[1].rmse);
}

#[test]
fn parameters_json_holds_the_originals_keys_with_correct_values() {
    let out = out_dir("parameters");
    let cfg = config(&out, &["--INR_key", "hos"]);
    let s = run_with_threads(&cfg, 2);
    let dir = pruningamr::experiment::name::folder(&cfg);
    assert_eq!(
        dir,
        out.join("hos/thrs_0.001_prop_thrs_0.2_eps_0.001_nsamp_256_errsamp_128")
    );
    let p: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("parameters.json")).unwrap())
            .unwrap();
    assert_eq!(
        p["domain"]["mesh"],
        serde_json::json!([[0.0, 0.0], [1.0, 1.0]])
    );
    assert_eq!(
        p["domain"]["inr"],
        serde_json::json!([[0.0, 0.0], [1.0, 1.0]])
    );
    assert_eq!(p["init_num_vertices"], 25);
    assert_eq!(p["num_samples"], 256);
    assert_eq!(p["error_check_samples"], 128);
    assert_eq!(p["error_threshold"], 0.001);
    assert_eq!(p["epsilon_for_pruning"], 0.001);
    assert_eq!(p["max_dofs"], 5000);
    assert_eq!(p["max_it"], 4);
    assert_eq!(p["seed"], 3);
    let last = s.iterations.last().unwrap();
    assert_eq!(p["DOFs"], last.dofs);
    let dict = p["err_dof_dict"].as_object().unwrap();
    assert_eq!(dict.len(), s.iterations.len());
    for r in &s.iterations {
        let entry = &dict[&r.it.to_string()];
        assert_eq!(entry[0].as_f64().unwrap(), r.rmse);
        assert_eq!(entry[1].as_u64().unwrap() as usize, r.dofs);
        // every iteration's files exist
        assert!(dir.join(format!("it_{}.mesh", r.it)).is_file());
        assert!(dir.join(format!("it_{}.gf", r.it)).is_file());
    }
    let its = p["iterations"].as_array().unwrap();
    assert_eq!(its[0]["dofs"], 81);
    assert_eq!(its[1]["dofs"], 289);
    assert_eq!(its[2]["kind"], "adaptive");
    assert!(its[2]["marked"].as_u64().unwrap() > 0);
    assert!(its[2]["true_dofs"].as_u64().unwrap() < its[2]["dofs"].as_u64().unwrap());
    assert_eq!(its[2]["rmse_per_component"].as_array().unwrap().len(), 1);
    assert!(its[2]["seconds"]["scoring"].as_f64().unwrap() >= 0.0);
    assert_eq!(p["stop_reason"], "max_it");
    // the start mesh itself is never written
    assert!(!dir.join("it_-1.mesh").exists());
    assert_eq!(
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".mesh"))
            .count(),
        s.iterations.len()
    );
}

#[test]
fn thread_count_does_not_change_any_file() {
    let a = out_dir("threads1");
    let b = out_dir("threads2");
    let args = ["--INR_key", "hos", "--max_it", "5", "--paraview"];
    let sa = run_with_threads(&config(&a, &args), 1);
    let sb = run_with_threads(&config(&b, &args), 2);
    assert_eq!(sa.iterations.len(), sb.iterations.len());
    for (x, y) in sa.iterations.iter().zip(&sb.iterations) {
        assert_eq!((x.rmse, x.dofs, x.marked), (y.rmse, y.dofs, y.marked));
    }
    let da = pruningamr::experiment::name::folder(&config(&a, &args));
    let db = pruningamr::experiment::name::folder(&config(&b, &args));
    for r in &sa.iterations {
        for f in [
            format!("it_{}.mesh", r.it),
            format!("it_{}.gf", r.it),
            format!("ParaView/pruningamr_{}.vtu", r.it),
        ] {
            let fa = std::fs::read(da.join(&f)).unwrap();
            let fb = std::fs::read(db.join(&f)).unwrap();
            assert!(fa == fb, "{f} differs between 1 and 2 threads");
        }
    }
    let pa: Value =
        serde_json::from_str(&std::fs::read_to_string(da.join("parameters.json")).unwrap())
            .unwrap();
    let pb: Value =
        serde_json::from_str(&std::fs::read_to_string(db.join("parameters.json")).unwrap())
            .unwrap();
    assert_eq!(pa["err_dof_dict"], pb["err_dof_dict"]);
}

#[test]
fn a_run_that_marks_nothing_stops_at_once() {
    let out = out_dir("converged");
    let cfg = config(
        &out,
        &[
            "--INR_key",
            "hos",
            "--threshold",
            "1e9",
            "--prop_threshold",
            "1.0",
        ],
    );
    let s = run_with_threads(&cfg, 2);
    assert_eq!(s.stop_reason, StopReason::Converged);
    assert_eq!(s.iterations.len(), 2);
    assert!(
        !pruningamr::experiment::name::folder(&cfg)
            .join("it_2.mesh")
            .exists()
    );
    // The pass that marked nothing scored every element of level 2, and is recorded.
    let f = s.final_scoring.as_ref().expect("final scoring recorded");
    assert_eq!((f.it, f.scored), (2, 256));
    assert!(f.scoring_gflop > 0.0);
    let p: Value = common::read_json(&s.experiment_dir.join("parameters.json"));
    assert_eq!(p["final_scoring"]["scored"], 256);
}

#[test]
fn max_dofs_stops_the_adaptive_phase() {
    let out = out_dir("max_dofs");
    let cfg = config(
        &out,
        &["--INR_key", "hos", "--max_dofs", "200", "--max_it", "6"],
    );
    let s = run_with_threads(&cfg, 2);
    assert_eq!(s.stop_reason, StopReason::ReachedMaxDofs);
    // uniform iterations ignore max_dofs; the first adaptive one sees 289 >= 200 and stops
    assert_eq!(s.iterations.len(), 2);
}

#[test]
fn every_builtin_key_runs_one_uniform_iteration() {
    for (key, dofs, ncomp) in [
        ("hos", 81, 1),
        ("hol", 81, 1),
        ("hof", 81, 1),
        ("NS_PINN", 525, 3),
        ("CT_demo", 27, 1),
    ] {
        let out = out_dir(&format!("key_{key}"));
        let cfg = config(&out, &["--INR_key", key, "--original", "--max_it", "1"]);
        let s = run_with_threads(&cfg, 2);
        assert_eq!(s.iterations.len(), 1, "{key}");
        assert_eq!(s.iterations[0].dofs, dofs, "{key}");
        assert_eq!(s.iterations[0].rmse_per_component.len(), ncomp, "{key}");
        assert!(s.iterations[0].rmse.is_finite() && s.iterations[0].rmse > 0.0);
        let name = if key == "CT_demo" {
            "CT_demo_original_tslice_1.0".to_string()
        } else {
            format!("{key}_original")
        };
        assert_eq!(pruningamr::experiment::name::folder(&cfg), out.join(name));
        let gf =
            std::fs::read_to_string(pruningamr::experiment::name::folder(&cfg).join("it_0.gf"))
                .unwrap();
        assert!(gf.contains(&format!("VDim: {ncomp}\n")), "{key}");
    }
}

#[test]
#[ignore = "needs PRUNINGAMR_REFERENCE"]
fn a_flat_state_dict_runs_and_its_assumed_activations_are_recorded() {
    let dir = common::reference_dir();
    let out = out_dir("dict_notes");
    let ckpt = dir.join("checkpoints/high_oscillation_small_dict.ckpt");
    let mesh = dir.join("meshes/rectangle.mesh");
    let (ckpt, mesh) = (ckpt.display().to_string(), mesh.display().to_string());
    let args = [
        "--checkpoint",
        &ckpt,
        "--mesh",
        &mesh,
        "--original",
        "--max_it",
        "2",
    ];
    let s = run_with_threads(&config(&out, &args), 2);
    // The same network as the lists file: the reference uniform DOFs.
    assert_eq!(s.iterations[1].dofs, 289);
    let p: Value = common::read_json(&s.experiment_dir.join("parameters.json"));
    let notes = p["loader_notes"]
        .as_array()
        .expect("loader_notes is a list");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].as_str().unwrap().contains("assuming ReLU"),
        "{notes:?}"
    );
}
