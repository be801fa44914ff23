//! The start-mesh readers: what they accept (CRLF, comments, INLINE spacing, unused vertices)
//! and that every bad input is an error naming the file and line.

mod common;

use pruningamr::mesh::{Mesh, MeshError};

const TWO_QUADS: &str = "MFEM mesh v1.0

# two quads side by side, vertex 6 unused
dimension
2

elements
2
1 3 0 1 4 3
2 3 1 2 5 4

boundary
1
1 1 0 1

vertices
7
2
0 0
1 0
2 0
0 1
1 1
2 1
9 9
";

fn error_text(text: &str) -> String {
    match Mesh::parse(text, "bad.mesh") {
        Ok(_) => panic!("accepted bad mesh:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn assert_error(text: &str, line: usize, needle: &str) {
    let msg = error_text(text);
    let prefix = format!("bad.mesh:{line}: ");
    assert!(
        msg.starts_with(&prefix),
        "expected '{prefix}…', got '{msg}'"
    );
    assert!(msg.contains(needle), "expected '{needle}' in '{msg}'");
}

#[test]
fn reads_v10_with_crlf_and_comments_and_drops_unused_vertices() {
    let crlf = TWO_QUADS.replace('\n', "\r\n");
    let mesh = Mesh::parse(&crlf, "two.mesh").unwrap();
    assert_eq!(mesh.dim(), 2);
    assert_eq!(mesh.num_elements(), 2);
    assert_eq!(mesh.num_vertices(), 6);
    assert_eq!(mesh.element_vertices(1), &[1, 2, 5, 4]);
    assert_eq!(mesh.element_attribute(1), 2);
    assert_eq!(mesh.bounding_box(), ([0.0, 0.0, 0.0], [2.0, 1.0, 0.0]));
    assert_eq!(mesh.num_hanging(), 0);
}

#[test]
fn unused_vertices_are_renumbered_in_file_order() {
    let text = "MFEM mesh v1.0\ndimension\n2\nelements\n2\n1 3 1 2 5 4\n1 3 2 6 7 5\nboundary\n1\n\
                1 1 1 2\nvertices\n8\n2\n9 9\n0 0\n1 0\n5 5\n0 1\n1 1\n2 0\n2 1\n";
    // used: 1 2 4 5 6 7 -> 0..6 in file order; 0 and 3 dropped
    let mesh = Mesh::parse(text, "renum.mesh").unwrap();
    assert_eq!(mesh.num_vertices(), 6);
    assert_eq!(mesh.vertices()[0], [0.0, 0.0, 0.0]);
    assert_eq!(mesh.vertices()[5], [2.0, 1.0, 0.0]);
    assert_eq!(mesh.element_vertices(0), &[0, 1, 3, 2]);
    assert_eq!(mesh.element_vertices(1), &[1, 4, 5, 3]);
}

#[test]
fn reads_inline_quad_and_hex_with_any_spacing() {
    let quad = "MFEM INLINE mesh v1.0\n# c\ntype = quad\nnx=4\nny =2\nsx= 2.0\nsy = 1.0\n";
    let mesh = Mesh::parse(quad, "q").unwrap();
    assert_eq!(
        (mesh.dim(), mesh.num_elements(), mesh.num_vertices()),
        (2, 8, 15)
    );
    assert_eq!(mesh.bounding_box().1, [2.0, 1.0, 0.0]);
    assert_eq!(mesh.element_bbox(5), ([0.5, 0.5, 0.0], [1.0, 1.0, 0.0]));
    let hex = "MFEM INLINE mesh v1.0\r\ntype = hex\r\nnx = 2\r\nny = 2\r\nnz = 3\r\nsx = 1\r\nsy = 1\r\nsz = 3\r\n";
    let mesh = Mesh::parse(hex, "h").unwrap();
    assert_eq!(
        (mesh.dim(), mesh.num_elements(), mesh.num_vertices()),
        (3, 12, 36)
    );
}

#[test]
#[ignore = "needs PRUNINGAMR_REFERENCE"]
fn reads_every_reference_start_mesh() {
    let root = common::reference_dir();
    let dir = std::path::Path::new(&root).join("meshes");
    let expect = [
        ("rectangle.mesh", 2, 16, 25),
        ("PINN.mesh", 2, 16, 25),
        ("box-hex.mesh", 3, 1, 8),
        ("NS_PINN.mesh", 3, 1, 8),
        ("NS_PINN_2x2x10_z0_20.mesh", 3, 40, 99),
    ];
    for (name, dim, ne, nv) in expect {
        let mesh = Mesh::read(&dir.join(name)).unwrap();
        assert_eq!(
            (mesh.dim(), mesh.num_elements(), mesh.num_vertices()),
            (dim, ne, nv),
            "{name}"
        );
    }
    let ns = Mesh::read(&dir.join("NS_PINN_2x2x10_z0_20.mesh")).unwrap();
    assert_eq!(ns.bounding_box(), ([1.0, -2.0, 0.0], [5.0, 2.0, 20.0]));
}

#[test]
fn missing_file_names_the_file() {
    let err = Mesh::read(std::path::Path::new("/nonexistent/start.mesh")).unwrap_err();
    assert!(matches!(err, MeshError::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/start.mesh"), "{err}");
}

#[test]
fn bad_inputs_are_errors_with_file_and_line() {
    // other geometry (triangle) on line 9
    assert_error(
        &TWO_QUADS.replace("1 3 0 1 4 3", "1 2 0 1 4"),
        9,
        "geometry 2 (triangle)",
    );
    // hex in a 2D mesh
    assert_error(
        &TWO_QUADS.replace("2 3 1 2 5 4", "2 5 1 2 5 4 0 0 0 0"),
        10,
        "hexahedron",
    );
    // vertex index out of range, reported at the element's line
    assert_error(
        &TWO_QUADS.replace("2 3 1 2 5 4", "2 3 1 2 5 40"),
        10,
        "index 40 is out of range",
    );
    assert_error(
        &TWO_QUADS.replace("2 3 1 2 5 4", "2 3 1 2 5 -1"),
        10,
        "index -1 is out of range",
    );
    assert_error(
        &TWO_QUADS.replace("1 1 0 1\n", "1 1 0 7\n"),
        14,
        "boundary vertex index 7",
    );
    // non-numeric token
    assert_error(&TWO_QUADS.replace("2 1\n9 9", "2 x\n9 9"), 24, "found 'x'");
    assert_error(
        &TWO_QUADS.replace("1 3 0 1 4 3", "1 3 0 one 4 3"),
        9,
        "found 'one'",
    );
    // truncated file: end reported at the last line
    let cut = &TWO_QUADS[..TWO_QUADS.find("2 0\n").unwrap()];
    let last = cut.lines().count();
    assert_error(cut, last, "unexpected end of file");
    // curved mesh
    let curved = TWO_QUADS[..TWO_QUADS.find("vertices").unwrap()].to_string()
        + "vertices\n7\n\nnodes\nFiniteElementSpace\n";
    assert_error(&curved, 19, "curved mesh");
    // degenerate (clockwise) element
    assert_error(
        &TWO_QUADS.replace("2 3 1 2 5 4", "2 3 1 4 5 2"),
        10,
        "degenerate or inverted",
    );
    // zero-volume element (a repeated vertex)
    assert_error(
        &TWO_QUADS.replace("2 3 1 2 5 4", "2 3 1 2 2 4"),
        10,
        "degenerate",
    );
    // dimension and header
    assert_error(
        &TWO_QUADS.replace("dimension\n2", "dimension\n1"),
        5,
        "dimension 1 is not supported",
    );
    assert_error("MFEM NC mesh v1.0\n", 1, "not supported as a start mesh");
    assert_error("hello\n", 1, "not an MFEM mesh");
    assert_error(
        &TWO_QUADS.replace("boundary", "bundary"),
        12,
        "expected section 'boundary'",
    );
    // non-finite coordinate
    assert_error(
        &TWO_QUADS.replace("2 1\n9 9", "2 nan\n9 9"),
        24,
        "not finite",
    );
}

#[test]
fn bad_inline_meshes_are_errors() {
    let base = "MFEM INLINE mesh v1.0\ntype = quad\nnx = 4\nny = 4\nsx = 1.0\nsy = 1.0\n";
    assert_error(
        &base.replace("nx = 4", "nx = 0"),
        3,
        "nx must be a positive integer",
    );
    assert_error(
        &base.replace("ny = 4", "ny = -2"),
        4,
        "ny must be a positive integer",
    );
    assert_error(
        &base.replace("sx = 1.0", "sx = 0"),
        5,
        "sx must be a positive length",
    );
    assert_error(
        &base.replace("sy = 1.0", "sy = -1"),
        6,
        "sy must be a positive length",
    );
    assert_error(&base.replace("sy = 1.0", "sy = abc"), 6, "found 'abc'");
    assert_error(
        &base.replace("quad", "tri"),
        2,
        "type 'tri' is not supported",
    );
    assert_error(&base.replace("nx = 4\n", ""), 5, "without 'nx'");
    assert_error(&base.replace("nx = 4", "nx 4"), 3, "expected '='");
    assert_error(
        &base.replace("nx = 4", "mx = 4"),
        3,
        "unknown INLINE mesh key 'mx'",
    );
    let hex = base.replace("quad", "hex") + "nz = 2\n";
    assert_error(&hex, 7, "without 'sz'");
}
