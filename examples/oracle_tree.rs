//! What the best refinement tree of a network can do, and what it costs as a mesh (issue 17).
//!
//! The estimate criterion refines greedily, from estimates. This study asks what no refinement
//! can beat in elements: among all trees of single-axis halvings of a one-box start mesh (every
//! anisotropic refinement is one), the tree with the least L2 error of the order-1
//! interpolant for its number of elements, computed exactly by dynamic programming over every
//! dyadic box (Donoho's dyadic CART; Binev and DeVore's tree approximation) from the network
//! sampled on a fine grid. It then builds that tree as a mesh (closure and hanging vertices
//! as in a run) and measures it in DOFs against uniform refinement, on the same points.
//!
//! The box errors are exact up to quadrature: each box's own interpolant (the network at its
//! 8 corners) against the network at the midpoints of a 2^S grid (`--grid S`), for boxes down
//! to 2^−L of the start box per axis (`--levels L`). "Ideal" numbers take every element's own
//! corner values, as if no vertex hung; the mesh's are the run's (hanging values constrained).
//!
//! `cargo run --release --example oracle_tree -- [--grid S] [--levels L] [--aspect A]
//!  [--points N] [--elements N …] [-- run options naming the network]` (default:
//! `-- --INR_key CT_demo --time_slice 1.0`).

use clap::Parser;
use pruningamr::config::Cli;
use pruningamr::field::MeshField;
use pruningamr::mesh::{Mesh, Split};
use pruningamr::network::Inr;
use pruningamr::random::{Purpose, Stream};
use pruningamr::run::load_inputs;
use rayon::prelude::*;

/// Dyadic boxes of the start box: level triples `l` (halvings per axis, 0..=levels) and, per
/// triple, boxes in x-fastest order.
struct Boxes {
    levels: usize,
    /// Largest difference of a box's levels along two axes (aspect ratio 2^aspect).
    aspect: usize,
}

impl Boxes {
    fn triple(&self, l: [usize; 3]) -> usize {
        let p = self.levels + 1;
        l[0] + p * (l[1] + p * l[2])
    }
    fn triples(&self) -> Vec<[usize; 3]> {
        let p = self.levels + 1;
        (0..p.pow(3))
            .map(|t| [t % p, (t / p) % p, t / p / p])
            .collect()
    }
    fn count(l: [usize; 3]) -> usize {
        1 << (l[0] + l[1] + l[2])
    }
    fn index(l: [usize; 3], b: [usize; 3]) -> usize {
        b[0] + (b[1] << l[0]) + (b[2] << (l[0] + l[1]))
    }
    fn position(l: [usize; 3], i: usize) -> [usize; 3] {
        [
            i & ((1 << l[0]) - 1),
            (i >> l[0]) & ((1 << l[1]) - 1),
            i >> (l[0] + l[1]),
        ]
    }
}

/// Squared L2 error of every dyadic box's own interpolant, by triple then box. `mid`: the
/// field (c components) at the midpoints of the 2^grid cells, x fastest; `lattice`: at the
/// (2^levels + 1)³ lattice points; `cell`: a cell's volume.
fn box_errors(
    boxes: &Boxes,
    grid: usize,
    mid: &[f64],
    lattice: &[f64],
    c: usize,
    cell: f64,
) -> Vec<Vec<f64>> {
    let (g, nl) = (1usize << grid, (1usize << boxes.levels) + 1);
    boxes
        .triples()
        .par_iter()
        .map(|&l| {
            let mut e = vec![0.0; Boxes::count(l)];
            let span: [usize; 3] = std::array::from_fn(|a| 1 << (boxes.levels - l[a]));
            let cells: [usize; 3] = std::array::from_fn(|a| 1 << (grid - l[a]));
            for q in 0..g * g * g {
                let f = [q % g, (q / g) % g, q / g / g];
                let b: [usize; 3] = std::array::from_fn(|a| f[a] / cells[a]);
                let t: [f64; 3] = std::array::from_fn(|a| {
                    ((f[a] - b[a] * cells[a]) as f64 + 0.5) / cells[a] as f64
                });
                // The box's 8 corners: trilinear weights at the sample and lattice indices.
                let corners: [(f64, usize); 8] = std::array::from_fn(|corner| {
                    let (mut w, mut at, mut stride) = (1.0, 0, 1);
                    for a in 0..3 {
                        let up = (corner >> a) & 1;
                        w *= if up == 1 { t[a] } else { 1.0 - t[a] };
                        at += (b[a] + up) * span[a] * stride;
                        stride *= nl;
                    }
                    (w, at)
                });
                let mut sum = 0.0;
                for o in 0..c {
                    let v: f64 = corners.iter().map(|&(w, at)| w * lattice[at * c + o]).sum();
                    let d = mid[q * c + o] - v;
                    sum += d * d;
                }
                e[Boxes::index(l, b)] += sum * cell;
            }
            e
        })
        .collect()
}

/// The optimal tree at price `lambda` per element: for every box, 0 (a leaf) or 1 + the axis
/// its optimal subtree halves first; and the whole tree's squared error and element count.
struct Tree {
    split: Vec<Vec<u8>>,
    error2: f64,
    elements: f64,
}

fn optimal_tree(boxes: &Boxes, errors: &[Vec<f64>], lambda: f64) -> Tree {
    let mut order = boxes.triples();
    order.sort_by_key(|l| std::cmp::Reverse(l[0] + l[1] + l[2]));
    let n = order.len();
    // Per box: (error + λ·elements, error, elements) of its optimal subtree.
    let mut best: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); n];
    let mut split: Vec<Vec<u8>> = vec![Vec::new(); n];
    for &l in &order {
        let t = boxes.triple(l);
        let mut here = Vec::with_capacity(Boxes::count(l));
        let mut choice = Vec::with_capacity(Boxes::count(l));
        // Axes a box of this shape may halve (within the finest level and the aspect limit).
        let coarsest = l.iter().min().copied().unwrap_or(0);
        let axes: Vec<usize> = (0..3)
            .filter(|&a| l[a] < boxes.levels && l[a] < coarsest + boxes.aspect)
            .collect();
        for (i, &e) in errors[t].iter().enumerate() {
            let b = Boxes::position(l, i);
            let (mut cost, mut choose) = ((e + lambda, e, 1.0), 0u8);
            for &a in &axes {
                let mut lc = l;
                lc[a] += 1;
                let kids = &best[boxes.triple(lc)];
                let sub = (0..2).fold((0.0, 0.0, 0.0), |acc, s| {
                    let mut cb = b;
                    cb[a] = 2 * b[a] + s;
                    let k = kids[Boxes::index(lc, cb)];
                    (acc.0 + k.0, acc.1 + k.1, acc.2 + k.2)
                });
                if sub.0 < cost.0 {
                    (cost, choose) = (sub, a as u8 + 1);
                }
            }
            here.push(cost);
            choice.push(choose);
        }
        best[t] = here;
        split[t] = choice;
    }
    let (_, error2, elements) = best[0][0];
    Tree {
        split,
        error2,
        elements,
    }
}

/// The optimal tree with at most `elements` elements and the most below that, and its price
/// (found by bisection in log λ).
fn tree_with(boxes: &Boxes, errors: &[Vec<f64>], elements: f64) -> (Tree, f64) {
    let (mut lo, mut hi) = (-30.0f64, 5.0f64);
    for _ in 0..24 {
        let mid = 0.5 * (lo + hi);
        if optimal_tree(boxes, errors, 10f64.powf(mid)).elements > elements {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let lambda = 10f64.powf(hi);
    (optimal_tree(boxes, errors, lambda), lambda)
}

/// The tree as a mesh: leaves of the one-box start mesh halved as `tree` says.
fn build(start: &Mesh, inr: &Inr, boxes: &Boxes, tree: &Tree) -> MeshField {
    let (lo, hi) = start.bounding_box();
    let mut field = MeshField::new(start.clone(), inr).expect("start field");
    loop {
        let mesh = field.mesh();
        let splits: Vec<Split> = (0..mesh.num_elements())
            .map(|e| {
                let l = mesh.element_axis_levels(e).map(usize::from);
                if l.iter().any(|&x| x > boxes.levels) {
                    return Split::NONE; // widened past the tree by the closure
                }
                let (elo, _) = mesh.element_bbox(e);
                let b: [usize; 3] = std::array::from_fn(|a| {
                    ((elo[a] - lo[a]) / (hi[a] - lo[a]) * (1u64 << l[a]) as f64).round() as usize
                });
                match tree.split[boxes.triple(l)][Boxes::index(l, b)] {
                    0 => Split::NONE,
                    a => Split::axes(3, 1 << (a - 1)).expect("one axis"),
                }
            })
            .collect();
        if splits.iter().all(|&s| s == Split::NONE) {
            return field;
        }
        field.refine_split(&splits).expect("refine");
        field.update(inr).expect("update");
    }
}

/// Points of the box `lo + h·((index + offset) / divisions)` on an n³ grid, x fastest.
fn grid_points(lo: [f64; 3], h: [f64; 3], n: usize, offset: f64, divisions: f64) -> Vec<[f64; 3]> {
    (0..n * n * n)
        .map(|q| {
            let i = [q % n, (q / n) % n, q / n / n];
            std::array::from_fn(|a| lo[a] + h[a] * (i[a] as f64 + offset) / divisions)
        })
        .collect()
}

fn eval(inr: &Inr, points: &[[f64; 3]]) -> Vec<f64> {
    let c = inr.output_dim();
    let mut out = vec![0.0; points.len() * c];
    out.par_chunks_mut(4096 * c)
        .zip(points.par_chunks(4096))
        .for_each(|(o, p)| inr.eval_points_into(p, o));
    out
}

#[derive(Parser)]
struct Args {
    /// Quadrature: midpoints of a 2^S grid per axis.
    #[arg(long, default_value_t = 7)]
    grid: usize,
    /// Finest boxes: 2^−L of the start box per axis (L < S).
    #[arg(long, default_value_t = 6)]
    levels: usize,
    /// Largest level difference of a box between two axes (aspect ratio ≤ 2^A), at least 1.
    #[arg(long, default_value_t = 6)]
    aspect: usize,
    /// RMSE points, uniform in the box.
    #[arg(long, default_value_t = 1 << 18)]
    points: usize,
    /// Element counts of the optimal trees to build.
    #[arg(long, num_args = 1.., default_values_t = [800.0, 2500.0, 8000.0, 24000.0])]
    elements: Vec<f64>,
    /// Run options naming the network (after `--`).
    #[arg(last = true)]
    run: Vec<String>,
}

fn main() {
    let args = Args::parse();
    assert!(args.levels < args.grid, "--levels must be below --grid");
    // A single-axis halving of a cube makes an aspect ratio of 2.
    assert!(args.aspect >= 1, "--aspect must be at least 1");
    let mut cli = vec!["pruningamr".to_string()];
    cli.extend(args.run.iter().cloned());
    if args.run.is_empty() {
        cli.extend(["--INR_key", "CT_demo", "--time_slice", "1.0"].map(String::from));
    }
    let cfg = Cli::parse_from(&cli).validate().expect("run options");
    let inputs = load_inputs(&cfg).expect("network and mesh");
    let (inr, start) = (&inputs.inr, &inputs.mesh);
    assert!(
        start.dim() == 3 && start.num_elements() == 1,
        "the study needs a 3-D start mesh of one box"
    );
    let c = inr.output_dim();
    let (lo, hi) = start.bounding_box();
    let h: [f64; 3] = std::array::from_fn(|a| hi[a] - lo[a]);
    let volume: f64 = h.iter().product();
    let boxes = Boxes {
        levels: args.levels,
        aspect: args.aspect,
    };
    let g = 1usize << args.grid;
    let nl = (1usize << args.levels) + 1;
    let mid = eval(inr, &grid_points(lo, h, g, 0.5, g as f64));
    let lattice = eval(inr, &grid_points(lo, h, nl, 0.0, (nl - 1) as f64));
    let cell = volume / (g * g * g) as f64;
    let errors = box_errors(&boxes, args.grid, &mid, &lattice, c, cell);

    // RMSE points and uniform refinement's line on them.
    let mut s = Stream::new(cfg.seed, 0, 0, Purpose::Rmse);
    let points: Vec<[f64; 3]> = (0..args.points)
        .map(|_| std::array::from_fn(|a| lo[a] + h[a] * s.unit()))
        .collect();
    let exact = eval(inr, &points);
    let rmse = |mesh: &Mesh, values: &[f64]| {
        let mut out = vec![0.0; points.len() * c];
        mesh.interpolate(values, c, &points, &mut out)
            .expect("interpolate");
        let sum: f64 = out.iter().zip(&exact).map(|(a, b)| (a - b) * (a - b)).sum();
        (sum / points.len() as f64).sqrt()
    };
    let mut uniform: Vec<(f64, f64, f64)> = Vec::new();
    let mut field = MeshField::new(start.clone(), inr).expect("start field");
    let top = args.elements.iter().cloned().fold(0.0, f64::max) * 4.0;
    while uniform.last().is_none_or(|u| u.1 < top) {
        let n = field.mesh().num_elements();
        field.refine(&vec![true; n]).expect("refine");
        field.update(inr).expect("update");
        uniform.push((
            field.mesh().num_elements() as f64,
            field.mesh().num_vertices() as f64,
            rmse(field.mesh(), field.values()),
        ));
    }
    // Uniform refinement's RMSE at n elements (`by_elements`) or n DOFs, in log–log.
    let line = |n: f64, by_elements: bool| -> f64 {
        let at = |u: &(f64, f64, f64)| if by_elements { (u.0, u.2) } else { (u.1, u.2) };
        for w in uniform.windows(2) {
            let ((a, ea), (b, eb)) = (at(&w[0]), at(&w[1]));
            if (a..=b).contains(&n) {
                let t = (n / a).ln() / (b / a).ln();
                return (ea.ln() + t * (eb.ln() - ea.ln())).exp();
            }
        }
        f64::NAN
    };
    println!(
        "network {}, grid 2^{}, boxes to 2^-{} per axis, {} RMSE points\n",
        cfg.key, args.grid, args.levels, args.points
    );
    println!("uniform (elements, DOFs, RMSE): {uniform:?}\n");
    println!(
        "| tree elements | ideal RMSE | / uniform at as many elements | / uniform at as many DOFs | mesh elements | DOFs | hanging | mesh RMSE | / uniform at its DOFs | own corner values / uniform |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &target in &args.elements {
        let (tree, _) = tree_with(&boxes, &errors, target);
        let ideal = (tree.error2 / volume).sqrt();
        let field = build(start, inr, &boxes, &tree);
        let mesh = field.mesh();
        let dofs = mesh.num_vertices() as f64;
        let (constrained, own) = (rmse(mesh, field.values()), rmse(mesh, field.raw()));
        println!(
            "| {:.0} | {ideal:.3e} | {:.3} | {:.3} | {} | {} | {:.0} % | {constrained:.3e} | {:.3} | {:.3} |",
            tree.elements,
            ideal / line(tree.elements, true),
            ideal / line(tree.elements, false),
            mesh.num_elements(),
            mesh.num_vertices(),
            100.0 * mesh.num_hanging() as f64 / dofs,
            constrained / line(dofs, false),
            own / line(dofs, false),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Box errors of a field sampled on the study's grids.
    fn errors_of(f: impl Fn([f64; 3]) -> f64, boxes: &Boxes, grid: usize) -> Vec<Vec<f64>> {
        let (g, nl) = (1usize << grid, (1usize << boxes.levels) + 1);
        let mid: Vec<f64> = grid_points([0.0; 3], [1.0; 3], g, 0.5, g as f64)
            .into_iter()
            .map(&f)
            .collect();
        let lattice: Vec<f64> = grid_points([0.0; 3], [1.0; 3], nl, 0.0, (nl - 1) as f64)
            .into_iter()
            .map(&f)
            .collect();
        box_errors(boxes, grid, &mid, &lattice, 1, 1.0 / (g * g * g) as f64)
    }

    /// f = x²: a box of width h along x has ‖f − If‖² = h⁴/30 · |box| (1-D: the error
    /// x(h − x) on [0, h] has mean square h⁴/30), whatever its other sides; the midpoint rule
    /// on 2^(S−l) points per axis gives it to 2 %.
    #[test]
    fn box_errors_are_the_interpolation_errors() {
        let boxes = Boxes {
            levels: 3,
            aspect: 3,
        };
        let errors = errors_of(|p| p[0] * p[0], &boxes, 6);
        for l in boxes.triples() {
            let h = 0.5f64.powi(l[0] as i32);
            let exact = h.powi(4) / 30.0 / Boxes::count(l) as f64;
            for &e in &errors[boxes.triple(l)] {
                assert!((e / exact - 1.0).abs() < 0.02, "{l:?}: {e} vs {exact}");
            }
        }
        // Linear fields are interpolated exactly.
        let linear = errors_of(|p| 1.0 + 2.0 * p[0] - p[1] + 0.5 * p[2], &boxes, 5);
        assert!(linear.iter().flatten().all(|&e| e < 1e-25));
    }

    /// The optimal tree of a field of x alone halves only x; its error is the least of any
    /// tree of as many elements: here the best x-partition, checked against every uniform
    /// one; and λ → 0 or ∞ give the finest tree or the start box.
    #[test]
    fn the_optimal_tree_is_optimal() {
        let boxes = Boxes {
            levels: 4,
            aspect: 4,
        };
        let errors = errors_of(|p| (3.0 * p[0]).exp(), &boxes, 6);
        let tree = optimal_tree(&boxes, &errors, 1e-7);
        for l in boxes.triples() {
            if l[1] > 0 || l[2] > 0 {
                continue;
            }
            assert!(
                tree.split[boxes.triple(l)].iter().all(|&s| s <= 1),
                "splits along y or z at {l:?}"
            );
        }
        // Least error + λ·elements: no tree beats it, the uniform x-partitions included.
        for k in 1..=4usize {
            let (t, lambda) = tree_with(&boxes, &errors, (1 << k) as f64);
            let n = (1 << k) as f64;
            let uniform: f64 = errors[boxes.triple([k, 0, 0])].iter().sum();
            assert!(t.elements <= n);
            assert!(
                t.error2 <= uniform + lambda * (n - t.elements) + 1e-15,
                "k {k}: {} against {uniform}",
                t.error2
            );
        }
        // At a price far below every x-split's gain: the 16 finest slabs, and no y or z split
        // (f varies along x only, so they lower nothing).
        let all = optimal_tree(&boxes, &errors, 1e-12);
        assert_eq!(all.elements, 16.0);
        let none = optimal_tree(&boxes, &errors, 1e9);
        assert_eq!(none.elements, 1.0);
        assert!(
            (none.error2 - errors[0][0]).abs() < 1e-15,
            "one box keeps its own error"
        );
    }
}
