//! Field pictures: a field sampled at every pixel and coloured with viridis, the element
//! outlines and hanging vertices drawn over it, a colour bar beside it; one panel, or three
//! mid-plane slices of a 3-D field sharing one colour scale.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rayon::prelude::*;

use super::PlotError;
use super::canvas::{
    Canvas, draw_err, draw_title, font, format_tick, format_value, text_px, text_width,
};
use super::colormap::viridis;

/// The field (one component) at a batch of points, written into the second slice. May borrow
/// (e.g. the mesh and its values) for `'a`.
pub type FieldSampler<'a> = dyn Fn(&[[f64; 2]], &mut [f64]) + Sync + 'a;

/// One 2-D picture: a field as a colour map with a colour bar, element edges drawn over it.
pub struct FieldPicture<'a> {
    /// Printed above the picture, e.g. "hos  it 3  DOFs 1,234  RMSE 1.23e-02".
    pub title: String,
    /// Lower-left and upper-right corners of the plotted rectangle, in axis units.
    pub bounds: ([f64; 2], [f64; 2]),
    /// Each element's 4 corners in cyclic order around it (for hex slices: the cut
    /// rectangles), drawn as closed outlines.
    pub cells: &'a [[[f64; 2]; 4]],
    /// Hanging vertices, drawn as small red dots.
    pub hanging: &'a [[f64; 2]],
    /// The field (one component) at a batch of points, written into the second slice (same
    /// length). NaN means "outside the domain" and is drawn in the background colour.
    pub value_at: &'a FieldSampler<'a>,
    /// Horizontal and vertical axis names.
    pub axis_labels: (String, String),
}

/// Draws one picture (title on top, colour bar on the right) into a PNG of `size` pixels.
pub fn render_field_png(
    pic: &FieldPicture,
    path: &Path,
    size: (u32, u32),
) -> Result<(), PlotError> {
    let mut canvas = Canvas::new(size)?;
    draw_figure(&mut canvas, &pic.title, std::slice::from_ref(pic), false, 1)?;
    canvas.save_png(path)
}

/// Draws three pictures side by side (e.g. the x, y and z mid-plane slices of a hex mesh)
/// under one `title`, each with its own title above it, sharing one colour scale and bar so
/// colours compare across slices.
pub fn render_slices_png(
    title: &str,
    pics: &[FieldPicture; 3],
    path: &Path,
    size: (u32, u32),
) -> Result<(), PlotError> {
    let mut canvas = Canvas::new(size)?;
    draw_figure(&mut canvas, title, pics, true, pics.len())?;
    canvas.save_png(path)
}

/// Where a contact sheet's parts landed, in pixels (x, y, width, height): what a reader of the
/// picture (a test) needs to find them.
#[derive(Clone, Debug, PartialEq)]
pub struct SheetLayout {
    /// Each panel's plotting rectangle, in the order of the pictures.
    pub panels: Vec<[i32; 4]>,
    /// The one colour bar.
    pub colour_bar: [i32; 4],
    /// The value range of the colour bar, shared by every panel.
    pub range: (f64, f64),
}

/// Draws `pics` as a contact sheet, `columns` panels per row, each with its own title, under
/// one `title`, all on one colour scale (the range of every panel's values) with one bar.
pub fn render_sheet_png(
    title: &str,
    pics: &[FieldPicture],
    columns: usize,
    path: &Path,
    size: (u32, u32),
) -> Result<SheetLayout, PlotError> {
    let mut canvas = Canvas::new(size)?;
    let layout = draw_figure(&mut canvas, title, pics, true, columns.max(1))?;
    canvas.save_png(path)?;
    Ok(layout)
}

/// Points per call of `value_at`: big enough for the network's GEMMs to be efficient, small
/// enough to spread a picture over all threads.
const SAMPLE_BATCH: usize = 4096;
const BACKGROUND: RGBColor = WHITE;
const HANGING_DOT: RGBColor = RGBColor(220, 30, 30);

type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A panel's plotting rectangle in pixels and the field sampled at its pixel centres.
struct Sampled {
    x0: i32,
    y0: i32,
    w: usize,
    h: usize,
    values: Vec<f64>,
}

/// Draws the panels `columns` per row (rows as needed) and the shared colour bar.
fn draw_figure(
    canvas: &mut Canvas,
    title: &str,
    pics: &[FieldPicture],
    panel_titles: bool,
    columns: usize,
) -> Result<SheetLayout, PlotError> {
    for pic in pics {
        check_bounds(pic)?;
    }
    let (width, height) = canvas.size;
    let px = text_px(canvas.size);
    let root = canvas.backend().into_drawing_area();
    root.fill(&WHITE)
        .map_err(|e| draw_err("the background")(e.to_string()))?;

    let title_band = (px * 2.4) as u32;
    draw_title(&root, title, px * 1.15, title_band)?;

    let tick_px = px * 0.85;
    let bar_w = (px * 1.2) as u32;
    let bar_label_w = text_width(&root, "-8.88e-88", tick_px);
    let bar_band = (px * 1.2) as u32 + bar_w + (px * 0.5) as u32 + bar_label_w + (px * 0.8) as u32;
    let body = root.clone().shrink(
        (0, title_band),
        (width.saturating_sub(bar_band), height - title_band),
    );
    let columns = columns.clamp(1, pics.len().max(1));
    let areas = body.split_evenly((pics.len().div_ceil(columns).max(1), columns));

    let mut charts = Vec::with_capacity(pics.len());
    for (pic, area) in pics.iter().zip(&areas) {
        charts.push(layout_panel(pic, area, px, panel_titles)?);
    }
    let sampled: Vec<Sampled> = pics
        .iter()
        .zip(&charts)
        .map(|(pic, chart)| sample_panel(pic, chart))
        .collect();
    let range = value_range(&sampled);

    for ((pic, chart), s) in pics.iter().zip(&mut charts).zip(&sampled) {
        draw_panel(&root, pic, chart, s, range, tick_px)?;
    }

    let top = sampled.iter().map(|s| s.y0).min().unwrap_or(0);
    let bottom = sampled.iter().map(|s| s.y0 + s.h as i32).max().unwrap_or(1);
    let bar_x = (width.saturating_sub(bar_band) + (px * 1.2) as u32) as i32;
    let bar_h = (bottom - top).max(2) as u32;
    draw_colour_bar(&root, (bar_x, top), (bar_w, bar_h), range, tick_px)?;
    root.present()
        .map_err(|e| draw_err("the picture")(e.to_string()))?;
    Ok(SheetLayout {
        panels: sampled
            .iter()
            .map(|s| [s.x0, s.y0, s.w as i32, s.h as i32])
            .collect(),
        colour_bar: [bar_x, top, bar_w as i32, bar_h as i32],
        range,
    })
}

fn check_bounds(pic: &FieldPicture) -> Result<(), PlotError> {
    let (lo, hi) = pic.bounds;
    let ok = (0..2).all(|k| lo[k].is_finite() && hi[k].is_finite() && hi[k] > lo[k]);
    if ok {
        Ok(())
    } else {
        Err(PlotError::BadBounds {
            what: format!("picture {:?}", pic.title),
            lo,
            hi,
        })
    }
}

/// Places a panel's axes so that one axis unit is as long horizontally as vertically
/// (squares look square), centred in `area`, leaving room for tick labels and axis names.
fn layout_panel<'b>(
    pic: &FieldPicture,
    area: &DrawingArea<BitMapBackend<'b>, Shift>,
    px: f64,
    panel_title: bool,
) -> Result<Chart<'static, 'b>, PlotError> {
    let ([xlo, ylo], [xhi, yhi]) = pic.bounds;
    let (aw, ah) = area.dim_in_pixel();
    let tick_px = px * 0.85;
    let title_band = if panel_title { (px * 2.0) as u32 } else { 0 };
    let y_span = yhi - ylo;
    let y_label_w = [ylo, 0.5 * (ylo + yhi), yhi]
        .iter()
        .map(|&v| text_width(area, &format_tick(v, y_span / 4.0), tick_px))
        .max()
        .unwrap_or(0);
    let left = y_label_w + (px * 2.6) as u32;
    let bottom = (px * 3.0) as u32;
    let pad_right = (px * 1.2) as u32;
    let pad_top = (px * 0.8) as u32;
    let room_w = aw.saturating_sub(left + pad_right).max(8);
    let room_h = ah.saturating_sub(title_band + pad_top + bottom).max(8);
    let scale = (f64::from(room_w) / (xhi - xlo)).min(f64::from(room_h) / (yhi - ylo));
    let pw = (((xhi - xlo) * scale).floor() as u32).clamp(2, room_w);
    let ph = (((yhi - ylo) * scale).floor() as u32).clamp(2, room_h);
    // The panel title, plot and axis labels move together as one block, centred.
    let ox = left + (room_w - pw) / 2;
    let block_top = (room_h - ph) / 2;
    let oy = block_top + title_band + pad_top;
    if panel_title {
        let band = area.clone().shrink((0, block_top), (aw, title_band));
        draw_title(&band, &pic.title, px, title_band)?;
    }
    let chart_area = area
        .clone()
        .shrink((ox - left, oy), (pw + left, ph + bottom));
    ChartBuilder::on(&chart_area)
        .x_label_area_size(bottom)
        .y_label_area_size(left)
        .build_cartesian_2d(xlo..xhi, ylo..yhi)
        .map_err(|e| draw_err("the axes")(e.to_string()))
}

/// The field at every pixel centre of the panel's plotting rectangle, row by row from the top.
fn sample_panel(pic: &FieldPicture, chart: &Chart) -> Sampled {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let (w, h) = (
        (xr.end - xr.start).max(0) as usize,
        (yr.end - yr.start).max(0) as usize,
    );
    let ([xlo, ylo], [xhi, yhi]) = pic.bounds;
    let mut values = vec![f64::NAN; w * h];
    if let Some(rows_per_batch) = SAMPLE_BATCH.checked_div(w) {
        let rows_per_batch = rows_per_batch.max(1);
        values
            .par_chunks_mut(rows_per_batch * w)
            .enumerate()
            .for_each(|(batch, out)| {
                let first_row = batch * rows_per_batch;
                let points: Vec<[f64; 2]> = (0..out.len())
                    .map(|k| {
                        let (row, col) = (first_row + k / w, k % w);
                        let tx = (col as f64 + 0.5) / w as f64;
                        let ty = (row as f64 + 0.5) / h as f64;
                        [xlo + tx * (xhi - xlo), yhi - ty * (yhi - ylo)]
                    })
                    .collect();
                (pic.value_at)(&points, out);
            });
    }
    Sampled {
        x0: xr.start,
        y0: yr.start,
        w,
        h,
        values,
    }
}

/// Min and max of the finite samples, widened when the field is constant (or absent) so the
/// colour scale has a width.
fn value_range(sampled: &[Sampled]) -> (f64, f64) {
    let (lo, hi) = sampled
        .iter()
        .flat_map(|s| s.values.iter())
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo <= 1e-12 * lo.abs().max(hi.abs()).max(1e-300) {
        let pad = if lo == 0.0 { 0.5 } else { 0.01 * lo.abs() };
        (lo - pad, hi + pad)
    } else {
        (lo, hi)
    }
}

fn draw_panel(
    root: &DrawingArea<BitMapBackend, Shift>,
    pic: &FieldPicture,
    chart: &mut Chart,
    s: &Sampled,
    (lo, hi): (f64, f64),
    tick_px: f64,
) -> Result<(), PlotError> {
    let what = format!("picture {:?}", pic.title);
    let err = |e: String| draw_err(&what)(e);

    let rgb: Vec<u8> = s
        .values
        .iter()
        .flat_map(|&v| {
            if v.is_finite() {
                viridis((v - lo) / (hi - lo))
            } else {
                [BACKGROUND.0, BACKGROUND.1, BACKGROUND.2]
            }
        })
        .collect();
    if let Some(image) =
        BitMapElement::with_owned_buffer((s.x0, s.y0), (s.w as u32, s.h as u32), rgb)
    {
        root.draw(&image).map_err(|e| err(e.to_string()))?;
    }

    // Fine meshes would turn solid dark under opaque edges: fade them as elements shrink.
    let cell_px = ((s.w * s.h) as f64 / pic.cells.len().max(1) as f64).sqrt();
    let alpha = ((cell_px - 2.0) / 10.0).clamp(0.25, 0.8);
    let edge = RGBAColor(25, 25, 25, alpha).stroke_width(1);
    chart
        .draw_series(pic.cells.iter().map(|c| {
            let mut ring: Vec<(f64, f64)> = c.iter().map(|p| (p[0], p[1])).collect();
            ring.push((c[0][0], c[0][1]));
            PathElement::new(ring, edge)
        }))
        .map_err(|e| err(e.to_string()))?;

    // Dots no wider than about a third of the finest element, so they never hide it.
    let ([xlo, ylo], [xhi, yhi]) = pic.bounds;
    let px_per_unit = (s.w as f64 / (xhi - xlo)).min(s.h as f64 / (yhi - ylo));
    let finest = pic
        .cells
        .iter()
        .flat_map(|c| (0..4).map(move |k| (c[k], c[(k + 1) % 4])))
        .map(|(a, b)| (b[0] - a[0]).hypot(b[1] - a[1]) * px_per_unit)
        .filter(|len| *len > 0.0)
        .fold(f64::INFINITY, f64::min);
    let r = (tick_px * 0.22).min(finest * 0.35).clamp(2.0, 5.0) as i32;
    chart
        .draw_series(
            pic.hanging
                .iter()
                .map(|p| Circle::new((p[0], p[1]), r, HANGING_DOT.filled())),
        )
        .map_err(|e| err(e.to_string()))?;

    let (xr, yr) = (chart.x_range(), chart.y_range());
    let (x_step, y_step) = ((xr.end - xr.start) / 4.0, (yr.end - yr.start) / 4.0);
    let fmt_x = move |v: &f64| format_tick(*v, x_step);
    let fmt_y = move |v: &f64| format_tick(*v, y_step);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&fmt_y)
        .label_style(font(tick_px))
        .axis_desc_style(font(tick_px * 1.1))
        .x_desc(pic.axis_labels.0.as_str())
        .y_desc(pic.axis_labels.1.as_str())
        .draw()
        .map_err(|e| err(e.to_string()))?;

    let frame = [(s.x0 - 1, s.y0 - 1), (s.x0 + s.w as i32, s.y0 + s.h as i32)];
    root.draw(&Rectangle::new(frame, BLACK.stroke_width(1)))
        .map_err(|e| err(e.to_string()))
}

/// A vertical viridis bar from `lo` (bottom) to `hi` (top) with five labelled ticks.
fn draw_colour_bar(
    root: &DrawingArea<BitMapBackend, Shift>,
    (x, y): (i32, i32),
    (w, h): (u32, u32),
    (lo, hi): (f64, f64),
    tick_px: f64,
) -> Result<(), PlotError> {
    let err = |e: String| draw_err("the colour bar")(e);
    let rgb: Vec<u8> = (0..h)
        .flat_map(|row| {
            let c = viridis(1.0 - (f64::from(row) + 0.5) / f64::from(h));
            (0..w).flat_map(move |_| c)
        })
        .collect();
    if let Some(image) = BitMapElement::with_owned_buffer((x, y), (w, h), rgb) {
        root.draw(&image).map_err(|e| err(e.to_string()))?;
    }
    let frame = [(x - 1, y - 1), (x + w as i32, y + h as i32)];
    root.draw(&Rectangle::new(frame, BLACK.stroke_width(1)))
        .map_err(|e| err(e.to_string()))?;

    let tick_len = (tick_px * 0.35).max(3.0) as i32;
    let style = font(tick_px).pos(Pos::new(HPos::Left, VPos::Center));
    for k in 0..=4 {
        let f = f64::from(k) / 4.0;
        let v = lo + f * (hi - lo);
        let ty = y + h as i32 - 1 - (f * f64::from(h - 1)).round() as i32;
        let xr = x + w as i32;
        root.draw(&PathElement::new(
            vec![(xr, ty), (xr + tick_len, ty)],
            BLACK.stroke_width(1),
        ))
        .map_err(|e| err(e.to_string()))?;
        root.draw_text(
            &format_value(v, (hi - lo) / 4.0),
            &style,
            (xr + tick_len + 3, ty),
        )
        .map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}
