//! Forward-mode value / gradient / Hessian jets of an INR with respect to the *mesh*
//! coordinates, in f64 (second-order Taylor propagation, Griewank & Walther 2008, ch. 13):
//!
//! ```text
//! z = W a + b,   z_i = W a_i,   z_ij = W a_ij
//! a' = σ(z),     a'_i = σ'(z) z_i,   a'_ij = σ''(z) z_i z_j + σ'(z) z_ij
//! ```
//!
//! The value, the `d` gradient rows and the second-derivative rows of every point are rows of
//! one matrix, so each layer is a single GEMM (bias on value rows only). The input stage maps
//! the mesh point to the INR coordinates (identity, or (t, z, y, x) for a time slice), then
//! standardizes and applies Fourier features or NeRF's positional encoding, with their exact
//! derivatives.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

use super::activation::{d012_batch, sincos_batch};
use crate::network::positional::PositionalEncoding;
use crate::network::{Activation, Coordinates, Inr};

/// Which derivatives a jet holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum JetOrder {
    /// Values only (the tests' reference passes).
    #[cfg(test)]
    Value,
    Gradient,
    /// Gradient and the diagonal ∂_ii f of the Hessian (`1 + 2d` rows per point).
    HessianDiagonal,
    /// Gradient and the whole Hessian (`1 + d + d(d+1)/2` rows per point).
    HessianFull,
}

impl JetOrder {
    /// Index pairs (i, j) of the propagated second-derivative rows.
    fn pairs(self, d: usize) -> Vec<(usize, usize)> {
        match self {
            JetOrder::HessianDiagonal => (0..d).map(|i| (i, i)).collect(),
            JetOrder::HessianFull => (0..d).flat_map(|i| (i..d).map(move |j| (i, j))).collect(),
            _ => Vec::new(),
        }
    }
    fn n_grad(self, d: usize) -> usize {
        if self >= JetOrder::Gradient { d } else { 0 }
    }
    /// Rows per point in the stacked matrix.
    pub(crate) fn rows_per_point(self, d: usize) -> usize {
        1 + self.n_grad(d) + self.pairs(d).len()
    }
}

/// Values and derivatives (w.r.t. the mesh coordinates) of the field at `n_points` points.
#[derive(Clone, Debug)]
pub(crate) struct Jet {
    pub(crate) d: usize,
    pub(crate) c: usize,
    pub(crate) order: JetOrder,
    /// n × c.
    pub(crate) value: Vec<f64>,
    /// n × c × d (empty for `Value`).
    pub(crate) grad: Vec<f64>,
    /// `HessianFull`: n × c × d × d (symmetric); `HessianDiagonal`: n × c × d of ∂_ii f.
    pub(crate) hess: Vec<f64>,
}

impl Jet {
    pub(crate) fn value(&self, p: usize, o: usize) -> f64 {
        self.value[p * self.c + o]
    }
    pub(crate) fn grad(&self, p: usize, o: usize, i: usize) -> f64 {
        self.grad[(p * self.c + o) * self.d + i]
    }
    /// ∂_ii f, for either Hessian order.
    pub(crate) fn hess_diag(&self, p: usize, o: usize, i: usize) -> f64 {
        match self.order {
            JetOrder::HessianFull => self.hess[((p * self.c + o) * self.d + i) * self.d + i],
            JetOrder::HessianDiagonal => self.hess[(p * self.c + o) * self.d + i],
            _ => 0.0,
        }
    }
    /// ∂_ij f; the caller asked for `HessianFull`.
    pub(crate) fn hess(&self, p: usize, o: usize, i: usize, j: usize) -> f64 {
        debug_assert_eq!(self.order, JetOrder::HessianFull);
        self.hess[((p * self.c + o) * self.d + i) * self.d + j]
    }
}

/// True for activations whose second derivative is 0 almost everywhere.
fn piecewise_linear(act: Activation) -> bool {
    matches!(
        act,
        Activation::Identity | Activation::Relu | Activation::LeakyRelu { .. }
    )
}

struct Layer64 {
    /// out × in, as the crate stores it.
    weight: Mat<f64>,
    bias: Vec<f64>,
    activation: Activation,
}

/// An INR in f64, differentiable with respect to the mesh coordinates.
pub(crate) struct JetNetwork {
    /// Mesh dimension: derivatives are taken with respect to these coordinates.
    d: usize,
    /// For each INR coordinate: the mesh axis it reads, or a constant (the time slice).
    source: Vec<Source>,
    mean: Vec<f64>,
    inv_std: Vec<f64>,
    /// INR dims × F.
    fourier: Option<Mat<f64>>,
    /// The same columns as the f32 pass fills, in f64.
    positional: Option<PositionalEncoding>,
    layers: Vec<Layer64>,
    scale: f64,
}

#[derive(Clone, Copy, Debug)]
enum Source {
    Axis(usize),
    Constant(f64),
}

/// Points per stacked GEMM: large enough for efficient products, small enough for the cache.
const JET_POINTS: usize = 256;

impl JetNetwork {
    /// The INR's network, transforms and coordinate map, in f64.
    pub(crate) fn new(inr: &Inr) -> JetNetwork {
        let file = inr.file();
        let k = inr.inr_dim();
        let d = inr.mesh_dim();
        let source = (0..k)
            .map(|j| match inr.coordinates() {
                Coordinates::Identity => Source::Axis(j),
                // (x, y, z) → (t, z, y, x).
                Coordinates::TimeSlice { t } => match j {
                    0 => Source::Constant(t),
                    _ => Source::Axis(3 - j),
                },
                // (x, y) → (x, y, t).
                Coordinates::AppendTime { t } => match j {
                    j if j < d => Source::Axis(j),
                    _ => Source::Constant(t),
                },
            })
            .collect();
        let (mean, inv_std) = match (&file.input_mean, &file.input_std) {
            (Some(m), Some(s)) => (
                m.iter().map(|&v| v as f64).collect(),
                s.iter().map(|&v| 1.0 / v as f64).collect(),
            ),
            _ => (vec![0.0; k], vec![1.0; k]),
        };
        let fourier = file
            .fourier_gauss
            .as_ref()
            .map(|g| Mat::from_fn(g.nrows(), g.ncols(), |i, j| g[(i, j)] as f64));
        let layers = inr
            .network()
            .layers()
            .iter()
            .map(|l| Layer64 {
                weight: Mat::from_fn(l.out_dim(), l.in_dim(), |i, j| l.weight[(i, j)] as f64),
                bias: l.bias.iter().map(|&b| b as f64).collect(),
                activation: l.activation,
            })
            .collect();
        JetNetwork {
            d,
            source,
            mean,
            inv_std,
            fourier,
            positional: file.positional.clone(),
            layers,
            scale: inr.output_scale() as f64,
        }
    }

    #[cfg(test)]
    pub(crate) fn dim(&self) -> usize {
        self.d
    }
    pub(crate) fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].weight.nrows()
    }

    /// True if the field is continuous piecewise linear in the mesh coordinates (every
    /// activation ReLU-like or identity, no encoding): its Hessian is 0 a.e.
    pub(crate) fn is_piecewise_linear(&self) -> bool {
        self.fourier.is_none()
            && self.positional.is_none()
            && self.layers.iter().all(|l| piecewise_linear(l.activation))
    }

    /// True if some activation has a kink, so that a Hessian misses part of the curvature.
    pub(crate) fn has_kinks(&self) -> bool {
        self.layers.iter().any(|l| {
            matches!(
                l.activation,
                Activation::Relu | Activation::LeakyRelu { .. }
            )
        })
    }

    /// Multiply-adds of one stacked row through the layers, for FLOP accounting.
    pub(crate) fn flops_per_row(&self) -> f64 {
        self.layers
            .iter()
            .map(|l| 2.0 * (l.weight.nrows() * l.weight.ncols()) as f64)
            .sum()
    }

    /// Values (and derivatives for `order`) at mesh points (`x`: n × d, point-major).
    pub(crate) fn jet(&self, x: &[f64], order: JetOrder) -> Jet {
        let d = self.d;
        debug_assert_eq!(x.len() % d, 0);
        let n = x.len() / d;
        let c = self.outputs();
        let ng = order.n_grad(d);
        let pairs = order.pairs(d);
        let rpp = order.rows_per_point(d);
        let mut jet = Jet {
            d,
            c,
            order,
            value: vec![0.0; n * c],
            grad: vec![0.0; if ng > 0 { n * c * d } else { 0 }],
            hess: match order {
                JetOrder::HessianFull => vec![0.0; n * c * d * d],
                JetOrder::HessianDiagonal => vec![0.0; n * c * d],
                _ => Vec::new(),
            },
        };
        let mut pre = Vec::with_capacity(JET_POINTS);
        let mut sigma = [
            vec![0.0; JET_POINTS],
            vec![0.0; JET_POINTS],
            vec![0.0; JET_POINTS],
        ];
        let mut p0 = 0;
        while p0 < n {
            let np = JET_POINTS.min(n - p0);
            let mut a = self.input_stage(&x[p0 * d..(p0 + np) * d], np, ng, &pairs);
            for layer in &self.layers {
                let mut z = Mat::<f64>::zeros(np * rpp, layer.weight.nrows());
                matmul(
                    z.as_mut(),
                    Accum::Replace,
                    a.as_ref(),
                    layer.weight.transpose(),
                    1.0,
                    Par::Seq,
                );
                for (j, &b) in layer.bias.iter().enumerate() {
                    let col = z.col_as_slice_mut(j);
                    pre.clear();
                    pre.extend(col.iter().step_by(rpp));
                    let [s0, s1, s2] = &mut sigma;
                    d012_batch(
                        layer.activation,
                        b,
                        &pre,
                        &mut s0[..np],
                        &mut s1[..np],
                        &mut s2[..np],
                    );
                    for (p, blk) in col.chunks_exact_mut(rpp).enumerate() {
                        activate(blk, (s0[p], s1[p], s2[p]), ng, &pairs);
                    }
                }
                a = z;
            }
            for p in 0..np {
                let (gp, r) = (p0 + p, p * rpp);
                for o in 0..c {
                    let col = a.col_as_slice(o);
                    jet.value[gp * c + o] = self.scale * col[r];
                    for i in 0..ng {
                        jet.grad[(gp * c + o) * d + i] = self.scale * col[r + 1 + i];
                    }
                    for (q, &(i, j)) in pairs.iter().enumerate() {
                        let v = self.scale * col[r + 1 + ng + q];
                        match order {
                            JetOrder::HessianFull => {
                                jet.hess[((gp * c + o) * d + i) * d + j] = v;
                                jet.hess[((gp * c + o) * d + j) * d + i] = v;
                            }
                            _ => jet.hess[(gp * c + o) * d + i] = v,
                        }
                    }
                }
            }
            p0 += np;
        }
        jet
    }

    /// The stacked jet of the first layer's input for `np` mesh points.
    fn input_stage(&self, x: &[f64], np: usize, ng: usize, pairs: &[(usize, usize)]) -> Mat<f64> {
        let d = self.d;
        let k = self.source.len();
        let rpp = 1 + ng + pairs.len();
        // u_j = (x_inr_j − mean_j)/std_j and ∂u_j/∂x_i (a selection scaled by 1/std).
        let u = |p: usize, j: usize| match self.source[j] {
            Source::Axis(a) => (x[p * d + a] - self.mean[j]) * self.inv_std[j],
            Source::Constant(t) => (t - self.mean[j]) * self.inv_std[j],
        };
        let du = |j: usize, i: usize| match self.source[j] {
            Source::Axis(a) if a == i => self.inv_std[j],
            _ => 0.0,
        };
        if let Some(pe) = &self.positional {
            // sin(ω u_j): ∂_i = ω cos(ω u_j) ∂_i u_j, ∂_ij = −ω² sin(ω u_j) ∂_i u_j ∂_j u_j
            // (u is affine in x); cos likewise.
            let mut m = Mat::<f64>::zeros(np * rpp, pe.width());
            if pe.include_input() {
                for j in 0..k {
                    for p in 0..np {
                        m[(p * rpp, j)] = u(p, j);
                        for i in 0..ng {
                            m[(p * rpp + 1 + i, j)] = du(j, i);
                        }
                    }
                }
            }
            let (mut arg, mut sins, mut coss) = (vec![0.0; np], vec![0.0; np], vec![0.0; np]);
            for t in pe.terms() {
                let (j, w) = (t.input, t.frequency);
                for (p, a) in arg.iter_mut().enumerate() {
                    *a = w * u(p, j);
                }
                sincos_batch(&arg, &mut sins, &mut coss);
                for p in 0..np {
                    let r = p * rpp;
                    let (sn, cs) = (sins[p], coss[p]);
                    m[(r, t.sin_col)] = sn;
                    m[(r, t.cos_col)] = cs;
                    for i in 0..ng {
                        let di = w * du(j, i);
                        m[(r + 1 + i, t.sin_col)] = cs * di;
                        m[(r + 1 + i, t.cos_col)] = -sn * di;
                    }
                    for (q, &(a, b)) in pairs.iter().enumerate() {
                        let dab = w * w * du(j, a) * du(j, b);
                        m[(r + 1 + ng + q, t.sin_col)] = -sn * dab;
                        m[(r + 1 + ng + q, t.cos_col)] = -cs * dab;
                    }
                }
            }
            return m;
        }
        match &self.fourier {
            None => {
                // Second derivatives of an affine map are zero.
                let mut m = Mat::<f64>::zeros(np * rpp, k);
                for j in 0..k {
                    let col = m.col_as_slice_mut(j);
                    for p in 0..np {
                        col[p * rpp] = u(p, j);
                        for i in 0..ng {
                            col[p * rpp + 1 + i] = du(j, i);
                        }
                    }
                }
                m
            }
            Some(g) => {
                let nf = g.ncols();
                let tau = std::f64::consts::TAU;
                // ∂arg_f/∂x_i = 2π Σ_j G_jf ∂u_j/∂x_i.
                let dp: Vec<f64> = (0..d)
                    .flat_map(|i| (0..nf).map(move |f| (i, f)))
                    .map(|(i, f)| tau * (0..k).map(|j| g[(j, f)] * du(j, i)).sum::<f64>())
                    .collect();
                let mut m = Mat::<f64>::zeros(np * rpp, 2 * nf);
                let (mut arg, mut sins, mut coss) = (vec![0.0; np], vec![0.0; np], vec![0.0; np]);
                for f in 0..nf {
                    for (p, a) in arg.iter_mut().enumerate() {
                        *a = tau * (0..k).map(|j| u(p, j) * g[(j, f)]).sum::<f64>();
                    }
                    sincos_batch(&arg, &mut sins, &mut coss);
                    for p in 0..np {
                        let (sn, cs) = (sins[p], coss[p]);
                        let r = p * rpp;
                        m[(r, f)] = cs;
                        m[(r, nf + f)] = sn;
                        for i in 0..ng {
                            let di = dp[i * nf + f];
                            m[(r + 1 + i, f)] = -sn * di;
                            m[(r + 1 + i, nf + f)] = cs * di;
                        }
                        for (q, &(i, j)) in pairs.iter().enumerate() {
                            let dij = dp[i * nf + f] * dp[j * nf + f];
                            m[(r + 1 + ng + q, f)] = -cs * dij;
                            m[(r + 1 + ng + q, nf + f)] = -sn * dij;
                        }
                    }
                }
                m
            }
        }
    }
}

/// One point's rows of one unit: `blk[0]` the pre-activation value, then `ng` gradient rows,
/// then the second-derivative rows of `pairs`; `(a0, a1, a2)` = σ, σ′, σ″ at the biased
/// pre-activation.
#[inline]
fn activate(blk: &mut [f64], (a0, a1, a2): (f64, f64, f64), ng: usize, pairs: &[(usize, usize)]) {
    blk[0] = a0;
    // Second-order rows first: they need the pre-activation gradient rows.
    for (q, &(i, j)) in pairs.iter().enumerate() {
        let r = 1 + ng + q;
        blk[r] = a2 * blk[1 + i] * blk[1 + j] + a1 * blk[r];
    }
    for v in &mut blk[1..1 + ng] {
        *v *= a1;
    }
}
