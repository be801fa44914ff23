//! `--verify FILE.npz`: the user's own values of their network (`x`: N × inputs, `y`:
//! N × outputs, written from their framework) against the network as read here. This is
//! how a user proves the file was read as their framework reads it.

use std::path::{Path, PathBuf};

use faer::Mat;

use super::archive::{member_names, open_zip, read_file, read_member};
use super::file::NetworkFile;
use super::model::ForwardBuffers;
use super::npy::{NpyData, parse_npy};

/// The largest difference accepted, as a fraction of the range of `y`: f32 evaluation of a
/// correctly read network stays far below it, a misread one far above.
pub const VERIFY_TOLERANCE: f64 = 1e-4;

/// Why a verification failed or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("--verify: {}: {what}", path.display())]
    File { path: PathBuf, what: String },
    #[error(
        "--verify: {}: the network as read differs from y by up to {max_error:.3e} (at point \
         {worst}), more than {VERIFY_TOLERANCE:e} of y's range {range:.3e}: the file was not \
         read as your framework reads it (check --activations and the network config)",
        path.display()
    )]
    Mismatch {
        path: PathBuf,
        max_error: f64,
        range: f64,
        worst: usize,
    },
}

/// What a verification found.
#[derive(Clone, Debug)]
pub struct Verified {
    pub points: usize,
    pub max_error: f64,
    pub range: f64,
}

/// An array of the npz: its shape and values.
type Array = (Vec<usize>, Vec<f32>);

fn array(arrays: &[(String, Array)], name: &str) -> Option<Array> {
    arrays
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, a)| a.clone())
}

/// Evaluates `file` at the points of `path` and compares with its `y`.
pub fn verify(file: &NetworkFile, path: &Path) -> Result<Verified, VerifyError> {
    let bad = |what: String| VerifyError::File {
        path: path.to_path_buf(),
        what,
    };
    let bytes = read_file(path).map_err(|e| bad(e.to_string()))?;
    let mut zip = open_zip(&bytes, path).map_err(|e| bad(e.to_string()))?;
    let mut arrays = Vec::new();
    for name in member_names(&zip) {
        let Some(stem) = name.strip_suffix(".npy") else {
            continue;
        };
        if stem != "x" && stem != "y" {
            continue;
        }
        let data = read_member(&mut zip, &name, path)
            .map_err(|e| bad(e.to_string()))?
            .unwrap_or_default();
        let a = parse_npy(&data).map_err(|w| bad(format!("{name}: {w}")))?;
        let NpyData::Float(v) = a.data else {
            return Err(bad(format!("{name} must hold numbers")));
        };
        arrays.push((stem.to_owned(), (a.shape, v)));
    }
    let (Some((xs, x)), Some((ys, y))) = (array(&arrays, "x"), array(&arrays, "y")) else {
        return Err(bad(
            "expected arrays x (points × inputs) and y (points × outputs), as np.savez(path, \
             x=x, y=y) writes them"
                .into(),
        ));
    };
    let (d, c) = (file.input_dim(), file.output_dim());
    let n = xs.first().copied().unwrap_or(0);
    let as_2d = |s: &[usize], cols: usize| match s {
        [r, k] if *k == cols => Some(*r),
        [r] if cols == 1 => Some(*r),
        _ => None,
    };
    if as_2d(&xs, d) != Some(n) || n == 0 {
        return Err(bad(format!(
            "x has shape {xs:?}; the network takes {d} inputs, so x must be N × {d} with N ≥ 1"
        )));
    }
    if as_2d(&ys, c) != Some(n) {
        return Err(bad(format!(
            "y has shape {ys:?}; with {n} points and {c} outputs it must be {n} × {c}"
        )));
    }
    let xm = Mat::from_fn(n, d, |i, j| x[i * d + j]);
    let mut buffers = ForwardBuffers::default();
    let got = file.evaluate(xm.as_ref(), &mut buffers);
    let (lo, hi) = y
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(f64::from(v)), hi.max(f64::from(v)))
        });
    let range = (hi - lo).max(f64::MIN_POSITIVE);
    let (mut max_error, mut worst) = (0.0f64, 0usize);
    for i in 0..n {
        for j in 0..c {
            let e = (f64::from(got[(i, j)]) - f64::from(y[i * c + j])).abs();
            // NaN compares false: count it as the worst error.
            if e > max_error || e.is_nan() {
                max_error = if e.is_nan() { f64::INFINITY } else { e };
                worst = i;
            }
        }
    }
    if max_error > VERIFY_TOLERANCE * range {
        return Err(VerifyError::Mismatch {
            path: path.to_path_buf(),
            max_error,
            range,
            worst,
        });
    }
    Ok(Verified {
        points: n,
        max_error,
        range,
    })
}

/// [`verify`], as the line the run prints and records.
pub fn report(file: &NetworkFile, path: &Path) -> Result<String, VerifyError> {
    let v = verify(file, path)?;
    Ok(format!(
        "--verify {}: {} points, max |error| {:.3e} of a range {:.3e} ({:.1e} of it, \
         tolerance {VERIFY_TOLERANCE:e})",
        path.display(),
        v.points,
        v.max_error,
        v.range,
        v.max_error / v.range
    ))
}
