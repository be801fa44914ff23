//! `cargo bench --bench workloads`: the three workloads the Python original was timed on, each
//! run several times in its own process (so its peak RSS is its own). Prints the whole-process
//! wall time (best and median, the original's figures are whole runs), seconds per phase and
//! scoring GFLOP/s of the best run, and peak RSS. Uses the reference networks when
//! `PRUNINGAMR_REFERENCE` is set (the original's timings are for those), else the built-in ones.
//! `cargo bench --bench workloads -- hol` runs only the workloads whose name contains `hol`;
//! `BENCH_REPEATS=n` sets the repetitions (default 5).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use clap::Parser;
use pruningamr::config::Cli;
use serde::{Deserialize, Serialize};

struct Workload {
    name: &'static str,
    key: &'static str,
    extra: &'static str,
    /// The Python original's wall seconds on this machine class.
    python: f64,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "hos defaults",
        key: "hos",
        extra: "",
        python: 13.2,
    },
    Workload {
        name: "hol --max_it 6 --max_dofs 20000",
        key: "hol",
        extra: "--max_it 6 --max_dofs 20000",
        python: 44.6,
    },
    Workload {
        name: "hos --original --max_it 6",
        key: "hos",
        extra: "--original --max_it 6",
        python: 114.0,
    },
];

/// What a child process reports about its one run.
#[derive(Serialize, Deserialize)]
struct ChildReport {
    threads: usize,
    iterations: usize,
    dofs: usize,
    rmse: f64,
    stop: String,
    /// scoring, refinement, vertex evaluation, RMSE, writing
    phases: [f64; 5],
    scoring_gflop: f64,
    peak_rss_mib: f64,
}

fn reference_checkpoint(key: &str) -> Option<(PathBuf, PathBuf)> {
    let dir = PathBuf::from(std::env::var_os("PRUNINGAMR_REFERENCE")?);
    let file = match key {
        "hos" => "high_oscillation_small_lists.ckpt",
        "hol" => "high_oscillation_long_lists.ckpt",
        _ => return None,
    };
    Some((
        dir.join("checkpoints").join(file),
        dir.join("meshes/rectangle.mesh"),
    ))
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Child mode: parse the workload's command line as the binary would, run it, report as JSON.
fn run_one(w: &Workload, out_root: &str) {
    let mut args: Vec<String> = vec!["pruningamr".into(), "--quiet".into()];
    args.extend([
        "--output".into(),
        out_root.into(),
        "--INR_key".into(),
        w.key.into(),
    ]);
    if let Some((ckpt, mesh)) = reference_checkpoint(w.key) {
        args.extend(["--checkpoint".into(), ckpt.display().to_string()]);
        args.extend(["--mesh".into(), mesh.display().to_string()]);
    }
    args.extend(w.extra.split_whitespace().map(String::from));
    let cfg = match Cli::try_parse_from(&args)
        .map_err(|e| e.to_string())
        .and_then(|c| c.validate().map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bad workload {}: {e}", w.name);
            std::process::exit(2);
        }
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .expect("thread pool");
    let summary = match pool.install(|| pruningamr::run::run(&cfg, &pruningamr::run::Silent)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("workload {} failed: {e:#}", w.name);
            std::process::exit(1);
        }
    };
    let mut phases = [0.0f64; 5];
    let mut scoring_gflop = 0.0;
    for r in &summary.iterations {
        let s = &r.seconds;
        for (p, v) in phases.iter_mut().zip([
            s.scoring,
            s.refinement,
            s.vertex_evaluation,
            s.rmse,
            s.writing,
        ]) {
            *p += v;
        }
        scoring_gflop += r.scoring_gflop;
    }
    if let Some(f) = &summary.final_scoring {
        phases[0] += f.seconds;
        scoring_gflop += f.scoring_gflop;
    }
    let last = summary.iterations.last();
    let report = ChildReport {
        threads: cfg.threads,
        iterations: summary.iterations.len(),
        dofs: last.map_or(0, |r| r.dofs),
        rmse: last.map_or(f64::NAN, |r| r.rmse),
        stop: format!("{:?}", summary.stop_reason),
        phases,
        scoring_gflop,
        peak_rss_mib: peak_rss_mib(),
    };
    println!(
        "{}",
        serde_json::to_string(&report).expect("report serializes")
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--workload") {
        let w = args
            .get(pos + 1)
            .and_then(|s| s.parse::<usize>().ok())
            .and_then(|i| WORKLOADS.get(i));
        let Some(w) = w else {
            eprintln!("--workload takes 0..{}", WORKLOADS.len());
            std::process::exit(2);
        };
        let out = args
            .get(pos + 2)
            .cloned()
            .unwrap_or_else(|| "target/bench-output".into());
        run_one(w, &out);
        return;
    }
    let repeats: usize = std::env::var("BENCH_REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let filter = args.iter().skip(1).find(|a| !a.starts_with('-')).cloned();
    let exe = std::env::current_exe().expect("own path");
    let out = std::env::temp_dir().join(format!("pruningamr-bench-{}", std::process::id()));
    let source = if std::env::var_os("PRUNINGAMR_REFERENCE").is_some() {
        "reference checkpoints"
    } else {
        "built-in networks (set PRUNINGAMR_REFERENCE for the original's)"
    };
    println!("pruningamr workloads, {repeats} runs each, {source}");
    for (i, w) in WORKLOADS.iter().enumerate() {
        if filter
            .as_ref()
            .is_some_and(|f| !w.name.contains(f.as_str()))
        {
            continue;
        }
        let mut runs: Vec<(f64, ChildReport)> = Vec::new();
        for _ in 0..repeats {
            let t = Instant::now();
            let output = Command::new(&exe)
                .arg("--workload")
                .arg(i.to_string())
                .arg(&out)
                .output()
                .expect("run workload");
            let wall = t.elapsed().as_secs_f64();
            let text = String::from_utf8_lossy(&output.stdout);
            match serde_json::from_str::<ChildReport>(text.trim()) {
                Ok(r) if output.status.success() => runs.push((wall, r)),
                _ => {
                    eprintln!(
                        "workload {} failed: {}",
                        w.name,
                        String::from_utf8_lossy(&output.stderr)
                    );
                    break;
                }
            }
        }
        if runs.is_empty() {
            continue;
        }
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let median = runs[runs.len() / 2].0;
        let (best, r) = &runs[0];
        println!("== {}  ({} threads)", w.name, r.threads);
        println!(
            "   process wall: best {best:.3} s, median {median:.3} s   Python original {:.1} s   \
             speed-up {:.0}x (best), {:.0}x (median)   peak RSS {:.0} MiB",
            w.python,
            w.python / best,
            w.python / median,
            r.peak_rss_mib
        );
        println!(
            "   result: {} iterations, {} DOFs, RMSE {:.4e}, stop: {}",
            r.iterations, r.dofs, r.rmse, r.stop
        );
        let p = r.phases;
        println!(
            "   phases of the best run [s]: scoring (incl. a last pass that marks nothing) {:.3}  refinement {:.3}  vertex evaluation {:.3}  \
             RMSE {:.3}  writing {:.3}  (rest: start-up, loading, parameters.json {:.3})",
            p[0],
            p[1],
            p[2],
            p[3],
            p[4],
            best - p.iter().sum::<f64>()
        );
        if p[0] > 0.0 {
            println!(
                "   scoring: {:.2} GFLOP needed (forward passes + QR to the rank), {:.1} GFLOP/s \
                 achieved ({:.1} per thread)",
                r.scoring_gflop,
                r.scoring_gflop / p[0],
                r.scoring_gflop / p[0] / r.threads as f64
            );
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}
