//! The run of SPEC §2: load the INR and start mesh, the uniform and adaptive iterations, each
//! iteration's files and RMSE, and parameters.json.

use std::io::IsTerminal;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::json;

use crate::config::{Config, Coordinates, UsageError, shown};
use crate::error::{Rmse, RmseSampling, rmse, rmse_points};
use crate::inr_setup::{self, Inr};
use crate::mesh::{Mesh, ParaViewWriter};
use crate::mesh_handler::MeshField;
use crate::refinement::{score_basic, score_pruning};

/// Why the iterations ended.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    MaxIt,
    ReachedMaxDofs,
    Converged,
}

impl StopReason {
    fn text(self) -> &'static str {
        match self {
            StopReason::MaxIt => "max_it iterations done",
            StopReason::ReachedMaxDofs => "reached max_dofs",
            StopReason::Converged => "converged (no element marked)",
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
    pub kind: &'static str,
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
}

/// A scoring pass that marked no element.
#[derive(Clone, Debug, Serialize)]
pub struct FinalScoring {
    pub it: usize,
    pub scored: usize,
    pub scoring_gflop: f64,
    pub seconds: f64,
}

/// Prints progress lines unless `--quiet`.
struct Console {
    quiet: bool,
}

impl Console {
    fn line(&self, s: impl AsRef<str>) {
        if !self.quiet {
            println!("{}", s.as_ref());
        }
    }

    /// A progress bar on stderr when it is a terminal; hidden otherwise (batch scripts, logs).
    fn bar(&self, what: &str) -> ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "  {msg:>10} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})",
        ) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(what.to_string());
        pb
    }
}

/// The INR and start mesh a configuration names.
pub struct Inputs {
    pub inr: Inr,
    pub mesh: Mesh,
    pub network_source: String,
    pub mesh_source: String,
    /// Assumptions the checkpoint loader made (e.g. activations a flat state dict lacks).
    pub notes: Vec<String>,
}

/// Loads the network and the start mesh, and checks that they fit each other.
pub fn load_inputs(cfg: &Config) -> Result<Inputs> {
    // The network first: a missing or broken --checkpoint is the error to report, not the
    // start mesh its name does not have.
    let (file, network_source, notes) = match &cfg.checkpoint {
        Some(p) => {
            let (file, notes) = inr_setup::load_network_file_noted(p)?;
            (file, shown(p), notes)
        }
        None => {
            let (file, source) = inr_setup::builtin_network(&cfg.key)?;
            (file, source, Vec::new())
        }
    };
    let (mesh, mesh_source) = match &cfg.mesh {
        Some(p) => (Mesh::read(p)?, shown(p)),
        None => {
            let text = inr_setup::builtin_mesh(&cfg.key)?;
            let name = format!("built-in mesh of {}", cfg.key);
            (Mesh::parse(text, &name)?, name)
        }
    };
    let coordinates = if cfg.is_ct() {
        Coordinates::TimeSlice { t: cfg.time_slice }
    } else {
        Coordinates::Identity
    };
    let inr = Inr::new(file, coordinates, mesh.dim())
        .with_context(|| format!("{network_source} on {mesh_source}"))?;
    Ok(Inputs {
        inr,
        mesh,
        network_source,
        mesh_source,
        notes,
    })
}

/// Elements after `uniform` uniform refinements, and the bytes they would take, for refusing a
/// run that cannot fit in memory before doing any of it (`--original` ignores max_dofs, and
/// the uniform iterations of an adaptive run happen whatever max_dofs says).
fn check_uniform_memory(cfg: &Config, mesh: &Mesh, uniform: usize, ncomp: usize) -> Result<()> {
    let children = 1usize << mesh.dim();
    let mut elements = mesh.num_elements();
    for _ in 0..uniform {
        elements = elements.saturating_mul(children);
    }
    // The mesh, plus about one vertex per element with raw and constrained values.
    let bytes = Mesh::estimated_bytes(mesh.dim(), elements)
        .saturating_add(elements.saturating_mul(16 * ncomp));
    let available = available_memory().unwrap_or(8 << 30) as usize;
    if bytes > available {
        let option = if cfg.original {
            "max_it"
        } else {
            "num_uniform_ref"
        };
        return Err(UsageError {
            option,
            message: format!(
                "{uniform} uniform refinements{} make {elements} elements, which would need \
                 about {} GiB of memory, more than the {} GiB available; lower --{option}",
                if cfg.original { " (--original)" } else { "" },
                bytes >> 30,
                available >> 30
            ),
        }
        .into());
    }
    Ok(())
}

fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// What an observer of the run sees after each iteration's files are written.
pub struct IterationView<'a> {
    pub it: usize,
    pub field: &'a MeshField,
    pub experiment_dir: &'a Path,
}

/// Runs the whole experiment and writes its files.
pub fn run(cfg: &Config) -> Result<RunSummary> {
    run_observed(cfg, &mut |_| {})
}

/// [`run`], calling `observe` after each iteration (tests and tools inspect the mesh there).
pub fn run_observed(
    cfg: &Config,
    observe: &mut dyn FnMut(&IterationView<'_>),
) -> Result<RunSummary> {
    let console = Console { quiet: cfg.quiet };
    let inputs = load_inputs(cfg)?;
    let n_uniform = if cfg.original {
        cfg.max_it
    } else {
        cfg.num_uniform_ref.min(cfg.max_it)
    };
    check_uniform_memory(cfg, &inputs.mesh, n_uniform, inputs.inr.output_dim())?;
    let dir = cfg.experiment_dir();
    prepare_dir(&dir)?;
    let Inputs {
        inr,
        mesh,
        network_source,
        mesh_source,
        notes,
    } = inputs;

    let widths = inr.network().hidden_widths();
    console.line(format!(
        "pruningamr {}: network {} ({} inputs, hidden {:?}, {} outputs), start mesh {} ({} elements, {} vertices)",
        cfg.key,
        network_source,
        inr.network().input_dim(),
        widths,
        inr.output_dim(),
        mesh_source,
        mesh.num_elements(),
        mesh.num_vertices()
    ));
    for note in &notes {
        console.line(format!("note: {note}"));
    }
    console.line(format!("writing to {}", dir.display()));
    let init_num_vertices = mesh.num_vertices();
    let (mesh_lo, mesh_hi) = mesh.bounding_box();
    let mut field = MeshField::new(mesh, &inr)?;
    let mut records = Vec::new();
    let mut paraview = match cfg.paraview {
        true => Some(ParaViewWriter::new(
            &dir.join("ParaView"),
            "pruningamr",
            Vec::new(),
        )?),
        false => None,
    };

    let mut stop = StopReason::MaxIt;
    let mut final_scoring = None;
    for it in 0..cfg.max_it {
        let mut secs = PhaseSeconds::default();
        let (kind, scored, marks, flops) = if it < n_uniform {
            let n = field.mesh().num_elements();
            ("uniform", 0, vec![true; n], 0.0)
        } else {
            if field.mesh().num_vertices() >= cfg.max_dofs {
                stop = StopReason::ReachedMaxDofs;
                break;
            }
            let t = Instant::now();
            let pb = console.bar("scoring");
            let scoring = if cfg.avg_error {
                score_basic(field.mesh(), field.values(), &inr, cfg, it, &pb)
            } else {
                score_pruning(field.mesh(), &inr, cfg, it, &pb)
            };
            pb.finish_and_clear();
            secs.scoring = t.elapsed().as_secs_f64();
            if scoring.marked == 0 {
                console.line(format!(
                    "it {it} (adaptive): scored {} elements, none marked",
                    scoring.scored
                ));
                stop = StopReason::Converged;
                final_scoring = Some(FinalScoring {
                    it,
                    scored: scoring.scored,
                    scoring_gflop: scoring.flops * 1e-9,
                    seconds: secs.scoring,
                });
                break;
            }
            ("adaptive", scoring.scored, scoring.marks, scoring.flops)
        };
        let marked = marks.iter().filter(|m| **m).count();
        let t = Instant::now();
        field.refine(&marks)?;
        secs.refinement = t.elapsed().as_secs_f64();
        let t = Instant::now();
        field.update(&inr)?;
        secs.vertex_evaluation = t.elapsed().as_secs_f64();
        let t = Instant::now();
        field.save(&dir, it)?;
        if let Some(pv) = paraview.as_mut() {
            pv.write_iteration(field.mesh(), field.values(), field.ncomp(), it)?;
        }
        secs.writing = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let pb = console.bar("RMSE");
        let n_points = rmse_points(inr.inr_dim());
        pb.set_length(n_points as u64);
        let mesh = field.mesh();
        let values = field.values();
        let ncomp = field.ncomp();
        let err: Rmse = rmse(
            &inr,
            RmseSampling {
                lo: mesh_lo,
                hi: mesh_hi,
                n_points,
                seed: cfg.seed,
                iteration: it,
            },
            |pts, out| {
                // Points are drawn inside the mesh's box; a point of a non-box mesh outside
                // the mesh gets NaN and would show as a NaN RMSE, never silently.
                let _ = mesh.interpolate(values, ncomp, pts, out);
            },
            &|n| pb.inc(n),
        );
        pb.finish_and_clear();
        secs.rmse = t.elapsed().as_secs_f64();
        let mesh = field.mesh();
        let rec = IterationRecord {
            it,
            kind,
            scored,
            marked,
            elements: mesh.num_elements(),
            dofs: mesh.num_vertices(),
            true_dofs: mesh.num_true_dofs(),
            hanging: mesh.num_hanging(),
            rmse: err.total,
            rmse_per_component: err.per_component.clone(),
            scoring_gflop: flops * 1e-9,
            seconds: secs,
        };
        console.line(format!(
            "it {it} ({kind}): {}{marked} refined -> {} elements, {} DOFs ({} true, {} hanging), RMSE {:.6e}",
            if kind == "adaptive" {
                format!("scored {scored}, ")
            } else {
                String::new()
            },
            rec.elements,
            rec.dofs,
            rec.true_dofs,
            rec.hanging,
            rec.rmse
        ));
        records.push(rec);
        if cfg.plot {
            let t = Instant::now();
            crate::pictures::draw_iteration(cfg, &field, &records, &dir)
                .with_context(|| format!("--plot: iteration {it}"))?;
            if let Some(r) = records.last_mut() {
                r.seconds.writing += t.elapsed().as_secs_f64();
            }
        }
        observe(&IterationView {
            it,
            field: &field,
            experiment_dir: &dir,
        });
    }
    console.line(format!("stop: {}", stop.text()));
    let summary = RunSummary {
        experiment_dir: dir.clone(),
        iterations: records,
        stop_reason: stop,
        init_num_vertices,
        final_scoring,
    };
    write_parameters(
        cfg,
        &inr,
        &summary,
        field.mesh(),
        mesh_lo,
        mesh_hi,
        &network_source,
        &mesh_source,
        &notes,
    )?;
    console.line(format!("wrote {}", dir.join("parameters.json").display()));
    if let Some(last) = summary.iterations.last() {
        let it = last.it;
        console.line(format!(
            "view: glvis -m {0}/it_{it}.mesh -g {0}/it_{it}.gf{1}",
            dir.display(),
            if cfg.paraview {
                format!(
                    ", or open {} in ParaView",
                    dir.join("ParaView/pruningamr.pvd").display()
                )
            } else {
                String::new()
            }
        ));
    }
    Ok(summary)
}

/// Creates the experiment folder; an existing file in its place is an error.
fn prepare_dir(dir: &Path) -> Result<()> {
    // Name the part of the path that is in the way rather than the whole folder.
    if let Some(file) = dir
        .ancestors()
        .find(|a| !a.as_os_str().is_empty() && a.exists() && !a.is_dir())
    {
        anyhow::bail!(
            "{}: is not a folder, so the output folder {} cannot be created",
            file.display(),
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the output folder", dir.display()))?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_parameters(
    cfg: &Config,
    inr: &Inr,
    s: &RunSummary,
    mesh: &Mesh,
    lo: [f64; 3],
    hi: [f64; 3],
    network_source: &str,
    mesh_source: &str,
    notes: &[String],
) -> Result<()> {
    let d = mesh.dim();
    let (ilo, ihi) = inr.inr_box(&lo, &hi);
    let k = inr.inr_dim();
    // Keys in numeric order (a BTreeMap of strings would put "10" before "2").
    let mut err_dof_dict = serde_json::Map::new();
    for r in &s.iterations {
        err_dof_dict.insert(r.it.to_string(), json!([r.rmse, r.dofs]));
    }
    let mut p = serde_json::Map::new();
    p.insert("INR_key".into(), json!(cfg.key));
    p.insert("original".into(), json!(cfg.original));
    p.insert("avg_error".into(), json!(cfg.avg_error));
    if !cfg.original {
        p.insert("num_samples".into(), json!(cfg.id_samples));
        p.insert("error_check_samples".into(), json!(cfg.error_samples));
        p.insert("error_threshold".into(), json!(cfg.threshold));
        p.insert("epsilon_for_pruning".into(), json!(cfg.epsilon));
        p.insert("prop_threshold".into(), json!(cfg.prop_threshold));
        p.insert("num_uniform_ref".into(), json!(cfg.num_uniform_ref));
    }
    p.insert("max_dofs".into(), json!(cfg.max_dofs));
    p.insert("max_it".into(), json!(cfg.max_it));
    p.insert(
        "domain".into(),
        json!({
            "mesh": [lo[..d].to_vec(), hi[..d].to_vec()],
            "inr": [ilo[..k].to_vec(), ihi[..k].to_vec()],
        }),
    );
    p.insert("DOFs".into(), json!(mesh.num_vertices()));
    p.insert("true_DOFs".into(), json!(mesh.num_true_dofs()));
    p.insert("init_num_vertices".into(), json!(s.init_num_vertices));
    p.insert(
        "err_dof_dict".into(),
        serde_json::Value::Object(err_dof_dict),
    );
    p.insert("time_slice".into(), json!(cfg.time_slice));
    p.insert("seed".into(), json!(cfg.seed));
    p.insert("threads".into(), json!(cfg.threads));
    p.insert("checkpoint".into(), json!(network_source));
    p.insert("mesh".into(), json!(mesh_source));
    p.insert("loader_notes".into(), json!(notes));
    p.insert("paraview".into(), json!(cfg.paraview));
    p.insert("plot".into(), json!(cfg.plot));
    p.insert("stop_reason".into(), json!(s.stop_reason));
    p.insert("final_scoring".into(), json!(s.final_scoring));
    p.insert("iterations".into(), serde_json::to_value(&s.iterations)?);
    let path = s.experiment_dir.join("parameters.json");
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(p))?;
    crate::mesh::write_atomically(&path, |w| w.write_all(text.as_bytes()))?;
    Ok(())
}
