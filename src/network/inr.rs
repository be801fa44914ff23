//! An INR as the algorithm sees it: mesh point → INR coordinates (the time slice for CT keys)
//! → the network file's input transforms (standardization, Fourier features) → network →
//! output × scale.

use faer::Mat;

use super::file::{NetworkFile, TransformError};
use super::model::{ForwardBuffers, Network};

/// How the mesh point (x, y[, z]) becomes the INR's input coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Coordinates {
    /// The INR takes the mesh coordinates as they are.
    Identity,
    /// A 4-D (t, z, y, x) INR on a 3-D mesh: the point (x, y, z) becomes (t, z, y, x).
    TimeSlice { t: f64 },
    /// A space-time INR whose time is its last input (NS_PINN's (x, y, t)) on a mesh one
    /// dimension smaller: the point (x, y[, z]) becomes (x, y[, z], t).
    AppendTime { t: f64 },
}

impl Coordinates {
    /// How a run places a network with `net_inputs` coordinates on a `mesh_dim`-D mesh: CT
    /// keys take time first, reversed space (the original's (t, z, y, x)); in a time series
    /// (`slicing`), any other network with one input more than the mesh has dimensions takes
    /// time as its last input; else the mesh coordinates are the network's. Outside a series
    /// such a network is refused as before: a 3-D network on a 2-D mesh is more often a
    /// mistake than a wish for its slice at the default `--time_slice`.
    pub fn for_run(
        is_ct: bool,
        slicing: bool,
        net_inputs: usize,
        mesh_dim: usize,
        t: f64,
    ) -> Coordinates {
        if is_ct {
            Coordinates::TimeSlice { t }
        } else if slicing && net_inputs == mesh_dim + 1 {
            Coordinates::AppendTime { t }
        } else {
            Coordinates::Identity
        }
    }

    /// The time of the slice, for coordinates that slice a network in time.
    pub fn time(self) -> Option<f64> {
        match self {
            Coordinates::Identity => None,
            Coordinates::TimeSlice { t } | Coordinates::AppendTime { t } => Some(t),
        }
    }
}

/// Why a network cannot stand for a field on a given mesh.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InrError {
    #[error(
        "the network takes {net} input coordinates{names} but a {mesh}-D mesh{how} gives \
         {given}{hint}"
    )]
    InputDimension {
        net: usize,
        /// ` (x, y, t)` when the config names the inputs.
        names: String,
        mesh: usize,
        how: &'static str,
        given: usize,
        /// For a first layer wider than the mesh: the encoding a config may have left out.
        hint: &'static str,
    },
    /// The config's `input_names` put time where the slice does not.
    #[error(
        "the network config names the inputs ({names}), time being input {named} ({name:?}), \
         but {how} gives time as input {at}; reorder input_names if they are wrong, or slice \
         a network whose time is {where_}"
    )]
    TimeInput {
        names: String,
        name: String,
        named: usize,
        at: usize,
        how: &'static str,
        where_: &'static str,
    },
    #[error(transparent)]
    Transform(#[from] TransformError),
}

/// True for the names a time coordinate goes by.
fn is_time(name: &str) -> bool {
    matches!(name.trim().to_lowercase().as_str(), "t" | "time")
}

/// A network placed on a mesh: knows how mesh points become its inputs.
#[derive(Clone, Debug)]
pub struct Inr {
    file: NetworkFile,
    coordinates: Coordinates,
    mesh_dim: usize,
    /// One name per output: the file's `output_names`, else `f` / `f_0`, `f_1`, ...
    output_names: Vec<String>,
}

impl Inr {
    pub fn new(
        file: NetworkFile,
        coordinates: Coordinates,
        mesh_dim: usize,
    ) -> Result<Inr, InrError> {
        file.validate()?;
        let (given, how) = match coordinates {
            Coordinates::Identity => (mesh_dim, ""),
            Coordinates::TimeSlice { .. } | Coordinates::AppendTime { .. } => {
                (mesh_dim + 1, " plus the time slice")
            }
        };
        if file.input_dim() != given {
            let unencoded = file.fourier_gauss.is_none() && file.positional.is_none();
            return Err(InrError::InputDimension {
                net: file.input_dim(),
                names: if file.input_names.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", file.input_names.join(", "))
                },
                mesh: mesh_dim,
                how,
                given,
                hint: if unencoded && file.input_dim() > given {
                    "; if the network encodes its inputs (Fourier features, NeRF's positional \
                     encoding), describe the encoding in a network config (--network_config)"
                } else {
                    ""
                },
            });
        }
        let time = match coordinates {
            Coordinates::Identity => None,
            Coordinates::TimeSlice { .. } => Some((0, "a CT key's time slice", "first")),
            Coordinates::AppendTime { .. } => Some((mesh_dim, "--time_slices", "last")),
        };
        if let Some((at, how, where_)) = time
            && let Some(named) = file.input_names.iter().position(|n| is_time(n))
            && named != at
        {
            return Err(InrError::TimeInput {
                names: file.input_names.join(", "),
                name: file.input_names[named].clone(),
                named,
                at,
                how,
                where_,
            });
        }
        let output_names = if file.output_names.is_empty() {
            generic_output_names(file.output_dim())
        } else {
            file.output_names.clone()
        };
        Ok(Inr {
            file,
            coordinates,
            mesh_dim,
            output_names,
        })
    }

    /// The name of each output component (VTU arrays, picture titles, parameters.json).
    pub fn output_names(&self) -> &[String] {
        &self.output_names
    }

    pub fn network(&self) -> &Network {
        &self.file.network
    }
    /// The network with its transforms (the error estimate differentiates through them).
    pub fn file(&self) -> &NetworkFile {
        &self.file
    }
    pub fn output_scale(&self) -> f32 {
        self.file.output_scale.unwrap_or(1.0)
    }
    /// Number of INR input coordinates (before features).
    pub fn inr_dim(&self) -> usize {
        self.file.input_dim()
    }
    pub fn mesh_dim(&self) -> usize {
        self.mesh_dim
    }
    pub fn output_dim(&self) -> usize {
        self.file.output_dim()
    }
    pub fn coordinates(&self) -> Coordinates {
        self.coordinates
    }

    /// INR coordinates of a mesh point (the first `inr_dim` entries are used).
    #[inline]
    pub fn to_inr(&self, p: &[f64; 3]) -> [f64; 4] {
        match self.coordinates {
            Coordinates::Identity => [p[0], p[1], p[2], 0.0],
            Coordinates::TimeSlice { t } => [t, p[2], p[1], p[0]],
            Coordinates::AppendTime { t } => {
                let mut q = [p[0], p[1], p[2], 0.0];
                q[self.mesh_dim.min(3)] = t;
                q
            }
        }
    }

    /// The INR-coordinate box of the mesh box [lo, hi]; for a time slice the time interval is
    /// the single slice value.
    pub fn inr_box(&self, lo: &[f64; 3], hi: &[f64; 3]) -> ([f64; 4], [f64; 4]) {
        (self.to_inr(lo), self.to_inr(hi))
    }

    /// Network input features of INR coordinates (rows = points, `inr_dim` columns).
    pub fn features(&self, x: &Mat<f32>) -> Mat<f32> {
        self.file.network_input(x.as_ref())
    }

    /// Scaled outputs for a batch of INR coordinates (rows = points, `inr_dim` columns).
    pub fn eval_inr(&self, x: &Mat<f32>) -> Mat<f32> {
        self.file
            .evaluate(x.as_ref(), &mut ForwardBuffers::default())
            .to_owned()
    }

    /// Values at mesh points, point-major (`p * outputs + c`).
    pub fn eval_points(&self, points: &[[f64; 3]]) -> Vec<f64> {
        let mut out = vec![0.0; points.len() * self.output_dim()];
        self.eval_points_into(points, &mut out);
        out
    }

    /// As [`Inr::eval_points`], into a slice of `points.len() * outputs`.
    pub fn eval_points_into(&self, points: &[[f64; 3]], out: &mut [f64]) {
        let c = self.output_dim();
        let d = self.inr_dim();
        let mut buffers = ForwardBuffers::default();
        let mut x = Mat::<f32>::zeros(0, d);
        for (pts, out) in points.chunks(EVAL_ROWS).zip(out.chunks_mut(EVAL_ROWS * c)) {
            if x.nrows() != pts.len() {
                x = Mat::zeros(pts.len(), d);
            }
            for (i, p) in pts.iter().enumerate() {
                let q = self.to_inr(p);
                for (j, v) in q.iter().take(d).enumerate() {
                    x[(i, j)] = *v as f32;
                }
            }
            let y = self.file.evaluate(x.as_ref(), &mut buffers);
            for (i, row) in out.chunks_exact_mut(c).enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = y[(i, j)] as f64;
                }
            }
        }
    }
}

/// Names of outputs nobody named: `f` for one, `f_0`, `f_1`, ... for more.
pub(crate) fn generic_output_names(n: usize) -> Vec<String> {
    match n {
        1 => vec!["f".to_string()],
        n => (0..n).map(|c| format!("f_{c}")).collect(),
    }
}

/// Points per network evaluation. A layer's activations then stay in cache between its GEMM
/// and its bias + activation pass; measured on this machine class (`examples/bench_forward`),
/// 256 rows run the 32-wide network at 197 GFLOP/s against 52 at 4096 rows, and the 256-wide
/// one at 214 against 137.
pub const EVAL_ROWS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::model::{Activation, Layer};

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
        let mut f = NetworkFile::plain(linear(4));
        f.input_mean = Some(vec![0.0, 1.0, 0.0, 0.0]);
        f.input_std = Some(vec![1.0, 2.0, 1.0, 1.0]);
        f.output_scale = Some(2.0);
        let inr = Inr::new(f, Coordinates::TimeSlice { t: 0.5 }, 3).unwrap();
        assert_eq!(inr.to_inr(&[1.0, 2.0, 3.0]), [0.5, 3.0, 2.0, 1.0]);
        // features (0.5, (3-1)/2, 2, 1) · (1,2,3,4) + 0.5 = 0.5 + 2 + 6 + 4 + 0.5 = 13; × 2
        let v = inr.eval_points(&[[1.0, 2.0, 3.0]]);
        assert!((v[0] - 26.0).abs() < 1e-5);
    }

    #[test]
    fn fourier_features_are_cos_then_sin() {
        let mut f = NetworkFile::plain(linear(2));
        f.fourier_gauss = Some(Mat::from_fn(2, 1, |i, _| [0.25, 0.0][i]));
        let inr = Inr::new(f, Coordinates::Identity, 2).unwrap();
        // x·G = 0.25 at x = (1, 0): cos(π/2) = 0, sin(π/2) = 1 → 0·1 + 1·2 + 0.5
        let v = inr.eval_points(&[[1.0, 0.0, 0.0]]);
        assert!((v[0] - 2.5).abs() < 1e-5);
    }

    #[test]
    fn appended_time_is_the_last_input() {
        let inr = Inr::new(
            NetworkFile::plain(linear(3)),
            Coordinates::for_run(false, true, 3, 2, 10.0),
            2,
        )
        .unwrap();
        assert_eq!(inr.coordinates(), Coordinates::AppendTime { t: 10.0 });
        assert_eq!(inr.to_inr(&[1.0, 2.0, 0.0]), [1.0, 2.0, 10.0, 0.0]);
        // (1, 2, 10) · (1, 2, 3) + 0.5
        assert!((inr.eval_points(&[[1.0, 2.0, 0.0]])[0] - 35.5).abs() < 1e-5);
        assert_eq!(inr.output_names(), ["f"]);
        assert_eq!(
            Coordinates::for_run(false, true, 3, 3, 1.0),
            Coordinates::Identity
        );
        // Outside a series a 3-input network on a 2-D mesh is not sliced (and then refused).
        assert_eq!(
            Coordinates::for_run(false, false, 3, 2, 1.0),
            Coordinates::Identity
        );
        assert_eq!(
            Coordinates::for_run(true, false, 4, 3, 1.0),
            Coordinates::TimeSlice { t: 1.0 }
        );
    }

    #[test]
    fn named_time_must_be_where_the_slice_puts_it() {
        let named = |names: &[&str]| {
            let mut f = NetworkFile::plain(linear(3));
            f.input_names = names.iter().map(|s| s.to_string()).collect();
            f
        };
        let slice = Coordinates::AppendTime { t: 1.0 };
        assert!(Inr::new(named(&["x", "y", "t"]), slice, 2).is_ok());
        assert!(Inr::new(named(&["a", "b", "c"]), slice, 2).is_ok());
        let err = Inr::new(named(&["t", "x", "y"]), slice, 2).unwrap_err();
        assert!(
            matches!(
                err,
                InrError::TimeInput {
                    named: 0,
                    at: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("(t, x, y)"), "{err}");
        // On a mesh of all three dimensions no input is a slice: (x, y, t) as NS_PINN's.
        assert!(Inr::new(named(&["t", "x", "y"]), Coordinates::Identity, 3).is_ok());
        let err = Inr::new(named(&["x", "y", "t"]), Coordinates::Identity, 2).unwrap_err();
        assert!(
            err.to_string().contains("3 input coordinates (x, y, t)"),
            "{err}"
        );
        assert!(Inr::new(named(&["x", "x", "t"]), slice, 2).is_err());
    }

    #[test]
    fn input_size_must_fit_the_mesh() {
        let err = Inr::new(NetworkFile::plain(linear(3)), Coordinates::Identity, 2).unwrap_err();
        assert!(err.to_string().contains("takes 3 input"), "{err}");
    }
}
