//! Convergence study (issue 17): RMSE against DOFs of uniform refinement, PruningAMR,
//! BasicAMR and the estimate criterion on the built-in networks and, when
//! `PRUNINGAMR_REFERENCE` is set, on the original's networks (`ref_hos`, `ref_hol`, `ref_hof`,
//! `ref_NS_PINN`). Each adaptive method runs once to the top of the DOF ladder (20,000 in 2-D,
//! 100,000 in 3-D) and every iteration is a point of its curve.
//!
//! Writes `<out>/convergence.csv` (every point), `<out>/convergence.md` (the points, the
//! curves interpolated in log–log at the ladder's levels, and the checks of issue 17) and
//! `<out>/<network>.png` (all methods, log–log).
//!
//! `cargo run --release --example convergence -- [--out DIR] [--top3d N] [networks…]`
//! (default networks: every built-in one, and the reference ones when available).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use pruningamr::config::Cli;
use pruningamr::plot::{Curve, render_convergence_png};
use pruningamr::run::{Silent, run};

/// A network of the study and how to run it.
struct Network {
    name: String,
    /// Arguments naming the network (key, checkpoint, mesh, time slice).
    args: Vec<String>,
    dim: usize,
    /// NS_PINN's field fills its whole domain: the check there is against uniform itself.
    uniform_factor: f64,
    /// Uniform iterations whose last one passes the top of the ladder (from the start mesh:
    /// 4×4 quads; NS_PINN's 40 hexes; CT's one hex).
    uniform_its: fn(usize) -> usize,
}

fn networks(names: &[String]) -> Result<Vec<Network>, String> {
    let reference = std::env::var_os("PRUNINGAMR_REFERENCE").map(PathBuf::from);
    let all: Vec<String> = if names.is_empty() {
        let mut v: Vec<String> = ["hos", "hol", "hof", "NS_PINN", "CT_demo"]
            .map(String::from)
            .to_vec();
        if reference.is_some() {
            v.extend(["ref_hos", "ref_hol", "ref_hof", "ref_NS_PINN"].map(String::from));
        }
        v
    } else {
        names.to_vec()
    };
    all.iter()
        .map(|name| {
            let key = |k: &str| vec!["--INR_key".to_string(), k.to_string()];
            let factor = if name.contains("NS_PINN") { 1.0 } else { 0.5 };
            let uniform_its: fn(usize) -> usize = if name.contains("NS_PINN") {
                |top| if top <= 23_409 { 3 } else { 4 }
            } else if name.contains("CT") {
                |top| if top <= 35_937 { 5 } else { 6 }
            } else {
                |top| if top <= 16_641 { 5 } else { 6 }
            };
            let (args, dim) = match name.as_str() {
                "hos" | "hol" | "hof" => (key(name), 2),
                "NS_PINN" => (key(name), 3),
                "CT_demo" => {
                    let mut a = key(name);
                    a.extend(["--time_slice".into(), "1.0".into()]);
                    (a, 3)
                }
                r if r.starts_with("ref_") => {
                    let dir = reference
                        .as_ref()
                        .ok_or_else(|| format!("{r} needs PRUNINGAMR_REFERENCE"))?;
                    let (file, mesh, dim) = match r {
                        "ref_hos" => ("high_oscillation_small_lists.ckpt", "rectangle.mesh", 2),
                        "ref_hol" => ("high_oscillation_long_lists.ckpt", "rectangle.mesh", 2),
                        "ref_hof" => ("high_oscillation_full_lists.ckpt", "rectangle.mesh", 2),
                        "ref_NS_PINN" => ("NS_PINN_lists.ckpt", "NS_PINN_2x2x10_z0_20.mesh", 3),
                        _ => return Err(format!("unknown network {r}")),
                    };
                    let mut a = key(r);
                    a.extend([
                        "--checkpoint".into(),
                        dir.join("checkpoints").join(file).display().to_string(),
                        "--mesh".into(),
                        dir.join("meshes").join(mesh).display().to_string(),
                    ]);
                    (a, dim)
                }
                other => return Err(format!("unknown network {other}")),
            };
            Ok(Network {
                name: name.clone(),
                args,
                dim,
                uniform_factor: factor,
                uniform_its,
            })
        })
        .collect()
}

/// One method's settings for a ladder whose top is `top` DOFs; the estimate criterion runs to
/// `estimate_budget`.
fn methods(
    uniform_its: usize,
    top: usize,
    estimate_budget: usize,
) -> Vec<(&'static str, Vec<String>)> {
    let top = top.to_string();
    let estimate_budget = estimate_budget.to_string();
    // Uniform: one level past the top, so its curve spans the whole ladder.
    let uniform_its = &uniform_its.to_string();
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    vec![
        ("uniform", s(&["--original", "--max_it", uniform_its])),
        ("PruningAMR", s(&["--max_it", "30", "--max_dofs", &top])),
        (
            "BasicAMR",
            s(&[
                "--criterion",
                "basic",
                "--threshold",
                "0.05",
                "--max_it",
                "30",
                "--max_dofs",
                &top,
            ]),
        ),
        (
            "EstimateAMR",
            // Its defaults (θ = 0.5, 16 error samples).
            s(&[
                "--criterion",
                "estimate",
                "--max_it",
                "80",
                "--max_dofs",
                &estimate_budget,
            ]),
        ),
    ]
}

/// A method's curve on one network.
struct Series {
    method: &'static str,
    /// (DOFs, RMSE, seconds since the run started) per iteration.
    points: Vec<(f64, f64, f64)>,
    scoring_seconds: f64,
    scored: usize,
}

fn run_method(
    net: &Network,
    method: &'static str,
    extra: &[String],
    out: &Path,
) -> Result<Series, String> {
    let mut args = vec![
        "pruningamr".to_string(),
        "--quiet".into(),
        "--output".into(),
        out.join("runs").display().to_string(),
    ];
    args.extend(net.args.iter().cloned());
    args.extend(extra.iter().cloned());
    let cfg = Cli::try_parse_from(&args)
        .map_err(|e| e.to_string())?
        .validate()
        .map_err(|e| e.to_string())?;
    // A fresh folder: the runs write their iterations there.
    let _ = std::fs::remove_dir_all(pruningamr::experiment::name::folder(&cfg));
    let t = Instant::now();
    let summary = run(&cfg, &Silent).map_err(|e| format!("{}: {e}", net.name))?;
    let wall = t.elapsed().as_secs_f64();
    let mut elapsed = 0.0;
    let mut points = Vec::new();
    let (mut scoring_seconds, mut scored) = (0.0, 0);
    for r in &summary.iterations {
        let s = &r.seconds;
        elapsed += s.scoring + s.refinement + s.vertex_evaluation + s.writing + s.rmse;
        points.push((r.dofs as f64, r.rmse, elapsed));
        scoring_seconds += s.scoring;
        scored += r.scored;
    }
    if let Some(f) = &summary.final_scoring {
        scoring_seconds += f.seconds;
        scored += f.scored;
    }
    eprintln!(
        "{:>12} {:>12}: {} iterations, {} DOFs, RMSE {:.3e}, {:.1} s ({})",
        net.name,
        method,
        points.len(),
        points.last().map_or(0.0, |p| p.0),
        points.last().map_or(f64::NAN, |p| p.1),
        wall,
        summary.stop_reason.text()
    );
    Ok(Series {
        method,
        points,
        scoring_seconds,
        scored,
    })
}

/// RMSE of a curve at `dofs`, interpolated linearly in log–log between its iterations. Past
/// the curve's last point the run had stopped (converged, or its last refinement overshot),
/// so its last RMSE stands; before its first point there is no value.
fn rmse_at(points: &[(f64, f64, f64)], dofs: f64) -> Option<f64> {
    let first = points.first()?;
    if dofs < first.0 {
        return None;
    }
    for w in points.windows(2) {
        let ((x0, y0, _), (x1, y1, _)) = (w[0], w[1]);
        if dofs >= x0 && dofs <= x1 {
            if x1 == x0 {
                return Some(y1);
            }
            let t = (dofs.ln() - x0.ln()) / (x1.ln() - x0.ln());
            return Some((y0.ln() + t * (y1.ln() - y0.ln())).exp());
        }
    }
    points.last().map(|p| p.1)
}

/// Levels of the ladder printed in the tables.
fn ladder(dim: usize) -> Vec<f64> {
    match dim {
        2 => vec![300.0, 1000.0, 2000.0, 5000.0, 10000.0, 20000.0],
        _ => vec![300.0, 1000.0, 3000.0, 10000.0, 30000.0, 100000.0],
    }
}

/// The checks of issue 17 on one network: on a fine log grid from 1,000 DOFs to the end of the
/// estimate curve or the top of the ladder, whichever comes first, the worst ratios estimate / uniform (against the allowed factor) and
/// estimate / BasicAMR.
struct Check {
    worst_uniform: f64,
    worst_basic: f64,
    from: f64,
    to: f64,
}

fn check(series: &[Series], top: usize) -> Option<Check> {
    let get = |m: &str| series.iter().find(|s| s.method == m);
    let (est, uni, basic) = (get("EstimateAMR")?, get("uniform")?, get("BasicAMR")?);
    let to = est.points.last()?.0.min(top as f64);
    let from = 1000.0f64;
    if to <= from {
        return None;
    }
    let (mut wu, mut wb) = (0.0f64, 0.0f64);
    // The grid plus every breakpoint of every curve, so no kink of a curve is skipped.
    let mut levels: Vec<f64> = (0..=200)
        .map(|k| (from.ln() + (to.ln() - from.ln()) * k as f64 / 200.0).exp())
        .collect();
    for s in [est, uni, basic] {
        levels.extend(
            s.points
                .iter()
                .map(|p| p.0)
                .filter(|&x| x >= from && x <= to),
        );
    }
    for x in levels {
        let e = rmse_at(&est.points, x)?;
        if let Some(u) = rmse_at(&uni.points, x) {
            wu = wu.max(e / u);
        }
        if let Some(b) = rmse_at(&basic.points, x) {
            wb = wb.max(e / b);
        }
    }
    Some(Check {
        worst_uniform: wu,
        worst_basic: wb,
        from,
        to,
    })
}

#[derive(Parser)]
struct Args {
    /// Output folder.
    #[arg(long, default_value = "target/convergence")]
    out: PathBuf,
    /// Top of the 3-D ladder (the 3-D runs are slow; a shorter ladder is allowed).
    #[arg(long, default_value_t = 100_000)]
    top3d: usize,
    /// Top of the 2-D ladder.
    #[arg(long, default_value_t = 20_000)]
    top2d: usize,
    /// Networks (default: all built-in ones, and ref_* when PRUNINGAMR_REFERENCE is set).
    networks: Vec<String>,
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let study = Instant::now();
    std::fs::create_dir_all(&args.out).map_err(|e| e.to_string())?;
    let nets = networks(&args.networks)?;
    let mut csv = String::from("network,method,iteration,dofs,rmse,seconds\n");
    let mut points_md =
        String::from("| network | method | DOFs | RMSE | seconds |\n|---|---|---:|---:|---:|\n");
    let mut ladder_md = String::new();
    let mut last_dim = None;
    let mut checks_md = String::from(
        "| network | DOF range | worst estimate/uniform (allowed) | worst estimate/BasicAMR (allowed 1) | holds | scoring µs per scored element: PruningAMR / EstimateAMR (ratio, allowed 2) |\n|---|---|---:|---:|---|---|\n",
    );
    for net in &nets {
        let top = if net.dim == 2 { args.top2d } else { args.top3d };
        // In 3-D one full refinement multiplies the DOFs by about 8: a budget at the top would
        // cut the estimate's last step, on a field whose error fills the domain (NS_PINN), to a
        // scattered part of the mesh, and end its curve at the top on a point no method could
        // place on uniform's interpolated line. The other methods overshoot the top anyway.
        let budget = if net.dim == 2 { top } else { 2 * top };
        let mut series = Vec::new();
        for (method, extra) in methods((net.uniform_its)(top), top, budget) {
            series.push(run_method(net, method, &extra, &args.out)?);
        }
        for s in &series {
            for (i, &(d, r, t)) in s.points.iter().enumerate() {
                let _ = writeln!(csv, "{},{},{i},{d},{r:.6e},{t:.3}", net.name, s.method);
                let _ = writeln!(
                    points_md,
                    "| {} | {} | {d} | {r:.3e} | {t:.2} |",
                    net.name, s.method
                );
            }
        }
        let levels = ladder(net.dim);
        // A header whenever the ladder changes (2-D and 3-D networks in any order).
        if last_dim != Some(net.dim) {
            last_dim = Some(net.dim);
            let _ = write!(ladder_md, "\n| network | method |");
            for l in &levels {
                let _ = write!(ladder_md, " {l} |");
            }
            let _ = write!(ladder_md, "\n|---|---|");
            for _ in &levels {
                let _ = write!(ladder_md, "---:|");
            }
            ladder_md.push('\n');
        }
        for s in &series {
            let _ = write!(ladder_md, "| {} | {} |", net.name, s.method);
            for &l in &levels {
                let end = s.points.last().map_or(0.0, |p| p.0);
                match rmse_at(&s.points, l) {
                    // Past the end of a curve: the run had stopped there.
                    Some(r) if l > end => {
                        let _ = write!(ladder_md, " ({r:.2e}) |");
                    }
                    Some(r) => {
                        let _ = write!(ladder_md, " {r:.2e} |");
                    }
                    None => ladder_md.push_str(" – |"),
                }
            }
            ladder_md.push('\n');
        }
        let per = |m: &str| {
            series
                .iter()
                .find(|s| s.method == m)
                .filter(|s| s.scored > 0)
                .map(|s| s.scoring_seconds / s.scored as f64 * 1e6)
        };
        let ratio = match (per("PruningAMR"), per("EstimateAMR")) {
            (Some(p), Some(e)) => Some((p, e, e / p)),
            _ => None,
        };
        let cost = ratio.map_or("–".into(), |(p, e, r)| {
            format!("{p:.0} / {e:.0} ({r:.2})")
        });
        match check(&series, top) {
            Some(c) => {
                // Every criterion of issue 17: RMSE against uniform and BasicAMR, and the
                // scoring cost per element within 2× of PruningAMR's.
                let holds = c.worst_uniform <= net.uniform_factor
                    && c.worst_basic <= 1.0
                    && ratio.is_some_and(|(_, _, r)| r <= 2.0);
                let _ = writeln!(
                    checks_md,
                    "| {} | {:.0}–{:.0} | {:.3} ({}) | {:.3} | {} | {cost} |",
                    net.name,
                    c.from,
                    c.to,
                    c.worst_uniform,
                    net.uniform_factor,
                    c.worst_basic,
                    if holds { "yes" } else { "no" }
                );
            }
            None => {
                let _ = writeln!(checks_md, "| {} | – | – | – | – | {cost} |", net.name);
            }
        }
        let curves: Vec<Curve> = series
            .iter()
            .map(|s| Curve {
                label: s.method.to_string(),
                points: s.points.iter().map(|p| (p.0, p.1)).collect(),
                highlight: s.method == "EstimateAMR",
            })
            .collect();
        let png = args.out.join(format!("{}.png", net.name));
        render_convergence_png(
            &format!("{}: RMSE against DOFs", net.name),
            &curves,
            &png,
            (900, 600),
        )
        .map_err(|e| e.to_string())?;
        // Written after every network, so a long study can be stopped with what it has.
        write_tables(&args, &csv, &checks_md, &ladder_md, &points_md)?;
    }
    eprintln!(
        "wrote {} ({:.0} s)",
        args.out.join("convergence.md").display(),
        study.elapsed().as_secs_f64()
    );
    Ok(())
}

fn write_tables(
    args: &Args,
    csv: &str,
    checks_md: &str,
    ladder_md: &str,
    points_md: &str,
) -> Result<(), String> {
    let md = format!(
        "# Convergence study\n\nRMSE of the order-1 interpolant against the network (262,144 points in 2-D, \
         2,097,152 / 1,048,576 in 3-D / sliced 4-D) against DOFs. Settings: uniform `--original`; \
         PruningAMR defaults; BasicAMR `--criterion basic --threshold 0.05`; EstimateAMR \
         `--criterion estimate` (defaults: θ 0.5, 16 error samples); adaptive runs to `--max_dofs` \
         {} (2-D) / {} (3-D; EstimateAMR {}), 2 uniform iterations first, seed 3.\n\n## Checks\n\nOn a log grid \
         (and every curve's breakpoints) from 1,000 DOFs to the end of the EstimateAMR curve or the top of the ladder, curves \
         interpolated linearly in log–log; a curve that ended earlier (its run converged) keeps its \
         last RMSE.\n\n{checks_md}\n## RMSE at the ladder's levels\n\nIn parentheses: past the \
         end of the method's curve (its last RMSE).\n{ladder_md}\n## Every iteration\n\n{points_md}",
        args.top2d,
        args.top3d,
        2 * args.top3d
    );
    std::fs::write(args.out.join("convergence.csv"), csv).map_err(|e| e.to_string())?;
    std::fs::write(args.out.join("convergence.md"), md).map_err(|e| e.to_string())?;
    Ok(())
}
