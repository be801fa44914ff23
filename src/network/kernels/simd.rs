//! A minimal SIMD vocabulary shared by every dispatch path.
//!
//! The math in `math.rs` is written once, generically over [`Simd`], and
//! instantiated for three back ends:
//! * [`Portable`]: plain arrays of 8 lanes; LLVM auto-vectorizes it for the
//!   baseline target (SSE2 on x86-64, NEON on aarch64).
//! * [`Avx2`]: `__m256` with AVX2 + FMA.
//! * [`Avx512`]: `__m512` with AVX-512F.
//!
//! A back end value is a zero-sized *token*: holding one proves the CPU
//! supports its instructions (the only constructors check, or are `unsafe`),
//! which is what makes the `unsafe` intrinsic calls below sound. All methods
//! are `#[inline(always)]` so that, once inlined into a function compiled with
//! `#[target_feature(enable = ...)]`, the intrinsics become single
//! instructions.
//!
//! Semantics every back end must follow exactly (the kernels rely on them):
//! * `fma(a, b, c)` = a·b + c with one rounding (the portable path emulates
//!   it in f64 where the target has no FMA; see `Portable::fma`).
//! * `min(a, b)` = `if a < b { a } else { b }`, `max(a, b)` =
//!   `if a > b { a } else { b }` (x86 `minps`/`maxps`): a NaN in `b` is
//!   returned, so `min(splat(c), x)` propagates NaN in `x`.
//! * comparisons are ordered (false when either side is NaN).

/// Largest vector width of any back end (for stack tail buffers).
pub(crate) const MAX_W: usize = 16;

pub(crate) trait Simd: Copy {
    /// Vector of f32.
    type F: Copy;
    /// Vector of i32 (same lane count).
    type I: Copy;
    /// Lane mask.
    type M: Copy;
    /// Lanes per vector.
    const W: usize;

    fn splat(self, v: f32) -> Self::F;
    fn splat_i(self, v: i32) -> Self::I;
    /// Loads the first `W` values of `s` (panics if shorter).
    fn load(self, s: &[f32]) -> Self::F;
    /// Stores into the first `W` values of `s` (panics if shorter).
    fn store(self, s: &mut [f32], v: Self::F);

    fn add(self, a: Self::F, b: Self::F) -> Self::F;
    fn sub(self, a: Self::F, b: Self::F) -> Self::F;
    fn mul(self, a: Self::F, b: Self::F) -> Self::F;
    fn div(self, a: Self::F, b: Self::F) -> Self::F;
    fn fma(self, a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    fn min(self, a: Self::F, b: Self::F) -> Self::F;
    fn max(self, a: Self::F, b: Self::F) -> Self::F;
    fn abs(self, a: Self::F) -> Self::F;
    fn xor(self, a: Self::F, b: Self::F) -> Self::F;
    fn and(self, a: Self::F, b: Self::F) -> Self::F;

    fn lt(self, a: Self::F, b: Self::F) -> Self::M;
    fn le(self, a: Self::F, b: Self::F) -> Self::M;
    fn gt(self, a: Self::F, b: Self::F) -> Self::M;
    fn eq(self, a: Self::F, b: Self::F) -> Self::M;
    /// `m ? a : b` per lane.
    fn select(self, m: Self::M, a: Self::F, b: Self::F) -> Self::F;
    fn any(self, m: Self::M) -> bool;

    fn f_to_bits(self, a: Self::F) -> Self::I;
    fn bits_to_f(self, a: Self::I) -> Self::F;
    fn i_add(self, a: Self::I, b: Self::I) -> Self::I;
    fn i_sub(self, a: Self::I, b: Self::I) -> Self::I;
    fn i_and(self, a: Self::I, b: Self::I) -> Self::I;
    fn i_shl23(self, a: Self::I) -> Self::I;
    fn i_shl30(self, a: Self::I) -> Self::I;
    /// Arithmetic shift right by 1.
    fn i_sra1(self, a: Self::I) -> Self::I;
    /// Logical shift right by 22.
    fn i_srl22(self, a: Self::I) -> Self::I;
    fn i_eq(self, a: Self::I, b: Self::I) -> Self::M;
    /// `t[idx & 7]` per lane; callers guarantee `0 <= idx < 8`.
    fn lookup8(self, t: &[f32; 8], idx: Self::I) -> Self::F;
}

// ---------------------------------------------------------------- portable

/// Portable back end: 8 lanes as arrays, element-wise loops.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Portable;

const PW: usize = 8;

#[inline(always)]
fn map1<T: Copy, U: Copy + Default>(a: [T; PW], f: impl Fn(T) -> U) -> [U; PW] {
    let mut o = [U::default(); PW];
    for i in 0..PW {
        o[i] = f(a[i]);
    }
    o
}

#[inline(always)]
fn map2<T: Copy, U: Copy + Default>(a: [T; PW], b: [T; PW], f: impl Fn(T, T) -> U) -> [U; PW] {
    let mut o = [U::default(); PW];
    for i in 0..PW {
        o[i] = f(a[i], b[i]);
    }
    o
}

impl Simd for Portable {
    type F = [f32; PW];
    type I = [i32; PW];
    type M = [bool; PW];
    const W: usize = PW;

    #[inline(always)]
    fn splat(self, v: f32) -> Self::F {
        [v; PW]
    }
    #[inline(always)]
    fn splat_i(self, v: i32) -> Self::I {
        [v; PW]
    }
    #[inline(always)]
    fn load(self, s: &[f32]) -> Self::F {
        let mut o = [0.0; PW];
        o.copy_from_slice(&s[..PW]);
        o
    }
    #[inline(always)]
    fn store(self, s: &mut [f32], v: Self::F) {
        s[..PW].copy_from_slice(&v);
    }
    #[inline(always)]
    fn add(self, a: Self::F, b: Self::F) -> Self::F {
        map2(a, b, |x, y| x + y)
    }
    #[inline(always)]
    fn sub(self, a: Self::F, b: Self::F) -> Self::F {
        map2(a, b, |x, y| x - y)
    }
    #[inline(always)]
    fn mul(self, a: Self::F, b: Self::F) -> Self::F {
        map2(a, b, |x, y| x * y)
    }
    #[inline(always)]
    fn div(self, a: Self::F, b: Self::F) -> Self::F {
        map2(a, b, |x, y| x / y)
    }
    #[inline(always)]
    fn fma(self, a: Self::F, b: Self::F, c: Self::F) -> Self::F {
        let mut o = [0.0; PW];
        for i in 0..PW {
            o[i] = fma1(a[i], b[i], c[i]);
        }
        o
    }
    #[inline(always)]
    fn min(self, a: Self::F, b: Self::F) -> Self::F {
        map2(a, b, |x, y| if x < y { x } else { y })
    }
    #[inline(always)]
    fn max(self, a: Self::F, b: Self::F) -> Self::F {
        map2(a, b, |x, y| if x > y { x } else { y })
    }
    #[inline(always)]
    fn abs(self, a: Self::F) -> Self::F {
        map1(a, f32::abs)
    }
    #[inline(always)]
    fn xor(self, a: Self::F, b: Self::F) -> Self::F {
        map2(a, b, |x, y| f32::from_bits(x.to_bits() ^ y.to_bits()))
    }
    #[inline(always)]
    fn and(self, a: Self::F, b: Self::F) -> Self::F {
        map2(a, b, |x, y| f32::from_bits(x.to_bits() & y.to_bits()))
    }
    #[inline(always)]
    fn lt(self, a: Self::F, b: Self::F) -> Self::M {
        map2(a, b, |x, y| x < y)
    }
    #[inline(always)]
    fn le(self, a: Self::F, b: Self::F) -> Self::M {
        map2(a, b, |x, y| x <= y)
    }
    #[inline(always)]
    fn gt(self, a: Self::F, b: Self::F) -> Self::M {
        map2(a, b, |x, y| x > y)
    }
    #[inline(always)]
    fn eq(self, a: Self::F, b: Self::F) -> Self::M {
        map2(a, b, |x, y| x == y)
    }
    #[inline(always)]
    fn select(self, m: Self::M, a: Self::F, b: Self::F) -> Self::F {
        let mut o = [0.0; PW];
        for i in 0..PW {
            o[i] = if m[i] { a[i] } else { b[i] };
        }
        o
    }
    #[inline(always)]
    fn any(self, m: Self::M) -> bool {
        m.iter().any(|&b| b)
    }
    #[inline(always)]
    fn f_to_bits(self, a: Self::F) -> Self::I {
        map1(a, |x| x.to_bits() as i32)
    }
    #[inline(always)]
    fn bits_to_f(self, a: Self::I) -> Self::F {
        map1(a, |x| f32::from_bits(x as u32))
    }
    #[inline(always)]
    fn i_add(self, a: Self::I, b: Self::I) -> Self::I {
        map2(a, b, i32::wrapping_add)
    }
    #[inline(always)]
    fn i_sub(self, a: Self::I, b: Self::I) -> Self::I {
        map2(a, b, i32::wrapping_sub)
    }
    #[inline(always)]
    fn i_and(self, a: Self::I, b: Self::I) -> Self::I {
        map2(a, b, |x, y| x & y)
    }
    #[inline(always)]
    fn i_shl23(self, a: Self::I) -> Self::I {
        map1(a, |x| ((x as u32) << 23) as i32)
    }
    #[inline(always)]
    fn i_shl30(self, a: Self::I) -> Self::I {
        map1(a, |x| ((x as u32) << 30) as i32)
    }
    #[inline(always)]
    fn i_sra1(self, a: Self::I) -> Self::I {
        map1(a, |x| x >> 1)
    }
    #[inline(always)]
    fn i_srl22(self, a: Self::I) -> Self::I {
        map1(a, |x| ((x as u32) >> 22) as i32)
    }
    #[inline(always)]
    fn i_eq(self, a: Self::I, b: Self::I) -> Self::M {
        map2(a, b, |x, y| x == y)
    }
    #[inline(always)]
    fn lookup8(self, t: &[f32; 8], idx: Self::I) -> Self::F {
        map1(idx, |i| t[(i & 7) as usize])
    }
}

/// Fused multiply-add for the portable path.
///
/// With hardware FMA in the baseline target this is `f32::mul_add`. Without
/// it (x86-64 baseline), `f32::mul_add` would be a slow libm call, so it is
/// emulated in f64: the product of two f32 is exact in f64, and the kernels
/// only need exactness in cases where a·b + c is itself representable in
/// f64 (range-reduction steps, error-free products), which this gives; in
/// other cases it may differ from a true FMA by a double rounding (≤ 1 ulp
/// of f32, rare), which is within the accuracy bounds.
#[inline(always)]
fn fma1(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(any(target_feature = "fma", target_arch = "aarch64"))]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(any(target_feature = "fma", target_arch = "aarch64")))]
    {
        (a as f64 * b as f64 + c as f64) as f32
    }
}

// ---------------------------------------------------------------- AVX2

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Simd;
    use std::arch::x86_64::*;

    /// AVX2 + FMA token.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx2(());

    impl Avx2 {
        pub(crate) fn try_new() -> Option<Self> {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                Some(Avx2(()))
            } else {
                None
            }
        }
    }

    // SAFETY (whole impl): an `Avx2` value exists only if `try_new` saw AVX2
    // and FMA on this CPU, so calling these intrinsics is sound.
    impl Simd for Avx2 {
        type F = __m256;
        type I = __m256i;
        type M = __m256;
        const W: usize = 8;

        #[inline(always)]
        fn splat(self, v: f32) -> __m256 {
            unsafe { _mm256_set1_ps(v) }
        }
        #[inline(always)]
        fn splat_i(self, v: i32) -> __m256i {
            unsafe { _mm256_set1_epi32(v) }
        }
        #[inline(always)]
        fn load(self, s: &[f32]) -> __m256 {
            assert!(s.len() >= 8);
            unsafe { _mm256_loadu_ps(s.as_ptr()) }
        }
        #[inline(always)]
        fn store(self, s: &mut [f32], v: __m256) {
            assert!(s.len() >= 8);
            unsafe { _mm256_storeu_ps(s.as_mut_ptr(), v) }
        }
        #[inline(always)]
        fn add(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_sub_ps(a, b) }
        }
        #[inline(always)]
        fn mul(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_mul_ps(a, b) }
        }
        #[inline(always)]
        fn div(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_div_ps(a, b) }
        }
        #[inline(always)]
        fn fma(self, a: __m256, b: __m256, c: __m256) -> __m256 {
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        fn min(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_min_ps(a, b) }
        }
        #[inline(always)]
        fn max(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_max_ps(a, b) }
        }
        #[inline(always)]
        fn abs(self, a: __m256) -> __m256 {
            unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), a) }
        }
        #[inline(always)]
        fn xor(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_xor_ps(a, b) }
        }
        #[inline(always)]
        fn and(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_and_ps(a, b) }
        }
        #[inline(always)]
        fn lt(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(a, b) }
        }
        #[inline(always)]
        fn le(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_cmp_ps::<_CMP_LE_OQ>(a, b) }
        }
        #[inline(always)]
        fn gt(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_cmp_ps::<_CMP_GT_OQ>(a, b) }
        }
        #[inline(always)]
        fn eq(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_cmp_ps::<_CMP_EQ_OQ>(a, b) }
        }
        #[inline(always)]
        fn select(self, m: __m256, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_blendv_ps(b, a, m) }
        }
        #[inline(always)]
        fn any(self, m: __m256) -> bool {
            unsafe { _mm256_movemask_ps(m) != 0 }
        }
        #[inline(always)]
        fn f_to_bits(self, a: __m256) -> __m256i {
            unsafe { _mm256_castps_si256(a) }
        }
        #[inline(always)]
        fn bits_to_f(self, a: __m256i) -> __m256 {
            unsafe { _mm256_castsi256_ps(a) }
        }
        #[inline(always)]
        fn i_add(self, a: __m256i, b: __m256i) -> __m256i {
            unsafe { _mm256_add_epi32(a, b) }
        }
        #[inline(always)]
        fn i_sub(self, a: __m256i, b: __m256i) -> __m256i {
            unsafe { _mm256_sub_epi32(a, b) }
        }
        #[inline(always)]
        fn i_and(self, a: __m256i, b: __m256i) -> __m256i {
            unsafe { _mm256_and_si256(a, b) }
        }
        #[inline(always)]
        fn i_shl23(self, a: __m256i) -> __m256i {
            unsafe { _mm256_slli_epi32::<23>(a) }
        }
        #[inline(always)]
        fn i_shl30(self, a: __m256i) -> __m256i {
            unsafe { _mm256_slli_epi32::<30>(a) }
        }
        #[inline(always)]
        fn i_sra1(self, a: __m256i) -> __m256i {
            unsafe { _mm256_srai_epi32::<1>(a) }
        }
        #[inline(always)]
        fn i_srl22(self, a: __m256i) -> __m256i {
            unsafe { _mm256_srli_epi32::<22>(a) }
        }
        #[inline(always)]
        fn i_eq(self, a: __m256i, b: __m256i) -> __m256 {
            unsafe { _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b)) }
        }
        #[inline(always)]
        fn lookup8(self, t: &[f32; 8], idx: __m256i) -> __m256 {
            unsafe { _mm256_permutevar8x32_ps(_mm256_loadu_ps(t.as_ptr()), idx) }
        }
    }

    // ------------------------------------------------------------ AVX-512

    /// AVX-512F token.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx512(());

    impl Avx512 {
        pub(crate) fn try_new() -> Option<Self> {
            if is_x86_feature_detected!("avx512f") {
                Some(Avx512(()))
            } else {
                None
            }
        }
    }

    // SAFETY (whole impl): an `Avx512` value exists only if `try_new` saw
    // AVX-512F on this CPU. Only AVX-512F intrinsics are used (float bit ops
    // go through the integer domain because `_mm512_xor_ps` needs DQ).
    impl Simd for Avx512 {
        type F = __m512;
        type I = __m512i;
        type M = __mmask16;
        const W: usize = 16;

        #[inline(always)]
        fn splat(self, v: f32) -> __m512 {
            unsafe { _mm512_set1_ps(v) }
        }
        #[inline(always)]
        fn splat_i(self, v: i32) -> __m512i {
            unsafe { _mm512_set1_epi32(v) }
        }
        #[inline(always)]
        fn load(self, s: &[f32]) -> __m512 {
            assert!(s.len() >= 16);
            unsafe { _mm512_loadu_ps(s.as_ptr()) }
        }
        #[inline(always)]
        fn store(self, s: &mut [f32], v: __m512) {
            assert!(s.len() >= 16);
            unsafe { _mm512_storeu_ps(s.as_mut_ptr(), v) }
        }
        #[inline(always)]
        fn add(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_sub_ps(a, b) }
        }
        #[inline(always)]
        fn mul(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        fn div(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_div_ps(a, b) }
        }
        #[inline(always)]
        fn fma(self, a: __m512, b: __m512, c: __m512) -> __m512 {
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        fn min(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_min_ps(a, b) }
        }
        #[inline(always)]
        fn max(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_max_ps(a, b) }
        }
        #[inline(always)]
        fn abs(self, a: __m512) -> __m512 {
            unsafe { _mm512_abs_ps(a) }
        }
        #[inline(always)]
        fn xor(self, a: __m512, b: __m512) -> __m512 {
            unsafe {
                _mm512_castsi512_ps(_mm512_xor_si512(
                    _mm512_castps_si512(a),
                    _mm512_castps_si512(b),
                ))
            }
        }
        #[inline(always)]
        fn and(self, a: __m512, b: __m512) -> __m512 {
            unsafe {
                _mm512_castsi512_ps(_mm512_and_si512(
                    _mm512_castps_si512(a),
                    _mm512_castps_si512(b),
                ))
            }
        }
        #[inline(always)]
        fn lt(self, a: __m512, b: __m512) -> __mmask16 {
            unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b) }
        }
        #[inline(always)]
        fn le(self, a: __m512, b: __m512) -> __mmask16 {
            unsafe { _mm512_cmp_ps_mask::<_CMP_LE_OQ>(a, b) }
        }
        #[inline(always)]
        fn gt(self, a: __m512, b: __m512) -> __mmask16 {
            unsafe { _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b) }
        }
        #[inline(always)]
        fn eq(self, a: __m512, b: __m512) -> __mmask16 {
            unsafe { _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a, b) }
        }
        #[inline(always)]
        fn select(self, m: __mmask16, a: __m512, b: __m512) -> __m512 {
            // blend picks the second operand where the mask bit is set.
            unsafe { _mm512_mask_blend_ps(m, b, a) }
        }
        #[inline(always)]
        fn any(self, m: __mmask16) -> bool {
            m != 0
        }
        #[inline(always)]
        fn f_to_bits(self, a: __m512) -> __m512i {
            unsafe { _mm512_castps_si512(a) }
        }
        #[inline(always)]
        fn bits_to_f(self, a: __m512i) -> __m512 {
            unsafe { _mm512_castsi512_ps(a) }
        }
        #[inline(always)]
        fn i_add(self, a: __m512i, b: __m512i) -> __m512i {
            unsafe { _mm512_add_epi32(a, b) }
        }
        #[inline(always)]
        fn i_sub(self, a: __m512i, b: __m512i) -> __m512i {
            unsafe { _mm512_sub_epi32(a, b) }
        }
        #[inline(always)]
        fn i_and(self, a: __m512i, b: __m512i) -> __m512i {
            unsafe { _mm512_and_si512(a, b) }
        }
        #[inline(always)]
        fn i_shl23(self, a: __m512i) -> __m512i {
            unsafe { _mm512_slli_epi32::<23>(a) }
        }
        #[inline(always)]
        fn i_shl30(self, a: __m512i) -> __m512i {
            unsafe { _mm512_slli_epi32::<30>(a) }
        }
        #[inline(always)]
        fn i_sra1(self, a: __m512i) -> __m512i {
            unsafe { _mm512_srai_epi32::<1>(a) }
        }
        #[inline(always)]
        fn i_srl22(self, a: __m512i) -> __m512i {
            unsafe { _mm512_srli_epi32::<22>(a) }
        }
        #[inline(always)]
        fn i_eq(self, a: __m512i, b: __m512i) -> __mmask16 {
            unsafe { _mm512_cmpeq_epi32_mask(a, b) }
        }
        #[inline(always)]
        fn lookup8(self, t: &[f32; 8], idx: __m512i) -> __m512 {
            // Table in lanes 0..8 (upper lanes zero); idx < 8 never reaches them.
            unsafe {
                let v = _mm512_zextps256_ps512(_mm256_loadu_ps(t.as_ptr()));
                _mm512_permutexvar_ps(idx, v)
            }
        }
    }
}
