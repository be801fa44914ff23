//! A run's experiment folder and what is written there about the run: the folder's name
//! (`name`, encoded and decoded in one place), the run's records (`records`),
//! `parameters.json` (`parameters`), and the run's hold on the folder (`folder`: its lock,
//! and removing an earlier run's results).

pub mod folder;
pub mod name;
pub mod parameters;
pub mod records;

pub use records::{
    FinalScoring, IterationKind, IterationRecord, PhaseSeconds, RmseSetup, RunStatus, RunSummary,
    StopReason,
};
