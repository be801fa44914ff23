//! A run's experiment folder and what is written there about the run: the folder's name
//! (`name`, encoded and decoded in one place), the run's records (`records`) and
//! `parameters.json` (`parameters`).

pub mod name;
pub mod parameters;
pub mod records;

pub use records::{
    FinalScoring, IterationKind, IterationRecord, PhaseSeconds, RunSummary, StopReason,
};
