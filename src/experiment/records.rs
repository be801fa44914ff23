//! What a run records: per iteration (its kind, counts, RMSE, seconds per phase), and for the
//! whole run (its folder, why it stopped). parameters.json and the pictures are made from these.

use std::path::PathBuf;

use serde::Serialize;

/// How an iteration chose the elements it refined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IterationKind {
    /// Every element (`--original`, and the first `num_uniform_ref` iterations).
    Uniform,
    /// The elements the criterion marked.
    Adaptive,
}

impl IterationKind {
    pub fn name(self) -> &'static str {
        match self {
            IterationKind::Uniform => "uniform",
            IterationKind::Adaptive => "adaptive",
        }
    }
}

/// Why the iterations ended.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    MaxIt,
    ReachedMaxDofs,
    Converged,
    /// SIGINT or SIGTERM: the run stopped between two steps.
    Interrupted,
}

/// Where a run stands, as parameters.json says from the start and after every iteration: a
/// killed run (SIGKILL, power loss) leaves `running`; one stopped by an error (a full disk, an
/// output folder gone) says `failed`, with the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Complete,
    Interrupted,
    Failed,
}

/// How the RMSE points were drawn (SPEC §2.3), for parameters.json.
#[derive(Clone, Debug, Serialize)]
pub struct RmseSetup {
    /// Points used (0 when skipped).
    pub points: usize,
    /// How they were drawn.
    pub drawn: &'static str,
    /// Seconds spent drawing them and evaluating the network there, once.
    pub seconds: f64,
    /// Why there is no RMSE, when there is none.
    pub skipped: Option<String>,
}

impl StopReason {
    /// What the console says.
    pub fn text(self) -> &'static str {
        match self {
            StopReason::MaxIt => "max_it iterations done",
            StopReason::ReachedMaxDofs => "reached max_dofs",
            StopReason::Converged => "converged (no element marked)",
            StopReason::Interrupted => "interrupted",
        }
    }
}

/// Seconds spent in each phase of one iteration.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PhaseSeconds {
    pub scoring: f64,
    pub refinement: f64,
    pub vertex_evaluation: f64,
    pub writing: f64,
    pub rmse: f64,
}

/// What one iteration did, as recorded in parameters.json.
#[derive(Clone, Debug, Serialize)]
pub struct IterationRecord {
    pub it: usize,
    pub kind: IterationKind,
    pub scored: usize,
    pub marked: usize,
    pub elements: usize,
    pub dofs: usize,
    pub true_dofs: usize,
    pub hanging: usize,
    pub rmse: f64,
    pub rmse_per_component: Vec<f64>,
    pub scoring_gflop: f64,
    pub seconds: PhaseSeconds,
}

/// The whole run's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub experiment_dir: PathBuf,
    pub iterations: Vec<IterationRecord>,
    pub stop_reason: StopReason,
    pub init_num_vertices: usize,
    /// The last scoring pass when it marked nothing: it ends the run without an iteration
    /// record, but its time belongs to the run.
    pub final_scoring: Option<FinalScoring>,
    /// Running until the last write; complete, interrupted or failed at the end.
    pub status: RunStatus,
    /// The one-line error that stopped a failed run.
    pub error: Option<String>,
    pub rmse_setup: RmseSetup,
}

/// A scoring pass that marked no element.
#[derive(Clone, Debug, Serialize)]
pub struct FinalScoring {
    pub it: usize,
    pub scored: usize,
    pub scoring_gflop: f64,
    pub seconds: f64,
}
