//! Meshes and mesh helpers shared by the mesh tests.

use pruningamr::mesh::{Mesh, Split};

/// Small deterministic generator for marks and points (SplitMix64).
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `rounds` refinements, each marking every element with probability `p`.
pub fn refine_randomly(mesh: &mut Mesh, rounds: usize, p: f64, seed: u64) {
    let mut rng = Rng(seed);
    for _ in 0..rounds {
        let marks: Vec<bool> = (0..mesh.num_elements()).map(|_| rng.unit() < p).collect();
        mesh.refine(&marks).unwrap();
    }
}

/// `rounds` refinements, each splitting every element with probability `p` along a random
/// non-empty set of its axes (anisotropic mostly).
pub fn refine_randomly_anisotropic(mesh: &mut Mesh, rounds: usize, p: f64, seed: u64) {
    let mut rng = Rng(seed);
    let masks = (1u8 << mesh.dim()) - 1;
    for _ in 0..rounds {
        let splits: Vec<Split> = (0..mesh.num_elements())
            .map(|_| {
                let mask = if rng.unit() < p {
                    1 + (rng.next() % u64::from(masks)) as u8
                } else {
                    0
                };
                Split::axes(mesh.dim(), mask).unwrap()
            })
            .collect();
        mesh.refine_split(&splits).unwrap();
    }
}

/// Two straight-sided, non-parallelogram quads (Newton inversion needed).
pub const SKEWED_QUADS: &str = "MFEM mesh v1.0
dimension
2
elements
4
1 3 0 1 4 3
1 3 1 2 5 4
1 3 3 4 7 6
1 3 4 5 8 7
boundary
0
vertices
9
2
0 0
1 0.1
2 0
0 1
1.3 0.8
2.1 1.2
0 2
0.9 2.2
2 2
";

/// Two straight-sided, skewed hexes.
pub const SKEWED_HEXES: &str = "MFEM mesh v1.0
dimension
3
elements
2
1 5 0 1 4 3 6 7 10 9
1 5 1 2 5 4 7 8 11 10
boundary
0
vertices
12
3
0 0 0
1.2 0.1 0.1
2 0 0
0 1 0
0.9 1.1 -0.1
2 1 0
0 0 1
1.1 -0.1 1.2
2 0 1
0 1 1
1.0 0.9 1.1
2 1.1 1.3
";
