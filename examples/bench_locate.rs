//! Benchmark of the mesh: refinement, hanging-vertex constraints, point location and
//! interpolation. 2D: 4×4 start, 6 uniform refinements (65,536 elements), 262,144 random
//! points; 3D: 2×2×10 start, 3 uniform refinements (20,480 elements), 2,097,152 points; then
//! a nonconforming 2D mesh. Run: `cargo run --release --example bench_locate [threads]`.

use std::time::Instant;

use pruningamr::mesh::Mesh;

fn points(mesh: &Mesh, n: usize, mut state: u64) -> Vec<[f64; 3]> {
    let (lo, hi) = mesh.bounding_box();
    let mut unit = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let mut x = [0.0; 3];
            for a in 0..mesh.dim() {
                x[a] = lo[a] + (hi[a] - lo[a]) * unit();
            }
            x
        })
        .collect()
}

fn bench(label: &str, start: &str, uniform: usize, npoints: usize) {
    let mut mesh = Mesh::parse(start, label).expect("start mesh");
    let t = Instant::now();
    for _ in 0..uniform {
        mesh.refine_uniformly();
    }
    let t_refine = t.elapsed().as_secs_f64();
    run(label, &mesh, npoints, t_refine);
    println!(
        "  memory: resident {:.1} MB, Mesh::estimated_bytes {:.1} MB",
        rss_bytes() as f64 / 1e6,
        Mesh::estimated_bytes(mesh.dim(), mesh.num_elements()) as f64 / 1e6
    );
}

/// Resident set size from /proc (0 elsewhere).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn run(label: &str, mesh: &Mesh, npoints: usize, t_refine: f64) {
    let pts = points(mesh, npoints, 42);
    let values: Vec<f64> = mesh.vertices().iter().map(|x| x[0] * x[1] + x[2]).collect();
    let t = Instant::now();
    let hits = mesh.locate(&pts);
    let t_locate = t.elapsed().as_secs_f64();
    let found = hits.iter().filter(|h| h.is_some()).count();
    let mut out = vec![0.0; pts.len()];
    let t = Instant::now();
    let outside = mesh
        .interpolate(&values, 1, &pts, &mut out)
        .expect("interpolate");
    let t_interp = t.elapsed().as_secs_f64();
    println!(
        "{label}: {} elements, {} vertices ({} hanging); refine {:.4} s; locate {} points {:.4} s \
         ({:.0} ns/point, {found} found); interpolate {:.4} s ({outside} outside)",
        mesh.num_elements(),
        mesh.num_vertices(),
        mesh.num_hanging(),
        t_refine,
        npoints,
        t_locate,
        1e9 * t_locate / npoints as f64,
        t_interp,
    );
}

fn main() {
    if let Some(n) = std::env::args().nth(1).and_then(|s| s.parse().ok()) {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .expect("thread pool");
    }
    println!("rayon threads: {}", rayon::current_num_threads());
    let quads = "MFEM INLINE mesh v1.0\ntype = quad\nnx = 4\nny = 4\nsx = 1.0\nsy = 1.0\n";
    bench("2D uniform", quads, 6, 262_144);
    let hexes =
        "MFEM INLINE mesh v1.0\ntype = hex\nnx = 2\nny = 2\nnz = 10\nsx = 4\nsy = 4\nsz = 20\n";
    bench("3D uniform", hexes, 3, 2_097_152);
    if std::env::args().any(|a| a == "--big") {
        bench("2D uniform big", quads, 9, 1 << 20);
        bench("3D uniform big", hexes, 5, 1 << 20);
    }

    // nonconforming: refine around a point 14 times (deep, with coarse neighbours)
    let mut mesh = Mesh::parse(quads, "nc").expect("start mesh");
    let t = Instant::now();
    for _ in 0..3 {
        mesh.refine_uniformly();
    }
    for it in 0..14 {
        let r = 0.5 * 0.5f64.powi(it);
        let marks: Vec<bool> = (0..mesh.num_elements())
            .map(|e| {
                let c = mesh.element_center(e);
                ((c[0] - 0.3).powi(2) + (c[1] - 0.6).powi(2)).sqrt() < r
            })
            .collect();
        mesh.refine(&marks).expect("refine");
    }
    let t_refine = t.elapsed().as_secs_f64();
    run("2D nonconforming", &mesh, 262_144, t_refine);
}
