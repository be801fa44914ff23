//! `--plot` in a run: every iteration's it_N.png and convergence.png decode, have the stated
//! size and are not blank; 3-D meshes get slices; a threshold sweep's convergence picture
//! holds every run of the key; slices of a refined hex mesh cut each element once.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use common::picture::Picture;
use pruningamr::config::{Cli, Config};
use pruningamr::experiment::RunSummary;
use pruningamr::field::MeshField;
use pruningamr::figures::{
    CONVERGENCE_FILE, CONVERGENCE_SIZE, FIELD_SIZE, SLICES_SIZE, Slice, convergence_curves,
    draw_field, iteration_file, picture_size,
};
use pruningamr::mesh::Mesh;
use pruningamr::run::{Silent, load_inputs, run};

/// A fresh folder under the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("pruningamr-run-plot-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(out: &Path, args: &[&str]) -> Config {
    let out = out.display().to_string();
    let mut full = vec!["pruningamr", "--quiet", "--output", &out];
    full.extend_from_slice(args);
    Cli::try_parse_from(full)
        .expect("parses")
        .validate()
        .expect("valid")
}

impl Picture {
    /// Decodes, has `size`, and is far from blank (a one-colour picture has variance 0).
    fn check(path: &Path, size: (u32, u32)) -> Picture {
        let png = Picture::read(path);
        assert_eq!((png.width, png.height), size, "{}", path.display());
        let var = png.luminance_variance();
        assert!(var > 300.0, "{}: luminance variance {var}", path.display());
        png
    }
}

fn is_hanging_red(c: [u8; 3]) -> bool {
    c[0] > 190 && c[1] < 70 && c[2] < 70
}

/// Field colours (viridis is never grey; the frame, text and background are).
fn is_field_colour(c: [u8; 3]) -> bool {
    let (lo, hi) = (c.iter().min().copied(), c.iter().max().copied());
    hi.unwrap_or(0) - lo.unwrap_or(0) > 40 && !is_hanging_red(c)
}

fn params(s: &RunSummary) -> serde_json::Value {
    let text = std::fs::read_to_string(s.experiment_dir.join("parameters.json")).expect("written");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn a_2d_run_draws_every_iteration_and_the_convergence() {
    let out = Scratch::new("hos");
    let cfg = config(&out.0, &["--INR_key", "hos", "--max_it", "3", "--plot"]);
    let s = run(&cfg, &Silent).expect("runs");
    assert_eq!(s.iterations.len(), 3);
    for rec in &s.iterations {
        let png = Picture::check(&s.experiment_dir.join(iteration_file(rec.it)), FIELD_SIZE);
        let field = png.count(is_field_colour);
        assert!(field > 200_000, "it {}: {field} field pixels", rec.it);
        let red = png.count(is_hanging_red);
        if rec.hanging == 0 {
            assert_eq!(red, 0, "it {}: no hanging vertex, {red} red pixels", rec.it);
        } else {
            assert!(
                red >= 4 * rec.hanging,
                "it {}: {} hanging vertices, {red} red pixels",
                rec.it,
                rec.hanging
            );
        }
        assert!(rec.seconds.writing > 0.0);
    }
    assert!(
        s.iterations[2].hanging > 0,
        "the adaptive iteration leaves hanging vertices"
    );
    Picture::check(&s.experiment_dir.join(CONVERGENCE_FILE), CONVERGENCE_SIZE);
    let p = params(&s);
    assert_eq!(p["plot"], true);
    // Without --plot no picture is drawn.
    let cfg = config(&out.0, &["--INR_key", "hos", "--max_it", "1", "--original"]);
    let s = run(&cfg, &Silent).expect("runs");
    assert!(!s.experiment_dir.join("it_0.png").exists());
    assert!(!s.experiment_dir.join(CONVERGENCE_FILE).exists());
    assert_eq!(params(&s)["plot"], false);
}

#[test]
fn a_3d_run_draws_three_slices() {
    let out = Scratch::new("ns");
    let cfg = config(
        &out.0,
        &[
            "--INR_key",
            "NS_PINN",
            "--original",
            "--max_it",
            "1",
            "--plot",
        ],
    );
    let s = run(&cfg, &Silent).expect("runs");
    let png = Picture::check(&s.experiment_dir.join("it_0.png"), SLICES_SIZE);
    // Each third of the width (one slice each) shows the field.
    let w = png.width as usize;
    for third in 0..3 {
        let cols = third * w / 3..(third + 1) * w / 3;
        let field = png
            .rgb
            .iter()
            .enumerate()
            .filter(|&(i, &c)| cols.contains(&(i % w)) && is_field_colour(c))
            .count();
        assert!(field > 20_000, "slice {third}: {field} field pixels");
    }
    assert_eq!(
        png.count(is_hanging_red),
        0,
        "a uniform mesh has no hanging vertex"
    );
    Picture::check(&s.experiment_dir.join(CONVERGENCE_FILE), CONVERGENCE_SIZE);
}

/// The orange of the plot library's second curve (the first is blue).
fn is_second_curve_orange(c: [u8; 3]) -> bool {
    c[0] > 235 && (110..145).contains(&c[1]) && c[2] < 40
}

#[test]
fn a_sweep_draws_every_run_of_the_key() {
    let out = Scratch::new("sweep");
    let run_with = |extra: &[&str]| {
        let mut args = vec!["--INR_key", "hos", "--max_it", "3", "--plot"];
        args.extend_from_slice(extra);
        let cfg = config(&out.0, &args);
        let s = run(&cfg, &Silent).expect("runs");
        (cfg, s)
    };
    let (_, first) = run_with(&["--threshold", "1e-3"]);
    let alone = Picture::read(&first.experiment_dir.join(CONVERGENCE_FILE));
    assert_eq!(alone.count(is_second_curve_orange), 0, "one curve only");

    let (cfg, second) = run_with(&["--threshold", "1e-4"]);
    assert_eq!(
        first.experiment_dir.parent(),
        second.experiment_dir.parent()
    );
    let runs = convergence_curves(&cfg, &second.experiment_dir, &second.iterations);
    let labels: Vec<&str> = runs.curves.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        vec!["threshold 0.0001 (this run)", "threshold 0.001"]
    );
    assert_eq!(runs.left_out, 0);
    let highlighted: Vec<bool> = runs.curves.iter().map(|c| c.highlight).collect();
    assert_eq!(highlighted, vec![true, false]);
    let own: Vec<(f64, f64)> = second
        .iterations
        .iter()
        .map(|r| (r.dofs as f64, r.rmse))
        .collect();
    assert_eq!(runs.curves[0].points, own);
    // The other run's curve comes from its parameters.json.
    let theirs: Vec<(f64, f64)> = first
        .iterations
        .iter()
        .map(|r| (r.dofs as f64, r.rmse))
        .collect();
    assert_eq!(runs.curves[1].points.len(), theirs.len());
    for (a, b) in runs.curves[1].points.iter().zip(&theirs) {
        assert_eq!(a.0, b.0);
        assert!((a.1 - b.1).abs() <= 1e-12 * b.1);
    }
    let both = Picture::check(
        &second.experiment_dir.join(CONVERGENCE_FILE),
        CONVERGENCE_SIZE,
    );
    assert!(
        both.count(is_second_curve_orange) > 100,
        "the second curve is drawn"
    );

    // A uniform run of the key joins as the baseline, first.
    let uniform = config(&out.0, &["--INR_key", "hos", "--original", "--max_it", "2"]);
    run(&uniform, &Silent).expect("runs");
    let runs = convergence_curves(&cfg, &second.experiment_dir, &second.iterations);
    let labels: Vec<&str> = runs.curves.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        vec!["uniform", "threshold 0.0001 (this run)", "threshold 0.001"]
    );
    // The uniform run sees the adaptive ones too; another key's runs never join.
    let other_key = config(&out.0, &["--INR_key", "hol", "--original", "--max_it", "1"]);
    let runs = convergence_curves(
        &other_key,
        &pruningamr::experiment::name::folder(&other_key),
        &[],
    );
    assert_eq!(runs.curves.len(), 1);
    let runs = convergence_curves(
        &uniform,
        &pruningamr::experiment::name::folder(&uniform),
        &[],
    );
    assert_eq!(runs.curves.len(), 3);
    assert_eq!(runs.curves[0].label, "uniform (this run)");
}

/// A hex mesh on [-1, 1]³ refined once uniformly, then its corner child at (-1, -1, -1) again.
fn refined_cube() -> Mesh {
    let text = "MFEM mesh v1.0\n\ndimension\n3\n\nelements\n1\n1 5 0 1 2 3 4 5 6 7\n\n\
                boundary\n0\n\nvertices\n8\n3\n\
                -1 -1 -1\n1 -1 -1\n1 1 -1\n-1 1 -1\n-1 -1 1\n1 -1 1\n1 1 1\n-1 1 1\n";
    let mut mesh = Mesh::parse(text, "cube").expect("parses");
    mesh.refine_uniformly();
    let corner = (0..mesh.num_elements())
        .find(|&e| {
            let (lo, _) = mesh.element_bbox(e);
            lo == [-1.0, -1.0, -1.0]
        })
        .expect("a corner child");
    let marks: Vec<bool> = (0..mesh.num_elements()).map(|e| e == corner).collect();
    mesh.refine(&marks).expect("refines");
    mesh
}

fn area(cell: &[[f64; 2]; 4]) -> f64 {
    // Shoelace formula: the outline's corners are in cyclic order.
    0.5 * (0..4)
        .map(|k| {
            let (p, q) = (cell[k], cell[(k + 1) % 4]);
            p[0] * q[1] - q[0] * p[1]
        })
        .sum::<f64>()
        .abs()
}

#[test]
fn slices_cut_each_element_once_and_show_hanging_vertices() {
    let mesh = refined_cube();
    assert_eq!(mesh.num_elements(), 15);
    for axis in 0..3 {
        let mid = Slice::mid_plane(&mesh, axis);
        assert_eq!(mid.at, 0.0);
        // The mid-plane runs along faces: the coarse elements above it are cut, not the
        // refined corner below it, and nothing twice.
        let (cells, hanging) = mid.outlines(&mesh);
        assert_eq!(cells.len(), 4, "axis {axis}");
        let total: f64 = cells.iter().map(area).sum();
        assert!((total - 4.0).abs() < 1e-12, "axis {axis}: area {total}");
        // The refined corner's face on the plane: its centre and four edge midpoints hang.
        let mut hanging = hanging;
        hanging.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        assert_eq!(
            hanging,
            vec![
                [-1.0, -0.5],
                [-0.5, -1.0],
                [-0.5, -0.5],
                [-0.5, 0.0],
                [0.0, -0.5]
            ],
            "axis {axis}"
        );
        let lifted = mid.lift(&[0.25, -0.75]);
        assert_eq!(lifted[axis], 0.0);
        assert_eq!(
            [lifted[mid.in_plane[0]], lifted[mid.in_plane[1]]],
            [0.25, -0.75]
        );
    }
    // Through the refined corner's middle: three coarse elements and four grandchildren.
    let inner = Slice {
        at: -0.5,
        ..Slice::mid_plane(&mesh, 2)
    };
    let (cells, hanging) = inner.outlines(&mesh);
    assert_eq!(cells.len(), 7);
    let total: f64 = cells.iter().map(area).sum();
    assert!((total - 4.0).abs() < 1e-12, "area {total}");
    let smallest = cells.iter().map(area).fold(f64::INFINITY, f64::min);
    assert!((smallest - 0.25).abs() < 1e-12);
    // Hanging vertices at z = -0.5: midpoints of the corner's vertical edges and face centres.
    assert_eq!(hanging.len(), 5);
}

#[test]
fn a_multi_output_field_names_the_component_drawn() {
    let out = Scratch::new("multi");
    let cfg = config(&out.0, &["--INR_key", "NS_PINN"]);
    let inputs = load_inputs(&cfg).expect("loads");
    let field = MeshField::new(inputs.mesh, &inputs.inr).expect("evaluates");
    assert_eq!(field.ncomp(), 3);
    let rec = pruningamr::experiment::IterationRecord {
        it: 7,
        kind: pruningamr::experiment::IterationKind::Uniform,
        scored: 0,
        marked: 0,
        elements: field.mesh().num_elements(),
        dofs: 12345,
        true_dofs: 12345,
        hanging: 0,
        rmse: 0.01234,
        rmse_per_component: vec![0.0; 3],
        scoring_gflop: 0.0,
        seconds: Default::default(),
    };
    use pruningamr::config::Drawn;
    assert_eq!(field.names(), ["u", "v", "p"]);
    assert_eq!(
        pruningamr::figures::iteration_title(&cfg, field.names(), Drawn::Component(0), &rec),
        "NS_PINN — u — it 7 — 12,345 DOFs — RMSE 1.234e-2"
    );
    assert_eq!(
        pruningamr::figures::iteration_title(&cfg, field.names(), Drawn::Magnitude, &rec),
        "NS_PINN — |u, v| — it 7 — 12,345 DOFs — RMSE 1.234e-2"
    );
    std::fs::create_dir_all(&out.0).expect("dir");
    let path = out.0.join("start.png");
    draw_field(&field, "NS_PINN start mesh", &path, SLICES_SIZE).expect("draws");
    Picture::check(&path, SLICES_SIZE);
}

/// Seconds per picture on large uniform meshes (prints; run with `--ignored --nocapture`).
#[test]
#[ignore = "timing, not a check: cargo test --release --test run_plot -- --ignored --nocapture"]
fn picture_seconds() {
    let out = Scratch::new("timing");
    std::fs::create_dir_all(&out.0).expect("dir");
    // Set to a folder to keep the pictures for looking at.
    let keep = std::env::var_os("PRUNINGAMR_PLOT_KEEP").map(PathBuf::from);
    let pictures = keep.as_deref().unwrap_or(&out.0);
    for (key, refinements) in [
        ("hos", 1),
        ("hos", 6),
        ("hos", 7),
        ("NS_PINN", 3),
        ("NS_PINN", 4),
        ("CT_demo", 5),
        ("CT_demo", 6),
    ] {
        let cfg = config(&out.0, &["--INR_key", key]);
        let inputs = load_inputs(&cfg).expect("loads");
        let mut field = MeshField::new(inputs.mesh, &inputs.inr).expect("evaluates");
        for _ in 0..refinements {
            let marks = vec![true; field.mesh().num_elements()];
            field.refine(&marks).expect("refines");
            field.update(&inputs.inr).expect("evaluates");
        }
        let size = picture_size(field.mesh().dim());
        let path = pictures.join(format!("{key}_{refinements}.png"));
        let t = Instant::now();
        draw_field(&field, key, &path, size).expect("draws");
        let secs = t.elapsed().as_secs_f64();
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!(
            "{key}: {} elements, {} DOFs: {}x{} picture in {secs:.3} s ({} KB)",
            field.mesh().num_elements(),
            field.mesh().num_vertices(),
            size.0,
            size.1,
            bytes / 1024
        );
    }
    // A sweep of three runs of six iterations.
    let curves: Vec<pruningamr::plot::Curve> = (0..3)
        .map(|k| pruningamr::plot::Curve {
            label: format!("threshold 1e-{}", k + 3),
            points: (0..6)
                .map(|i| {
                    (
                        81.0 * 4f64.powi(i),
                        0.1 / f64::from(k + 1) / f64::from(i + 1),
                    )
                })
                .collect(),
            highlight: k == 0,
        })
        .collect();
    let path = pictures.join("convergence.png");
    let t = Instant::now();
    pruningamr::plot::render_convergence_png("hos", &curves, &path, CONVERGENCE_SIZE)
        .expect("draws");
    println!(
        "convergence: {}x{} picture in {:.3} s",
        CONVERGENCE_SIZE.0,
        CONVERGENCE_SIZE.1,
        t.elapsed().as_secs_f64()
    );
}
