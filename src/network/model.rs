//! The MLP an INR is made of: layers y = a(x Wᵀ + b), evaluated in f32 on batches
//! (rows = points). Hidden layers are all but the last.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::kernels::{self, Kind};

/// Element-wise activation after a layer's affine map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Relu,
    LeakyRelu {
        negative_slope: f32,
    },
    Tanh,
    Silu,
    Sigmoid,
    /// `tanh_approx` mirrors PyTorch's `GELU(approximate="tanh")`.
    Gelu {
        tanh_approx: bool,
    },
    Softplus {
        beta: f32,
        threshold: f32,
    },
    Elu {
        alpha: f32,
    },
    /// sin(ω z) (SIREN). Loaders fold ω into the layer's weight and bias, so networks run
    /// with ω = 1 and the kernels see sin alone.
    Sine {
        omega: f32,
    },
    /// exp(−(s z)²) (Gaussian activation networks); loaders fold s like Sine's ω.
    Gauss {
        scale: f32,
    },
    Identity,
}

impl Activation {
    /// PyTorch class name, as written in checkpoints and our npz files.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "ReLU",
            Activation::LeakyRelu { .. } => "LeakyReLU",
            Activation::Tanh => "Tanh",
            Activation::Silu => "SiLU",
            Activation::Sigmoid => "Sigmoid",
            Activation::Gelu { .. } => "GELU",
            Activation::Softplus { .. } => "Softplus",
            Activation::Elu { .. } => "ELU",
            Activation::Sine { .. } => "Sine",
            Activation::Gauss { .. } => "Gauss",
            Activation::Identity => "Identity",
        }
    }

    /// The activation with PyTorch's default parameters for a class name.
    pub fn from_name(name: &str) -> Option<Activation> {
        Some(match name {
            "ReLU" => Activation::Relu,
            "LeakyReLU" => Activation::LeakyRelu {
                negative_slope: 0.01,
            },
            "Tanh" => Activation::Tanh,
            "SiLU" => Activation::Silu,
            "Sigmoid" => Activation::Sigmoid,
            "GELU" => Activation::Gelu { tanh_approx: false },
            "Softplus" => Activation::Softplus {
                beta: 1.0,
                threshold: 20.0,
            },
            "ELU" => Activation::Elu { alpha: 1.0 },
            "Sine" => Activation::Sine { omega: 1.0 },
            "Gauss" => Activation::Gauss { scale: 1.0 },
            "Identity" => Activation::Identity,
            _ => return None,
        })
    }

    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu { negative_slope } => {
                if x >= 0.0 {
                    x
                } else {
                    negative_slope * x
                }
            }
            Activation::Tanh => x.tanh(),
            Activation::Silu => x / (1.0 + (-x).exp()),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Gelu { tanh_approx: false } => {
                0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
            }
            Activation::Gelu { tanh_approx: true } => {
                let c = (2.0 / std::f32::consts::PI).sqrt();
                0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
            }
            Activation::Softplus { beta, threshold } => {
                if beta * x > threshold {
                    x
                } else {
                    (beta * x).exp().ln_1p() / beta
                }
            }
            Activation::Elu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x.exp_m1()
                }
            }
            Activation::Sine { omega } => (omega * x).sin(),
            Activation::Gauss { scale } => {
                let s = scale * x;
                (-(s * s)).exp()
            }
            Activation::Identity => x,
        }
    }

    /// The vectorized kernel computing this activation, or `None` for the piecewise-linear
    /// ones, whose plain loops below already vectorize and must stay bit-identical to
    /// [`Activation::apply`] (ReLU networks' results do not change).
    fn kernel(self) -> Option<Kind> {
        match self {
            Activation::Relu | Activation::LeakyRelu { .. } | Activation::Identity => None,
            Activation::Tanh => Some(Kind::Tanh),
            Activation::Silu => Some(Kind::Silu),
            Activation::Sigmoid => Some(Kind::Sigmoid),
            Activation::Gelu { tanh_approx: false } => Some(Kind::GeluErf),
            Activation::Gelu { tanh_approx: true } => Some(Kind::GeluTanh),
            Activation::Softplus { beta, threshold } => Some(Kind::Softplus { beta, threshold }),
            Activation::Elu { alpha } => Some(Kind::Elu { alpha }),
            Activation::Sine { omega } => Some(Kind::Sine { omega }),
            Activation::Gauss { scale } => Some(Kind::Gauss { s: scale }),
        }
    }

    /// values[i] ← a(values[i] + bias). The smooth activations run the SIMD kernels (within
    /// a few ulp of [`Activation::apply`], which calls libm per entry and is kept as the
    /// reference); ReLU, leaky ReLU and Identity match on the activation once per slice so
    /// their loops vectorize, with exactly `apply`'s values.
    pub fn apply_biased(self, bias: f32, values: &mut [f32]) {
        #[inline(always)]
        fn each(values: &mut [f32], bias: f32, f: impl Fn(f32) -> f32) {
            for v in values {
                *v = f(*v + bias);
            }
        }
        if let Some(kind) = self.kernel() {
            kernels::apply_biased(kind, bias, values);
            return;
        }
        match self {
            Activation::Relu => each(values, bias, |x| x.max(0.0)),
            Activation::Identity => each(values, bias, |x| x),
            other => each(values, bias, |x| other.apply(x)),
        }
    }

    /// Applies the activation in place to every entry of `m`.
    pub fn apply_mat(self, m: &mut Mat<f32>) {
        if self == Activation::Identity {
            return;
        }
        for j in 0..m.ncols() {
            // x + (−0) == x for every x (−0 included): no bias, same kernels.
            self.apply_biased(-0.0, m.col_as_slice_mut(j));
        }
    }
}

/// One affine layer and its activation. `weight` is out × in, as PyTorch stores it.
#[derive(Clone, Debug)]
pub struct Layer {
    pub weight: Mat<f32>,
    pub bias: Vec<f32>,
    pub activation: Activation,
}

impl Layer {
    pub fn in_dim(&self) -> usize {
        self.weight.ncols()
    }
    pub fn out_dim(&self) -> usize {
        self.weight.nrows()
    }

    /// y ← a(x Wᵀ + b) for a batch x (rows = points), single-threaded: parallelism is
    /// across elements or point batches, never inside one GEMM. `y` is x.nrows() × out_dim.
    pub fn apply(&self, x: MatRef<'_, f32>, mut y: MatMut<'_, f32>) {
        matmul(
            y.as_mut(),
            Accum::Replace,
            x,
            self.weight.transpose(),
            1.0f32,
            Par::Seq,
        );
        for (j, &b) in self.bias.iter().enumerate() {
            let col = y.as_mut().col_mut(j);
            if let Some(c) = col.try_as_col_major_mut() {
                self.activation.apply_biased(b, c.as_slice_mut());
            } else {
                // A strided column (a view into a wider matrix): through a contiguous chunk,
                // so the values are those of the contiguous path (the kernels' results do not
                // depend on an entry's position).
                let mut chunk = [0.0f32; 64];
                for start in (0..y.nrows()).step_by(chunk.len()) {
                    let n = chunk.len().min(y.nrows() - start);
                    for (k, c) in chunk[..n].iter_mut().enumerate() {
                        *c = y[(start + k, j)];
                    }
                    self.activation.apply_biased(b, &mut chunk[..n]);
                    for (k, c) in chunk[..n].iter().enumerate() {
                        y[(start + k, j)] = *c;
                    }
                }
            }
        }
    }

    /// a(x Wᵀ + b) into a new matrix.
    fn applied(&self, x: MatRef<'_, f32>) -> Mat<f32> {
        let mut y = Mat::<f32>::zeros(x.nrows(), self.out_dim());
        self.apply(x, y.as_mut());
        y
    }
}

/// One buffer per layer for repeated forward passes over batches of equal size: fresh
/// allocations per batch cost page faults and zeroing that measured as much as the GEMMs on
/// the 32-wide networks.
#[derive(Debug)]
pub struct ForwardBuffers {
    layers: Vec<Mat<f32>>,
    /// The network's input and the transforms' scratch (standardized points, Fourier phases)
    /// when a `NetworkFile` transforms the points, kept for the same reason.
    pub(crate) input: Mat<f32>,
    pub(crate) points: Mat<f32>,
    pub(crate) phases: Mat<f32>,
}

impl Default for ForwardBuffers {
    fn default() -> ForwardBuffers {
        ForwardBuffers {
            layers: Vec::new(),
            input: Mat::new(),
            points: Mat::new(),
            phases: Mat::new(),
        }
    }
}

impl ForwardBuffers {
    /// Every layer's activations of the last forward pass (hidden layers, then outputs).
    pub(crate) fn layers(&self) -> &[Mat<f32>] {
        &self.layers
    }

    /// The last forward pass's outputs.
    pub(crate) fn output(&mut self) -> MatMut<'_, f32> {
        self.layers
            .last_mut()
            .expect("a forward pass ran in these buffers")
            .as_mut()
    }
}

/// Why a list of layers is not a network.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NetworkError {
    #[error("the network has no layers")]
    Empty,
    #[error("layer {layer}: bias has {bias} entries but the weight has {rows} rows")]
    BiasMismatch {
        layer: usize,
        bias: usize,
        rows: usize,
    },
    #[error("layer {layer} takes {inputs} inputs but layer {prev} gives {outputs}")]
    ShapesDoNotChain {
        layer: usize,
        prev: usize,
        inputs: usize,
        outputs: usize,
    },
    #[error("layer {layer} has a non-finite weight or bias (NaN or infinity)")]
    NonFinite { layer: usize },
}

/// A validated MLP: shapes chain, every weight is finite.
#[derive(Clone, Debug)]
pub struct Network {
    layers: Vec<Layer>,
}

impl Network {
    pub fn new(layers: Vec<Layer>) -> Result<Network, NetworkError> {
        if layers.is_empty() {
            return Err(NetworkError::Empty);
        }
        for (i, l) in layers.iter().enumerate() {
            if l.bias.len() != l.out_dim() {
                return Err(NetworkError::BiasMismatch {
                    layer: i,
                    bias: l.bias.len(),
                    rows: l.out_dim(),
                });
            }
            if i > 0 && layers[i - 1].out_dim() != l.in_dim() {
                return Err(NetworkError::ShapesDoNotChain {
                    layer: i,
                    prev: i - 1,
                    inputs: l.in_dim(),
                    outputs: layers[i - 1].out_dim(),
                });
            }
            let finite_w = (0..l.weight.ncols())
                .all(|j| l.weight.col_as_slice(j).iter().all(|v| v.is_finite()));
            if !finite_w || !l.bias.iter().all(|v| v.is_finite()) {
                return Err(NetworkError::NonFinite { layer: i });
            }
        }
        Ok(Network { layers })
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
    pub fn input_dim(&self) -> usize {
        self.layers[0].in_dim()
    }
    pub fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].out_dim()
    }
    /// Widths of the hidden layers (every layer but the output one).
    pub fn hidden_widths(&self) -> Vec<usize> {
        self.layers[..self.layers.len() - 1]
            .iter()
            .map(Layer::out_dim)
            .collect()
    }

    /// Outputs for a batch of inputs (rows = points), computed in buffers kept between calls
    /// (fresh allocations per batch cost as much as the GEMMs on small networks).
    pub fn forward<'w>(
        &self,
        x: MatRef<'_, f32>,
        buffers: &'w mut ForwardBuffers,
    ) -> MatMut<'w, f32> {
        let n = x.nrows();
        buffers.layers.resize_with(self.layers.len(), Mat::new);
        for (i, layer) in self.layers.iter().enumerate() {
            let (done, rest) = buffers.layers.split_at_mut(i);
            let y = &mut rest[0];
            if y.nrows() != n || y.ncols() != layer.out_dim() {
                *y = Mat::zeros(n, layer.out_dim());
            }
            let input = match done.last() {
                Some(h) => h.as_ref(),
                None => x,
            };
            layer.apply(input, y.as_mut());
        }
        let last = buffers.layers.len() - 1;
        buffers.layers[last].as_mut()
    }

    /// Outputs plus every hidden layer's activations H_i (rows = points), from one pass:
    /// the ID needs all of them and recomputing per layer would cost a pass per layer.
    pub fn forward_keep_hidden(&self, x: MatRef<'_, f32>) -> (Vec<Mat<f32>>, Mat<f32>) {
        let mut hidden = Vec::with_capacity(self.layers.len() - 1);
        let mut h = self.layers[0].applied(x);
        for l in &self.layers[1..] {
            let next = l.applied(h.as_ref());
            hidden.push(h);
            h = next;
        }
        (hidden, h)
    }

    /// Multiply-adds of one forward pass per point, for FLOP accounting.
    pub fn flops_per_point(&self) -> f64 {
        self.layers
            .iter()
            .map(|l| 2.0 * (l.in_dim() * l.out_dim()) as f64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(w: &[&[f32]], b: &[f32], a: Activation) -> Layer {
        Layer {
            weight: Mat::from_fn(w.len(), w[0].len(), |i, j| w[i][j]),
            bias: b.to_vec(),
            activation: a,
        }
    }

    #[test]
    fn forward_matches_hand_computation() {
        let net = Network::new(vec![
            layer(&[&[1.0, -1.0], &[0.5, 2.0]], &[0.0, -1.0], Activation::Relu),
            layer(&[&[2.0, 3.0]], &[0.25], Activation::Identity),
        ])
        .unwrap();
        let x = Mat::from_fn(2, 2, |i, j| [[1.0, 0.0], [0.0, 1.0]][i][j]);
        let (hidden, y) = net.forward_keep_hidden(x.as_ref());
        // point (1,0): h = relu(1, -0.5) = (1, 0); y = 2 + 0.25
        // point (0,1): h = relu(-1, 1) = (0, 1); y = 3 + 0.25
        assert_eq!(y[(0, 0)], 2.25);
        assert_eq!(y[(1, 0)], 3.25);
        assert_eq!(hidden.len(), 1);
        assert_eq!(hidden[0][(1, 1)], 1.0);
        assert_eq!(net.hidden_widths(), vec![2]);
    }

    #[test]
    fn shapes_that_do_not_chain_are_refused() {
        let err = Network::new(vec![
            layer(&[&[1.0, -1.0]], &[0.0], Activation::Relu),
            layer(&[&[2.0, 3.0]], &[0.25], Activation::Identity),
        ])
        .unwrap_err();
        assert!(matches!(
            err,
            NetworkError::ShapesDoNotChain { layer: 1, .. }
        ));
        let err = Network::new(vec![layer(&[&[f32::NAN]], &[0.0], Activation::Relu)]).unwrap_err();
        assert_eq!(err, NetworkError::NonFinite { layer: 0 });
    }

    #[test]
    fn activations_match_pytorch_definitions() {
        assert!((Activation::Silu.apply(1.0) - 0.731_058_6).abs() < 1e-6);
        assert!((Activation::Gelu { tanh_approx: false }.apply(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((Activation::from_name("Softplus").unwrap().apply(0.0) - 2f32.ln()).abs() < 1e-6);
        assert!((Activation::from_name("ELU").unwrap().apply(-1.0) + 0.632_120_6).abs() < 1e-6);
        assert_eq!(
            Activation::from_name("LeakyReLU").unwrap().apply(-2.0),
            -0.02
        );
        assert!(Activation::from_name("Dropout").is_none());
    }

    /// Every activation's slice path against the scalar reference: ReLU, leaky ReLU and
    /// Identity bit for bit, the kernels within their accuracy bound (4 ulp; the bounds per
    /// function are asserted by tests/activation_accuracy.rs).
    #[test]
    fn slice_path_matches_scalar_reference() {
        fn ulps(a: f32, b: f32) -> u32 {
            let key = |x: f32| {
                let b = x.to_bits() as i32;
                if b < 0 { i32::MIN - b } else { b }
            };
            key(a).abs_diff(key(b))
        }
        let xs: Vec<f32> = (0..4001).map(|i| (i as f32 - 2000.0) * 0.0113).collect();
        let bias = 0.37f32;
        let all = [
            Activation::Relu,
            Activation::LeakyRelu {
                negative_slope: 0.01,
            },
            Activation::Identity,
            Activation::Tanh,
            Activation::Silu,
            Activation::Sigmoid,
            Activation::Gelu { tanh_approx: false },
            Activation::Gelu { tanh_approx: true },
            Activation::Softplus {
                beta: 2.0,
                threshold: 20.0,
            },
            Activation::Elu { alpha: 0.5 },
        ];
        for a in all {
            let mut v = xs.clone();
            a.apply_biased(bias, &mut v);
            let exact = a.kernel().is_none();
            for (x, y) in xs.iter().zip(&v) {
                let want = a.apply(x + bias);
                let d = ulps(*y, want);
                if exact {
                    assert_eq!(y.to_bits(), want.to_bits(), "{a:?} at {x}");
                } else {
                    // The scalar formulas themselves lose relative accuracy where they cancel
                    // (1 + erf(x) in GELU's tail): there, an absolute error of a few f32
                    // epsilons of |x| is what the reference can vouch for.
                    let cancels = (y - want).abs() <= 4.0 * f32::EPSILON * (x + bias).abs();
                    assert!(
                        d <= 4 || cancels,
                        "{a:?}({}) = {y}, scalar {want}: {d} ulp",
                        x + bias
                    );
                }
            }
        }
    }

    /// A layer writing into a strided view (columns of a wider matrix) gives the values of
    /// the contiguous path.
    #[test]
    fn strided_output_equals_contiguous() {
        let l = Layer {
            weight: Mat::from_fn(3, 2, |i, j| (i as f32 + 1.0) * 0.3 - j as f32 * 0.7),
            bias: vec![0.1, -0.2, 0.3],
            activation: Activation::Silu,
        };
        let x = Mat::from_fn(131, 2, |i, j| (i as f32 * 0.05 - 3.0) * (j as f32 + 1.0));
        let mut dense = Mat::<f32>::zeros(131, 3);
        l.apply(x.as_ref(), dense.as_mut());
        // The transpose of a 3 × 131 matrix: each output column has row stride 3.
        let mut t = Mat::<f32>::zeros(3, 131);
        l.apply(x.as_ref(), t.as_mut().transpose_mut());
        // Columns of a wider matrix: contiguous columns, the slice path.
        let mut wide = Mat::<f32>::zeros(131, 6);
        l.apply(x.as_ref(), wide.as_mut().subcols_mut(2, 3));
        for i in 0..131 {
            for j in 0..3 {
                assert_eq!(t[(j, i)].to_bits(), dense[(i, j)].to_bits());
                assert_eq!(wide[(i, j + 2)].to_bits(), dense[(i, j)].to_bits());
            }
        }
    }
}
