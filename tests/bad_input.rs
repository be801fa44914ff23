//! Bad input end to end (SPEC §7): every case runs the `pruningamr` binary and checks the exit
//! status (2 usage, 1 input/IO), that stderr is one line `pruningamr: …` naming the file or
//! option, and that no `it_*` file (nor a temporary one) was left under the output folder.

mod common;

use common::pickle::Pk;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use pruningamr::network::npy::{NpyData, parse_npy, write_npy_f32, write_npy_text};

const USAGE: i32 = 2;
const FAILED: i32 = 1;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A fresh, empty folder for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("bad_input")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Output files a failed run must not leave: `it_*` and temporaries (`.name.tmpPID`).
fn left_output(out: &Path) -> Vec<PathBuf> {
    files_under(out)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("it_") || name.contains(".tmp")
        })
        .collect()
}

/// Runs the binary through `wrap` (the program and its arguments → the command to spawn).
fn spawn(
    args: &[&str],
    out: &Path,
    wrap: impl FnOnce(&Path, Vec<String>) -> Command,
) -> (i32, String) {
    let mut full: Vec<String> = vec!["--quiet".into(), "--output".into()];
    full.push(out.display().to_string());
    full.extend(args.iter().map(|s| s.to_string()));
    let bin = Path::new(env!("CARGO_BIN_EXE_pruningamr"));
    let o = wrap(bin, full).output().unwrap();
    let code = o.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&o.stderr).into_owned())
}

fn direct(bin: &Path, args: Vec<String>) -> Command {
    let mut c = Command::new(bin);
    c.args(args);
    c
}

/// Runs the binary with `args` (and `--quiet --output <out>`) and checks the refusal: exit
/// status, one line `pruningamr: …` holding every `needle`, no it_* or temporary file.
/// Returns the message.
fn refused_in(out: &Path, args: &[&str], code: i32, needles: &[&str]) -> String {
    refused_with(out, args, code, needles, direct)
}

fn refused_with(
    out: &Path,
    args: &[&str],
    code: i32,
    needles: &[&str],
    wrap: impl FnOnce(&Path, Vec<String>) -> Command,
) -> String {
    let (got, stderr) = spawn(args, out, wrap);
    assert_eq!(got, code, "exit status for {args:?}; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "one line of stderr for {args:?}: {stderr:?}"
    );
    let msg = lines[0];
    assert!(
        msg.starts_with("pruningamr: "),
        "message form for {args:?}: {msg}"
    );
    for n in needles {
        assert!(msg.contains(n), "{n:?} missing from the message: {msg}");
    }
    // Each part said once (no `file: file: …`, no cause repeated after its own text).
    let parts: Vec<&str> = msg.split(": ").collect();
    for (i, p) in parts.iter().enumerate() {
        assert!(!parts[i + 1..].contains(p), "{p:?} repeated in: {msg}");
    }
    let left = left_output(out);
    assert!(left.is_empty(), "{args:?} left {left:?}");
    msg.to_owned()
}

/// [`refused_in`] with a fresh output folder named after the test.
fn refused(test: &str, args: &[&str], code: i32, needles: &[&str]) -> String {
    let dir = scratch(test);
    refused_in(&dir.join("out"), args, code, needles)
}

fn usage(test: &str, args: &[&str], option: &str) -> String {
    refused(test, args, USAGE, &[option])
}

// ---------------------------------------------------------------------------------------
// Usage: exit 2 before any work, the message names the option.

#[test]
fn usage_zero_id_samples() {
    usage("zero_id", &["--ID_samples", "0"], "--ID_samples");
}

#[test]
fn usage_zero_error_samples() {
    usage("zero_err", &["--error_samples", "0"], "--error_samples");
}

#[test]
fn usage_negative_samples() {
    let msg = usage("neg_samples", &["--ID_samples", "-5"], "--ID_samples");
    assert!(msg.contains("'-5'"), "{msg}");
}

#[test]
fn usage_negative_threshold() {
    usage("neg_thr", &["--threshold", "-1"], "--threshold");
}

#[test]
fn usage_nan_threshold() {
    usage("nan_thr", &["--threshold", "nan"], "--threshold");
}

#[test]
fn usage_infinite_prop_threshold() {
    usage("inf_prop", &["--prop_threshold", "inf"], "--prop_threshold");
}

#[test]
fn usage_epsilon_zero() {
    usage("eps0", &["--epsilon", "0"], "--epsilon");
}

#[test]
fn usage_epsilon_one() {
    usage("eps1", &["--epsilon", "1"], "--epsilon");
}

#[test]
fn usage_epsilon_negative() {
    usage("epsneg", &["--epsilon", "-0.5"], "--epsilon");
}

#[test]
fn usage_nan_time_slice() {
    usage("nan_t", &["--time_slice", "nan"], "--time_slice");
}

#[test]
fn usage_zero_threads() {
    usage("threads0", &["--threads", "0"], "--threads");
}

#[test]
fn usage_unknown_key() {
    let msg = usage("unknown_key", &["--INR_key", "nope"], "--INR_key");
    assert!(msg.contains("\"nope\"") && msg.contains("hos"), "{msg}");
}

#[test]
fn usage_licensed_ct_key_says_where_to_put_it() {
    let msg = usage("ct2", &["--INR_key", "CT2"], "--INR_key");
    assert!(
        msg.contains("checkpoints/CT2.ckpt") && msg.contains("--checkpoint"),
        "{msg}"
    );
}

#[test]
fn usage_checkpoint_without_a_start_mesh() {
    // A checkpoint whose key is not built in needs --mesh.
    let dir = scratch("no_mesh");
    let net = dir.join("mine.npz");
    std::fs::copy(repo("checkpoints/hos.npz"), &net).unwrap();
    let net = net.display().to_string();
    refused_in(
        &dir.join("out"),
        &["--checkpoint", &net],
        USAGE,
        &["--mesh", "\"mine\""],
    );
}

#[test]
fn usage_value_that_does_not_parse() {
    usage("not_int", &["--max_it", "four"], "--max_it");
}

#[test]
fn usage_missing_value() {
    usage("no_value", &["--mesh"], "--mesh");
}

#[test]
fn usage_unknown_option() {
    usage("unknown_opt", &["--bogus", "1"], "--bogus");
}

#[test]
fn usage_original_run_too_large_for_memory() {
    let msg = usage("too_large", &["--original", "--max_it", "14"], "--max_it");
    assert!(msg.contains("memory"), "{msg}");
}

#[test]
fn usage_rmse_samples_too_many_for_memory() {
    let msg = usage(
        "rmse_too_large",
        &["--rmse_samples", "1000000000000000"],
        "--rmse_samples",
    );
    assert!(msg.contains("memory"), "{msg}");
}

#[test]
fn usage_uniform_part_of_adaptive_run_too_large_for_memory() {
    let msg = usage(
        "too_large_adaptive",
        &["--num_uniform_ref", "14", "--max_it", "14"],
        "--num_uniform_ref",
    );
    assert!(msg.contains("memory"), "{msg}");
}

// ---------------------------------------------------------------------------------------
// Network files: exit 1, the message names the file.

/// Writes `bytes` as `name` in the test's folder and runs with it as the checkpoint on the
/// 2-D start mesh of hos; returns the message.
fn bad_checkpoint(test: &str, name: &str, bytes: &[u8], needles: &[&str]) -> String {
    bad_checkpoint_on(test, name, bytes, "meshes/rectangle.mesh", needles)
}

/// [`bad_checkpoint`] on a start mesh of the repository.
fn bad_checkpoint_on(test: &str, name: &str, bytes: &[u8], mesh: &str, needles: &[&str]) -> String {
    let dir = scratch(test);
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let p = path.display().to_string();
    let mesh = repo(mesh).display().to_string();
    let mut all = vec![p.as_str()];
    all.extend_from_slice(needles);
    refused_in(
        &dir.join("out"),
        &["--checkpoint", &p, "--mesh", &mesh],
        FAILED,
        &all,
    )
}

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
    let mut a = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..a.len())
        .map(|i| {
            let mut f = a.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().into_owned(), b)
        })
        .collect()
}

/// The members with the one named `name` changed by `f` (removed when it returns None).
fn edit(
    members: &[(String, Vec<u8>)],
    name: &str,
    f: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> Vec<u8> {
    assert!(members.iter().any(|(n, _)| n == name), "no member {name}");
    let changed: Vec<(String, Vec<u8>)> = members
        .iter()
        .filter_map(|(n, b)| match n == name {
            true => f(b).map(|nb| (n.clone(), nb)),
            false => Some((n.clone(), b.clone())),
        })
        .collect();
    zip_of(&changed)
}

/// The original's lists layout: weights (key, rows, cols), biases (key, len), activations.
fn lists_pickle(
    weights: &[(&str, i32, i32)],
    biases: &[(&str, i32)],
    acts: &[(&str, &str)],
) -> Vec<u8> {
    let mut p = Pk::default();
    p.op(b"\x80\x02}(");
    p.str("weights_list").op(b"](");
    for &(k, r, c) in weights {
        p.float_tensor(k, r * c, &[r, c]);
    }
    p.op(b"e").str("bias_list").op(b"](");
    for &(k, n) in biases {
        p.float_tensor(k, n, &[n]);
    }
    p.op(b"e").str("act_list").op(b"](");
    for (m, c) in acts {
        p.module(m, c, &[]);
    }
    p.op(b"eu.");
    p.0
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

const ACT: &str = "torch.nn.modules.activation";
const LIN: &str = "torch.nn.modules.linear";

/// A torch.save archive of a 2 → 3 → 1 network (ReLU, Identity) in the original's layout.
fn torch_members() -> Vec<(String, Vec<u8>)> {
    let pickle = lists_pickle(
        &[("0", 3, 2), ("1", 1, 3)],
        &[("2", 3), ("3", 1)],
        &[(ACT, "ReLU"), (LIN, "Identity")],
    );
    torch_archive(
        pickle,
        &[
            ("0", f32_bytes(&[1.0, 2.0, -3.0, 4.0, 5.0, -6.0])),
            ("1", f32_bytes(&[1.0, -1.0, 0.5])),
            ("2", f32_bytes(&[0.1, 0.2, 0.3])),
            ("3", f32_bytes(&[0.25])),
        ],
    )
}

fn torch_archive(pickle: Vec<u8>, storages: &[(&str, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut m = vec![
        ("net/data.pkl".to_owned(), pickle),
        ("net/byteorder".to_owned(), b"little".to_vec()),
    ];
    for (k, b) in storages {
        m.push((format!("net/data/{k}"), b.clone()));
    }
    m.push(("net/version".to_owned(), b"3\n".to_vec()));
    m
}

#[test]
fn crafted_torch_checkpoint_is_valid() {
    // The base every torch case below breaks in one way: it must run.
    let dir = scratch("torch_ok");
    let path = dir.join("net.ckpt");
    std::fs::write(&path, zip_of(&torch_members())).unwrap();
    let p = path.display().to_string();
    let mesh = repo("meshes/rectangle.mesh").display().to_string();
    let (code, stderr) = spawn(
        &[
            "--checkpoint",
            &p,
            "--mesh",
            &mesh,
            "--original",
            "--max_it",
            "1",
        ],
        &dir.join("out"),
        direct,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(dir.join("out/net_original/it_0.mesh").is_file());
}

#[test]
fn checkpoint_missing() {
    let dir = scratch("ckpt_missing");
    let p = dir.join("absent.ckpt").display().to_string();
    let mesh = repo("meshes/rectangle.mesh").display().to_string();
    refused_in(
        &dir.join("out"),
        &["--checkpoint", &p, "--mesh", &mesh],
        FAILED,
        &[&p, "cannot read"],
    );
}

#[test]
fn checkpoint_is_a_directory() {
    let dir = scratch("ckpt_dir");
    let d = dir.join("folder.ckpt");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.display().to_string();
    let mesh = repo("meshes/rectangle.mesh").display().to_string();
    refused_in(
        &dir.join("out"),
        &["--checkpoint", &p, "--mesh", &mesh],
        FAILED,
        &[&p, "cannot read"],
    );
}

#[test]
fn checkpoint_empty() {
    bad_checkpoint("ckpt_empty", "empty.ckpt", b"", &["not a network file"]);
}

#[test]
fn checkpoint_not_a_zip() {
    bad_checkpoint(
        "ckpt_text",
        "notes.ckpt",
        b"these are my notes\n",
        &["not a network file"],
    );
}

#[test]
fn checkpoint_zip_garbage() {
    bad_checkpoint(
        "ckpt_garbage",
        "garbage.ckpt",
        b"PK\x03\x04\x14\x00garbage garbage garbage",
        &["zip archive"],
    );
}

#[test]
fn checkpoint_truncated_zip() {
    let bytes = zip_of(&torch_members());
    bad_checkpoint(
        "ckpt_trunc",
        "cut.ckpt",
        &bytes[..bytes.len() * 2 / 3],
        &["zip archive"],
    );
}

#[test]
fn checkpoint_truncated_npz() {
    let bytes = std::fs::read(repo("checkpoints/hos.npz")).unwrap();
    bad_checkpoint(
        "npz_trunc",
        "cut.npz",
        &bytes[..bytes.len() / 2],
        &["zip archive"],
    );
}

#[test]
fn checkpoint_legacy_bare_pickle() {
    bad_checkpoint(
        "ckpt_legacy",
        "old.pt",
        b"\x80\x02}q\x00.",
        &["legacy torch.save format"],
    );
}

#[test]
fn checkpoint_truncated_pickle() {
    let bytes = edit(&torch_members(), "net/data.pkl", |b| {
        Some(b[..b.len() / 2].to_vec())
    });
    bad_checkpoint(
        "pkl_trunc",
        "cut_pickle.ckpt",
        &bytes,
        &["data.pkl", "truncated"],
    );
}

#[test]
fn checkpoint_garbage_pickle() {
    let bytes = edit(&torch_members(), "net/data.pkl", |_| {
        Some(b"\x80\x02\xfe\xfd\xfc garbage".to_vec())
    });
    bad_checkpoint(
        "pkl_garbage",
        "garbage_pickle.ckpt",
        &bytes,
        &["data.pkl", "opcode"],
    );
}

#[test]
fn checkpoint_pickle_of_no_network() {
    let mut p = Pk::default();
    p.op(b"\x80\x02}").str("epoch").int(3).op(b"s.");
    let bytes = zip_of(&torch_archive(p.0, &[]));
    bad_checkpoint(
        "pkl_nonet",
        "epoch.ckpt",
        &bytes,
        &["no network found", "`epoch`"],
    );
}

#[test]
fn checkpoint_missing_storage() {
    let bytes = edit(&torch_members(), "net/data/1", |_| None);
    bad_checkpoint(
        "storage_missing",
        "nostorage.ckpt",
        &bytes,
        &["data/1", "missing", "weights_list[1]"],
    );
}

#[test]
fn checkpoint_short_storage() {
    let bytes = edit(&torch_members(), "net/data/0", |b| Some(b[..10].to_vec()));
    bad_checkpoint("storage_short", "short.ckpt", &bytes, &["data/0", "short"]);
}

#[test]
fn checkpoint_forbidden_global_runs_nothing() {
    let dir = scratch("forbidden_global");
    let marker = dir.join("pwned");
    let mut p = Pk::default();
    p.op(b"\x80\x02")
        .global("os", "system")
        .op(b"(")
        .str(&format!("touch {}", marker.display()))
        .op(b"tR.");
    let bytes = zip_of(&torch_archive(p.0, &[]));
    bad_checkpoint(
        "forbidden_global",
        "evil.ckpt",
        &bytes,
        &["`os.system`", "allow-list"],
    );
    assert!(!marker.exists(), "the pickle ran a command");
}

#[test]
fn checkpoint_forbidden_class() {
    let pickle = lists_pickle(
        &[("0", 3, 2), ("1", 1, 3)],
        &[("2", 3), ("3", 1)],
        &[("torch.nn.modules.dropout", "Dropout"), (LIN, "Identity")],
    );
    let m = torch_members();
    let bytes = edit(&m, "net/data.pkl", |_| Some(pickle.clone()));
    bad_checkpoint(
        "forbidden_class",
        "dropout.ckpt",
        &bytes,
        &["`torch.nn.modules.dropout.Dropout`", "allow-list"],
    );
}

#[test]
fn checkpoint_shapes_do_not_chain() {
    // The second layer takes 4 inputs; the first gives 3.
    let pickle = lists_pickle(
        &[("0", 3, 2), ("1", 1, 4)],
        &[("2", 3), ("3", 1)],
        &[(ACT, "ReLU"), (LIN, "Identity")],
    );
    let m = torch_members();
    let bytes = edit(&m, "net/data.pkl", |_| Some(pickle.clone()));
    let bytes = edit(&unzip(&bytes), "net/data/1", |_| Some(f32_bytes(&[1.0; 4])));
    bad_checkpoint(
        "torch_chain",
        "chain.ckpt",
        &bytes,
        &["layer 1 takes 4 inputs but layer 0 gives 3"],
    );
}

#[test]
fn checkpoint_nan_weight() {
    let bytes = edit(&torch_members(), "net/data/0", |b| {
        let mut b = b.to_vec();
        b[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
        Some(b)
    });
    bad_checkpoint("torch_nan", "nan.ckpt", &bytes, &["layer 0", "non-finite"]);
}

#[test]
fn checkpoint_infinite_bias() {
    let bytes = edit(&torch_members(), "net/data/3", |_| {
        Some(f32::INFINITY.to_le_bytes().to_vec())
    });
    bad_checkpoint("torch_inf", "inf.ckpt", &bytes, &["layer 1", "non-finite"]);
}

/// The members of a shipped npz network.
fn shipped(name: &str) -> Vec<(String, Vec<u8>)> {
    unzip(&std::fs::read(repo(&format!("checkpoints/{name}"))).unwrap())
}

/// A float npy member changed by `f` (shape and values).
fn edit_floats(
    members: &[(String, Vec<u8>)],
    name: &str,
    f: impl Fn(&mut Vec<usize>, &mut Vec<f32>),
) -> Vec<u8> {
    edit(members, name, |b| {
        let a = parse_npy(b).unwrap();
        let NpyData::Float(mut v) = a.data else {
            panic!("{name} holds no floats")
        };
        let mut shape = a.shape;
        f(&mut shape, &mut v);
        Some(write_npy_f32(&shape, &v))
    })
}

#[test]
fn npz_nan_weight() {
    let bytes = edit_floats(&shipped("hos.npz"), "weight_2.npy", |_, v| v[7] = f32::NAN);
    bad_checkpoint("npz_nan", "nan.npz", &bytes, &["layer 2", "non-finite"]);
}

#[test]
fn npz_infinite_weight() {
    let bytes = edit_floats(&shipped("hos.npz"), "bias_0.npy", |_, v| {
        v[0] = f32::NEG_INFINITY
    });
    bad_checkpoint("npz_inf", "inf.npz", &bytes, &["layer 0", "non-finite"]);
}

#[test]
fn npz_shapes_do_not_chain() {
    // weight_1 loses a column: it takes 31 inputs where layer 0 gives 32.
    let bytes = edit_floats(&shipped("hos.npz"), "weight_1.npy", |shape, v| {
        let (rows, cols) = (shape[0], shape[1]);
        *v = (0..rows * (cols - 1))
            .map(|i| v[i / (cols - 1) * cols + i % (cols - 1)])
            .collect();
        shape[1] = cols - 1;
    });
    bad_checkpoint(
        "npz_chain",
        "chain.npz",
        &bytes,
        &["layer 1 takes 31 inputs but layer 0 gives 32"],
    );
}

#[test]
fn npz_truncated_member() {
    let bytes = edit(&shipped("hos.npz"), "weight_0.npy", |b| {
        Some(b[..b.len() - 6].to_vec())
    });
    bad_checkpoint(
        "npz_short",
        "short.npz",
        &bytes,
        &["weight_0.npy", "truncated"],
    );
}

#[test]
fn npz_unknown_activation() {
    let bytes = edit(&shipped("hos.npz"), "activations.npy", |b| {
        let a = parse_npy(b).unwrap();
        let NpyData::Text(mut names) = a.data else {
            panic!("activations are not text")
        };
        names[1] = "Swishy".into();
        Some(write_npy_text(&names))
    });
    bad_checkpoint(
        "npz_act",
        "act.npz",
        &bytes,
        &["activations[1]", "\"Swishy\""],
    );
}

#[test]
fn npz_missing_bias() {
    let bytes = edit(&shipped("hos.npz"), "bias_3.npy", |_| None);
    bad_checkpoint("npz_nobias", "nobias.npz", &bytes, &["bias_3 is missing"]);
}

#[test]
fn npz_input_transform_does_not_fit() {
    // NS_PINN standardizes 3 inputs; a mean of 2 entries cannot be right.
    let bytes = edit_floats(&shipped("NS_PINN.npz"), "input_mean.npy", |shape, v| {
        v.truncate(2);
        shape[0] = 2;
    });
    bad_checkpoint_on(
        "npz_mean",
        "mean.npz",
        &bytes,
        "meshes/NS_PINN_2x2x10_z0_20.mesh",
        &["input_mean has 2 entries"],
    );
}

#[test]
fn npz_zero_standard_deviation() {
    let bytes = edit_floats(&shipped("NS_PINN.npz"), "input_std.npy", |_, v| v[1] = 0.0);
    bad_checkpoint_on(
        "npz_std",
        "std.npz",
        &bytes,
        "meshes/NS_PINN_2x2x10_z0_20.mesh",
        &["input_std[1]"],
    );
}

#[test]
fn network_input_does_not_fit_the_mesh() {
    // A 2-D network on a 3-D mesh; the message names both files.
    let net = repo("checkpoints/hos.npz").display().to_string();
    let mesh = repo("meshes/box-hex.mesh").display().to_string();
    refused(
        "dim_2_on_3",
        &["--checkpoint", &net, "--mesh", &mesh],
        FAILED,
        &[
            &net,
            &mesh,
            "takes 2 input coordinates but a 3-D mesh gives 3",
        ],
    );
    let net = repo("checkpoints/NS_PINN.npz").display().to_string();
    let mesh = repo("meshes/rectangle.mesh").display().to_string();
    refused(
        "dim_3_on_2",
        &["--checkpoint", &net, "--mesh", &mesh],
        FAILED,
        &[&net, "takes 3 input coordinates but a 2-D mesh gives 2"],
    );
}

#[test]
fn network_input_does_not_fit_the_key_transform() {
    // A CT key slices time: a 3-D mesh gives 4 coordinates, the 3-input network takes 3.
    let net = repo("checkpoints/NS_PINN.npz").display().to_string();
    let mesh = repo("meshes/box-hex.mesh").display().to_string();
    refused(
        "ct_transform",
        &[
            "--checkpoint",
            &net,
            "--mesh",
            &mesh,
            "--INR_key",
            "CT_mine",
        ],
        FAILED,
        &[&net, "plus the time slice gives 4"],
    );
}

#[test]
#[ignore = "needs PRUNINGAMR_REFERENCE"]
fn reference_checkpoint_truncated() {
    let r = common::reference_dir();
    let bytes = std::fs::read(r.join("checkpoints/high_oscillation_small_lists.ckpt")).unwrap();
    let members = unzip(&bytes);
    let pkl = members
        .iter()
        .map(|(n, _)| n.clone())
        .find(|n| n.ends_with("data.pkl"))
        .unwrap();
    let cut = edit(&members, &pkl, |b| Some(b[..b.len() - 20].to_vec()));
    bad_checkpoint(
        "ref_cut_pickle",
        "ref_cut.ckpt",
        &cut,
        &["data.pkl", "truncated"],
    );
    bad_checkpoint(
        "ref_cut_zip",
        "ref_cut_zip.ckpt",
        &bytes[..bytes.len() - 100],
        &["zip archive"],
    );
}

// ---------------------------------------------------------------------------------------
// Start meshes: exit 1, the message names the file and line.

/// Writes `text` as a mesh and runs the 2-D network `hos` (3-D: `NS_PINN`) on it.
fn bad_mesh(test: &str, text: &[u8], key: &str, needles: &[&str]) -> String {
    let dir = scratch(test);
    let path = dir.join("start.mesh");
    std::fs::write(&path, text).unwrap();
    let p = path.display().to_string();
    let mut all = vec![p.as_str()];
    all.extend_from_slice(needles);
    refused_in(
        &dir.join("out"),
        &["--INR_key", key, "--mesh", &p],
        FAILED,
        &all,
    )
}

const QUADS: &str = "MFEM mesh v1.0

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
6
2
0 0
1 0
2 0
0 1
1 1
2 1
";

const HEX: &str = "MFEM mesh v1.0
dimension
3
elements
1
1 5 0 1 2 3 4 5 6 7
boundary
0
vertices
8
3
0 0 0
1 0 0
1 1 0
0 1 0
0 0 1
1 0 1
1 1 1
0 1 1
";

fn quads(from: &str, to: &str) -> Vec<u8> {
    assert!(QUADS.contains(from));
    QUADS.replacen(from, to, 1).into_bytes()
}

#[test]
fn crafted_meshes_are_valid() {
    // The bases every mesh case below breaks in one way: both must run.
    for (name, text, key) in [("quads", QUADS, "hos"), ("hex", HEX, "NS_PINN")] {
        let dir = scratch(&format!("mesh_ok_{name}"));
        let path = dir.join("start.mesh");
        std::fs::write(&path, text).unwrap();
        let p = path.display().to_string();
        let (code, stderr) = spawn(
            &[
                "--INR_key",
                key,
                "--mesh",
                &p,
                "--original",
                "--max_it",
                "1",
            ],
            &dir.join("out"),
            direct,
        );
        assert_eq!(code, 0, "{name}: {stderr}");
    }
}

#[test]
fn mesh_missing() {
    let dir = scratch("mesh_missing");
    let p = dir.join("absent.mesh").display().to_string();
    refused_in(
        &dir.join("out"),
        &["--mesh", &p],
        FAILED,
        &[&p, "cannot read"],
    );
}

#[test]
fn mesh_is_a_directory() {
    let dir = scratch("mesh_dir");
    let d = dir.join("meshes");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.display().to_string();
    refused_in(
        &dir.join("out"),
        &["--mesh", &p],
        FAILED,
        &[&p, "cannot read"],
    );
}

#[test]
fn mesh_empty() {
    bad_mesh("mesh_empty", b"", "hos", &["empty file"]);
}

#[test]
fn mesh_not_text() {
    bad_mesh(
        "mesh_binary",
        b"MFEM mesh v1.0\n\xff\xfe\x00",
        "hos",
        &["not UTF-8"],
    );
}

#[test]
fn mesh_unknown_header() {
    bad_mesh(
        "mesh_header",
        b"MFEM mesh v9.9\n",
        "hos",
        &[":1:", "not an MFEM mesh"],
    );
}

#[test]
fn mesh_unsupported_version() {
    bad_mesh(
        "mesh_v11",
        QUADS.replace("v1.0", "v1.1").as_bytes(),
        "hos",
        &[":1:", "not supported as a start mesh"],
    );
}

#[test]
fn mesh_unsupported_geometry_triangle() {
    bad_mesh(
        "mesh_tri",
        &quads("1 3 0 1 4 3", "1 2 0 1 4"),
        "hos",
        &[":8:", "geometry 2 (triangle)"],
    );
}

#[test]
fn mesh_unsupported_geometry_tetrahedron() {
    bad_mesh(
        "mesh_tet",
        HEX.replace("1 5 0 1 2 3 4 5 6 7", "1 4 0 1 2 4").as_bytes(),
        "NS_PINN",
        &[":6:", "geometry 4 (tetrahedron)"],
    );
}

#[test]
fn mesh_unsupported_dimension() {
    bad_mesh(
        "mesh_dim1",
        &quads("dimension\n2", "dimension\n1"),
        "hos",
        &[":4:", "dimension 1 is not supported"],
    );
}

#[test]
fn mesh_curved() {
    let text = QUADS[..QUADS.find("vertices").unwrap()].to_string()
        + "vertices\n6\n\nnodes\nFiniteElementSpace\n";
    bad_mesh("mesh_curved", text.as_bytes(), "hos", &["curved mesh"]);
}

#[test]
fn mesh_vertex_index_out_of_range() {
    bad_mesh(
        "mesh_index",
        &quads("2 3 1 2 5 4", "2 3 1 2 5 40"),
        "hos",
        &[":9:", "index 40 is out of range"],
    );
}

#[test]
fn mesh_vertex_index_negative() {
    bad_mesh(
        "mesh_index_neg",
        &quads("2 3 1 2 5 4", "2 3 1 2 5 -1"),
        "hos",
        &[":9:", "index -1 is out of range"],
    );
}

#[test]
fn mesh_boundary_index_out_of_range() {
    bad_mesh(
        "mesh_bdr_index",
        &quads("1 1 0 1\n", "1 1 0 9\n"),
        "hos",
        &[":13:", "boundary vertex index 9"],
    );
}

#[test]
fn mesh_truncated_in_elements() {
    let cut = &QUADS[..QUADS.find("2 3 1 2").unwrap()];
    bad_mesh(
        "mesh_cut_elements",
        cut.as_bytes(),
        "hos",
        &["unexpected end of file"],
    );
}

#[test]
fn mesh_truncated_in_vertices() {
    let cut = &QUADS[..QUADS.find("1 1\n").unwrap()];
    bad_mesh(
        "mesh_cut_vertices",
        cut.as_bytes(),
        "hos",
        &["unexpected end of file"],
    );
}

#[test]
fn mesh_missing_section() {
    let text = QUADS.replacen("boundary\n1\n1 1 0 1\n", "", 1);
    bad_mesh(
        "mesh_no_boundary",
        text.as_bytes(),
        "hos",
        &["expected section 'boundary'"],
    );
}

#[test]
fn mesh_non_numeric_vertex_index() {
    bad_mesh(
        "mesh_word_index",
        &quads("1 3 0 1 4 3", "1 3 0 one 4 3"),
        "hos",
        &[":8:", "found 'one'"],
    );
}

#[test]
fn mesh_non_numeric_coordinate() {
    bad_mesh(
        "mesh_word_coord",
        &quads("2 1\n", "2 x\n"),
        "hos",
        &[":23:", "found 'x'"],
    );
}

#[test]
fn mesh_non_numeric_count() {
    bad_mesh(
        "mesh_word_count",
        &quads("elements\n2", "elements\ntwo"),
        "hos",
        &[":7:", "found 'two'"],
    );
}

#[test]
fn mesh_non_finite_coordinate() {
    bad_mesh(
        "mesh_nan",
        &quads("2 1\n", "2 nan\n"),
        "hos",
        &[":23:", "not finite"],
    );
}

#[test]
fn mesh_degenerate_element() {
    bad_mesh(
        "mesh_degenerate",
        &quads("2 3 1 2 5 4", "2 3 1 2 2 4"),
        "hos",
        &[":9:", "degenerate"],
    );
}

#[test]
fn mesh_inverted_element() {
    bad_mesh(
        "mesh_inverted",
        &quads("2 3 1 2 5 4", "2 3 1 4 5 2"),
        "hos",
        &[":9:", "inverted"],
    );
}

#[test]
fn mesh_flat_hexahedron() {
    // All eight corners in the plane z = 0.
    let text = HEX
        .replace("0 0 1\n", "0 0 0\n")
        .replace("1 0 1\n", "1 0 0\n");
    let text = text
        .replace("1 1 1\n", "1 1 0\n")
        .replace("0 1 1\n", "0 1 0\n");
    bad_mesh("mesh_flat_hex", text.as_bytes(), "NS_PINN", &["degenerate"]);
}

const INLINE: &str = "MFEM INLINE mesh v1.0\ntype = quad\nnx = 4\nny = 4\nsx = 1.0\nsy = 1.0\n";

fn inline(from: &str, to: &str) -> Vec<u8> {
    assert!(INLINE.contains(from));
    INLINE.replacen(from, to, 1).into_bytes()
}

#[test]
fn inline_zero_count() {
    bad_mesh(
        "inline_nx0",
        &inline("nx = 4", "nx = 0"),
        "hos",
        &[":3:", "nx must be a positive integer"],
    );
}

#[test]
fn inline_negative_count() {
    bad_mesh(
        "inline_ny_neg",
        &inline("ny = 4", "ny = -2"),
        "hos",
        &[":4:", "ny must be a positive integer"],
    );
}

#[test]
fn inline_zero_size() {
    bad_mesh(
        "inline_sx0",
        &inline("sx = 1.0", "sx = 0"),
        "hos",
        &[":5:", "sx must be a positive length"],
    );
}

#[test]
fn inline_negative_size() {
    bad_mesh(
        "inline_sy_neg",
        &inline("sy = 1.0", "sy = -1"),
        "hos",
        &[":6:", "sy must be a positive length"],
    );
}

#[test]
fn inline_size_beyond_float_range() {
    // 4 × 1e308 overflows: the far vertices would be at infinity.
    bad_mesh(
        "inline_sy_huge",
        &inline("sy = 1.0", "sy = 1e308"),
        "hos",
        &[":6:", "beyond what floats hold"],
    );
}

#[test]
fn inline_non_numeric() {
    bad_mesh(
        "inline_word",
        &inline("nx = 4", "nx = 4.5"),
        "hos",
        &[":3:", "found '4.5'"],
    );
}

#[test]
fn inline_unsupported_type() {
    bad_mesh(
        "inline_tri",
        &inline("quad", "tri"),
        "hos",
        &[":2:", "type 'tri' is not supported"],
    );
}

#[test]
fn inline_too_many_elements() {
    let text = "MFEM INLINE mesh v1.0\ntype = hex\nnx = 60000\nny = 60000\nnz = 60000\n\
                sx = 1\nsy = 1\nsz = 1\n";
    bad_mesh(
        "inline_huge",
        text.as_bytes(),
        "NS_PINN",
        &["too many elements"],
    );
}

// ---------------------------------------------------------------------------------------
// Output: exit 1, the message names the path; nothing torn.

#[test]
fn output_is_a_file() {
    let dir = scratch("output_file");
    let file = dir.join("results");
    std::fs::write(&file, "not a folder").unwrap();
    let p = file.display().to_string();
    refused_in(&file, &[], FAILED, &[&p, "is not a folder"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder");
}

#[test]
fn output_under_a_file() {
    let dir = scratch("output_under_file");
    let file = dir.join("results");
    std::fs::write(&file, "not a folder").unwrap();
    let p = file.display().to_string();
    refused_in(&file.join("sweep"), &[], FAILED, &[&p, "is not a folder"]);
}

#[test]
fn output_folder_cannot_be_created() {
    // /proc refuses new entries even to root.
    let out = Path::new("/proc/pruningamr-bad-input/out");
    if !Path::new("/proc/self").exists() {
        println!("skipped: no /proc");
        return;
    }
    refused_in(
        out,
        &[],
        FAILED,
        &[
            "/proc/pruningamr-bad-input/out",
            "cannot create the output folder",
        ],
    );
}

/// Runs the binary with files limited to `blocks` × 512 bytes (a full disk as the run sees it:
/// writes fail part-way) and SIGXFSZ ignored, so the write error comes back as a value.
fn file_size_limited(blocks: u32) -> impl FnOnce(&Path, Vec<String>) -> Command {
    move |bin, args| {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!(
                "trap '' XFSZ; ulimit -f {blocks} && exec \"$0\" \"$@\""
            ))
            .arg(bin)
            .args(args);
        c
    }
}

#[test]
fn output_disk_full_leaves_no_torn_file() {
    let dir = scratch("disk_full");
    let out = dir.join("out");
    let msg = refused_with(
        &out,
        &["--original", "--max_it", "2"],
        FAILED,
        &["it_0.mesh"],
        file_size_limited(2),
    );
    assert!(msg.contains(&out.display().to_string()), "{msg}");
    // parameters.json was written before iteration 0 (1 KiB fits); the record of the failure
    // is itself a write, which a full disk may refuse, so it says running or failed — whole,
    // never torn, never complete.
    let params: Vec<PathBuf> = files_under(&out)
        .into_iter()
        .filter(|p| p.ends_with("parameters.json"))
        .collect();
    assert_eq!(params.len(), 1, "{params:?}");
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&params[0]).unwrap()).unwrap();
    assert!(p["status"] == "running" || p["status"] == "failed", "{p}");
    assert_eq!(p["iteration_reached"], serde_json::Value::Null);
}

#[test]
fn output_disk_full_in_paraview_files() {
    // 4 KiB: enough for the MFEM files of the first iteration (2 KiB, 1 KiB), not for the
    // ParaView one (8 KiB).
    let dir = scratch("disk_full_paraview");
    let out = dir.join("out");
    let (code, stderr) = spawn(
        &["--original", "--max_it", "1", "--paraview"],
        &out,
        file_size_limited(8),
    );
    assert_eq!(code, FAILED, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(".vtu") || stderr.contains(".pvd"),
        "{stderr}"
    );
    let torn: Vec<PathBuf> = files_under(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(torn.is_empty(), "{torn:?}");
    // What was written is whole: it_0.mesh ends with its last vertex line.
    for p in files_under(&out) {
        if p.extension().is_some_and(|e| e == "mesh") {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(text.ends_with('\n'), "{}", p.display());
        }
    }
}

#[test]
fn atomic_write_with_a_failing_writer_leaves_nothing() {
    let dir = scratch("atomic");
    let path = dir.join("it_3.mesh");
    // Fails after writing part of the file, as a full disk does.
    let err = pruningamr::io::write_atomically(&path, |w| {
        w.write_all(&[b'x'; 100_000])?;
        Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space left on device",
        ))
    })
    .unwrap_err();
    assert!(err.to_string().contains("it_3.mesh"), "{err}");
    assert!(err.to_string().contains("no space left"), "{err}");
    assert!(files_under(&dir).is_empty(), "{:?}", files_under(&dir));
    // An existing file is kept whole when its rewrite fails.
    std::fs::write(&path, "old").unwrap();
    let err = pruningamr::io::write_atomically(&path, |w| {
        w.write_all(b"new, half")?;
        Err(std::io::Error::other("disk full"))
    });
    assert!(err.is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    assert_eq!(files_under(&dir), vec![path.clone()]);
    // A folder that is a file.
    let err =
        pruningamr::io::write_atomically(&path.join("x.gf"), |w| w.write_all(b"1")).unwrap_err();
    assert!(err.to_string().contains("it_3.mesh/x.gf"), "{err}");
}

#[test]
fn atomic_write_to_a_full_device_leaves_nothing() {
    // /dev/full fails every write with ENOSPC; the writer's error must come back and the
    // target must not appear.
    if !Path::new("/dev/full").exists() {
        println!("skipped: no /dev/full");
        return;
    }
    let dir = scratch("dev_full");
    let path = dir.join("it_0.gf");
    let err = pruningamr::io::write_atomically(&path, |w| {
        let mut full = std::fs::OpenOptions::new().write(true).open("/dev/full")?;
        w.write_all(b"1\n")?;
        full.write_all(b"1\n")?;
        full.flush()
    })
    .unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        None,
        "the error carries the path: {err}"
    );
    assert!(err.to_string().contains("it_0.gf"), "{err}");
    assert!(files_under(&dir).is_empty(), "{:?}", files_under(&dir));
}

// ---------------------------------------------------------------------------------------
// Small files that would inflate into gigabytes.

fn deflated(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, bytes) in members {
        z.start_file(*name, opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

#[test]
fn checkpoint_pickle_bomb() {
    // 8 MB of EMPTY_LIST opcodes deflate to a few kilobytes and would build 16 million
    // values (gigabytes) before the pickle turned out not to be a network.
    let mut pkl = b"\x80\x02".to_vec();
    pkl.resize(8 << 20, b']');
    pkl.push(b'.');
    let bytes = deflated(&[("net/data.pkl", pkl)]);
    assert!(bytes.len() < 64 << 10);
    bad_checkpoint(
        "pickle_bomb",
        "bomb.ckpt",
        &bytes,
        &["data.pkl", "builds more than"],
    );
}

#[test]
fn checkpoint_zip_bomb() {
    // A 40 MB weight of zeros deflates a thousandfold.
    let mut npy = write_npy_f32(&[10 << 20], &[]);
    let header = npy.len();
    npy.resize(header + (40 << 20), 0);
    let bytes = deflated(&[("weight_0.npy", npy)]);
    bad_checkpoint(
        "zip_bomb",
        "bomb.npz",
        &bytes,
        &["weight_0.npy", "zip bomb"],
    );
}

#[test]
fn input_files_are_read_with_a_size_cap() {
    // `--mesh /dev/zero` must end in an error, not fill memory; the readers cap at 1–2 GiB,
    // here a 1 MiB cap shows the mechanism on a device and on a regular file.
    use pruningamr::io::read_capped;
    if Path::new("/dev/zero").exists() {
        let err = read_capped(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("more than 1 MiB"), "{err}");
    }
    let dir = scratch("size_cap");
    let path = dir.join("big.mesh");
    std::fs::write(&path, vec![b' '; (1 << 20) + 1]).unwrap();
    assert!(read_capped(&path, 1 << 20).is_err());
    assert_eq!(read_capped(&path, 2 << 20).unwrap().len(), (1 << 20) + 1);
}

/// A build without the `mpi` feature started by an MPI launcher as one of several ranks (seen
/// in the launcher's variables) refuses to run, instead of running the whole job once per rank
/// into the same folder.
#[cfg(not(feature = "mpi"))]
#[test]
fn usage_mpi_launch_without_the_feature() {
    let dir = scratch("usage_mpi_launch_without_the_feature");
    let launched = |bin: &Path, args: Vec<String>| {
        let mut c = direct(bin, args);
        c.env("OMPI_COMM_WORLD_SIZE", "2");
        c
    };
    refused_with(
        &dir.join("out"),
        &["--INR_key", "hos"],
        USAGE,
        &["one of 2 processes", "--features mpi"],
        launched,
    );
}
