//! Fitting one problem: seeded uniform mini-batches over its box, Adam on the mean squared error,
//! then the network, its input transform and output scale as the crate will use them.

use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use pruningamr::network::Layer;
use rayon::prelude::*;

use super::mlp::{self, Adam};
use super::problems::{Features, Problem};
use super::rng::Rng;

/// Stream purposes (combined with the problem's id).
const INIT: u64 = 1;
const BATCHES: u64 = 2;
const FOURIER: u64 = 3;
pub const TEST: u64 = 4;

/// Fixed number of pieces a batch is cut into for the gradient: results do not depend on the
/// number of threads.
const CHUNKS: usize = 2;

pub struct Trained {
    pub layers: Vec<Layer>,
    pub transform: InputTransform,
    /// Mean training MSE (of field / scale) over the last 2% of the steps.
    pub final_loss: f64,
    pub seconds: f64,
    pub steps: usize,
}

/// Input transforms of a problem as the trainer applies them (the saved npz stores the same
/// as `input_mean`/`input_std` and `fourier_gauss`).
#[derive(Clone, Debug, Default)]
pub struct InputTransform {
    /// x ↦ (x − mean) / std, per coordinate.
    pub standardize: Option<(Vec<f32>, Vec<f32>)>,
    /// G (d × F): features [cos 2πxG, sin 2πxG].
    pub fourier_gauss: Option<Mat<f32>>,
}

pub fn stream(seed: u64, problem: &Problem, purpose: u64) -> Rng {
    Rng::new(seed, problem.id * 16 + purpose)
}

/// The input transform of a problem: standardization from its box, or a seeded Fourier matrix.
pub fn transform(problem: &Problem, seed: u64) -> InputTransform {
    let d = problem.lo.len();
    match problem.features {
        Features::Raw => InputTransform::default(),
        Features::Standardize => {
            // uniform on [lo, hi]: mean (lo+hi)/2, std (hi−lo)/√12
            let mean = (0..d)
                .map(|i| (0.5 * (problem.lo[i] + problem.hi[i])) as f32)
                .collect();
            let std = (0..d)
                .map(|i| ((problem.hi[i] - problem.lo[i]) / 12f64.sqrt()) as f32)
                .collect();
            InputTransform {
                standardize: Some((mean, std)),
                fourier_gauss: None,
            }
        }
        Features::Fourier { count, sigma } => {
            let mut rng = stream(seed, problem, FOURIER);
            // row-major draw order: G[i][j] for i over coordinates, j over features
            let mut draws = Vec::with_capacity(d * count);
            for _ in 0..d * count {
                draws.push((sigma * rng.normal()) as f32);
            }
            InputTransform {
                standardize: None,
                fourier_gauss: Some(Mat::from_fn(d, count, |i, j| draws[i * count + j])),
            }
        }
    }
}

/// Network input features of INR coordinates, the same arithmetic as `Inr::features`.
pub fn features(t: &InputTransform, x: MatRef<'_, f32>) -> Mat<f32> {
    let mut x = x.to_owned();
    if let Some((mean, std)) = &t.standardize {
        for j in 0..x.ncols() {
            let (m, s) = (mean[j], std[j]);
            for v in x.col_as_slice_mut(j) {
                *v = (*v - m) / s;
            }
        }
    }
    let Some(g) = &t.fourier_gauss else {
        return x;
    };
    let f = g.ncols();
    let mut proj = Mat::<f32>::zeros(x.nrows(), f);
    matmul(
        proj.as_mut(),
        Accum::Replace,
        x.as_ref(),
        g.as_ref(),
        std::f32::consts::TAU,
        Par::Seq,
    );
    let mut out = Mat::<f32>::zeros(x.nrows(), 2 * f);
    for j in 0..f {
        let p = proj.col_as_slice(j);
        for (o, v) in out.col_as_slice_mut(j).iter_mut().zip(p) {
            *o = v.cos();
        }
        for (o, v) in out.col_as_slice_mut(f + j).iter_mut().zip(p) {
            *o = v.sin();
        }
    }
    out
}

/// Features in parallel over fixed pieces (trig for Fourier features is a visible cost).
fn features_par(t: &InputTransform, x: MatRef<'_, f32>) -> Mat<f32> {
    if t.fourier_gauss.is_none() {
        return features(t, x);
    }
    let n = x.nrows();
    let parts: Vec<Mat<f32>> = (0..CHUNKS)
        .into_par_iter()
        .map(|c| {
            let (a, b) = (c * n / CHUNKS, (c + 1) * n / CHUNKS);
            features(t, x.subrows(a, b - a))
        })
        .collect();
    let width = parts[0].ncols();
    let mut out = Mat::<f32>::zeros(n, width);
    let mut row = 0;
    for p in &parts {
        out.as_mut()
            .subrows_mut(row, p.nrows())
            .copy_from(p.as_ref());
        row += p.nrows();
    }
    out
}

/// `n` points uniform in the problem's box (rows) and the field there divided by the output
/// scale; the field is evaluated in f64 at the f32-rounded points.
pub fn sample(problem: &Problem, rng: &mut Rng, n: usize) -> (Mat<f32>, Mat<f64>) {
    let d = problem.lo.len();
    let c = problem.outputs.len();
    let mut x = Mat::<f32>::zeros(n, d);
    let mut t = Mat::<f64>::zeros(n, c);
    let mut p = vec![0.0f64; d];
    let mut out = vec![0.0f64; c];
    for i in 0..n {
        for (k, pk) in p.iter_mut().enumerate() {
            let v = rng.uniform(problem.lo[k], problem.hi[k]) as f32;
            x[(i, k)] = v;
            *pk = v as f64;
        }
        (problem.target)(&p, &mut out);
        for (k, o) in out.iter().enumerate() {
            t[(i, k)] = *o;
        }
    }
    (x, t)
}

pub fn initial_layers(problem: &Problem, seed: u64, transform: &InputTransform) -> Vec<Layer> {
    let mut rng = stream(seed, problem, INIT);
    let input = match &transform.fourier_gauss {
        Some(g) => 2 * g.ncols(),
        None => problem.lo.len(),
    };
    mlp::init_layers(
        input,
        &problem.widths,
        problem.outputs.len(),
        problem.hidden,
        problem.init,
        &mut rng,
    )
}

/// Trains `problem` for `steps` (its schedule's, possibly scaled down for a quick look).
pub fn train(problem: &Problem, seed: u64, steps: usize) -> Trained {
    let start = Instant::now();
    let transform = transform(problem, seed);
    let mut layers = initial_layers(problem, seed, &transform);
    let mut adam = Adam::new(&layers);
    let mut rng = stream(seed, problem, BATCHES);
    let scale = problem.output_scale.unwrap_or(1.0);
    let schedule = super::problems::Schedule {
        steps,
        warmup: problem.schedule.warmup.min(steps / 10 + 1),
        ..problem.schedule
    };
    let tail = (steps / 50).max(1);
    let mut tail_loss = 0.0;
    let report_every = (steps / 10).max(1);
    let mut window = 0.0;
    for step in 0..steps {
        let (x, t) = sample(problem, &mut rng, schedule.batch);
        let t = Mat::<f32>::from_fn(t.nrows(), t.ncols(), |i, j| {
            (t[(i, j)] / scale as f64) as f32
        });
        let input = features_par(&transform, x.as_ref());
        let lr = schedule.lr(step) as f32;
        let loss = mlp::train_step(
            &mut layers,
            &mut adam,
            input.as_ref(),
            t.as_ref(),
            CHUNKS,
            lr,
        );
        window += loss;
        if step + tail >= steps {
            tail_loss += loss;
        }
        if (step + 1) % report_every == 0 {
            eprintln!(
                "  {:>8} step {:>6}/{steps}  lr {:.2e}  mse {:.3e}  {:.0} s",
                problem.key,
                step + 1,
                lr,
                window / report_every as f64,
                start.elapsed().as_secs_f64()
            );
            window = 0.0;
        }
    }
    Trained {
        layers,
        transform,
        final_loss: tail_loss / tail as f64,
        seconds: start.elapsed().as_secs_f64(),
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problems::all;

    #[test]
    fn short_training_is_reproducible_and_learns() {
        let problems = all();
        let hos = &problems[0];
        let a = train(hos, 11, 300);
        let b = train(hos, 11, 300);
        for (la, lb) in a.layers.iter().zip(&b.layers) {
            assert_eq!(la.bias, lb.bias);
            for j in 0..la.weight.ncols() {
                assert_eq!(la.weight.col_as_slice(j), lb.weight.col_as_slice(j));
            }
        }
        // the field's variance on [0,1]² is ≈ 0.1; a fit that learned nothing stays there
        assert!(a.final_loss < 0.03, "final loss {}", a.final_loss);
    }

    #[test]
    fn standardization_is_the_uniform_box_moments() {
        let problems = all();
        let ns = &problems[3];
        let t = transform(ns, 1);
        let (mean, std) = t.standardize.expect("NS_PINN is standardized");
        assert_eq!(mean, vec![3.0, 0.0, 10.0]);
        let expect = [4.0 / 12f32.sqrt(), 4.0 / 12f32.sqrt(), 20.0 / 12f32.sqrt()];
        for (s, e) in std.iter().zip(expect) {
            assert!((s - e).abs() < 1e-6);
        }
    }
}
