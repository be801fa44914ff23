//! The five built-in INRs: the field each one is fit to, its box of INR coordinates, its
//! network shape, input features and training budget. The formulas here are the documentation
//! (checkpoints/TRAINING.md quotes them).

use pruningamr::network::Activation;

use super::mlp::Init;

/// Below this radius sin(1/r) is held at sin(1/R_MIN): the true function oscillates infinitely
/// often at the origin, no network can follow it there.
pub const R_MIN: f64 = 0.02;

/// f(x, y) = sin(1 / max(r, R_MIN)), r = |(x, y)|.
fn sin_inv_r(p: &[f64], out: &mut [f64]) {
    let r = (p[0] * p[0] + p[1] * p[1]).sqrt().max(R_MIN);
    out[0] = (1.0 / r).sin();
}

/// Taylor–Green vortices advected by a uniform stream: an exact solution of the incompressible
/// Navier–Stokes equations (density 1), Galilean-shifted so the cells travel downstream.
pub mod flow {
    use std::f64::consts::PI;
    /// Free-stream speed and advection speed of the vortex cells: one period over t ∈ [0, 20].
    pub const U0: f64 = 0.2;
    /// Vortex velocity amplitude.
    pub const A: f64 = 1.0;
    /// Wave number: cells of side 2 (2 × 2 cells in the x–y box). With k = π and U0 = 0.5
    /// (4 × 4 cells travelling five periods) the 10-layer tanh network never left the plateau
    /// of predicting the mean.
    pub const K: f64 = PI / 2.0;
    /// Kinematic viscosity: velocities decay as exp(−2νk²t), to ≈ 0.61 by t = 20.
    pub const NU: f64 = 0.005;

    pub fn uvp(p: &[f64], out: &mut [f64]) {
        let (x, y, t) = (p[0], p[1], p[2]);
        let xs = x - U0 * t;
        let decay = (-2.0 * NU * K * K * t).exp();
        out[0] = U0 + A * (K * xs).cos() * (K * y).sin() * decay;
        out[1] = -A * (K * xs).sin() * (K * y).cos() * decay;
        out[2] = -(A * A / 4.0) * ((2.0 * K * xs).cos() + (2.0 * K * y).cos()) * decay * decay;
    }
}

/// Gaussian blobs moving in [−1,1]³ over t ∈ [0, 2]; coordinates are (t, z, y, x).
pub mod blobs {
    use std::f64::consts::PI;

    /// Amplitude, width σ_b and centre (x, y, z) at time t, per blob.
    pub struct Blob {
        pub amplitude: f64,
        pub width: f64,
        pub centre: fn(f64) -> [f64; 3],
    }

    pub const BLOBS: [Blob; 3] = [
        // drifts along x
        Blob {
            amplitude: 2.0,
            width: 0.30,
            centre: |t| [-0.5 + 0.5 * t, 0.0, -0.3],
        },
        // circles about the z axis, one turn over [0, 2]
        Blob {
            amplitude: 1.5,
            width: 0.20,
            centre: |t| [0.5 * (PI * t).cos(), 0.5 * (PI * t).sin(), 0.3],
        },
        // rises along z
        Blob {
            amplitude: 1.0,
            width: 0.15,
            centre: |t| [0.3, -0.4, -0.6 + 0.6 * t],
        },
    ];

    pub fn density(p: &[f64], out: &mut [f64]) {
        let (t, z, y, x) = (p[0], p[1], p[2], p[3]);
        out[0] = BLOBS
            .iter()
            .map(|b| {
                let c = (b.centre)(t);
                let d2 = (x - c[0]).powi(2) + (y - c[1]).powi(2) + (z - c[2]).powi(2);
                b.amplitude * (-d2 / (2.0 * b.width * b.width)).exp()
            })
            .sum();
    }
}

/// What the network sees of the INR coordinates.
#[derive(Clone, Copy, Debug)]
pub enum Features {
    Raw,
    /// (x − mean)/std with the mean and std of the uniform distribution over the box.
    Standardize,
    /// [cos 2πxG, sin 2πxG], G (inr_dim × count) with N(0, sigma²) entries.
    Fourier {
        count: usize,
        sigma: f64,
    },
}

/// Adam with linear warm-up then cosine decay from `lr_max` to `lr_min`.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub steps: usize,
    pub batch: usize,
    pub lr_max: f64,
    pub lr_min: f64,
    pub warmup: usize,
}

impl Schedule {
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup {
            return self.lr_max * (step + 1) as f64 / self.warmup as f64;
        }
        let span = (self.steps - self.warmup).max(1) as f64;
        let p = ((step - self.warmup) as f64 / span).min(1.0);
        self.lr_min + 0.5 * (self.lr_max - self.lr_min) * (1.0 + (std::f64::consts::PI * p).cos())
    }
}

/// A named sub-region of the box: its description and membership test.
pub type Region = (&'static str, fn(&[f64]) -> bool);

pub struct Problem {
    pub key: &'static str,
    /// Names of the INR coordinates, in input order.
    pub coords: &'static [&'static str],
    pub outputs: &'static [&'static str],
    pub lo: &'static [f64],
    pub hi: &'static [f64],
    pub widths: Vec<usize>,
    pub hidden: Activation,
    pub init: Init,
    pub features: Features,
    /// Stored as `output_scale`; the network is fit to field / scale.
    pub output_scale: Option<f32>,
    pub target: fn(&[f64], &mut [f64]),
    pub schedule: Schedule,
    /// Markdown for TRAINING.md.
    pub formula: &'static str,
    /// Per-key stream purpose, so keys trained alone or together draw the same numbers.
    pub id: u64,
    /// A sub-region also measured on its own (description, membership), e.g. away from a
    /// singularity no network resolves.
    pub region: Option<Region>,
}

/// Away from the unresolvable core of sin(1/r).
fn outside_core(p: &[f64]) -> bool {
    p[0] * p[0] + p[1] * p[1] >= 0.01
}
const OUTSIDE_CORE: Option<Region> = Some(("r ≥ 0.1", outside_core));

const SIN_INV_R: &str = "f(x, y) = sin(1 / max(r, 0.02)), r = |(x, y)|, on [0,1]² \
(held at sin(50) inside r < 0.02, where sin(1/r) oscillates without end).";

pub fn all() -> Vec<Problem> {
    vec![
        Problem {
            key: "hos",
            coords: &["x", "y"],
            outputs: &["f"],
            lo: &[0.0, 0.0],
            hi: &[1.0, 1.0],
            widths: vec![32; 4],
            hidden: Activation::Relu,
            init: Init::He,
            features: Features::Raw,
            output_scale: None,
            target: sin_inv_r,
            schedule: Schedule {
                steps: 20_000,
                batch: 1024,
                lr_max: 3e-3,
                lr_min: 3e-5,
                warmup: 200,
            },
            formula: SIN_INV_R,
            id: 1,
            region: OUTSIDE_CORE,
        },
        Problem {
            key: "hol",
            coords: &["x", "y"],
            outputs: &["f"],
            lo: &[0.0, 0.0],
            hi: &[1.0, 1.0],
            widths: vec![256; 4],
            hidden: Activation::Relu,
            init: Init::He,
            features: Features::Raw,
            output_scale: None,
            target: sin_inv_r,
            schedule: Schedule {
                steps: 10_000,
                batch: 1024,
                lr_max: 2e-3,
                lr_min: 2e-5,
                warmup: 200,
            },
            formula: SIN_INV_R,
            id: 2,
            region: OUTSIDE_CORE,
        },
        Problem {
            key: "hof",
            coords: &["x", "y"],
            outputs: &["f"],
            lo: &[0.0, 0.0],
            hi: &[1.0, 1.0],
            widths: vec![256; 4],
            hidden: Activation::Relu,
            init: Init::He,
            features: Features::Raw,
            output_scale: None,
            target: sin_inv_r,
            schedule: Schedule {
                steps: 30_000,
                batch: 1024,
                lr_max: 2e-3,
                lr_min: 2e-5,
                warmup: 200,
            },
            formula: SIN_INV_R,
            id: 3,
            region: OUTSIDE_CORE,
        },
        Problem {
            key: "NS_PINN",
            coords: &["x", "y", "t"],
            outputs: &["u", "v", "p"],
            lo: &[1.0, -2.0, 0.0],
            hi: &[5.0, 2.0, 20.0],
            widths: vec![32; 10],
            hidden: Activation::Tanh,
            init: Init::Glorot,
            features: Features::Standardize,
            output_scale: None,
            target: flow::uvp,
            schedule: Schedule {
                steps: 10_000,
                batch: 1024,
                lr_max: 2e-3,
                lr_min: 2e-5,
                warmup: 300,
            },
            formula: "Taylor–Green vortices advected by a uniform stream (an exact solution of the \
incompressible Navier–Stokes equations, density 1), with x' = x − U₀t and F(t) = exp(−2νk²t):  \n\
u = U₀ + A cos(kx') sin(ky) F,  \n\
v = −A sin(kx') cos(ky) F,  \n\
p = −(A²/4) (cos 2kx' + cos 2ky) F²,  \n\
U₀ = 0.2, A = 1, k = π/2 (vortex cells of side 2: 2 × 2 cells in the x–y box, travelling one \
period (4) downstream over t ∈ [0, 20]), ν = 0.005 (velocity amplitude × e^(−0.49) ≈ 0.61 by \
t = 20), on (x, y, t) ∈ [1,5]×[−2,2]×[0,20].",
            id: 4,
            region: None,
        },
        Problem {
            key: "CT_demo",
            coords: &["t", "z", "y", "x"],
            outputs: &["density"],
            lo: &[0.0, -1.0, -1.0, -1.0],
            hi: &[2.0, 1.0, 1.0, 1.0],
            widths: vec![128; 5],
            hidden: Activation::Silu,
            init: Init::He,
            features: Features::Fourier {
                count: 64,
                sigma: 1.0,
            },
            output_scale: Some(2.0),
            target: blobs::density,
            schedule: Schedule {
                steps: 8_000,
                batch: 1024,
                lr_max: 1e-3,
                lr_min: 1e-5,
                warmup: 200,
            },
            formula: "Three Gaussian blobs moving in [−1,1]³ over t ∈ [0,2], inputs (t, z, y, x):  \n\
f = Σᵢ aᵢ exp(−|(x,y,z) − cᵢ(t)|² / (2 sᵢ²)) with  \n\
a₁ = 2.0, s₁ = 0.30, c₁(t) = (−0.5 + 0.5t, 0, −0.3) (drifts along x);  \n\
a₂ = 1.5, s₂ = 0.20, c₂(t) = (0.5 cos πt, 0.5 sin πt, 0.3) (one turn about the z axis);  \n\
a₃ = 1.0, s₃ = 0.15, c₃(t) = (0.3, −0.4, −0.6 + 0.6t) (rises along z).  \n\
The network is fit to f / 2 and stores output_scale = 2 (the mesh sees 2 × network output).",
            id: 5,
            region: None,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented flow is an exact Navier–Stokes solution: divergence-free, and the momentum
    /// residual ∂u/∂t + (u·∇)u + ∇p − ν∇²u vanishes (central differences).
    #[test]
    fn flow_solves_navier_stokes() {
        let f = |x: f64, y: f64, t: f64| {
            let mut o = [0.0; 3];
            flow::uvp(&[x, y, t], &mut o);
            o
        };
        let h = 1e-3;
        for &(x, y, t) in &[(1.3, -0.7, 2.0), (4.1, 1.2, 13.5), (2.5, 0.1, 19.0)] {
            let c = f(x, y, t);
            let d = |dx: f64, dy: f64, dt: f64, k: usize| {
                (f(x + dx, y + dy, t + dt)[k] - f(x - dx, y - dy, t - dt)[k]) / (2.0 * h)
            };
            let lap = |k: usize| {
                (f(x + h, y, t)[k] + f(x - h, y, t)[k] + f(x, y + h, t)[k] + f(x, y - h, t)[k]
                    - 4.0 * c[k])
                    / (h * h)
            };
            let div = d(h, 0.0, 0.0, 0) + d(0.0, h, 0.0, 1);
            assert!(div.abs() < 1e-6, "divergence {div}");
            for (k, dp) in [(0, d(h, 0.0, 0.0, 2)), (1, d(0.0, h, 0.0, 2))] {
                let r =
                    d(0.0, 0.0, h, k) + c[0] * d(h, 0.0, 0.0, k) + c[1] * d(0.0, h, 0.0, k) + dp
                        - flow::NU * lap(k);
                assert!(r.abs() < 1e-5, "momentum residual {k}: {r}");
            }
        }
    }

    #[test]
    fn sin_inv_r_is_held_inside_r_min() {
        let mut o = [0.0];
        sin_inv_r(&[0.0, 0.0], &mut o);
        assert_eq!(o[0], (1.0 / R_MIN).sin());
        sin_inv_r(&[0.6, 0.8], &mut o);
        assert!((o[0] - 1f64.sin()).abs() < 1e-12);
    }
}
