//! `cargo bench --bench workloads`: the three workloads the Python original was timed on,
//! with seconds per phase, scoring GFLOP/s and peak memory, each in its own process so its
//! peak RSS is its own. Uses the reference networks when `PRUNINGAMR_REFERENCE` is set (the
//! original's timings are for those), else the built-in ones.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use clap::Parser;
use pruningamr::config::Cli;

/// (name, arguments, the Python original's wall seconds on this machine class)
const WORKLOADS: &[(&str, &str, &str, f64)] = &[
    ("hos defaults", "hos", "", 13.2),
    (
        "hol --max_it 6 --max_dofs 20000",
        "hol",
        "--max_it 6 --max_dofs 20000",
        44.6,
    ),
    (
        "hos --original --max_it 6",
        "hos",
        "--original --max_it 6",
        114.0,
    ),
];

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

fn run_one(index: usize, out_root: &str) {
    let (name, key, extra, python) = WORKLOADS[index];
    let mut args: Vec<String> = vec!["pruningamr".into(), "--quiet".into()];
    args.extend([
        "--output".into(),
        out_root.into(),
        "--INR_key".into(),
        key.into(),
    ]);
    if let Some((ckpt, mesh)) = reference_checkpoint(key) {
        args.extend(["--checkpoint".into(), ckpt.display().to_string()]);
        args.extend(["--mesh".into(), mesh.display().to_string()]);
    }
    args.extend(extra.split_whitespace().map(String::from));
    let cfg = match Cli::try_parse_from(&args)
        .map_err(|e| e.to_string())
        .and_then(|c| c.validate().map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bad workload {name}: {e}");
            std::process::exit(2);
        }
    };
    let threads = cfg.threads;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let t = Instant::now();
    let summary = match pool.install(|| pruningamr::run::run(&cfg)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("workload {name} failed: {e:#}");
            std::process::exit(1);
        }
    };
    let wall = t.elapsed().as_secs_f64();
    let mut phase = [0.0f64; 5];
    let mut gflop = 0.0;
    for r in &summary.iterations {
        phase[0] += r.seconds.scoring;
        phase[1] += r.seconds.refinement;
        phase[2] += r.seconds.vertex_evaluation;
        phase[3] += r.seconds.rmse;
        phase[4] += r.seconds.writing;
        gflop += r.scoring_gflop;
    }
    let last = summary.iterations.last();
    println!(
        "== {name}  ({} threads, network from {})",
        threads,
        if reference_checkpoint(key).is_some() {
            "reference checkpoint"
        } else {
            "built-in"
        }
    );
    println!(
        "   wall {wall:.3} s   Python original {python:.1} s   speed-up {:.0}x   peak RSS {:.0} MiB",
        python / wall,
        peak_rss_mib()
    );
    println!(
        "   final: {} iterations, {} DOFs, RMSE {:.4e}, stop: {:?}",
        summary.iterations.len(),
        last.map_or(0, |r| r.dofs),
        last.map_or(f64::NAN, |r| r.rmse),
        summary.stop_reason
    );
    println!(
        "   phases [s]: scoring {:.3}  refinement {:.3}  vertex evaluation {:.3}  RMSE {:.3}  writing {:.3}",
        phase[0], phase[1], phase[2], phase[3], phase[4]
    );
    if phase[0] > 0.0 {
        println!(
            "   scoring: {:.2} GFLOP needed (forward passes + QR to the rank), {:.1} GFLOP/s achieved ({:.1} per thread)",
            gflop,
            gflop / phase[0],
            gflop / phase[0] / threads as f64
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Child mode: run one workload in this process.
    if let Some(pos) = args.iter().position(|a| a == "--workload") {
        let index: usize = args
            .get(pos + 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(usize::MAX);
        let out = args
            .get(pos + 2)
            .cloned()
            .unwrap_or_else(|| "target/bench-output".into());
        if index >= WORKLOADS.len() {
            eprintln!("--workload takes 0..{}", WORKLOADS.len());
            std::process::exit(2);
        }
        run_one(index, &out);
        return;
    }
    let filter = args.iter().skip(1).find(|a| !a.starts_with('-')).cloned();
    let exe = std::env::current_exe().expect("own path");
    let out = std::env::temp_dir().join(format!("pruningamr-bench-{}", std::process::id()));
    for (i, (name, ..)) in WORKLOADS.iter().enumerate() {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let status = Command::new(&exe)
            .arg("--workload")
            .arg(i.to_string())
            .arg(&out)
            .status()
            .expect("run workload");
        if !status.success() {
            eprintln!("workload {name} failed");
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}
