//! `.safetensors` reader, on top of Hugging Face's `safetensors` crate.
//!
//! Order of the returned tensors: the crate keeps the header in a hash map and exposes
//! only the data-offset order, which the official writers choose by (dtype alignment,
//! name) — not the model's module order. So tensors are returned sorted by name with
//! numeric-aware comparison (`net.2.weight` < `net.10.weight`), which restores layer
//! order for the usual `prefix.<index>.weight` naming.

use std::cmp::Ordering;

use safetensors::{Dtype, SafeTensors};

use super::tensor::{MAX_TOTAL_ELEMENTS, Tensor};

/// Errors of [`read_safetensors`].
#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    /// The header or offsets are malformed (includes a header that claims more data than
    /// the file holds, and truncated files).
    #[error(
        "not a valid .safetensors file: {0} (a truncated or hand-edited file? re-save it with safetensors.torch.save_file)"
    )]
    Format(#[from] safetensors::SafeTensorError),
    /// A tensor has a dtype that is not a float type.
    #[error(
        "tensor {name}: dtype {dtype} is not supported; only F32, F64, F16 and BF16 tensors can be read (convert it with tensor.float() before saving)"
    )]
    UnsupportedDtype { name: String, dtype: String },
    /// The file holds more elements than [`MAX_TOTAL_ELEMENTS`].
    #[error(
        "the file holds more than {limit} tensor elements in total (reached at tensor {name}); this reader is meant for small MLPs"
    )]
    TooLarge { name: String, limit: usize },
}

/// Reads every tensor of a `.safetensors` file (converted to f32) and the value of the
/// `"pruningamr"` key of its `__metadata__`, if any.
pub fn read_safetensors(bytes: &[u8]) -> Result<(Vec<Tensor>, Option<String>), SafetensorsError> {
    // `read_metadata` checks the header size against the file, that the offsets tile the
    // data section exactly (no gaps, nothing past the end) and that each tensor's byte
    // length equals shape × dtype size (with overflow checks).
    let (_, metadata) = SafeTensors::read_metadata(bytes)?;
    let pruningamr = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get("pruningamr").cloned());
    let st = SafeTensors::deserialize(bytes)?;

    let mut views = st.tensors();
    views.sort_by(|a, b| natural_cmp(&a.0, &b.0));

    // Count first, allocate after.
    let mut total: usize = 0;
    for (name, view) in &views {
        if !matches!(
            view.dtype(),
            Dtype::F32 | Dtype::F64 | Dtype::F16 | Dtype::BF16
        ) {
            return Err(SafetensorsError::UnsupportedDtype {
                name: name.clone(),
                dtype: format!("{:?}", view.dtype()),
            });
        }
        let n = view
            .shape()
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d));
        total = match n.and_then(|n| total.checked_add(n)) {
            Some(t) if t <= MAX_TOTAL_ELEMENTS => t,
            _ => {
                return Err(SafetensorsError::TooLarge {
                    name: name.clone(),
                    limit: MAX_TOTAL_ELEMENTS,
                });
            }
        };
    }

    let tensors = views
        .into_iter()
        .map(|(name, view)| {
            let raw = view.data();
            let data: Vec<f32> = match view.dtype() {
                Dtype::F32 => raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                Dtype::F64 => raw
                    .chunks_exact(8)
                    .map(|c| {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(c);
                        f64::from_le_bytes(b) as f32
                    })
                    .collect(),
                Dtype::F16 => raw
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
                Dtype::BF16 => raw
                    .chunks_exact(2)
                    .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
                _ => unreachable!("dtypes were checked above"),
            };
            Tensor {
                name,
                shape: view.shape().to_vec(),
                data,
            }
        })
        .collect();
    Ok((tensors, pruningamr))
}

/// Compares names with runs of ASCII digits compared as numbers (`a2` < `a10`); ties
/// (e.g. `a01` vs `a1`) fall back to plain byte order so the order is total.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = trim_zeros(&ab[si..i]);
            let nb = trim_zeros(&bb[sj..j]);
            let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            if ab[i] != bb[j] {
                return ab[i].cmp(&bb[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j)).then_with(|| ab.cmp(bb))
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let k = d.iter().position(|&c| c != b'0').unwrap_or(d.len());
    &d[k..]
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use std::cmp::Ordering::*;

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("net.2.weight", "net.10.weight"), Less);
        assert_eq!(natural_cmp("net.10.bias", "net.10.weight"), Less);
        assert_eq!(natural_cmp("a", "a0"), Less);
        assert_eq!(natural_cmp("a01", "a1"), Less);
        assert_eq!(natural_cmp("x", "x"), Equal);
        assert_eq!(natural_cmp("layers.9", "layers.10"), Less);
        let mut v = vec!["l.10.w", "l.1.w", "l.2.w", "l.0.w"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["l.0.w", "l.1.w", "l.2.w", "l.10.w"]);
    }
}
