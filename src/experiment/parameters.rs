//! `parameters.json`: the original's keys with correct values, then what a user sweeping
//! thresholds wants (every setting, the seed, the stop reason, per-iteration records), and the
//! run's status (rewritten after every iteration: running, then complete or interrupted). One
//! struct, serialized in field order, so the file's layout is visible here.

use std::io::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::records::{FinalScoring, IterationRecord, RmseSetup, RunStatus, RunSummary, StopReason};
use crate::config::Config;

/// The settings the original writes only for adaptive runs.
#[derive(Serialize)]
struct AdaptiveSettings {
    num_samples: usize,
    error_check_samples: usize,
    error_threshold: f64,
    epsilon_for_pruning: f64,
    prop_threshold: f64,
    num_uniform_ref: usize,
}

/// The mesh's and the INR's boxes, as `[lo, hi]` (the original writes `null`).
#[derive(Serialize)]
pub struct Domain {
    pub mesh: [Vec<f64>; 2],
    pub inr: [Vec<f64>; 2],
}

/// Facts about the run that are not settings: where its inputs came from and its final mesh.
pub struct RunFacts<'a> {
    pub domain: Domain,
    pub dofs: usize,
    pub true_dofs: usize,
    pub network_source: &'a str,
    pub mesh_source: &'a str,
    pub notes: &'a [String],
    /// The name of each output component.
    pub output_names: &'a [String],
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct Parameters<'a> {
    /// running (written before the first iteration and rewritten after every one), complete,
    /// interrupted, or failed.
    status: RunStatus,
    /// What stopped a failed run, as the command printed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    /// The last iteration whose files are written (null before the first).
    iteration_reached: Option<usize>,
    INR_key: &'a str,
    original: bool,
    avg_error: bool,
    /// `pruning`, `basic` or `estimate`.
    criterion: &'a str,
    /// The Dörfler fraction, for the estimate criterion only.
    #[serde(skip_serializing_if = "Option::is_none")]
    theta: Option<f64>,
    /// Whether the estimate criterion may split anisotropically (not `--isotropic`).
    #[serde(skip_serializing_if = "Option::is_none")]
    anisotropic: Option<bool>,
    #[serde(flatten)]
    adaptive: Option<AdaptiveSettings>,
    max_dofs: usize,
    max_it: usize,
    domain: &'a Domain,
    DOFs: usize,
    true_DOFs: usize,
    init_num_vertices: usize,
    /// {"0": [rmse, dofs], …} in iteration order.
    err_dof_dict: serde_json::Map<String, Value>,
    /// The outputs' names, and per name its RMSE at each iteration (in iteration order).
    output_names: &'a [String],
    rmse_per_output: serde_json::Map<String, Value>,
    time_slice: f64,
    seed: u64,
    threads: usize,
    checkpoint: &'a str,
    mesh: &'a str,
    loader_notes: &'a [String],
    paraview: bool,
    plot: bool,
    /// Null while the run is running, and when it failed.
    stop_reason: Option<StopReason>,
    rmse_sampling: &'a RmseSetup,
    final_scoring: &'a Option<FinalScoring>,
    iterations: &'a [IterationRecord],
}

/// Writes `<experiment folder>/parameters.json` atomically.
pub fn write(cfg: &Config, summary: &RunSummary, facts: &RunFacts<'_>) -> std::io::Result<()> {
    let mut err_dof_dict = serde_json::Map::new();
    for r in &summary.iterations {
        err_dof_dict.insert(r.it.to_string(), serde_json::json!([r.rmse, r.dofs]));
    }
    let mut rmse_per_output = serde_json::Map::new();
    for (c, name) in facts.output_names.iter().enumerate() {
        let per_it: Vec<Value> = summary
            .iterations
            .iter()
            .map(|r| r.rmse_per_component.get(c).copied().into())
            .collect();
        rmse_per_output.insert(name.clone(), Value::Array(per_it));
    }
    let p = Parameters {
        status: summary.status,
        error: summary.error.as_deref(),
        iteration_reached: summary.iterations.last().map(|r| r.it),
        INR_key: &cfg.key,
        original: cfg.original,
        avg_error: cfg.avg_error,
        criterion: cfg.criterion.name(),
        theta: (cfg.criterion == crate::config::Criterion::Estimate && !cfg.original)
            .then_some(cfg.theta),
        anisotropic: (cfg.criterion == crate::config::Criterion::Estimate && !cfg.original)
            .then_some(cfg.anisotropic),
        adaptive: (!cfg.original).then_some(AdaptiveSettings {
            num_samples: cfg.id_samples,
            error_check_samples: cfg.error_samples,
            error_threshold: cfg.threshold,
            epsilon_for_pruning: cfg.epsilon,
            prop_threshold: cfg.prop_threshold,
            num_uniform_ref: cfg.num_uniform_ref,
        }),
        max_dofs: cfg.max_dofs,
        max_it: cfg.max_it,
        domain: &facts.domain,
        DOFs: facts.dofs,
        true_DOFs: facts.true_dofs,
        init_num_vertices: summary.init_num_vertices,
        err_dof_dict,
        output_names: facts.output_names,
        rmse_per_output,
        time_slice: cfg.time_slice,
        seed: cfg.seed,
        threads: cfg.threads,
        checkpoint: facts.network_source,
        mesh: facts.mesh_source,
        loader_notes: facts.notes,
        paraview: cfg.paraview,
        plot: cfg.plot,
        stop_reason: matches!(summary.status, RunStatus::Complete | RunStatus::Interrupted)
            .then_some(summary.stop_reason),
        rmse_sampling: &summary.rmse_setup,
        final_scoring: &summary.final_scoring,
        iterations: &summary.iterations,
    };
    let text = serde_json::to_string_pretty(&p).map_err(std::io::Error::other)?;
    let path = summary.experiment_dir.join(FILE);
    crate::io::write_atomically(&path, |w| w.write_all(text.as_bytes()))
}

/// The file's name in the experiment folder.
pub const FILE: &str = "parameters.json";

/// Path of the parameters file of the run in `dir`.
pub fn path(dir: &Path) -> std::path::PathBuf {
    dir.join(FILE)
}
