//! The fuzz targets' work on stable Rust, so `cargo test` keeps covering it: thousands of
//! seeded mutations (byte flips, truncations, insertions, token swaps) of valid meshes and
//! network files must each end in Ok or Err naming the file, never a panic. The seeds are the
//! fuzzers' own (`fuzz/seeds/`: meshes, checkpoints, ONNX graphs, safetensors files), which
//! must load as they are; inputs the fuzzers found are
//! kept below as regressions. `PRUNINGAMR_FUZZ_ROUNDS=N` runs N mutations per seed.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

#[path = "../fuzz/harness/checkpoint_input.rs"]
mod checkpoint_input;
#[path = "../fuzz/harness/graph_input.rs"]
mod graph_input;

use checkpoint_input::{Loaded, exercise_network, load, zip_of};
use pruningamr::mesh::Mesh;

/// xorshift64*: the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn rounds(default: usize) -> usize {
    std::env::var("PRUNINGAMR_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p: PathBuf| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// One to four byte-level edits, as libFuzzer's simplest mutators make.
fn mutate_bytes(rng: &mut Rng, data: &[u8], interesting: &[&[u8]]) -> Vec<u8> {
    let mut d = data.to_vec();
    for _ in 0..1 + rng.below(4) {
        let i = rng.below(d.len() + 1);
        match rng.below(7) {
            0 if i < d.len() => d[i] ^= 1 << rng.below(8),
            1 if i < d.len() => d[i] = rng.next() as u8,
            2 if i < d.len() => {
                d.remove(i);
            }
            3 => d.insert(i, rng.next() as u8),
            4 => d.truncate(i),
            5 => {
                let pick = interesting[rng.below(interesting.len())];
                let end = (i + rng.below(8)).min(d.len());
                d.splice(i..end, pick.iter().copied());
            }
            _ => {
                // Copy a chunk of the input elsewhere (repeats sections, lines, opcodes).
                let a = rng.below(d.len());
                let b = (a + 1 + rng.below(32)).min(d.len());
                let chunk = d[a..b].to_vec();
                let at = rng.below(d.len() + 1);
                d.splice(at..at, chunk);
            }
        }
    }
    d
}

// ---------------------------------------------------------------------------------------
// Meshes.

const MESH_TOKENS: &[&[u8]] = &[
    b" -1 ",
    b" 0 ",
    b" 1 ",
    b" 3 ",
    b" 5 ",
    b" 8 ",
    b" 1e308 ",
    b" nan ",
    b" 4294967295 ",
    b" 99999999999999999999 ",
    b"\n",
    b"#",
    b" = ",
    b"dimension\n3\n",
    b"elements\n",
    b"vertices\n",
    b"boundary\n0\n",
    b"type = hex\n",
    b"nz = 3\n",
];

/// What the mesh fuzz target does with a parsed mesh: refine, constrain, locate.
fn exercise_mesh(mut mesh: Mesh) {
    if mesh.num_elements() > 64 {
        return;
    }
    mesh.refine_uniformly();
    let marks: Vec<bool> = (0..mesh.num_elements()).map(|e| e % 2 == 0).collect();
    mesh.refine(&marks).unwrap();
    // An element's centre (the multilinear map at the reference centre) lies in it, so point
    // location must find every centre.
    let centres: Vec<[f64; 3]> = (0..mesh.num_elements().min(64))
        .map(|e| mesh.element_center(e))
        .collect();
    let values: Vec<f64> = mesh.vertices().iter().map(|v| v[0] - v[1] + v[2]).collect();
    let constrained = mesh.constrain(&values, 1).unwrap();
    let mut out = vec![0.0; centres.len()];
    let outside = mesh
        .interpolate(&constrained, 1, &centres, &mut out)
        .unwrap();
    assert_eq!(outside, 0, "element centres not located");
    // The interpolant of a linear field is exact at the centres.
    for (c, v) in centres.iter().zip(&out) {
        let want = c[0] - c[1] + c[2];
        let scale = 1.0 + c[0].abs() + c[1].abs() + c[2].abs();
        assert!((v - want).abs() <= 1e-9 * scale, "{v} vs {want} at {c:?}");
    }
    let (lo, hi) = mesh.bounding_box();
    let mut out = vec![0.0; 2];
    mesh.interpolate(&constrained, 1, &[lo, hi], &mut out)
        .unwrap();
    assert!(!mesh.mfem_text().is_empty());
}

fn parse_mesh(bytes: &[u8]) -> Result<Mesh, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "fuzz.mesh: not UTF-8".to_string())?;
    Mesh::parse(text, "fuzz.mesh").map_err(|e| e.to_string())
}

#[test]
fn mesh_seeds_parse() {
    for (name, bytes) in seeds("mesh_reader") {
        let mesh = parse_mesh(&bytes).unwrap_or_else(|e| panic!("seed {name}: {e}"));
        exercise_mesh(mesh);
    }
}

#[test]
fn mutated_meshes_never_panic() {
    let mut rng = Rng(0x5eed_0f3e_5b01);
    let (mut ok, mut refused) = (0usize, 0usize);
    for (_, seed) in seeds("mesh_reader") {
        for _ in 0..rounds(5000) {
            let bytes = mutate_bytes(&mut rng, &seed, MESH_TOKENS);
            match parse_mesh(&bytes) {
                Ok(mesh) => {
                    ok += 1;
                    exercise_mesh(mesh);
                }
                Err(e) => {
                    refused += 1;
                    assert!(e.starts_with("fuzz.mesh"), "{e}");
                }
            }
        }
    }
    println!("meshes: {ok} parsed, {refused} refused");
    assert!(refused > 0 && ok > 0);
}

// ---------------------------------------------------------------------------------------
// Network files, through the same modes as the `checkpoint` fuzz target.

const PICKLE_TOKENS: &[&[u8]] = &[
    b"(",
    b".",
    b"R",
    b"b",
    b"t",
    b"Q",
    b"\x85",
    b"\x94",
    b"h\x00",
    b"J\xff\xff\xff\x7f",
    b"J\xff\xff\xff\xff",
    b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f",
    b"cos\nsystem\n",
    b"ctorch\nDoubleStorage\n",
    b"'shape': (99999999999, 0), ",
    b"'fortran_order': True, ",
    b"'descr': '>f8', ",
    b"'descr': '|O', ",
];

#[test]
fn checkpoint_seeds_load() {
    for (name, bytes) in seeds("checkpoint") {
        match load(&bytes) {
            Loaded::Network(f) => exercise_network(&f),
            Loaded::Pickle => {}
            Loaded::Refused(e) => panic!("seed {name}: {e}"),
        }
    }
}

#[test]
fn mutated_checkpoints_never_panic() {
    let mut rng = Rng(0x0c4e_c4b0_1e57);
    let (mut ok, mut refused) = (0usize, 0usize);
    for (_, seed) in seeds("checkpoint") {
        for _ in 0..rounds(3000) {
            // Keep the mode byte: each seed fuzzes the layer it was made for.
            let mut bytes = vec![seed[0]];
            bytes.extend(mutate_bytes(&mut rng, &seed[1..], PICKLE_TOKENS));
            match load(&bytes) {
                Loaded::Network(f) => {
                    ok += 1;
                    exercise_network(&f);
                }
                Loaded::Pickle => ok += 1,
                Loaded::Refused(e) => {
                    refused += 1;
                    assert!(e.starts_with("fuzz.ckpt: "), "{e}");
                }
            }
        }
    }
    println!("network files: {ok} loaded, {refused} refused");
    assert!(refused > ok, "most mutations must be refused");
}

#[test]
fn mutated_members_of_shipped_networks_never_panic() {
    // Each member of a shipped npz mutated in turn, the archive rebuilt around it.
    let mut rng = Rng(0x5a1f_0de5);
    for net in ["hos.npz", "NS_PINN.npz"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("checkpoints")
            .join(net);
        let bytes = std::fs::read(&path).unwrap();
        let mut a = zip::ZipArchive::new(Cursor::new(&bytes[..])).unwrap();
        let members: Vec<(String, Vec<u8>)> = (0..a.len())
            .map(|i| {
                let mut f = a.by_index(i).unwrap();
                let mut b = Vec::new();
                f.read_to_end(&mut b).unwrap();
                (f.name().unwrap().into_owned(), b)
            })
            .collect();
        for _ in 0..rounds(1000) {
            let k = rng.below(members.len());
            let changed = mutate_bytes(&mut rng, &members[k].1, PICKLE_TOKENS);
            let list: Vec<(&str, &[u8])> = members
                .iter()
                .enumerate()
                .map(|(i, (n, b))| (n.as_str(), if i == k { &changed[..] } else { &b[..] }))
                .collect();
            match pruningamr::network::read(&zip_of(&list), Path::new("fuzz.npz")).map(|l| l.file) {
                Ok(f) => exercise_network(&f),
                Err(e) => assert!(e.to_string().starts_with("fuzz.npz: "), "{e}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Inputs the fuzzers found (fuzz/README.md has the runs).

#[test]
fn npy_header_longer_than_the_file_is_refused_before_it_is_allocated() {
    // checkpoint (mode 2, weight_0.npy), out of memory: a 44-byte version-2 .npy whose
    // header declares 0xd8830076 bytes; npyz allocated all 3.6 GB before reading them.
    let found: &[u8] =
        b"\x93NUMPY\x02\x00\x76\x00\x83\xd8descr': '<f2 _ '', \n\x00<\x00@\x00B\x00D\x00E\x00F";
    let err = pruningamr::network::npy::parse_npy(found).unwrap_err();
    assert!(
        err.contains("truncated header") && err.contains("3632463990"),
        "{err}"
    );
    // Through the harness as found: an error naming the file, no allocation.
    let mut input = vec![2u8];
    input.extend_from_slice(found);
    assert!(matches!(load(&input), Loaded::Refused(m) if m.contains("truncated header")));
    // A version-1 header (2-byte length) that fits still parses.
    let ok = pruningamr::network::npy::write_npy_f32(&[2], &[1.0, 2.0]);
    assert!(pruningamr::network::npy::parse_npy(&ok).is_ok());
}

#[test]
fn flat_inline_grid_is_located_without_a_cubic_point_grid() {
    // mesh_reader, out of memory: 8 × 9 × 6328 thin hexes each sat in ~200 cells of the
    // cubic point-location grid (1.2 GB for a 90-byte file); the grid now follows the
    // elements' extent along each axis (0.4 GB, most of it the mesh itself). INLINE meshes
    // are now capped at 2^18 elements, so the same shape with fewer layers.
    let text = "MFEM INLINE mesh v1.0\ntype = hex\nnx = 8\nny = 9\nnz = 3000\nsx = 2.0\nsy = 1\n\
                sz = 0.5\n";
    let mesh = Mesh::parse(text, "found.mesh").unwrap();
    assert_eq!(mesh.num_elements(), 8 * 9 * 3000);
    for p in [[0.1, 0.1, 0.1], [1.99, 0.5, 0.4999], [1.0, 1.0 / 9.0, 0.25]] {
        let (e, xi) = mesh.locate_point(&p).unwrap();
        let (lo, hi) = mesh.element_bbox(e);
        for a in 0..3 {
            assert!(
                lo[a] - 1e-12 <= p[a] && p[a] <= hi[a] + 1e-12,
                "{p:?} in {lo:?}–{hi:?}"
            );
            assert!((0.0..=1.0).contains(&xi[a]));
        }
    }
}

#[test]
fn large_inline_meshes_are_refused_at_once() {
    // mesh_reader, timeouts: 242 × 45 × 66 hexes (718,740 from 85 bytes) took over 10 s to
    // build under the sanitizer; INLINE start meshes stop at 2^18 elements.
    let text = "MFEM INLINE mesh v1.0\ntype = hex\nnx = 242\nny = 45\nnz = 66\nsx = 2.0\nsy = 1\n\
                sz = 0.5\n";
    let err = Mesh::parse(text, "found.mesh").unwrap_err().to_string();
    assert!(
        err.starts_with("found.mesh:") && err.contains("too many elements"),
        "{err}"
    );
}

#[test]
fn strongly_distorted_hex_locates_every_centre() {
    // mesh_reader, assertion: a valid (positive Jacobian everywhere) but wildly distorted
    // hex, whose children's centres Newton from the cell centre did not find.
    let text = "MFEM mesh v1.0\ndimension\n3\nelements\n1\n1 5 0 1 3 2 4 5 7 6\nboundary\n0\n\
                vertices\n8\n3\n-1 -1 -1\n1 -2 -1\n-1 1 -1\n1 1 -1\n-1 -1 1\n1 -1 9\n\
                -1 1 45\n0 127 1\n";
    let mesh = Mesh::parse(text, "found.mesh").unwrap();
    exercise_mesh(mesh);
}

#[test]
fn hex_folded_along_an_edge_is_refused() {
    // mesh_reader, assertion: the Jacobian is positive at the corners and the centre but
    // negative in the middle of an edge; the reader took it and point location failed.
    let text = "MFEM mesh v1.0\ndimension\n3\nelements\n1\n1 5 0 1 3 2 4 5 7 6\nboundary\n0\n\
                vertices\n8\n3\n-1 -1 -1\n1 -1 -1\n-1 1 -1\n1 1 -1\n-1 -1 1\n1 21 0\n\
                -4 1 46\n0 127 1\n";
    let err = Mesh::parse(text, "found.mesh").unwrap_err().to_string();
    assert!(
        err.starts_with("found.mesh:6:") && err.contains("a fold"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// ONNX graphs and safetensors files, as the `onnx` and `safetensors` fuzz targets run them.

/// Protobuf and JSON pieces that steer mutations into the structure (tags of the ONNX
/// fields the reader decodes, dtype names and header keys of safetensors).
const GRAPH_TOKENS: &[&[u8]] = &[
    b"\x08\x07",
    b"\x3a",
    b"\x0a",
    b"\x12",
    b"\x22",
    b"Gemm",
    b"MatMul",
    b"Sin",
    b"Concat",
    b"Add",
    b"\"dtype\":\"F32\"",
    b"\"shape\":[",
    b"\"data_offsets\":[0,",
    b"__metadata__",
    b"pruningamr",
    b"\xff\xff\xff\xff",
];

fn graph_mutations(
    target: &str,
    load: fn(&[u8]) -> Result<pruningamr::network::NetworkFile, String>,
    seed: u64,
) {
    for (name, bytes) in seeds(target) {
        let f = load(&bytes).unwrap_or_else(|e| panic!("seed {name}: {e}"));
        exercise_network(&f);
    }
    let mut rng = Rng(seed);
    let (mut ok, mut refused) = (0usize, 0usize);
    for (_, seed) in seeds(target) {
        for _ in 0..rounds(1500) {
            let bytes = mutate_bytes(&mut rng, &seed, GRAPH_TOKENS);
            match load(&bytes) {
                Ok(f) => {
                    ok += 1;
                    exercise_network(&f);
                }
                Err(e) => {
                    refused += 1;
                    assert!(e.starts_with("fuzz.") || e.starts_with("--"), "{e}");
                }
            }
        }
    }
    println!("{target}: {ok} loaded, {refused} refused");
    assert!(refused > 0 && ok > 0);
}

#[test]
fn onnx_seeds_load_and_mutants_never_panic() {
    graph_mutations("onnx", graph_input::load_onnx, 0x0123_4567_89ab_cdef);
}

#[test]
fn safetensors_seeds_load_and_mutants_never_panic() {
    graph_mutations(
        "safetensors",
        graph_input::load_safetensors,
        0xfeed_f00d_dead_beef,
    );
}
