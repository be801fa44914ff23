//! Options of a run: the command line (the original's 13 options, same spelling and defaults,
//! plus the port's own), their validation, the built-in INR keys and the experiment folder name.

use std::path::PathBuf;

use clap::Parser;

use crate::network::builtin::{BUILTIN_KEYS, is_ct_key};

/// Command line as typed. Turned into a [`Config`] by [`Cli::validate`] before any work.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "pruningamr",
    version,
    about = "Adaptive nonconforming meshes for implicit neural representations (PruningAMR)",
    long_about = "Turns an implicit neural representation (an MLP standing for a field) into an \
adaptively refined quad/hex mesh, refining only where ID pruning of the network restricted to an \
element shows fine detail. Writes MFEM meshes and grid functions (GLVis, ParaView) and parameters.json."
)]
pub struct Cli {
    /// Uniform refinement only, for max_it iterations.
    #[arg(long = "original")]
    pub original: bool,
    /// Sample points per element for the ID pruning.
    #[arg(long = "ID_samples", default_value_t = 256)]
    pub id_samples: usize,
    /// Sample points per element for the error estimate.
    #[arg(long = "error_samples", default_value_t = 128)]
    pub error_samples: usize,
    /// Error threshold.
    #[arg(
        long = "threshold",
        default_value_t = 1e-3,
        allow_negative_numbers = true
    )]
    pub threshold: f64,
    /// Refine if kept neurons / all hidden neurons exceeds this.
    #[arg(
        long = "prop_threshold",
        default_value_t = 0.2,
        allow_negative_numbers = true
    )]
    pub prop_threshold: f64,
    /// ID tolerance: smaller keeps more neurons.
    #[arg(
        long = "epsilon",
        default_value_t = 1e-3,
        allow_negative_numbers = true
    )]
    pub epsilon: f64,
    /// Iterations in all (uniform ones included).
    #[arg(long = "max_it", default_value_t = 4)]
    pub max_it: usize,
    /// Stop adaptive refinement once DOFs reach this.
    #[arg(long = "max_dofs", default_value_t = 5000)]
    pub max_dofs: usize,
    /// Time of the slice for 4D (space + time) INRs.
    #[arg(
        long = "time_slice",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    pub time_slice: f64,
    /// Which built-in INR (see --list-keys). Default hos.
    #[arg(long = "INR_key")]
    pub inr_key: Option<String>,
    /// BasicAMR: refine by interpolation error instead of pruning.
    #[arg(long = "avg_error")]
    pub avg_error: bool,
    /// Refinement criterion: pruning (PruningAMR, the default), basic (BasicAMR, the same as
    /// --avg_error) or estimate (Dörfler marking by an estimate of the interpolation error).
    #[arg(long = "criterion", value_enum)]
    pub criterion: Option<Criterion>,
    /// Dörfler fraction θ in (0, 1] of --criterion estimate: refine the fewest elements
    /// holding this share of the estimated squared error (within --max_dofs).
    #[arg(long = "theta", default_value_t = 0.5, allow_negative_numbers = true)]
    pub theta: f64,
    /// Also write ParaView files (ParaView/*.vtu + .pvd).
    #[arg(long = "paraview")]
    pub paraview: bool,
    /// Also draw PNG pictures: it_N.png per iteration (the field as a colour map with the
    /// element edges; mid-plane slices for 3-D meshes) and convergence.png (RMSE against DOFs,
    /// with the other runs of the same key in the output folder).
    #[arg(long = "plot")]
    pub plot: bool,
    /// Uniform iterations before adaptive ones; they count toward max_it.
    #[arg(long = "num_uniform_ref", default_value_t = 2)]
    pub num_uniform_ref: usize,
    /// Network file: a PyTorch checkpoint of the original's format or the project's npz.
    #[arg(long = "checkpoint")]
    pub checkpoint: Option<PathBuf>,
    /// Start mesh (MFEM mesh v1.0 or MFEM INLINE mesh v1.0, quads or hexes).
    #[arg(long = "mesh")]
    pub mesh: Option<PathBuf>,
    /// Root folder of the results.
    #[arg(long = "output", default_value = "output")]
    pub output: PathBuf,
    /// Seed of every random draw.
    #[arg(long = "seed", default_value_t = 3)]
    pub seed: u64,
    /// Worker threads (default: min(16, number of CPUs)).
    #[arg(long = "threads")]
    pub threads: Option<usize>,
    /// Print nothing but errors.
    #[arg(long = "quiet")]
    pub quiet: bool,
    /// List the built-in INR keys and exit.
    #[arg(long = "list-keys")]
    pub list_keys: bool,
}

/// How adaptive iterations choose the elements to refine.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Criterion {
    /// PruningAMR: refine new elements whose network does not prune well (SPEC §2.1).
    Pruning,
    /// BasicAMR: refine elements whose relative interpolation error reaches the threshold.
    Basic,
    /// Dörfler marking of every element by an estimate of ‖f − I f‖ on it, to the budget.
    Estimate,
}

impl Criterion {
    /// The name on the command line and in parameters.json.
    pub fn name(self) -> &'static str {
        match self {
            Criterion::Pruning => "pruning",
            Criterion::Basic => "basic",
            Criterion::Estimate => "estimate",
        }
    }
}

/// A command-line value that cannot be used; reported as `pruningamr: --option: why`.
#[derive(Debug, thiserror::Error)]
#[error("--{option}: {message}")]
pub struct UsageError {
    pub option: &'static str,
    pub message: String,
}

fn usage(option: &'static str, message: impl Into<String>) -> UsageError {
    UsageError {
        option,
        message: message.into(),
    }
}

/// A validated run configuration: every value usable, the INR source resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub original: bool,
    pub id_samples: usize,
    pub error_samples: usize,
    pub threshold: f64,
    pub prop_threshold: f64,
    pub epsilon: f64,
    pub max_it: usize,
    pub max_dofs: usize,
    pub time_slice: f64,
    /// The key naming the experiment (`--INR_key`, else the checkpoint's stem, else `hos`).
    pub key: String,
    /// `criterion == Basic` (the original's flag, kept for its folder name and parameters).
    pub avg_error: bool,
    pub criterion: Criterion,
    /// Dörfler fraction of the `estimate` criterion.
    pub theta: f64,
    pub paraview: bool,
    /// Draw it_N.png and convergence.png (`--plot`).
    pub plot: bool,
    pub num_uniform_ref: usize,
    pub checkpoint: Option<PathBuf>,
    pub mesh: Option<PathBuf>,
    pub output: PathBuf,
    pub seed: u64,
    pub threads: usize,
    pub quiet: bool,
}

impl Cli {
    /// Checks every value before any work; the message names the option.
    pub fn validate(&self) -> Result<Config, UsageError> {
        if self.id_samples == 0 {
            return Err(usage("ID_samples", "must be at least 1"));
        }
        if self.error_samples == 0 {
            return Err(usage("error_samples", "must be at least 1"));
        }
        for (name, v) in [
            ("threshold", self.threshold),
            ("prop_threshold", self.prop_threshold),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(usage(
                    name,
                    format!("must be a finite number >= 0, got {v}"),
                ));
            }
        }
        if !(self.epsilon > 0.0 && self.epsilon < 1.0) {
            return Err(usage(
                "epsilon",
                format!("must lie strictly between 0 and 1, got {}", self.epsilon),
            ));
        }
        if !self.time_slice.is_finite() {
            return Err(usage("time_slice", "must be a finite number"));
        }
        let criterion = match (self.criterion, self.avg_error) {
            (None, false) => Criterion::Pruning,
            (None, true) | (Some(Criterion::Basic), _) => Criterion::Basic,
            (Some(c), false) => c,
            (Some(c), true) => {
                return Err(usage(
                    "criterion",
                    format!(
                        "--avg_error means basic, but --criterion {} was given",
                        c.name()
                    ),
                ));
            }
        };
        if !(self.theta > 0.0 && self.theta <= 1.0) {
            return Err(usage(
                "theta",
                format!("must lie in (0, 1], got {}", self.theta),
            ));
        }
        if self.threads == Some(0) {
            return Err(usage("threads", "must be at least 1"));
        }
        let key = match (&self.inr_key, &self.checkpoint) {
            (Some(k), _) => k.clone(),
            (None, Some(path)) => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| usage("checkpoint", "the path has no file name"))?,
            (None, None) => "hos".to_string(),
        };
        if key.is_empty() || key.contains(['/', '\\']) || key == "." || key == ".." {
            return Err(usage("INR_key", format!("not a usable key: {key:?}")));
        }
        if self.checkpoint.is_none() {
            let known = BUILTIN_KEYS.iter().any(|b| b.key == key);
            if !known && !is_ct_key(&key) {
                let list: Vec<&str> = BUILTIN_KEYS.iter().map(|b| b.key).collect();
                return Err(usage(
                    "INR_key",
                    format!(
                        "unknown key {key:?}; built-in keys: {} (or give --checkpoint FILE)",
                        list.join(", ")
                    ),
                ));
            }
        }
        let threads = self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(16)
        });
        Ok(Config {
            original: self.original,
            id_samples: self.id_samples,
            error_samples: self.error_samples,
            threshold: self.threshold,
            prop_threshold: self.prop_threshold,
            epsilon: self.epsilon,
            max_it: self.max_it,
            max_dofs: self.max_dofs,
            time_slice: self.time_slice,
            key,
            avg_error: criterion == Criterion::Basic,
            criterion,
            theta: self.theta,
            paraview: self.paraview,
            plot: self.plot,
            num_uniform_ref: self.num_uniform_ref,
            checkpoint: self.checkpoint.clone(),
            mesh: self.mesh.clone(),
            output: self.output.clone(),
            seed: self.seed,
            threads,
            quiet: self.quiet,
        })
    }
}

impl Config {
    pub fn is_ct(&self) -> bool {
        is_ct_key(&self.key)
    }

    /// The experiment folder of SPEC §5, named exactly as the original names it so that batch
    /// scripts written for it find the same folders.
    /// The experiment folder of this run (SPEC §5; encoded and decoded in `experiment::name`).
    pub fn experiment_dir(&self) -> PathBuf {
        crate::experiment::name::folder(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cli(args: &[&str]) -> Cli {
        let mut full = vec!["pruningamr"];
        full.extend_from_slice(args);
        Cli::try_parse_from(full).expect("parses")
    }

    #[test]
    fn defaults_are_the_originals() {
        let c = cli(&[]).validate().unwrap();
        assert_eq!((c.id_samples, c.error_samples), (256, 128));
        assert_eq!(
            (c.threshold, c.prop_threshold, c.epsilon),
            (1e-3, 0.2, 1e-3)
        );
        assert_eq!((c.max_it, c.max_dofs, c.num_uniform_ref), (4, 5000, 2));
        assert_eq!((c.time_slice, c.seed), (1.0, 3));
        assert_eq!(c.key, "hos");
        assert!(!c.original && !c.avg_error && !c.paraview && !c.plot);
        assert_eq!((c.criterion, c.theta), (Criterion::Pruning, 0.5));
        let basic = cli(&["--criterion", "basic"]).validate().unwrap();
        assert!(basic.avg_error && basic.criterion == Criterion::Basic);
        let alias = cli(&["--avg_error"]).validate().unwrap();
        assert_eq!(alias.criterion, Criterion::Basic);
    }

    #[test]
    fn folder_names_match_the_original() {
        let c = cli(&["--output", "out"]).validate().unwrap();
        assert_eq!(
            c.experiment_dir(),
            Path::new("out/hos/thrs_0.001_prop_thrs_0.2_eps_0.001_nsamp_256_errsamp_128")
        );
        let c = cli(&[
            "--output",
            "out",
            "--epsilon",
            "1e-5",
            "--avg_error",
            "--INR_key",
            "hol",
        ])
        .validate()
        .unwrap();
        assert_eq!(
            c.experiment_dir(),
            Path::new("out/hol/avg_error/thrs_0.001_prop_thrs_0.2_eps_1e-05_nsamp_256_errsamp_128")
        );
        let c = cli(&[
            "--output",
            "out",
            "--original",
            "--INR_key",
            "CT_demo",
            "--time_slice",
            "0.5",
        ])
        .validate()
        .unwrap();
        assert_eq!(
            c.experiment_dir(),
            Path::new("out/CT_demo_original_tslice_0.5")
        );
        let c = cli(&["--output", "o", "--INR_key", "CT_demo"])
            .validate()
            .unwrap();
        assert_eq!(
            c.experiment_dir(),
            Path::new(
                "o/CT_demo/thrs_0.001_prop_thrs_0.2_eps_0.001_nsamp_256_errsamp_128_tslice_1.0"
            )
        );
        let c = cli(&[
            "--output",
            "o",
            "--original",
            "--checkpoint",
            "nets/my_net.ckpt",
        ])
        .validate()
        .unwrap();
        assert_eq!(c.experiment_dir(), Path::new("o/my_net_original"));
    }

    #[test]
    fn bad_values_name_their_option() {
        let cases: &[(&[&str], &str)] = &[
            (&["--ID_samples", "0"], "ID_samples"),
            (&["--error_samples", "0"], "error_samples"),
            (&["--threshold", "-1"], "threshold"),
            (&["--threshold", "nan"], "threshold"),
            (&["--prop_threshold", "inf"], "prop_threshold"),
            (&["--epsilon", "0"], "epsilon"),
            (&["--epsilon", "1"], "epsilon"),
            (&["--INR_key", "nope"], "INR_key"),
            (&["--threads", "0"], "threads"),
            (&["--theta", "0"], "theta"),
            (&["--theta", "1.5"], "theta"),
            (&["--avg_error", "--criterion", "estimate"], "criterion"),
        ];
        for (args, option) in cases {
            let err = cli(args).validate().unwrap_err();
            assert_eq!(err.option, *option, "{args:?}");
            assert!(err.to_string().starts_with(&format!("--{option}: ")));
        }
    }
}
