//! Vectorized f32 activations, in place: the activations of `model` (tanh, sigmoid, SiLU,
//! ELU, softplus, GELU erf/tanh, sine, cosine, Gaussian, (leaky) ReLU) on slices at SIMD
//! speed, fused with the per-column bias add that follows a GEMM
//! (`values[i] = act(values[i] + bias)`), plus `sincos` for Fourier features. Semantics
//! follow PyTorch (f32 in, f32 out); every result is within a few ulp of the correctly
//! rounded one (`tests/activation_accuracy.rs`, README "Activation kernels"), because the
//! scalar libm call per entry these replace was most of a forward pass on tanh/SiLU networks.
//!
//! Dispatch: AVX-512F, AVX2+FMA or a portable (auto-vectorized) path, detected once and
//! cached in an atomic. Every path runs the same generic kernel (`math`) over a different
//! [`simd::Simd`] back end (`simd`); the ragged tail of a slice is padded into one full
//! vector, so an entry's result does not depend on its position in the slice or on alignment
//! (a batch split differently gives the same values). `*_at(Level, ..)` force a path (tests,
//! benchmarks).
//!
//! No `unsafe` is exposed: SIMD back ends are zero-sized tokens that can only be obtained
//! after the CPU feature check.

mod math;
mod simd;

#[cfg(target_arch = "x86_64")]
use simd::{Avx2, Avx512};
use simd::{Portable, Simd};
use std::sync::atomic::{AtomicU8, Ordering};

/// Largest |x| that sin/cos reduce in SIMD; larger lanes are recomputed in f64.
pub use math::TRIG_FAST_MAX as TRIG_VECTOR_MAX;

/// An activation with its parameters, applied as `act(z)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Identity,
    /// max(z, 0) (NaN propagates).
    Relu,
    /// z > 0 ? z : slope·z
    LeakyRelu {
        slope: f32,
    },
    Tanh,
    /// z·σ(z)
    Silu,
    Sigmoid,
    /// 0.5·z·(1 + erf(z/√2))
    GeluErf,
    /// PyTorch approximate="tanh": 0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))
    GeluTanh,
    /// PyTorch: z when beta·z > threshold, else ln(1 + e^(beta·z))/beta
    Softplus {
        beta: f32,
        threshold: f32,
    },
    /// z > 0 ? z : alpha·(e^z − 1)
    Elu {
        alpha: f32,
    },
    /// sin(omega·z) (omega·z rounded to f32 first, like `torch.sin(omega * z)`)
    Sine {
        omega: f32,
    },
    /// cos(omega·z)
    Cosine {
        omega: f32,
    },
    /// exp(−(s·z)²) (s·z and its square carried in double-f32)
    Gauss {
        s: f32,
    },
}

/// SIMD code path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Portable,
    Avx2,
    Avx512,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Portable, Level::Avx2, Level::Avx512];

    pub fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Avx2 => "avx2+fma",
            Level::Avx512 => "avx512f",
        }
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        let bits = features();
        match self {
            Level::Portable => true,
            Level::Avx2 => bits & F_AVX2 != 0,
            Level::Avx512 => bits & F_AVX512 != 0,
        }
    }

    /// The supported paths, slowest first.
    pub fn supported() -> Vec<Level> {
        Level::ALL
            .into_iter()
            .filter(|l| l.is_supported())
            .collect()
    }
}

const F_INIT: u8 = 1;
const F_AVX2: u8 = 2;
const F_AVX512: u8 = 4;
static FEATURES: AtomicU8 = AtomicU8::new(0);

#[inline]
fn features() -> u8 {
    let f = FEATURES.load(Ordering::Relaxed);
    if f != 0 {
        return f;
    }
    let mut f = F_INIT;
    #[cfg(target_arch = "x86_64")]
    {
        if Avx2::try_new().is_some() {
            f |= F_AVX2;
        }
        if Avx512::try_new().is_some() {
            f |= F_AVX512;
        }
    }
    FEATURES.store(f, Ordering::Relaxed);
    f
}

/// The path used by the functions without `_at` (best supported, cached).
pub fn detected_level() -> Level {
    let f = features();
    if f & F_AVX512 != 0 {
        Level::Avx512
    } else if f & F_AVX2 != 0 {
        Level::Avx2
    } else {
        Level::Portable
    }
}

/// The CPU's model name (`/proc/cpuinfo`), printed beside the detected level wherever a speed
/// is reported: the same kernels run at very different rates on different machines.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

// ------------------------------------------------------------ public API

/// `values[i] = act(values[i] + bias)` on the detected path.
pub fn apply_biased(kind: Kind, bias: f32, values: &mut [f32]) {
    apply_biased_at(detected_level(), kind, bias, values)
}

/// `values[i] = act(values[i])` (no bias add, so −0 stays −0).
pub fn apply(kind: Kind, values: &mut [f32]) {
    // x + (−0) == x for every x, including −0: no bias.
    apply_biased_at(detected_level(), kind, -0.0, values)
}

/// [`apply_biased`] on a forced path. Panics if `level` is not supported.
pub fn apply_biased_at(level: Level, kind: Kind, bias: f32, values: &mut [f32]) {
    assert!(
        level.is_supported(),
        "SIMD level {level:?} not supported by this CPU"
    );
    match level {
        Level::Portable => run(Portable, kind, bias, values),
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => {
            let t = Avx2::try_new().expect("checked");
            // SAFETY: the token proves AVX2 and FMA are available.
            unsafe { run_avx2(t, kind, bias, values) }
        }
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => {
            let t = Avx512::try_new().expect("checked");
            // SAFETY: the token proves AVX-512F is available.
            unsafe { run_avx512(t, kind, bias, values) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!(),
    }
}

/// `cos_out[i] = cos(input[i])`, `sin_out[i] = sin(input[i])` (Fourier
/// features: pass 2π·xG). Panics if the lengths differ.
pub fn sincos(input: &[f32], cos_out: &mut [f32], sin_out: &mut [f32]) {
    sincos_at(detected_level(), input, cos_out, sin_out)
}

/// [`sincos`] on a forced path. Panics if `level` is not supported.
pub fn sincos_at(level: Level, input: &[f32], cos_out: &mut [f32], sin_out: &mut [f32]) {
    assert!(
        level.is_supported(),
        "SIMD level {level:?} not supported by this CPU"
    );
    assert!(input.len() == cos_out.len() && input.len() == sin_out.len());
    match level {
        Level::Portable => run_sincos(Portable, input, cos_out, sin_out),
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => {
            let t = Avx2::try_new().expect("checked");
            // SAFETY: the token proves AVX2 and FMA are available.
            unsafe { sincos_avx2(t, input, cos_out, sin_out) }
        }
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => {
            let t = Avx512::try_new().expect("checked");
            // SAFETY: the token proves AVX-512F is available.
            unsafe { sincos_avx512(t, input, cos_out, sin_out) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!(),
    }
}

// ------------------------------------------------------------ drivers

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2(s: Avx2, kind: Kind, bias: f32, values: &mut [f32]) {
    run(s, kind, bias, values)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn run_avx512(s: Avx512, kind: Kind, bias: f32, values: &mut [f32]) {
    run(s, kind, bias, values)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn sincos_avx2(s: Avx2, input: &[f32], c: &mut [f32], sn: &mut [f32]) {
    run_sincos(s, input, c, sn)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sincos_avx512(s: Avx512, input: &[f32], c: &mut [f32], sn: &mut [f32]) {
    run_sincos(s, input, c, sn)
}

/// One activation as a value: `eval` is `#[inline(always)]` so it is compiled
/// inside the caller's `#[target_feature]` function (closures would not
/// inherit the features of the generic function they are written in).
trait Kernel: Copy {
    fn eval<S: Simd>(self, s: S, x: S::F) -> S::F;
}

macro_rules! kernels {
    ($($name:ident { $($p:ident),* } => |$s:ident, $x:ident| $body:expr;)*) => {
        $(
            #[derive(Clone, Copy)]
            struct $name { $($p: f32),* }
            impl Kernel for $name {
                #[inline(always)]
                fn eval<S: Simd>(self, $s: S, $x: S::F) -> S::F {
                    let Self { $($p),* } = self;
                    $body
                }
            }
        )*
    };
}

kernels! {
    KIdentity {} => |_s, x| x;
    KRelu {} => |s, x| math::relu(s, x);
    KLeaky { slope } => |s, x| math::leaky_relu(s, x, slope);
    KTanh {} => |s, x| math::tanh(s, x);
    KSilu {} => |s, x| math::silu(s, x);
    KSigmoid {} => |s, x| math::sigmoid(s, x);
    KGeluErf {} => |s, x| math::gelu_erf(s, x);
    KGeluTanh {} => |s, x| math::gelu_tanh(s, x);
    KSoftplus { beta, threshold } => |s, x| math::softplus(s, x, beta, threshold);
    KElu { alpha } => |s, x| math::elu(s, x, alpha);
    KSine { omega } => |s, x| math::sin(s, s.mul(s.splat(omega), x));
    KCosine { omega } => |s, x| math::cos(s, s.mul(s.splat(omega), x));
    KGauss { sc } => |s, x| math::gauss(s, x, sc);
}

/// `values[i] = k(values[i] + bias)` on every full vector, then on the
/// zero-padded tail.
#[inline(always)]
fn each<S: Simd, K: Kernel>(s: S, values: &mut [f32], bias: f32, k: K) {
    let b = s.splat(bias);
    // Two vectors per iteration: independent work to hide the latency of
    // the long dependency chains (polynomials, division).
    let mut pairs = values.chunks_exact_mut(2 * S::W);
    for c in &mut pairs {
        let (c0, c1) = c.split_at_mut(S::W);
        let y0 = k.eval(s, s.add(s.load(c0), b));
        let y1 = k.eval(s, s.add(s.load(c1), b));
        s.store(c0, y0);
        s.store(c1, y1);
    }
    let mut chunks = pairs.into_remainder().chunks_exact_mut(S::W);
    for c in &mut chunks {
        let y = k.eval(s, s.add(s.load(c), b));
        s.store(c, y);
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let mut buf = [0.0f32; simd::MAX_W];
        buf[..tail.len()].copy_from_slice(tail);
        let y = k.eval(s, s.add(s.load(&buf), b));
        s.store(&mut buf, y);
        let n = tail.len();
        tail.copy_from_slice(&buf[..n]);
    }
}

#[inline(always)]
fn run<S: Simd>(s: S, kind: Kind, bias: f32, v: &mut [f32]) {
    match kind {
        Kind::Identity => each(s, v, bias, KIdentity {}),
        Kind::Relu => each(s, v, bias, KRelu {}),
        Kind::LeakyRelu { slope } => each(s, v, bias, KLeaky { slope }),
        Kind::Tanh => each(s, v, bias, KTanh {}),
        Kind::Silu => each(s, v, bias, KSilu {}),
        Kind::Sigmoid => each(s, v, bias, KSigmoid {}),
        Kind::GeluErf => each(s, v, bias, KGeluErf {}),
        Kind::GeluTanh => each(s, v, bias, KGeluTanh {}),
        Kind::Softplus { beta, threshold } => each(s, v, bias, KSoftplus { beta, threshold }),
        Kind::Elu { alpha } => each(s, v, bias, KElu { alpha }),
        Kind::Sine { omega } => each(s, v, bias, KSine { omega }),
        Kind::Cosine { omega } => each(s, v, bias, KCosine { omega }),
        Kind::Gauss { s: sc } => each(s, v, bias, KGauss { sc }),
    }
}

#[inline(always)]
fn run_sincos<S: Simd>(s: S, input: &[f32], cos_out: &mut [f32], sin_out: &mut [f32]) {
    let w = S::W;
    let n_full = input.len() / w * w;
    let mut i = 0;
    while i < n_full {
        let (c, sn) = math::sincos(s, s.load(&input[i..]));
        s.store(&mut cos_out[i..], c);
        s.store(&mut sin_out[i..], sn);
        i += w;
    }
    let n = input.len() - n_full;
    if n > 0 {
        let mut buf = [0.0f32; simd::MAX_W];
        buf[..n].copy_from_slice(&input[n_full..]);
        let (c, sn) = math::sincos(s, s.load(&buf));
        let mut cb = [0.0f32; simd::MAX_W];
        s.store(&mut cb, c);
        cos_out[n_full..].copy_from_slice(&cb[..n]);
        s.store(&mut cb, sn);
        sin_out[n_full..].copy_from_slice(&cb[..n]);
    }
}
