//! The recognised ONNX network as the crate's [`NetworkFile`]: activations mapped, SIREN's ω
//! folded into the weights, the Fourier encoding put in the original's convention
//! ([cos 2πxG, sin 2πxG], G inputs × features), a positional encoding as its blocks lay it
//! out, the input affine map as a standardization.

use std::f64::consts::TAU;

use faer::Mat;

use super::mlp::{Act, Encoding, OnnxMlp};
use crate::network::file::NetworkFile;
use crate::network::model::{Activation, Layer, Network};
use crate::network::netconfig::{fold_frequencies, swap_first_layer_halves};
use crate::network::positional::PositionalEncoding;

/// The crate's activation for the reader's.
pub(crate) fn activation(a: Act) -> Activation {
    match a {
        Act::Relu => Activation::Relu,
        Act::LeakyRelu(s) => Activation::LeakyRelu { negative_slope: s },
        Act::Tanh => Activation::Tanh,
        Act::Sigmoid => Activation::Sigmoid,
        Act::Silu => Activation::Silu,
        Act::Gelu { tanh_approx } => Activation::Gelu { tanh_approx },
        // ONNX's Softplus has no cut-off; PyTorch's 20 changes it by less than e⁻²⁰ and
        // keeps exp from overflowing.
        Act::Softplus { beta, threshold } => Activation::Softplus {
            beta,
            threshold: if threshold.is_finite() {
                threshold
            } else {
                20.0
            },
        },
        Act::Elu(alpha) => Activation::Elu { alpha },
        Act::Sine { omega } => Activation::Sine { omega },
        Act::Identity => Activation::Identity,
    }
}

pub(crate) fn network_file(mlp: OnnxMlp) -> Result<NetworkFile, String> {
    let mut layers: Vec<Layer> = mlp
        .layers
        .iter()
        .map(|d| {
            let (rows, cols) = (d.weight.shape[0], d.weight.shape[1]);
            Layer {
                weight: Mat::from_fn(rows, cols, |r, c| d.weight.data[r * cols + c]),
                bias: d.bias.clone(),
                activation: activation(d.act),
            }
        })
        .collect();
    let (mut input_mean, mut input_std) = (None, None);
    if let Some((a, b)) = &mlp.input_affine {
        if a.iter().all(|&v| v > 0.0 && v.is_finite()) {
            // x·a + b = (x − mean)/std with std = 1/a, mean = −b/a.
            input_std = Some(a.iter().map(|v| 1.0 / v).collect());
            input_mean = Some(a.iter().zip(b).map(|(a, b)| -b / a).collect());
        } else if mlp.encoding.is_none() {
            // A sign flip or a zero scale has no standardization; fold the map into the
            // first layer: W(xa + b) + c = (W diag a)x + (Wb + c).
            let l = &mut layers[0];
            for r in 0..l.weight.nrows() {
                let shift: f32 = (0..l.weight.ncols()).map(|c| l.weight[(r, c)] * b[c]).sum();
                l.bias[r] += shift;
                for (c, a) in a.iter().enumerate() {
                    l.weight[(r, c)] *= a;
                }
            }
        } else {
            return Err(
                "the graph scales an input by zero or a negative number before its input \
                 encoding, which is not read"
                    .into(),
            );
        }
    }
    fold_frequencies(&mut layers);
    let network = Network::new(layers).map_err(|e| e.to_string())?;
    let mut file = NetworkFile {
        input_mean,
        input_std,
        output_scale: mlp.output_scale,
        ..NetworkFile::plain(network)
    };
    if let Some(Encoding::Positional { blocks }) = &mlp.encoding {
        file.positional = Some(PositionalEncoding::from_blocks(mlp.input_dim, blocks)?);
    }
    if let Some(Encoding::Fourier {
        matrix,
        order_sin_first,
        scale,
    }) = mlp.encoding
    {
        let (d, f) = (matrix.shape[0], matrix.shape[1]);
        // 2π rounded to f32 is the exporter's 2π: keep the matrix exact.
        let factor = if scale == TAU as f32 {
            1.0
        } else {
            f64::from(scale) / TAU
        };
        file.fourier_gauss = Some(Mat::from_fn(d, f, |i, j| {
            (f64::from(matrix.data[i * f + j]) * factor) as f32
        }));
        if order_sin_first {
            swap_first_layer_halves(&mut file, f);
        }
    }
    file.validate().map_err(|e| e.to_string())?;
    Ok(file)
}
