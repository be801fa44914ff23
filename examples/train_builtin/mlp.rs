//! A trainable MLP: a forward pass that keeps what backpropagation needs, the gradient of the
//! mean squared error, and Adam. Same conventions as the crate's `Layer` (rows = points,
//! weights out × in), so the trained layers become a `Network` unchanged.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use pruningamr::network::{Activation, Layer};
use rayon::prelude::*;

use super::rng::Rng;

/// Gradients (or Adam moments) with the shapes of the layers.
#[derive(Clone)]
pub struct Grads {
    pub w: Vec<Mat<f32>>,
    pub b: Vec<Vec<f32>>,
}

impl Grads {
    fn zeros_like(layers: &[Layer]) -> Grads {
        Grads {
            w: layers
                .iter()
                .map(|l| Mat::zeros(l.out_dim(), l.in_dim()))
                .collect(),
            b: layers.iter().map(|l| vec![0.0; l.out_dim()]).collect(),
        }
    }

    fn add(&mut self, other: &Grads) {
        for (a, b) in self.w.iter_mut().zip(&other.w) {
            for j in 0..a.ncols() {
                for (x, y) in a.col_as_slice_mut(j).iter_mut().zip(b.col_as_slice(j)) {
                    *x += *y;
                }
            }
        }
        for (a, b) in self.b.iter_mut().zip(&other.b) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += *y;
            }
        }
    }
}

/// How the first draw of weights is made, per layer: uniform in ±bound.
#[derive(Clone, Copy, Debug)]
pub enum Init {
    /// He (Kaiming) uniform, bound √(6/in): keeps ReLU/SiLU activations from shrinking with depth.
    He,
    /// Glorot (Xavier) uniform, bound √(6/(in+out)): the usual choice for deep tanh networks.
    Glorot,
}

/// A fresh network: hidden layers of `widths` with `hidden` activation, identity output layer.
/// Biases start uniform in ±1/√in (PyTorch's default), so first-layer ReLU kinks fall inside the
/// unit box instead of all passing through the origin.
pub fn init_layers(
    input: usize,
    widths: &[usize],
    output: usize,
    hidden: Activation,
    init: Init,
    rng: &mut Rng,
) -> Vec<Layer> {
    let mut dims = vec![input];
    dims.extend_from_slice(widths);
    dims.push(output);
    let n = dims.len() - 1;
    (0..n)
        .map(|i| {
            let (fan_in, fan_out) = (dims[i], dims[i + 1]);
            let last = i + 1 == n;
            let bound = if last {
                // output layer: small, so the first outputs are near zero
                (3.0 / fan_in as f64).sqrt()
            } else {
                match init {
                    Init::He => (6.0 / fan_in as f64).sqrt(),
                    Init::Glorot => (6.0 / (fan_in + fan_out) as f64).sqrt(),
                }
            };
            let bias_bound = 1.0 / (fan_in as f64).sqrt();
            let weight = Mat::from_fn(fan_out, fan_in, |_, _| rng.uniform(-bound, bound) as f32);
            let bias = (0..fan_out)
                .map(|_| rng.uniform(-bias_bound, bias_bound) as f32)
                .collect();
            Layer {
                weight,
                bias,
                activation: if last { Activation::Identity } else { hidden },
            }
        })
        .collect()
}

/// Outputs of one layer before and after its activation.
struct Cached {
    pre: Mat<f32>,
    post: Mat<f32>,
}

fn affine(l: &Layer, x: MatRef<'_, f32>) -> Mat<f32> {
    let mut z = Mat::<f32>::zeros(x.nrows(), l.out_dim());
    matmul(
        z.as_mut(),
        Accum::Replace,
        x,
        l.weight.transpose(),
        1.0f32,
        Par::Seq,
    );
    for (j, &b) in l.bias.iter().enumerate() {
        for v in z.col_as_slice_mut(j) {
            *v += b;
        }
    }
    z
}

fn forward_cached(layers: &[Layer], x: MatRef<'_, f32>) -> Vec<Cached> {
    let mut out: Vec<Cached> = Vec::with_capacity(layers.len());
    for l in layers {
        let pre = match out.last() {
            None => affine(l, x),
            Some(c) => affine(l, c.post.as_ref()),
        };
        let mut post = pre.clone();
        l.activation.apply_mat(&mut post);
        out.push(Cached { pre, post });
    }
    out
}

/// The training forward pass (the same arithmetic as `Network::forward`, written separately so
/// the two can be checked against each other).
pub fn forward(layers: &[Layer], x: MatRef<'_, f32>) -> Mat<f32> {
    forward_cached(layers, x)
        .pop()
        .map(|c| c.post)
        .unwrap_or_else(|| Mat::zeros(x.nrows(), 0))
}

/// da/dz from the pre- and post-activation values.
#[inline]
fn derivative(a: Activation, z: f32, h: f32) -> f32 {
    match a {
        Activation::Relu => {
            if z > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Tanh => 1.0 - h * h,
        Activation::Silu => {
            let s = 1.0 / (1.0 + (-z).exp());
            s * (1.0 + z * (1.0 - s))
        }
        Activation::Identity => 1.0,
        // The built-in networks use only the four above.
        other => unimplemented!("training with {} is not supported", other.name()),
    }
}

/// Gradient of Σ (y − t)² / `denominator` over a chunk of points, and that sum.
fn chunk_gradient(
    layers: &[Layer],
    x: MatRef<'_, f32>,
    t: MatRef<'_, f32>,
    denominator: f32,
) -> (Grads, f64) {
    let cache = forward_cached(layers, x);
    let y = &cache[cache.len() - 1].post;
    let mut loss = 0.0f64;
    let mut d = Mat::from_fn(y.nrows(), y.ncols(), |i, j| {
        let e = y[(i, j)] - t[(i, j)];
        loss += (e as f64) * (e as f64);
        2.0 * e / denominator
    });
    let mut g = Grads::zeros_like(layers);
    for li in (0..layers.len()).rev() {
        let l = &layers[li];
        let c = &cache[li];
        if l.activation != Activation::Identity {
            for j in 0..d.ncols() {
                let (zs, hs) = (c.pre.col_as_slice(j), c.post.col_as_slice(j));
                for ((v, &z), &h) in d.col_as_slice_mut(j).iter_mut().zip(zs).zip(hs) {
                    *v *= derivative(l.activation, z, h);
                }
            }
        }
        let input = if li == 0 {
            x
        } else {
            cache[li - 1].post.as_ref()
        };
        matmul(
            g.w[li].as_mut(),
            Accum::Replace,
            d.transpose(),
            input,
            1.0f32,
            Par::Seq,
        );
        for (j, gb) in g.b[li].iter_mut().enumerate() {
            *gb = d.col_as_slice(j).iter().sum();
        }
        if li > 0 {
            let mut prev = Mat::<f32>::zeros(d.nrows(), l.in_dim());
            matmul(
                prev.as_mut(),
                Accum::Replace,
                d.as_ref(),
                l.weight.as_ref(),
                1.0f32,
                Par::Seq,
            );
            d = prev;
        }
    }
    (g, loss)
}

/// Adam over the layers' weights and biases.
pub struct Adam {
    m: Grads,
    v: Grads,
    step: i32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
}

impl Adam {
    pub fn new(layers: &[Layer]) -> Adam {
        Adam {
            m: Grads::zeros_like(layers),
            v: Grads::zeros_like(layers),
            step: 0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    fn update(&mut self, layers: &mut [Layer], g: &Grads, lr: f32) {
        self.step += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 - b1.powi(self.step);
        let c2 = 1.0 - b2.powi(self.step);
        let (eps, step_size) = (self.eps, lr / c1);
        let upd = |p: &mut f32, g: f32, m: &mut f32, v: &mut f32| {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= step_size * *m / ((*v / c2).sqrt() + eps);
        };
        for (li, l) in layers.iter_mut().enumerate() {
            for j in 0..l.weight.ncols() {
                let p = l.weight.col_as_slice_mut(j);
                let gs = g.w[li].col_as_slice(j);
                let ms = self.m.w[li].col_as_slice_mut(j);
                let vs = self.v.w[li].col_as_slice_mut(j);
                for i in 0..p.len() {
                    upd(&mut p[i], gs[i], &mut ms[i], &mut vs[i]);
                }
            }
            for i in 0..l.bias.len() {
                upd(
                    &mut l.bias[i],
                    g.b[li][i],
                    &mut self.m.b[li][i],
                    &mut self.v.b[li][i],
                );
            }
        }
    }
}

/// One Adam step on the mean squared error of a batch (mean over points and outputs). The batch
/// is cut into `chunks` fixed pieces whose gradients are summed in order, so the result does not
/// depend on how many threads rayon runs them on. Returns the batch's MSE before the step.
pub fn train_step(
    layers: &mut [Layer],
    adam: &mut Adam,
    x: MatRef<'_, f32>,
    t: MatRef<'_, f32>,
    chunks: usize,
    lr: f32,
) -> f64 {
    let n = x.nrows();
    let denominator = (n * t.ncols()) as f32;
    let chunks = chunks.clamp(1, n.max(1));
    let ranges: Vec<(usize, usize)> = (0..chunks)
        .map(|c| (c * n / chunks, (c + 1) * n / chunks))
        .collect();
    let frozen: &[Layer] = layers;
    let parts: Vec<(Grads, f64)> = ranges
        .par_iter()
        .map(|&(a, b)| {
            chunk_gradient(
                frozen,
                x.subrows(a, b - a),
                t.subrows(a, b - a),
                denominator,
            )
        })
        .collect();
    let mut parts = parts.into_iter();
    let (mut g, mut loss) = parts
        .next()
        .unwrap_or_else(|| (Grads::zeros_like(layers), 0.0));
    for (pg, pl) in parts {
        g.add(&pg);
        loss += pl;
    }
    adam.update(layers, &g, lr);
    loss / denominator as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backpropagated gradient matches central finite differences (in f64 arithmetic on
    /// the loss, so only the network's own f32 rounding limits agreement).
    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = Rng::new(1, 2);
        for act in [Activation::Relu, Activation::Tanh, Activation::Silu] {
            let layers = init_layers(3, &[5, 4], 2, act, Init::Glorot, &mut rng);
            let x = Mat::from_fn(7, 3, |_, _| rng.uniform(-1.0, 1.0) as f32);
            let t = Mat::from_fn(7, 2, |_, _| rng.uniform(-1.0, 1.0) as f32);
            let (g, _) = chunk_gradient(&layers, x.as_ref(), t.as_ref(), 14.0);
            let loss = |ls: &[Layer]| {
                let y = forward(ls, x.as_ref());
                let mut s = 0.0f64;
                for i in 0..7 {
                    for j in 0..2 {
                        s += ((y[(i, j)] - t[(i, j)]) as f64).powi(2);
                    }
                }
                s / 14.0
            };
            for (li, i, j) in [(0, 1, 2), (1, 3, 0), (2, 1, 3)] {
                let h = 1e-2f32;
                let mut p = layers.clone();
                p[li].weight[(i, j)] += h;
                let mut m = layers.clone();
                m[li].weight[(i, j)] -= h;
                let fd = (loss(&p) - loss(&m)) / (2.0 * h as f64);
                let an = g.w[li][(i, j)] as f64;
                assert!(
                    (fd - an).abs() < 2e-3 * (1.0 + an.abs()),
                    "{act:?} {fd} {an}"
                );
            }
        }
    }
}
