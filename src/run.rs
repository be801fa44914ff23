//! The run of SPEC §2 as a sequence of steps: load the INR and start mesh, then per iteration
//! mark (all elements, or those the criterion marks), refine, evaluate the new vertices,
//! write the iteration's files, measure the RMSE on points drawn once, record and rewrite
//! parameters.json (status running from before the first iteration; complete, interrupted or
//! failed at the end). What the run has to say goes to an [`Observer`] (the command's
//! console, or a test).
//!
//! The run is that of the process group [`crate::ranks::world`] (one process unless `main`
//! started MPI): every rank holds the same mesh and field and refines identically; scoring,
//! vertex values and the RMSE are shared out; rank 0 alone takes the folder's lock and
//! writes files. Each step that can fail on one rank only (reading inputs, memory, writing)
//! is agreed, so all ranks stop together with the same error.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use crate::config::{Config, Criterion, UsageError};
use crate::error::Error;
use crate::experiment::folder::{FolderLock, remove_earlier_results};
use crate::experiment::parameters::{self, Domain, RunFacts};
use crate::experiment::{
    FinalScoring, IterationKind, IterationRecord, PhaseSeconds, RmseSetup, RunStatus, RunSummary,
    StopReason,
};
use crate::field::MeshField;
use crate::marking::{Scoring, score_basic, score_estimate, score_pruning};
use crate::mesh::{Mesh, ParaViewWriter};
use crate::metrics::{Rmse, RmsePoints, rmse_points};
use crate::network::{Coordinates, Inr};
use crate::ranks::Ranks;

/// What the run tells whoever watches it. Every method has a default that does nothing;
/// `advance` is called from the worker threads.
pub trait Observer: Sync {
    /// A line for the console.
    fn line(&self, _text: &str) {}
    /// A phase with `len` steps begins (element scoring, RMSE).
    fn start(&self, _what: &str, _len: u64) {}
    /// `n` more steps of the phase are done.
    fn advance(&self, _n: u64) {}
    /// The phase is over.
    fn finish(&self) {}
    /// An iteration's files are written (tests inspect the mesh there).
    fn iteration(&self, _view: &IterationView<'_>) {}
    /// Whether the run should stop (SIGINT/SIGTERM in the command). Asked between steps, so
    /// the file being written is finished and the run ends with status `interrupted`.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// An observer that calls a closure after each iteration and ignores the rest (tests, tools).
pub struct EachIteration<F>(Mutex<F>);

impl<F: FnMut(&IterationView<'_>) + Send> EachIteration<F> {
    pub fn new(f: F) -> EachIteration<F> {
        EachIteration(Mutex::new(f))
    }
}

impl<F: FnMut(&IterationView<'_>) + Send> Observer for EachIteration<F> {
    fn iteration(&self, view: &IterationView<'_>) {
        if let Ok(mut f) = self.0.lock() {
            f(view);
        }
    }
}

/// What an observer sees after each iteration's files are written.
pub struct IterationView<'a> {
    pub it: usize,
    pub field: &'a MeshField,
    pub experiment_dir: &'a Path,
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

/// [`load_inputs`] on every rank of `ranks`, agreed: all have the inputs, or all stop with the
/// error of the lowest rank that could not read them.
pub(crate) fn load_agreed(cfg: &Config, ranks: &dyn Ranks) -> Result<Inputs, Error> {
    let local = match missing_on_this_rank(cfg, ranks) {
        Some(missing) => load_inputs(&missing),
        None => load_inputs(cfg),
    };
    Error::agreed(ranks, local)
}

/// Test hook of the `mpi` build: `PRUNINGAMR_TEST_MISSING_INPUT_RANK=r` makes rank `r` read a
/// network file that does not exist, as a node without the file would.
fn missing_on_this_rank(cfg: &Config, ranks: &dyn Ranks) -> Option<Config> {
    if !cfg!(feature = "mpi") {
        return None;
    }
    let rank: usize = std::env::var("PRUNINGAMR_TEST_MISSING_INPUT_RANK")
        .ok()?
        .parse()
        .ok()?;
    (rank == ranks.rank()).then(|| Config {
        checkpoint: Some(format!("missing-on-rank-{rank}.npz").into()),
        ..cfg.clone()
    })
}

/// Loads the network and the start mesh, and checks that they fit each other.
pub fn load_inputs(cfg: &Config) -> Result<Inputs, Error> {
    // The network first: a missing or broken --checkpoint is the error to report, not the
    // start mesh its name does not have.
    let (mut file, network_source, mut notes) = match &cfg.checkpoint {
        Some(p) => {
            let loaded = crate::network::load_with(
                p,
                &crate::network::Description::from_options(
                    cfg.activations.clone(),
                    cfg.network_config.as_deref(),
                )?,
            )?;
            (loaded.file, p.display().to_string(), loaded.notes)
        }
        None => {
            let (file, source) = crate::network::builtin_network(&cfg.key)?;
            (file, source, Vec::new())
        }
    };
    if let Some(v) = &cfg.verify {
        notes.push(crate::network::verify::report(&file, v)?);
    }
    let (mesh, mesh_source) = match &cfg.mesh {
        Some(p) => (Mesh::read(p)?, p.display().to_string()),
        None => {
            let text = match cfg.time_slices {
                Some(_) => crate::network::builtin::builtin_sliced_mesh(&cfg.key)?,
                None => crate::network::builtin_mesh(&cfg.key)?,
            };
            let name = format!("built-in mesh of {}", cfg.key);
            (Mesh::parse(text, &name)?, name)
        }
    };
    let coordinates = Coordinates::for_run(
        cfg.is_ct(),
        cfg.time_slices.is_some(),
        file.input_dim(),
        mesh.dim(),
        cfg.time_slice,
    );
    if file.output_names.is_empty() {
        file.output_names = crate::network::builtin::output_names(&cfg.key, file.output_dim());
    }
    let inr = Inr::new(file, coordinates, mesh.dim()).map_err(|source| Error::Inr {
        what: format!("{network_source} on {mesh_source}"),
        source,
    })?;
    Ok(Inputs {
        inr,
        mesh,
        network_source,
        mesh_source,
        notes,
    })
}

/// Refuses, before doing any of it, a run whose uniform refinements cannot fit in memory
/// (`--original` ignores max_dofs, and the uniform iterations of an adaptive run happen
/// whatever max_dofs says).
fn check_uniform_memory(
    cfg: &Config,
    mesh: &Mesh,
    uniform: usize,
    ncomp: usize,
) -> Result<(), UsageError> {
    let children = 1usize << mesh.dim();
    let mut elements = mesh.num_elements();
    for _ in 0..uniform {
        elements = elements.saturating_mul(children);
    }
    // The mesh, plus about one vertex per element with raw and constrained values.
    let bytes = Mesh::estimated_bytes(mesh.dim(), elements)
        .saturating_add(elements.saturating_mul(16 * ncomp));
    let available = available_memory().unwrap_or(8 << 30) as usize;
    if bytes <= available {
        return Ok(());
    }
    let option = if cfg.original {
        "max_it"
    } else {
        "num_uniform_ref"
    };
    Err(UsageError {
        option,
        message: format!(
            "{uniform} uniform refinements{} make {elements} elements, which would need \
             about {} GiB of memory, more than the {} GiB available; lower --{option}",
            if cfg.original { " (--original)" } else { "" },
            bytes >> 30,
            available >> 30
        ),
    })
}

/// Refuses, before the run touches its folder, RMSE points that cannot fit in memory: each
/// keeps its start element and reference coordinates (28 bytes) and the network's values
/// (4 bytes per output), and the batches are gathered once more while they are drawn.
fn check_rmse_memory(cfg: &Config, inr: &Inr) -> Result<(), UsageError> {
    let n = cfg
        .rmse_samples
        .unwrap_or_else(|| rmse_points(inr.inr_dim()));
    let per_point = 2 * (32 + 4 * inr.output_dim());
    let bytes = n.saturating_mul(per_point);
    let available = available_memory().unwrap_or(8 << 30) as usize;
    if bytes <= available {
        return Ok(());
    }
    Err(UsageError {
        option: "rmse_samples",
        message: format!(
            "{n} points would need about {} GiB of memory, more than the {} GiB available",
            bytes >> 30,
            available >> 30
        ),
    })
}

/// MemAvailable of /proc/meminfo, where there is one.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Creates the experiment folder; an existing file in its place is an error.
fn prepare_dir(dir: &Path) -> Result<(), Error> {
    // Name the part of the path that is in the way rather than the whole folder.
    if let Some(file) = dir
        .ancestors()
        .find(|a| !a.as_os_str().is_empty() && a.exists() && !a.is_dir())
    {
        return Err(Error::NotAFolder {
            in_the_way: file.to_path_buf(),
            folder: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        path: dir.to_path_buf(),
        source: std::io::Error::new(e.kind(), format!("cannot create the output folder: {e}")),
    })
}

/// The elements an iteration refines, and how they were chosen.
struct Marks {
    kind: IterationKind,
    scoring: Scoring,
    seconds: f64,
}

/// Scores the elements with the configured criterion.
fn score(
    cfg: &Config,
    field: &MeshField,
    inr: &Inr,
    it: usize,
    ranks: &dyn Ranks,
    obs: &dyn Observer,
) -> Result<Marks, Error> {
    let t = Instant::now();
    let progress = |n| obs.advance(n);
    let mesh = field.mesh();
    let candidates = match cfg.criterion {
        Criterion::Basic | Criterion::Estimate => mesh.num_elements(),
        Criterion::Pruning => (0..mesh.num_elements())
            .filter(|&e| mesh.element_level(e) as usize == it)
            .count(),
    };
    // Each rank counts only its own block, and only rank 0's bar is shown: its length is the
    // block's share (blocks are split by cost, so about).
    obs.start("scoring", candidates.div_ceil(ranks.size()) as u64);
    let scoring = match cfg.criterion {
        Criterion::Basic => {
            score_basic(field.mesh(), field.values(), inr, cfg, it, ranks, &progress)?
        }
        Criterion::Pruning => score_pruning(field.mesh(), inr, cfg, it, ranks, &progress),
        Criterion::Estimate => score_estimate(field, inr, cfg, ranks, &progress),
    };
    obs.finish();
    Ok(Marks {
        kind: IterationKind::Adaptive,
        scoring,
        seconds: t.elapsed().as_secs_f64(),
    })
}

/// The RMSE of the field against the network on the run's points (SPEC §2.3), or the
/// skipped value without points.
fn measure(
    points: Option<&RmsePoints>,
    field: &MeshField,
    ranks: &dyn Ranks,
    obs: &dyn Observer,
) -> Result<Rmse, Error> {
    let Some(points) = points else {
        return Ok(Rmse::skipped());
    };
    obs.start("RMSE", points.len_here() as u64);
    let err = points.rmse(field.mesh(), field.values(), ranks, &|n| obs.advance(n))?;
    obs.finish();
    Ok(err)
}

/// Draws the run's RMSE points and evaluates the network on them, once (SPEC §2.3).
fn draw_rmse_points(
    cfg: &Config,
    mesh: &Mesh,
    inr: &Inr,
    ranks: &dyn Ranks,
    obs: &dyn Observer,
) -> (Option<RmsePoints>, RmseSetup) {
    let t = Instant::now();
    let n = cfg
        .rmse_samples
        .unwrap_or_else(|| rmse_points(inr.inr_dim()));
    let points = (n > 0).then(|| {
        obs.start("RMSE points", n.div_ceil(ranks.size()) as u64);
        let p = RmsePoints::draw(mesh, inr, n, cfg.seed, ranks, &|k| obs.advance(k));
        obs.finish();
        p
    });
    let setup = RmseSetup {
        points: n,
        drawn: "once per run, uniform over the start mesh (elements by volume)",
        seconds: t.elapsed().as_secs_f64(),
        skipped: (n == 0).then(|| "--rmse_samples 0: the RMSE was not computed".to_string()),
    };
    (points, setup)
}

/// Runs the whole experiment and writes its files. The run holds its folder's lock from
/// before it removes an earlier run's results until it returns.
pub fn run(cfg: &Config, obs: &dyn Observer) -> Result<RunSummary, Error> {
    let ranks = crate::ranks::world();
    let writer = ranks.rank() == 0;
    let inputs = load_agreed(cfg, ranks)?;
    let n_uniform = if cfg.original {
        cfg.max_it
    } else {
        cfg.num_uniform_ref.min(cfg.max_it)
    };
    // Nodes may differ in memory, so the checks are agreed too.
    let fits = check_uniform_memory(cfg, &inputs.mesh, n_uniform, inputs.inr.output_dim())
        .and_then(|()| check_rmse_memory(cfg, &inputs.inr));
    Error::agreed(ranks, fits.map_err(Error::from))?;
    let time_sliced = inputs.inr.coordinates().time().is_some();
    let dir = crate::experiment::name::folder_with(cfg, time_sliced);
    let held = match writer {
        true => prepare_dir(&dir).and_then(|()| {
            let lock = FolderLock::acquire(&dir)?;
            Ok((Some(lock), remove_earlier_results(&dir)?))
        }),
        false => Ok((None, Vec::new())),
    };
    let (lock, removed) = Error::agreed(ranks, held)?;
    let Inputs {
        inr,
        mesh,
        network_source,
        mesh_source,
        notes,
    } = inputs;

    obs.line(&format!(
        "pruningamr {}: network {} ({} inputs, hidden {:?}, {} outputs), start mesh {} ({} elements, {} vertices)",
        cfg.key,
        network_source,
        inr.network().input_dim(),
        inr.network().hidden_widths(),
        inr.output_dim(),
        mesh_source,
        mesh.num_elements(),
        mesh.num_vertices()
    ));
    for note in &notes {
        obs.line(&format!("note: {note}"));
    }
    obs.line(&format!("writing to {}", dir.display()));
    if !removed.is_empty() {
        obs.line(&format!(
            "replaced the results of an earlier run ({} files or folders)",
            removed.len()
        ));
    }
    let init_num_vertices = mesh.num_vertices();
    let bounds = mesh.bounding_box();
    let (rmse_points, rmse_setup) = draw_rmse_points(cfg, &mesh, &inr, ranks, obs);
    let mut field = MeshField::new_on(mesh, &inr, ranks)?;
    let mut summary = RunSummary {
        experiment_dir: dir.clone(),
        iterations: Vec::new(),
        stop_reason: StopReason::MaxIt,
        init_num_vertices,
        final_scoring: None,
        status: RunStatus::Running,
        error: None,
        rmse_setup,
    };
    let write_parameters = |summary: &RunSummary, field: &MeshField| {
        let facts = run_facts(
            &inr,
            field.mesh(),
            bounds,
            &network_source,
            &mesh_source,
            &notes,
        );
        on_writer(ranks, || {
            parameters::write(cfg, summary, &facts).map_err(Error::write(parameters::path(&dir)))
        })
    };
    let paraview = match cfg.paraview && writer {
        true => {
            let pv_dir = dir.join("ParaView");
            ParaViewWriter::new(&pv_dir, "pruningamr", inr.output_names().to_vec())
                .map(Some)
                .map_err(Error::write(pv_dir))
        }
        false => Ok(None),
    };
    let mut paraview = Error::agreed(ranks, paraview)?;
    // From here on the folder holds this run: parameters.json says so before the first
    // iteration (a run killed during it leaves a record), and says `failed`, with the error,
    // when a step fails.
    write_parameters(&summary, &field)?;
    let iterated = (|| -> Result<(), Error> {
        for it in 0..cfg.max_it {
            // A signal may reach the ranks at different moments: stop when any has one.
            if ranks.any(obs.stop_requested()) {
                summary.stop_reason = StopReason::Interrupted;
                break;
            }
            let marks = if it < n_uniform {
                let n = field.mesh().num_elements();
                Marks {
                    kind: IterationKind::Uniform,
                    scoring: Scoring::all(n),
                    seconds: 0.0,
                }
            } else {
                let dofs = field.mesh().num_vertices();
                // The estimate criterion fills the budget exactly: scoring every element again
                // to add under 1 % to the DOFs costs a whole iteration for nothing visible.
                let nearly_full = cfg.criterion == Criterion::Estimate
                    && cfg.max_dofs.saturating_sub(dofs) * 100 < dofs;
                if dofs >= cfg.max_dofs || nearly_full {
                    summary.stop_reason = StopReason::ReachedMaxDofs;
                    break;
                }
                let marks = score(cfg, &field, &inr, it, ranks, obs)?;
                if ranks.any(obs.stop_requested()) {
                    summary.stop_reason = StopReason::Interrupted;
                    break;
                }
                if marks.scoring.marked == 0 {
                    obs.line(&format!(
                        "it {it} (adaptive): scored {} elements, none marked",
                        marks.scoring.scored
                    ));
                    // The estimate criterion marks nothing when no element fits in the budget.
                    summary.stop_reason = match marks.scoring.budget_bound {
                        true => StopReason::ReachedMaxDofs,
                        false => StopReason::Converged,
                    };
                    summary.final_scoring = Some(FinalScoring {
                        it,
                        scored: marks.scoring.scored,
                        scoring_gflop: marks.scoring.flops * 1e-9,
                        seconds: marks.seconds,
                    });
                    break;
                }
                marks
            };
            let mut secs = PhaseSeconds {
                scoring: marks.seconds,
                ..PhaseSeconds::default()
            };

            // Refinement and the hanging constraints depend on the marks alone, which every rank
            // holds: they fail on every rank alike, so they need no agreement.
            let t = Instant::now();
            marks.scoring.refine(&mut field)?;
            secs.refinement = t.elapsed().as_secs_f64();

            let t = Instant::now();
            field.update_on(&inr, ranks)?;
            secs.vertex_evaluation = t.elapsed().as_secs_f64();

            let t = Instant::now();
            on_writer(ranks, || {
                field.save(&dir, it)?;
                match paraview.as_mut() {
                    Some(pv) => pv
                        .write_iteration(field.mesh(), field.values(), field.ncomp(), it)
                        .map(drop)
                        .map_err(Error::write(dir.join("ParaView"))),
                    None => Ok(()),
                }
            })?;
            secs.writing = t.elapsed().as_secs_f64();

            let t = Instant::now();
            let err = measure(rmse_points.as_ref(), &field, ranks, obs)?;
            secs.rmse = t.elapsed().as_secs_f64();

            let rec = record(it, &marks, &field, err, secs);
            obs.line(&iteration_line(&rec));
            summary.iterations.push(rec);
            if cfg.plot {
                let t = Instant::now();
                on_writer(ranks, || {
                    crate::figures::draw_iteration(cfg, &field, &summary.iterations, &dir)
                        .map(drop)
                        .map_err(|source| Error::Plot { it, source })
                })?;
                if let Some(r) = summary.iterations.last_mut() {
                    r.seconds.writing += t.elapsed().as_secs_f64();
                }
            }
            write_parameters(&summary, &field)?;
            obs.iteration(&IterationView {
                it,
                field: &field,
                experiment_dir: &dir,
            });
            // A marking cut by the budget took the longest prefix that fits: another round
            // would score every element to add the few small ones that still fit.
            if marks.scoring.budget_bound {
                summary.stop_reason = StopReason::ReachedMaxDofs;
                break;
            }
        }
        Ok(())
    })();
    if let Err(e) = iterated {
        summary.status = RunStatus::Failed;
        summary.error = Some(e.one_line());
        // Best effort: the error being reported may be that this very file cannot be written.
        let _ = write_parameters(&summary, &field);
        return Err(e);
    }
    summary.status = match summary.stop_reason {
        StopReason::Interrupted => RunStatus::Interrupted,
        _ => RunStatus::Complete,
    };
    obs.line(&format!("stop: {}", summary.stop_reason.text()));
    write_parameters(&summary, &field)?;
    drop(lock);
    let params = parameters::path(&dir);
    obs.line(&format!("wrote {}", params.display()));
    if let Some(last) = summary.iterations.last() {
        obs.line(&view_hint(cfg, &dir, last.it));
    }
    Ok(summary)
}

/// `write` done by rank 0 alone (the others write nothing), agreed: its failure stops every
/// rank.
fn on_writer(ranks: &dyn Ranks, write: impl FnOnce() -> Result<(), Error>) -> Result<(), Error> {
    let local = match ranks.rank() {
        0 => write(),
        _ => Ok(()),
    };
    Error::agreed(ranks, local)
}

/// The record of an iteration that refined.
fn record(
    it: usize,
    marks: &Marks,
    field: &MeshField,
    err: Rmse,
    seconds: PhaseSeconds,
) -> IterationRecord {
    let mesh = field.mesh();
    IterationRecord {
        it,
        kind: marks.kind,
        scored: marks.scoring.scored,
        marked: marks.scoring.marked,
        elements: mesh.num_elements(),
        dofs: mesh.num_vertices(),
        true_dofs: mesh.num_true_dofs(),
        hanging: mesh.num_hanging(),
        rmse: err.total,
        rmse_per_component: err.per_component,
        scoring_gflop: marks.scoring.flops * 1e-9,
        seconds,
    }
}

/// The console line of an iteration.
fn iteration_line(rec: &IterationRecord) -> String {
    format!(
        "it {} ({}): {}{} refined -> {} elements, {} DOFs ({} true, {} hanging), RMSE {:.6e}",
        rec.it,
        rec.kind.name(),
        if rec.kind == IterationKind::Adaptive {
            format!("scored {}, ", rec.scored)
        } else {
            String::new()
        },
        rec.marked,
        rec.elements,
        rec.dofs,
        rec.true_dofs,
        rec.hanging,
        rec.rmse
    )
}

/// How to look at the result.
fn view_hint(cfg: &Config, dir: &Path, it: usize) -> String {
    format!(
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
    )
}

/// What parameters.json says about the run besides its settings and records.
fn run_facts<'a>(
    inr: &'a Inr,
    mesh: &Mesh,
    (lo, hi): ([f64; 3], [f64; 3]),
    network_source: &'a str,
    mesh_source: &'a str,
    notes: &'a [String],
) -> RunFacts<'a> {
    let d = mesh.dim();
    let (ilo, ihi) = inr.inr_box(&lo, &hi);
    let k = inr.inr_dim();
    RunFacts {
        domain: Domain {
            mesh: [lo[..d].to_vec(), hi[..d].to_vec()],
            inr: [ilo[..k].to_vec(), ihi[..k].to_vec()],
        },
        dofs: mesh.num_vertices(),
        true_dofs: mesh.num_true_dofs(),
        network_source,
        mesh_source,
        notes,
        output_names: inr.output_names(),
    }
}
