//! NumPy's `.npy` array format, read and written by hand for the few dtypes a network file
//! needs (floats and fixed-width strings): the parser bounds every allocation by the bytes
//! actually present, and object arrays (which would need pickle) are refused.

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

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Float,
    Unicode,
    Bytes,
}

struct Descr {
    big_endian: bool,
    kind: Kind,
    /// Bytes per element.
    itemsize: usize,
}

fn parse_descr(d: &str) -> Result<Descr, String> {
    let mut chars = d.chars();
    let (big_endian, rest) = match chars.next() {
        Some('<' | '|' | '=') => (false, chars.as_str()),
        Some('>') => (true, chars.as_str()),
        _ => (false, d),
    };
    let mut chars = rest.chars();
    let kind_char = chars.next().ok_or_else(|| format!("empty dtype {d:?}"))?;
    if kind_char == 'O' {
        return Err("object arrays are not read (they hold pickles, which could run code)".into());
    }
    let n: usize = chars
        .as_str()
        .parse()
        .map_err(|_| format!("dtype {d:?} is not supported (expected float or string)"))?;
    let (kind, itemsize) = match kind_char {
        'f' if matches!(n, 2 | 4 | 8) => (Kind::Float, n),
        'U' => (
            Kind::Unicode,
            n.checked_mul(4).ok_or("string dtype too wide")?,
        ),
        'S' | 'a' => (Kind::Bytes, n),
        _ => {
            return Err(format!(
                "dtype {d:?} is not supported (expected float16/32/64 or a string)"
            ));
        }
    };
    if itemsize == 0 {
        return Err(format!("dtype {d:?} has zero width"));
    }
    Ok(Descr {
        big_endian,
        kind,
        itemsize,
    })
}

/// A value of the header's Python dict literal.
#[derive(Debug, PartialEq)]
enum Lit {
    Str(String),
    Bool(bool),
    Ints(Vec<usize>),
    Other,
}

struct LitParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl LitParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn string(&mut self) -> Result<String, String> {
        let Some(q) = self.peek().filter(|c| *c == b'\'' || *c == b'"') else {
            return Err("expected a string in the header".into());
        };
        self.i += 1;
        let start = self.i;
        while let Some(&c) = self.s.get(self.i) {
            if c == q {
                let s = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                return Ok(s);
            }
            self.i += 1;
        }
        Err("unterminated string in the header".into())
    }
    fn value(&mut self) -> Result<Lit, String> {
        match self.peek() {
            Some(b'\'' | b'"') => self.string().map(Lit::Str),
            Some(b'(') => {
                self.i += 1;
                let mut v = Vec::new();
                loop {
                    if self.eat(b')') {
                        return Ok(Lit::Ints(v));
                    }
                    let start = self.i;
                    while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                        self.i += 1;
                    }
                    let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
                    let n: usize = digits
                        .parse()
                        .map_err(|_| "the shape is not a tuple of integers".to_string())?;
                    v.push(n);
                    self.eat(b'L');
                    if !self.eat(b',') && self.peek() != Some(b')') {
                        return Err("the shape is not a tuple of integers".into());
                    }
                }
            }
            Some(b'T') if self.s[self.i..].starts_with(b"True") => {
                self.i += 4;
                Ok(Lit::Bool(true))
            }
            Some(b'F') if self.s[self.i..].starts_with(b"False") => {
                self.i += 5;
                Ok(Lit::Bool(false))
            }
            Some(b'[') => Ok(Lit::Other),
            _ => Err("unexpected value in the header".into()),
        }
    }
    fn dict(&mut self) -> Result<Vec<(String, Lit)>, String> {
        if !self.eat(b'{') {
            return Err("the header is not a dict".into());
        }
        let mut out = Vec::new();
        loop {
            if self.eat(b'}') {
                return Ok(out);
            }
            let k = self.string()?;
            if !self.eat(b':') {
                return Err("the header dict lacks a ':'".into());
            }
            let v = self.value()?;
            if v == Lit::Other {
                return Err(format!(
                    "header field {k:?} is a list: structured dtypes are not supported"
                ));
            }
            out.push((k, v));
            if !self.eat(b',') && self.peek() != Some(b'}') {
                return Err("the header dict lacks a ','".into());
            }
        }
    }
}

/// Parses a whole `.npy` file.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray, String> {
    let Some(rest) = bytes.strip_prefix(b"\x93NUMPY") else {
        return Err("not an .npy array (no \\x93NUMPY magic)".into());
    };
    let (header_len, header_start): (usize, usize) = match rest.first() {
        Some(1) => match rest.get(2..4) {
            Some(b) => (usize::from(u16::from_le_bytes([b[0], b[1]])), 10),
            None => return Err("truncated header".into()),
        },
        Some(2 | 3) => match rest.get(2..6) {
            Some(b) => (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12),
            None => return Err("truncated header".into()),
        },
        Some(v) => return Err(format!(".npy format version {v} is not supported")),
        None => return Err("truncated header".into()),
    };
    let Some(header) = bytes.get(header_start..header_start.saturating_add(header_len)) else {
        return Err("truncated header".into());
    };
    let payload = &bytes[header_start + header_len..];
    let fields = LitParser { s: header, i: 0 }.dict()?;
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let Some(Lit::Str(descr)) = get("descr") else {
        return Err("the header has no dtype ('descr')".into());
    };
    let Some(Lit::Bool(fortran)) = get("fortran_order") else {
        return Err("the header has no 'fortran_order'".into());
    };
    let Some(Lit::Ints(shape)) = get("shape") else {
        return Err("the header has no 'shape'".into());
    };
    let d = parse_descr(descr)?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &n| a.checked_mul(n))
        .filter(|&c| c <= MAX_ELEMENTS)
        .ok_or_else(|| format!("shape {shape:?} is too large"))?;
    let need = count * d.itemsize;
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
    let mut c_strides = vec![1usize; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        c_strides[k] = c_strides[k + 1] * shape[k + 1];
    }
    // Position in the file of the element at each C-order index.
    let c_to_file = |c: usize| -> usize {
        if !*fortran || shape.len() < 2 {
            return c;
        }
        let mut rem = c;
        let mut f = 0;
        let mut f_stride = 1;
        for (k, &n) in shape.iter().enumerate() {
            let i = rem / c_strides[k];
            rem %= c_strides[k];
            f += i * f_stride;
            f_stride *= n;
        }
        f
    };
    let item = |c: usize| {
        let at = c_to_file(c) * d.itemsize;
        &payload[at..at + d.itemsize]
    };
    let data = match d.kind {
        Kind::Float => NpyData::Float(
            (0..count)
                .map(|c| {
                    let mut b = item(c).to_vec();
                    if d.big_endian {
                        b.reverse();
                    }
                    match b.len() {
                        2 => half_to_f32(u16::from_le_bytes([b[0], b[1]])),
                        4 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                        _ => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                            as f32,
                    }
                })
                .collect(),
        ),
        Kind::Unicode => NpyData::Text(
            (0..count)
                .map(|c| {
                    let mut s = String::new();
                    for u in item(c).chunks_exact(4) {
                        let mut b = [u[0], u[1], u[2], u[3]];
                        if d.big_endian {
                            b.reverse();
                        }
                        let code = u32::from_le_bytes(b);
                        match char::from_u32(code) {
                            Some(ch) => s.push(ch),
                            None => return Err(format!("invalid code point {code:#x}")),
                        }
                    }
                    Ok(s.trim_end_matches('\0').to_owned())
                })
                .collect::<Result<_, String>>()?,
        ),
        Kind::Bytes => NpyData::Text(
            (0..count)
                .map(|c| {
                    let raw = item(c);
                    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
                    String::from_utf8(raw[..end].to_vec())
                        .map_err(|_| "a byte string is not UTF-8".to_string())
                })
                .collect::<Result<_, String>>()?,
        ),
    };
    Ok(NpyArray {
        shape: shape.clone(),
        descr: descr.clone(),
        data,
    })
}

/// IEEE half → single, exactly.
pub(crate) fn half_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    if exp == 0 {
        let v = mant as f32 * f32::powi(2.0, -24);
        return if sign != 0 { -v } else { v };
    }
    let bits = if exp == 31 {
        sign | 0x7f80_0000 | (mant << 13)
    } else {
        sign | ((exp + 112) << 23) | (mant << 13)
    };
    f32::from_bits(bits)
}

fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape = match shape {
        [] => "()".to_owned(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // NumPy pads the header so the data starts on a 64-byte boundary.
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out
}

/// A little-endian float32 `.npy` of the given C-order data.
pub fn write_npy_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let mut out = header("<f4", shape);
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
    let mut out = header(&format!("<U{width}"), &[items.len()]);
    for s in items {
        let n = s.chars().count();
        for ch in s.chars() {
            out.extend_from_slice(&u32::from(ch).to_le_bytes());
        }
        for _ in n..width {
            out.extend_from_slice(&0u32.to_le_bytes());
        }
    }
    out
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
