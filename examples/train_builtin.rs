//! Trains the project's built-in INRs (hos, hol, hof, NS_PINN, CT_demo) from seeded random
//! starts and writes them as npz next to checkpoints/TRAINING.md, so anyone can rebuild the
//! shipped networks: `cargo run --release --example train_builtin -- [--only KEY] [--out DIR]`.

#[path = "train_builtin/measure.rs"]
mod measure;
#[path = "train_builtin/mlp.rs"]
mod mlp;
#[path = "train_builtin/problems.rs"]
mod problems;
#[path = "train_builtin/report.rs"]
mod report;
#[path = "train_builtin/rng.rs"]
mod rng;
#[path = "train_builtin/train.rs"]
mod train;

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use pruningamr::network::Network;
use pruningamr::network::{NetworkFile, load_npz, save_npz};

/// Seed of the shipped networks.
const SEED: u64 = 2024;

#[derive(Parser)]
#[command(about = "Train the built-in INRs and write them as npz")]
struct Args {
    /// Train only this key (hos, hol, hof, NS_PINN, CT_demo).
    #[arg(long)]
    only: Option<String>,
    /// Folder for the npz files and TRAINING.md.
    #[arg(long, default_value = "checkpoints")]
    out: PathBuf,
    #[arg(long, default_value_t = SEED)]
    seed: u64,
    /// Worker threads; the result does not depend on it.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Multiplies every step budget (for a quick look; the shipped files use 1).
    #[arg(long, default_value_t = 1.0)]
    budget: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.max(1))
        .build_global()
        .context("starting the thread pool")?;
    let problems: Vec<_> = problems::all()
        .into_iter()
        .filter(|p| args.only.as_deref().is_none_or(|k| k == p.key))
        .collect();
    if problems.is_empty() {
        bail!(
            "--only {}: not a built-in key (hos, hol, hof, NS_PINN, CT_demo)",
            args.only.unwrap_or_default()
        );
    }
    if !(args.budget > 0.0 && args.budget.is_finite()) {
        bail!("--budget {}: must be a positive number", args.budget);
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut rows = Vec::new();
    for p in &problems {
        let steps = ((p.schedule.steps as f64 * args.budget).round() as usize).max(1);
        eprintln!("{}: training {steps} steps", p.key);
        let trained = train::train(p, args.seed, steps);
        let network = Network::new(trained.layers.clone())
            .with_context(|| format!("{}: the trained weights do not form a network", p.key))?;
        let (input_mean, input_std) = match trained.transform.standardize.clone() {
            Some((m, s)) => (Some(m), Some(s)),
            None => (None, None),
        };
        let file = NetworkFile {
            network,
            input_mean,
            input_std,
            fourier_gauss: trained.transform.fourier_gauss.clone(),
            output_scale: p.output_scale,
            positional: None,
            output_names: Vec::new(),
            input_names: Vec::new(),
        };
        let path = args.out.join(format!("{}.npz", p.key));
        save_npz(&path, &file)?;
        // Measure what was written, read back and placed as the AMR places it.
        let loaded = load_npz(&path)?;
        let inr = measure::inr_of(p, loaded)?;
        let m = measure::measure(p, args.seed, &inr, &trained.layers, &trained.transform);
        eprintln!(
            "{}: {:.0} s, RMSE {:.3e}, max error {:.3e}, field RMS {:.3e}, forward mismatch {:.1e}",
            p.key, trained.seconds, m.rmse, m.max_error, m.field_rms, m.forward_mismatch
        );
        if let (Some((name, _)), Some((rmse, max))) = (p.region, m.region) {
            eprintln!(
                "{}: over {name}: RMSE {rmse:.3e}, max error {max:.3e}",
                p.key
            );
        }
        if m.forward_mismatch > 1e-5 {
            let _ = std::fs::remove_file(&path);
            bail!(
                "{}: the saved network run by Network::forward differs from the training forward \
                 by {:.1e} of the largest output",
                p.key,
                m.forward_mismatch
            );
        }
        rows.push((
            p.key.to_string(),
            report::row(p, args.seed, args.budget, &trained, &m),
        ));
    }
    report::write(&args.out.join("TRAINING.md"), &rows)?;
    Ok(())
}
