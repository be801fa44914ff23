//! How good a trained INR is: RMSE and max error against its field on a fixed set of uniform test
//! points, evaluated through the crate's own `Inr`/`Network::forward` (what the AMR will run),
//! and how far that is from the training forward pass.

use faer::Mat;
use pruningamr::network::Coordinates;
use pruningamr::network::Layer;
use pruningamr::network::{Inr, NetworkFile};
use rayon::prelude::*;

use super::mlp;
use super::problems::Problem;
use super::train::{self, InputTransform, TEST};

pub const TEST_POINTS: usize = 100_000;
const BATCH: usize = 10_000;

pub struct Measured {
    /// Over every output component.
    pub rmse: f64,
    pub max_error: f64,
    pub rmse_per: Vec<f64>,
    pub max_error_per: Vec<f64>,
    /// Root mean square of the field itself, for scale.
    pub field_rms: f64,
    /// max |training forward − Network::forward| over the test points, relative to the largest
    /// output magnitude.
    pub forward_mismatch: f64,
    /// RMSE and max error over the problem's sub-region, if it has one.
    pub region: Option<(f64, f64)>,
}

/// The trained network placed as the AMR places it: INR coordinates in, scaled field out.
pub fn inr_of(problem: &Problem, file: NetworkFile) -> anyhow::Result<Inr> {
    Ok(Inr::new(file, Coordinates::Identity, problem.lo.len())?)
}

/// Field and `inr` outputs on the test points, with the training forward's outputs.
pub fn measure(
    problem: &Problem,
    seed: u64,
    inr: &Inr,
    layers: &[Layer],
    transform: &InputTransform,
) -> Measured {
    let mut rng = train::stream(seed, problem, TEST);
    let batches: Vec<(Mat<f32>, Mat<f64>)> = (0..TEST_POINTS / BATCH)
        .map(|_| train::sample(problem, &mut rng, BATCH))
        .collect();
    let c = problem.outputs.len();
    let scale = inr.output_scale();
    // per batch: Σ err² per component, max |err| per component, Σ f², max |y|, max |Δforward|,
    // and over the sub-region: Σ err², max |err|, points
    type Part = (Vec<f64>, Vec<f64>, f64, f64, f64, (f64, f64, usize));
    let parts: Vec<Part> = batches
        .par_iter()
        .map(|(x, t)| {
            let y = inr.eval_inr(x);
            let own = mlp::forward(layers, train::features(transform, x.as_ref()).as_ref());
            let mut se = vec![0.0; c];
            let mut me = vec![0.0f64; c];
            let (mut f2, mut ymax, mut dmax) = (0.0, 0.0f64, 0.0f64);
            let mut reg = (0.0, 0.0f64, 0usize);
            let mut p = vec![0.0f64; x.ncols()];
            for i in 0..x.nrows() {
                for (j, pj) in p.iter_mut().enumerate() {
                    *pj = x[(i, j)] as f64;
                }
                let inside = problem.region.is_some_and(|(_, f)| f(&p));
                reg.2 += inside as usize;
                for k in 0..c {
                    let e = y[(i, k)] as f64 - t[(i, k)];
                    se[k] += e * e;
                    me[k] = me[k].max(e.abs());
                    f2 += t[(i, k)] * t[(i, k)];
                    ymax = ymax.max((y[(i, k)] as f64).abs());
                    let d = (own[(i, k)] * scale) as f64 - y[(i, k)] as f64;
                    dmax = dmax.max(d.abs());
                    if inside {
                        reg.0 += e * e;
                        reg.1 = reg.1.max(e.abs());
                    }
                }
            }
            (se, me, f2, ymax, dmax, reg)
        })
        .collect();
    let mut se = vec![0.0; c];
    let mut me = vec![0.0f64; c];
    let (mut f2, mut ymax, mut dmax) = (0.0, 0.0f64, 0.0f64);
    let mut reg = (0.0, 0.0f64, 0usize);
    for (s, m, f, y, d, r) in parts {
        reg = (reg.0 + r.0, reg.1.max(r.1), reg.2 + r.2);
        for k in 0..c {
            se[k] += s[k];
            me[k] = me[k].max(m[k]);
        }
        f2 += f;
        ymax = ymax.max(y);
        dmax = dmax.max(d);
    }
    let n = TEST_POINTS as f64;
    Measured {
        rmse: (se.iter().sum::<f64>() / (n * c as f64)).sqrt(),
        max_error: me.iter().cloned().fold(0.0, f64::max),
        rmse_per: se.iter().map(|s| (s / n).sqrt()).collect(),
        max_error_per: me,
        field_rms: (f2 / (n * c as f64)).sqrt(),
        forward_mismatch: dmax / ymax.max(f64::MIN_POSITIVE),
        region: problem
            .region
            .map(|_| ((reg.0 / (reg.2.max(1) * c) as f64).sqrt(), reg.1)),
    }
}
