//! The convergence picture: RMSE against degrees of freedom on log–log axes, one line with
//! markers per run, the highlighted one drawn bolder, and a legend of the curves' labels.

use std::path::Path;

use plotters::element::ComposedElement;
use plotters::prelude::*;

use super::PlotError;
use super::canvas::{Canvas, draw_err, font, text_px};

/// One run's convergence history.
pub struct Curve {
    pub label: String,
    /// (degrees of freedom, RMSE) per iteration; points that cannot go on a log axis
    /// (non-positive or non-finite) are left out.
    pub points: Vec<(f64, f64)>,
    /// Drawn with a thicker line and larger markers (e.g. the run being reported on).
    pub highlight: bool,
}

/// Distinct on screen and in print (matplotlib's "tab10").
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Marker shapes cycle with the colours, so curves stay apart in grey too.
#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}
const MARKERS: [Marker; 4] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
];

/// Draws `curves` on log–log axes (x: degrees of freedom, y: RMSE) into a PNG of `size`.
pub fn render_convergence_png(
    title: &str,
    curves: &[Curve],
    path: &Path,
    size: (u32, u32),
) -> Result<(), PlotError> {
    let mut canvas = Canvas::new(size)?;
    draw(&mut canvas, title, curves)?;
    canvas.save_png(path)
}

fn drawable(curve: &Curve) -> Vec<(f64, f64)> {
    curve
        .points
        .iter()
        .copied()
        .filter(|&(x, y)| x.is_finite() && y.is_finite() && x > 0.0 && y > 0.0)
        .collect()
}

/// The smallest range of whole decades holding `values` (1..10 when there are none), so both
/// ends carry a labelled power of ten however little the data spans.
fn decades(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        return (1.0, 10.0);
    }
    let a = lo.log10().floor();
    let b = hi.log10().ceil().max(a + 1.0);
    // Nudged outwards: plotters finds its first tick through logarithms, which may round a
    // decade at the very end of the range off it.
    (10f64.powf(a) * (1.0 - 1e-9), 10f64.powf(b) * (1.0 + 1e-9))
}

/// "10³", "10⁻²" at powers of ten; nothing at the minor ticks in between.
fn power_of_ten_label(v: f64) -> String {
    let e = v.log10();
    if (e - e.round()).abs() > 1e-6 {
        return String::new();
    }
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let e = e.round() as i64;
    let mut s = String::from("10");
    if e < 0 {
        s.push('⁻');
    }
    for d in e.unsigned_abs().to_string().bytes() {
        s.push(SUP[usize::from(d - b'0')]);
    }
    s
}

type MarkerElement<Coord, DB> =
    ComposedElement<Coord, DB, PathElement<(i32, i32)>, Polygon<(i32, i32)>>;

impl Marker {
    /// Outline of the marker around the origin, in pixels; every shape is a polygon so that
    /// markers of all shapes have one element type (plotters' legend needs a concrete one).
    fn outline(self, r: i32) -> Vec<(i32, i32)> {
        match self {
            Marker::Circle => (0..16)
                .map(|k| {
                    let a = f64::from(k) * std::f64::consts::TAU / 16.0;
                    let r = f64::from(r);
                    ((r * a.cos()).round() as i32, (r * a.sin()).round() as i32)
                })
                .collect(),
            Marker::Square => vec![(-r, -r), (r, -r), (r, r), (-r, r)],
            Marker::Triangle => {
                let r = r + 1;
                vec![(0, -r), (r, r * 2 / 3), (-r, r * 2 / 3)]
            }
            Marker::Diamond => {
                let r = r + 1;
                vec![(0, -r), (r, 0), (0, r), (-r, 0)]
            }
        }
    }
}

/// A marker centred on `at` (chart points: `line_width` 0), or the legend's sample: a line of
/// `line_width` pixels with the marker in its middle, starting at `at` (the legend puts the
/// label to the right of [`legend_width`]).
fn marker<Coord, DB: DrawingBackend>(
    shape: Marker,
    at: Coord,
    r: i32,
    color: RGBColor,
    line_width: u32,
) -> MarkerElement<Coord, DB> {
    let (half, centre) = if line_width == 0 {
        (0, 0)
    } else {
        (legend_width(r) / 2, legend_width(r) / 2)
    };
    // A zero-width plotters line is still one pixel wide: hide it by transparency instead.
    let line_color = if line_width == 0 {
        color.mix(0.0)
    } else {
        color.mix(1.0)
    };
    let line = PathElement::new(
        vec![(centre - half, 0), (centre + half, 0)],
        line_color.stroke_width(line_width),
    );
    let outline = shape
        .outline(r)
        .into_iter()
        .map(|(x, y)| (x + centre, y))
        .collect::<Vec<_>>();
    EmptyElement::at(at) + line + Polygon::new(outline, color.filled())
}

/// Length of the legend's line sample for markers of radius `r`.
fn legend_width(r: i32) -> i32 {
    6 * r + 16
}

fn draw(canvas: &mut Canvas, title: &str, curves: &[Curve]) -> Result<(), PlotError> {
    let px = text_px(canvas.size);
    let err = |e: String| draw_err("the convergence plot")(e);
    let root = canvas.backend().into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;

    let points: Vec<Vec<(f64, f64)>> = curves.iter().map(drawable).collect();
    let (x0, x1) = decades(points.iter().flatten().map(|p| p.0));
    let (y0, y1) = decades(points.iter().flatten().map(|p| p.1));

    let mut chart = ChartBuilder::on(&root)
        .caption(title, font(px * 1.15))
        .margin((px * 0.8) as u32)
        .margin_right((px * 1.6) as u32)
        .x_label_area_size((px * 3.4) as u32)
        .y_label_area_size((px * 4.6) as u32)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(|e| err(e.to_string()))?;
    let label = |v: &f64| power_of_ten_label(*v);
    chart
        .configure_mesh()
        .x_labels(12)
        .y_labels(12)
        .x_label_formatter(&label)
        .y_label_formatter(&label)
        .label_style(font(px * 0.9))
        .axis_desc_style(font(px))
        .x_desc("degrees of freedom")
        .y_desc("RMSE")
        .bold_line_style(RGBColor(200, 200, 200).stroke_width(1))
        .light_line_style(RGBColor(236, 236, 236).stroke_width(1))
        .draw()
        .map_err(|e| err(e.to_string()))?;

    // Highlighted curves last, so they lie on top.
    let mut order: Vec<usize> = (0..curves.len()).collect();
    order.sort_by_key(|&i| curves[i].highlight);
    for i in order {
        let (curve, pts) = (&curves[i], &points[i]);
        let color = PALETTE[i % PALETTE.len()];
        let shape = MARKERS[i % MARKERS.len()];
        let (width, r) = if curve.highlight {
            (3, (px * 0.38) as i32)
        } else {
            (2, (px * 0.28) as i32)
        };
        let r = r.max(2);
        let line = color.stroke_width(width);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), line))
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(pts.iter().map(|&p| marker(shape, p, r, color, 0)))
            .map_err(|e| err(e.to_string()))?
            .label(curve.label.as_str())
            .legend(move |at| marker(shape, at, r, color, width));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .legend_area_size(legend_width((px * 0.38) as i32) + (px * 0.5) as i32)
        .label_font(font(px * 0.9))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .margin((px * 0.6) as u32)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}
