//! NeRF's positional encoding as a network input transform: γ(x) = [x, sin(2⁰c·x),
//! cos(2⁰c·x), …, sin(2^(L−1)c·x), cos(2^(L−1)c·x)] with c = π or 1, and which network input
//! column each sine and cosine lands in (the feature order differs between codebases).
//!
//! The f32 forward pass (`encode`) and the f64 jets read the same `terms`, so the order is
//! decided once, here.

use faer::{Mat, MatRef};
use serde::Deserialize;

use super::kernels;

/// One axis of the feature block's nesting (README, "positional").
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Axis {
    /// k = 0 … L − 1.
    Frequency,
    /// sin, then cos.
    Function,
    /// The input coordinate x_i.
    Input,
}

/// nerf-pytorch's `Embedder` (and NeRF's own code): per frequency, sin of every input, then
/// cos of every input.
pub const NERF_ORDER: [Axis; 3] = [Axis::Frequency, Axis::Function, Axis::Input];

/// 2^23·x is past f32's integer range for |x| ≥ 1: such a feature is rounding noise, and
/// the bound keeps a hostile config from asking for billions of columns.
pub const MAX_FREQUENCIES: u32 = 24;

/// One (input, frequency) pair: its phase factor and the columns of its sine and cosine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Term {
    pub input: usize,
    /// 2^k, times π with `pi`.
    pub frequency: f64,
    pub sin_col: usize,
    pub cos_col: usize,
}

/// What one block of columns of an encoding holds: the raw input, or sin/cos of f·x.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Block {
    Input,
    Sin(f64),
    Cos(f64),
}

/// The encoding of `inputs` coordinates; the raw (standardized) inputs, when included, are
/// the first `inputs` columns.
#[derive(Clone, Debug, PartialEq)]
pub struct PositionalEncoding {
    inputs: usize,
    include_input: bool,
    terms: Vec<Term>,
}

impl PositionalEncoding {
    /// `order` lists the three axes from the outermost to the innermost.
    pub fn new(
        inputs: usize,
        frequencies: u32,
        include_input: bool,
        pi: bool,
        order: [Axis; 3],
    ) -> Result<PositionalEncoding, String> {
        if inputs == 0 {
            return Err("the positional encoding needs at least one input".into());
        }
        if !(1..=MAX_FREQUENCIES).contains(&frequencies) {
            return Err(format!(
                "encoding.frequencies = {frequencies}; it must be 1 to {MAX_FREQUENCIES}"
            ));
        }
        let [a, b, c] = order;
        if a == b || b == c || a == c {
            return Err(format!(
                "encoding.order {order:?} must name \"frequency\", \"function\" and \"input\" \
                 once each"
            ));
        }
        let l = frequencies as usize;
        let size = |axis: Axis| match axis {
            Axis::Frequency => l,
            Axis::Function => 2,
            Axis::Input => inputs,
        };
        let offset = if include_input { inputs } else { 0 };
        let column = |k: usize, f: usize, i: usize| {
            let at = |axis: Axis| match axis {
                Axis::Frequency => k,
                Axis::Function => f,
                Axis::Input => i,
            };
            offset + (at(a) * size(b) + at(b)) * size(c) + at(c)
        };
        let factor = if pi { std::f64::consts::PI } else { 1.0 };
        let terms = (0..l)
            .flat_map(|k| (0..inputs).map(move |i| (k, i)))
            .map(|(k, i)| Term {
                input: i,
                frequency: factor * (1u32 << k) as f64,
                sin_col: column(k, 0, i),
                cos_col: column(k, 1, i),
            })
            .collect();
        Ok(PositionalEncoding {
            inputs,
            include_input,
            terms,
        })
    }

    /// The encoding as a graph lays it out (ONNX: `Concat` of x and Sin/Cos of x·f): block
    /// b is columns b·inputs … (b + 1)·inputs − 1. The raw input may only be the first block,
    /// and every frequency needs exactly one sine and one cosine block.
    pub fn from_blocks(inputs: usize, blocks: &[Block]) -> Result<PositionalEncoding, String> {
        if inputs == 0 {
            return Err("the positional encoding needs at least one input".into());
        }
        if blocks.is_empty() || blocks[1..].contains(&Block::Input) {
            return Err("the raw input may only come first in a positional encoding".into());
        }
        let include_input = blocks[0] == Block::Input;
        let mut terms = Vec::new();
        for (b, block) in blocks.iter().enumerate() {
            let Block::Sin(f) = *block else { continue };
            let cos: Vec<usize> = (0..blocks.len())
                .filter(|&c| blocks[c] == Block::Cos(f))
                .collect();
            let sines = blocks.iter().filter(|&&x| x == Block::Sin(f)).count();
            if cos.len() != 1 || sines != 1 || !f.is_finite() {
                return Err(format!(
                    "frequency {f} of the positional encoding has {sines} sine and {} cosine \
                     blocks; expected one of each",
                    cos.len()
                ));
            }
            terms.extend((0..inputs).map(|i| Term {
                input: i,
                frequency: f,
                sin_col: b * inputs + i,
                cos_col: cos[0] * inputs + i,
            }));
        }
        let enc = PositionalEncoding {
            inputs,
            include_input,
            terms,
        };
        if enc.width() != blocks.len() * inputs {
            return Err("a cosine block of the positional encoding has no sine".into());
        }
        Ok(enc)
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }
    pub fn include_input(&self) -> bool {
        self.include_input
    }
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }
    /// Network inputs the encoding gives.
    pub fn width(&self) -> usize {
        usize::from(self.include_input) * self.inputs + 2 * self.terms.len()
    }

    /// γ of the points `z` (rows = points, `inputs` columns) into `out` (n × width), with
    /// `phases` as scratch: one scaled copy of an input column and one SIMD sincos pass per
    /// term, straight into the two columns it fills.
    pub(crate) fn encode(&self, z: MatRef<'_, f32>, out: &mut Mat<f32>, phases: &mut Mat<f32>) {
        let n = z.nrows();
        if out.nrows() != n || out.ncols() != self.width() {
            *out = Mat::zeros(n, self.width());
        }
        if self.include_input {
            out.as_mut().subcols_mut(0, self.inputs).copy_from(z);
        }
        if phases.nrows() != n || phases.ncols() != 1 {
            *phases = Mat::zeros(n, 1);
        }
        let phase = phases.col_as_slice_mut(0);
        for t in &self.terms {
            // f32 product as the frameworks compute x·2^k (exact) or x·fl(2^k π).
            let f = t.frequency as f32;
            for (p, &x) in phase.iter_mut().zip(z.col(t.input).iter()) {
                *p = x * f;
            }
            let (lo, hi) = (t.sin_col.min(t.cos_col), t.sin_col.max(t.cos_col));
            let (left, right) = out.as_mut().split_at_col_mut(hi);
            let (Some(a), Some(b)) = (
                left.col_mut(lo).try_as_col_major_mut(),
                right.col_mut(0).try_as_col_major_mut(),
            ) else {
                unreachable!("columns of an owned matrix are contiguous")
            };
            let (lo_col, hi_col) = (a.as_slice_mut(), b.as_slice_mut());
            if t.sin_col < t.cos_col {
                kernels::sincos(phase, hi_col, lo_col);
            } else {
                kernels::sincos(phase, lo_col, hi_col);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NeRF's order on 2 inputs, 2 frequencies: [x0, x1, sin x0, sin x1, cos x0, cos x1,
    /// sin 2x0, sin 2x1, cos 2x0, cos 2x1].
    #[test]
    fn nerf_order_and_values() {
        let e = PositionalEncoding::new(2, 2, true, false, NERF_ORDER).unwrap();
        assert_eq!(e.width(), 10);
        let cols: Vec<(usize, f64, usize, usize)> = e
            .terms()
            .iter()
            .map(|t| (t.input, t.frequency, t.sin_col, t.cos_col))
            .collect();
        assert_eq!(
            cols,
            [
                (0, 1.0, 2, 4),
                (1, 1.0, 3, 5),
                (0, 2.0, 6, 8),
                (1, 2.0, 7, 9)
            ]
        );
        let z = Mat::from_fn(3, 2, |i, j| 0.3 * i as f32 - 0.7 * j as f32);
        let mut out = Mat::new();
        e.encode(z.as_ref(), &mut out, &mut Mat::new());
        for i in 0..3 {
            let (x0, x1) = (z[(i, 0)], z[(i, 1)]);
            let want = [
                x0,
                x1,
                x0.sin(),
                x1.sin(),
                x0.cos(),
                x1.cos(),
                (2.0 * x0).sin(),
                (2.0 * x1).sin(),
                (2.0 * x0).cos(),
                (2.0 * x1).cos(),
            ];
            for (j, w) in want.iter().enumerate() {
                assert!((out[(i, j)] - w).abs() < 1e-6, "row {i} col {j}");
            }
        }
    }

    #[test]
    fn blocks_as_a_graph_lays_them_out() {
        use Block::{Cos, Input, Sin};
        let graph = [Input, Sin(1.0), Cos(1.0), Sin(2.0), Cos(2.0)];
        let e = PositionalEncoding::from_blocks(2, &graph).unwrap();
        assert_eq!(
            e,
            PositionalEncoding::new(2, 2, true, false, NERF_ORDER).unwrap()
        );
        assert!(PositionalEncoding::from_blocks(2, &[Sin(1.0), Input, Cos(1.0)]).is_err());
        assert!(PositionalEncoding::from_blocks(2, &[Sin(1.0), Cos(2.0)]).is_err());
        assert!(PositionalEncoding::from_blocks(2, &[Sin(1.0), Sin(1.0), Cos(1.0)]).is_err());
        assert!(PositionalEncoding::from_blocks(2, &[Cos(1.0)]).is_err());
    }

    #[test]
    fn other_orders_permute_the_columns() {
        // All sines, then all cosines, frequency-major (mip-NeRF's posenc), without x.
        let e = PositionalEncoding::new(
            2,
            2,
            false,
            true,
            [Axis::Function, Axis::Frequency, Axis::Input],
        )
        .unwrap();
        let cols: Vec<(usize, usize)> = e.terms().iter().map(|t| (t.sin_col, t.cos_col)).collect();
        assert_eq!(cols, [(0, 4), (1, 5), (2, 6), (3, 7)]);
        assert_eq!(e.terms()[2].frequency, 2.0 * std::f64::consts::PI);
        // Per input, per frequency, sin and cos side by side.
        let e = PositionalEncoding::new(
            2,
            2,
            false,
            false,
            [Axis::Input, Axis::Frequency, Axis::Function],
        )
        .unwrap();
        let cols: Vec<(usize, usize)> = e.terms().iter().map(|t| (t.sin_col, t.cos_col)).collect();
        assert_eq!(cols, [(0, 1), (4, 5), (2, 3), (6, 7)]);
        assert!(PositionalEncoding::new(2, 2, true, false, [Axis::Input; 3]).is_err());
        assert!(PositionalEncoding::new(2, 0, true, false, NERF_ORDER).is_err());
        assert!(PositionalEncoding::new(2, 25, true, false, NERF_ORDER).is_err());
    }
}
