//! A time series of slices of a space-time INR (`--time_slices`): each slice is a whole run,
//! exactly as `--time_slice t` would do it (same options, same folder, same files), run one
//! after the other; then `series.pvd` lists the slices' last iterations as the time steps of
//! one ParaView collection, and with `--plot` `series.png` shows them side by side on one
//! colour scale. Also the command's entry point: it checks what needs the network to know
//! (a time input, the component drawn) before any slice runs.
//!
//! The slices run sequentially: each run already spreads its scoring, vertex evaluation and
//! RMSE over every worker, so running slices side by side would not be faster on the pool,
//! and sequential runs make every slice's files exactly a lone run's.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::config::{Config, Drawn, UsageError};
use crate::error::Error;
use crate::experiment::RunSummary;
use crate::experiment::name::{python_float, series_folder};
use crate::field::MeshField;
use crate::plot::SheetLayout;
use crate::run::{IterationView, Observer, load_agreed};

/// File name of the series collection in the series folder.
pub const SERIES_FILE: &str = "series.pvd";

/// What a series wrote: every slice's run and the series files.
#[derive(Debug)]
pub struct SeriesSummary {
    /// (time, run) per slice, in the order of `--time_slices`.
    pub slices: Vec<(f64, RunSummary)>,
    /// `<series folder>/series.pvd`.
    pub pvd: PathBuf,
    /// `<series folder>/series.png` with `--plot`, and where its panels and colour bar are.
    pub sheet: Option<(PathBuf, SheetLayout)>,
}

/// What the command ran: one run, or a series.
#[derive(Debug)]
pub enum Outcome {
    Run(RunSummary),
    Series(SeriesSummary),
}

/// Runs what the configuration asks: a series with `--time_slices`, else one run.
pub fn run(cfg: &Config, obs: &dyn Observer) -> Result<Outcome, Error> {
    match &cfg.time_slices {
        None => {
            if cfg.plot && cfg.plot_component.is_some() {
                let inputs = load_agreed(cfg, crate::ranks::world())?;
                crate::figures::drawn(cfg, inputs.inr.output_names())?;
            }
            crate::run::run(cfg, obs).map(Outcome::Run)
        }
        Some(times) => run_series(cfg, times, obs).map(Outcome::Series),
    }
}

/// The configuration of the slice at time `t`: the series' own, at that time, with ParaView
/// files (the series points at them).
pub(crate) fn slice_config(cfg: &Config, t: f64) -> Config {
    Config {
        time_slice: t,
        paraview: true,
        ..cfg.clone()
    }
}

/// Runs every slice, then writes the series files.
pub(crate) fn run_series(
    cfg: &Config,
    times: &[f64],
    obs: &dyn Observer,
) -> Result<SeriesSummary, Error> {
    let ranks = crate::ranks::world();
    let inputs = load_agreed(&slice_config(cfg, times[0]), ranks)?;
    if inputs.inr.coordinates().time().is_none() {
        return Err(UsageError {
            option: "time_slices",
            message: format!(
                "the network {} has no time input on {} ({} inputs on a {}-D mesh); only CT \
                 keys and networks with one input more than the mesh's dimension are sliced",
                inputs.network_source,
                inputs.mesh_source,
                inputs.inr.inr_dim(),
                inputs.mesh.dim()
            ),
        }
        .into());
    }
    let drawn = crate::figures::drawn(cfg, inputs.inr.output_names())?;
    drop(inputs);
    if cfg.max_it == 0 {
        return Err(UsageError {
            option: "time_slices",
            message: "a series needs iterations to show; --max_it is 0".into(),
        }
        .into());
    }

    let mut slices = Vec::with_capacity(times.len());
    let mut last_fields = Vec::new();
    for (k, &t) in times.iter().enumerate() {
        obs.line(&format!(
            "slice {} of {}: t = {}",
            k + 1,
            times.len(),
            python_float(t)
        ));
        let keep = KeepLast::new(obs, cfg.plot);
        let summary = crate::run::run(&slice_config(cfg, t), &keep)?;
        if let Some(field) = keep.take() {
            last_fields.push((t, field));
        }
        slices.push((t, summary));
    }

    let dir = series_folder(cfg);
    let written = Error::agreed(
        ranks,
        match ranks.rank() {
            0 => write_series(cfg, &dir, &slices, &last_fields, drawn, obs),
            _ => Ok(None),
        },
    );
    let sheet = written?;
    Ok(SeriesSummary {
        slices,
        pvd: dir.join(SERIES_FILE),
        sheet,
    })
}

/// The series files (rank 0 writes them): `series.pvd`, and `series.png` with `--plot`.
fn write_series(
    cfg: &Config,
    dir: &Path,
    slices: &[(f64, RunSummary)],
    last_fields: &[(f64, MeshField)],
    drawn: Drawn,
    obs: &dyn Observer,
) -> Result<Option<(PathBuf, SheetLayout)>, Error> {
    std::fs::create_dir_all(dir).map_err(Error::write(dir))?;
    let steps: Vec<(String, String)> = slices
        .iter()
        .filter_map(|(t, s)| {
            let it = s.iterations.last()?.it;
            Some((python_float(*t), last_vtu(dir, &s.experiment_dir, it)))
        })
        .collect();
    let pvd = dir.join(SERIES_FILE);
    crate::mesh::write_collection(&pvd, &steps).map_err(Error::write(&pvd))?;
    obs.line(&format!(
        "wrote {} ({} time steps)",
        pvd.display(),
        steps.len()
    ));

    let sheet = match cfg.plot && !last_fields.is_empty() {
        true => {
            let path = dir.join(crate::figures::SHEET_FILE);
            let names = last_fields[0].1.names().to_vec();
            let title = format!(
                "{} — {} — {} slices, last iteration of each",
                cfg.key,
                crate::figures::drawn_name(&names, drawn),
                last_fields.len()
            );
            let last_it = slices
                .iter()
                .filter_map(|(_, s)| s.iterations.last().map(|r| r.it))
                .max()
                .unwrap_or(0);
            let layout = crate::figures::draw_sheet(&title, last_fields, drawn, &path).map_err(
                |source| Error::Plot {
                    it: last_it,
                    source,
                },
            )?;
            obs.line(&format!("wrote {}", path.display()));
            Some((path, layout))
        }
        false => None,
    };
    Ok(sheet)
}

/// The path of a slice's last `.vtu` as the series collection names it: relative to the
/// series folder (its sibling), so the output folder can be moved as a whole.
fn last_vtu(series_dir: &Path, slice_dir: &Path, it: usize) -> String {
    let file = format!("ParaView/pruningamr_{it}.vtu");
    match (
        series_dir.parent(),
        slice_dir.parent(),
        slice_dir.file_name(),
    ) {
        (Some(a), Some(b), Some(name)) if a == b => {
            format!("../{}/{file}", name.to_string_lossy())
        }
        _ => std::path::absolute(slice_dir)
            .unwrap_or_else(|_| slice_dir.to_path_buf())
            .join(file)
            .display()
            .to_string(),
    }
}

/// Passes everything to the series' observer and keeps a copy of the last iteration's field
/// (for the contact sheet) when asked to.
struct KeepLast<'a> {
    inner: &'a dyn Observer,
    keep: bool,
    last: Mutex<Option<MeshField>>,
}

impl<'a> KeepLast<'a> {
    fn new(inner: &'a dyn Observer, keep: bool) -> KeepLast<'a> {
        KeepLast {
            inner,
            keep,
            last: Mutex::new(None),
        }
    }

    fn take(self) -> Option<MeshField> {
        self.last.into_inner().ok().flatten()
    }
}

impl Observer for KeepLast<'_> {
    fn line(&self, text: &str) {
        self.inner.line(text);
    }
    fn start(&self, what: &str, len: u64) {
        self.inner.start(what, len);
    }
    fn advance(&self, n: u64) {
        self.inner.advance(n);
    }
    fn finish(&self) {
        self.inner.finish();
    }
    fn iteration(&self, view: &IterationView<'_>) {
        if self.keep
            && let Ok(mut last) = self.last.lock()
        {
            *last = Some(view.field.clone());
        }
        self.inner.iteration(view);
    }
}
