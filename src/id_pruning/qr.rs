//! Column-pivoted Householder QR (Businger–Golub) that stops at the numerical rank, and the
//! interpolative decomposition (ID) built from it (SPEC §2.1 step 3).
//!
//! The reference is LAPACK's `sgeqp3` (SciPy, float32), whose ranks we must reproduce, so the
//! pivot rule and the column-norm downdating follow `xLAQPS`/`xLAQP2` (LAPACK Working Note 176):
//! pivot = first column of largest partial norm; norms downdated after each step and
//! recomputed from the updated column when cancellation makes the downdate unreliable.
//!
//! For speed the factorization is left-looking within blocks, as `xLAQPS`: the trailing columns
//! are not touched by each reflector; instead the matrix F (n × block) accumulates what the
//! block's reflectors would do, and only the pivot row and the pivot column are brought up to
//! date at each step. One step then reads the trailing matrix once (a matrix–vector product),
//! half the work of an eager (right-looking) step, and computing |R_jj| of the next pivot costs
//! only O(m·j): we stop there, before paying for the step, once |R_jj| < epsilon·|R_00|. A
//! block that ends before the rank is reached is flushed by one GEMM, as LAPACK does.

use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::solve_upper_triangular_in_place;
use faer::traits::pulp::{Arch, Simd, WithSimd};
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// Reflectors per block before the trailing matrix is updated by a GEMM (LAPACK's `nb`).
/// Ranks seen in practice are below it, so a typical element never pays for a flush.
const BLOCK: usize = 32;

/// A ≈ A[:, pivots] · t, with A of size m × n.
#[derive(Clone, Debug)]
pub struct InterpolativeDecomposition {
    /// k: the number of leading |R_jj| ≥ epsilon·|R_00|, in 1 ..= min(m, n).
    pub rank: usize,
    /// The first `rank` pivot columns of A, in pivot order (the skeleton columns I).
    pub pivots: Vec<usize>,
    /// T = [Id_k | R11⁻¹ R12] Pᵀ, of size rank × n: column pivots[i] is e_i.
    pub t: Mat<f32>,
    /// |R_jj| for every step taken: the first `rank` and, when the factorization stopped
    /// early, the one that fell below the tolerance.
    pub r_diag: Vec<f32>,
    /// Floating-point operations the factorization and the solve did (for GFLOP/s).
    pub flops: f64,
}

/// Whether the factorization stops at the rank or runs to min(m, n) steps (for benchmarks and
/// tests: the rank, pivots and T are the same either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopping {
    AtRank,
    Never,
}

/// Buffers reused across factorizations, so scoring many elements does not allocate per layer.
#[derive(Debug, Default)]
pub struct QrWorkspace {
    /// The matrix being factored, column-major with leading dimension m.
    a: Vec<f32>,
    /// F, n × BLOCK column-major: F(c, i) = what reflector i of the block does to column c.
    f: Vec<f32>,
    /// Partial column norms (LAPACK's VN1) and their values at the last recomputation (VN2).
    vn1: Vec<f32>,
    vn2: Vec<f32>,
    /// Column permutation: column j of the working matrix is column perm[j] of A.
    perm: Vec<usize>,
    /// Scratch of length max(m, n).
    scratch: Vec<f32>,
}

impl QrWorkspace {
    pub fn new() -> QrWorkspace {
        QrWorkspace::default()
    }
}

/// The ID of `a` (rows = samples, columns = neurons) with tolerance `epsilon`, from a
/// column-pivoted QR, A P = Q R, in the caller's workspace (scoring reuses one per thread, so
/// it does not allocate per element).
///
/// The rank k is the number of leading diagonal entries with |R_jj| ≥ epsilon·|R_00|, never
/// less than 1. Degenerate inputs: an all-zero matrix (also one with no rows) gives k = 1, the
/// first column, and T = [1 0 … 0] (A = A[:, 0]·T holds exactly); a matrix with no columns
/// gives k = 0 and an empty T.
pub fn interpolative_decomposition(
    a: MatRef<'_, f32>,
    epsilon: f32,
    stopping: Stopping,
    ws: &mut QrWorkspace,
) -> InterpolativeDecomposition {
    let (m, n) = (a.nrows(), a.ncols());
    if n == 0 {
        return InterpolativeDecomposition {
            rank: 0,
            pivots: Vec::new(),
            t: Mat::zeros(0, 0),
            r_diag: Vec::new(),
            flops: 0.0,
        };
    }
    if m == 0 {
        return zero_matrix_id(n, 0, Vec::new(), 0.0);
    }
    let factored = Arch::new().dispatch(FactorOp {
        a,
        epsilon,
        stopping,
        ws,
    });
    let k = factored.rank;
    let pivots = ws.perm[..k].to_vec();
    if factored.zero_matrix {
        return zero_matrix_id(n, pivots[0], factored.r_diag, factored.flops);
    }
    let t = interpolation_matrix(ws, m, n, k);
    let solve_flops = (k * k) as f64 * (n - k) as f64;
    InterpolativeDecomposition {
        rank: k,
        pivots,
        t,
        r_diag: factored.r_diag,
        flops: factored.flops + solve_flops,
    }
}

/// k = 1 on the given column, T = e_pivotᵀ.
fn zero_matrix_id(
    n: usize,
    pivot: usize,
    r_diag: Vec<f32>,
    flops: f64,
) -> InterpolativeDecomposition {
    let mut t = Mat::zeros(1, n);
    t[(0, pivot)] = 1.0;
    InterpolativeDecomposition {
        rank: 1,
        pivots: vec![pivot],
        t,
        r_diag,
        flops,
    }
}

// pulp compiles the factorization once per instruction set (AVX2+FMA where present) and picks
// one at run time. A struct, not a closure: only `with_simd` is guaranteed to be inlined into
// the target-feature context, so the loops get the wide registers.
struct FactorOp<'a, 'w> {
    a: MatRef<'a, f32>,
    epsilon: f32,
    stopping: Stopping,
    ws: &'w mut QrWorkspace,
}

impl WithSimd for FactorOp<'_, '_> {
    type Output = Factored;
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Factored {
        factor(simd, self.a, self.epsilon, self.stopping, self.ws)
    }
}

struct Factored {
    rank: usize,
    zero_matrix: bool,
    r_diag: Vec<f32>,
    flops: f64,
}

/// Runs the pivoted QR on a copy of `a` in `ws` until the rank is known (or to the end).
/// On return, ws.a holds R's first `rank` rows (upper part) and ws.perm the permutation.
/// Sums run in SIMD lanes, so the last bits can differ between instruction sets (this only
/// matters for pivots that tie within rounding).
#[inline(always)]
fn factor<S: Simd>(
    simd: S,
    a: MatRef<'_, f32>,
    epsilon: f32,
    stopping: Stopping,
    ws: &mut QrWorkspace,
) -> Factored {
    let (m, n) = (a.nrows(), a.ncols());
    let mn = m.min(n);
    load(simd, a, ws);
    let QrWorkspace {
        a,
        f,
        vn1,
        vn2,
        perm,
        scratch,
    } = ws;
    let a = &mut a[..m * n];
    let f = &mut f[..n * BLOCK];
    let (vn1, vn2, perm) = (&mut vn1[..n], &mut vn2[..n], &mut perm[..n]);
    let scratch = &mut scratch[..m.max(n)];

    // LAPACK's TOL3Z = sqrt(slamch('Epsilon')), with slamch's epsilon = 2^-24 (half an ulp of 1).
    let tol3z = (0.5 * f32::EPSILON).sqrt();
    let mut flops = 2.0 * (m * n) as f64;
    let mut r_diag = Vec::with_capacity(mn.min(64));
    let mut r00 = 0.0f32;
    let mut rank = None;
    let mut zero_matrix = false;
    // First column of the current block: rows j0.. of columns j0.. are up to date with every
    // reflector before j0, and F describes the block's reflectors j0..j.
    let mut j0 = 0;

    for j in 0..mn {
        let b = j - j0;

        let p = j + argmax_first(&vn1[j..]);
        if p != j {
            swap_columns(a, m, p, j);
            for i in 0..b {
                f.swap(i * n + p, i * n + j);
            }
            vn1.swap(p, j);
            vn2.swap(p, j);
            perm.swap(p, j);
        }

        // Bring column j (rows j..m) up to date with the block's reflectors:
        // A(j:m, j) -= V(j:m, j0:j) · F(j, 0:b)ᵀ.
        let (left, right) = a.split_at_mut(j * m);
        let col_j = &mut right[..m];
        for i in 0..b {
            let s = f[i * n + j];
            if s != 0.0 {
                axpy(
                    -s,
                    &left[(j0 + i) * m + j..(j0 + i + 1) * m],
                    &mut col_j[j..],
                );
            }
        }
        flops += 2.0 * ((m - j) * b) as f64;

        // Householder reflector H_j = I − tau v vᵀ with v(j) = 1, as LAPACK's slarfg.
        let alpha = col_j[j];
        let xnorm = norm(simd, &col_j[j + 1..]);
        let (beta, tau) = if xnorm == 0.0 {
            (alpha, 0.0f32)
        } else {
            let mag = alpha.hypot(xnorm);
            let beta = if alpha >= 0.0 { -mag } else { mag };
            let scale = 1.0 / (alpha - beta);
            for x in &mut col_j[j + 1..] {
                *x *= scale;
            }
            (beta, (beta - alpha) / beta)
        };
        flops += 3.0 * (m - j) as f64;
        let r_jj = beta.abs();
        r_diag.push(r_jj);
        if j == 0 {
            r00 = r_jj;
            if r00 == 0.0 {
                // Every column is zero: nothing to factor.
                zero_matrix = true;
                rank = Some(1);
                break;
            }
        } else if r_jj < epsilon * r00 {
            if rank.is_none() {
                rank = Some(j);
            }
            if stopping == Stopping::AtRank {
                break;
            }
        }
        col_j[j] = 1.0;

        let trailing = n - j - 1;
        if trailing > 0 {
            let (left, right) = a.split_at(j * m);
            let v = &right[j..m];
            let (f_prev, f_rest) = f.split_at_mut(b * n);
            let f_new = &mut f_rest[..n];
            // F(c, b) = tau · A(j:m, c)ᵀ v for the block-original columns c > j ...
            if tau != 0.0 {
                gemv_t(simd, &right[m..], m, j, v, tau, &mut f_new[j + 1..]);
                flops += 2.0 * ((m - j) * trailing) as f64;
                // ... minus what the block's earlier reflectors already did to them:
                // F(:, b) −= tau · F(:, 0:b) · (V(j:m, j0:j)ᵀ v).
                for i in 0..b {
                    let w = -tau * dot(simd, &left[(j0 + i) * m + j..(j0 + i + 1) * m], v);
                    if w != 0.0 {
                        axpy(w, &f_prev[i * n + j + 1..(i + 1) * n], &mut f_new[j + 1..]);
                    }
                }
                flops += 2.0 * (b * (m - j + trailing)) as f64;
            } else {
                f_new[j + 1..].fill(0.0);
            }

            // Row j of R: A(j, c) −= Σ_i V(j, j0+i) F(c, i) for c > j (V(j, j) = 1).
            let row = &mut scratch[..trailing];
            row.copy_from_slice(&f_new[j + 1..]);
            for i in 0..b {
                let s = left[(j0 + i) * m + j];
                if s != 0.0 {
                    axpy(s, &f_prev[i * n + j + 1..(i + 1) * n], row);
                }
            }
            flops += 2.0 * (trailing * (b + 1)) as f64;
            for (c, r) in (j + 1..n).zip(row.iter()) {
                a[c * m + j] -= r;
            }
        }
        a[j * m + j] = beta;

        // Downdate the partial norms of the remaining columns (LAWN 176).
        if j + 1 < m {
            for c in j + 1..n {
                if vn1[c] == 0.0 {
                    continue;
                }
                let temp = a[c * m + j].abs() / vn1[c];
                let temp = ((1.0 + temp) * (1.0 - temp)).max(0.0);
                let ratio = vn1[c] / vn2[c];
                if temp * ratio * ratio <= tol3z {
                    let fresh = updated_column_norm(simd, a, f, m, n, j0, j, c);
                    flops += 2.0 * ((m - j - 1) * (b + 2)) as f64;
                    vn1[c] = fresh;
                    vn2[c] = fresh;
                } else {
                    vn1[c] *= temp.sqrt();
                }
            }
            flops += 6.0 * trailing as f64;
        } else {
            vn1[j + 1..].fill(0.0);
            vn2[j + 1..].fill(0.0);
        }

        // Flush a full block: A(j+1:m, j+1:n) −= V(j+1:m, j0:j+1) · F(j+1:n, 0:b+1)ᵀ.
        if b + 1 == BLOCK && j + 1 < mn && trailing > 0 {
            let nb = b + 1;
            let (left, right) = a.split_at_mut((j + 1) * m);
            let v = MatRef::from_column_major_slice_with_stride(
                &left[j0 * m + j + 1..],
                m - j - 1,
                nb,
                m,
            );
            let fb = MatRef::from_column_major_slice_with_stride(&f[j + 1..], trailing, nb, n);
            let dst = MatMut::from_column_major_slice_with_stride_mut(
                &mut right[j + 1..],
                m - j - 1,
                trailing,
                m,
            );
            matmul(dst, Accum::Add, v, fb.transpose(), -1.0f32, Par::Seq);
            flops += 2.0 * ((m - j - 1) * trailing * nb) as f64;
            j0 = j + 1;
        }
    }

    Factored {
        rank: rank.unwrap_or(mn),
        zero_matrix,
        r_diag,
        flops,
    }
}

/// Copies `a` into the workspace (leading dimension m) and sets the initial column norms.
#[inline(always)]
fn load<S: Simd>(simd: S, a: MatRef<'_, f32>, ws: &mut QrWorkspace) {
    let (m, n) = (a.nrows(), a.ncols());
    ws.a.resize(m * n, 0.0);
    ws.f.resize(n * BLOCK, 0.0);
    ws.vn1.resize(n, 0.0);
    ws.vn2.resize(n, 0.0);
    ws.scratch.resize(m.max(n), 0.0);
    ws.perm.clear();
    ws.perm.extend(0..n);
    for c in 0..n {
        let dst = &mut ws.a[c * m..(c + 1) * m];
        match a.col(c).try_as_col_major() {
            Some(col) => dst.copy_from_slice(col.as_slice()),
            None => {
                for (r, d) in dst.iter_mut().enumerate() {
                    *d = a[(r, c)];
                }
            }
        }
        let nrm = norm(simd, dst);
        ws.vn1[c] = nrm;
        ws.vn2[c] = nrm;
    }
}

/// ‖column c rows j+1..m‖ after reflectors 0..=j, for a column the block has not updated:
/// ‖A(j+1:m, c) − V(j+1:m, j0:j+1) · F(c, 0:j+1−j0)ᵀ‖ in one pass over the rows (the updated
/// entries are never stored), squares summed in f32 SIMD lanes.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn updated_column_norm<S: Simd>(
    simd: S,
    a: &[f32],
    f: &[f32],
    m: usize,
    n: usize,
    j0: usize,
    j: usize,
    c: usize,
) -> f32 {
    let nv = j - j0 + 1;
    let rows = j + 1..m;
    let (col_head, col_tail) = S::as_simd_f32s(&a[c * m + rows.start..c * m + rows.end]);
    let zero = simd.splat_f32s(0.0);
    let mut heads: [&[S::f32s]; BLOCK] = [&[]; BLOCK];
    let mut tails: [&[f32]; BLOCK] = [&[]; BLOCK];
    let mut coef = [0.0f32; BLOCK];
    let mut coef_s = [zero; BLOCK];
    for i in 0..nv {
        let col = j0 + i;
        (heads[i], tails[i]) = S::as_simd_f32s(&a[col * m + rows.start..col * m + rows.end]);
        coef[i] = -f[i * n + c];
        coef_s[i] = simd.splat_f32s(coef[i]);
    }
    let (heads, tails, coef, coef_s) = (&heads[..nv], &tails[..nv], &coef[..nv], &coef_s[..nv]);
    let (mut acc0, mut acc1) = (zero, zero);
    for (r, &x0) in col_head.iter().enumerate() {
        let mut x = x0;
        for (h, &cs) in heads.iter().zip(coef_s) {
            x = simd.mul_add_e_f32s(cs, h[r], x);
        }
        if r % 2 == 0 {
            acc0 = simd.mul_add_e_f32s(x, x, acc0);
        } else {
            acc1 = simd.mul_add_e_f32s(x, x, acc1);
        }
    }
    let mut sum = simd.reduce_sum_f32s(simd.add_f32s(acc0, acc1));
    for (r, &x0) in col_tail.iter().enumerate() {
        let mut x = x0;
        for (t, &cf) in tails.iter().zip(coef) {
            x += cf * t[r];
        }
        sum += x * x;
    }
    sum.sqrt()
}

/// T = [Id_k | R11⁻¹ R12] Pᵀ from the factored workspace: R12 is overwritten in place by
/// R11⁻¹ R12 (faer's blocked triangular solve), then scattered to the pivots' columns.
fn interpolation_matrix(ws: &mut QrWorkspace, m: usize, n: usize, k: usize) -> Mat<f32> {
    let (left, right) = ws.a[..m * n].split_at_mut(k * m);
    let r11 = MatRef::from_column_major_slice_with_stride(left, k, k, m);
    if n > k {
        let r12 = MatMut::from_column_major_slice_with_stride_mut(right, k, n - k, m);
        solve_upper_triangular_in_place(r11, r12, Par::Seq);
    }
    let mut t = Mat::<f32>::zeros(k, n);
    for (i, &p) in ws.perm[..k].iter().enumerate() {
        t[(i, p)] = 1.0;
    }
    for (c, &p) in ws.perm.iter().enumerate().skip(k) {
        let x = &ws.a[c * m..c * m + k];
        t.col_as_slice_mut(p).copy_from_slice(x);
    }
    t
}

/// First index of the largest entry (LAPACK's isamax on non-negative norms).
#[inline(always)]
fn argmax_first(x: &[f32]) -> usize {
    let mut best = 0;
    let mut best_val = f32::NEG_INFINITY;
    for (i, &v) in x.iter().enumerate() {
        if v > best_val {
            best_val = v;
            best = i;
        }
    }
    best
}

#[inline(always)]
fn swap_columns(a: &mut [f32], m: usize, p: usize, j: usize) {
    let (lo, hi) = (p.min(j), p.max(j));
    let (left, right) = a.split_at_mut(hi * m);
    left[lo * m..(lo + 1) * m].swap_with_slice(&mut right[..m]);
}

/// y += alpha · x.
#[inline(always)]
fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Euclidean norm: squares summed in f32 SIMD lanes (as LAPACK's snrm2 sums in f32).
#[inline(always)]
fn norm<S: Simd>(simd: S, x: &[f32]) -> f32 {
    dot(simd, x, x).sqrt()
}

/// Σ x_i y_i in SIMD lanes (FMA where the machine has it), then the lanes summed.
#[inline(always)]
fn dot<S: Simd>(simd: S, x: &[f32], y: &[f32]) -> f32 {
    let len = x.len().min(y.len());
    let (xh, xt) = S::as_simd_f32s(&x[..len]);
    let (yh, yt) = S::as_simd_f32s(&y[..len]);
    let (mut acc0, mut acc1) = (simd.splat_f32s(0.0), simd.splat_f32s(0.0));
    let (xp, xr) = xh.as_chunks::<2>();
    let (yp, yr) = yh.as_chunks::<2>();
    for (a, b) in xp.iter().zip(yp) {
        acc0 = simd.mul_add_e_f32s(a[0], b[0], acc0);
        acc1 = simd.mul_add_e_f32s(a[1], b[1], acc1);
    }
    for (a, b) in xr.iter().zip(yr) {
        acc0 = simd.mul_add_e_f32s(*a, *b, acc0);
    }
    let mut sum = simd.reduce_sum_f32s(simd.add_f32s(acc0, acc1));
    for (a, b) in xt.iter().zip(yt) {
        sum += a * b;
    }
    sum
}

/// out[i] = alpha · A(j:m, j+1+i)ᵀ v for the columns of `cols` (column c at cols[c·m..]),
/// four columns at a time so each load of v serves four products (eight measured no faster:
/// the step is bound by reading the trailing matrix from L2).
#[inline(always)]
fn gemv_t<S: Simd>(
    simd: S,
    cols: &[f32],
    m: usize,
    j: usize,
    v: &[f32],
    alpha: f32,
    out: &mut [f32],
) {
    let mut groups = out.chunks_exact_mut(4);
    let mut c = 0;
    for o in &mut groups {
        let col = |q: usize| &cols[(c + q) * m + j..(c + q) * m + m];
        let d = dot_many::<S, 4>(simd, std::array::from_fn(col), v);
        for q in 0..4 {
            o[q] = alpha * d[q];
        }
        c += 4;
    }
    for o in groups.into_remainder() {
        *o = alpha * dot(simd, &cols[c * m + j..c * m + m], v);
        c += 1;
    }
}

/// N dot products against the same v.
#[inline(always)]
fn dot_many<S: Simd, const N: usize>(simd: S, x: [&[f32]; N], v: &[f32]) -> [f32; N] {
    let len = v.len();
    let (vh, vt) = S::as_simd_f32s(v);
    let split = x.map(|s| S::as_simd_f32s(&s[..len]));
    let heads = split.map(|(h, _)| h);
    let mut acc = [simd.splat_f32s(0.0); N];
    for (r, vv) in vh.iter().enumerate() {
        for q in 0..N {
            acc[q] = simd.mul_add_e_f32s(heads[q][r], *vv, acc[q]);
        }
    }
    let mut out = acc.map(|a| simd.reduce_sum_f32s(a));
    for (o, (_, t)) in out.iter_mut().zip(split) {
        for (a, b) in t.iter().zip(vt) {
            *o += a * b;
        }
    }
    out
}
