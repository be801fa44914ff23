//! The vector math, written once over [`Simd`] and instantiated per back end.
//!
//! Design (all coefficients are Chebyshev near-minimax fits in 50-digit
//! arithmetic, rounded to f32, made when these kernels were written; the
//! accuracy test `tests/activation_accuracy.rs` is what guards them):
//! * `exp`: Cody–Waite reduction a = n·ln2 + r with ln2 in two f32 parts
//!   (the first product is exact under FMA), e^r − 1 = r + r²·Q(r) with Q of
//!   degree 5 on |r| ≤ 0.3473, and 2^n applied in two steps so subnormal
//!   results are rounded once. An optional low part of the argument (double-f32
//!   input) is added to r.
//! * `expm1` reuses the same reduction: 2^n·(e^r − 1) + (2^n − 1).
//! * `tanh` = expm1(2|x|) / (expm1(2|x|) + 2) with the sign restored.
//! * `sigmoid`, `silu`, `gelu_tanh` share `sigmoid_mul`: m·σ(a) evaluated as
//!   m/(1+e^−a) for a ≥ 0 and m·e^a/(1+e^a) for a < 0 (no cancellation, and
//!   the 2^n scaling is applied after multiplying by m so tiny results keep
//!   their precision).
//! * `gelu_tanh` computes its argument 2·√(2/π)·(x + 0.044715·x³) in
//!   double-f32 (error-free products via FMA) because σ of it is
//!   ill-conditioned in the negative tail; x·σ(2z) equals
//!   0.5·x·(1 + tanh(z)) without the cancellation of 1 + tanh.
//! * `gelu_erf` = x·Φ(x) with Φ from erfc(|x|/√2) = e^(−x²/2)·Q(|x|):
//!   Q(u) = erfcx(u/√2) is fitted piecewise (7 intervals, degree 8, selected
//!   by a table lookup on the exponent of u + 2), x² is formed exactly, so the
//!   negative tail keeps full relative accuracy down to underflow.
//! * `softplus` = max(z, 0) + log1p(e^−|z|) with log1p(t) = 2·atanh(t/(2+t))
//!   and an odd polynomial for atanh on [0, 1/3].
//! * `sin`/`cos`: n = round(x·2/π), r = x − n·π/2 with π/2 in three f32
//!   parts (FMA Cody–Waite), odd/even polynomials on |r| ≤ π/4. Lanes with
//!   |x| > [`TRIG_FAST_MAX`] are recomputed in f64 (libm, full range
//!   reduction), so every finite input is handled accurately.
use super::simd::{MAX_W, Simd};
use std::f32::consts::{FRAC_2_PI, FRAC_PI_2, LN_2, LOG2_E};

const MAGIC: f32 = 12582912.0; // 1.5·2^23: adding it rounds to an integer in the low mantissa bits
const NEG0: f32 = -0.0;

/// Largest |x| handled by the vectorized sin/cos reduction; beyond, f64 libm.
pub const TRIG_FAST_MAX: f32 = 1048576.0; // 2^20

#[inline(always)]
fn poly<S: Simd>(s: S, x: S::F, c: &[f32]) -> S::F {
    // Horner, highest degree first.
    let mut acc = s.splat(c[0]);
    for &k in &c[1..] {
        acc = s.fma(acc, x, s.splat(k));
    }
    acc
}

#[inline(always)]
fn neg<S: Simd>(s: S, a: S::F) -> S::F {
    s.xor(a, s.splat(NEG0))
}

/// Clamp to [lo, hi], propagating NaN.
#[inline(always)]
fn clamp<S: Simd>(s: S, x: S::F, lo: f32, hi: f32) -> S::F {
    s.max(s.splat(lo), s.min(s.splat(hi), x))
}

// ------------------------------------------------------------------ exp

// (e^r - 1 - r)/r^2 on |r| <= 0.3473, degree 5.
const EXP_Q: [f32; 6] = [
    0.00019891188,
    0.0013933828,
    0.0083333105,
    0.041666463,
    0.16666667,
    0.5,
];
const LN2_LO: f32 = -1.9046542e-9; // ln 2 - LN_2 (f32)

/// e^(a + lo) = (1 + em)·2^n, returns (1 + em, n, em). a is clamped to
/// [-120, 89] (beyond, the result under/overflows anyway; NaN propagates).
#[inline(always)]
fn exp_parts<S: Simd>(s: S, a: S::F, lo: S::F) -> (S::F, S::I, S::F) {
    exp_parts_in_range(s, clamp(s, a, -120.0, 89.0), lo)
}

/// [`exp_parts`] for a caller that guarantees -120 <= a <= 89 (or NaN): tanh, the hottest
/// kernel, saves the clamp.
#[inline(always)]
fn exp_parts_in_range<S: Simd>(s: S, a: S::F, lo: S::F) -> (S::F, S::I, S::F) {
    let t = s.fma(a, s.splat(LOG2_E), s.splat(MAGIC));
    let nf = s.sub(t, s.splat(MAGIC));
    let n = s.i_sub(s.f_to_bits(t), s.splat_i(MAGIC.to_bits() as i32));
    let r = s.fma(nf, s.splat(-LN_2), a);
    let r = s.fma(nf, s.splat(-LN2_LO), r);
    let r = s.add(r, lo);
    let q = poly(s, r, &EXP_Q);
    let em = s.fma(s.mul(r, r), q, r);
    (s.add(em, s.splat(1.0)), n, em)
}

/// 2^n for -126 <= n <= 128 (128 gives +inf).
#[inline(always)]
fn pow2i<S: Simd>(s: S, n: S::I) -> S::F {
    s.bits_to_f(s.i_shl23(s.i_add(n, s.splat_i(127))))
}

/// y·2^n for -252 <= n <= 254, in two steps so a subnormal result is
/// rounded only once.
#[inline(always)]
fn scale<S: Simd>(s: S, y: S::F, n: S::I) -> S::F {
    let n1 = s.i_sra1(n);
    let n2 = s.i_sub(n, n1);
    s.mul(s.mul(y, pow2i(s, n1)), pow2i(s, n2))
}

#[inline(always)]
fn exp_dd<S: Simd>(s: S, a: S::F, lo: S::F) -> S::F {
    let (p, n, _) = exp_parts(s, a, lo);
    scale(s, p, n)
}

/// e^a - 1, for a <= 80 (NaN propagates).
#[inline(always)]
fn expm1<S: Simd>(s: S, a: S::F) -> S::F {
    let a = s.max(s.splat(-30.0), a);
    let (_, n, em) = exp_parts(s, a, s.splat(NEG0));
    let two = pow2i(s, n);
    s.fma(two, em, s.sub(two, s.splat(1.0)))
}

// ------------------------------------------------------------ functions

#[inline(always)]
pub(crate) fn relu<S: Simd>(s: S, x: S::F) -> S::F {
    // NaN and -0 pass through unchanged.
    s.select(s.lt(x, s.splat(0.0)), s.splat(0.0), x)
}

#[inline(always)]
pub(crate) fn leaky_relu<S: Simd>(s: S, x: S::F, slope: f32) -> S::F {
    s.select(s.gt(x, s.splat(0.0)), x, s.mul(x, s.splat(slope)))
}

#[inline(always)]
pub(crate) fn tanh<S: Simd>(s: S, x: S::F) -> S::F {
    // tanh(9.5) rounds to 1 in f32, so clamping keeps expm1 finite; 2|x| is then in
    // [0, 19], within expm1's range without its clamps.
    let ax = s.min(s.splat(9.5), s.abs(x));
    let (_, n, em) = exp_parts_in_range(s, s.add(ax, ax), s.splat(NEG0));
    let two = pow2i(s, n);
    let em = s.fma(two, em, s.sub(two, s.splat(1.0)));
    let y = s.div(em, s.add(em, s.splat(2.0)));
    s.xor(y, s.and(x, s.splat(NEG0)))
}

/// m·σ(a + lo) (m = 1 when `None`); see the module comment.
#[inline(always)]
fn sigmoid_mul<S: Simd>(s: S, m: Option<S::F>, a: S::F, lo: S::F) -> S::F {
    let is_neg = s.lt(a, s.splat(0.0));
    // exponent -|a + lo|
    let arg = neg(s, s.abs(a));
    let arg_lo = s.select(is_neg, lo, neg(s, lo));
    let (p, n, _) = exp_parts(s, arg, arg_lo);
    let t = scale(s, p, n);
    let d = s.add(s.splat(1.0), t);
    let num = match m {
        None => s.select(is_neg, t, s.splat(1.0)),
        // |m| is capped so that m·p·2^n cannot become inf·0 (the capped
        // value still underflows to the right signed zero).
        Some(m) => s.select(is_neg, scale(s, s.mul(s.max(s.splat(-1e4), m), p), n), m),
    };
    s.div(num, d)
}

#[inline(always)]
pub(crate) fn sigmoid<S: Simd>(s: S, x: S::F) -> S::F {
    sigmoid_mul(s, None, x, s.splat(NEG0))
}

#[inline(always)]
pub(crate) fn silu<S: Simd>(s: S, x: S::F) -> S::F {
    sigmoid_mul(s, Some(x), x, s.splat(NEG0))
}

const KAPPA_HI: f32 = 0.044715;
const KAPPA_LO: f32 = 1.5461444e-9;
const K2_HI: f32 = 1.5957692; // 2·sqrt(2/pi)
const K2_LO: f32 = -4.534068e-8;

#[inline(always)]
pub(crate) fn gelu_tanh<S: Simd>(s: S, x: S::F) -> S::F {
    // Beyond |x| = 12 the result is x or -0 exactly.
    let xc = clamp(s, x, -12.0, 12.0);
    // w = x² (hi, lo)
    let w = s.mul(xc, xc);
    let wl = s.fma(xc, xc, neg(s, w));
    // m = κ·x²
    let kh = s.splat(KAPPA_HI);
    let m = s.mul(kh, w);
    let ml = s.add(
        s.fma(kh, w, neg(s, m)),
        s.fma(kh, wl, s.mul(s.splat(KAPPA_LO), w)),
    );
    // q = 1 + m (two-sum)
    let one = s.splat(1.0);
    let q = s.add(one, m);
    let bb = s.sub(q, one);
    let ql = s.add(s.add(s.sub(one, s.sub(q, bb)), s.sub(m, bb)), ml);
    // y = x·q
    let y = s.mul(xc, q);
    let yl = s.fma(xc, ql, s.fma(xc, q, neg(s, y)));
    // a = 2·sqrt(2/pi)·y
    let k = s.splat(K2_HI);
    let a = s.mul(k, y);
    let al = s.add(
        s.fma(k, y, neg(s, a)),
        s.fma(k, yl, s.mul(s.splat(K2_LO), y)),
    );
    sigmoid_mul(s, Some(x), a, al)
}

// Q(u) = erfc(u/√2)·exp(u²/2), piecewise in v = u - center; interval index
// k from the exponent and first mantissa bit of u + 2: u in [0,1), [1,2),
// [2,4), [4,6), [6,10), [10,14), [14,14.7] (index 7 duplicates 6, unused).
const GELU_CENTER: [f32; 8] = [0.5, 1.5, 3.0, 5.0, 8.0, 12.0, 14.4, 14.4];
#[rustfmt::skip]
const GELU_Q: [[f32; 8]; 9] = [
    [0.00067383435, 5.5818724e-05, 2.7803085e-6, 1.1287396e-7, 3.5968908e-9, 1.2202181e-10, 2.440707e-11, 2.440707e-11],
    [-0.002157194, -0.00021176698, -1.3457338e-05, -7.219314e-7, -3.2414793e-8, -1.5512039e-9, -3.6605155e-10, -3.6605155e-10],
    [0.0061538727, 0.0007366042, 5.6850702e-05, 4.27012e-6, 2.5648953e-7, 1.8504943e-8, 5.457646e-9, 5.457646e-9],
    [-0.017378854, -0.0025310921, -0.00025580605, -2.612828e-05, -2.2534036e-6, -2.3230959e-7, -8.114835e-8, -8.114835e-8],
    [0.04565979, 0.00822072, 0.0011124759, 0.00015643542, 1.9658679e-05, 2.9019643e-6, 1.2012831e-6, 1.2012831e-6],
    [-0.109831326, -0.024994085, -0.0046212436, -0.00091296626, -0.00016859072, -3.598642e-05, -1.7704218e-05, -1.7704218e-05],
    [0.23755239, 0.070373744, 0.018312639, 0.005190527, 0.0014272602, 0.0004434414, 0.0002597459, 0.0002597459],
    [-0.4482657, -0.18054256, -0.06880085, -0.02869151, -0.011923818, -0.005429255, -0.0037934533, -0.0037934533],
    [0.69923764, 0.41156134, 0.2430279, 0.1538386, 0.09824509, 0.066037945, 0.05514522, 0.05514522],
];

#[inline(always)]
pub(crate) fn gelu_erf<S: Simd>(s: S, x: S::F) -> S::F {
    // Beyond |x| = 14.7 the result is x or -0 exactly.
    let xc = clamp(s, x, -14.7, 14.7);
    let u = s.abs(xc);
    let k = s.i_and(
        s.i_sub(
            s.i_srl22(s.f_to_bits(s.add(u, s.splat(2.0)))),
            s.splat_i(256),
        ),
        s.splat_i(7),
    );
    let v = s.sub(u, s.lookup8(&GELU_CENTER, k));
    let mut q = s.lookup8(&GELU_Q[0], k);
    for row in &GELU_Q[1..] {
        q = s.fma(q, v, s.lookup8(row, k));
    }
    // e^(-x²/2) with x² exact (hi + lo)
    let h = s.mul(u, u);
    let hl = s.fma(u, u, neg(s, h));
    let half = s.splat(-0.5);
    let (p, n, _) = exp_parts(s, s.mul(h, half), s.mul(hl, half));
    // x·Φ(x): Φ = erfc/2 for x <= 0, 1 - erfc/2 for x > 0
    let xa = s.mul(xc, s.mul(s.splat(0.5), q));
    let neg_branch = scale(s, s.mul(xa, p), n);
    let pos_branch = s.fma(neg(s, xa), scale(s, p, n), x);
    s.select(s.le(x, s.splat(0.0)), neg_branch, pos_branch)
}

// (2·atanh(√u) - 2√u)/u^1.5 on u in [0, 1/9], degree 4.
const LOG1P_P: [f32; 5] = [0.2322433, 0.21706575, 0.28592357, 0.39999706, 0.6666667];

#[inline(always)]
pub(crate) fn softplus<S: Simd>(s: S, x: S::F, beta: f32, threshold: f32) -> S::F {
    let z = s.mul(s.splat(beta), x);
    let t = exp_dd(s, neg(s, s.abs(z)), s.splat(NEG0));
    // log1p(t), t in [0, 1]
    let sd = s.div(t, s.add(s.splat(2.0), t));
    let u = s.mul(sd, sd);
    let l = s.fma(s.mul(sd, u), poly(s, u, &LOG1P_P), s.add(sd, sd));
    let y = s.div(s.add(s.max(s.splat(0.0), z), l), s.splat(beta));
    s.select(s.gt(z, s.splat(threshold)), x, y)
}

#[inline(always)]
pub(crate) fn elu<S: Simd>(s: S, x: S::F, alpha: f32) -> S::F {
    let al = s.splat(alpha);
    let y = s.mul(al, expm1(s, s.min(s.splat(0.0), x)));
    // keep the sign of zero: alpha·(±0)
    let y = s.select(s.eq(x, s.splat(0.0)), s.mul(al, x), y);
    s.select(s.gt(x, s.splat(0.0)), x, y)
}

#[inline(always)]
pub(crate) fn gauss<S: Simd>(s: S, x: S::F, sc: f32) -> S::F {
    // (s·x)² in double-f32 so e^-(s x)² keeps full relative accuracy.
    let sv = s.splat(sc);
    let th = s.mul(sv, x);
    let tl = s.fma(sv, x, neg(s, th));
    let h = s.mul(th, th);
    let hl = s.fma(s.add(th, th), tl, s.fma(th, th, neg(s, h)));
    // For huge or infinite s·x, tl may be NaN; the result is 0 anyway.
    let hl = s.select(s.lt(h, s.splat(1e4)), hl, s.splat(0.0));
    exp_dd(s, neg(s, h), neg(s, hl))
}

// ------------------------------------------------------------ sin / cos

// (sin r - r)/r³ and (cos r - 1 + r²/2)/r⁴ as polynomials in u = r², |r| <= 1.001·π/4.
const SIN_S: [f32; 4] = [2.7249314e-6, -0.00019840083, 0.008333332, -0.16666667];
const COS_C: [f32; 4] = [-2.7300447e-7, 2.4800596e-05, -0.0013888888, 0.041666668];
const PIO2_2: f32 = -4.371139e-8;
const PIO2_3: f32 = -1.7151245e-15;

/// (sin r, cos r, n) with x = n·π/2 + r.
#[inline(always)]
fn sincos_core<S: Simd>(s: S, x: S::F) -> (S::F, S::F, S::I) {
    let t = s.fma(x, s.splat(FRAC_2_PI), s.splat(MAGIC));
    let nf = s.sub(t, s.splat(MAGIC));
    let n = s.i_sub(s.f_to_bits(t), s.splat_i(MAGIC.to_bits() as i32));
    let r = s.fma(nf, s.splat(-FRAC_PI_2), x);
    let r = s.fma(nf, s.splat(-PIO2_2), r);
    let r = s.fma(nf, s.splat(-PIO2_3), r);
    let u = s.mul(r, r);
    let sr = s.fma(s.mul(r, u), poly(s, u, &SIN_S), r);
    let cr = s.fma(u, s.fma(u, poly(s, u, &COS_C), s.splat(-0.5)), s.splat(1.0));
    (sr, cr, n)
}

/// sin(n·π/2 + r) from sin r, cos r.
#[inline(always)]
fn quadrant<S: Simd>(s: S, sr: S::F, cr: S::F, n: S::I) -> S::F {
    let odd = s.i_eq(s.i_and(n, s.splat_i(1)), s.splat_i(1));
    let base = s.select(odd, cr, sr);
    let sign = s.bits_to_f(s.i_and(s.i_shl30(n), s.splat_i(i32::MIN)));
    s.xor(base, sign)
}

/// Lanes with |x| > TRIG_FAST_MAX (and ±inf) are recomputed in f64.
#[inline(always)]
fn fix_big<S: Simd>(s: S, x: S::F, y: S::F, f: fn(f64) -> f64) -> S::F {
    if s.any(s.gt(s.abs(x), s.splat(TRIG_FAST_MAX))) {
        let mut xs = [0.0f32; MAX_W];
        let mut ys = [0.0f32; MAX_W];
        s.store(&mut xs, x);
        s.store(&mut ys, y);
        fix_lanes(&xs[..S::W], &mut ys[..S::W], f);
        s.load(&ys)
    } else {
        y
    }
}

#[cold]
#[inline(never)]
fn fix_lanes(xs: &[f32], ys: &mut [f32], f: fn(f64) -> f64) {
    for (x, y) in xs.iter().zip(ys.iter_mut()) {
        if x.abs() > TRIG_FAST_MAX {
            *y = f(*x as f64) as f32;
        }
    }
}

#[inline(always)]
pub(crate) fn sin<S: Simd>(s: S, x: S::F) -> S::F {
    let (sr, cr, n) = sincos_core(s, x);
    let y = quadrant(s, sr, cr, n);
    // sin x = x exactly in f32 for |x| < 2^-12 (also keeps the sign of zero).
    let y = s.select(s.lt(s.abs(x), s.splat(2.4414062e-4)), x, y);
    fix_big(s, x, y, f64::sin)
}

#[inline(always)]
pub(crate) fn cos<S: Simd>(s: S, x: S::F) -> S::F {
    let (sr, cr, n) = sincos_core(s, x);
    let y = quadrant(s, sr, cr, s.i_add(n, s.splat_i(1)));
    fix_big(s, x, y, f64::cos)
}

/// (cos x, sin x)
#[inline(always)]
pub(crate) fn sincos<S: Simd>(s: S, x: S::F) -> (S::F, S::F) {
    let (sr, cr, n) = sincos_core(s, x);
    let sn = quadrant(s, sr, cr, n);
    let sn = s.select(s.lt(s.abs(x), s.splat(2.4414062e-4)), x, sn);
    let cs = quadrant(s, sr, cr, s.i_add(n, s.splat_i(1)));
    (fix_big(s, x, cs, f64::cos), fix_big(s, x, sn, f64::sin))
}
