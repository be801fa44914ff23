//! `cargo bench --bench workloads`: the workloads the Python original was timed on and the
//! built-in tanh PINN and Fourier-feature CT networks, each run several times in its own
//! process (so its peak RSS is its own). Prints the whole-process wall time (best and median,
//! the original's figures are whole runs), seconds per phase and scoring GFLOP/s of the best
//! run, and peak RSS. Uses the reference networks for hos/hol when `PRUNINGAMR_REFERENCE` is
//! set (the original's timings are for those), else the built-in ones.
//!
//! Before the workloads, each network's forward pass alone (one thread, on-CPU time, so the
//! other processes on the machine do not inflate it) next to the same weights with ReLU (and
//! for CT_demo also without Fourier features), and the activation pass alone in G entries/s:
//! speed claims are ratios measured in one run, on the CPU and SIMD level of the header.
//!
//! `cargo bench --bench workloads -- hol` runs only the workloads (and networks) whose name
//! contains `hol` (`-- networks`: the forward passes only); `BENCH_REPEATS=n` sets the
//! repetitions (default 5; 1 for a quick run).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use clap::Parser;
use faer::Mat;
use pruningamr::config::Cli;
use pruningamr::network::{Activation, ForwardBuffers, NetworkFile, builtin_network, kernels};
use serde::{Deserialize, Serialize};

struct Workload {
    name: &'static str,
    key: &'static str,
    extra: &'static str,
    /// The Python original's wall seconds on this machine class, where it was timed.
    python: Option<f64>,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "hos defaults",
        key: "hos",
        extra: "",
        python: Some(13.2),
    },
    Workload {
        name: "hol --max_it 6 --max_dofs 20000",
        key: "hol",
        extra: "--max_it 6 --max_dofs 20000",
        python: Some(44.6),
    },
    Workload {
        name: "hos --original --max_it 6",
        key: "hos",
        extra: "--original --max_it 6",
        python: Some(114.0),
    },
    Workload {
        name: "NS_PINN defaults",
        key: "NS_PINN",
        extra: "",
        python: None,
    },
    Workload {
        name: "NS_PINN --prop_threshold 0.25 --max_it 5 --max_dofs 100000",
        key: "NS_PINN",
        extra: "--prop_threshold 0.25 --max_it 5 --max_dofs 100000",
        python: None,
    },
    Workload {
        name: "CT_demo defaults",
        key: "CT_demo",
        extra: "",
        python: None,
    },
    Workload {
        name: "CT_demo --prop_threshold 0.6 --max_it 6",
        key: "CT_demo",
        extra: "--prop_threshold 0.6 --max_it 6",
        python: None,
    },
    // The estimate criterion's f64 jets (issue 17) on the smooth networks.
    Workload {
        name: "NS_PINN --criterion estimate --max_dofs 30000 --max_it 12",
        key: "NS_PINN",
        extra: "--criterion estimate --max_dofs 30000 --max_it 12",
        python: None,
    },
    Workload {
        name: "CT_demo --criterion estimate --time_slice 1.0 --max_dofs 30000 --max_it 12",
        key: "CT_demo",
        extra: "--criterion estimate --time_slice 1.0 --max_dofs 30000 --max_it 12",
        python: None,
    },
    // A user's SIREN with Fourier features (NeRP's layout, made with torch: tests/data/byo).
    Workload {
        name: "SIREN (tests/data/byo nerp_siren) --criterion estimate --max_dofs 20000",
        key: "nerp_siren",
        extra: "--checkpoint tests/data/byo/nets/nerp_siren.npz \
                --network_config tests/data/byo/configs/nerp_siren.json \
                --mesh meshes/rectangle.mesh --criterion estimate --max_dofs 20000 --max_it 20",
        python: None,
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

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// On-CPU seconds of this thread (Linux `schedstat`): other processes on the machine do not
/// count, so the ratios of one run stay meaningful on a loaded machine.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(f64::NAN, |ns| ns as f64 * 1e-9)
}

/// Points per forward-pass measurement.
const RATE_POINTS: usize = 1 << 17;

/// Best on-CPU seconds of `repeats` calls of `f`.
fn best_of(repeats: usize, mut f: impl FnMut()) -> f64 {
    (0..repeats.max(3))
        .map(|_| {
            let t = cpu_seconds();
            f();
            cpu_seconds() - t
        })
        .fold(f64::INFINITY, f64::min)
}

/// Seconds of a forward pass (transforms, network, output scale) over RATE_POINTS points in
/// batches of EVAL_ROWS, as the RMSE and vertex evaluation run it, on this thread.
fn forward_seconds(file: &NetworkFile, repeats: usize) -> f64 {
    let rows = pruningamr::network::EVAL_ROWS;
    let d = file.input_dim();
    // Points spread over [-1, 1]^d (the CT box; NS_PINN's inputs are standardized anyway).
    let x = Mat::<f32>::from_fn(RATE_POINTS, d, |i, j| {
        ((i.wrapping_mul(2_654_435_761) >> (3 * j)) % 2048) as f32 / 1024.0 - 1.0
    });
    let mut buffers = ForwardBuffers::default();
    best_of(repeats, || {
        for start in (0..RATE_POINTS).step_by(rows) {
            let y = file.evaluate(x.as_ref().subrows(start, rows), &mut buffers);
            std::hint::black_box(y[(0, 0)]);
        }
    })
}

/// The same weights with every hidden activation replaced by ReLU.
fn with_relu(file: &NetworkFile) -> NetworkFile {
    let mut layers = file.network.layers().to_vec();
    let last = layers.len() - 1;
    for l in &mut layers[..last] {
        l.activation = Activation::Relu;
    }
    NetworkFile {
        network: pruningamr::network::Network::new(layers).expect("same shapes"),
        ..file.clone()
    }
}

/// G entries/s of the activation pass (fused bias add) over 64 KiB of pre-activations in
/// [-4, 4], in columns of EVAL_ROWS entries as a forward pass calls it (cache-resident, as
/// there), on this thread, in on-CPU time.
fn activation_rate(a: Activation, repeats: usize) -> f64 {
    let n = 1 << 14;
    let input: Vec<f32> = (0..n)
        .map(|i: usize| ((i.wrapping_mul(2_654_435_761) >> 8) % 65536) as f32 / 8192.0 - 4.0)
        .collect();
    let mut v = input.clone();
    // The on-CPU clock (schedstat) advances at scheduler events, so a short pass can read 0 s:
    // lengthen the timed call until it reads at least 50 ms.
    let mut reps = 1024;
    loop {
        let s = best_of(repeats, || {
            v.copy_from_slice(&input);
            for r in 0..reps {
                // In place, the bias alternating in sign so the values stay near [-4, 4]
                // without restoring them (a copy per pass measured slower than the ReLU pass).
                let bias = if r % 2 == 0 { 0.1 } else { -0.1 };
                for col in v.chunks_mut(pruningamr::network::EVAL_ROWS) {
                    a.apply_biased(bias, std::hint::black_box(col));
                }
            }
        });
        if s >= 0.05 || reps >= 1 << 20 {
            return (reps * n) as f64 / s * 1e-9;
        }
        reps *= 4;
    }
}

/// The network of a built-in key: forward-pass rate as trained, with ReLU, and (Fourier
/// feature networks) with ReLU and no features, plus its activations' throughput.
fn network_rates(key: &str, repeats: usize) {
    let (file, _) = builtin_network(key).expect("built-in network");
    let net = &file.network;
    let features_flops = file
        .fourier_gauss
        .as_ref()
        .map_or(0.0, |g| 2.0 * (g.nrows() * g.ncols()) as f64);
    let flops = net.flops_per_point() + features_flops;
    let acts: Vec<&str> = net.layers().iter().map(|l| l.activation.name()).collect();
    println!(
        "== network {key}: hidden {:?}, activations {:?}{}; forward pass alone, {RATE_POINTS} \
         points in batches of {}, one thread, best of {} (on-CPU time)",
        net.hidden_widths(),
        acts,
        file.fourier_gauss
            .as_ref()
            .map_or(String::new(), |g| format!(
                ", {} Fourier features",
                2 * g.ncols()
            )),
        pruningamr::network::EVAL_ROWS,
        repeats.max(3)
    );
    let relu = with_relu(&file);
    let mut variants = vec![
        ("as trained", file.clone(), flops),
        ("ReLU", relu.clone(), flops),
    ];
    if file.fourier_gauss.is_some() {
        let bare = NetworkFile {
            fourier_gauss: None,
            input_mean: None,
            input_std: None,
            ..relu
        };
        variants.push(("ReLU, no features", bare, net.flops_per_point()));
    }
    let rates: Vec<(&str, f64, f64)> = variants
        .iter()
        .map(|(name, f, fl)| {
            let s = forward_seconds(f, repeats);
            (
                *name,
                RATE_POINTS as f64 / s,
                fl * RATE_POINTS as f64 / s * 1e-9,
            )
        })
        .collect();
    for (name, pts, gflops) in &rates {
        println!(
            "   {name:<18} {:7.2} M points/s  {gflops:6.1} GFLOP/s   rate / as trained {:.2}",
            pts * 1e-6,
            pts / rates[0].1
        );
    }
    for (name, pts, _) in &rates[1..] {
        println!(
            "   as trained at {:.0} % of the rate of {name}",
            100.0 * rates[0].1 / pts
        );
    }
    let hidden = net.layers()[0].activation;
    println!(
        "   activation pass alone: {} {:.2} G entries/s, ReLU {:.2} G entries/s{}",
        hidden.name(),
        activation_rate(hidden, repeats),
        activation_rate(Activation::Relu, repeats),
        if file.fourier_gauss.is_some() {
            format!(", sincos {:.2} G inputs/s", sincos_rate(repeats))
        } else {
            String::new()
        }
    );
}

/// G inputs/s of the Fourier features' sincos pass (two outputs per input) on a
/// cache-resident column of EVAL_ROWS phases in [-128, 128], on this thread, in on-CPU time.
fn sincos_rate(repeats: usize) -> f64 {
    let n = pruningamr::network::EVAL_ROWS;
    let input: Vec<f32> = (0..n)
        .map(|i: usize| ((i.wrapping_mul(2_654_435_761) >> 8) % 65536) as f32 / 256.0 - 128.0)
        .collect();
    let (mut c, mut s) = (vec![0.0; n], vec![0.0; n]);
    let reps = 1 << 16;
    let t = best_of(repeats, || {
        for _ in 0..reps {
            kernels::sincos(std::hint::black_box(&input), &mut c, &mut s);
        }
    });
    (reps * n) as f64 / t * 1e-9
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
    println!(
        "CPU: {} ({} CPUs), activation kernels: {} (supported: {}); machine load average at \
         start: {}",
        kernels::cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernels::detected_level().name(),
        kernels::Level::supported()
            .iter()
            .map(|l| l.name())
            .collect::<Vec<_>>()
            .join(", "),
        load_average()
    );
    for key in ["NS_PINN", "CT_demo"] {
        if filter
            .as_ref()
            .is_none_or(|f| key.contains(f.as_str()) || f == "networks")
        {
            network_rates(key, repeats);
        }
    }
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
        let python = match w.python {
            Some(py) => format!(
                "Python original {py:.1} s   speed-up {:.0}x (best), {:.0}x (median)",
                py / best,
                py / median
            ),
            None => "Python original not timed".into(),
        };
        println!(
            "   process wall: best {best:.3} s, median {median:.3} s   {python}   peak RSS {:.0} \
             MiB",
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
                "   scoring: {:.2} GFLOP needed (PruningAMR: forward passes + QR to the rank; estimate: jets), {:.1} GFLOP/s \
                 achieved ({:.1} per thread)",
                r.scoring_gflop,
                r.scoring_gflop / p[0],
                r.scoring_gflop / p[0] / r.threads as f64
            );
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}
