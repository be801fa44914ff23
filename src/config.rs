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
    /// Sample points per element for the error estimate [default: 128; 16 for --criterion
    /// estimate, whose jets make 16 as accurate as 128 (docs/convergence)].
    #[arg(long = "error_samples")]
    pub error_samples: Option<usize>,
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
    /// --criterion estimate: split every marked element along all its axes. By default, on
    /// 3-D meshes of axis-aligned boxes and smooth networks, an element is halved only along
    /// the axes its error needs (anisotropic refinement).
    #[arg(long = "isotropic")]
    pub isotropic: bool,
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
    /// Points of the RMSE estimate, drawn once per run (default: 262144, 2097152, 1048576
    /// for 2, 3, 4 INR inputs); 0 skips the RMSE.
    #[arg(long = "rmse_samples")]
    pub rmse_samples: Option<usize>,
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

    // Time series and named outputs (issue 16).
    /// Times of a series of slices of an INR with a time input: a comma-separated list
    /// ("0,0.5,1") or START:STOP:COUNT (COUNT evenly spaced times, both ends included). Each
    /// slice is a whole run, as `--time_slice` would do it; then `<...>_series/series.pvd`
    /// lists their last iterations as time steps (implies --paraview).
    #[arg(long = "time_slices", allow_hyphen_values = true)]
    pub time_slices: Option<String>,
    /// Output component drawn by --plot: its name (e.g. u), its index from 0, or `magnitude`
    /// (also `|uv|`): the length of the first two components (a velocity). Default: the first.
    #[arg(long = "plot_component")]
    pub plot_component: Option<String>,
    // What a network file does not say about itself (README, "Bring your own network").
    /// Activations of a state dict: one for every hidden layer (the output Identity), or one
    /// per layer, comma separated, parameters after a colon: sine:30, tanh,
    /// relu,relu,identity, leakyrelu:0.2, softplus:2, gauss:1.5.
    #[arg(long = "activations")]
    pub activations: Option<String>,
    /// Network config JSON (activations, encoding, input normalization, output scale and
    /// names); default: <checkpoint>.json beside the checkpoint, if it exists.
    #[arg(long = "network_config")]
    pub network_config: Option<PathBuf>,
    /// Before meshing, evaluate the network at the points x of this npz and stop if it
    /// differs from its y by more than 1e-4 of y's range.
    #[arg(long = "verify")]
    pub verify: Option<PathBuf>,
}

/// `--error_samples` of `--criterion estimate` when not given: 16 sub-cell centres (4×4 in
/// 2-D, 4×2×2 in 3-D) estimate ‖f − I f‖ as well as 128 (NS_PINN: within 0.1 %, and η/‖e‖
/// per element 0.96–1.05 with either) at an eighth of the cost.
pub const ESTIMATE_ERROR_SAMPLES: usize = 16;

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
    /// The `estimate` criterion may halve an element along some of its axes only.
    pub anisotropic: bool,
    pub paraview: bool,
    /// Draw it_N.png and convergence.png (`--plot`).
    pub plot: bool,
    pub num_uniform_ref: usize,
    /// `--rmse_samples`: None for the default count of the INR's dimension.
    pub rmse_samples: Option<usize>,
    pub checkpoint: Option<PathBuf>,
    pub mesh: Option<PathBuf>,
    pub output: PathBuf,
    pub seed: u64,
    pub threads: usize,
    pub quiet: bool,

    // Time series and named outputs (issue 16).
    /// `--time_slices`: the times of the series' slices, in the order given.
    pub time_slices: Option<Vec<f64>>,
    /// `--plot_component`: the output drawn (resolved against the network's names at start).
    pub plot_component: Option<PlotComponent>,
    /// `--activations`, parsed.
    pub activations: Option<crate::network::ActivationList>,
    pub network_config: Option<PathBuf>,
    pub verify: Option<PathBuf>,
}

impl Cli {
    /// Checks every value before any work; the message names the option.
    pub fn validate(&self) -> Result<Config, UsageError> {
        if self.id_samples == 0 {
            return Err(usage("ID_samples", "must be at least 1"));
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
        let error_samples = match (self.error_samples, criterion) {
            (Some(0), _) => return Err(usage("error_samples", "must be at least 1")),
            (Some(n), _) => n,
            (None, Criterion::Estimate) => ESTIMATE_ERROR_SAMPLES,
            (None, _) => 128,
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
        let (time_slices, plot_component) = self.validate_series()?;
        let activations = match &self.activations {
            None => None,
            Some(text) => Some(
                crate::network::ActivationList::parse(text).map_err(|w| usage("activations", w))?,
            ),
        };
        if self.checkpoint.is_none() {
            for (given, option) in [
                (self.activations.is_some(), "activations"),
                (self.network_config.is_some(), "network_config"),
            ] {
                if given {
                    return Err(usage(
                        option,
                        "describes a network file; give it with --checkpoint FILE (the built-in \
                         networks store their own)",
                    ));
                }
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
            error_samples,
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
            anisotropic: !self.isotropic,
            paraview: self.paraview,
            plot: self.plot,
            num_uniform_ref: self.num_uniform_ref,
            rmse_samples: self.rmse_samples,
            checkpoint: self.checkpoint.clone(),
            mesh: self.mesh.clone(),
            output: self.output.clone(),
            seed: self.seed,
            threads,
            quiet: self.quiet,
            time_slices,
            plot_component,
            activations,
            network_config: self.network_config.clone(),
            verify: self.verify.clone(),
        })
    }
}

impl Config {
    pub fn is_ct(&self) -> bool {
        is_ct_key(&self.key)
    }
}

// Time series and named outputs (issue 16): the options' values and their checks.

/// The output component `--plot` draws, as typed; names are only known once the network is.
#[derive(Debug, Clone, PartialEq)]
pub enum PlotComponent {
    /// A component by its index, from 0.
    Index(usize),
    /// A component by its output name (`u`, `density`, ...).
    Name(String),
    /// The length of the first two components (the velocity of an (u, v, p) flow).
    Magnitude,
}

/// What a picture shows of a field with several components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawn {
    Component(usize),
    /// sqrt(c0^2 + c1^2).
    Magnitude,
}

impl PlotComponent {
    fn parse(text: &str) -> Result<PlotComponent, UsageError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(usage(
                "plot_component",
                "is empty; give a name, an index or magnitude",
            ));
        }
        if t.eq_ignore_ascii_case("magnitude") || t == "|uv|" {
            return Ok(PlotComponent::Magnitude);
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            let i = t
                .parse()
                .map_err(|_| usage("plot_component", format!("index {t} is too large")))?;
            return Ok(PlotComponent::Index(i));
        }
        Ok(PlotComponent::Name(t.to_string()))
    }

    /// The component of a field whose outputs are `names`, or why there is none.
    pub fn resolve(&self, names: &[String]) -> Result<Drawn, UsageError> {
        let list = || names.join(", ");
        match self {
            PlotComponent::Index(i) if *i < names.len() => Ok(Drawn::Component(*i)),
            PlotComponent::Index(i) => Err(usage(
                "plot_component",
                format!(
                    "index {i} is out of range: the outputs are {} (0 to {})",
                    list(),
                    names.len() - 1
                ),
            )),
            PlotComponent::Name(n) => names
                .iter()
                .position(|x| x == n)
                .map(Drawn::Component)
                .ok_or_else(|| {
                    usage(
                        "plot_component",
                        format!("no output is named {n:?}; the outputs are {}", list()),
                    )
                }),
            PlotComponent::Magnitude if names.len() >= 2 => Ok(Drawn::Magnitude),
            PlotComponent::Magnitude => Err(usage(
                "plot_component",
                format!("magnitude needs two components; the output is {}", list()),
            )),
        }
    }
}

/// Most slices of one series: each is a whole run.
const MAX_TIME_SLICES: usize = 1000;

/// `--time_slices`: "t0,t1,..." or "START:STOP:COUNT" (COUNT evenly spaced, both ends in).
pub fn parse_time_slices(text: &str) -> Result<Vec<f64>, UsageError> {
    let bad = |m: String| usage("time_slices", m);
    let number = |s: &str| -> Result<f64, UsageError> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| bad(format!("{:?} is not a number", s.trim())))?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(bad(format!("{v} is not a finite time")))
        }
    };
    let times = if text.contains(':') {
        let parts: Vec<&str> = text.split(':').collect();
        let [start, stop, count] = parts[..] else {
            return Err(bad(format!("{text:?} is not START:STOP:COUNT")));
        };
        let (start, stop) = (number(start)?, number(stop)?);
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| bad(format!("COUNT {:?} is not a whole number", count.trim())))?;
        if count == 0 || count > MAX_TIME_SLICES {
            return Err(bad(format!(
                "COUNT must be 1 to {MAX_TIME_SLICES}, got {count}"
            )));
        }
        if count > 1 && start == stop {
            return Err(bad(format!(
                "START and STOP are both {start}: the slices would be one"
            )));
        }
        // Computed from the ends (not by adding steps), so the last time is STOP exactly and
        // each time is the one a user typing it as --time_slice would get for round steps.
        (0..count)
            .map(|i| match i {
                0 => start,
                i if i + 1 == count => stop,
                i => start + (stop - start) * i as f64 / (count - 1) as f64,
            })
            .collect()
    } else {
        text.split(',')
            .map(number)
            .collect::<Result<Vec<f64>, _>>()?
    };
    if times.len() > MAX_TIME_SLICES {
        return Err(bad(format!(
            "{} slices; at most {MAX_TIME_SLICES}",
            times.len()
        )));
    }
    for (i, t) in times.iter().enumerate() {
        // Two equal times would write the same folder twice.
        if times[..i].contains(t) {
            return Err(bad(format!("time {t} is listed twice")));
        }
    }
    Ok(times)
}

impl Cli {
    fn validate_series(&self) -> Result<(Option<Vec<f64>>, Option<PlotComponent>), UsageError> {
        let times = self
            .time_slices
            .as_deref()
            .map(parse_time_slices)
            .transpose()?;
        let component = self
            .plot_component
            .as_deref()
            .map(PlotComponent::parse)
            .transpose()?;
        Ok((times, component))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut full = vec!["pruningamr"];
        full.extend_from_slice(args);
        Cli::try_parse_from(full).expect("parses")
    }

    #[test]
    fn defaults_are_the_originals() {
        let c = cli(&[]).validate().unwrap();
        assert_eq!((c.id_samples, c.error_samples), (256, 128));
        // The estimate criterion's own default, unless given.
        let est = |a: &[&str]| cli(a).validate().unwrap().error_samples;
        assert_eq!(est(&["--criterion", "estimate"]), 16);
        assert_eq!(
            est(&["--criterion", "estimate", "--error_samples", "64"]),
            64
        );
        assert_eq!(est(&["--criterion", "basic"]), 128);
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

    #[test]
    fn time_slices_parse_as_lists_and_ranges() {
        assert_eq!(
            parse_time_slices("0:1:5").unwrap(),
            vec![0.0, 0.25, 0.5, 0.75, 1.0]
        );
        assert_eq!(parse_time_slices("0, 5,10").unwrap(), vec![0.0, 5.0, 10.0]);
        assert_eq!(parse_time_slices("-1:1:3").unwrap(), vec![-1.0, 0.0, 1.0]);
        assert_eq!(parse_time_slices("0.5:0.5:1").unwrap(), vec![0.5]);
        for bad in [
            "", "a", "0:1", "0:1:0", "0:1:x", "1,1", "0:0:3", "nan", "0:1:2:3",
        ] {
            let err = parse_time_slices(bad).unwrap_err();
            assert_eq!(err.option, "time_slices", "{bad:?}");
        }
        let c = cli(&["--time_slices", "0:1:3", "--plot_component", "|uv|"])
            .validate()
            .unwrap();
        assert_eq!(c.time_slices, Some(vec![0.0, 0.5, 1.0]));
        assert_eq!(c.plot_component, Some(PlotComponent::Magnitude));
    }

    #[test]
    fn plot_components_resolve_by_name_index_or_magnitude() {
        let names: Vec<String> = ["u", "v", "p"].map(String::from).to_vec();
        let parse = |t: &str| PlotComponent::parse(t).unwrap();
        assert_eq!(parse("p").resolve(&names).unwrap(), Drawn::Component(2));
        assert_eq!(parse("1").resolve(&names).unwrap(), Drawn::Component(1));
        assert_eq!(
            parse("magnitude").resolve(&names).unwrap(),
            Drawn::Magnitude
        );
        assert_eq!(
            parse("3").resolve(&names).unwrap_err().option,
            "plot_component"
        );
        assert_eq!(
            parse("w").resolve(&names).unwrap_err().option,
            "plot_component"
        );
        let one = vec!["f".to_string()];
        assert!(parse("magnitude").resolve(&one).is_err());
    }
}
