//! A network as read from a file, with the input and output transforms stored beside it
//! (SPEC §3.2–3.3), and the check that the transforms fit the network.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::kernels;
use super::model::{ForwardBuffers, Network};
use super::positional::PositionalEncoding;

/// Why the transforms stored beside a network do not fit it.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct TransformError(pub String);

/// A network plus the transforms that turn a mesh point into its input and its output into
/// the field: x → (x − mean)/std → [cos 2πxG, sin 2πxG] or NeRF's positional encoding →
/// network → × output_scale.
#[derive(Clone, Debug)]
pub struct NetworkFile {
    pub network: Network,
    pub input_mean: Option<Vec<f32>>,
    pub input_std: Option<Vec<f32>>,
    /// Fourier feature matrix G, input_dim × F; the first layer then takes 2F inputs.
    pub fourier_gauss: Option<Mat<f32>>,
    /// NeRF's positional encoding (never with `fourier_gauss`).
    pub positional: Option<PositionalEncoding>,
    pub output_scale: Option<f32>,
    /// A name per output (u, v, p); empty when the file names none. Filled from the built-in
    /// key's names, or by a network config.
    pub output_names: Vec<String>,
    /// A name per input coordinate (x, y, t), from a network config; empty when unnamed. They
    /// say which input is time, so a time slice that would put time elsewhere is refused.
    pub input_names: Vec<String>,
}

impl NetworkFile {
    /// A bare network, no transforms.
    pub fn plain(network: Network) -> NetworkFile {
        NetworkFile {
            network,
            input_mean: None,
            input_std: None,
            fourier_gauss: None,
            positional: None,
            output_scale: None,
            output_names: Vec::new(),
            input_names: Vec::new(),
        }
    }

    /// Dimension of the points the INR takes (before the encoding).
    pub fn input_dim(&self) -> usize {
        match (&self.fourier_gauss, &self.positional) {
            (Some(g), _) => g.nrows(),
            (None, Some(p)) => p.inputs(),
            (None, None) => self.network.input_dim(),
        }
    }

    /// True if the points go through any input transform before the network.
    fn transforms_input(&self) -> bool {
        self.input_mean.is_some() || self.fourier_gauss.is_some() || self.positional.is_some()
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
        if let Some(p) = &self.positional {
            if self.fourier_gauss.is_some() {
                return Err(
                    "a network has either Fourier features or a positional encoding, \
                            not both"
                        .into(),
                );
            }
            if p.width() != first_in {
                return Err(format!(
                    "the positional encoding gives {} features for {} inputs, but the first \
                     layer takes {first_in} inputs",
                    p.width(),
                    p.inputs()
                ));
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
        if !self.input_names.is_empty() && self.input_names.len() != d {
            return Err(format!(
                "{} input names ({}) for {d} inputs",
                self.input_names.len(),
                self.input_names.join(", ")
            ));
        }
        if let Some((i, _)) = self
            .input_names
            .iter()
            .enumerate()
            .find(|(i, n)| n.trim().is_empty() || self.input_names[..*i].contains(n))
        {
            return Err(format!(
                "input name {:?} is empty or repeated",
                self.input_names[i]
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
    /// then encoded (Fourier features or positional encoding) if the file says so.
    pub fn network_input(&self, x: MatRef<'_, f32>) -> Mat<f32> {
        let mut out = Mat::new();
        self.network_input_into(x, &mut out, &mut Mat::new(), &mut Mat::new());
        out
    }

    /// As [`NetworkFile::network_input`], into `out` (resized only when the batch size
    /// changes), with `points` (the standardized points) and `phases` (2π·xG) as scratch for
    /// the Fourier features. Fourier features are one GEMM and one
    /// SIMD sincos pass per column straight into `out` (cos block, then sin block): per-entry
    /// libm sin/cos was most of the time of a 64-feature network.
    pub(crate) fn network_input_into(
        &self,
        x: MatRef<'_, f32>,
        out: &mut Mat<f32>,
        points: &mut Mat<f32>,
        phases: &mut Mat<f32>,
    ) {
        assert_eq!(
            x.ncols(),
            self.input_dim(),
            "points have {} coordinates, the INR takes {}",
            x.ncols(),
            self.input_dim()
        );
        let n = x.nrows();
        // The standardized points are the network's input without an encoding, else the
        // scratch the phases are computed from.
        let encoded = self.fourier_gauss.is_some() || self.positional.is_some();
        let z = if encoded { &mut *points } else { &mut *out };
        resize(z, n, x.ncols());
        z.copy_from(x);
        if let (Some(mean), Some(std)) = (&self.input_mean, &self.input_std) {
            for (j, (m, s)) in mean.iter().zip(std).enumerate() {
                for v in z.col_as_slice_mut(j) {
                    *v = (*v - m) / s;
                }
            }
        }
        if let Some(p) = &self.positional {
            p.encode(points.as_ref(), out, phases);
            return;
        }
        let Some(g) = &self.fourier_gauss else {
            return;
        };
        let f = g.ncols();
        resize(phases, n, f);
        matmul(
            phases.as_mut(),
            Accum::Replace,
            points.as_ref(),
            g.as_ref(),
            2.0 * std::f32::consts::PI,
            Par::Seq,
        );
        resize(out, n, 2 * f);
        let (mut cos, mut sin) = out.as_mut().split_at_col_mut(f);
        for j in 0..f {
            let (c, s) = (cos.as_mut().col_mut(j), sin.as_mut().col_mut(j));
            let (Some(c), Some(s)) = (c.try_as_col_major_mut(), s.try_as_col_major_mut()) else {
                unreachable!("columns of an owned matrix are contiguous")
            };
            kernels::sincos(phases.col_as_slice(j), c.as_slice_mut(), s.as_slice_mut());
        }
    }

    /// The field at points `x` (rows = points): transforms, network, output scale; the
    /// network's layers (and its input, when the file transforms the points) computed in
    /// `buffers` kept between calls.
    pub fn evaluate<'w>(
        &self,
        x: MatRef<'_, f32>,
        buffers: &'w mut ForwardBuffers,
    ) -> MatMut<'w, f32> {
        let mut y = if self.transforms_input() {
            // Taken out for the pass so the layers can borrow the buffers; put back after.
            let mut input = std::mem::replace(&mut buffers.input, Mat::new());
            self.network_input_into(x, &mut input, &mut buffers.points, &mut buffers.phases);
            self.network.forward(input.as_ref(), buffers);
            buffers.input = input;
            buffers.output()
        } else {
            self.network.forward(x, buffers)
        };
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

/// Makes `m` an r × c matrix, reallocating only when the shape changes (the entries are then
/// overwritten by the caller).
fn resize(m: &mut Mat<f32>, r: usize, c: usize) {
    if m.nrows() != r || m.ncols() != c {
        *m = Mat::zeros(r, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::model::{Activation, Layer};

    /// Distance in representable f32 values.
    fn ulps(a: f32, b: f32) -> u32 {
        let key = |x: f32| {
            let b = x.to_bits() as i32;
            if b < 0 { i32::MIN - b } else { b }
        };
        key(a).abs_diff(key(b))
    }

    /// The vectorized features against the scalar formula they replace (the same GEMM, then
    /// libm cos/sin per entry): within 2 ulp, or 2^-24 absolute near a zero of sin/cos.
    #[test]
    fn fourier_features_match_the_scalar_formula() {
        let (d, f, n) = (4, 64, 1001);
        let g = Mat::from_fn(d, f, |i, j| ((i * 31 + j * 17) % 23) as f32 * 0.9 - 9.0);
        let net = Network::new(vec![Layer {
            weight: Mat::from_fn(1, 2 * f, |_, j| j as f32),
            bias: vec![0.0],
            activation: Activation::Identity,
        }])
        .unwrap();
        let mut file = NetworkFile::plain(net);
        file.fourier_gauss = Some(g.clone());
        file.input_mean = Some(vec![0.1, -0.2, 0.0, 0.5]);
        file.input_std = Some(vec![1.5, 0.5, 1.0, 2.0]);
        file.validate().unwrap();
        let x = Mat::from_fn(n, d, |i, j| ((i * 7 + j * 13) % 101) as f32 / 50.0 - 1.0);
        let got = file.network_input(x.as_ref());

        let mean = file.input_mean.as_ref().unwrap();
        let std = file.input_std.as_ref().unwrap();
        let z = Mat::from_fn(n, d, |i, j| (x[(i, j)] - mean[j]) / std[j]);
        let mut p = Mat::<f32>::zeros(n, f);
        matmul(
            p.as_mut(),
            Accum::Replace,
            z.as_ref(),
            g.as_ref(),
            2.0 * std::f32::consts::PI,
            Par::Seq,
        );
        assert_eq!((got.nrows(), got.ncols()), (n, 2 * f));
        let mut worst = 0;
        for i in 0..n {
            for j in 0..f {
                for (have, want) in [
                    (got[(i, j)], p[(i, j)].cos()),
                    (got[(i, f + j)], p[(i, j)].sin()),
                ] {
                    let u = ulps(have, want);
                    let close = (have - want).abs() <= f32::EPSILON / 2.0;
                    assert!(
                        u <= 2 || close,
                        "row {i} col {j}: {have} vs {want} ({u} ulp)"
                    );
                    worst = worst.max(u);
                }
            }
        }
        // The phases reach |2π·xG| > 100: a real test of the range reduction, not only of
        // small arguments.
        let max_phase = (0..f).map(|j| p.col_as_slice(j).iter().fold(0f32, |m, v| m.max(v.abs())));
        assert!(max_phase.fold(0f32, f32::max) > 100.0);
        assert!(worst <= 2);

        // The buffers of a forward pass give the same input (reused at a second size too).
        let mut buffers = ForwardBuffers::default();
        for rows in [n, 7, n] {
            let xs = x.as_ref().subrows(0, rows);
            let y = file.evaluate(xs, &mut buffers).to_owned();
            let y0 = file
                .network
                .forward(
                    file.network_input(xs).as_ref(),
                    &mut ForwardBuffers::default(),
                )
                .to_owned();
            assert_eq!(y, y0);
        }
    }
}
