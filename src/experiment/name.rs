//! The experiment folder's name (SPEC §5), encoded from the settings and decoded back in this
//! one place: batch scripts written for the original find the same folders, and `--plot`
//! reads a sweep's settings from its sibling folders' names.

use std::path::{Path, PathBuf};

use crate::config::{Config, Criterion};

/// How a run refines, as its folder tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    /// `--original`: uniform refinement.
    Uniform,
    /// PruningAMR (the default).
    Pruning,
    /// BasicAMR (`--avg_error`).
    Basic,
    /// `--criterion estimate`: Dörfler marking by the interpolation-error estimate.
    Estimate,
}

impl Method {
    /// The name shown in pictures.
    pub fn label(self) -> &'static str {
        match self {
            Method::Uniform => "uniform",
            Method::Pruning => "PruningAMR",
            Method::Basic => "BasicAMR",
            Method::Estimate => "EstimateAMR",
        }
    }
}

/// The folder of a run: `<output>/<key>_original[_tslice_T]` for `--original`, else
/// `<output>/<key>/[avg_error/]thrs_…_prop_thrs_…_eps_…_nsamp_…_errsamp_…[_tslice_T]`, and
/// for the estimate criterion (whose only settings are θ, the samples per element and
/// `--isotropic`) `<output>/<key>/estimate/theta_…_errsamp_…[_split_iso][_tslice_T]`, as the
/// settings alone tell it:
/// `_tslice_` for CT keys and `--time_slices` runs. The run itself uses [`folder_with`] once
/// it knows whether its network is sliced in time.
pub fn folder(cfg: &Config) -> PathBuf {
    folder_with(cfg, cfg.is_ct() || cfg.time_slices.is_some())
}

/// The folder of a run whose network is (`time_sliced`) or is not sliced in time: CT keys, and
/// a network with a time input on a mesh one dimension smaller (NS_PINN on a 2-D mesh), get
/// `_tslice_<time_slice>`, so the slices of one series never share a folder.
pub fn folder_with(cfg: &Config, time_sliced: bool) -> PathBuf {
    let tslice = match time_sliced {
        true => format!("{TSLICE}{}", python_float(cfg.time_slice)),
        false => String::new(),
    };
    run_folder(cfg, &tslice)
}

/// The folder of a `--time_slices` series (its `series.pvd` and `series.png`): the slices'
/// folder name with `_tslice_<t>` replaced by `_series`, beside them:
/// `<output>/<key>/[avg_error/]thrs_…_errsamp_<n>_series`, or `<output>/<key>_original_series`.
pub fn series_folder(cfg: &Config) -> PathBuf {
    run_folder(cfg, SERIES)
}

const TSLICE: &str = "_tslice_";
/// Marks an `--isotropic` estimate run (`split` `iso` when parsed).
const ISOTROPIC: &str = "_split_iso";
const SERIES: &str = "_series";

fn run_folder(cfg: &Config, suffix: &str) -> PathBuf {
    if cfg.original {
        return cfg.output.join(format!("{}_original{}", cfg.key, suffix));
    }
    let mut dir = cfg.output.join(&cfg.key);
    if cfg.criterion == Criterion::Estimate {
        return dir.join(ESTIMATE_FOLDER).join(format!(
            "theta_{}_errsamp_{}{}{}",
            python_float(cfg.theta),
            cfg.error_samples,
            if cfg.anisotropic { "" } else { ISOTROPIC },
            suffix
        ));
    }
    if cfg.avg_error {
        dir = dir.join("avg_error");
    }
    dir.join(format!(
        "thrs_{}_prop_thrs_{}_eps_{}_nsamp_{}_errsamp_{}{}",
        python_float(cfg.threshold),
        python_float(cfg.prop_threshold),
        python_float(cfg.epsilon),
        cfg.id_samples,
        cfg.error_samples,
        suffix
    ))
}

/// The settings of a series folder of [`series_folder`] (those its slices share), or None
/// for any other folder.
pub fn parse_series_folder(dir: &Path, key: &str) -> Option<RunSettings> {
    let name = dir.file_name()?.to_str()?;
    let run = name.strip_suffix(SERIES)?;
    let settings = parse_folder(&dir.with_file_name(run), key)?;
    // A slice's folder decodes too; a series folder has no time of its own.
    settings.value("tslice").is_none().then_some(settings)
}

/// The folder under `<output>/<key>/` holding the estimate criterion's runs.
pub const ESTIMATE_FOLDER: &str = "estimate";

/// One run's settings as its folder name spells them (what differs between sibling runs).
#[derive(Clone, Debug, PartialEq)]
pub struct RunSettings {
    pub method: Method,
    /// (name, value as in the folder name), in the folder name's order.
    pub values: Vec<(&'static str, String)>,
}

/// The settings a folder name of SPEC §5 encodes, or None for another folder.
pub fn parse_folder(dir: &Path, key: &str) -> Option<RunSettings> {
    let name = dir.file_name()?.to_str()?;
    let original = format!("{key}_original");
    if name == original || name.starts_with(&format!("{original}_tslice_")) {
        let values = match name.strip_prefix(&format!("{original}_tslice_")) {
            Some(t) => vec![("tslice", t.to_string())],
            None => Vec::new(),
        };
        return Some(RunSettings {
            method: Method::Uniform,
            values,
        });
    }
    let parent = dir.parent().and_then(|p| p.file_name());
    let estimate = parent == Some(ESTIMATE_FOLDER.as_ref());
    let (first, rest) = match estimate {
        true => ("theta", name.strip_prefix("theta_")?),
        false => ("thrs", name.strip_prefix("thrs_")?),
    };
    let mut tokens = std::iter::once(first).chain(rest.split('_'));
    let mut values = Vec::new();
    while let Some(t) = tokens.next() {
        let setting = match t {
            "thrs" if !estimate => "threshold",
            "theta" if estimate => "theta",
            "prop" if tokens.next() == Some("thrs") => "prop",
            "eps" => "eps",
            "nsamp" => "nsamp",
            "errsamp" => "errsamp",
            "split" if estimate => "split",
            "tslice" => "tslice",
            _ => return None,
        };
        values.push((setting, tokens.next()?.to_string()));
    }
    let method = if estimate {
        Method::Estimate
    } else if parent == Some("avg_error".as_ref()) {
        Method::Basic
    } else {
        Method::Pruning
    };
    Some(RunSettings { method, values })
}

impl RunSettings {
    /// The value of a setting (`threshold`, `prop`, `eps`, `nsamp`, `errsamp`, `tslice`;
    /// `theta`, `errsamp`, `split`, `tslice` for the estimate criterion).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Formats a float as Python's `str(float)` does: the shortest digits that round-trip, fixed
/// notation for decimal exponents in [-4, 16), else `d.ddde±XX`; integers keep a `.0`.
pub fn python_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` gives the shortest round-trip digits as d.ddd e X.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            let (a, b) = digits.split_at((exp + 1) as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Cli;
    use clap::Parser;

    fn cli_of(args: &[&str]) -> Cli {
        Cli::parse_from(std::iter::once("pruningamr").chain(args.iter().copied()))
    }

    #[test]
    fn folder_names_match_the_original() {
        let c = cli_of(&["--output", "out"]).validate().unwrap();
        assert_eq!(
            folder(&c),
            Path::new("out/hos/thrs_0.001_prop_thrs_0.2_eps_0.001_nsamp_256_errsamp_128")
        );
        let c = cli_of(&[
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
            folder(&c),
            Path::new("out/hol/avg_error/thrs_0.001_prop_thrs_0.2_eps_1e-05_nsamp_256_errsamp_128")
        );
        let c = cli_of(&[
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
        assert_eq!(folder(&c), Path::new("out/CT_demo_original_tslice_0.5"));
        let c = cli_of(&["--output", "o", "--INR_key", "CT_demo"])
            .validate()
            .unwrap();
        assert_eq!(
            folder(&c),
            Path::new(
                "o/CT_demo/thrs_0.001_prop_thrs_0.2_eps_0.001_nsamp_256_errsamp_128_tslice_1.0"
            )
        );
        let c = cli_of(&[
            "--output",
            "o",
            "--original",
            "--checkpoint",
            "nets/my_net.ckpt",
        ])
        .validate()
        .unwrap();
        assert_eq!(folder(&c), Path::new("o/my_net_original"));
    }

    #[test]
    fn series_folders_sit_beside_their_slices_and_decode() {
        let cases: &[(&[&str], &str, &str)] = &[
            (
                &[
                    "--INR_key",
                    "CT_demo",
                    "--time_slices",
                    "0:1:5",
                    "--prop_threshold",
                    "0.6",
                ],
                "o/CT_demo/thrs_0.001_prop_thrs_0.6_eps_0.001_nsamp_256_errsamp_128_series",
                "o/CT_demo/thrs_0.001_prop_thrs_0.6_eps_0.001_nsamp_256_errsamp_128_tslice_0.25",
            ),
            (
                &["--INR_key", "CT_demo", "--original", "--time_slices", "0,1"],
                "o/CT_demo_original_series",
                "o/CT_demo_original_tslice_0.25",
            ),
            (
                &[
                    "--INR_key",
                    "NS_PINN",
                    "--avg_error",
                    "--time_slices",
                    "0,5,10",
                ],
                "o/NS_PINN/avg_error/thrs_0.001_prop_thrs_0.2_eps_0.001_nsamp_256_errsamp_128_series",
                "o/NS_PINN/avg_error/thrs_0.001_prop_thrs_0.2_eps_0.001_nsamp_256_errsamp_128_tslice_0.25",
            ),
        ];
        for (args, series, slice) in cases {
            let mut full = vec!["--output", "o", "--time_slice", "0.25"];
            full.extend_from_slice(args);
            let cfg = cli_of(&full).validate().unwrap();
            assert_eq!(series_folder(&cfg), Path::new(series));
            assert_eq!(folder(&cfg), Path::new(slice));
            assert_eq!(folder_with(&cfg, true), Path::new(slice));
            let s = parse_series_folder(&series_folder(&cfg), &cfg.key).expect("decodes");
            let mut of_slice = parse_folder(&folder(&cfg), &cfg.key).expect("decodes");
            of_slice.values.retain(|(n, _)| *n != "tslice");
            assert_eq!(s, of_slice, "{series}");
            // Neither is mistaken for the other.
            assert!(parse_series_folder(&folder(&cfg), &cfg.key).is_none());
            assert!(parse_folder(&series_folder(&cfg), &cfg.key).is_none());
        }
        // Without a time input in the settings, no _tslice_.
        let c = cli_of(&["--output", "o", "--INR_key", "NS_PINN"])
            .validate()
            .unwrap();
        assert_eq!(
            folder(&c),
            Path::new("o/NS_PINN/thrs_0.001_prop_thrs_0.2_eps_0.001_nsamp_256_errsamp_128")
        );
    }

    #[test]
    fn floats_format_like_python_str() {
        let cases = [
            (0.001, "0.001"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (0.2, "0.2"),
            (1.0, "1.0"),
            (1e-10, "1e-10"),
            (0.25, "0.25"),
            (0.15, "0.15"),
            (0.05, "0.05"),
            (2.5e-5, "2.5e-05"),
            (123.456, "123.456"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (-0.5, "-0.5"),
            (0.0, "0.0"),
            (12.0, "12.0"),
            (1.5e-7, "1.5e-07"),
        ];
        for (x, want) in cases {
            assert_eq!(python_float(x), want, "for {x:e}");
        }
    }

    #[test]
    fn folder_names_decode_to_the_settings_they_encode() {
        let cases: &[&[&str]] = &[
            &[],
            &[
                "--threshold",
                "1e-5",
                "--prop_threshold",
                "0.15",
                "--epsilon",
                "0.0001",
            ],
            &["--avg_error", "--threshold", "0.05", "--ID_samples", "64"],
            &[
                "--INR_key",
                "CT_demo",
                "--time_slice",
                "0.25",
                "--error_samples",
                "32",
            ],
            &["--original"],
            &["--original", "--INR_key", "CT_demo", "--time_slice", "0.5"],
            &[
                "--criterion",
                "estimate",
                "--theta",
                "0.35",
                "--error_samples",
                "16",
            ],
            &[
                "--criterion",
                "estimate",
                "--INR_key",
                "CT_demo",
                "--time_slice",
                "0.25",
            ],
            &[
                "--criterion",
                "estimate",
                "--isotropic",
                "--INR_key",
                "CT_demo",
            ],
            &["--criterion", "basic"],
        ];
        for args in cases {
            let cli = Cli::parse_from(std::iter::once("pruningamr").chain(args.iter().copied()));
            let cfg = cli.validate().unwrap();
            let dir = folder(&cfg);
            let s = parse_folder(&dir, &cfg.key)
                .unwrap_or_else(|| panic!("{} does not decode", dir.display()));
            let method = match (cfg.original, cfg.criterion) {
                (true, _) => Method::Uniform,
                (false, Criterion::Basic) => Method::Basic,
                (false, Criterion::Pruning) => Method::Pruning,
                (false, Criterion::Estimate) => Method::Estimate,
            };
            assert_eq!(s.method, method, "{}", dir.display());
            let tslice =
                (cfg.is_ct() || cfg.time_slices.is_some()).then(|| python_float(cfg.time_slice));
            assert_eq!(s.value("tslice"), tslice.as_deref(), "{}", dir.display());
            if method == Method::Estimate {
                assert_eq!(s.value("theta"), Some(python_float(cfg.theta).as_str()));
                let split = (!cfg.anisotropic).then_some("iso");
                assert_eq!(s.value("split"), split, "{}", dir.display());
                assert_eq!(
                    s.value("errsamp"),
                    Some(cfg.error_samples.to_string().as_str())
                );
                assert_eq!(s.value("threshold"), None);
                assert_eq!(
                    dir.parent().and_then(|p| p.file_name()),
                    Some(ESTIMATE_FOLDER.as_ref())
                );
            } else if !cfg.original {
                assert_eq!(
                    s.value("threshold"),
                    Some(python_float(cfg.threshold).as_str())
                );
                assert_eq!(
                    s.value("prop"),
                    Some(python_float(cfg.prop_threshold).as_str())
                );
                assert_eq!(s.value("eps"), Some(python_float(cfg.epsilon).as_str()));
                assert_eq!(s.value("nsamp"), Some(cfg.id_samples.to_string().as_str()));
                assert_eq!(
                    s.value("errsamp"),
                    Some(cfg.error_samples.to_string().as_str())
                );
            }
        }
    }
}
