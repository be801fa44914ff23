//! Accuracy of the vectorized activation kernels (`network::kernels`) on every dispatch path
//! this CPU supports, against f64 references (std / libm) rounded to f32; the bounds asserted
//! here are the ones the README's "Activation kernels" table states.
//!
//! Error metric: distance in f32 ulps (the number of representable f32 between result and
//! rounded reference, so subnormal outputs are measured in units of 2^-149). sin/cos also
//! accept an absolute error ≤ `abs_bound`·2^-24 (for outputs near zero, where ulps are
//! meaningless); the table reports both.
//!
//! Points per function (~2.9 M): the specials (±0, ±∞, NaN, subnormals, MIN_POSITIVE, MAX,
//! values around every internal threshold, huge sin/cos arguments and 2000 neighbours each),
//! every 1999th f32 in [-100, 100] by bit pattern (every binade down to subnormals), 500,000
//! uniform points in [-100, 100], every 8999th f32 over the whole finite range, and every
//! 389th f32 in ±[100, 2^21] (the end of the SIMD sin/cos reduction and beyond).
//! `cargo test --release --test activation_accuracy -- --nocapture` prints the table;
//! `ACT_SWEEP_STRIDE=1` sweeps [-100, 100] exhaustively (slow).

use pruningamr::network::kernels::{self as ak, Kind, Level};

const N_UNIFORM: usize = 500_000;

fn ord(x: f32) -> i64 {
    let b = x.to_bits();
    if b >> 31 == 1 {
        -((b & 0x7fff_ffff) as i64)
    } else {
        b as i64
    }
}

fn from_ord(i: i64) -> f32 {
    if i < 0 {
        f32::from_bits((-i) as u32 | 0x8000_0000)
    } else {
        f32::from_bits(i as u32)
    }
}

fn ulp_dist(a: f32, b: f32) -> u64 {
    (ord(a) - ord(b)).unsigned_abs()
}

fn sigmoid64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// f64 reference of a kind, evaluated at the f32 input.
fn reference(kind: Kind, x: f32) -> f64 {
    let xd = x as f64;
    match kind {
        Kind::Identity => xd,
        Kind::Relu => {
            if x < 0.0 {
                0.0
            } else {
                xd
            }
        }
        Kind::LeakyRelu { slope } => {
            if x > 0.0 {
                xd
            } else {
                (x * slope) as f64
            }
        }
        Kind::Tanh => xd.tanh(),
        Kind::Sigmoid => sigmoid64(xd),
        Kind::Silu => {
            if x == f32::NEG_INFINITY {
                -0.0
            } else {
                xd * sigmoid64(xd)
            }
        }
        Kind::GeluErf => {
            if x == f32::NEG_INFINITY {
                -0.0
            } else {
                0.5 * xd * libm::erfc(-xd / std::f64::consts::SQRT_2)
            }
        }
        Kind::GeluTanh => {
            let z = (2.0 / std::f64::consts::PI).sqrt() * (xd + 0.044715 * xd * xd * xd);
            if x == f32::NEG_INFINITY {
                -0.0
            } else {
                xd / (1.0 + (-2.0 * z).exp())
            }
        }
        Kind::Softplus { beta, threshold } => {
            let z = beta * x; // PyTorch rounds beta·x to f32 first
            if z > threshold {
                xd
            } else {
                (z as f64).exp().ln_1p() / beta as f64
            }
        }
        Kind::Elu { alpha } => {
            if x > 0.0 {
                xd
            } else {
                alpha as f64 * xd.exp_m1()
            }
        }
        Kind::Sine { omega } => ((omega * x) as f64).sin(),
        Kind::Cosine { omega } => ((omega * x) as f64).cos(),
        Kind::Gauss { s } => {
            let t = s as f64 * xd;
            (-(t * t)).exp()
        }
    }
}

fn name(kind: Kind) -> String {
    match kind {
        Kind::LeakyRelu { slope } => format!("leaky_relu({slope})"),
        Kind::Softplus { beta, threshold } => format!("softplus({beta},{threshold})"),
        Kind::Elu { alpha } => format!("elu({alpha})"),
        Kind::Sine { omega: 1.0 } => "sin".into(),
        Kind::Cosine { omega: 1.0 } => "cos".into(),
        Kind::Sine { omega } => format!("sin({omega}·x)"),
        Kind::Cosine { omega } => format!("cos({omega}·x)"),
        Kind::Gauss { s } => format!("gauss({s})"),
        k => format!("{k:?}").to_lowercase(),
    }
}

fn specials() -> Vec<f32> {
    let mut v = vec![
        0.0,
        f32::INFINITY,
        f32::NAN,
        f32::from_bits(1),
        f32::from_bits(0x7f_ffff),
        f32::from_bits(0x40_0000),
        f32::MIN_POSITIVE,
        f32::MAX,
        1e-30,
        1e-10,
        2.4414062e-4,
        1e-4,
        0.3466,
        0.5,
        1.0,
        std::f32::consts::FRAC_PI_4,
        std::f32::consts::FRAC_PI_2,
        std::f32::consts::PI,
        9.0,
        9.5,
        12.0,
        14.0,
        14.7,
        20.0,
        30.0,
        87.0,
        88.72,
        89.0,
        103.9,
        104.0,
        110.0,
        120.0,
        200.0,
        1e4,
        1e6,
        1e8,
        3e38,
        ak::TRIG_VECTOR_MAX,
    ];
    let n = v.len();
    for i in 0..n {
        v.push(-v[i]);
        v.push(f32::from_bits(v[i].to_bits().wrapping_add(1)));
        v.push(f32::from_bits(v[i].to_bits().wrapping_sub(1)));
    }
    // around huge trig arguments
    for base in [1e4f32, 1e6, 1e8, 3e38] {
        for k in 0..2000 {
            v.push(f32::from_bits(base.to_bits() + k));
        }
    }
    v
}

/// The points of the module comment.
fn inputs() -> Vec<f32> {
    let stride: i64 = std::env::var("ACT_SWEEP_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1999);
    let mut v = specials();
    let (lo, hi) = (ord(-100.0), ord(100.0));
    let mut i = lo;
    while i <= hi {
        v.push(from_ord(i));
        i += stride;
    }
    for k in 0..N_UNIFORM {
        v.push(-100.0 + 200.0 * (k as f32 + 0.5) / N_UNIFORM as f32);
    }
    let (lo, hi) = (ord(-f32::MAX), ord(f32::MAX));
    let mut i = lo;
    while i <= hi {
        v.push(from_ord(i));
        i += 8999;
    }
    let (lo, hi) = (ord(100.0), ord(2097152.0));
    let mut i = lo;
    while i <= hi {
        v.push(from_ord(i));
        v.push(-from_ord(i));
        i += 389;
    }
    v
}

#[derive(Default, Debug, Clone)]
struct Stats {
    max_ulp: u64,
    at_ulp: f32,
    max_abs: f64, // in units of 2^-24
    at_abs: f32,
    nan_mismatch: usize,
    first_nan_mismatch: Option<f32>,
    n: usize,
}

fn measure(xs: &[f32], refs: &[f64], got: &[f32]) -> Stats {
    let mut st = Stats::default();
    for ((&x, &g), &r) in xs.iter().zip(got).zip(refs) {
        st.n += 1;
        if r.is_nan() || g.is_nan() {
            if !(r.is_nan() && g.is_nan()) {
                st.nan_mismatch += 1;
                st.first_nan_mismatch.get_or_insert(x);
            }
            continue;
        }
        let u = ulp_dist(g, r as f32);
        if u > st.max_ulp {
            st.max_ulp = u;
            st.at_ulp = x;
        }
        let a = (g as f64 - r).abs() * (1u64 << 24) as f64;
        if r.is_finite() && a > st.max_abs {
            st.max_abs = a;
            st.at_abs = x;
        }
    }
    st
}

/// (kind, max ulp allowed, abs bound in 2^-24 units if ulps may be waived).
fn cases() -> Vec<(Kind, u64, Option<f64>)> {
    vec![
        (Kind::Relu, 0, None),
        (Kind::LeakyRelu { slope: 0.01 }, 0, None),
        (Kind::Tanh, 3, None),
        (Kind::Sigmoid, 3, None),
        (Kind::Silu, 4, None),
        (Kind::Elu { alpha: 1.0 }, 2, None),
        (Kind::Elu { alpha: 0.5 }, 2, None),
        (
            Kind::Softplus {
                beta: 1.0,
                threshold: 20.0,
            },
            4,
            None,
        ),
        (
            Kind::Softplus {
                beta: 2.0,
                threshold: 20.0,
            },
            4,
            None,
        ),
        (Kind::GeluErf, 4, None),
        (Kind::GeluTanh, 4, None),
        (Kind::Sine { omega: 1.0 }, 3, Some(1.0)),
        (Kind::Cosine { omega: 1.0 }, 3, Some(1.0)),
        (Kind::Sine { omega: 30.0 }, 3, Some(1.0)),
        (Kind::Gauss { s: 1.0 }, 2, None),
        (Kind::Gauss { s: 0.3 }, 2, None),
    ]
}

fn run_at(level: Level, kind: Kind, xs: &[f32]) -> Vec<f32> {
    let mut v = xs.to_vec();
    ak::apply_biased_at(level, kind, -0.0, &mut v);
    v
}

#[test]
fn accuracy_all_paths() {
    let xs = inputs();
    let levels = Level::supported();
    println!("CPU: {}", ak::cpu_model());
    println!(
        "detected: {:?}; testing {:?}; {} points per function",
        ak::detected_level(),
        levels,
        xs.len()
    );
    for l in Level::ALL {
        if !l.is_supported() {
            println!(
                "NOTE: path {} not supported on this CPU: not tested here",
                l.name()
            );
        }
    }
    println!("| function | path | max ulp | at x | max abs err (2^-24) | at x | bound |");
    println!("|---|---|---|---|---|---|---|");
    let mut failures = Vec::new();
    for (kind, ulp_bound, abs_bound) in cases() {
        // The f64 reference once per function: it costs more than every path's kernel.
        let refs: Vec<f64> = xs.iter().map(|&x| reference(kind, x)).collect();
        let mut outs = Vec::new();
        for &level in &levels {
            let got = run_at(level, kind, &xs);
            let st = measure(&xs, &refs, &got);
            println!(
                "| {} | {} | {} | {:e} | {:.3} | {:e} | {} ulp{} |",
                name(kind),
                level.name(),
                st.max_ulp,
                st.at_ulp,
                st.max_abs,
                st.at_abs,
                ulp_bound,
                abs_bound
                    .map(|a| format!(" or {a}·2^-24 abs"))
                    .unwrap_or_default()
            );
            if st.nan_mismatch > 0 {
                failures.push(format!(
                    "{} {}: {} NaN mismatches, first at {:?}",
                    name(kind),
                    level.name(),
                    st.nan_mismatch,
                    st.first_nan_mismatch
                ));
            }
            // per-point check (ulp, or abs where allowed)
            let mut bad = 0usize;
            let mut first = None;
            for ((&x, &g), &r) in xs.iter().zip(&got).zip(&refs) {
                if r.is_nan() || g.is_nan() {
                    continue;
                }
                let u = ulp_dist(g, r as f32);
                let a = (g as f64 - r).abs() * (1u64 << 24) as f64;
                let ok = u <= ulp_bound || abs_bound.is_some_and(|b| a <= b);
                if !ok {
                    bad += 1;
                    first.get_or_insert((x, g, r, u));
                }
            }
            if bad > 0 {
                failures.push(format!(
                    "{} {}: {bad} points over bound, first {:?}",
                    name(kind),
                    level.name(),
                    first
                ));
            }
            outs.push((level, got));
        }
        // all paths agree with each other within the bound
        for i in 0..outs.len() {
            for j in i + 1..outs.len() {
                let mut worst = 0u64;
                let mut at = 0.0f32;
                for ((&x, &a), &b) in xs.iter().zip(&outs[i].1).zip(&outs[j].1) {
                    if a.is_nan() != b.is_nan() {
                        failures.push(format!("{} paths disagree on NaN at {x}", name(kind)));
                        break;
                    }
                    if a.is_nan() {
                        continue;
                    }
                    let abs_ok = abs_bound
                        .is_some_and(|bd| ((a as f64 - b as f64).abs() * 16777216.0) <= 2.0 * bd);
                    let d = ulp_dist(a, b);
                    if d > worst && !abs_ok {
                        worst = d;
                        at = x;
                    }
                }
                println!(
                    "|   {} vs {} | | {} ulp apart | {:e} | | | |",
                    outs[i].0.name(),
                    outs[j].0.name(),
                    worst,
                    at
                );
                if worst > ulp_bound.max(1) {
                    failures.push(format!(
                        "{}: paths {} and {} differ by {worst} ulp at {at}",
                        name(kind),
                        outs[i].0.name(),
                        outs[j].0.name()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "accuracy failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn sincos_matches_sin_and_cos() {
    let xs = inputs();
    for level in Level::supported() {
        let mut c = vec![0.0; xs.len()];
        let mut s = vec![0.0; xs.len()];
        ak::sincos_at(level, &xs, &mut c, &mut s);
        let c2 = run_at(level, Kind::Cosine { omega: 1.0 }, &xs);
        let s2 = run_at(level, Kind::Sine { omega: 1.0 }, &xs);
        for i in 0..xs.len() {
            assert_eq!(c[i].to_bits(), c2[i].to_bits(), "cos at {}", xs[i]);
            assert_eq!(s[i].to_bits(), s2[i].to_bits(), "sin at {}", xs[i]);
        }
    }
}

#[test]
fn special_values() {
    let inf = f32::INFINITY;
    let checks: Vec<(Kind, f32, f32)> = vec![
        (Kind::Tanh, inf, 1.0),
        (Kind::Tanh, -inf, -1.0),
        (Kind::Tanh, -0.0, -0.0),
        (Kind::Sigmoid, -inf, 0.0),
        (Kind::Sigmoid, inf, 1.0),
        (Kind::Silu, inf, inf),
        (Kind::Silu, -inf, -0.0),
        (Kind::Silu, -0.0, -0.0),
        (Kind::GeluErf, inf, inf),
        (Kind::GeluErf, -inf, -0.0),
        (Kind::GeluErf, -0.0, -0.0),
        (Kind::GeluTanh, inf, inf),
        (Kind::GeluTanh, -inf, -0.0),
        (Kind::Elu { alpha: 1.0 }, -inf, -1.0),
        (Kind::Elu { alpha: 1.0 }, inf, inf),
        (Kind::Elu { alpha: 1.0 }, -0.0, -0.0),
        (
            Kind::Softplus {
                beta: 1.0,
                threshold: 20.0,
            },
            -inf,
            0.0,
        ),
        (
            Kind::Softplus {
                beta: 1.0,
                threshold: 20.0,
            },
            inf,
            inf,
        ),
        (Kind::Sine { omega: 1.0 }, -0.0, -0.0),
        (Kind::Cosine { omega: 1.0 }, 0.0, 1.0),
        (Kind::Gauss { s: 1.0 }, inf, 0.0),
        (Kind::Gauss { s: 1.0 }, -inf, 0.0),
        (Kind::Relu, -inf, 0.0),
        (Kind::LeakyRelu { slope: 0.1 }, -inf, -inf),
    ];
    let all = [
        Kind::Identity,
        Kind::Relu,
        Kind::LeakyRelu { slope: 0.1 },
        Kind::Tanh,
        Kind::Sigmoid,
        Kind::Silu,
        Kind::GeluErf,
        Kind::GeluTanh,
        Kind::Softplus {
            beta: 1.0,
            threshold: 20.0,
        },
        Kind::Elu { alpha: 1.0 },
        Kind::Sine { omega: 1.0 },
        Kind::Cosine { omega: 1.0 },
        Kind::Gauss { s: 1.0 },
    ];
    for level in Level::supported() {
        for &(kind, x, want) in &checks {
            let got = run_at(level, kind, &[x])[0];
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{} {}({x}) = {got}, want {want}",
                level.name(),
                name(kind)
            );
        }
        for kind in all {
            let got = run_at(level, kind, &[f32::NAN, -f32::NAN]);
            assert!(
                got.iter().all(|g| g.is_nan()),
                "{} {}(NaN)",
                level.name(),
                name(kind)
            );
        }
        for x in [inf, -inf] {
            for k in [Kind::Sine { omega: 1.0 }, Kind::Cosine { omega: 1.0 }] {
                assert!(run_at(level, k, &[x])[0].is_nan());
            }
        }
    }
}

/// Results do not depend on slice length, offset or alignment (tails use
/// the same kernel), and the fused bias equals adding the bias first.
#[test]
fn tails_offsets_and_bias() {
    let base: Vec<f32> = (0..97).map(|i| (i as f32 * 0.37 - 17.0) * 1.3).collect();
    let kinds = [
        Kind::Tanh,
        Kind::Silu,
        Kind::GeluErf,
        Kind::GeluTanh,
        Kind::Sine { omega: 30.0 },
        Kind::Gauss { s: 0.5 },
        Kind::Softplus {
            beta: 1.0,
            threshold: 20.0,
        },
    ];
    for level in Level::supported() {
        for kind in kinds {
            let full = run_at(level, kind, &base);
            for start in 0..17 {
                for len in 0..(base.len() - start).min(40) {
                    let mut v = base[start..start + len].to_vec();
                    ak::apply_biased_at(level, kind, -0.0, &mut v);
                    for (k, y) in v.iter().enumerate() {
                        assert_eq!(y.to_bits(), full[start + k].to_bits());
                    }
                }
            }
            let bias = 0.731f32;
            let mut fused = base.clone();
            ak::apply_biased_at(level, kind, bias, &mut fused);
            let shifted: Vec<f32> = base.iter().map(|x| x + bias).collect();
            let want = run_at(level, kind, &shifted);
            for (a, b) in fused.iter().zip(&want) {
                assert_eq!(a.to_bits(), b.to_bits());
            }
        }
    }
}
