//! Pictures of a run without ParaView: a field over the mesh (colour map, colour bar, element
//! outlines, hanging vertices), three mid-plane slices of a 3-D field side by side, and the
//! log–log convergence of RMSE against degrees of freedom. Takes plain data (no mesh types), so
//! the run loop decides what to show; writes PNGs atomically (temporary name, then rename).

mod canvas;
mod colormap;
mod convergence;
mod field;

use std::path::PathBuf;

pub use colormap::viridis;
pub use convergence::{Curve, render_convergence_png};
pub use field::{
    FieldPicture, FieldSampler, SheetLayout, render_field_png, render_sheet_png, render_slices_png,
};

/// Smallest picture drawn: below this the axes, labels and colour bar do not fit.
pub const MIN_SIZE: (u32, u32) = (240, 180);
/// Largest picture drawn: guards against a mistyped size allocating gigabytes.
pub const MAX_SIZE: (u32, u32) = (8192, 8192);

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error(
        "picture size {0}×{1} pixels is outside {min_w}×{min_h} ..= {max_w}×{max_h}",
        min_w = MIN_SIZE.0, min_h = MIN_SIZE.1, max_w = MAX_SIZE.0, max_h = MAX_SIZE.1
    )]
    BadSize(u32, u32),
    #[error("plotted rectangle of {what} is empty or not finite: lo {lo:?}, hi {hi:?}")]
    BadBounds {
        what: String,
        lo: [f64; 2],
        hi: [f64; 2],
    },
    #[error("the embedded font could not be parsed")]
    Font,
    #[error("drawing {what}: {message}")]
    Draw { what: String, message: String },
    #[error("encoding PNG {path}: {source}")]
    Encode {
        path: PathBuf,
        #[source]
        source: png::EncodingError,
    },
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
