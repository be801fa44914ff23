//! NumPy's `.npy` arrays for the few dtypes a network file needs (floats and fixed-width
//! strings), read and written through `npyz`. Before anything is allocated, the header's shape
//! × item size must match the bytes actually present (and stay under a cap), so a small file
//! cannot make the reader allocate gigabytes; object arrays (which would need pickle) are
//! refused.

use std::io::Write as _;

use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar, TypeStr, WriteOptions, WriterBuilder};

/// An array's elements, converted for our use: floating point as f32, strings trimmed of
/// their NUL padding.
#[derive(Clone, Debug, PartialEq)]
pub enum NpyData {
    Float(Vec<f32>),
    Text(Vec<String>),
}

/// A parsed array, in C (row-major) order whatever order the file used.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    /// The dtype as the file spells it (`<f4`, `<U8`, …), for messages.
    pub descr: String,
    pub data: NpyData,
}

/// Largest element count read (1 GiB of f32).
const MAX_ELEMENTS: usize = 1 << 28;

/// Parses a whole `.npy` file.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray, String> {
    if !bytes.starts_with(b"\x93NUMPY") {
        return Err("not an .npy array (no \\x93NUMPY magic)".into());
    }
    // npyz allocates the header's declared length before reading it (4 bytes of it in
    // versions 2 and 3: up to 4 GiB from a 12-byte file), so check it against the file first.
    let (len_at, len_bytes) = match bytes.get(6) {
        Some(1) => (8, 2),
        _ => (8, 4),
    };
    if let Some(field) = bytes.get(len_at..len_at + len_bytes) {
        let declared = field
            .iter()
            .rev()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let present = bytes.len() - len_at - len_bytes;
        if declared > present {
            return Err(format!(
                "truncated header: it declares {declared} bytes, {present} follow"
            ));
        }
    }
    let mut payload = bytes;
    let header = NpyHeader::from_reader(&mut payload).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            "truncated header".to_string()
        } else {
            format!("bad header: {e}")
        }
    })?;
    let ty = match header.dtype() {
        DType::Plain(t) => t,
        other => {
            return Err(format!(
                "dtype {} is not a plain array of numbers or strings",
                other.descr()
            ));
        }
    };
    let descr = ty.to_string();
    let itemsize = item_size(&ty)?;
    let shape = header
        .shape()
        .iter()
        .map(|&n| {
            usize::try_from(n).map_err(|_| format!("shape {:?} is too large", header.shape()))
        })
        .collect::<Result<Vec<usize>, String>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &n| a.checked_mul(n))
        .filter(|&c| c <= MAX_ELEMENTS)
        .ok_or_else(|| format!("shape {shape:?} is too large"))?;
    let need = count * itemsize;
    if payload.len() != need {
        return Err(format!(
            "the data has {} bytes but shape {shape:?} of {descr} needs {need}{}",
            payload.len(),
            if payload.len() < need {
                " (truncated)"
            } else {
                ""
            }
        ));
    }
    let fortran = header.order() == Order::Fortran;
    let file = NpyFile::with_header(header, payload);
    let read_err = |e: std::io::Error| format!("reading the data: {e}");
    let data = match ty.type_char() {
        TypeChar::Float => NpyData::Float(match itemsize {
            2 => file
                .into_vec::<half::f16>()
                .map_err(read_err)?
                .into_iter()
                .map(half::f16::to_f32)
                .collect(),
            4 => file.into_vec::<f32>().map_err(read_err)?,
            _ => file
                .into_vec::<f64>()
                .map_err(read_err)?
                .into_iter()
                .map(|v| v as f32)
                .collect(),
        }),
        TypeChar::UnicodeStr => NpyData::Text(
            file.into_vec::<String>()
                .map_err(read_err)?
                .into_iter()
                .map(|s| s.trim_end_matches('\0').to_owned())
                .collect(),
        ),
        _ => NpyData::Text(
            file.into_vec::<Vec<u8>>()
                .map_err(read_err)?
                .into_iter()
                .map(|raw| {
                    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
                    String::from_utf8(raw[..end].to_vec())
                        .map_err(|_| "a byte string is not UTF-8".to_string())
                })
                .collect::<Result<_, String>>()?,
        ),
    };
    Ok(NpyArray {
        data: if fortran {
            to_c_order(data, &shape)
        } else {
            data
        },
        shape,
        descr,
    })
}

/// Bytes per element of the dtypes we read; any other dtype is an error naming it.
fn item_size(ty: &TypeStr) -> Result<usize, String> {
    let size = usize::try_from(ty.size_field()).unwrap_or(usize::MAX);
    match ty.type_char() {
        TypeChar::Float if matches!(size, 2 | 4 | 8) => Ok(size),
        TypeChar::UnicodeStr if size <= 1 << 16 => Ok(4 * size),
        TypeChar::ByteStr if size <= 1 << 18 => Ok(size),
        TypeChar::Object => {
            Err("object arrays are not read (they need pickle); save numbers or strings".into())
        }
        _ => Err(format!(
            "dtype {ty} is not supported (floats and strings only)"
        )),
    }
}

/// Reorders elements stored column-major (Fortran order) into row-major order.
fn to_c_order(data: NpyData, shape: &[usize]) -> NpyData {
    if shape.len() < 2 {
        return data;
    }
    let mut c_strides = vec![1usize; shape.len()];
    for k in (0..shape.len() - 1).rev() {
        c_strides[k] = c_strides[k + 1] * shape[k + 1];
    }
    // Position in the file of the element at each C-order index.
    let c_to_file = |c: usize| -> usize {
        let (mut rem, mut f, mut f_stride) = (c, 0, 1);
        for (k, &n) in shape.iter().enumerate() {
            f += rem / c_strides[k] * f_stride;
            rem %= c_strides[k];
            f_stride *= n;
        }
        f
    };
    fn reorder<T: Clone>(v: &[T], at: impl Fn(usize) -> usize) -> Vec<T> {
        (0..v.len()).map(|c| v[at(c)].clone()).collect()
    }
    match data {
        NpyData::Float(v) => NpyData::Float(reorder(&v, c_to_file)),
        NpyData::Text(v) => NpyData::Text(reorder(&v, c_to_file)),
    }
}

fn write_array<T: npyz::Serialize + ?Sized>(
    dtype: &str,
    shape: &[usize],
    items: impl IntoIterator<Item = impl std::borrow::Borrow<T>>,
) -> Vec<u8> {
    let ty: TypeStr = dtype.parse().expect("a dtype this module spells");
    let shape: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
    let mut out = Vec::new();
    let mut w = WriteOptions::<T>::new()
        .dtype(DType::Plain(ty))
        .shape(&shape)
        .writer(&mut out)
        .begin_nd()
        .expect("writing to memory");
    for item in items {
        w.push(item.borrow()).expect("writing to memory");
    }
    w.finish().expect("writing to memory");
    out.flush().expect("writing to memory");
    out
}

/// A little-endian float32 `.npy`: the header for `shape`, then `data` (C order). The data is
/// written as given, also when it is shorter than the shape says: the readers' tests make
/// headers that claim more than the file holds.
pub fn write_npy_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let shape: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
    let mut out = Vec::new();
    WriteOptions::new_header_only()
        .dtype(DType::Plain(
            "<f4".parse().expect("a dtype this module spells"),
        ))
        .shape(&shape)
        .writer(&mut out)
        .write_header_only()
        .expect("writing to memory");
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// A 1-D `<U…` `.npy` of strings, as `np.array([...])` makes.
pub fn write_npy_text(items: &[String]) -> Vec<u8> {
    let width = items
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .max(1);
    write_array::<str>(
        &format!("<U{width}"),
        &[items.len()],
        items.iter().map(String::as_str),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_round_trip_and_header_alignment() {
        let bytes = write_npy_f32(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
        assert_eq!(
            (bytes.len() - 24) % 64,
            0,
            "data starts on a 64-byte boundary"
        );
        let a = parse_npy(&bytes).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, NpyData::Float(vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5]));
        let s = parse_npy(&write_npy_f32(&[], &[2.5])).unwrap();
        assert!(s.shape.is_empty());
        assert_eq!(s.data, NpyData::Float(vec![2.5]));
    }

    #[test]
    fn text_round_trip() {
        let items = vec![
            "ReLU".to_string(),
            "LeakyReLU:0.2".into(),
            "Identity".into(),
        ];
        let a = parse_npy(&write_npy_text(&items)).unwrap();
        assert_eq!(a.descr, "<U13");
        assert_eq!(a.data, NpyData::Text(items));
    }

    #[test]
    fn fortran_order_becomes_c_order() {
        // [[1, 2, 3], [4, 5, 6]] stored column by column, float64 big-endian.
        let h = "{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }\n";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        for v in [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        let a = parse_npy(&b).unwrap();
        assert_eq!(a.data, NpyData::Float(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    }

    #[test]
    fn bad_arrays_are_refused() {
        let good = write_npy_f32(&[3], &[1.0, 2.0, 3.0]);
        let err = parse_npy(&good[..good.len() - 2]).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        let h = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }\n";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(&[0; 8]);
        assert!(parse_npy(&b).unwrap_err().contains("object arrays"));
        assert!(parse_npy(b"\x93NUMPY\x01\x00\xff").is_err());
    }
}
