//! checkpoints/TRAINING.md: how each shipped network was made and how well it fits. A run with
//! `--only KEY` replaces that key's results row and keeps the other rows of the existing file.

use std::fmt::Write as _;
use std::path::Path;

use super::measure::{Measured, TEST_POINTS};
use super::problems::{Features, Problem, all};
use super::train::Trained;

/// One results row per key, marked so a later run can find and replace it.
pub fn row(p: &Problem, seed: u64, budget: f64, t: &Trained, m: &Measured) -> String {
    let per = |v: &[f64]| {
        if v.len() == 1 {
            String::new()
        } else {
            format!(
                " ({})",
                p.outputs
                    .iter()
                    .zip(v)
                    .map(|(n, x)| format!("{n} {x:.2e}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    format!(
        "| `{}` | {} | {}{} | {:.0} | {:.2e} | {:.3e}{} | {:.3e}{} | {} | {:.3e} | {:.1e} |",
        p.key,
        seed,
        t.steps,
        if budget == 1.0 {
            String::new()
        } else {
            format!(" (budget ×{budget})")
        },
        t.seconds,
        t.final_loss,
        m.rmse,
        per(&m.rmse_per),
        m.max_error,
        per(&m.max_error_per),
        match (p.region, m.region) {
            (Some((name, _)), Some((rmse, max))) => format!("{name}: {rmse:.3e} / {max:.3e}"),
            _ => "—".into(),
        },
        m.field_rms,
        m.forward_mismatch,
    )
}

fn shape(p: &Problem) -> String {
    let input = match p.features {
        Features::Fourier { count, .. } => format!("{} → [cos, sin] {}", p.lo.len(), 2 * count),
        _ => p.lo.len().to_string(),
    };
    let mut s = input;
    let mut i = 0;
    while i < p.widths.len() {
        let w = p.widths[i];
        let n = p.widths[i..].iter().take_while(|&&x| x == w).count();
        let _ = write!(s, " → {w}×{n}");
        i += n;
    }
    format!(
        "{s} → {} ({} hidden, Identity output)",
        p.outputs.len(),
        p.hidden.name()
    )
}

fn features(p: &Problem) -> String {
    match p.features {
        Features::Raw => "none: the network sees the coordinates as they are".into(),
        Features::Standardize => {
            let parts: Vec<String> = (0..p.lo.len())
                .map(|i| {
                    format!(
                        "{}: mean {}, std {:.6}",
                        p.coords[i],
                        0.5 * (p.lo[i] + p.hi[i]),
                        (p.hi[i] - p.lo[i]) / 12f64.sqrt()
                    )
                })
                .collect();
            format!(
                "(x − mean)/std with the mean and std of the uniform distribution over the box \
                 (stored as `input_mean`, `input_std`): {}",
                parts.join("; ")
            )
        }
        Features::Fourier { count, sigma } => format!(
            "Fourier features [cos 2πxG, sin 2πxG] of the raw (t, z, y, x), G ({} × {count}) with \
             independent N(0, {sigma}²) entries drawn from the seeded stream (stored as \
             `fourier_gauss`)",
            p.lo.len()
        ),
    }
}

pub fn write(path: &Path, rows: &[(String, String)]) -> anyhow::Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let mut s = String::new();
    s.push_str(
        "# Built-in networks\n\n\
Made by the project itself (the original's weights are not used) with\n\
`cargo run --release --example train_builtin -- [--only KEY] [--out checkpoints] [--seed S]`.\n\
Each network is a plain MLP trained from a seeded random start on the mean squared error of\n\
mini-batches of points drawn uniformly in its box (xoshiro256++ streams per key and purpose:\n\
initial weights, batches, Fourier matrix, test points), with Adam (β = 0.9, 0.999, ε = 1e-8),\n\
a linear warm-up then cosine decay of the learning rate, f32 arithmetic and faer GEMMs. Each\n\
batch's gradient is the sum of two fixed halves (computed on two threads), so the result does\n\
not depend on the thread count; a rebuild on the same kind of CPU gives the same weights, on\n\
another CPU the GEMM's rounding (SIMD width) may differ slightly and the numbers below drift in\n\
their last digits.\n\n",
    );
    let _ = writeln!(
        s,
        "Errors are measured on {TEST_POINTS} points uniform in the box (a fixed stream), the field \
in f64 against the network run through the crate's `Inr` / `Network::forward` in f32 (what the \
AMR evaluates), over every output component. *fwd Δ* is the largest difference between that and \
the trainer's own forward pass, relative to the largest output.\n"
    );
    s.push_str(
        "| key | seed | steps | wall s | final train MSE | RMSE | max error | sub-region RMSE / max error | field RMS | fwd Δ |\n\
|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for p in all() {
        let marker = format!("| `{}` |", p.key);
        if let Some((_, r)) = rows.iter().find(|(k, _)| k == p.key) {
            s.push_str(r);
        } else if let Some(line) = old.lines().find(|l| l.starts_with(&marker)) {
            s.push_str(line);
        } else {
            let _ = write!(s, "{marker} not trained yet | | | | | | | | |");
        }
        s.push('\n');
    }
    s.push_str("\nWall times are on the 2-core build machine, shared with other jobs.\n");
    for p in all() {
        let b = p.schedule;
        let _ = write!(
            s,
            "\n## `{}`\n\n{}\n\n- Network: {}.\n- Input transform: {}.\n- Output scale: {}.\n\
- Training: {} steps of {} points, learning rate {:.0e} → {:.0e} (warm-up {} steps), {} init.\n",
            p.key,
            p.formula,
            shape(&p),
            features(&p),
            match p.output_scale {
                Some(v) => format!("{v} (stored as `output_scale`)"),
                None => "none".into(),
            },
            b.steps,
            b.batch,
            b.lr_max,
            b.lr_min,
            b.warmup,
            match p.init {
                super::mlp::Init::He => "He-uniform",
                super::mlp::Init::Glorot => "Glorot-uniform",
            }
        );
    }
    s.push_str(
        "\n## Notes\n\n\
- `hos`, `hol`, `hof`: nearly all of the error sits in the core r < 0.1, where sin(1/r) has\n  \
  rings narrower than any of these ReLU networks resolves from uniform samples (about 1% of the\n  \
  points fall there); the networks smear it to a blur around sin(50). That is the fine detail\n  \
  the AMR is meant to chase. The sub-region column shows the fit away from it.\n\
- `NS_PINN`: fit to data only (no physics loss); the name keeps the original's key.\n\
- Regenerating overwrites the npz files; with the same seed on the same kind of CPU they come\n  \
  out byte for byte the same (the npz members carry no timestamps).\n",
    );
    let tmp = path.with_extension("md.tmp");
    std::fs::write(&tmp, s)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
