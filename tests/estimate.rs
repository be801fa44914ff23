//! The estimate criterion as a whole run: it beats uniform refinement at equal DOFs, stays in
//! the DOF budget, gives the same files for any thread count, and records its settings.

mod common;

use std::path::{Path, PathBuf};

use pruningamr::config::Config;
use pruningamr::experiment::StopReason;
use serde_json::Value;

use common::{config, run_with_threads};

fn out_dir(name: &str) -> PathBuf {
    common::out_dir("estimate", name)
}

const ESTIMATE: [&str; 6] = [
    "--INR_key",
    "hos",
    "--criterion",
    "estimate",
    "--error_samples",
    "16",
];

/// The estimate criterion on hos for `its` iterations, plus `extra`.
fn estimate(out: &Path, its: &str, extra: &[&str]) -> Config {
    let mut args = ESTIMATE.to_vec();
    args.extend(["--max_it", its]);
    args.extend_from_slice(extra);
    config(out, &args)
}

#[test]
fn the_estimate_criterion_beats_uniform_refinement_at_equal_dofs() {
    let out = out_dir("estimate_vs_uniform");
    let uniform = run_with_threads(
        &config(&out, &["--INR_key", "hos", "--original", "--max_it", "3"]),
        2,
    );
    let u = &uniform.iterations[2];
    assert_eq!(u.dofs, 1089);
    let s = run_with_threads(&estimate(&out, "12", &[]), 2);
    // Every adaptive iteration refines a few elements and lowers the RMSE.
    for w in s.iterations[1..].windows(2) {
        assert!(w[1].marked > 0 && w[1].marked < w[0].elements, "{:?}", w[1]);
        assert!(
            w[1].rmse < w[0].rmse,
            "it {}: {} ≥ {}",
            w[1].it,
            w[1].rmse,
            w[0].rmse
        );
    }
    // The first iteration at or past the uniform mesh's DOFs has less than half its RMSE.
    let e = s
        .iterations
        .iter()
        .find(|r| r.dofs >= u.dofs)
        .expect("the run reaches 1,089 DOFs");
    assert!(e.dofs < 2 * u.dofs, "{} DOFs", e.dofs);
    assert!(
        e.rmse < 0.5 * u.rmse,
        "estimate {} at {} DOFs, uniform {} at {}",
        e.rmse,
        e.dofs,
        u.rmse,
        u.dofs
    );
}

#[test]
fn the_estimate_criterion_stays_in_the_dof_budget() {
    let out = out_dir("estimate_budget");
    let s = run_with_threads(&estimate(&out, "40", &["--max_dofs", "700"]), 2);
    assert_eq!(s.stop_reason, StopReason::ReachedMaxDofs);
    let last = s.iterations.last().unwrap();
    assert!(last.dofs <= 700, "{} DOFs", last.dofs);
    // The budget is spent: what is left cannot hold the next element's refinement, which
    // adds at most 5 vertices in 2-D.
    assert!(last.dofs > 700 - 5, "{last:?}");
    // And the run ends with the marking the budget cut, without scoring the mesh once more
    // for what little still fits.
    assert!(last.marked > 0, "{last:?}");
    assert!(s.final_scoring.is_none(), "{:?}", s.final_scoring);
    let it_max = s.iterations.iter().map(|r| r.it).max().unwrap();
    assert!(
        !s.experiment_dir
            .join(format!("it_{}.mesh", it_max + 1))
            .exists()
    );
}

#[test]
fn the_estimate_criterion_does_not_depend_on_the_thread_count() {
    let a = out_dir("estimate_threads1");
    let b = out_dir("estimate_threads2");
    let sa = run_with_threads(&estimate(&a, "12", &[]), 1);
    let sb = run_with_threads(&estimate(&b, "12", &[]), 2);
    assert_eq!(sa.iterations.len(), sb.iterations.len());
    for r in &sa.iterations {
        for f in [format!("it_{}.mesh", r.it), format!("it_{}.gf", r.it)] {
            let fa = std::fs::read(sa.experiment_dir.join(&f)).unwrap();
            let fb = std::fs::read(sb.experiment_dir.join(&f)).unwrap();
            assert!(fa == fb, "{f} differs between 1 and 2 threads");
        }
    }
    assert!(
        sa.experiment_dir
            .ends_with("hos/estimate/theta_0.5_errsamp_16")
    );
    let pa: Value = common::read_json(&sa.experiment_dir.join("parameters.json"));
    let pb: Value = common::read_json(&sb.experiment_dir.join("parameters.json"));
    assert_eq!(pa["err_dof_dict"], pb["err_dof_dict"]);
    assert_eq!(pa["criterion"], "estimate");
    assert_eq!(pa["theta"], 0.5);
    assert_eq!(pa["avg_error"], false);
}

/// On hos with a 3,000 budget, the iteration after 2,995 DOFs would score the whole mesh to
/// add 3 vertices: a run nearly at the budget (room under 1 % of its DOFs) ends there instead.
#[test]
fn the_estimate_criterion_does_not_score_a_nearly_full_mesh() {
    let out = out_dir("estimate_nearly_full");
    // The marking does not use the RMSE.
    let s = run_with_threads(
        &estimate(&out, "30", &["--max_dofs", "3000", "--rmse_samples", "0"]),
        2,
    );
    assert_eq!(s.stop_reason, StopReason::ReachedMaxDofs);
    let last = s.iterations.last().unwrap();
    assert!((2_970..=3_000).contains(&last.dofs), "{last:?}");
    for w in s.iterations.windows(2) {
        let room = 3_000 - w[0].dofs;
        assert!(
            100 * room >= w[0].dofs,
            "it {} ran with {room} DOFs of room",
            w[1].it
        );
    }
    assert!(s.final_scoring.is_none(), "{:?}", s.final_scoring);
}
