//! Bring your own network: networks of each INR family, saved the way each family's code
//! saves them, in every format they come in (`tests/data/byo/`, made once by
//! `tests/data/byo/make_networks.py`, seeded, with the framework's values at a grid beside
//! each). Each loads with the documented flags and gives the framework's values within 1e-5
//! of their range; without the flags it is a one-line error naming the option, exit status 2,
//! nothing written. No network is run with assumed activations.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use faer::Mat;
use pruningamr::network::npy::{NpyData, parse_npy};
use pruningamr::network::{ActivationList, Description, ForwardBuffers, load_with};

const USAGE: i32 = 2;

/// One quad on [-1, 1]² in `dir` (`sq.mesh`).
fn square_mesh(dir: &Path) -> PathBuf {
    let mesh = dir.join("sq.mesh");
    std::fs::write(
        &mesh,
        "MFEM INLINE mesh v1.0\ntype = quad\nnx = 1\nny = 1\nsx = 2\nsy = 2\nx0 = -1\ny0 = -1\n",
    )
    .unwrap();
    mesh
}

/// The command with `--verify <expected>` (a file in `nets()`) exits 1 naming the mismatch.
fn assert_verify_refuses(mut args: Vec<String>, expected: &str) {
    args.extend([
        "--verify".into(),
        nets().join(expected).display().to_string(),
    ]);
    let (code, _, stderr) = run(&args);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("differs from y"), "{stderr}");
}

fn nets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/byo/nets")
}
fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/byo/configs")
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pruningamr-byo-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One network file and the flags it needs (`None`: the file says everything itself).
struct Case {
    family: &'static str,
    expected: &'static str,
    file: &'static str,
    activations: Option<&'static str>,
    config: Option<&'static str>,
}

const fn case(
    family: &'static str,
    expected: &'static str,
    file: &'static str,
    activations: Option<&'static str>,
    config: Option<&'static str>,
) -> Case {
    Case {
        family,
        expected,
        file,
        activations,
        config,
    }
}

const SINE: Option<&str> = Some("sine:30");
const TANH: Option<&str> = Some("tanh");

const CASES: &[Case] = &[
    // SIREN 2-D: explore_siren's `net.N.linear` and the SIREN repo's `net.net.N.0`.
    case(
        "SIREN 2-D",
        "siren2d_explore",
        "siren2d_explore.pth",
        SINE,
        None,
    ),
    case(
        "SIREN 2-D",
        "siren2d_explore",
        "siren2d_explore.safetensors",
        SINE,
        None,
    ),
    case(
        "SIREN 2-D",
        "siren2d_explore",
        "siren2d_explore.npz",
        SINE,
        None,
    ),
    case(
        "SIREN 2-D",
        "siren2d_explore",
        "siren2d_explore.onnx",
        None,
        None,
    ),
    case(
        "SIREN 2-D",
        "siren2d_explore",
        "siren2d_explore.legacy.onnx",
        None,
        None,
    ),
    case(
        "SIREN 2-D",
        "siren2d_explore",
        "siren2d_explore.rank3.onnx",
        None,
        None,
    ),
    case(
        "SIREN 2-D",
        "siren2d_explore",
        "siren2d_explore.rank3.legacy.onnx",
        None,
        None,
    ),
    case("SIREN 2-D", "siren2d_repo", "siren2d_repo.pth", SINE, None),
    case(
        "SIREN 2-D",
        "siren2d_repo",
        "siren2d_repo.safetensors",
        None,
        None,
    ),
    case(
        "SIREN 2-D",
        "siren2d_repo",
        "siren2d_repo.npz",
        Some("sine:30,sine:30,sine:30,identity"),
        None,
    ),
    // SIREN 3-D
    case(
        "SIREN 3-D",
        "siren3d_explore",
        "siren3d_explore.pth",
        SINE,
        None,
    ),
    case(
        "SIREN 3-D",
        "siren3d_explore",
        "siren3d_explore.safetensors",
        SINE,
        None,
    ),
    case(
        "SIREN 3-D",
        "siren3d_explore",
        "siren3d_explore.npz",
        SINE,
        None,
    ),
    case(
        "SIREN 3-D",
        "siren3d_explore",
        "siren3d_explore.onnx",
        None,
        None,
    ),
    case(
        "SIREN 3-D",
        "siren3d_explore",
        "siren3d_explore.legacy.onnx",
        None,
        None,
    ),
    case("SIREN 3-D", "siren3d_repo", "siren3d_repo.pth", SINE, None),
    case(
        "SIREN 3-D",
        "siren3d_repo",
        "siren3d_repo.safetensors",
        None,
        None,
    ),
    case("SIREN 3-D", "siren3d_repo", "siren3d_repo.npz", SINE, None),
    // Fourier features, the original's convention: `gauss` inputs × features, [cos, sin].
    case(
        "Fourier (original)",
        "fourier_pamr",
        "fourier_pamr.pth",
        Some("relu"),
        None,
    ),
    case(
        "Fourier (original)",
        "fourier_pamr",
        "fourier_pamr.dict.pth",
        None,
        None,
    ),
    case(
        "Fourier (original)",
        "fourier_pamr",
        "fourier_pamr.safetensors",
        Some("relu"),
        None,
    ),
    case(
        "Fourier (original)",
        "fourier_pamr",
        "fourier_pamr.npz",
        Some("relu"),
        None,
    ),
    case(
        "Fourier (original)",
        "fourier_pamr",
        "fourier_pamr.native.npz",
        None,
        None,
    ),
    // Fourier features, Tancik's / NeRF's convention: B features × inputs, [sin, cos].
    case(
        "Fourier (Tancik)",
        "fourier_tancik",
        "fourier_tancik.pth",
        None,
        Some("fourier_tancik.json"),
    ),
    case(
        "Fourier (Tancik)",
        "fourier_tancik",
        "fourier_tancik.safetensors",
        None,
        None,
    ),
    case(
        "Fourier (Tancik)",
        "fourier_tancik",
        "fourier_tancik.npz",
        None,
        Some("fourier_tancik.json"),
    ),
    case(
        "Fourier (Tancik)",
        "fourier_tancik",
        "fourier_tancik.onnx",
        None,
        None,
    ),
    case(
        "Fourier (Tancik)",
        "fourier_tancik",
        "fourier_tancik.legacy.onnx",
        None,
        None,
    ),
    // DeepXDE's tanh PINN (model.save, `linears.N` inside `model_state_dict`).
    case(
        "DeepXDE tanh PINN",
        "pinn_deepxde",
        "pinn_deepxde-50.pt",
        TANH,
        None,
    ),
    case(
        "DeepXDE tanh PINN",
        "pinn_deepxde",
        "pinn_deepxde.state_dict.pt",
        TANH,
        None,
    ),
    case(
        "DeepXDE tanh PINN",
        "pinn_deepxde",
        "pinn_deepxde.proto2.pt",
        None,
        Some("pinn_deepxde.json"),
    ),
    case(
        "DeepXDE tanh PINN",
        "pinn_deepxde",
        "pinn_deepxde.safetensors",
        None,
        None,
    ),
    case(
        "DeepXDE tanh PINN",
        "pinn_deepxde",
        "pinn_deepxde.npz",
        Some("tanh,tanh,tanh,linear"),
        None,
    ),
    case(
        "DeepXDE tanh PINN",
        "pinn_deepxde",
        "pinn_deepxde.native.npz",
        None,
        None,
    ),
    case(
        "DeepXDE tanh PINN",
        "pinn_deepxde",
        "pinn_deepxde.onnx",
        None,
        None,
    ),
    case(
        "DeepXDE tanh PINN",
        "pinn_deepxde",
        "pinn_deepxde.legacy.onnx",
        None,
        None,
    ),
    // nn.Sequential of Linear and Tanh (`N.weight`), and with weight norm.
    case(
        "nn.Sequential tanh",
        "sequential_tanh",
        "sequential_tanh.pt",
        TANH,
        None,
    ),
    case(
        "nn.Sequential tanh",
        "sequential_tanh",
        "sequential_tanh.module.pt",
        None,
        None,
    ),
    case(
        "nn.Sequential tanh",
        "sequential_tanh",
        "sequential_tanh.safetensors",
        TANH,
        None,
    ),
    case(
        "nn.Sequential tanh",
        "sequential_tanh",
        "sequential_tanh.npz",
        TANH,
        None,
    ),
    case(
        "nn.Sequential tanh",
        "sequential_tanh",
        "sequential_tanh.native.npz",
        None,
        None,
    ),
    case(
        "nn.Sequential tanh",
        "sequential_tanh",
        "sequential_tanh.onnx",
        None,
        None,
    ),
    case(
        "nn.Sequential tanh",
        "sequential_tanh",
        "sequential_tanh.legacy.onnx",
        None,
        None,
    ),
    case(
        "weight norm tanh",
        "weightnorm_tanh",
        "weightnorm_tanh.pt",
        TANH,
        None,
    ),
    case(
        "weight norm tanh",
        "weightnorm_tanh",
        "weightnorm_tanh.parametrizations.pt",
        TANH,
        None,
    ),
    case(
        "weight norm tanh",
        "weightnorm_tanh",
        "weightnorm_tanh.safetensors",
        TANH,
        None,
    ),
    case(
        "weight norm tanh",
        "weightnorm_tanh",
        "weightnorm_tanh.npz",
        TANH,
        None,
    ),
    // NeRP: {'net': state_dict, 'enc': B}; flat files need the encoding described.
    case(
        "NeRP FFN",
        "nerp_ffn",
        "nerp_ffn.pt",
        Some("relu,relu,relu,sigmoid"),
        None,
    ),
    case(
        "NeRP FFN",
        "nerp_ffn",
        "nerp_ffn.safetensors",
        None,
        Some("nerp_ffn.json"),
    ),
    case(
        "NeRP FFN",
        "nerp_ffn",
        "nerp_ffn.npz",
        None,
        Some("nerp_ffn.json"),
    ),
    case("NeRP SIREN", "nerp_siren", "nerp_siren.pt", SINE, None),
    case(
        "NeRP SIREN",
        "nerp_siren",
        "nerp_siren.safetensors",
        None,
        Some("nerp_siren.json"),
    ),
    case(
        "NeRP SIREN",
        "nerp_siren",
        "nerp_siren.npz",
        None,
        Some("nerp_siren.json"),
    ),
    // NeRF's positional encoding (nerf-pytorch's order) before a ReLU `net.N` MLP.
    case(
        "positional encoding",
        "positional_nerf",
        "positional_nerf.pth",
        None,
        Some("positional_nerf.json"),
    ),
    case(
        "positional encoding",
        "positional_nerf",
        "positional_nerf.safetensors",
        None,
        None,
    ),
    case(
        "positional encoding",
        "positional_nerf",
        "positional_nerf.npz",
        None,
        Some("positional_nerf.json"),
    ),
    case(
        "positional encoding",
        "positional_nerf",
        "positional_nerf.onnx",
        None,
        None,
    ),
    case(
        "positional encoding",
        "positional_nerf",
        "positional_nerf.legacy.onnx",
        None,
        None,
    ),
];

/// The arrays of an npz (as f32, row-major) with their shapes.
fn npz_arrays(path: &Path) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().trim_end_matches(".npy").to_owned();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        let a = parse_npy(&data).unwrap();
        if let NpyData::Float(v) = a.data {
            out.push((name, a.shape, v));
        }
    }
    out
}

fn array(arrays: &[(String, Vec<usize>, Vec<f32>)], name: &str) -> (Vec<usize>, Vec<f32>) {
    let (_, s, v) = arrays.iter().find(|(n, _, _)| n == name).unwrap();
    (s.clone(), v.clone())
}

fn description(c: &Case) -> Description {
    let activations = c.activations.map(|a| ActivationList::parse(a).unwrap());
    let config = c.config.map(|f| configs().join(f));
    Description::from_options(activations, config.as_deref()).unwrap()
}

/// Max |network − framework (float64)| at the grid, as a fraction of the values' range.
fn relative_error(c: &Case) -> f64 {
    let loaded = load_with(&nets().join(c.file), &description(c))
        .unwrap_or_else(|e| panic!("{}: {e}", c.file));
    let arrays = npz_arrays(&nets().join(format!("{}.expected.npz", c.expected)));
    let (xs, x) = array(&arrays, "x");
    let (_, y) = array(&arrays, "y64");
    let (n, d) = (xs[0], xs[1]);
    let f = &loaded.file;
    assert_eq!(f.input_dim(), d, "{}", c.file);
    let out = f.output_dim();
    assert_eq!(y.len(), n * out, "{}", c.file);
    let xm = Mat::from_fn(n, d, |i, j| x[i * d + j]);
    let got = f
        .evaluate(xm.as_ref(), &mut ForwardBuffers::default())
        .to_owned();
    let (lo, hi) = y.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &v| {
        (lo.min(v as f64), hi.max(v as f64))
    });
    let mut worst = 0.0f64;
    for i in 0..n {
        for j in 0..out {
            worst = worst.max((got[(i, j)] as f64 - y[i * out + j] as f64).abs());
        }
    }
    worst / (hi - lo)
}

#[test]
fn every_family_and_format_gives_the_frameworks_values() {
    let mut failed = Vec::new();
    println!("| family | file | flags | max error / range |");
    for c in CASES {
        let e = relative_error(c);
        let flags = match (c.activations, c.config) {
            (Some(a), _) => format!("--activations {a}"),
            (None, Some(f)) => format!("--network_config {f}"),
            (None, None) => "none".into(),
        };
        println!("| {} | {} | {flags} | {e:.2e} |", c.family, c.file);
        if e.is_nan() || e > 1e-5 {
            failed.push(format!("{}: {e:e}", c.file));
        }
    }
    assert!(failed.is_empty(), "beyond 1e-5 of the range: {failed:?}");
}

/// The start mesh of a family's domain: INLINE with an origin.
fn mesh_for(dir: &Path, c: &Case) -> PathBuf {
    let arrays = npz_arrays(&nets().join(format!("{}.expected.npz", c.expected)));
    let (xs, _) = array(&arrays, "x");
    let (text, name) = match (xs[1], c.expected.starts_with("nerp")) {
        (2, true) => (
            "MFEM INLINE mesh v1.0\ntype = quad\nnx = 2\nny = 2\nsx = 1\nsy = 1\n",
            "unit.mesh",
        ),
        (2, false) => (
            "MFEM INLINE mesh v1.0\ntype = quad\nnx = 2\nny = 2\nsx = 2\nsy = 2\nx0 = -1\ny0 = -1\n",
            "square.mesh",
        ),
        _ => (
            "MFEM INLINE mesh v1.0\ntype = hex\nnx = 1\nny = 1\nnz = 1\nsx = 2\nsy = 2\nsz = 2\n\
             x0 = -1\ny0 = -1\nz0 = -1\n",
            "cube.mesh",
        ),
    };
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs the binary; (exit status, stdout, stderr).
fn run(args: &[String]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_pruningamr"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn base_args(c: &Case, mesh: &Path, out: &Path) -> Vec<String> {
    [
        "--checkpoint",
        &nets().join(c.file).display().to_string(),
        "--mesh",
        &mesh.display().to_string(),
        "--output",
        &out.display().to_string(),
        "--original",
        "--max_it",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The files run through the binary with their flags (a run costs seconds on a busy
/// machine; the values of every file are checked through the library above): each family
/// and each format at least once.
const RUN: &[&str] = &[
    "siren2d_explore.pth",
    "siren3d_repo.safetensors",
    "fourier_pamr.npz",
    "fourier_tancik.onnx",
    "fourier_tancik.pth",
    "pinn_deepxde-50.pt",
    "sequential_tanh.native.npz",
    "nerp_siren.pt",
    "nerp_ffn.safetensors",
    "positional_nerf.pth",
];

#[test]
fn the_binary_runs_each_file_with_its_flags_and_refuses_it_without() {
    let dir = scratch("binary");
    for (k, c) in CASES.iter().enumerate() {
        let mesh = mesh_for(&dir, c);
        let out = dir.join(format!("out{k}"));
        if !RUN.contains(&c.file) {
            refused_without_flags(c, &mesh, &dir.join(format!("bare{k}")));
            continue;
        }
        let mut args = base_args(c, &mesh, &out);
        let verify = nets().join(format!("{}.expected.npz", c.expected));
        args.extend(["--verify".into(), verify.display().to_string()]);
        if let Some(a) = c.activations {
            args.extend(["--activations".into(), a.into()]);
        }
        if let Some(f) = c.config {
            args.extend([
                "--network_config".into(),
                configs().join(f).display().to_string(),
            ]);
        }
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 0, "{}: {stderr}", c.file);
        assert!(
            stdout.contains("--verify"),
            "{}: the verification is printed: {stdout}",
            c.file
        );
        refused_without_flags(c, &mesh, &dir.join(format!("bare{k}")));
    }
}

/// Without the flags it needs: one line naming the option and the file, exit 2, nothing
/// written.
fn refused_without_flags(c: &Case, mesh: &Path, out: &Path) {
    if c.activations.is_none() && c.config.is_none() {
        return;
    }
    {
        let (code, _, stderr) = run(&base_args(c, mesh, out));
        assert_eq!(code, USAGE, "{}: {stderr}", c.file);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{}: {stderr}", c.file);
        assert!(lines[0].starts_with("pruningamr: "), "{}: {stderr}", c.file);
        assert!(
            lines[0].contains("--activations") || lines[0].contains("--network_config"),
            "{}: {stderr}",
            c.file
        );
        assert!(
            lines[0].contains(c.file),
            "{}: names the file: {stderr}",
            c.file
        );
        assert!(
            files_under(out).is_empty(),
            "{}: wrote {:?}",
            c.file,
            files_under(out)
        );
    }
}

#[test]
fn missing_activations_name_the_option_and_the_layers() {
    let dir = scratch("named");
    let c = &CASES[0];
    let out = dir.join("out");
    let (code, _, stderr) = run(&base_args(c, &mesh_for(&dir, c), &out));
    assert_eq!(code, USAGE);
    assert!(
        stderr.starts_with("pruningamr: ") && stderr.contains("--activations"),
        "{stderr}"
    );
    for needle in ["net.0.linear", "net.3", "2→32→32→32→1", "sine:30"] {
        assert!(stderr.contains(needle), "{needle:?} missing: {stderr}");
    }
    // Tancik's B without a config: the tensor is named, not ignored.
    let tancik = CASES
        .iter()
        .find(|c| c.file == "fourier_tancik.pth")
        .unwrap();
    let mut args = base_args(tancik, &mesh_for(&dir, tancik), &dir.join("t"));
    args.extend(["--activations".into(), "relu".into()]);
    let (code, _, stderr) = run(&args);
    assert_eq!(code, USAGE, "{stderr}");
    assert!(
        stderr.contains("--network_config") && stderr.contains("tensor B (16 × 2)"),
        "{stderr}"
    );
}

#[test]
fn verify_catches_a_misread_network() {
    let dir = scratch("verify");
    let c = CASES
        .iter()
        .find(|c| c.file == "fourier_tancik.pth")
        .unwrap();
    let mesh = mesh_for(&dir, c);
    let verify = nets()
        .join("fourier_tancik.expected.npz")
        .display()
        .to_string();
    // [cos, sin] where the network was trained on [sin, cos]: it loads, and is wrong.
    let out = dir.join("out");
    let mut args = base_args(c, &mesh, &out);
    args.extend([
        "--network_config".into(),
        configs()
            .join("fourier_tancik_misread.json")
            .display()
            .to_string(),
        "--verify".into(),
        verify.clone(),
    ]);
    let (code, _, stderr) = run(&args);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--verify") && stderr.contains("differs from y"),
        "{stderr}"
    );
    assert!(files_under(&out).is_empty());
    // A SIREN read with ω = 1 instead of 30.
    let s = &CASES[0];
    let out = dir.join("siren");
    let mut args = base_args(s, &mesh, &out);
    args.extend(["--activations".into(), "sine".into()]);
    assert_verify_refuses(args, "siren2d_explore.expected.npz");
    // A positional encoding read in mip-NeRF's order (all sines, then all cosines) where the
    // network was trained in nerf-pytorch's: the same width, so only --verify can tell.
    let p = CASES
        .iter()
        .find(|c| c.file == "positional_nerf.pth")
        .unwrap();
    let cfg = dir.join("positional_misread.json");
    std::fs::write(
        &cfg,
        r#"{"activations": "relu", "encoding": {"type": "positional", "frequencies": 4,
            "order": ["function", "frequency", "input"]}}"#,
    )
    .unwrap();
    let out = dir.join("positional");
    let mut args = base_args(p, &mesh, &out);
    args.extend(["--network_config".into(), cfg.display().to_string()]);
    assert_verify_refuses(args, "positional_nerf.expected.npz");
    assert!(files_under(&out).is_empty());
}

#[test]
fn a_config_beside_the_checkpoint_is_read() {
    let dir = scratch("beside");
    let file = dir.join("tancik.pth");
    std::fs::copy(nets().join("fourier_tancik.pth"), &file).unwrap();
    std::fs::copy(
        configs().join("fourier_tancik.json"),
        dir.join("tancik.pth.json"),
    )
    .unwrap();
    let loaded = load_with(&file, &Description::default()).unwrap();
    assert!(
        loaded.notes.iter().any(|n| n.contains("tancik.pth.json")),
        "{:?}",
        loaded.notes
    );
    assert_eq!(loaded.file.input_dim(), 2);
    // A config with a misspelt key is refused, naming the file and the key.
    std::fs::write(dir.join("tancik.pth.json"), r#"{"activation": "relu"}"#).unwrap();
    let err = load_with(&file, &Description::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tancik.pth.json") && err.contains("activation"),
        "{err}"
    );
}

#[test]
fn unsupported_networks_say_what_to_do_instead() {
    let dir = scratch("refused");
    let mesh2 = square_mesh(&dir);
    let mesh3 = dir.join("cube.mesh");
    std::fs::write(
        &mesh3,
        "MFEM INLINE mesh v1.0\ntype = hex\nnx = 1\nny = 1\nnz = 1\nsx = 2\nsy = 2\nsz = 2\n",
    )
    .unwrap();
    let cases: &[(&str, &Path, &[&str], &[&str])] = &[
        (
            "neg_torchscript.pt",
            &mesh2,
            &[],
            &["TorchScript", "state_dict()"],
        ),
        (
            "neg_user_module.pt",
            &mesh2,
            &[],
            &["__main__.UserMLP", "state_dict()", "--activations"],
        ),
        (
            "neg_nerf_skip.pth",
            &mesh3,
            &["--activations", "relu"],
            &["skip connection", "pts_linears.5.weight"],
        ),
        (
            "neg_nerf_skip.safetensors",
            &mesh3,
            &["--activations", "relu"],
            &["skip connection"],
        ),
        (
            "pinn_deepxde-50.pkl",
            &mesh3,
            &["--activations", "tanh"],
            &["DeepXDE", "protocol"],
        ),
        (
            "pinn_deepxde.legacy_format.pt",
            &mesh3,
            &["--activations", "tanh"],
            &["legacy torch.save format"],
        ),
        (
            "neg_mfn_fourier.pth",
            &mesh2,
            &["--activations", "relu"],
            &["multiplicative filter network", "fit the field with one"],
        ),
        (
            "neg_mfn_gabor.safetensors",
            &mesh2,
            &["--activations", "relu"],
            &[
                "multiplicative filter network",
                "GaborNet",
                "fit the field with one",
            ],
        ),
        (
            "neg_wire.pth",
            &mesh2,
            &["--activations", "relu"],
            &["WIRE", "complex", "fit the field with one"],
        ),
        (
            "neg_hashgrid_ngp.pth",
            &mesh2,
            &["--activations", "relu"],
            &["hash-grid encoding", "torch-ngp", "fit the field with one"],
        ),
        (
            "neg_hashgrid_tcnn.safetensors",
            &mesh2,
            &["--activations", "relu"],
            &[
                "hash-grid encoding",
                "tiny-cuda-nn",
                "fit the field with one",
            ],
        ),
        (
            "positional_nerf.pth",
            &mesh2,
            &["--activations", "relu"],
            &[
                "takes 18 input coordinates",
                "positional encoding",
                "--network_config",
            ],
        ),
    ];
    for (k, (file, mesh, flags, needles)) in cases.iter().enumerate() {
        let out = dir.join(format!("out{k}"));
        let mut args: Vec<String> = vec![
            "--checkpoint".into(),
            nets().join(file).display().to_string(),
            "--mesh".into(),
            mesh.display().to_string(),
            "--output".into(),
            out.display().to_string(),
            "--original".into(),
            "--max_it".into(),
            "1".into(),
        ];
        args.extend(flags.iter().map(|s| s.to_string()));
        let (code, _, stderr) = run(&args);
        assert_eq!(code, 1, "{file}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{file}: {stderr}");
        for n in *needles {
            assert!(stderr.contains(n), "{file}: {n:?} missing: {stderr}");
        }
        assert!(files_under(&out).is_empty(), "{file}");
    }
}

#[test]
fn several_stacks_are_ambiguous() {
    use pruningamr::network::npy::write_npy_f32;
    let dir = scratch("ambiguous");
    let path = dir.join("two.npz");
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (name, shape) in [("encoder.0.weight", [3, 2]), ("decoder.0.weight", [1, 3])] {
        z.start_file(format!("{name}.npy"), opts).unwrap();
        std::io::Write::write_all(
            &mut z,
            &write_npy_f32(&shape, &vec![0.5; shape[0] * shape[1]]),
        )
        .unwrap();
    }
    std::fs::write(&path, z.finish().unwrap().into_inner()).unwrap();
    let desc = Description {
        activations: Some(ActivationList::parse("tanh").unwrap()),
        ..Description::default()
    };
    let err = load_with(&path, &desc).unwrap_err().to_string();
    assert!(
        err.contains("several stacks")
            && err.contains("`encoder.N`")
            && err.contains("`decoder.N`"),
        "{err}"
    );
    // Naming the stack in a config picks it.
    let cfg = dir.join("two.npz.json");
    std::fs::write(
        &cfg,
        r#"{"activations": "tanh", "stack": "decoder", "ignore": ["encoder.0.weight"]}"#,
    )
    .unwrap();
    let loaded = load_with(&path, &Description::default()).unwrap();
    assert_eq!((loaded.file.input_dim(), loaded.file.output_dim()), (3, 1));
}

/// `input_names` say where time is: a time slice that would put it elsewhere is refused,
/// one line, nothing written; the names as they are (x, y, t) slice as before.
#[test]
fn input_names_place_time() {
    let dir = scratch("input_names");
    let mesh = square_mesh(&dir);
    for (k, (names, refused)) in [(r#"["t", "x", "y"]"#, true), (r#"["x", "y", "t"]"#, false)]
        .into_iter()
        .enumerate()
    {
        let cfg = dir.join(format!("pinn{k}.json"));
        std::fs::write(
            &cfg,
            format!(r#"{{"activations": "tanh", "input_names": {names}}}"#),
        )
        .unwrap();
        let out = dir.join(format!("out{k}"));
        let (code, _, stderr) = run(&[
            "--checkpoint".into(),
            nets().join("pinn_deepxde-50.pt").display().to_string(),
            "--network_config".into(),
            cfg.display().to_string(),
            "--mesh".into(),
            mesh.display().to_string(),
            "--output".into(),
            out.display().to_string(),
            "--original".into(),
            "--max_it".into(),
            "1".into(),
            "--time_slices".into(),
            "0.5".into(),
        ]);
        if refused {
            assert_eq!(code, 1, "{stderr}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(
                stderr.contains("time being input 0") && stderr.contains("--time_slices"),
                "{stderr}"
            );
            assert!(files_under(&out).is_empty());
        } else {
            assert_eq!(code, 0, "{stderr}");
        }
    }
}
