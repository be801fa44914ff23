//! Benchmark of the PruningAMR element test (SPEC §2.1) on one core: a 2→256×4→1 ReLU network
//! with seeded random weights, 256 ID samples and 128 error samples per element, elements of
//! random size and position in [0,1]². Prints time per element, its phases and GFLOP/s, and
//! compares the rank-stopped pivoted QR with a full one (ours and faer's).
//!
//! Loop times are on-CPU time of the thread (Linux `schedstat`), so other processes on a
//! shared machine do not inflate them. Phases are measured as differences of whole loops
//! (forward pass alone vs forward pass + decompositions), so the decompositions see the
//! activations warm in cache, as in the real element test.
//!
//! `cargo run --release --example bench_id [elements] [epsilon]`

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Instant;

use faer::Mat;
use pruningamr::id_pruning::{
    QrWorkspace, ScoreWorkspace, Stopping, interpolative_decomposition, prune_and_score,
};
use pruningamr::network::{Activation, Layer, Network};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const WIDTH: usize = 256;
const ID_SAMPLES: usize = 256;
const ERROR_SAMPLES: usize = 128;

/// Seconds this thread has spent on a CPU (Linux `schedstat`); wall-clock seconds where that
/// is unavailable. Only meaningful over loops much longer than a scheduler tick.
fn cpu_seconds() -> f64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let on_cpu_ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
    match on_cpu_ns {
        Some(ns) => ns as f64 * 1e-9,
        None => START.get_or_init(Instant::now).elapsed().as_secs_f64(),
    }
}

fn uniform(rng: &mut Xoshiro256PlusPlus) -> f32 {
    (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32
}

/// He-initialised ReLU network (uniform with the He variance), small biases.
fn random_network(rng: &mut Xoshiro256PlusPlus) -> Network {
    let dims = [2, WIDTH, WIDTH, WIDTH, WIDTH, 1];
    let layers = (0..dims.len() - 1)
        .map(|i| {
            let (fan_in, fan_out) = (dims[i], dims[i + 1]);
            let bound = (6.0 / fan_in as f32).sqrt();
            Layer {
                weight: Mat::from_fn(fan_out, fan_in, |_, _| bound * (2.0 * uniform(rng) - 1.0)),
                bias: (0..fan_out)
                    .map(|_| 0.1 * (2.0 * uniform(rng) - 1.0))
                    .collect(),
                activation: if i + 2 < dims.len() {
                    Activation::Relu
                } else {
                    Activation::Identity
                },
            }
        })
        .collect();
    Network::new(layers).expect("random network is valid")
}

/// One element: ID and error points uniform in a box of side 2^-level at a random place in
/// [0,1]², and both stacked (the element test runs them through the network together).
struct Element {
    id: Mat<f32>,
    err: Mat<f32>,
    stacked: Mat<f32>,
}

fn element(rng: &mut Xoshiro256PlusPlus, level: u32) -> Element {
    let side = 0.5f32.powi(level as i32);
    let cells = 1u64 << level;
    let x0 = (rng.next_u64() % cells) as f32 * side;
    let y0 = (rng.next_u64() % cells) as f32 * side;
    let mut draw = |n: usize| {
        Mat::from_fn(n, 2, |_, c| {
            (if c == 0 { x0 } else { y0 }) + side * uniform(rng)
        })
    };
    let id = draw(ID_SAMPLES);
    let err = draw(ERROR_SAMPLES);
    let stacked = Mat::from_fn(ID_SAMPLES + ERROR_SAMPLES, 2, |r, c| {
        if r < ID_SAMPLES {
            id[(r, c)]
        } else {
            err[(r - ID_SAMPLES, c)]
        }
    });
    Element { id, err, stacked }
}

/// On-CPU seconds of `body` run on every element.
fn time_loop(elements: &[Element], mut body: impl FnMut(&Element)) -> f64 {
    let start = cpu_seconds();
    for e in elements {
        body(e);
    }
    cpu_seconds() - start
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let epsilon: f32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1e-3);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let net = random_network(&mut rng);
    let elements: Vec<Element> = (0..count)
        .map(|e| element(&mut rng, 2 + (e % 6) as u32))
        .collect();
    let per_element = |t: f64, n: usize| 1e3 * t / n as f64;
    println!(
        "element test: 2→{WIDTH}×4→1 ReLU, {ID_SAMPLES} ID + {ERROR_SAMPLES} error samples, \
         epsilon {epsilon}, {count} elements (box sides 2^-2 … 2^-7), one thread"
    );

    let mut ws = QrWorkspace::new();
    let mut score_ws = ScoreWorkspace::new();
    let (mut flops, mut ks_sum, mut ks_max) = (0.0, 0usize, 0usize);
    let t_whole = time_loop(&elements, |e| {
        let s = prune_and_score(
            &net,
            e.id.as_ref(),
            e.err.as_ref(),
            epsilon,
            1.0,
            &mut score_ws,
        );
        flops += s.flops;
        ks_sum += s.ks.iter().sum::<usize>();
        ks_max = ks_max.max(s.ks.iter().copied().max().unwrap_or(0));
        black_box(s.error);
    });
    println!(
        "  whole test        {:7.3} ms/element  {:6.1} MFLOP/element  {:6.1} GFLOP/s  (mean k {:.1}, max k {ks_max})",
        per_element(t_whole, count),
        1e-6 * flops / count as f64,
        1e-9 * flops / t_whole,
        ks_sum as f64 / (4 * count) as f64
    );

    let t_fwd = time_loop(&elements, |e| {
        black_box(net.forward_keep_hidden(e.stacked.as_ref()));
    });
    let fwd_flops = net.flops_per_point() * (ID_SAMPLES + ERROR_SAMPLES) as f64;
    println!(
        "  forward pass      {:7.3} ms/element  {:6.1} MFLOP/element  {:6.1} GFLOP/s",
        per_element(t_fwd, count),
        1e-6 * fwd_flops,
        1e-9 * fwd_flops * count as f64 / t_fwd
    );

    for (label, stopping, n) in [
        ("IDs, stop at rank", Stopping::AtRank, count),
        ("IDs, full QR     ", Stopping::Never, count.min(200)),
    ] {
        let mut qr_flops = 0.0;
        let t = time_loop(&elements[..n], |e| {
            let (hidden, _) = net.forward_keep_hidden(e.stacked.as_ref());
            for h in &hidden {
                let h = h.as_ref().subrows(0, ID_SAMPLES);
                let d = interpolative_decomposition(h, epsilon, stopping, &mut ws);
                qr_flops += d.flops;
                black_box(d.rank);
            }
        }) - t_fwd * n as f64 / count as f64;
        println!(
            "  {label} {:7.3} ms/element  {:6.1} MFLOP/element  {:6.1} GFLOP/s  ({:.1} µs per layer)",
            per_element(t, n),
            1e-6 * qr_flops / n as f64,
            1e-9 * qr_flops / t,
            1e6 * t / (4 * n) as f64
        );
    }

    let n = count.min(200);
    let t = time_loop(&elements[..n], |e| {
        let (hidden, _) = net.forward_keep_hidden(e.stacked.as_ref());
        for h in &hidden {
            black_box(h.as_ref().subrows(0, ID_SAMPLES).col_piv_qr());
        }
    }) - t_fwd * n as f64 / count as f64;
    println!(
        "  faer col_piv_qr   {:7.3} ms/element  (full factorization only, {:.1} µs per layer)",
        per_element(t, n),
        1e6 * t / (4 * n) as f64
    );

    // Time per layer against its rank (stopped QR), right after the layer's forward pass.
    // Wall-clock medians: one decomposition is far shorter than a scheduler tick.
    let buckets = [(1, 4), (5, 8), (9, 16), (17, 32), (33, WIDTH)];
    let mut per_bucket: Vec<Vec<f64>> = vec![Vec::new(); buckets.len()];
    for e in &elements {
        let (hidden, _) = net.forward_keep_hidden(e.stacked.as_ref());
        for h in &hidden {
            let h = h.as_ref().subrows(0, ID_SAMPLES);
            let start = Instant::now();
            let d = interpolative_decomposition(h, epsilon, Stopping::AtRank, &mut ws);
            let t = start.elapsed().as_secs_f64();
            if let Some(b) = buckets
                .iter()
                .position(|&(lo, hi)| (lo..=hi).contains(&d.rank))
            {
                per_bucket[b].push(t);
            }
        }
    }
    let line: Vec<String> = buckets
        .iter()
        .zip(&mut per_bucket)
        .filter(|(_, times)| !times.is_empty())
        .map(|(&(lo, hi), times)| {
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            format!(
                "k {lo}–{hi}: {:.0} µs ({} layers)",
                1e6 * median,
                times.len()
            )
        })
        .collect();
    println!("  ID per layer, median by rank: {}", line.join(", "));
}
