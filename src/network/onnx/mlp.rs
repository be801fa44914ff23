//! The network the ONNX reader recognises in a graph, in the reader's own terms (ω of SIREN
//! layers kept apart, encodings as the graph computes them), before `super::adapt` turns it
//! into a [`crate::network::NetworkFile`]. `eval_f64` is the reference the reader's tests
//! check against.

use crate::network::positional::Block;
use crate::network::tensor::Tensor;

/// Pointwise activation of a [`Dense`] layer, applied to `z = W·x + b`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    Relu,
    /// `x` for `x ≥ 0`, else `alpha·x`.
    LeakyRelu(f32),
    Tanh,
    Sigmoid,
    /// `x·sigmoid(x)`.
    Silu,
    /// `0.5·x·(1+erf(x/√2))`, or the tanh approximation.
    Gelu {
        tanh_approx: bool,
    },
    /// `ln(1+exp(beta·x))/beta`, and `x` where `beta·x > threshold`. ONNX's Softplus has no
    /// threshold, so the ONNX reader reports `f32::INFINITY` (no cut-off).
    Softplus {
        beta: f32,
        threshold: f32,
    },
    /// `x` for `x > 0`, else `alpha·(exp(x)−1)`.
    Elu(f32),
    /// `sin(omega·x)` (SIREN): `omega` is kept out of the weights.
    Sine {
        omega: f32,
    },
    Identity,
}

impl Act {
    /// Evaluates the activation in f64.
    pub fn eval(&self, x: f64) -> f64 {
        match *self {
            Act::Relu => x.max(0.0),
            Act::LeakyRelu(a) => {
                if x >= 0.0 {
                    x
                } else {
                    f64::from(a) * x
                }
            }
            Act::Tanh => x.tanh(),
            Act::Sigmoid => sigmoid(x),
            Act::Silu => x * sigmoid(x),
            Act::Gelu { tanh_approx: false } => {
                0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
            }
            Act::Gelu { tanh_approx: true } => {
                let k = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
            }
            Act::Softplus { beta, threshold } => {
                let (b, t) = (f64::from(beta), f64::from(threshold));
                let bx = b * x;
                if bx > t { x } else { softplus(bx) / b }
            }
            Act::Elu(a) => {
                if x > 0.0 {
                    x
                } else {
                    f64::from(a) * x.exp_m1()
                }
            }
            Act::Sine { omega } => (f64::from(omega) * x).sin(),
            Act::Identity => x,
        }
    }
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `ln(1+e^x)` without overflow.
pub(crate) fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// A fully connected layer: `act(W·x + b)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    /// Shape `[out, in]`.
    pub weight: Tensor,
    /// Length `out`.
    pub bias: Vec<f32>,
    pub act: Act,
}

/// An input encoding applied before the first layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Encoding {
    /// `z = scale·(x·G)` with `matrix` = G of shape `[d, F]`; the features are
    /// `[sin z, cos z]` if `order_sin_first`, else `[cos z, sin z]` (2F values).
    Fourier {
        matrix: Tensor,
        order_sin_first: bool,
        scale: f32,
    },
    /// A positional encoding: the concatenation of `input_dim`-wide blocks, each the input
    /// itself or sin/cos of the input times a constant.
    Positional { blocks: Vec<Block> },
}

/// A feed-forward network recognised in an ONNX graph.
///
/// Evaluation order: `input_affine`, `encoding`, `layers`, `output_scale`.
#[derive(Clone, Debug, PartialEq)]
pub struct OnnxMlp {
    pub input_dim: usize,
    pub encoding: Option<Encoding>,
    /// `(a, b)`, each of length `input_dim`: `x_i ← x_i·a_i + b_i`, from constant
    /// Mul/Add/Sub/Div nodes at the start of the graph.
    pub input_affine: Option<(Vec<f32>, Vec<f32>)>,
    pub layers: Vec<Dense>,
    /// A final multiplication by a scalar constant.
    pub output_scale: Option<f32>,
}

impl OnnxMlp {
    /// Number of outputs of the network.
    pub fn output_dim(&self) -> usize {
        self.layers.last().map_or(0, |l| l.bias.len())
    }

    /// Evaluates the network at one point in f64 (weights widened from f32).
    ///
    /// # Panics
    /// If `x.len() != self.input_dim`.
    pub fn eval_f64(&self, x: &[f64]) -> Vec<f64> {
        assert_eq!(x.len(), self.input_dim, "point has the wrong dimension");
        let mut h: Vec<f64> = x.to_vec();
        if let Some((a, b)) = &self.input_affine {
            for ((v, a), b) in h.iter_mut().zip(a).zip(b) {
                *v = *v * f64::from(*a) + f64::from(*b);
            }
        }
        if let Some(Encoding::Positional { blocks }) = &self.encoding {
            h = blocks
                .iter()
                .flat_map(|b| {
                    h.iter().map(move |&v| match *b {
                        Block::Input => v,
                        Block::Sin(f) => (v * f).sin(),
                        Block::Cos(f) => (v * f).cos(),
                    })
                })
                .collect();
        }
        if let Some(Encoding::Fourier {
            matrix,
            order_sin_first,
            scale,
        }) = &self.encoding
        {
            let (d, f) = (matrix.shape[0], matrix.shape[1]);
            let z: Vec<f64> = (0..f)
                .map(|j| {
                    let s: f64 = (0..d)
                        .map(|i| h[i] * f64::from(matrix.data[i * f + j]))
                        .sum();
                    s * f64::from(*scale)
                })
                .collect();
            let sin = z.iter().map(|v| v.sin());
            let cos = z.iter().map(|v| v.cos());
            h = if *order_sin_first {
                sin.chain(cos).collect()
            } else {
                cos.chain(sin).collect()
            };
        }
        for layer in &self.layers {
            let (out, inp) = (layer.weight.shape[0], layer.weight.shape[1]);
            h = (0..out)
                .map(|o| {
                    let row = &layer.weight.data[o * inp..(o + 1) * inp];
                    let z: f64 = row
                        .iter()
                        .zip(&h)
                        .map(|(w, v)| f64::from(*w) * v)
                        .sum::<f64>()
                        + f64::from(layer.bias[o]);
                    layer.act.eval(z)
                })
                .collect();
        }
        if let Some(s) = self.output_scale {
            h.iter_mut().for_each(|v| *v *= f64::from(s));
        }
        h
    }
}
