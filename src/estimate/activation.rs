//! σ, σ′ and σ″ of the activations in f64, for the jets: one point at a time (`d012`) and a
//! batch of pre-activations (`d012_batch`). The batch computes the smooth activations of PINNs,
//! Fourier-feature networks and SIREN (tanh, sigmoid, SiLU, Gaussian; sine) through a
//! branch-free exp and sincos that the compiler vectorizes inside a `#[target_feature]`
//! function; libm's scalar tanh and exp took over half of the estimate criterion's time on a
//! tanh PINN. Every path does the same IEEE operations in the same order (Rust never contracts
//! a·b + c into an FMA), so results do not depend on the CPU's SIMD level.

use crate::network::Activation;
use crate::network::kernels::{Level, detected_level};

/// σ(z), σ'(z), σ''(z) in f64 for the crate's activations (PyTorch's definitions). Kinks
/// (ReLU, LeakyReLU, ELU's second derivative at 0) take the right-hand value; σ'' = 0 a.e.
/// for the piecewise-linear ones.
pub(crate) fn d012(act: Activation, z: f64) -> (f64, f64, f64) {
    fn sigmoid(z: f64) -> f64 {
        if z >= 0.0 {
            1.0 / (1.0 + (-z).exp())
        } else {
            let e = z.exp();
            e / (1.0 + e)
        }
    }
    match act {
        Activation::Identity => (z, 1.0, 0.0),
        Activation::Relu => {
            if z > 0.0 {
                (z, 1.0, 0.0)
            } else {
                (0.0, 0.0, 0.0)
            }
        }
        Activation::LeakyRelu { negative_slope } => {
            let s = negative_slope as f64;
            if z >= 0.0 {
                (z, 1.0, 0.0)
            } else {
                (s * z, s, 0.0)
            }
        }
        Activation::Tanh => tanh_d012(z.tanh()),
        Activation::Silu => silu_d012(z, sigmoid(z)),
        Activation::Sigmoid => sigmoid_d012(sigmoid(z)),
        Activation::Gelu { tanh_approx: false } => {
            let cdf = 0.5 * (1.0 + libm::erf(z * std::f64::consts::FRAC_1_SQRT_2));
            let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
            (z * cdf, cdf + z * pdf, pdf * (2.0 - z * z))
        }
        Activation::Gelu { tanh_approx: true } => {
            // g = ½ z (1 + tanh u), u = c (z + k z³).
            let (c, k) = ((2.0 / std::f64::consts::PI).sqrt(), 0.044715);
            let u = c * (z + k * z * z * z);
            let (u1, u2) = (c * (1.0 + 3.0 * k * z * z), c * 6.0 * k * z);
            let t = u.tanh();
            let s = 1.0 - t * t;
            (
                0.5 * z * (1.0 + t),
                0.5 * (1.0 + t) + 0.5 * z * s * u1,
                s * u1 + 0.5 * z * (s * u2 - 2.0 * t * s * u1 * u1),
            )
        }
        Activation::Softplus { beta, threshold } => {
            let (beta, threshold) = (beta as f64, threshold as f64);
            let y = beta * z;
            if y > threshold {
                // PyTorch returns z itself above the threshold.
                return (z, 1.0, 0.0);
            }
            let s = sigmoid(y);
            (
                (y.max(0.0) + (-y.abs()).exp().ln_1p()) / beta,
                s,
                beta * s * (1.0 - s),
            )
        }
        Activation::Elu { alpha } => {
            let a = alpha as f64;
            if z > 0.0 {
                (z, 1.0, 0.0)
            } else {
                let e = z.exp();
                (a * z.exp_m1(), a * e, a * e)
            }
        }
        Activation::Sine { omega } => {
            let w = omega as f64;
            let (s, c) = (w * z).sin_cos();
            (s, w * c, -w * w * s)
        }
        Activation::Gauss { scale } => {
            // g = exp(−(s z)²): g' = −2 s² z g, g'' = (4 s⁴ z² − 2 s²) g.
            let s2 = (scale as f64) * (scale as f64);
            let g = (-s2 * z * z).exp();
            (g, -2.0 * s2 * z * g, (4.0 * s2 * s2 * z * z - 2.0 * s2) * g)
        }
    }
}

#[inline(always)]
fn tanh_d012(t: f64) -> (f64, f64, f64) {
    let d = 1.0 - t * t;
    (t, d, -2.0 * t * d)
}

#[inline(always)]
fn sigmoid_d012(s: f64) -> (f64, f64, f64) {
    let ds = s * (1.0 - s);
    (s, ds, ds * (1.0 - 2.0 * s))
}

#[inline(always)]
fn silu_d012(z: f64, s: f64) -> (f64, f64, f64) {
    let ds = s * (1.0 - s);
    (z * s, s + z * ds, ds * (2.0 + z * (1.0 - 2.0 * s)))
}

/// `(d0[k], d1[k], d2[k]) = d012(act, z[k] + bias)` for every k.
pub(crate) fn d012_batch(
    act: Activation,
    bias: f64,
    z: &[f64],
    d0: &mut [f64],
    d1: &mut [f64],
    d2: &mut [f64],
) {
    assert!(d0.len() == z.len() && d1.len() == z.len() && d2.len() == z.len());
    let batched = matches!(
        act,
        Activation::Tanh
            | Activation::Sigmoid
            | Activation::Silu
            | Activation::Sine { .. }
            | Activation::Gauss { .. }
    );
    if !batched {
        for k in 0..z.len() {
            (d0[k], d1[k], d2[k]) = d012(act, z[k] + bias);
        }
        return;
    }
    dispatch(
        detected_level(),
        Job::Derivatives {
            act,
            bias,
            z,
            d0,
            d1,
            d2,
        },
    );
}

/// `(sin[k], cos[k]) = x[k].sin_cos()` for every k (Fourier features and NeRF's positional
/// encoding in the jets' input stage), to within 2 ulp of 1.
pub(crate) fn sincos_batch(x: &[f64], sin: &mut [f64], cos: &mut [f64]) {
    assert!(sin.len() == x.len() && cos.len() == x.len());
    dispatch(detected_level(), Job::SinCos { x, sin, cos });
}

/// One batch, so that one dispatcher and one `#[target_feature]` wrapper per level serve
/// every batched function.
enum Job<'a> {
    Derivatives {
        act: Activation,
        bias: f64,
        z: &'a [f64],
        d0: &'a mut [f64],
        d1: &'a mut [f64],
        d2: &'a mut [f64],
    },
    SinCos {
        x: &'a [f64],
        sin: &'a mut [f64],
        cos: &'a mut [f64],
    },
}

/// Runs `job` on `level`'s code path; `level` must be supported (`Level::supported`).
fn dispatch(level: Level, job: Job<'_>) {
    debug_assert!(level.is_supported());
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: callers pass a level the CPU supports.
        Level::Avx512 => unsafe { run_avx512(job) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2 => unsafe { run_avx2(job) },
        _ => run(job),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2(job: Job<'_>) {
    run(job)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn run_avx512(job: Job<'_>) {
    run(job)
}

#[inline(always)]
fn run(job: Job<'_>) {
    match job {
        Job::Derivatives {
            act,
            bias,
            z,
            d0,
            d1,
            d2,
        } => batch(act, bias, z, d0, d1, d2),
        Job::SinCos { x, sin, cos } => sincos_each(x, sin, cos),
    }
}

#[inline(always)]
fn sincos_each(x: &[f64], sin: &mut [f64], cos: &mut [f64]) {
    let n = x.len();
    let (x, sin, cos) = (&x[..n], &mut sin[..n], &mut cos[..n]);
    for k in 0..n {
        (sin[k], cos[k]) = sincos(x[k]);
    }
    for k in 0..n {
        if x[k].abs() > SINCOS_MAX {
            (sin[k], cos[k]) = x[k].sin_cos();
        }
    }
}

/// The exp-based activations over a batch; one loop per activation, no branches inside, so
/// each loop vectorizes.
#[inline(always)]
fn batch(act: Activation, bias: f64, z: &[f64], d0: &mut [f64], d1: &mut [f64], d2: &mut [f64]) {
    let n = z.len();
    let (z, d0, d1, d2) = (&z[..n], &mut d0[..n], &mut d1[..n], &mut d2[..n]);
    match act {
        Activation::Tanh => {
            for k in 0..n {
                // tanh|x| = (1 − e)/(1 + e), e = exp(−2|x|): absolute error ~1e-16 near 0
                // (relative error grows like 1e-16/|x| there, which no jet sum can see).
                let x = z[k] + bias;
                let e = exp(-2.0 * x.abs());
                let t = ((1.0 - e) / (1.0 + e)).copysign(x);
                (d0[k], d1[k], d2[k]) = tanh_d012(t);
            }
        }
        Activation::Sigmoid => {
            for k in 0..n {
                let s = 1.0 / (1.0 + exp(-(z[k] + bias)));
                (d0[k], d1[k], d2[k]) = sigmoid_d012(s);
            }
        }
        Activation::Silu => {
            for k in 0..n {
                let x = z[k] + bias;
                let s = 1.0 / (1.0 + exp(-x));
                (d0[k], d1[k], d2[k]) = silu_d012(x, s);
            }
        }
        Activation::Sine { omega } => {
            let w = omega as f64;
            // d2 holds the arguments, d0/d1 their sine/cosine, then the derivatives.
            for k in 0..n {
                d2[k] = w * (z[k] + bias);
            }
            sincos_each(d2, d0, d1);
            for k in 0..n {
                (d1[k], d2[k]) = (w * d1[k], -w * w * d0[k]);
            }
        }
        Activation::Gauss { scale } => {
            let s2 = (scale as f64) * (scale as f64);
            for k in 0..n {
                let x = z[k] + bias;
                let g = exp(-s2 * x * x);
                (d0[k], d1[k], d2[k]) =
                    (g, -2.0 * s2 * x * g, (4.0 * s2 * s2 * x * x - 2.0 * s2) * g);
            }
        }
        _ => unreachable!("only the smooth activations are batched"),
    }
}

/// |x| up to which `sincos` reduces exactly enough: n = round(2x/π) < 2^20, so n times each
/// 33-bit part of π/2 is exact.
const SINCOS_MAX: f64 = 1.6e6;

/// (sin x, cos x) without branches for |x| ≤ `SINCOS_MAX` (NaN and ±∞ give NaN; larger |x| must be
/// redone by the caller): x = n π/2 + r with π/2 in three parts (fdlibm's pio2_1, pio2_2,
/// pio2_3), |r| ≤ π/4, Taylor polynomials to r¹⁷ / r¹⁶ (truncation < 1e-17), and the quadrant
/// n mod 4 picking and signing them.
#[inline(always)]
fn sincos(x: f64) -> (f64, f64) {
    const TWO_OVER_PI: f64 = std::f64::consts::FRAC_2_PI;
    const PIO2_1: f64 = f64::from_bits(0x3ff9_21fb_5440_0000);
    const PIO2_2: f64 = f64::from_bits(0x3dd0_b461_1a60_0000);
    const PIO2_3: f64 = f64::from_bits(0x3ba3_198a_2e03_7073);
    const SHIFTER: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
    let shifted = x * TWO_OVER_PI + SHIFTER;
    let nf = shifted - SHIFTER;
    let quadrant = shifted.to_bits().wrapping_sub(SHIFTER.to_bits()) & 3;
    let r = ((x - nf * PIO2_1) - nf * PIO2_2) - nf * PIO2_3;
    let r2 = r * r;
    // sin r = r (1 − r²/3! + …), cos r = 1 − r²/2! + …, Horner from the highest term.
    let mut ps = 0.0;
    for j in (1..=8u32).rev() {
        // term ratio: (−1)^j / (2j+1)!
        ps = ps * r2 + SIN_COEF[j as usize];
    }
    let sin_r = r + r * r2 * ps;
    let mut pc = 0.0;
    for j in (1..=8u32).rev() {
        pc = pc * r2 + COS_COEF[j as usize];
    }
    let cos_r = 1.0 + r2 * pc;
    let swap = quadrant & 1 == 1;
    let (s, c) = if swap { (cos_r, sin_r) } else { (sin_r, cos_r) };
    let s = if quadrant & 2 == 2 { -s } else { s };
    let c = if (quadrant + 1) & 2 == 2 { -c } else { c };
    (s, c)
}

/// (−1)^j / (2j+1)!, index j (0 unused): the sine's Taylor coefficients after r.
const SIN_COEF: [f64; 9] = [
    0.0,
    -1.0 / 6.0,
    1.0 / 120.0,
    -1.0 / 5_040.0,
    1.0 / 362_880.0,
    -1.0 / 39_916_800.0,
    1.0 / 6_227_020_800.0,
    -1.0 / 1_307_674_368_000.0,
    1.0 / 355_687_428_096_000.0,
];

/// (−1)^j / (2j)!, index j (0 unused): the cosine's Taylor coefficients after 1.
const COS_COEF: [f64; 9] = [
    0.0,
    -1.0 / 2.0,
    1.0 / 24.0,
    -1.0 / 720.0,
    1.0 / 40_320.0,
    -1.0 / 3_628_800.0,
    1.0 / 479_001_600.0,
    -1.0 / 87_178_291_200.0,
    1.0 / 20_922_789_888_000.0,
];

/// e^x without branches: x = k ln 2 + r with |r| ≤ ln2/2 (Cody–Waite, two-part ln 2), e^r by
/// its Taylor polynomial to r¹³ (truncation < 2e-17 relative), 2^k by building the exponent
/// bits. The rounding to k uses the 1.5·2⁵² trick instead of `round` and a float→int
/// conversion, which AVX2 lacks for 64-bit lanes. x is clamped to [−708, 709], so the result
/// is normal; e^−708 ≈ 3e-308 stands for everything smaller, which every caller adds to 1.
#[inline(always)]
fn exp(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 split (fdlibm's ln2_hi, ln2_lo) so that k·LN2_HI is exact for |k| < 2^11.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    const SHIFTER: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
    let x = x.clamp(-708.0, 709.0);
    let shifted = x * LOG2E + SHIFTER;
    let kf = shifted - SHIFTER;
    let k = shifted.to_bits().wrapping_sub(SHIFTER.to_bits()) as i64;
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    // Horner on 1/j!, j = 13 … 0.
    let mut p = 1.0 / 6_227_020_800.0;
    for c in [
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + c;
    }
    p * f64::from_bits(((k + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points() -> Vec<f64> {
        let mut z: Vec<f64> = (-4000..=4000).map(|k| k as f64 / 100.0).collect();
        z.extend([
            0.0, -0.0, 1e-300, -1e-300, 1e-12, -3e-9, 354.0, -354.0, 700.0, -700.0, 720.0, -720.0,
            1e6, -1e6,
        ]);
        z
    }

    #[test]
    fn the_branch_free_exp_matches_libm_to_two_ulps() {
        for x in points().into_iter().filter(|x| x.abs() <= 700.0) {
            let (got, want) = (exp(x), x.exp());
            assert!(
                ((got - want) / want).abs() <= 4.5e-16,
                "exp({x}) = {got}, libm {want}"
            );
        }
    }

    #[test]
    fn the_branch_free_sincos_matches_libm() {
        let mut xs: Vec<f64> = (-200_000..=200_000).map(|k| k as f64 * 7.9e-3).collect();
        xs.extend((0..2000).map(|k| 1.6e6 * (k as f64 / 2000.0)));
        xs.extend([
            0.0,
            -0.0,
            1e-300,
            std::f64::consts::FRAC_PI_2,
            std::f64::consts::PI,
            1e6,
        ]);
        for x in xs {
            let (s, c) = sincos(x);
            let (ws, wc) = x.sin_cos();
            assert!((s - ws).abs() <= 4.5e-16, "sin({x}) = {s}, libm {ws}");
            assert!((c - wc).abs() <= 4.5e-16, "cos({x}) = {c}, libm {wc}");
        }
        assert!(sincos(f64::NAN).0.is_nan() && sincos(f64::INFINITY).1.is_nan());
        // The batch: the same, and libm past the reduction's range.
        let x = [0.3, -2.0e6, 1.0e300, f64::NAN, 123.456];
        let (mut s, mut c) = ([0.0; 5], [0.0; 5]);
        sincos_batch(&x, &mut s, &mut c);
        for k in 0..5 {
            let want = if x[k].abs() <= SINCOS_MAX {
                sincos(x[k])
            } else {
                x[k].sin_cos()
            };
            assert_eq!(s[k].to_bits(), want.0.to_bits(), "{}", x[k]);
            assert_eq!(c[k].to_bits(), want.1.to_bits(), "{}", x[k]);
        }
    }

    /// Every SIMD level gives the same bits, and they are within 2 ulp of 1 (on σ, σ′, σ″
    /// relative to their size, or to the activation's scale ω^r) of the scalar libm-based
    /// `d012`; sine arguments past the reduction's range go through libm.
    #[test]
    fn batches_match_the_scalar_derivatives_on_every_level() {
        let z = points();
        let bias = 0.25;
        for act in [
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Silu,
            Activation::Sine { omega: 30.0 },
            Activation::Sine { omega: 1.0 },
            Activation::Gauss { scale: 0.5 },
            Activation::Gauss { scale: 3.0 },
        ] {
            let scale = match act {
                Activation::Sine { omega } => omega as f64,
                Activation::Gauss { scale } => 2.0 * (scale as f64).powi(2),
                _ => 1.0,
            };
            let n = z.len();
            let mut want = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
            let [w0, w1, w2] = &mut want;
            batch(act, bias, &z, w0, w1, w2);
            for level in Level::supported() {
                let mut got = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
                let [g0, g1, g2] = &mut got;
                let job = Job::Derivatives {
                    act,
                    bias,
                    z: &z,
                    d0: g0,
                    d1: g1,
                    d2: g2,
                };
                dispatch(level, job);
                for r in 0..3 {
                    let same = got[r]
                        .iter()
                        .zip(&want[r])
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{act:?} row {r} differs on {level:?}");
                }
            }
            for (k, &x) in z.iter().enumerate() {
                let scalar = d012(act, x + bias);
                let got = [want[0][k], want[1][k], want[2][k]];
                let exact = [scalar.0, scalar.1, scalar.2];
                for r in 0..3 {
                    let tol = 4.5e-16 * exact[r].abs().max(scale.powi(r as i32)).max(1.0);
                    assert!(
                        (got[r] - exact[r]).abs() <= tol,
                        "{act:?} σ^({r})({}) = {} vs {}",
                        x + bias,
                        got[r],
                        exact[r]
                    );
                }
            }
            // Through the dispatching entry point too.
            let mut d = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
            let [d0, d1, d2] = &mut d;
            d012_batch(act, bias, &z, d0, d1, d2);
            assert_eq!(d[0], want[0]);
        }
    }
}
