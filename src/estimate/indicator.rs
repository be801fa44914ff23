//! The element indicator η_K ≈ ‖f − I f‖_{L2(K)} of the order-1 (bilinear / trilinear)
//! interpolant I f on an axis-aligned box K = lo + Π[0, h_i] (derivation: README, "The
//! estimate criterion").
//!
//! K is split into n_1 × … × n_d congruent sub-cells of sizes δ_i = h_i / n_i; the network's
//! jet is taken at the cell centres m_q. With e = f − I f, the local model around m_q
//!
//! ```text
//! ẽ(m_q + u) = Σ_S a_S u^S + ½ Σ_i k_i u_i²,   a_∅ = e(m_q), a_i = ∂_i e(m_q),
//!              k_i = ∂_ii f(m_q) (∂_ii I f ≡ 0),  a_S = ∂^S f − ∂^S I f (|S| ≥ 2)
//! ```
//!
//! has a closed-form cell integral (the monomials are orthogonal on a centred box):
//!
//! ```text
//! ∫_cell ẽ² = |cell| [ (a_∅ + Σ k_i δ_i²/24)² + Σ_i (a_i² δ_i²/12 + k_i² δ_i⁴/720)
//!                      + Σ_{|S|≥2} a_S² Π_{i∈S} δ_i²/12 ],       η_K² = Σ_q Σ_outputs ∫ ẽ².
//! ```
//!
//! Exact for every quadratic f, asymptotically exact (η/‖e‖ → 1) for smooth f, and for a
//! piecewise-linear (ReLU) network exact on every sub-cell inside one linear region, where a
//! Hessian-only (metric) estimate would say 0 everywhere.

use super::jet::{Jet, JetNetwork, JetOrder};

/// How second derivatives of f enter the indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CurvatureMode {
    /// f is piecewise linear: ∂^S f = 0 a.e. for |S| ≥ 2, so a_S = −∂^S I f exactly and
    /// k_i = 0; only value and gradient are propagated.
    PiecewiseLinear,
    /// Propagate ∂_ii f only; the mixed a_S are dropped (O(h) relative for smooth f).
    Diagonal,
    /// Whole Hessian: a_ij = ∂_ij f − ∂_ij I f; |S| ≥ 3 dropped (smooth layers with a kink).
    Full,
}

impl CurvatureMode {
    /// The mode a network needs.
    pub(crate) fn for_network(net: &JetNetwork) -> CurvatureMode {
        if net.is_piecewise_linear() {
            CurvatureMode::PiecewiseLinear
        } else if net.has_kinks() {
            CurvatureMode::Full
        } else {
            CurvatureMode::Diagonal
        }
    }

    pub(crate) fn jet_order(self) -> JetOrder {
        match self {
            CurvatureMode::PiecewiseLinear => JetOrder::Gradient,
            CurvatureMode::Diagonal => JetOrder::HessianDiagonal,
            CurvatureMode::Full => JetOrder::HessianFull,
        }
    }
}

/// Sub-cells per direction for about `m` sample points in `d` dimensions: `m` split into
/// balanced factors (16 in 2-D → 4×4, 32 → 8×4, 64 in 3-D → 4×4×4); the product is `m`
/// whenever `m` is a power of two, else the factorization of m over d directions.
pub(crate) fn samples_per_dir(d: usize, m: usize) -> Vec<usize> {
    let mut per = vec![1usize; d];
    let mut rem = m.max(1);
    while rem > 1 {
        let p = (2..=rem).find(|&p| rem.is_multiple_of(p)).unwrap_or(rem);
        rem /= p;
        if let Some(k) = (0..d).min_by_key(|&k| (per[k], k)) {
            per[k] *= p;
        }
    }
    per.sort_by(|a, b| b.cmp(a));
    per
}

/// Reference coordinates (n × d, direction 0 fastest) of the sub-cell centres.
pub(crate) fn reference_samples(per_dir: &[usize]) -> Vec<f64> {
    let n: usize = per_dir.iter().product();
    let mut t = Vec::with_capacity(n * per_dir.len());
    for s in 0..n {
        let mut r = s;
        for &ni in per_dir {
            t.push(((r % ni) as f64 + 0.5) / ni as f64);
            r /= ni;
        }
    }
    t
}

/// One element's indicator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ElementIndicator {
    /// The indicator: the jet-corrected sampled interpolation error, an L2 norm over K
    /// summed over the outputs, so Σ_K η² ≈ ‖f − I f‖²_{L2(Ω)} = RMSE² |Ω|.
    pub(crate) eta: f64,
    /// The Hessian-only (metric) model, |K|·mean_q[(Σc_i)²/36 + Σc_i²/180] with
    /// c_i = ½ h_i² ∂_ii f(m_q); 0 for piecewise-linear networks. For comparison in tests.
    pub(crate) eta_hess: f64,
    /// `after[m]`: the predicted η² once the box is halved along the axes of mask m (bit i:
    /// axis i; `after[0]` = η²): η² scaled as the Hessian model's error of the children,
    /// whose c_i are a quarter along halved axes. `None` unless the mode is `Diagonal` (for
    /// piecewise-linear networks the model is 0) or when the model is 0.
    pub(crate) after: Option<[f64; 8]>,
}

/// The fixed part of the indicator for one sample layout: reference points and the weights
/// of the closed-form cell integral that depend only on the layout.
pub(crate) struct Layout {
    pub(crate) per_dir: Vec<usize>,
    pub(crate) tref: Vec<f64>,
    pub(crate) mode: CurvatureMode,
}

impl Layout {
    pub(crate) fn new(d: usize, m: usize, mode: CurvatureMode) -> Layout {
        let per_dir = samples_per_dir(d, m);
        let tref = reference_samples(&per_dir);
        Layout {
            per_dir,
            tref,
            mode,
        }
    }

    pub(crate) fn n_samples(&self) -> usize {
        self.per_dir.iter().product()
    }

    /// The sample points of the box lo + Π[0, h_i], appended to `x` (point-major).
    pub(crate) fn push_points(&self, lo: &[f64], h: &[f64], x: &mut Vec<f64>) {
        let d = self.per_dir.len();
        for t in self.tref.chunks_exact(d) {
            for i in 0..d {
                x.push(lo[i] + h[i] * t[i]);
            }
        }
    }
}

/// The indicator of the box with sizes `h`, from the jet at its sample points (points
/// `first..first + n_samples` of `jet`, in the layout's order) and the values of the
/// interpolant at its 2^d corners (`corners`: 2^d × c; corner v has bit i set when it is at
/// the upper end of direction i).
pub(crate) fn indicator_from_jet(
    h: &[f64],
    layout: &Layout,
    corners: &[f64],
    jet: &Jet,
    first: usize,
) -> ElementIndicator {
    let d = jet.d;
    let c = jet.c;
    let nv = 1usize << d;
    let per = &layout.per_dir;
    let ns = layout.n_samples();
    let mode = layout.mode;
    debug_assert!(jet.order >= mode.jet_order());
    let vcell = h.iter().product::<f64>() / ns as f64;
    let delta: Vec<f64> = (0..d).map(|i| h[i] / per[i] as f64).collect();
    let var: Vec<f64> = delta.iter().map(|x| x * x / 12.0).collect();
    // Π_{i∈S} δ_i²/12 for every subset S.
    let var_s: Vec<f64> = (0..nv)
        .map(|s| {
            (0..d)
                .filter(|i| (s >> i) & 1 == 1)
                .map(|i| var[i])
                .product()
        })
        .collect();
    let has_hess = matches!(mode, CurvatureMode::Diagonal | CurvatureMode::Full);
    // basis[S·nv + v] = ∂^S φ_v at the sample point; dif[S] = ∂^S I f of one output.
    let mut basis = vec![0.0; nv * nv];
    let mut dif = vec![0.0; nv];
    let (mut eta2, mut eta_h2) = (0.0, 0.0);
    // The Hessian model of the children of each split, summed over points and outputs.
    let mut model = [0.0f64; 8];
    let diagonal = mode == CurvatureMode::Diagonal;
    let mut c_of = [0.0f64; 3];
    for q in 0..ns {
        let t = &layout.tref[q * d..(q + 1) * d];
        for s in 0..nv {
            for v in 0..nv {
                let mut b = 1.0;
                for i in 0..d {
                    let up = (v >> i) & 1 == 1;
                    b *= match ((s >> i) & 1 == 1, up) {
                        (true, true) => 1.0 / h[i],
                        (true, false) => -1.0 / h[i],
                        (false, true) => t[i],
                        (false, false) => 1.0 - t[i],
                    };
                }
                basis[s * nv + v] = b;
            }
        }
        let p = first + q;
        for o in 0..c {
            for (s, ds) in dif.iter_mut().enumerate() {
                *ds = (0..nv)
                    .map(|v| basis[s * nv + v] * corners[v * c + o])
                    .sum();
            }
            let a0 = jet.value(p, o) - dif[0];
            let mut mean = a0;
            let mut e = 0.0;
            let (mut csum, mut csq) = (0.0, 0.0);
            for i in 0..d {
                let ai = jet.grad(p, o, i) - dif[1 << i];
                e += ai * ai * var[i];
                if has_hess {
                    let k = jet.hess_diag(p, o, i);
                    mean += k * delta[i] * delta[i] / 24.0;
                    e += k * k * delta[i].powi(4) / 720.0;
                    let ci = 0.5 * k * h[i] * h[i];
                    csum += ci;
                    csq += ci * ci;
                    c_of[i] = ci;
                }
            }
            e += mean * mean;
            for (s, vs) in var_s.iter().enumerate() {
                if s.count_ones() < 2 {
                    continue;
                }
                let a = match mode {
                    CurvatureMode::PiecewiseLinear => -dif[s],
                    CurvatureMode::Full if s.count_ones() == 2 => {
                        let i = s.trailing_zeros() as usize;
                        let j = (usize::BITS - 1 - s.leading_zeros()) as usize;
                        jet.hess(p, o, i, j) - dif[s]
                    }
                    _ => 0.0,
                };
                e += a * a * vs;
            }
            eta2 += vcell * e;
            eta_h2 += vcell * (csum * csum / 36.0 + csq / 180.0);
            if diagonal {
                for (m, slot) in model.iter_mut().enumerate().take(nv) {
                    let (mut sum, mut sq) = (0.0, 0.0);
                    for (i, &ci) in c_of.iter().enumerate().take(d) {
                        let c = if (m >> i) & 1 == 1 { 0.25 * ci } else { ci };
                        sum += c;
                        sq += c * c;
                    }
                    *slot += sum * sum / 36.0 + sq / 180.0;
                }
            }
        }
    }
    let after = (diagonal && model[0] > 0.0).then(|| {
        let mut a = [0.0; 8];
        for m in 0..nv {
            a[m] = eta2 * model[m] / model[0];
        }
        a
    });
    ElementIndicator {
        eta: eta2.sqrt(),
        eta_hess: eta_h2.sqrt(),
        after,
    }
}

/// Indicators of boxes given by `lo` and `h` (both m × d), with corner values computed by a
/// value-only pass of the same network (the interpolant of f itself), for the tests; the run
/// passes the mesh's constrained vertex values instead.
#[cfg(test)]
pub(crate) fn box_indicators(
    net: &JetNetwork,
    lo: &[f64],
    h: &[f64],
    layout: &Layout,
) -> Vec<ElementIndicator> {
    let d = net.dim();
    let c = net.outputs();
    let nv = 1usize << d;
    let m = lo.len() / d;
    let mut corner_x = Vec::with_capacity(m * nv * d);
    for e in 0..m {
        for v in 0..nv {
            for i in 0..d {
                let up = (v >> i) & 1 == 1;
                corner_x.push(lo[e * d + i] + if up { h[e * d + i] } else { 0.0 });
            }
        }
    }
    let corners = net.jet(&corner_x, JetOrder::Value).value;
    let ns = layout.n_samples();
    let mut x = Vec::with_capacity(m * ns * d);
    for e in 0..m {
        layout.push_points(&lo[e * d..(e + 1) * d], &h[e * d..(e + 1) * d], &mut x);
    }
    let jet = net.jet(&x, layout.mode.jet_order());
    (0..m)
        .map(|e| {
            indicator_from_jet(
                &h[e * d..(e + 1) * d],
                layout,
                &corners[e * nv * c..(e + 1) * nv * c],
                &jet,
                e * ns,
            )
        })
        .collect()
}
