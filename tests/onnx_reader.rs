//! The ONNX graph reader on hand-made graphs (tests/data/readers, expected values from
//! onnx.reference on float64 copies): the patterns it recognises and the errors it names.

mod common;

use common::readers::{expected, read, rel_err};
use pruningamr::network::onnx::{Act, Encoding, OnnxError, OnnxMlp, read_onnx};

const TOL: f64 = 1e-6;

/// Reads NAME.onnx and checks its network against NAME.expected.txt at every grid point.
fn check(name: &str) -> OnnxMlp {
    let mlp = read_onnx(&read(&format!("{name}.onnx"))).unwrap_or_else(|e| panic!("{name}: {e}"));
    let cases = expected(&format!("{name}.expected.txt"));
    assert!(cases.len() >= 25, "{name}: too few grid points");
    let mut worst = 0.0f64;
    for (x, want) in &cases {
        let got = mlp.eval_f64(x);
        assert_eq!(got.len(), want.len(), "{name}: output dimension");
        for (g, w) in got.iter().zip(want) {
            worst = worst.max(rel_err(*g, *w));
        }
    }
    eprintln!(
        "{name}: worst relative error {worst:.3e} over {} points",
        cases.len()
    );
    assert!(worst <= TOL, "{name}: worst relative error {worst:.3e}");
    mlp
}

fn acts(m: &OnnxMlp) -> Vec<Act> {
    m.layers.iter().map(|l| l.act).collect()
}

#[test]
fn gemm_trans_b_1_with_alpha_beta() {
    let m = check("gemm_transb1");
    assert_eq!(m.input_dim, 3);
    assert_eq!(acts(&m), [Act::Relu, Act::Tanh, Act::Identity]);
    assert_eq!(m.layers[0].weight.shape, [16, 3]);
    assert!(m.encoding.is_none() && m.input_affine.is_none() && m.output_scale.is_none());
}

#[test]
fn gemm_trans_b_0_float_data_and_activations() {
    let m = check("gemm_transb0");
    assert_eq!(m.layers[0].weight.shape, [12, 3]);
    assert_eq!(m.output_dim(), 2);
    assert_eq!(
        acts(&m),
        [
            Act::LeakyRelu(0.2),
            Act::Softplus {
                beta: 1.0,
                threshold: f32::INFINITY
            },
            Act::Elu(0.7),
            Act::Sigmoid,
            Act::Identity
        ]
    );
}

#[test]
fn matmul_add_affine_erf_gelu_constants_output_scale() {
    let m = check("matmul_add");
    assert_eq!(
        acts(&m),
        [Act::Gelu { tanh_approx: false }, Act::Tanh, Act::Identity]
    );
    let (a, b) = m.input_affine.clone().expect("input affine");
    assert_eq!(a, [2.0, 0.5, 1.0]);
    assert_eq!(b, [-0.25, -0.25, -0.25]);
    assert_eq!(m.output_scale, Some(3.0));
}

#[test]
fn siren_omega_kept_as_sine() {
    let m = check("siren");
    assert_eq!(
        acts(&m),
        [
            Act::Sine { omega: 30.0 },
            Act::Sine { omega: 30.0 },
            Act::Sine { omega: 30.0 },
            Act::Identity
        ]
    );
    assert_eq!(m.output_scale, Some(0.5));
    assert_eq!(m.input_dim, 2);
}

#[test]
fn fourier_sin_first() {
    let m = check("fourier_sin_first");
    let Some(Encoding::Fourier {
        matrix,
        order_sin_first,
        scale,
    }) = &m.encoding
    else {
        panic!("no encoding")
    };
    assert!(*order_sin_first);
    assert_eq!(matrix.shape, [2, 8]);
    assert!((f64::from(*scale) - 2.0 * std::f64::consts::PI).abs() < 1e-6);
    assert_eq!(m.layers[0].weight.shape, [16, 16]);
}

#[test]
fn fourier_cos_first_duplicated_branches() {
    let m = check("fourier_cos_first");
    let Some(Encoding::Fourier {
        matrix,
        order_sin_first,
        scale,
    }) = &m.encoding
    else {
        panic!("no encoding")
    };
    assert!(!*order_sin_first);
    assert_eq!(matrix.shape, [2, 6]);
    // The 2π multiplies x inside each branch, so it is the encoding's scale.
    assert!((f64::from(*scale) - 2.0 * std::f64::consts::PI).abs() < 1e-6);
    assert!(m.input_affine.is_none());
}

#[test]
fn silu_as_mul_sigmoid() {
    let m = check("silu");
    assert_eq!(acts(&m), [Act::Silu, Act::Silu, Act::Identity]);
}

#[test]
fn gelu_opset_20_both_approximations() {
    let m = check("gelu_opset20");
    assert_eq!(
        acts(&m),
        [
            Act::Gelu { tanh_approx: false },
            Act::Gelu { tanh_approx: true },
            Act::Identity
        ]
    );
}

#[test]
fn tanh_gelu_decomposition_softplus_beta_constant_first_sub() {
    let m = check("decompositions");
    // softplus(2z)/2 is kept exactly as Softplus(beta 1) on 2·(Wx+b), the /2 and the
    // following "1 - h" folded into the last layer.
    assert_eq!(
        acts(&m),
        [
            Act::Gelu { tanh_approx: true },
            Act::Softplus {
                beta: 1.0,
                threshold: f32::INFINITY
            },
            Act::Identity
        ]
    );
    assert_eq!(m.output_dim(), 2);
}

#[test]
fn float64_double_data() {
    let m = check("float64");
    assert_eq!(acts(&m), [Act::Tanh, Act::Identity]);
}

#[test]
fn unsupported_op_is_named() {
    let e = read_onnx(&read("unsupported_op.onnx")).unwrap_err();
    assert!(
        matches!(&e, OnnxError::UnsupportedOp { node, op, .. } if node == "/net/Softsign_1" && op == "Softsign"),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("/net/Softsign_1") && msg.contains("Softsign"),
        "{msg}"
    );
}

#[test]
fn residual_add_is_a_skip_connection() {
    let e = read_onnx(&read("skip_add.onnx")).unwrap_err();
    assert!(
        matches!(&e, OnnxError::SkipConnection { node, op } if node == "/net/Add_1" && op == "Add"),
        "{e:?}"
    );
    assert!(e.to_string().contains("skip connection"));
}

#[test]
fn input_concat_is_a_skip_connection() {
    let e = read_onnx(&read("skip_concat.onnx")).unwrap_err();
    assert!(
        matches!(&e, OnnxError::SkipConnection { node, op } if node == "/net/Concat_1" && op == "Concat"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string().split(';').next().unwrap(),
        "node /net/Concat_1: op Concat with two data inputs (a skip connection) is not supported"
    );
}

#[test]
fn external_data_is_refused() {
    let e = read_onnx(&read("external.onnx")).unwrap_err();
    assert!(
        matches!(&e, OnnxError::ExternalData { location, .. } if location == "external.onnx.data"),
        "{e:?}"
    );
    assert!(e.to_string().contains("save_as_external_data=False"));
}

#[test]
fn truncated_files_are_errors() {
    for name in ["gemm_transb1", "siren", "fourier_sin_first", "matmul_add"] {
        let bytes = read(&format!("{name}.onnx"));
        for cut in [
            1,
            7,
            50,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - 9,
            bytes.len() - 1,
        ] {
            let r = read_onnx(&bytes[..cut]);
            assert!(
                r.is_err(),
                "{name} cut at {cut} of {} was accepted",
                bytes.len()
            );
        }
    }
    assert!(matches!(read_onnx(&[]), Err(OnnxError::NoGraph)));
}

/// Header-level lies: a tensor that claims more elements than its bytes.
#[test]
fn tensor_claiming_more_data_than_present() {
    use prost::Message;
    use pruningamr::network::onnx::proto::ModelProto;
    let mut m = ModelProto::decode(read("gemm_transb1.onnx").as_slice()).unwrap();
    let g = m.graph.as_mut().unwrap();
    g.initializer[0].dims = vec![1 << 20, 1 << 20];
    let e = read_onnx(&m.encode_to_vec()).unwrap_err();
    assert!(matches!(e, OnnxError::TooLarge { .. }), "{e:?}");
    let g = m.graph.as_mut().unwrap();
    g.initializer[0].dims = vec![16, 4];
    let e = read_onnx(&m.encode_to_vec()).unwrap_err();
    assert!(matches!(e, OnnxError::BadTensor { .. }), "{e:?}");
    let g = m.graph.as_mut().unwrap();
    g.initializer[0].dims = vec![-3, 4];
    let e = read_onnx(&m.encode_to_vec()).unwrap_err();
    assert!(matches!(e, OnnxError::BadTensor { .. }), "{e:?}");
}

/// The crate's network (ω folded, the encoding turned into the original's [cos, sin]
/// convention, the input affine map as a standardization or folded into the first layer)
/// gives the graph's values, in f32.
#[test]
fn adapted_networks_give_the_graphs_values() {
    for name in [
        "gemm_transb1",
        "gemm_transb0",
        "matmul_add",
        "siren",
        "fourier_sin_first",
        "fourier_cos_first",
        "silu",
        "gelu_opset20",
        "decompositions",
        "float64",
    ] {
        let path = std::path::PathBuf::from(format!("{name}.onnx"));
        let file = pruningamr::network::read(&read(&format!("{name}.onnx")), &path)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .file;
        let cases = expected(&format!("{name}.expected.txt"));
        let d = cases[0].0.len();
        let x = faer::Mat::from_fn(cases.len(), d, |i, j| cases[i].0[j] as f32);
        let y = file
            .evaluate(
                x.as_ref(),
                &mut pruningamr::network::ForwardBuffers::default(),
            )
            .to_owned();
        let scale = cases
            .iter()
            .flat_map(|(_, w)| w.iter())
            .fold(0f64, |m, v| m.max(v.abs()));
        let mut worst = 0f64;
        for (i, (_, want)) in cases.iter().enumerate() {
            for (j, w) in want.iter().enumerate() {
                worst = worst.max((f64::from(y[(i, j)]) - w).abs() / scale.max(1e-2));
            }
        }
        eprintln!("{name}: worst error {worst:.3e} of the largest output");
        assert!(worst <= 2e-5, "{name}: {worst:e}");
    }
}
