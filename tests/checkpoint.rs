//! Reading networks: the reference PyTorch checkpoints (shapes and forward outputs against
//! PyTorch), hostile and broken files, the npz format (round trip, numpy-written files), and
//! random mutations that must give errors, never panics.

mod common;

use common::pickle::Pk;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use faer::Mat;
use pruningamr::network::npy::{NpyData, parse_npy, write_npy_f32};
use pruningamr::network::torch::{load_torch_checkpoint_with, read_torch_checkpoint};
use pruningamr::network::{Activation, Layer, Network};
use pruningamr::network::{
    ActivationSource, CheckpointError, NetworkFile, TorchLayout, load_npz, load_torch_checkpoint,
    save_npz,
};

fn ckpt(reference: &Path, name: &str) -> PathBuf {
    reference.join("checkpoints").join(name)
}

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pruningamr-ckpt-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn shapes(net: &Network) -> Vec<(usize, usize, Activation)> {
    net.layers()
        .iter()
        .map(|l| (l.in_dim(), l.out_dim(), l.activation))
        .collect()
}

fn mlp(dims: &[usize], hidden: Activation) -> Vec<(usize, usize, Activation)> {
    dims.windows(2)
        .enumerate()
        .map(|(i, w)| {
            let a = if i + 2 == dims.len() {
                Activation::Identity
            } else {
                hidden
            };
            (w[0], w[1], a)
        })
        .collect()
}

#[test]
#[ignore = "needs PRUNINGAMR_REFERENCE"]
fn every_reference_checkpoint_loads_with_its_shapes() {
    let r = common::reference_dir();
    let wide = mlp(&[2, 256, 256, 256, 256, 1], Activation::Relu);
    let cases = [
        (
            "high_oscillation_small_lists.ckpt",
            mlp(&[2, 32, 32, 32, 32, 1], Activation::Relu),
        ),
        ("high_oscillation_long_lists.ckpt", wide.clone()),
        ("high_oscillation_full_lists.ckpt", wide),
        (
            "high_oscillation_small_dict.ckpt",
            mlp(&[2, 32, 32, 32, 32, 1], Activation::Relu),
        ),
        (
            "NS_PINN_lists.ckpt",
            mlp(
                &[3, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 3],
                Activation::Tanh,
            ),
        ),
    ];
    for (name, expected) in cases {
        let path = ckpt(&r, name);
        let c = load_torch_checkpoint_with(&path, None).unwrap();
        assert_eq!(shapes(&c.file.network), expected, "{name}");
        // `gauss` is an empty tensor in the 2D files: no Fourier features.
        assert!(c.file.fourier_gauss.is_none(), "{name}");
        assert!(c.file.input_mean.is_none() && c.file.output_scale.is_none());
        if name.contains("dict") {
            assert_eq!(
                c.layout,
                TorchLayout::FlatStateDict {
                    prefix: "weights_list.".into()
                }
            );
            assert_eq!(c.activations, ActivationSource::AssumedReluIdentity);
        } else {
            assert_eq!(c.layout, TorchLayout::ListsDict);
            assert_eq!(c.activations, ActivationSource::File);
        }
        // The dispatcher finds the same network by content.
        let d = pruningamr::network::load(&path).map(|l| l.file).unwrap();
        assert_eq!(shapes(&d.network), expected);
    }
}

#[test]
#[ignore = "needs PRUNINGAMR_REFERENCE"]
fn forward_matches_pytorch() {
    let r = common::reference_dir();
    let text = std::fs::read_to_string(r.join("vectors/forward.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let json = json.as_object().unwrap();
    for key in ["hos", "hol", "hof", "NS_PINN_raw"] {
        let case = &json[key];
        let file = case["checkpoint"].as_str().unwrap();
        let rows = |k: &str| -> Vec<Vec<f32>> {
            case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap() as f32)
                        .collect()
                })
                .collect()
        };
        let (xs, ys) = (rows("inputs"), rows("outputs"));
        assert_eq!(xs.len(), 100);
        let net = load_torch_checkpoint(&ckpt(&r, file)).unwrap();
        let x = Mat::from_fn(xs.len(), xs[0].len(), |i, j| xs[i][j]);
        let y = net
            .evaluate(
                x.as_ref(),
                &mut pruningamr::network::ForwardBuffers::default(),
            )
            .to_owned();
        assert_eq!((y.nrows(), y.ncols()), (ys.len(), ys[0].len()));
        let scale = ys.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));
        let mut worst = 0f32;
        for (i, row) in ys.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                worst = worst.max((y[(i, j)] - v).abs());
            }
        }
        println!(
            "{key}: max |error| {worst:.3e}, max |output| {scale:.4}, relative {:.3e}",
            worst / scale
        );
        assert!(
            worst <= 1e-4 * scale,
            "{key}: error {worst} > 1e-4 × {scale}"
        );
    }
}

#[test]
#[ignore = "needs PRUNINGAMR_REFERENCE"]
fn small_dict_gives_the_small_lists_outputs() {
    let r = common::reference_dir();
    let lists = load_torch_checkpoint(&ckpt(&r, "high_oscillation_small_lists.ckpt")).unwrap();
    let dict = load_torch_checkpoint(&ckpt(&r, "high_oscillation_small_dict.ckpt")).unwrap();
    let x = Mat::from_fn(257, 2, |i, j| ((i * 37 + j * 11) % 101) as f32 / 100.0);
    let (a, b) = (
        lists
            .evaluate(
                x.as_ref(),
                &mut pruningamr::network::ForwardBuffers::default(),
            )
            .to_owned(),
        dict.evaluate(
            x.as_ref(),
            &mut pruningamr::network::ForwardBuffers::default(),
        )
        .to_owned(),
    );
    for i in 0..x.nrows() {
        assert_eq!(a[(i, 0)], b[(i, 0)]);
    }
    // Activations given by the caller replace the assumption.
    let tanh = [Activation::Tanh; 5];
    let c = load_torch_checkpoint_with(&ckpt(&r, "high_oscillation_small_dict.ckpt"), Some(&tanh))
        .unwrap();
    assert_eq!(c.activations, ActivationSource::Given);
    assert!(
        c.file
            .network
            .layers()
            .iter()
            .all(|l| l.activation == Activation::Tanh)
    );
    let err = load_torch_checkpoint_with(
        &ckpt(&r, "high_oscillation_small_dict.ckpt"),
        Some(&tanh[..2]),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("2 activations were given for 5 layers"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Building archives and pickles by hand.

fn zip_of(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        z.start_file(name.as_str(), opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let config = zip::read::Config {
        archive_offset: zip::read::ArchiveOffset::Known(0),
    };
    let mut a = zip::ZipArchive::with_config(config, Cursor::new(bytes)).unwrap();
    (0..a.len())
        .map(|i| {
            let mut f = a.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().into_owned(), b)
        })
        .collect()
}

fn replace_member(
    members: &[(String, Vec<u8>)],
    suffix: &str,
    f: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> Vec<u8> {
    let changed: Vec<(String, Vec<u8>)> = members
        .iter()
        .filter_map(|(n, b)| {
            if n.ends_with(suffix) {
                f(b).map(|nb| (n.clone(), nb))
            } else {
                Some((n.clone(), b.clone()))
            }
        })
        .collect();
    zip_of(&changed)
}

struct TestTensor {
    storage: &'static str,
    key: &'static str,
    numel: i32,
    offset: i32,
    size: Vec<i32>,
    stride: Vec<i32>,
}

fn t(key: &'static str, numel: i32, offset: i32, size: &[i32], stride: &[i32]) -> TestTensor {
    TestTensor {
        storage: "FloatStorage",
        key,
        numel,
        offset,
        size: size.to_vec(),
        stride: stride.to_vec(),
    }
}

/// (module path, class, float attributes) of an activation module.
type ActivationModule<'a> = (&'a str, &'a str, &'a [(&'a str, f64)]);

/// The original's lists layout with the given tensors and activation modules.
fn lists_pickle(
    weights: &[TestTensor],
    biases: &[TestTensor],
    acts: &[ActivationModule<'_>],
) -> Vec<u8> {
    let mut p = Pk::default();
    p.op(b"\x80\x02}(");
    p.str("weights_list").op(b"](");
    for w in weights {
        p.tensor(w.storage, w.key, w.numel, w.offset, &w.size, &w.stride);
    }
    p.op(b"e");
    p.str("bias_list").op(b"](");
    for b in biases {
        p.tensor(b.storage, b.key, b.numel, b.offset, &b.size, &b.stride);
    }
    p.op(b"e");
    p.str("act_list").op(b"](");
    for (m, c, attrs) in acts {
        p.module(m, c, attrs);
    }
    p.op(b"e");
    p.str("extra").int(5);
    p.op(b"u.");
    p.0
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f64_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

const ACT: &str = "torch.nn.modules.activation";
const LIN: &str = "torch.nn.modules.linear";

/// A 2→3→1 network: the first weight is a transposed float64 view at an offset, the
/// activation a LeakyReLU with its slope in the module state.
fn crafted_checkpoint(pickle: Vec<u8>, storages: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut members = vec![
        ("net/data.pkl".to_owned(), pickle),
        ("net/byteorder".to_owned(), b"little".to_vec()),
    ];
    for (k, b) in storages {
        members.push((format!("net/data/{k}"), b.clone()));
    }
    members.push(("net/version".to_owned(), b"3\n".to_vec()));
    zip_of(&members)
}

fn strided_net_pickle() -> Vec<u8> {
    let mut w0 = t("0", 8, 2, &[3, 2], &[1, 3]);
    w0.storage = "DoubleStorage";
    lists_pickle(
        &[w0, t("1", 3, 0, &[1, 3], &[3, 1])],
        &[t("2", 4, 1, &[3], &[1]), t("3", 1, 0, &[1], &[1])],
        &[
            (ACT, "LeakyReLU", &[("negative_slope", 0.25)]),
            (LIN, "Identity", &[]),
        ],
    )
}

fn strided_net_storages() -> Vec<(&'static str, Vec<u8>)> {
    // W0 (3 × 2) = [[1, 2], [3, -4], [5, 6]] stored transposed from element 2:
    // storage = [_, _, 1, 3, 5, 2, -4, 6].
    vec![
        ("0", f64_bytes(&[9.0, 9.0, 1.0, 3.0, 5.0, 2.0, -4.0, 6.0])),
        ("1", f32_bytes(&[1.0, -1.0, 0.5])),
        ("2", f32_bytes(&[7.0, 0.0, -1.0, 0.0])),
        ("3", f32_bytes(&[0.25])),
    ]
}

#[test]
fn offsets_strides_float64_and_activation_state_are_honoured() {
    let bytes = crafted_checkpoint(strided_net_pickle(), &strided_net_storages());
    let c = read_torch_checkpoint(&bytes, Path::new("crafted.ckpt"), None).unwrap();
    let layers = c.file.network.layers();
    assert_eq!(layers[0].weight[(1, 1)], -4.0);
    assert_eq!(layers[0].weight[(2, 0)], 5.0);
    assert_eq!(layers[0].bias, vec![0.0, -1.0, 0.0]);
    assert_eq!(
        layers[0].activation,
        Activation::LeakyRelu {
            negative_slope: 0.25
        }
    );
    // x = (1, 1): h = leaky(3, -2, 11) = (3, -0.5, 11); y = 3 + 0.5 + 5.5 + 0.25 = 9.25
    let mut buffers = pruningamr::network::ForwardBuffers::default();
    let y = c
        .file
        .evaluate(Mat::from_fn(1, 2, |_, _| 1.0).as_ref(), &mut buffers);
    assert_eq!(y[(0, 0)], 9.25);
}

#[test]
fn hostile_pickles_are_refused_and_run_nothing() {
    let dir = scratch("hostile");
    let marker = dir.join("pwned");
    let cmd = format!("touch {}", marker.display());
    // os.system('touch …') through GLOBAL + REDUCE, the classic.
    let mut p = Pk::default();
    p.op(b"\x80\x02")
        .global("os", "system")
        .op(b"(")
        .str(&cmd)
        .op(b"tR.");
    let bytes = crafted_checkpoint(p.0, &[]);
    let path = dir.join("evil.ckpt");
    std::fs::write(&path, &bytes).unwrap();
    let err = load_torch_checkpoint(&path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`os.system`"), "{msg}");
    assert!(msg.contains("evil.ckpt"), "{msg}");
    assert!(matches!(err, CheckpointError::Pickle { .. }));
    // The same through the dispatcher, and builtins.eval through STACK_GLOBAL.
    assert!(
        pruningamr::network::load(&path)
            .map(|l| l.file)
            .unwrap_err()
            .to_string()
            .contains("`os.system`")
    );
    let mut p = Pk::default();
    p.op(b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93(")
        .str("__import__('os')")
        .op(b"tR.");
    let err = read_torch_checkpoint(&crafted_checkpoint(p.0, &[]), Path::new("e.ckpt"), None)
        .unwrap_err();
    assert!(err.to_string().contains("`builtins.eval`"), "{err}");
    // A module class outside the allow-list inside an otherwise fine network.
    let pickle = lists_pickle(
        &[
            t("0", 6, 0, &[3, 2], &[2, 1]),
            t("1", 3, 0, &[1, 3], &[3, 1]),
        ],
        &[t("2", 3, 0, &[3], &[1]), t("3", 1, 0, &[1], &[1])],
        &[
            ("torch.nn.modules.dropout", "Dropout", &[]),
            (LIN, "Identity", &[]),
        ],
    );
    let err = read_torch_checkpoint(&crafted_checkpoint(pickle, &[]), Path::new("d.ckpt"), None)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`torch.nn.modules.dropout.Dropout`"),
        "{err}"
    );
    assert!(!marker.exists(), "the pickle ran a command");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Loads bytes and returns the error message (the test fails if they load).
fn error_of(bytes: &[u8], name: &str) -> String {
    match pruningamr::network::read(bytes, Path::new(name)).map(|l| l.file) {
        Ok(_) => panic!("{name} loaded"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with(name),
                "message does not name the file: {msg}"
            );
            msg
        }
    }
}

#[test]
#[ignore = "needs PRUNINGAMR_REFERENCE"]
fn broken_checkpoints_give_clear_errors() {
    let r = common::reference_dir();
    let bytes = std::fs::read(ckpt(&r, "high_oscillation_small_lists.ckpt")).unwrap();
    let members = unzip(&bytes);

    let msg = error_of(&bytes[..bytes.len() / 2], "truncated.ckpt");
    assert!(msg.contains("zip archive"), "{msg}");

    let cut = replace_member(&members, "data.pkl", |b| Some(b[..b.len() / 2].to_vec()));
    let msg = error_of(&cut, "cut_pickle.ckpt");
    assert!(
        msg.contains("data.pkl") && msg.contains("truncated"),
        "{msg}"
    );

    let missing = replace_member(&members, "/data/3", |_| None);
    let msg = error_of(&missing, "missing.ckpt");
    assert!(
        msg.contains("storage data/3") && msg.contains("missing"),
        "{msg}"
    );
    assert!(msg.contains("weights_list[3]"), "{msg}");

    let short = replace_member(&members, "/data/1", |b| Some(b[..100].to_vec()));
    let msg = error_of(&short, "short.ckpt");
    assert!(msg.contains("data/1") && msg.contains("short"), "{msg}");

    let nan = replace_member(&members, "/data/2", |b| {
        let mut b = b.to_vec();
        b[40..44].copy_from_slice(&f32::NAN.to_le_bytes());
        Some(b)
    });
    let msg = error_of(&nan, "nan.ckpt");
    assert!(
        msg.contains("layer 2") && msg.contains("non-finite"),
        "{msg}"
    );

    let inf = replace_member(&members, "/data/9", |_| {
        Some(f32::INFINITY.to_le_bytes().to_vec())
    });
    let msg = error_of(&inf, "inf.ckpt");
    assert!(
        msg.contains("layer 4") && msg.contains("non-finite"),
        "{msg}"
    );

    let msg = error_of(b"hello", "text.ckpt");
    assert!(msg.contains("not a network file"), "{msg}");
}

#[test]
fn crafted_shape_and_layout_errors() {
    let storages = strided_net_storages();
    // The second weight takes 4 inputs, the first gives 3.
    let mut w0 = t("0", 8, 2, &[3, 2], &[1, 3]);
    w0.storage = "DoubleStorage";
    let pickle = lists_pickle(
        &[w0, t("1", 4, 0, &[1, 4], &[4, 1])],
        &[t("2", 4, 1, &[3], &[1]), t("3", 1, 0, &[1], &[1])],
        &[(ACT, "ReLU", &[]), (LIN, "Identity", &[])],
    );
    let mut st = storages.clone();
    st[1].1 = f32_bytes(&[1.0, 2.0, 3.0, 4.0]);
    let msg = error_of(&crafted_checkpoint(pickle, &st), "chain.ckpt");
    assert!(
        msg.contains("layer 1 takes 4 inputs but layer 0 gives 3"),
        "{msg}"
    );

    // A view reaching past its storage is refused while unpickling.
    let pickle = lists_pickle(
        &[t("0", 6, 1, &[3, 2], &[2, 1])],
        &[t("2", 3, 0, &[3], &[1])],
        &[(LIN, "Identity", &[])],
    );
    let msg = error_of(&crafted_checkpoint(pickle, &storages), "view.ckpt");
    assert!(msg.contains("reaches element 6"), "{msg}");

    // Integer tensors are not weights.
    let mut w = t("0", 6, 0, &[3, 2], &[2, 1]);
    w.storage = "LongStorage";
    let pickle = lists_pickle(&[w], &[t("2", 3, 0, &[3], &[1])], &[(LIN, "Identity", &[])]);
    let st = vec![("0", vec![0u8; 48]), ("2", f32_bytes(&[0.0; 3]))];
    let msg = error_of(&crafted_checkpoint(pickle, &st), "int.ckpt");
    assert!(msg.contains("weights_list[0] is a int64 tensor"), "{msg}");

    // Lists of different lengths.
    let pickle = lists_pickle(
        &[t("0", 6, 0, &[3, 2], &[2, 1])],
        &[],
        &[(LIN, "Identity", &[])],
    );
    let msg = error_of(&crafted_checkpoint(pickle, &storages), "len.ckpt");
    assert!(
        msg.contains("weights_list has 1 entries but bias_list has 0"),
        "{msg}"
    );

    // A dict that is no network names what it expected and what it found.
    let mut p = Pk::default();
    p.op(b"\x80\x02}").str("epoch").int(3).op(b"s.");
    let msg = error_of(&crafted_checkpoint(p.0, &[]), "nonet.ckpt");
    assert!(
        msg.contains("no network found") && msg.contains("`epoch`"),
        "{msg}"
    );
}

#[test]
fn sequential_models_and_nested_state_dicts_load() {
    // torch.save(nn.Sequential(Linear(2, 3), GELU('tanh'), Linear(3, 1))) minus the hooks.
    let linear = |p: &mut Pk, w: TestTensor, b: TestTensor| {
        p.global(LIN, "Linear").op(b")\x81}").str("_parameters");
        p.global("collections", "OrderedDict").op(b")R");
        p.str("weight")
            .tensor(w.storage, w.key, w.numel, w.offset, &w.size, &w.stride)
            .op(b"s");
        p.str("bias")
            .tensor(b.storage, b.key, b.numel, b.offset, &b.size, &b.stride)
            .op(b"s");
        p.op(b"s").str("in_features").int(w.size[1]).op(b"sb");
    };
    let mut p = Pk::default();
    p.op(b"\x80\x02")
        .global("torch.nn.modules.container", "Sequential")
        .op(b")\x81}");
    p.str("_modules")
        .global("collections", "OrderedDict")
        .op(b")R");
    p.str("0");
    linear(
        &mut p,
        t("0", 6, 0, &[3, 2], &[2, 1]),
        t("1", 3, 0, &[3], &[1]),
    );
    p.op(b"s")
        .str("1")
        .global(ACT, "GELU")
        .op(b")\x81}")
        .str("approximate")
        .str("tanh")
        .op(b"sbs");
    p.str("2");
    linear(
        &mut p,
        t("2", 3, 0, &[1, 3], &[3, 1]),
        t("3", 1, 0, &[1], &[1]),
    );
    p.op(b"ssb.");
    let st = vec![
        ("0", f32_bytes(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0])),
        ("1", f32_bytes(&[0.0; 3])),
        ("2", f32_bytes(&[1.0, 1.0, 1.0])),
        ("3", f32_bytes(&[0.0])),
    ];
    let c =
        read_torch_checkpoint(&crafted_checkpoint(p.0, &st), Path::new("seq.pt"), None).unwrap();
    assert_eq!(c.layout, TorchLayout::Modules);
    let acts: Vec<Activation> = c
        .file
        .network
        .layers()
        .iter()
        .map(|l| l.activation)
        .collect();
    assert_eq!(
        acts,
        vec![Activation::Gelu { tanh_approx: true }, Activation::Identity]
    );

    // {'state_dict': OrderedDict('0.weight': …, '0.bias': …, '2.weight': …, '2.bias': …)}
    let mut p = Pk::default();
    p.op(b"\x80\x02}")
        .str("state_dict")
        .global("collections", "OrderedDict")
        .op(b")R(");
    p.str("0.weight")
        .tensor("FloatStorage", "0", 6, 0, &[3, 2], &[2, 1]);
    p.str("0.bias")
        .tensor("FloatStorage", "1", 3, 0, &[3], &[1]);
    p.str("2.weight")
        .tensor("FloatStorage", "2", 3, 0, &[1, 3], &[3, 1]);
    p.op(b"us.");
    // A state dict that is not the original's own class stores no activations: it is never
    // run with assumed ones (issue 14); the error names the option and the layers.
    let bytes = crafted_checkpoint(p.0, &st);
    let err = read_torch_checkpoint(&bytes, Path::new("sd.pt"), None).unwrap_err();
    assert!(err.is_usage(), "{err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("sd.pt: ") && msg.contains("--activations") && msg.contains("2→3→1"),
        "{msg}"
    );
    let given = [Activation::Relu, Activation::Identity];
    let c = read_torch_checkpoint(&bytes, Path::new("sd.pt"), Some(&given)).unwrap();
    assert_eq!(
        c.layout,
        TorchLayout::FlatStateDict {
            prefix: String::new()
        }
    );
    assert_eq!(c.activations, ActivationSource::Given);
    let l = c.file.network.layers();
    assert_eq!(
        (l[0].activation, l[1].activation),
        (Activation::Relu, Activation::Identity)
    );
    assert_eq!(l[1].bias, vec![0.0], "a missing bias is zero");
}

// ---------------------------------------------------------------------------------------
// npz

fn layer(w: &[&[f32]], b: &[f32], a: Activation) -> Layer {
    Layer {
        weight: Mat::from_fn(w.len(), w[0].len(), |i, j| w[i][j]),
        bias: b.to_vec(),
        activation: a,
    }
}

fn sample_points(n: usize, d: usize) -> Mat<f32> {
    Mat::from_fn(n, d, |i, j| {
        (((i * 7919 + j * 104_729) % 1000) as f32 / 500.0) - 1.0
    })
}

#[test]
fn npz_round_trip_is_exact() {
    let dir = scratch("roundtrip");
    // A network with every transform: 3 inputs → 2 Fourier features → 4 → 2.
    let net = Network::new(vec![
        layer(
            &[
                &[1.0, -0.5, 0.25, 2.0],
                &[0.1, 0.2, 0.3, 0.4],
                &[-1.0, 1.0, -1.0, 1.0],
                &[0.5; 4],
            ],
            &[0.1, -0.2, 0.3, 0.0],
            Activation::LeakyRelu {
                negative_slope: 0.2,
            },
        ),
        layer(
            &[&[1.0, 2.0, 3.0, 4.0], &[-1.0, 0.0, 1.0, 1e-3]],
            &[0.5, -0.5],
            Activation::Softplus {
                beta: 2.0,
                threshold: 10.0,
            },
        ),
    ])
    .unwrap();
    let file = NetworkFile {
        network: net,
        input_mean: Some(vec![0.5, -1.0, 2.0]),
        input_std: Some(vec![2.0, 0.5, 4.0]),
        fourier_gauss: Some(Mat::from_fn(3, 2, |i, j| {
            (i as f32 + 1.0) * if j == 0 { 0.3 } else { -0.7 }
        })),
        output_scale: Some(1.5),
        positional: None,
        output_names: Vec::new(),
        input_names: Vec::new(),
    };
    let path = dir.join("net.npz");
    save_npz(&path, &file).unwrap();
    let back = load_npz(&path).unwrap();
    assert_eq!(back.input_mean, file.input_mean);
    assert_eq!(back.input_std, file.input_std);
    assert_eq!(back.output_scale, Some(1.5));
    assert_eq!(shapes(&back.network), shapes(&file.network));
    let x = sample_points(200, 3);
    let (a, b) = (
        file.evaluate(
            x.as_ref(),
            &mut pruningamr::network::ForwardBuffers::default(),
        )
        .to_owned(),
        back.evaluate(
            x.as_ref(),
            &mut pruningamr::network::ForwardBuffers::default(),
        )
        .to_owned(),
    );
    for i in 0..200 {
        for j in 0..2 {
            assert_eq!(a[(i, j)].to_bits(), b[(i, j)].to_bits());
        }
    }
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("net.npz")]);

    // The reference checkpoint, converted: same outputs, and found by content whatever the
    // extension says.
    if let Some(r) = common::reference_if_set() {
        let hos = load_torch_checkpoint(&ckpt(&r, "high_oscillation_small_lists.ckpt")).unwrap();
        let path = dir.join("hos.ckpt");
        save_npz(&path, &hos).unwrap();
        let back = pruningamr::network::load(&path).map(|l| l.file).unwrap();
        let x = sample_points(300, 2);
        let (a, b) = (
            hos.evaluate(
                x.as_ref(),
                &mut pruningamr::network::ForwardBuffers::default(),
            )
            .to_owned(),
            back.evaluate(
                x.as_ref(),
                &mut pruningamr::network::ForwardBuffers::default(),
            )
            .to_owned(),
        );
        for i in 0..300 {
            assert_eq!(a[(i, 0)], b[(i, 0)]);
        }
        let torch_as_npz = dir.join("torch.npz");
        std::fs::copy(ckpt(&r, "high_oscillation_small_lists.ckpt"), &torch_as_npz).unwrap();
        assert_eq!(
            pruningamr::network::load(&torch_as_npz)
                .map(|l| l.file)
                .unwrap()
                .network
                .layers()
                .len(),
            5
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn npz_written_by_numpy_loads_and_evaluates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/numpy_net.npz");
    let file = pruningamr::network::load(&path).map(|l| l.file).unwrap();
    assert_eq!(file.input_dim(), 3);
    assert_eq!(
        file.fourier_gauss.as_ref().map(|g| (g.nrows(), g.ncols())),
        Some((3, 4))
    );
    assert_eq!(
        shapes(&file.network),
        vec![
            (
                8,
                5,
                Activation::LeakyRelu {
                    negative_slope: 0.2
                }
            ),
            (5, 5, Activation::Tanh),
            (5, 2, Activation::Identity)
        ]
    );
    assert_eq!(file.output_scale, Some(3.0));
    // The expected outputs numpy computed in float64, stored as meta_ members.
    let members = unzip(&std::fs::read(&path).unwrap());
    let get = |name: &str| {
        let (_, b) = members.iter().find(|(n, _)| n == name).unwrap();
        let a = parse_npy(b).unwrap();
        let NpyData::Float(v) = a.data else { panic!() };
        (a.shape, v)
    };
    let (xs, x) = get("meta_x.npy");
    let (_, y) = get("meta_y.npy");
    let xm = Mat::from_fn(xs[0], xs[1], |i, j| x[i * xs[1] + j]);
    let out = file
        .evaluate(
            xm.as_ref(),
            &mut pruningamr::network::ForwardBuffers::default(),
        )
        .to_owned();
    let scale = y.iter().fold(0f32, |m, v| m.max(v.abs()));
    let mut worst = 0f32;
    for i in 0..xs[0] {
        for j in 0..2 {
            worst = worst.max((out[(i, j)] - y[i * 2 + j]).abs());
        }
    }
    println!("numpy fixture: max |error| {worst:.3e} of max |output| {scale:.3}");
    assert!(worst <= 1e-4 * scale, "{worst} vs {scale}");
}

/// A `<U` array written here byte by byte, as numpy lays it out.
fn unicode_npy(items: &[&str], width: usize) -> Vec<u8> {
    let mut h = format!(
        "{{'descr': '<U{width}', 'fortran_order': False, 'shape': ({},), }}",
        items.len()
    );
    while (h.len() + 11) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    for s in items {
        let mut chars: Vec<u32> = s.chars().map(u32::from).collect();
        chars.resize(width, 0);
        for c in chars {
            b.extend_from_slice(&c.to_le_bytes());
        }
    }
    b
}

fn npz(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let owned: Vec<(String, Vec<u8>)> = members
        .iter()
        .map(|(n, b)| (format!("{n}.npy"), b.clone()))
        .collect();
    zip_of(&owned)
}

fn two_layer_members() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "weight_0",
            write_npy_f32(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        ),
        ("bias_0", write_npy_f32(&[3], &[0.0, -1.0, 1.0])),
        ("weight_1", write_npy_f32(&[1, 3], &[1.0, -1.0, 2.0])),
        ("bias_1", write_npy_f32(&[1], &[0.5])),
        ("activations", unicode_npy(&["ELU:0.5", "Identity"], 8)),
    ]
}

fn with(base: &[(&'static str, Vec<u8>)], name: &'static str, bytes: Option<Vec<u8>>) -> Vec<u8> {
    let mut m: Vec<(&str, Vec<u8>)> = base.iter().filter(|(n, _)| *n != name).cloned().collect();
    if let Some(b) = bytes {
        m.push((name, b));
    }
    npz(&m)
}

#[test]
fn hand_built_npz_loads_and_bad_ones_are_refused() {
    let base = two_layer_members();
    let ok = pruningamr::network::read(&npz(&base), Path::new("ok.npz"))
        .map(|l| l.file)
        .unwrap();
    assert_eq!(
        ok.network.layers()[0].activation,
        Activation::Elu { alpha: 0.5 }
    );
    // x = (1, -1): a = (-1, -2, 0) → elu₀.₅ = (0.5(e⁻¹−1), 0.5(e⁻²−1), 0); y = a·(1, −1, 2) + 0.5
    let mut buffers = pruningamr::network::ForwardBuffers::default();
    let y = ok.evaluate(
        Mat::from_fn(1, 2, |_, j| if j == 0 { 1.0 } else { -1.0 }).as_ref(),
        &mut buffers,
    );
    let expect = 0.5 * ((-1f32).exp_m1() - (-2f32).exp_m1()) + 0.5;
    assert!((y[(0, 0)] - expect).abs() < 1e-6);

    let cases: Vec<(Vec<u8>, &str)> = vec![
        (with(&base, "bias_1", None), "bias_1 is missing"),
        (with(&base, "activations", None), "activations is missing"),
        (
            with(&base, "weight_1", Some(write_npy_f32(&[1, 4], &[1.0; 4]))),
            "layer 1 takes 4 inputs but layer 0 gives 3",
        ),
        (
            with(
                &base,
                "bias_0",
                Some(write_npy_f32(&[3], &[0.0, f32::NAN, 0.0])),
            ),
            "non-finite",
        ),
        (
            with(
                &base,
                "activations",
                Some(unicode_npy(&["ReLU", "Dropout"], 7)),
            ),
            "activations[1]: unknown activation \"Dropout\"",
        ),
        (
            with(&base, "activations", Some(unicode_npy(&["ReLU"], 4))),
            "activations has shape [1], expected (2,)",
        ),
        (
            with(&base, "input_mean", Some(write_npy_f32(&[2], &[0.0, 0.0]))),
            "input_mean is given without input_std",
        ),
        (
            npz(&[
                base.clone(),
                vec![
                    ("input_mean", write_npy_f32(&[3], &[0.0; 3])),
                    ("input_std", write_npy_f32(&[3], &[1.0; 3])),
                ],
            ]
            .concat()),
            "input_mean has 3 entries and input_std 3, but the input dimension is 2",
        ),
        (
            npz(&[
                base.clone(),
                vec![
                    ("input_mean", write_npy_f32(&[2], &[0.0; 2])),
                    ("input_std", write_npy_f32(&[2], &[1.0, 0.0])),
                ],
            ]
            .concat()),
            "input_std[1] = 0",
        ),
        (
            with(
                &base,
                "fourier_gauss",
                Some(write_npy_f32(&[2, 2], &[1.0; 4])),
            ),
            "fourier_gauss has 2 columns, giving 4 features, but the first layer takes 2",
        ),
        (
            with(&base, "output_scale", Some(write_npy_f32(&[2], &[1.0; 2]))),
            "output_scale has shape [2]",
        ),
        (
            with(&base, "weights_2", Some(write_npy_f32(&[1], &[1.0]))),
            "unknown member weights_2.npy",
        ),
        (
            with(&base, "weight_3", Some(write_npy_f32(&[1, 1], &[1.0]))),
            "weight_2 is missing",
        ),
        (
            with(&base, "weight_0", {
                let b = write_npy_f32(&[3, 2], &[1.0; 6]);
                Some(b[..b.len() - 5].to_vec())
            }),
            "weight_0.npy: the data has 19 bytes but shape [3, 2] of <f4 needs 24 (truncated)",
        ),
        (
            with(&base, "weight_0", {
                let b = write_npy_f32(&[3, 2], &[1.0; 6]);
                Some(b[..100].to_vec())
            }),
            "weight_0.npy: truncated header",
        ),
        (
            with(&base, "activations", Some(write_npy_f32(&[2], &[1.0; 2]))),
            "activations.npy is a <f4 array; it must hold strings",
        ),
    ];
    for (bytes, expected) in cases {
        let msg = error_of(&bytes, "bad.npz");
        assert!(msg.contains(expected), "expected {expected:?} in: {msg}");
    }
    // Members kept for notes are ignored.
    let noted = with(
        &base,
        "meta_note",
        Some(unicode_npy(&["trained by me"], 13)),
    );
    assert!(
        pruningamr::network::read(&noted, Path::new("noted.npz"))
            .map(|l| l.file)
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------------
// Robustness: random mutations end in Ok or Err, never a panic or a hang.

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Mutation rounds: the default, or more through `PRUNINGAMR_FUZZ_ROUNDS` for a longer soak.
fn rounds(default: usize) -> usize {
    std::env::var("PRUNINGAMR_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    for _ in 0..1 + rng.below(4) {
        if d.is_empty() {
            break;
        }
        let i = rng.below(d.len());
        match rng.below(6) {
            0 => d[i] ^= 1 << rng.below(8),
            1 => d[i] = rng.next() as u8,
            2 => d[i] = [0x00, 0xff, 0x7f, 0x80, b'(', b'.', b'R', b'b'][rng.below(8)],
            3 => {
                d.remove(i);
            }
            4 => d.insert(i, rng.next() as u8),
            _ => d.truncate(i),
        }
    }
    d
}

#[test]
fn random_mutations_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let name = Path::new("fuzz.ckpt");
    // A crafted checkpoint needs no reference data; the reference one is used when present.
    let mut seeds = vec![crafted_checkpoint(
        strided_net_pickle(),
        &strided_net_storages(),
    )];
    if let Some(r) = common::reference_if_set() {
        seeds.push(std::fs::read(ckpt(&r, "high_oscillation_small_lists.ckpt")).unwrap());
    }
    seeds.push(npz(&two_layer_members()));
    let (mut ok, mut err) = (0, 0);
    for seed in &seeds {
        let members = unzip(seed);
        for round in 0..rounds(3000) {
            // Raw bytes (mostly caught by the zip layer and CRCs), then valid archives around
            // mutated members (reaching the pickle, npy and layout code).
            let bytes = if round % 3 == 0 {
                mutate(&mut rng, seed)
            } else {
                // Half the time the member that steers everything: data.pkl or activations.
                let k = match members
                    .iter()
                    .position(|(n, _)| n.ends_with("data.pkl") || n.starts_with("activations"))
                {
                    Some(k) if rng.below(2) == 0 => k,
                    _ => rng.below(members.len()),
                };
                let mut m = members.clone();
                m[k].1 = mutate(&mut rng, &m[k].1);
                zip_of(&m)
            };
            match pruningamr::network::read(&bytes, name).map(|l| l.file) {
                Ok(f) => {
                    ok += 1;
                    let x = sample_points(3, f.input_dim());
                    let y = f
                        .evaluate(
                            x.as_ref(),
                            &mut pruningamr::network::ForwardBuffers::default(),
                        )
                        .to_owned();
                    assert_eq!(y.nrows(), 3);
                }
                Err(e) => {
                    err += 1;
                    assert!(e.to_string().starts_with("fuzz.ckpt: "));
                }
            }
        }
    }
    println!("mutations: {ok} loaded, {err} refused");
    assert!(err > ok, "most mutations must be refused");
}

#[test]
fn random_pickles_never_panic() {
    use pruningamr::network::pickle::unpickle;
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let seed = strided_net_pickle();
    let mut refused = 0;
    for _ in 0..rounds(20_000) {
        let p = mutate(&mut rng, &seed);
        refused += usize::from(unpickle(&p).is_err());
    }
    // Pure noise too: random opcodes.
    for _ in 0..rounds(5_000) {
        let n = rng.below(64);
        let p: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        refused += usize::from(unpickle(&p).is_err());
    }
    assert!(refused > rounds(20_000) / 2);
}
