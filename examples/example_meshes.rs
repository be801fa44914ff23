//! Writes the start meshes of `meshes/examples/` (shipped; rerun to rebuild them):
//!
//! - `l_shape.mesh`: the L [0,1]² minus (½,1]², 12 quads, interior vertices drawn a quarter of
//!   the way toward the re-entrant corner (½, ½), so the elements there are trapezoids;
//! - `square_hole.mesh`: [0,1]² minus the square hole with corners (½, 0.3), (0.7, ½),
//!   (½, 0.7), (0.3, ½) (turned 45°), 32 straight-sided skewed quads;
//! - `skewed_hex.mesh`: the unit cube sheared by x ← x + 0.2 z, 2×2×2 hexes whose shared
//!   centre vertex is moved off the middle, so no hex is a box or a parallelepiped.
//!
//! `cargo run --release --example example_meshes [-- OUTPUT_DIR]`

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Vertices merged by position, elements as vertex lists (MFEM corner order).
#[derive(Default)]
struct Builder {
    vertices: Vec<[f64; 3]>,
    index: HashMap<[i64; 3], usize>,
    elements: Vec<Vec<usize>>,
}

impl Builder {
    fn vertex(&mut self, p: [f64; 3]) -> usize {
        // Positions are sums of a few binary fractions and 0.1-multiples: rounding to 1e-9
        // merges the copies of a vertex that neighbouring elements compute.
        let key = p.map(|x| (x * 1e9).round() as i64);
        *self.index.entry(key).or_insert_with(|| {
            self.vertices.push(p);
            self.vertices.len() - 1
        })
    }

    /// The quad with corners `c` (counter-clockwise) split into k × k quads through its
    /// bilinear map.
    fn quad(&mut self, c: [[f64; 2]; 4], k: usize) {
        let at = |u: f64, v: f64| {
            let w = [(1.0 - u) * (1.0 - v), u * (1.0 - v), u * v, (1.0 - u) * v];
            let x: f64 = (0..4).map(|i| w[i] * c[i][0]).sum();
            let y: f64 = (0..4).map(|i| w[i] * c[i][1]).sum();
            [x, y, 0.0]
        };
        let t = |i: usize| i as f64 / k as f64;
        for j in 0..k {
            for i in 0..k {
                let ids = [
                    self.vertex(at(t(i), t(j))),
                    self.vertex(at(t(i + 1), t(j))),
                    self.vertex(at(t(i + 1), t(j + 1))),
                    self.vertex(at(t(i), t(j + 1))),
                ];
                self.elements.push(ids.to_vec());
            }
        }
    }

    /// MFEM mesh v1.0 text with the boundary sides (those of one element only), attribute 1.
    fn mfem(&self, dim: usize) -> Result<String, std::fmt::Error> {
        let sides: &[&[usize]] = if dim == 2 {
            &[&[0, 1], &[1, 2], &[2, 3], &[3, 0]]
        } else {
            &[
                &[3, 2, 1, 0],
                &[0, 1, 5, 4],
                &[1, 2, 6, 5],
                &[2, 3, 7, 6],
                &[3, 0, 4, 7],
                &[4, 5, 6, 7],
            ]
        };
        let mut count: HashMap<Vec<usize>, usize> = HashMap::new();
        for e in &self.elements {
            for s in sides {
                let mut key: Vec<usize> = s.iter().map(|&c| e[c]).collect();
                key.sort_unstable();
                *count.entry(key).or_insert(0) += 1;
            }
        }
        let mut boundary = Vec::new();
        for e in &self.elements {
            for s in sides {
                let side: Vec<usize> = s.iter().map(|&c| e[c]).collect();
                let mut key = side.clone();
                key.sort_unstable();
                if count[&key] == 1 {
                    boundary.push(side);
                }
            }
        }
        let (geom, side_geom) = if dim == 2 { (3, 1) } else { (5, 3) };
        let mut s = String::new();
        write!(
            s,
            "MFEM mesh v1.0\n\ndimension\n{dim}\n\nelements\n{}\n",
            self.elements.len()
        )?;
        for e in &self.elements {
            write!(s, "1 {geom}")?;
            for v in e {
                write!(s, " {v}")?;
            }
            s.push('\n');
        }
        write!(s, "\nboundary\n{}\n", boundary.len())?;
        for b in &boundary {
            write!(s, "1 {side_geom}")?;
            for v in b {
                write!(s, " {v}")?;
            }
            s.push('\n');
        }
        write!(s, "\nvertices\n{}\n{dim}\n", self.vertices.len())?;
        for p in &self.vertices {
            let coords: Vec<String> = p[..dim].iter().map(|x| format!("{x}")).collect();
            writeln!(s, "{}", coords.join(" "))?;
        }
        Ok(s)
    }
}

fn l_shape() -> Builder {
    let mut b = Builder::default();
    let corner = [0.5, 0.5];
    // On the boundary of the L: x or y at 0 or 1, or on the two edges of the re-entrant corner.
    let on_boundary = |x: f64, y: f64| {
        x == 0.0
            || y == 0.0
            || x == 1.0
            || y == 1.0
            || (x == 0.5 && y >= 0.5)
            || (y == 0.5 && x >= 0.5)
    };
    let moved = |x: f64, y: f64| {
        if on_boundary(x, y) {
            [x, y]
        } else {
            [
                corner[0] + 0.75 * (x - corner[0]),
                corner[1] + 0.75 * (y - corner[1]),
            ]
        }
    };
    for j in 0..4 {
        for i in 0..4 {
            if i >= 2 && j >= 2 {
                continue;
            }
            let (x0, y0, x1, y1) = (
                i as f64 / 4.0,
                j as f64 / 4.0,
                (i + 1) as f64 / 4.0,
                (j + 1) as f64 / 4.0,
            );
            b.quad(
                [moved(x0, y0), moved(x1, y0), moved(x1, y1), moved(x0, y1)],
                1,
            );
        }
    }
    b
}

fn square_hole() -> Builder {
    let mut b = Builder::default();
    // Outer square and inner (turned) square, 8 points each, counter-clockwise from the
    // bottom; outer corners face the inner square's edge midpoints.
    let outer = [
        [0.5, 0.0],
        [1.0, 0.0],
        [1.0, 0.5],
        [1.0, 1.0],
        [0.5, 1.0],
        [0.0, 1.0],
        [0.0, 0.5],
        [0.0, 0.0],
    ];
    let inner = [
        [0.5, 0.3],
        [0.6, 0.4],
        [0.7, 0.5],
        [0.6, 0.6],
        [0.5, 0.7],
        [0.4, 0.6],
        [0.3, 0.5],
        [0.4, 0.4],
    ];
    for i in 0..8 {
        let n = (i + 1) % 8;
        b.quad([outer[i], outer[n], inner[n], inner[i]], 2);
    }
    b
}

fn skewed_hex() -> Builder {
    let mut b = Builder::default();
    let point = |i: usize, j: usize, k: usize| {
        let (mut x, mut y, mut z) = (i as f64 / 2.0, j as f64 / 2.0, k as f64 / 2.0);
        if (i, j, k) == (1, 1, 1) {
            (x, y, z) = (0.6, 0.45, 0.55);
        }
        [x + 0.2 * z, y, z]
    };
    for k in 0..2 {
        for j in 0..2 {
            for i in 0..2 {
                let corners = [
                    point(i, j, k),
                    point(i + 1, j, k),
                    point(i + 1, j + 1, k),
                    point(i, j + 1, k),
                    point(i, j, k + 1),
                    point(i + 1, j, k + 1),
                    point(i + 1, j + 1, k + 1),
                    point(i, j + 1, k + 1),
                ];
                let ids = corners.map(|p| b.vertex(p));
                b.elements.push(ids.to_vec());
            }
        }
    }
    b
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("meshes/examples"));
    std::fs::create_dir_all(&dir)?;
    for (name, mesh, dim) in [
        ("l_shape.mesh", l_shape(), 2),
        ("square_hole.mesh", square_hole(), 2),
        ("skewed_hex.mesh", skewed_hex(), 3),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, mesh.mfem(dim)?)?;
        // Read back with the port's reader: every shipped mesh must load.
        let m = pruningamr::mesh::Mesh::read(&path)?;
        println!(
            "{}: {} elements, {} vertices",
            path.display(),
            m.num_elements(),
            m.num_vertices()
        );
    }
    Ok(())
}
