//! The pixel buffer every picture is drawn into, the embedded font, text sizes and number
//! labels, and writing the finished buffer as a PNG under a temporary name then renaming it.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use super::{MAX_SIZE, MIN_SIZE, PlotError};

/// DejaVu Sans (Bitstream Vera licence, see assets/fonts/DejaVuSans-LICENSE.txt): embedded so
/// text renders on machines without any system fonts or fontconfig.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The family name plotters looks the registered font up by.
pub(super) const FAMILY: &str = "sans-serif";

fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

/// An RGB picture being drawn.
pub(super) struct Canvas {
    pub buf: Vec<u8>,
    pub size: (u32, u32),
}

impl Canvas {
    pub fn new(size: (u32, u32)) -> Result<Self, PlotError> {
        let (w, h) = size;
        if w < MIN_SIZE.0 || h < MIN_SIZE.1 || w > MAX_SIZE.0 || h > MAX_SIZE.1 {
            return Err(PlotError::BadSize(w, h));
        }
        ensure_font()?;
        Ok(Self {
            buf: vec![255; 3 * w as usize * h as usize],
            size,
        })
    }

    pub fn backend(&mut self) -> BitMapBackend<'_> {
        BitMapBackend::with_buffer(&mut self.buf, self.size)
    }

    /// Writes the picture to `path` atomically (crate::io), so a reader never sees a
    /// half-written PNG.
    pub fn save_png(&self, path: &Path) -> Result<(), PlotError> {
        let mut encoding = None;
        crate::io::write_atomically(path, |w| {
            let mut encoder = png::Encoder::new(w, self.size.0, self.size.1);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let result = encoder.write_header().and_then(|mut writer| {
                writer.write_image_data(&self.buf)?;
                writer.finish()
            });
            result.map_err(|e| match e {
                png::EncodingError::IoError(io) => io,
                other => {
                    let text = other.to_string();
                    encoding = Some(other);
                    std::io::Error::other(text)
                }
            })
        })
        .map_err(|source| match encoding.take() {
            Some(e) => PlotError::Encode {
                path: path.to_path_buf(),
                source: e,
            },
            None => PlotError::Io {
                path: path.to_path_buf(),
                source,
            },
        })
    }
}

/// Turns a plotters error into ours, naming what was being drawn.
pub(super) fn draw_err(what: &str) -> impl Fn(String) -> PlotError + '_ {
    move |message| PlotError::Draw {
        what: what.to_string(),
        message,
    }
}

/// Base text height in pixels for a picture of this size: readable on a laptop screen at
/// 800×600, not huge on a 4K one.
pub(super) fn text_px(size: (u32, u32)) -> f64 {
    (f64::from(size.1.min(size.0)) / 36.0).clamp(11.0, 30.0)
}

/// Text in the embedded font.
pub(super) fn font(px: f64) -> TextStyle<'static> {
    (FAMILY, px).into_font().color(&BLACK)
}

/// Width in pixels of `text` at `px`, from the font's advances.
pub(super) fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    text: &str,
    px: f64,
) -> u32 {
    area.estimate_text_size(text, &font(px))
        .map(|(w, _)| w)
        .unwrap_or((px * 0.6 * text.chars().count() as f64) as u32)
}

/// Draws `text` centred in the band of height `band` at the top of `area`, shrinking the font
/// until the text fits the width.
pub(super) fn draw_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    text: &str,
    px: f64,
    band: u32,
) -> Result<(), PlotError> {
    let (w, _) = area.dim_in_pixel();
    let room = f64::from(w) * 0.96;
    let mut px = px;
    while px > 8.0 && f64::from(text_width(area, text, px)) > room {
        px *= 0.92;
    }
    let style = font(px).pos(Pos::new(HPos::Center, VPos::Center));
    area.draw_text(text, &style, ((w / 2) as i32, (band / 2) as i32))
        .map_err(|e| draw_err("the title")(e.to_string()))
}

/// A colour-bar or tick label: enough digits to tell neighbouring ticks of a range of width
/// `span` apart, scientific notation for very large or small magnitudes.
pub fn format_value(v: f64, span: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let scale = v.abs().max(span.abs());
    if scale == 0.0 {
        return "0".to_string();
    }
    let s = if (1e-3..1e5).contains(&scale) {
        let step = if span > 0.0 { span } else { scale };
        let decimals = (2.0 - step.log10().floor()).clamp(0.0, 6.0) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.2e}")
    };
    // "-0.00" reads as a sign error on a colour bar.
    if s.starts_with('-') && s[1..].chars().all(|c| matches!(c, '0' | '.')) {
        s[1..].to_string()
    } else {
        s
    }
}

/// An axis tick label: like [`format_value`] but without trailing zeros ("1", "0.25").
pub fn format_tick(v: f64, step: f64) -> String {
    let s = format_value(v, step);
    match s.split_once('e') {
        None if s.contains('.') => s.trim_end_matches('0').trim_end_matches('.').to_string(),
        None => s,
        Some((mantissa, exp)) if mantissa.contains('.') => {
            let m = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{m}e{exp}")
        }
        Some(_) => s,
    }
}
