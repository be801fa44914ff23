//! A network as read from a file, with the input and output transforms stored beside it
//! (SPEC §3.2–3.3), and the check that the transforms fit the network.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::model::{ForwardBuffers, Network};

/// Why the transforms stored beside a network do not fit it.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct TransformError(pub String);

/// A network plus the transforms that turn a mesh point into its input and its output into
/// the field: x → (x − mean)/std → [cos 2πxG, sin 2πxG] → network → × output_scale.
#[derive(Clone, Debug)]
pub struct NetworkFile {
    pub network: Network,
    pub input_mean: Option<Vec<f32>>,
    pub input_std: Option<Vec<f32>>,
    /// Fourier feature matrix G, input_dim × F; the first layer then takes 2F inputs.
    pub fourier_gauss: Option<Mat<f32>>,
    pub output_scale: Option<f32>,
    /// A name per output (u, v, p); empty when the file names none. Filled from the built-in
    /// key's names, or by a network config.
    pub output_names: Vec<String>,
}

impl NetworkFile {
    /// A bare network, no transforms.
    pub fn plain(network: Network) -> NetworkFile {
        NetworkFile {
            network,
            input_mean: None,
            input_std: None,
            fourier_gauss: None,
            output_scale: None,
            output_names: Vec::new(),
        }
    }

    /// Dimension of the points the INR takes (before Fourier features).
    pub fn input_dim(&self) -> usize {
        match &self.fourier_gauss {
            Some(g) => g.nrows(),
            None => self.network.input_dim(),
        }
    }

    pub fn output_dim(&self) -> usize {
        self.network.output_dim()
    }

    /// Checks that the transforms fit the network: what the readers (and the writer) refuse.
    pub fn validate(&self) -> Result<(), TransformError> {
        self.check().map_err(TransformError)
    }

    fn check(&self) -> Result<(), String> {
        let first_in = self.network.input_dim();
        if let Some(g) = &self.fourier_gauss {
            if g.nrows() == 0 || g.ncols() == 0 {
                return Err(format!(
                    "fourier_gauss is {} × {}, it must have at least one row and column",
                    g.nrows(),
                    g.ncols()
                ));
            }
            if 2 * g.ncols() != first_in {
                return Err(format!(
                    "fourier_gauss has {} columns, giving {} features, but the first layer \
                     takes {first_in} inputs",
                    g.ncols(),
                    2 * g.ncols()
                ));
            }
            let finite = (0..g.ncols()).all(|j| g.col_as_slice(j).iter().all(|v| v.is_finite()));
            if !finite {
                return Err("fourier_gauss has a non-finite entry (NaN or infinity)".into());
            }
        }
        let d = self.input_dim();
        match (&self.input_mean, &self.input_std) {
            (None, None) => {}
            (Some(_), None) => return Err("input_mean is given without input_std".into()),
            (None, Some(_)) => return Err("input_std is given without input_mean".into()),
            (Some(mean), Some(std)) => {
                if mean.len() != d || std.len() != d {
                    return Err(format!(
                        "input_mean has {} entries and input_std {}, but the input dimension \
                         is {d}",
                        mean.len(),
                        std.len()
                    ));
                }
                if !mean.iter().all(|v| v.is_finite()) {
                    return Err("input_mean has a non-finite entry (NaN or infinity)".into());
                }
                if let Some((i, s)) = std
                    .iter()
                    .enumerate()
                    .find(|(_, s)| !(s.is_finite() && **s > 0.0))
                {
                    return Err(format!(
                        "input_std[{i}] = {s}; every standard deviation must be finite and > 0"
                    ));
                }
            }
        }
        if !self.output_names.is_empty() && self.output_names.len() != self.output_dim() {
            return Err(format!(
                "{} output names ({}) for {} outputs",
                self.output_names.len(),
                self.output_names.join(", "),
                self.output_dim()
            ));
        }
        if let Some((i, _)) = self
            .output_names
            .iter()
            .enumerate()
            .find(|(i, n)| n.trim().is_empty() || self.output_names[..*i].contains(n))
        {
            return Err(format!(
                "output name {:?} is empty or repeated",
                self.output_names[i]
            ));
        }
        if let Some(s) = self.output_scale
            && !(s.is_finite() && s != 0.0)
        {
            return Err(format!(
                "output_scale = {s}; it must be finite and non-zero"
            ));
        }
        Ok(())
    }

    /// What the network sees for points `x` (rows = points, input_dim columns): standardized,
    /// then Fourier features if any.
    pub fn network_input(&self, x: MatRef<'_, f32>) -> Mat<f32> {
        assert_eq!(
            x.ncols(),
            self.input_dim(),
            "points have {} coordinates, the INR takes {}",
            x.ncols(),
            self.input_dim()
        );
        let mut z = x.to_owned();
        if let (Some(mean), Some(std)) = (&self.input_mean, &self.input_std) {
            for (j, (m, s)) in mean.iter().zip(std).enumerate() {
                for v in z.col_as_slice_mut(j) {
                    *v = (*v - m) / s;
                }
            }
        }
        let Some(g) = &self.fourier_gauss else {
            return z;
        };
        let f = g.ncols();
        let mut p = Mat::<f32>::zeros(z.nrows(), f);
        matmul(
            p.as_mut(),
            Accum::Replace,
            z.as_ref(),
            g.as_ref(),
            2.0 * std::f32::consts::PI,
            Par::Seq,
        );
        Mat::from_fn(z.nrows(), 2 * f, |i, j| {
            if j < f {
                p[(i, j)].cos()
            } else {
                p[(i, j - f)].sin()
            }
        })
    }

    /// The field at points `x` (rows = points): transforms, network, output scale; the
    /// network's layers computed in `buffers` kept between calls.
    pub fn evaluate<'w>(
        &self,
        x: MatRef<'_, f32>,
        buffers: &'w mut ForwardBuffers,
    ) -> MatMut<'w, f32> {
        let input = self.network_input(x);
        let mut y = self.network.forward(input.as_ref(), buffers);
        if let Some(s) = self.output_scale {
            for j in 0..y.ncols() {
                for i in 0..y.nrows() {
                    y[(i, j)] *= s;
                }
            }
        }
        y
    }
}
