//! Pictures: PNGs decode, have the asked size, show a field, text, element outlines, hanging
//! dots and curves; bad input is refused before anything is written.

use std::fs;
use std::path::{Path, PathBuf};

mod common;

use common::picture::Picture;
use pruningamr::plot::{
    Curve, FieldPicture, FieldSampler, PlotError, render_convergence_png, render_field_png,
    render_slices_png, viridis,
};

impl Picture {
    /// Pixels in rows `rows` darker than mid-grey (text is black on white).
    fn dark_pixels_in_rows(&self, rows: std::ops::Range<u32>) -> usize {
        let w = self.width as usize;
        self.rgb[rows.start as usize * w..rows.end as usize * w]
            .iter()
            .filter(|&&c| Self::luminance(c) < 100.0)
            .count()
    }

    fn count_near(&self, target: [u8; 3], tol: i32) -> usize {
        self.count(|c| (0..3).all(|k| (i32::from(c[k]) - i32::from(target[k])).abs() <= tol))
    }
}

fn is_hanging_red(c: [u8; 3]) -> bool {
    c[0] > 190 && c[1] < 70 && c[2] < 70
}

/// Set to a directory to keep the test pictures there for looking at.
const KEEP_VAR: &str = "PRUNINGAMR_PLOT_KEEP";

/// A fresh directory per test, so parallel tests never share files.
fn scratch(name: &str) -> PathBuf {
    let dir = match std::env::var_os(KEEP_VAR) {
        Some(keep) => PathBuf::from(keep).join(name),
        None => std::env::temp_dir().join(format!("pruningamr-plot-{}-{name}", std::process::id())),
    };
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn done(dir: &Path) {
    if std::env::var_os(KEEP_VAR).is_none() {
        let _ = fs::remove_dir_all(dir);
    }
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A 4×4 grid over [0, 4] × [0, 3] with cell (1, 1) split in four: its edge midpoints that
/// lie on unrefined neighbours are the hanging vertices.
fn refined_grid() -> (Vec<[[f64; 2]; 4]>, Vec<[f64; 2]>) {
    let (dx, dy) = (1.0, 0.75);
    let quad = |x: f64, y: f64, w: f64, h: f64| [[x, y], [x + w, y], [x + w, y + h], [x, y + h]];
    let mut cells = Vec::new();
    for j in 0..4 {
        for i in 0..4 {
            let (x, y) = (f64::from(i) * dx, f64::from(j) * dy);
            if (i, j) == (1, 1) {
                for (a, b) in [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5)] {
                    cells.push(quad(x + a * dx, y + b * dy, dx / 2.0, dy / 2.0));
                }
            } else {
                cells.push(quad(x, y, dx, dy));
            }
        }
    }
    let hanging = vec![[1.5, 0.75], [1.5, 1.5], [1.0, 1.125], [2.0, 1.125]];
    (cells, hanging)
}

fn sin_cos(points: &[[f64; 2]], out: &mut [f64]) {
    for (p, o) in points.iter().zip(out) {
        *o = p[0].sin() * p[1].cos();
    }
}

const SIZE: (u32, u32) = (800, 600);

fn grid_picture<'a>(
    title: &str,
    cells: &'a [[[f64; 2]; 4]],
    hanging: &'a [[f64; 2]],
    value_at: &'a FieldSampler,
) -> FieldPicture<'a> {
    FieldPicture {
        title: title.to_string(),
        bounds: ([0.0, 0.0], [4.0, 3.0]),
        cells,
        hanging,
        value_at,
        axis_labels: ("x".to_string(), "y".to_string()),
    }
}

#[test]
fn field_picture_shows_field_text_outlines_and_hanging_dots() {
    let dir = scratch("field");
    let (cells, hanging) = refined_grid();
    let path = dir.join("field.png");
    let pic = grid_picture(
        "synthetic  it 3  DOFs 1,234  RMSE 1.23e-02",
        &cells,
        &hanging,
        &sin_cos,
    );
    render_field_png(&pic, &path, SIZE).expect("rendered");
    assert_eq!(
        dir_entries(&dir),
        vec!["field.png"],
        "no temporary file left"
    );

    let png = Picture::read(&path);
    assert_eq!((png.width, png.height), SIZE);
    let var = png.luminance_variance();
    assert!(var > 500.0, "picture looks blank: luminance variance {var}");
    // The title band is the top 2.4 text heights (text height 600/36 ≈ 16.7 px).
    let title_dark = png.dark_pixels_in_rows(0..36);
    assert!(
        title_dark > 300,
        "title text missing: {title_dark} dark pixels"
    );
    // Both ends of the colour map appear (field minimum and maximum, and the colour bar).
    assert!(png.count_near(viridis(0.0), 3) > 50, "no low-end colour");
    assert!(png.count_near(viridis(1.0), 3) > 50, "no high-end colour");
    let red = png.count(is_hanging_red);
    assert!(
        (4 * 5..4 * 200).contains(&red),
        "4 hanging dots expected, {red} red pixels"
    );

    // Same picture without a title or hanging vertices: the title band is empty and no red
    // is drawn, so the dark and red pixels above came from the title and the dots.
    let bare_path = dir.join("bare.png");
    let bare = grid_picture("", &cells, &[], &sin_cos);
    render_field_png(&bare, &bare_path, SIZE).expect("rendered");
    let bare_png = Picture::read(&bare_path);
    assert_eq!(bare_png.dark_pixels_in_rows(0..36), 0);
    assert_eq!(bare_png.count(is_hanging_red), 0);

    // Element outlines: without cells the picture has fewer dark pixels.
    let no_cells_path = dir.join("no_cells.png");
    render_field_png(&grid_picture("", &[], &[], &sin_cos), &no_cells_path, SIZE)
        .expect("rendered");
    let no_cells = Picture::read(&no_cells_path);
    let dark = |p: &Picture| p.count(|c| Picture::luminance(c) < 60.0);
    assert!(
        dark(&bare_png) > dark(&no_cells) + 1000,
        "outlines missing: {} vs {} dark pixels",
        dark(&bare_png),
        dark(&no_cells)
    );
    done(&dir);
}

#[test]
fn nan_is_drawn_as_background() {
    let dir = scratch("nan");
    let (cells, _) = refined_grid();
    // An L-shaped domain: the upper-right quarter is outside.
    let l_shape = |points: &[[f64; 2]], out: &mut [f64]| {
        sin_cos(points, out);
        for (p, o) in points.iter().zip(out) {
            if p[0] > 2.0 && p[1] > 1.5 {
                *o = f64::NAN;
            }
        }
    };
    let full = dir.join("full.png");
    let holed = dir.join("holed.png");
    render_field_png(&grid_picture("", &[], &[], &sin_cos), &full, SIZE).expect("rendered");
    render_field_png(&grid_picture("", &cells, &[], &l_shape), &holed, SIZE).expect("rendered");
    let white = |p: &Picture| p.count(|c| c == [255, 255, 255]);
    let (full, holed) = (Picture::read(&full), Picture::read(&holed));
    // The plot is about 600 × 450 px, so its quarter is tens of thousands of pixels.
    assert!(
        white(&holed) > white(&full) + 30_000,
        "outside not background: {} vs {} white pixels",
        white(&holed),
        white(&full)
    );
    done(&dir);
}

#[test]
fn three_slices_side_by_side() {
    let dir = scratch("slices");
    let (cells, hanging) = refined_grid();
    let offset = |shift: f64| {
        move |points: &[[f64; 2]], out: &mut [f64]| {
            for (p, o) in points.iter().zip(out) {
                *o = shift + p[0].sin() * p[1].cos();
            }
        }
    };
    let (f0, f1, f2) = (offset(0.0), offset(0.5), offset(1.0));
    let uv = || ("u".to_string(), "v".to_string());
    let pics = [
        FieldPicture {
            axis_labels: uv(),
            ..grid_picture("x = 0.5", &cells, &hanging, &f0)
        },
        FieldPicture {
            axis_labels: uv(),
            ..grid_picture("y = 0.5", &cells, &hanging, &f1)
        },
        FieldPicture {
            axis_labels: uv(),
            ..grid_picture("z = 0.5", &cells, &hanging, &f2)
        },
    ];
    let size = (1500, 520);
    let path = dir.join("slices.png");
    render_slices_png("synthetic 3-D  it 2  DOFs 9,999", &pics, &path, size).expect("rendered");
    assert_eq!(dir_entries(&dir), vec!["slices.png"]);
    let png = Picture::read(&path);
    assert_eq!((png.width, png.height), size);
    assert!(png.luminance_variance() > 500.0);
    let title_dark = png.dark_pixels_in_rows(0..31);
    assert!(
        title_dark > 300,
        "title text missing: {title_dark} dark pixels"
    );
    // One shared scale: the first slice holds the minimum, the last the maximum.
    assert!(png.count_near(viridis(0.0), 3) > 50);
    assert!(png.count_near(viridis(1.0), 3) > 50);
    let red = png.count(is_hanging_red);
    assert!(
        (12 * 5..12 * 200).contains(&red),
        "12 hanging dots expected, {red} red pixels"
    );
    // Each third of the width has field colours in it.
    let w = png.width as usize;
    for third in 0..3 {
        let cols = third * w / 3..(third + 1) * w / 3;
        let coloured = png
            .rgb
            .iter()
            .enumerate()
            .filter(|(i, c)| cols.contains(&(i % w)) && c[2] > c[0] + 20 && c[1] > 60)
            .count();
        assert!(
            coloured > 10_000,
            "panel {third} has {coloured} field pixels"
        );
    }
    done(&dir);
}

#[test]
fn convergence_plot_with_two_curves() {
    let dir = scratch("convergence");
    let history = |c: f64, rate: f64| -> Vec<(f64, f64)> {
        (0..6)
            .map(|k| {
                let dofs = 100.0 * 2f64.powi(k);
                (dofs, c * dofs.powf(-rate))
            })
            .collect()
    };
    let mut basic = history(2.0, 0.5);
    basic.push((0.0, 1.0)); // not drawable on log axes: skipped, not an error
    let curves = [
        Curve {
            label: "BasicAMR".to_string(),
            points: basic,
            highlight: false,
        },
        Curve {
            label: "PruningAMR".to_string(),
            points: history(5.0, 1.0),
            highlight: true,
        },
    ];
    let path = dir.join("convergence.png");
    render_convergence_png("synthetic: RMSE vs DOFs", &curves, &path, SIZE).expect("rendered");
    assert_eq!(dir_entries(&dir), vec!["convergence.png"]);
    let png = Picture::read(&path);
    assert_eq!((png.width, png.height), SIZE);
    assert!(png.luminance_variance() > 100.0);
    let title_dark = png.dark_pixels_in_rows(0..30);
    assert!(
        title_dark > 200,
        "title text missing: {title_dark} dark pixels"
    );
    // The two curves' colours (first two of the palette), lines plus markers plus legend.
    let blue = png.count_near([31, 119, 180], 10);
    let orange = png.count_near([255, 127, 14], 10);
    assert!(blue > 500, "first curve: {blue} pixels");
    assert!(orange > 500, "second curve: {orange} pixels");
    assert!(orange > blue, "the highlighted curve is drawn bolder");
    done(&dir);
}

#[test]
fn empty_convergence_plot_still_draws_axes() {
    let dir = scratch("empty-convergence");
    let path = dir.join("empty.png");
    render_convergence_png("nothing yet", &[], &path, (400, 300)).expect("rendered");
    let png = Picture::read(&path);
    assert_eq!((png.width, png.height), (400, 300));
    assert!(png.count(|c| Picture::luminance(c) < 100.0) > 300);
    done(&dir);
}

#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let dir = scratch("bad");
    let (cells, hanging) = refined_grid();
    let path = dir.join("bad.png");
    let pic = grid_picture("t", &cells, &hanging, &sin_cos);
    assert!(matches!(
        render_field_png(&pic, &path, (10, 10)),
        Err(PlotError::BadSize(10, 10))
    ));
    let flat = FieldPicture {
        bounds: ([0.0, 1.0], [4.0, 1.0]),
        ..grid_picture("flat", &cells, &hanging, &sin_cos)
    };
    assert!(matches!(
        render_field_png(&flat, &path, SIZE),
        Err(PlotError::BadBounds { .. })
    ));
    let nan = FieldPicture {
        bounds: ([f64::NAN, 0.0], [4.0, 3.0]),
        ..grid_picture("nan", &cells, &hanging, &sin_cos)
    };
    assert!(render_field_png(&nan, &path, SIZE).is_err());
    let missing_dir = dir.join("no/such/dir/x.png");
    assert!(matches!(
        render_convergence_png("t", &[], &missing_dir, SIZE),
        Err(PlotError::Io { .. })
    ));
    assert!(dir_entries(&dir).is_empty(), "nothing written");
    done(&dir);
}
