//! Readers for start meshes: `MFEM mesh v1.0` and `MFEM INLINE mesh v1.0`, quads or hexes.
//! They produce a [`RootMesh`]: the coarse elements before any refinement, unused vertices
//! dropped and the rest renumbered in file order, every element checked for positive volume.

use super::error::MeshError;
use super::geometry;
use super::reference::{num_corners, sides};

/// A start mesh as read from a file.
#[derive(Debug, Clone)]
pub(crate) struct RootMesh {
    pub dim: usize,
    pub vertices: Vec<[f64; 3]>,
    /// Corner ids (first `num_corners(dim)` used) and attribute of each element.
    pub elements: Vec<([u32; 8], i32)>,
    /// Boundary sides: sorted corner ids and attribute (used to keep attributes on output).
    pub boundary: Vec<(Vec<u32>, i32)>,
}

/// Whitespace tokens with their 1-based line numbers; `#` starts a comment.
struct Tokens<'a> {
    file: &'a str,
    toks: Vec<(&'a str, usize)>,
    pos: usize,
    last_line: usize,
}

impl<'a> Tokens<'a> {
    fn new(file: &'a str, lines: &[(usize, &'a str)]) -> Tokens<'a> {
        let mut toks = Vec::new();
        for &(no, line) in lines {
            let body = line.split('#').next().unwrap_or("");
            toks.extend(body.split_whitespace().map(|t| (t, no)));
        }
        // End-of-file errors point at the last line that had anything on it.
        let last_line = toks
            .last()
            .map_or_else(|| lines.last().map_or(1, |l| l.0), |t| t.1);
        Tokens {
            file,
            toks,
            pos: 0,
            last_line,
        }
    }

    fn err(&self, line: usize, message: impl Into<String>) -> MeshError {
        MeshError::parse(self.file, line, message)
    }

    fn next(&mut self, what: &str) -> Result<(&'a str, usize), MeshError> {
        match self.toks.get(self.pos) {
            Some(&t) => {
                self.pos += 1;
                Ok(t)
            }
            None => Err(self.err(
                self.last_line,
                format!("unexpected end of file (truncated?) while reading {what}"),
            )),
        }
    }

    /// Tokens not read yet: what a count in the file may reserve room for.
    fn remaining(&self) -> usize {
        self.toks.len().saturating_sub(self.pos)
    }

    fn peek(&self) -> Option<&'a str> {
        self.toks.get(self.pos).map(|t| t.0)
    }

    fn keyword(&mut self, key: &str) -> Result<usize, MeshError> {
        let (t, line) = self.next(&format!("section '{key}'"))?;
        if t != key {
            return Err(self.err(line, format!("expected section '{key}', found '{t}'")));
        }
        Ok(line)
    }

    fn int(&mut self, what: &str) -> Result<(i64, usize), MeshError> {
        let (t, line) = self.next(what)?;
        t.parse::<i64>()
            .map(|v| (v, line))
            .map_err(|_| self.err(line, format!("expected an integer for {what}, found '{t}'")))
    }

    fn count(&mut self, what: &str) -> Result<(usize, usize), MeshError> {
        let (v, line) = self.int(what)?;
        usize::try_from(v)
            .map(|v| (v, line))
            .map_err(|_| self.err(line, format!("{what} must not be negative, found {v}")))
    }

    fn float(&mut self, what: &str) -> Result<(f64, usize), MeshError> {
        let (t, line) = self.next(what)?;
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok((v, line)),
            Ok(_) => Err(self.err(line, format!("{what} is not finite: '{t}'"))),
            Err(_) => Err(self.err(line, format!("expected a number for {what}, found '{t}'"))),
        }
    }
}

fn geometry_name(code: i64) -> &'static str {
    match code {
        0 => "point",
        1 => "segment",
        2 => "triangle",
        3 => "quadrilateral",
        4 => "tetrahedron",
        5 => "hexahedron",
        6 => "prism",
        7 => "pyramid",
        _ => "unknown",
    }
}

fn geometry_vertices(code: i64) -> Option<usize> {
    [1, 2, 3, 4, 4, 8, 6, 5]
        .get(usize::try_from(code).ok()?)
        .copied()
}

/// Parses a start mesh; `file` names it in messages.
pub(crate) fn parse(text: &str, file: &str) -> Result<RootMesh, MeshError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<(usize, &str)> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .collect();
    let Some(header_at) = lines.iter().position(|(_, l)| !l.trim().is_empty()) else {
        return Err(MeshError::parse(
            file,
            1,
            "empty file, expected an MFEM mesh",
        ));
    };
    let (header_line, header) = lines[header_at];
    let rest = &lines[header_at + 1..];
    match header.trim() {
        "MFEM mesh v1.0" => parse_v10(&mut Tokens::new(file, rest)),
        "MFEM INLINE mesh v1.0" => parse_inline(file, rest),
        "MFEM mesh v1.1" | "MFEM mesh v1.2" | "MFEM NC mesh v1.0" | "MFEM mesh v1.3" => {
            Err(MeshError::parse(
                file,
                header_line,
                format!(
                    "'{}' is not supported as a start mesh; use 'MFEM mesh v1.0' or \
                     'MFEM INLINE mesh v1.0' (conforming quads or hexes)",
                    header.trim()
                ),
            ))
        }
        other => Err(MeshError::parse(
            file,
            header_line,
            format!(
                "not an MFEM mesh: header '{other}' (expected 'MFEM mesh v1.0' or \
                 'MFEM INLINE mesh v1.0')"
            ),
        )),
    }
}

fn parse_v10(tk: &mut Tokens<'_>) -> Result<RootMesh, MeshError> {
    tk.keyword("dimension")?;
    let (dim, line) = tk.int("the dimension")?;
    let dim = match dim {
        2 => 2usize,
        3 => 3,
        d => {
            return Err(tk.err(
                line,
                format!("dimension {d} is not supported (only 2: quadrilaterals, 3: hexahedra)"),
            ));
        }
    };
    let want_geom: i64 = if dim == 2 { 3 } else { 5 };
    let nc = num_corners(dim);

    tk.keyword("elements")?;
    let (ne, line) = tk.count("the number of elements")?;
    if ne == 0 {
        return Err(tk.err(line, "the mesh has no elements"));
    }
    // (corners as in the file, attribute, line)
    // Counts are the file's word: reserve no more than its tokens can fill.
    let mut raw_elements: Vec<([i64; 8], i32, usize)> =
        Vec::with_capacity(ne.min(tk.remaining() / (2 + nc)));
    for _ in 0..ne {
        let (attr, line) = tk.int("an element attribute")?;
        let attr = i32::try_from(attr)
            .map_err(|_| tk.err(line, format!("element attribute {attr} is out of range")))?;
        let (geom, gline) = tk.int("an element geometry")?;
        if geom != want_geom {
            return Err(tk.err(
                gline,
                format!(
                    "element geometry {geom} ({}) is not supported in a {dim}D mesh: only {} \
                     ({want_geom})",
                    geometry_name(geom),
                    geometry_name(want_geom)
                ),
            ));
        }
        let mut v = [0i64; 8];
        for slot in v.iter_mut().take(nc) {
            *slot = tk.int("an element vertex index")?.0;
        }
        raw_elements.push((v, attr, line));
    }

    tk.keyword("boundary")?;
    let (nbe, _) = tk.count("the number of boundary elements")?;
    let mut raw_boundary: Vec<(Vec<i64>, i32, usize)> =
        Vec::with_capacity(nbe.min(tk.remaining() / 3));
    for _ in 0..nbe {
        let (attr, line) = tk.int("a boundary attribute")?;
        let attr = i32::try_from(attr)
            .map_err(|_| tk.err(line, format!("boundary attribute {attr} is out of range")))?;
        let (geom, gline) = tk.int("a boundary geometry")?;
        let n = geometry_vertices(geom)
            .ok_or_else(|| tk.err(gline, format!("unknown boundary geometry {geom}")))?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(tk.int("a boundary vertex index")?.0);
        }
        raw_boundary.push((v, attr, line));
    }

    tk.keyword("vertices")?;
    let (nv, _) = tk.count("the number of vertices")?;
    if let Some("nodes") = tk.peek() {
        let (_, line) = tk.next("nodes")?;
        return Err(tk.err(
            line,
            "curved mesh ('nodes' section) is not supported: give the vertices of a \
             straight-sided mesh",
        ));
    }
    let (sdim, line) = tk.count("the space dimension")?;
    if sdim < dim || sdim > 3 {
        return Err(tk.err(
            line,
            format!("space dimension {sdim} does not fit a {dim}D mesh"),
        ));
    }
    let mut coords = Vec::with_capacity(nv.min(tk.remaining() / sdim.max(1)));
    for _ in 0..nv {
        let mut x = [0.0; 3];
        for (a, slot) in x.iter_mut().enumerate().take(sdim) {
            let (v, line) = tk.float("a vertex coordinate")?;
            if a >= dim && v != 0.0 {
                return Err(tk.err(
                    line,
                    format!("a {dim}D mesh with nonzero coordinate {a} (a surface mesh) is not supported"),
                ));
            }
            *slot = v;
        }
        coords.push(x);
    }

    // Drop vertices no element uses, keeping the order of the rest (as MFEM does).
    let mut new_id = vec![u32::MAX; nv];
    let mut elements = Vec::with_capacity(raw_elements.len());
    let mut lines = Vec::with_capacity(raw_elements.len());
    for (v, _, line) in &raw_elements {
        for &id in v.iter().take(nc) {
            let ok = usize::try_from(id).ok().filter(|&i| i < nv);
            let Some(i) = ok else {
                return Err(tk.err(
                    *line,
                    format!(
                        "element vertex index {id} is out of range (the file has {nv} vertices)"
                    ),
                ));
            };
            new_id[i] = 0;
        }
    }
    let mut vertices = Vec::new();
    for (i, slot) in new_id.iter_mut().enumerate() {
        if *slot == 0 {
            *slot = u32::try_from(vertices.len()).map_err(|_| tk.err(1, "too many vertices"))?;
            vertices.push(coords[i]);
        }
    }
    for (v, attr, line) in &raw_elements {
        let mut ids = [0u32; 8];
        for (slot, &id) in ids.iter_mut().zip(v.iter()).take(nc) {
            // checked above: 0 <= id < nv and marked as used
            *slot = new_id[id as usize];
        }
        elements.push((ids, *attr));
        lines.push(*line);
    }
    let mut boundary = Vec::new();
    for (v, attr, line) in raw_boundary {
        let mut ids = Vec::with_capacity(v.len());
        for id in v {
            let Some(&n) = usize::try_from(id).ok().and_then(|i| new_id.get(i)) else {
                return Err(tk.err(
                    line,
                    format!(
                        "boundary vertex index {id} is out of range (the file has {nv} vertices)"
                    ),
                ));
            };
            ids.push(n);
        }
        // Boundary sides only carry attributes; one naming a vertex no element uses matches
        // no element side and is dropped.
        if ids.iter().all(|&n| n != u32::MAX) {
            ids.sort_unstable();
            boundary.push((ids, attr));
        }
    }
    let mesh = RootMesh {
        dim,
        vertices,
        elements,
        boundary,
    };
    check_elements(&mesh, tk.file, &lines)?;
    Ok(mesh)
}

fn check_elements(mesh: &RootMesh, file: &str, lines: &[usize]) -> Result<(), MeshError> {
    let nc = num_corners(mesh.dim);
    for (k, (ids, _)) in mesh.elements.iter().enumerate() {
        let mut corners = [[0.0; 3]; 8];
        for (c, &id) in corners.iter_mut().zip(ids.iter()).take(nc) {
            *c = mesh.vertices[id as usize];
        }
        if !geometry::has_positive_volume(mesh.dim, &corners) {
            return Err(MeshError::parse(
                file,
                lines.get(k).copied().unwrap_or(1),
                format!(
                    "element {k} is degenerate or inverted (zero or negative volume somewhere: \
                     a repeated corner, a fold, or corners out of MFEM's reference order)"
                ),
            ));
        }
    }
    Ok(())
}

/// The most elements an INLINE start mesh may have: some 200 MB of mesh structures in 3D from
/// a hundred bytes of text. A start mesh is coarse; refinement makes the fine ones.
const MAX_INLINE_ELEMENTS: usize = 1 << 18;

fn parse_inline(file: &str, lines: &[(usize, &str)]) -> Result<RootMesh, MeshError> {
    // `key = value` with or without blanks around '='.
    let spaced: Vec<(usize, String)> = lines
        .iter()
        .map(|&(no, l)| (no, l.split('#').next().unwrap_or("").replace('=', " = ")))
        .collect();
    let borrowed: Vec<(usize, &str)> = spaced.iter().map(|(no, l)| (*no, l.as_str())).collect();
    let mut tk = Tokens::new(file, &borrowed);
    let mut kind: Option<(&str, usize)> = None;
    let mut n: [Option<(i64, usize)>; 3] = [None; 3];
    let mut s: [Option<(f64, usize)>; 3] = [None; 3];
    // The port's addition: the box's lower corner (MFEM's INLINE meshes start at 0, but INRs
    // usually live on [−1, 1]^d).
    let mut origin = [0.0f64; 3];
    while tk.peek().is_some() {
        let (key, kline) = tk.next("a key")?;
        let (eq, eline) = tk.next(&format!("'=' after '{key}'"))?;
        if eq != "=" {
            return Err(tk.err(eline, format!("expected '=' after '{key}', found '{eq}'")));
        }
        match key {
            "type" => kind = Some((tk.next("the element type")?.0, kline)),
            "nx" | "ny" | "nz" => {
                let a = usize::from(key.as_bytes()[1] - b'x');
                let (v, line) = tk.int(key)?;
                if v <= 0 {
                    return Err(
                        tk.err(line, format!("{key} must be a positive integer, found {v}"))
                    );
                }
                n[a] = Some((v, line));
            }
            "sx" | "sy" | "sz" => {
                let a = usize::from(key.as_bytes()[1] - b'x');
                let (v, line) = tk.float(key)?;
                if v <= 0.0 {
                    return Err(tk.err(line, format!("{key} must be a positive length, found {v}")));
                }
                s[a] = Some((v, line));
            }
            "x0" | "y0" | "z0" => {
                let a = usize::from(key.as_bytes()[0] - b'x');
                let (v, line) = tk.float(key)?;
                if !(v.is_finite() && v.abs() <= 1e300) {
                    return Err(tk.err(line, format!("{key} must be a finite number, found {v}")));
                }
                origin[a] = v;
            }
            other => return Err(tk.err(kline, format!("unknown INLINE mesh key '{other}'"))),
        }
    }
    let Some((kind, kline)) = kind else {
        return Err(tk.err(tk.last_line, "INLINE mesh without 'type'"));
    };
    let dim = match kind {
        "quad" => 2,
        "hex" => 3,
        other => {
            return Err(tk.err(
                kline,
                format!("INLINE mesh type '{other}' is not supported (only quad and hex)"),
            ));
        }
    };
    let mut counts = [1usize; 3];
    let mut sizes = [0.0f64; 3];
    for a in 0..dim {
        let name = ["x", "y", "z"][a];
        let Some((nv, line)) = n[a] else {
            return Err(tk.err(
                tk.last_line,
                format!("INLINE {kind} mesh without 'n{name}'"),
            ));
        };
        let Some((sv, sline)) = s[a] else {
            return Err(tk.err(
                tk.last_line,
                format!("INLINE {kind} mesh without 's{name}'"),
            ));
        };
        counts[a] = usize::try_from(nv)
            .ok()
            .filter(|&c| c <= 1 << 16)
            .ok_or_else(|| tk.err(line, format!("n{name} = {nv} is too large")))?;
        // Vertices sit at x0 + i·s/n: both the far side and one cell must be ordinary floats,
        // and a cell must not vanish next to the origin's magnitude.
        let n = counts[a] as f64;
        let far = origin[a] + sv;
        if !((sv * n).is_finite() && (sv / n).is_normal() && far.is_finite())
            || sv / n <= origin[a].abs() * 1e-12
        {
            return Err(tk.err(
                sline,
                format!("s{name} = {sv} with n{name} = {nv} puts vertices beyond what floats hold"),
            ));
        }
        sizes[a] = sv;
    }
    // A start mesh is coarse (refinement adds the elements); a few bytes of INLINE text must
    // not ask for gigabytes.
    let elements = counts.iter().product::<usize>();
    if elements > MAX_INLINE_ELEMENTS {
        return Err(tk.err(
            tk.last_line,
            format!(
                "INLINE mesh has too many elements for a start mesh ({elements} > \
                 {MAX_INLINE_ELEMENTS}); start coarser and let refinement add elements"
            ),
        ));
    }
    let mesh = build_box(dim, counts, sizes, origin);
    // Cells of ordinary sizes can still have a volume below what floats hold (2^-600 per side
    // in 3D).
    check_elements(&mesh, file, &[])?;
    Ok(mesh)
}

/// The tensor grid of an INLINE mesh: vertex (i, j, k) at (x0 + i·sx/nx, y0 + j·sy/ny,
/// z0 + k·sz/nz).
fn build_box(dim: usize, n: [usize; 3], s: [f64; 3], origin: [f64; 3]) -> RootMesh {
    let pz = if dim == 3 { n[2] + 1 } else { 1 };
    let (px, py) = (n[0] + 1, n[1] + 1);
    let id = |i: usize, j: usize, k: usize| (i + px * (j + py * k)) as u32;
    let coord = |i: usize, a: usize| origin[a] + i as f64 * s[a] / n[a] as f64;
    let mut vertices = Vec::with_capacity(px * py * pz);
    for k in 0..pz {
        for j in 0..py {
            for i in 0..px {
                let z = if dim == 3 { coord(k, 2) } else { 0.0 };
                vertices.push([coord(i, 0), coord(j, 1), z]);
            }
        }
    }
    let nz = if dim == 3 { n[2] } else { 1 };
    let nc = num_corners(dim);
    let mut elements = Vec::with_capacity(n[0] * n[1] * nz);
    let mut boundary = Vec::new();
    for k in 0..nz {
        for j in 0..n[1] {
            for i in 0..n[0] {
                let mut ids = [0u32; 8];
                for (c, corner) in super::reference::CORNERS.iter().enumerate().take(nc) {
                    ids[c] = id(
                        i + usize::from(corner[0]),
                        j + usize::from(corner[1]),
                        k + usize::from(corner[2]),
                    );
                }
                elements.push((ids, 1));
                // MFEM's INLINE boundary attributes: quad bottom 1, right 2, top 3, left 4;
                // hex bottom 1, front 2, right 3, back 4, left 5, top 6 (its side order).
                let on_side: Vec<bool> = if dim == 2 {
                    vec![j == 0, i + 1 == n[0], j + 1 == n[1], i == 0]
                } else {
                    vec![
                        k == 0,
                        j == 0,
                        i + 1 == n[0],
                        j + 1 == n[1],
                        i == 0,
                        k + 1 == n[2],
                    ]
                };
                for (side, corners) in sides(dim).iter().enumerate() {
                    if on_side[side] {
                        let mut key: Vec<u32> = corners.iter().map(|&c| ids[c]).collect();
                        key.sort_unstable();
                        boundary.push((key, side as i32 + 1));
                    }
                }
            }
        }
    }
    RootMesh {
        dim,
        vertices,
        elements,
        boundary,
    }
}
