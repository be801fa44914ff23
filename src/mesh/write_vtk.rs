//! ParaView output: one `.vtu` (VTK XML UnstructuredGrid, inline base64 binary) per iteration
//! with the field's components as point data and the refinement level as cell data, and a
//! `.pvd` collection listing every iteration written so far as a time step. Files are written
//! through a temporary name and renamed.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::Mesh;
use super::reference::num_corners;
use crate::io::write_atomically;

/// Appends the standard (RFC 4648, padded) base64 of `bytes`, as VTK's inline binary wants.
fn base64(bytes: &[u8], out: &mut String) {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
}

/// One `DataArray` in VTK's inline binary form: base64 of (u64 byte count ++ raw data).
fn data_array(out: &mut String, ty: &str, name: Option<&str>, ncomp: usize, raw: &[u8]) {
    out.push_str(&format!("<DataArray type=\"{ty}\""));
    if let Some(name) = name {
        out.push_str(&format!(" Name=\"{}\"", xml_escape(name)));
    }
    if ncomp > 1 {
        out.push_str(&format!(" NumberOfComponents=\"{ncomp}\""));
    }
    out.push_str(" format=\"binary\">\n");
    let mut block = Vec::with_capacity(8 + raw.len());
    block.extend_from_slice(&(raw.len() as u64).to_le_bytes());
    block.extend_from_slice(raw);
    base64(&block, out);
    out.push_str("\n</DataArray>\n");
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn le_bytes<T: Copy, const N: usize>(
    xs: impl Iterator<Item = T>,
    to: impl Fn(T) -> [u8; N],
) -> Vec<u8> {
    xs.flat_map(to).collect()
}

impl Mesh {
    /// The `.vtu` text of the mesh with point data `values` (vertex-major, `v * ncomp + c`),
    /// one scalar array per component named by `names`.
    pub fn vtu_text(&self, values: &[f64], ncomp: usize, names: &[String]) -> String {
        let nc = num_corners(self.dim);
        let ne = self.leaves.len();
        let nv = self.vertices.len();
        let mut s = String::new();
        s.push_str("<?xml version=\"1.0\"?>\n");
        s.push_str(
            "<VTKFile type=\"UnstructuredGrid\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">\n",
        );
        s.push_str(&format!(
            "<UnstructuredGrid>\n<Piece NumberOfPoints=\"{nv}\" NumberOfCells=\"{ne}\">\n"
        ));
        s.push_str("<Points>\n");
        data_array(
            &mut s,
            "Float64",
            None,
            3,
            &le_bytes(self.vertices.iter().flatten().copied(), f64::to_le_bytes),
        );
        s.push_str("</Points>\n<Cells>\n");
        let conn = (0..ne).flat_map(|e| self.element_vertices(e).iter().map(|&v| i64::from(v)));
        data_array(
            &mut s,
            "Int64",
            Some("connectivity"),
            1,
            &le_bytes(conn, i64::to_le_bytes),
        );
        let offsets = (1..=ne).map(|e| (e * nc) as i64);
        data_array(
            &mut s,
            "Int64",
            Some("offsets"),
            1,
            &le_bytes(offsets, i64::to_le_bytes),
        );
        let cell_type: u8 = if self.dim == 2 { 9 } else { 12 };
        data_array(&mut s, "UInt8", Some("types"), 1, &vec![cell_type; ne]);
        s.push_str("</Cells>\n");
        let first = names.first().map_or("", String::as_str);
        s.push_str(&format!("<PointData Scalars=\"{}\">\n", xml_escape(first)));
        for c in 0..ncomp {
            let comp = (0..nv).map(|v| values[v * ncomp + c]);
            data_array(
                &mut s,
                "Float64",
                names.get(c).map(String::as_str),
                1,
                &le_bytes(comp, f64::to_le_bytes),
            );
        }
        s.push_str("</PointData>\n<CellData Scalars=\"level\">\n");
        let levels = (0..ne).map(|e| self.element_level(e) as i32);
        data_array(
            &mut s,
            "Int32",
            Some("level"),
            1,
            &le_bytes(levels, i32::to_le_bytes),
        );
        let attrs = (0..ne).map(|e| self.element_attribute(e));
        data_array(
            &mut s,
            "Int32",
            Some("attribute"),
            1,
            &le_bytes(attrs, i32::to_le_bytes),
        );
        s.push_str("</CellData>\n</Piece>\n</UnstructuredGrid>\n</VTKFile>\n");
        s
    }
}

/// Writes `<dir>/<name>_<it>.vtu` per iteration and keeps `<dir>/<name>.pvd` listing all of
/// them, iteration number as time.
#[derive(Debug, Clone)]
pub struct ParaViewWriter {
    dir: PathBuf,
    name: String,
    field_names: Vec<String>,
    steps: Vec<(usize, String)>,
}

impl ParaViewWriter {
    /// Creates `dir` if needed. `field_names` name the field's components (the run passes the
    /// INR's output names; an empty list means the original's `INRgf` for one component,
    /// `INRgf_0`, `INRgf_1`, … for more).
    pub fn new(dir: &Path, name: &str, field_names: Vec<String>) -> io::Result<ParaViewWriter> {
        std::fs::create_dir_all(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        Ok(ParaViewWriter {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            field_names,
            steps: Vec::new(),
        })
    }

    /// Path of the collection file.
    pub fn pvd_path(&self) -> PathBuf {
        self.dir.join(format!("{}.pvd", self.name))
    }

    /// Writes iteration `it` and rewrites the collection; returns the `.vtu` path.
    pub fn write_iteration(
        &mut self,
        mesh: &Mesh,
        values: &[f64],
        ncomp: usize,
        it: usize,
    ) -> io::Result<PathBuf> {
        if ncomp == 0 || values.len() != mesh.num_vertices() * ncomp {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "ParaView: {} values do not fit {} vertices × {ncomp}",
                    values.len(),
                    mesh.num_vertices()
                ),
            ));
        }
        let names: Vec<String> = if self.field_names.len() == ncomp {
            self.field_names.clone()
        } else if ncomp == 1 {
            vec!["INRgf".to_string()]
        } else {
            (0..ncomp).map(|c| format!("INRgf_{c}")).collect()
        };
        let file = format!("{}_{it}.vtu", self.name);
        let path = self.dir.join(&file);
        let text = mesh.vtu_text(values, ncomp, &names);
        write_atomically(&path, |w| w.write_all(text.as_bytes()))?;
        self.steps.retain(|(i, _)| *i != it);
        self.steps.push((it, file));
        self.steps.sort_by_key(|(i, _)| *i);
        let steps: Vec<(String, String)> = self
            .steps
            .iter()
            .map(|(i, f)| (i.to_string(), f.clone()))
            .collect();
        write_collection(&self.pvd_path(), &steps)?;
        Ok(path)
    }
}

/// Writes a `.pvd` collection: one data set per (time step as written, file relative to the
/// collection's folder), in the order given.
pub fn write_collection(path: &Path, steps: &[(String, String)]) -> io::Result<()> {
    let mut pvd = String::from(
        "<?xml version=\"1.0\"?>\n<VTKFile type=\"Collection\" version=\"1.0\" byte_order=\"LittleEndian\">\n<Collection>\n",
    );
    for (t, f) in steps {
        pvd.push_str(&format!(
            "<DataSet timestep=\"{}\" group=\"\" part=\"0\" file=\"{}\"/>\n",
            xml_escape(t),
            xml_escape(f)
        ));
    }
    pvd.push_str("</Collection>\n</VTKFile>\n");
    write_atomically(path, |w| w.write_all(pvd.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc4648_examples() {
        for (raw, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut s = String::new();
            base64(raw.as_bytes(), &mut s);
            assert_eq!(s, want);
        }
    }
}
