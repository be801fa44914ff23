//! MFEM output: the mesh (`MFEM mesh v1.1` with `vertex_parents` when vertices hang, so MFEM
//! loads it as nonconforming; plain v1.0 otherwise) and order-1 grid functions. Every file is
//! written atomically (`crate::io::write_atomically`), so an interrupted run never leaves a
//! torn file.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use crate::io::write_atomically;

use super::Mesh;
use super::reference::{num_corners, sides};

/// `x` as C's `%.8g` (C++ stream default formatting at precision 8): `0.33333333`, `1e-09`,
/// `-6.6666667e-06`, `12345678`, `1.2345679e+08`.
pub fn format_g8(x: f64) -> String {
    const P: i32 = 8;
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "inf".to_string()
        } else {
            "-inf".to_string()
        };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".to_string()
        } else {
            "0".to_string()
        };
    }
    let sci = format!("{:.*e}", (P - 1) as usize, x);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..P).contains(&exp) {
        let mant = trim_fraction(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        trim_fraction(&format!("{:.*}", (P - 1 - exp) as usize, x)).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

impl Mesh {
    /// Writes the mesh in MFEM format (see the module comment).
    pub fn write_mfem(&self, path: &Path) -> io::Result<()> {
        let mut text = String::new();
        self.push_mfem_text(&mut text).map_err(io::Error::other)?;
        write_atomically(path, |w| w.write_all(text.as_bytes()))
    }

    /// The text [`Mesh::write_mfem`] writes (empty in the impossible case that formatting
    /// a number into a String fails).
    pub fn mfem_text(&self) -> String {
        let mut s = String::new();
        match self.push_mfem_text(&mut s) {
            Ok(()) => s,
            Err(_) => String::new(),
        }
    }

    /// Appends the MFEM text of the mesh to `s`.
    fn push_mfem_text(&self, s: &mut String) -> std::fmt::Result {
        let dim = self.dim;
        let nc = num_corners(dim);
        let (geom, side_geom) = if dim == 2 { (3, 1) } else { (5, 3) };
        s.reserve(64 * (self.leaves.len() + self.vertices.len()));
        let hanging = &self.constraints;
        let version = if hanging.is_empty() { "v1.0" } else { "v1.1" };
        write!(
            s,
            "MFEM mesh {version}\n\ndimension\n{dim}\n\nelements\n{}\n",
            self.leaves.len()
        )?;
        for &n in &self.leaves {
            let node = &self.nodes[n as usize];
            write!(s, "{} {geom}", node.attribute)?;
            for v in &node.vertices[..nc] {
                write!(s, " {v}")?;
            }
            s.push('\n');
        }
        let mut boundary = String::new();
        let mut nbe = 0usize;
        for &n in &self.leaves {
            let node = &self.nodes[n as usize];
            let attrs = &self.root_side_attr[node.root as usize];
            for (k, side) in sides(dim).iter().enumerate() {
                if node.root_side_mask & (1 << k) != 0 && attrs[k] != 0 {
                    write!(boundary, "{} {side_geom}", attrs[k])?;
                    for &c in side.iter() {
                        write!(boundary, " {}", node.vertices[c])?;
                    }
                    boundary.push('\n');
                    nbe += 1;
                }
            }
        }
        write!(s, "\nboundary\n{nbe}\n{boundary}")?;
        if !hanging.is_empty() {
            write!(s, "\nvertex_parents\n{}\n", hanging.len())?;
            for c in hanging.iter() {
                writeln!(s, "{} {} {}", c.vertex, c.parents[0], c.parents[1])?;
            }
        }
        write!(s, "\nvertices\n{}\n{dim}\n", self.vertices.len())?;
        for x in &self.vertices {
            for (a, xa) in x.iter().enumerate().take(dim) {
                write!(s, "{}{}", if a == 0 { "" } else { " " }, xa)?;
            }
            s.push('\n');
        }
        Ok(())
    }

    /// Writes an order-1 H1 grid function: `values` vertex-major (`v * ncomp + c`), written
    /// by nodes (`Ordering: 0`: all of component 0, then component 1, …), 8 significant digits.
    pub fn write_gf(&self, values: &[f64], ncomp: usize, path: &Path) -> io::Result<()> {
        let nv = self.vertices.len();
        if ncomp == 0 || values.len() != nv * ncomp {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: {} values do not fit {nv} vertices × {ncomp} components",
                    path.display(),
                    values.len()
                ),
            ));
        }
        let fec = if self.dim == 2 {
            "H1_2D_P1"
        } else {
            "H1_3D_P1"
        };
        write_atomically(path, |w| {
            write!(
                w,
                "FiniteElementSpace\nFiniteElementCollection: {fec}\nVDim: {ncomp}\nOrdering: 0\n\n"
            )?;
            for c in 0..ncomp {
                for v in 0..nv {
                    writeln!(w, "{}", format_g8(values[v * ncomp + c]))?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::format_g8;

    #[test]
    fn g8_matches_c_printf() {
        let cases = [
            (1.0 / 3.0, "0.33333333"),
            (1e-9, "1e-09"),
            (-6.66666666666e-6, "-6.6666667e-06"),
            (0.0, "0"),
            (1.0, "1"),
            (0.25, "0.25"),
            (12345678.0, "12345678"),
            (123456789.0, "1.2345679e+08"),
            (0.0001, "0.0001"),
            (0.00012345678912, "0.00012345679"),
            (99999999.5, "1e+08"),
            (-2.5, "-2.5"),
            (1e100, "1e+100"),
            (9.999999996, "10"),
        ];
        for (x, want) in cases {
            assert_eq!(format_g8(x), want, "{x}");
        }
    }
}
