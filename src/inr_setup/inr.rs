//! An INR as the algorithm sees it: mesh point → INR coordinates (time slice for CT keys) →
//! input features (standardization or Fourier features) → network → output × scale.

use faer::Mat;

use crate::config::Coordinates;
use crate::id_pruning::Network;

/// Why a network cannot stand for a field on a given mesh.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InrError {
    #[error(
        "the network takes {net} inputs but a {mesh}-D mesh{how} gives {given} input coordinates"
    )]
    InputDimension {
        net: usize,
        mesh: usize,
        how: &'static str,
        given: usize,
    },
    #[error("input standardization has {len} entries but the INR takes {dim} coordinates")]
    StandardizationLength { len: usize, dim: usize },
    #[error("input standardization has a standard deviation that is not a positive number")]
    BadStd,
    #[error(
        "Fourier features: the Gaussian matrix is {rows}×{cols}, so the first layer needs {need} inputs (it takes {net}) and the INR {rows} coordinates (it has {dim})"
    )]
    Fourier {
        rows: usize,
        cols: usize,
        need: usize,
        net: usize,
        dim: usize,
    },
    #[error("output scale {0} is not a finite number")]
    OutputScale(f32),
}

/// Transforms applied to INR coordinates before the first layer.
#[derive(Clone, Debug, Default)]
pub struct InputTransform {
    /// x ↦ (x − mean) / std, per coordinate.
    pub standardize: Option<(Vec<f32>, Vec<f32>)>,
    /// G (inr_dim × F): features [cos 2πxG, sin 2πxG].
    pub fourier_gauss: Option<Mat<f32>>,
}

/// A network placed on a mesh: knows how mesh points become its inputs.
#[derive(Clone, Debug)]
pub struct Inr {
    network: Network,
    coordinates: Coordinates,
    transform: InputTransform,
    output_scale: f32,
    inr_dim: usize,
    mesh_dim: usize,
}

impl Inr {
    pub fn new(
        network: Network,
        coordinates: Coordinates,
        transform: InputTransform,
        output_scale: f32,
        mesh_dim: usize,
    ) -> Result<Inr, InrError> {
        let (inr_dim, how) = match coordinates {
            Coordinates::Identity => (mesh_dim, ""),
            Coordinates::TimeSlice { .. } => (mesh_dim + 1, " plus the time slice"),
        };
        let first_in = network.input_dim();
        match &transform.fourier_gauss {
            Some(g) => {
                if g.nrows() != inr_dim || 2 * g.ncols() != first_in {
                    return Err(InrError::Fourier {
                        rows: g.nrows(),
                        cols: g.ncols(),
                        need: 2 * g.ncols(),
                        net: first_in,
                        dim: inr_dim,
                    });
                }
            }
            None => {
                if first_in != inr_dim {
                    return Err(InrError::InputDimension {
                        net: first_in,
                        mesh: mesh_dim,
                        how,
                        given: inr_dim,
                    });
                }
            }
        }
        if let Some((mean, std)) = &transform.standardize {
            for len in [mean.len(), std.len()] {
                if len != inr_dim {
                    return Err(InrError::StandardizationLength { len, dim: inr_dim });
                }
            }
            if !std.iter().all(|s| s.is_finite() && *s > 0.0) || !mean.iter().all(|m| m.is_finite())
            {
                return Err(InrError::BadStd);
            }
        }
        if !output_scale.is_finite() {
            return Err(InrError::OutputScale(output_scale));
        }
        Ok(Inr {
            network,
            coordinates,
            transform,
            output_scale,
            inr_dim,
            mesh_dim,
        })
    }

    pub fn network(&self) -> &Network {
        &self.network
    }
    pub fn output_scale(&self) -> f32 {
        self.output_scale
    }
    /// Number of INR input coordinates (before features).
    pub fn inr_dim(&self) -> usize {
        self.inr_dim
    }
    pub fn mesh_dim(&self) -> usize {
        self.mesh_dim
    }
    pub fn output_dim(&self) -> usize {
        self.network.output_dim()
    }
    pub fn coordinates(&self) -> Coordinates {
        self.coordinates
    }
    pub fn transform(&self) -> &InputTransform {
        &self.transform
    }

    /// INR coordinates of a mesh point (the first `inr_dim` entries are used).
    #[inline]
    pub fn to_inr(&self, p: &[f64; 3]) -> [f64; 4] {
        match self.coordinates {
            Coordinates::Identity => [p[0], p[1], p[2], 0.0],
            Coordinates::TimeSlice { t } => [t, p[2], p[1], p[0]],
        }
    }

    /// The box [lo, hi] of INR coordinates covered by the mesh box [lo, hi]; for a time slice
    /// the time interval is the single slice value.
    pub fn inr_box(&self, lo: &[f64; 3], hi: &[f64; 3]) -> ([f64; 4], [f64; 4]) {
        (self.to_inr(lo), self.to_inr(hi))
    }

    /// Network input features of INR coordinates (rows = points, `inr_dim` columns).
    pub fn features(&self, x: Mat<f32>) -> Mat<f32> {
        let mut x = x;
        if let Some((mean, std)) = &self.transform.standardize {
            for j in 0..x.ncols() {
                let (m, s) = (mean[j], std[j]);
                for v in x.col_as_slice_mut(j) {
                    *v = (*v - m) / s;
                }
            }
        }
        match &self.transform.fourier_gauss {
            None => x,
            Some(g) => {
                let f = g.ncols();
                let mut proj = Mat::<f32>::zeros(x.nrows(), f);
                faer::linalg::matmul::matmul(
                    proj.as_mut(),
                    faer::Accum::Replace,
                    x.as_ref(),
                    g.as_ref(),
                    std::f32::consts::TAU,
                    faer::Par::Seq,
                );
                Mat::from_fn(x.nrows(), 2 * f, |i, j| {
                    if j < f {
                        proj[(i, j)].cos()
                    } else {
                        proj[(i, j - f)].sin()
                    }
                })
            }
        }
    }

    /// Scaled outputs of the network for a batch of INR coordinates (rows = points).
    pub fn eval_inr(&self, x: Mat<f32>) -> Mat<f32> {
        let mut y = self.network.forward(self.features(x).as_ref());
        if self.output_scale != 1.0 {
            for j in 0..y.ncols() {
                for v in y.col_as_slice_mut(j) {
                    *v *= self.output_scale;
                }
            }
        }
        y
    }

    /// Values at mesh points, point-major (`p * outputs + c`), in batches.
    pub fn eval_points(&self, points: &[[f64; 3]]) -> Vec<f64> {
        let c = self.output_dim();
        let mut out = vec![0.0; points.len() * c];
        self.eval_points_into(points, &mut out);
        out
    }

    /// As [`Inr::eval_points`], into a slice of `points.len() * outputs`.
    pub fn eval_points_into(&self, points: &[[f64; 3]], out: &mut [f64]) {
        let c = self.output_dim();
        let d = self.inr_dim;
        let x = Mat::from_fn(points.len(), d, |i, j| self.to_inr(&points[i])[j] as f32);
        let y = self.eval_inr(x);
        for (i, row) in out.chunks_exact_mut(c).enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = y[(i, j)] as f64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_pruning::{Activation, Layer};

    fn linear(n_in: usize) -> Network {
        Network::new(vec![Layer {
            weight: Mat::from_fn(1, n_in, |_, j| (j + 1) as f32),
            bias: vec![0.5],
            activation: Activation::Identity,
        }])
        .unwrap()
    }

    #[test]
    fn time_slice_reorders_coordinates_and_standardizes() {
        let t = InputTransform {
            standardize: Some((vec![0.0, 1.0, 0.0, 0.0], vec![1.0, 2.0, 1.0, 1.0])),
            fourier_gauss: None,
        };
        let inr = Inr::new(linear(4), Coordinates::TimeSlice { t: 0.5 }, t, 2.0, 3).unwrap();
        assert_eq!(inr.to_inr(&[1.0, 2.0, 3.0]), [0.5, 3.0, 2.0, 1.0]);
        // features (0.5, (3-1)/2, 2, 1) · (1,2,3,4) + 0.5 = 0.5 + 2 + 6 + 4 + 0.5 = 13; × 2
        let v = inr.eval_points(&[[1.0, 2.0, 3.0]]);
        assert!((v[0] - 26.0).abs() < 1e-5);
    }

    #[test]
    fn fourier_features_are_cos_then_sin() {
        let g = Mat::from_fn(2, 1, |i, _| [0.25, 0.0][i]);
        let t = InputTransform {
            standardize: None,
            fourier_gauss: Some(g),
        };
        let inr = Inr::new(linear(2), Coordinates::Identity, t, 1.0, 2).unwrap();
        // x·G = 0.25 at x = (1, 0): cos(π/2) = 0, sin(π/2) = 1 → 0·1 + 1·2 + 0.5
        let v = inr.eval_points(&[[1.0, 0.0, 0.0]]);
        assert!((v[0] - 2.5).abs() < 1e-5);
    }

    #[test]
    fn input_size_must_fit_the_mesh() {
        let err = Inr::new(
            linear(3),
            Coordinates::Identity,
            InputTransform::default(),
            1.0,
            2,
        )
        .unwrap_err();
        assert!(err.to_string().contains("takes 3 inputs"), "{err}");
    }
}
