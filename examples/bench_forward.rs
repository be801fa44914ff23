//! Forward-pass throughput of a checkpoint's network against the number of points per batch,
//! on one core, in on-CPU time (Linux `schedstat`), so other processes do not inflate it.
//! This is what chose `inr_setup::EVAL_ROWS`.
//!
//! `cargo run --release --example bench_forward <checkpoint or npz>`

use faer::Mat;
use pruningamr::network::Coordinates;
use pruningamr::network::Inr;

fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(f64::NAN, |ns| ns as f64 * 1e-9)
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: bench_forward <checkpoint>");
        std::process::exit(2);
    };
    let file = match pruningamr::network::load(std::path::Path::new(&path)).map(|l| l.file) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let inr = match Inr::new(file.clone(), Coordinates::Identity, file.input_dim()) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    if std::env::var_os("FTZ").is_some() {
        #[allow(deprecated)]
        unsafe {
            use std::arch::x86_64::*;
            _mm_setcsr(_mm_getcsr() | 0x8040);
        }
    }
    let net = &file.network;
    let total = 1 << 20;
    let flop = net.flops_per_point() * total as f64;
    println!("{path}: hidden {:?}", net.hidden_widths());
    for rows in [64usize, 128, 256, 512, 1024, 2048, 4096] {
        let x = Mat::<f32>::from_fn(rows, net.input_dim(), |i, j| {
            ((i * 7 + j * 3) % 100) as f32 / 100.0
        });
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = cpu_seconds();
            for _ in 0..total / rows {
                std::hint::black_box(
                    net.forward(
                        x.as_ref(),
                        &mut pruningamr::network::ForwardBuffers::default(),
                    )
                    .to_owned(),
                );
            }
            best = best.min(cpu_seconds() - t);
        }
        println!(
            "rows {rows:5}: {:7.1} ns/point, {:6.1} GFLOP/s",
            best / total as f64 * 1e9,
            flop / best * 1e-9
        );
    }
    // As the RMSE calls it: 4096 mesh points at a time, chunked inside.
    let pts: Vec<[f64; 3]> = (0..4096)
        .map(|i| {
            [
                ((i * 2654435761usize) % 4096) as f64 / 4096.0,
                ((i * 40503) % 4099) as f64 / 4099.0,
                0.0,
            ]
        })
        .collect();
    let mut out = vec![0.0; pts.len() * inr.output_dim()];
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = cpu_seconds();
        for _ in 0..total / pts.len() {
            inr.eval_points_into(&pts, &mut out);
        }
        best = best.min(cpu_seconds() - t);
    }
    println!(
        "Inr::eval_points_into, 4096 points per call: {:7.1} ns/point, {:6.1} GFLOP/s",
        best / total as f64 * 1e9,
        flop / best * 1e-9
    );
}
