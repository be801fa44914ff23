//! The .safetensors reader: tensor order, dtypes, metadata, and the headers that lie.

mod common;

use common::readers::{expected, read, rel_err};
use pruningamr::network::safetensors::{SafetensorsError, read_safetensors};
use pruningamr::network::tensor::Tensor;

fn by_name<'t>(ts: &'t [Tensor], name: &str) -> &'t Tensor {
    ts.iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
}

#[test]
fn mlp_state_dict_numeric_order_metadata_and_values() {
    let (ts, meta) = read_safetensors(&read("mlp.safetensors")).unwrap();
    let names: Vec<&str> = ts.iter().map(|t| t.name.as_str()).collect();
    let want: Vec<String> = (0..7)
        .flat_map(|i| {
            [
                format!("net.{}.bias", 2 * i),
                format!("net.{}.weight", 2 * i),
            ]
        })
        .collect();
    assert_eq!(names, want);
    assert_eq!(
        meta.as_deref(),
        Some(r#"{"activation": "relu", "layers": 7}"#)
    );

    // Evaluate the MLP built from the tensors against numpy's evaluation.
    let cases = expected("mlp.safetensors.expected.txt");
    assert_eq!(cases.len(), 125);
    let mut worst = 0.0f64;
    for (x, y) in &cases {
        let mut h = x.clone();
        for i in 0..7 {
            let w = by_name(&ts, &format!("net.{}.weight", 2 * i));
            let b = by_name(&ts, &format!("net.{}.bias", 2 * i));
            let (o, k) = (w.shape[0], w.shape[1]);
            assert_eq!(k, h.len());
            h = (0..o)
                .map(|r| {
                    let z = (0..k)
                        .map(|c| f64::from(w.data[r * k + c]) * h[c])
                        .sum::<f64>()
                        + f64::from(b.data[r]);
                    if i < 6 { z.max(0.0) } else { z }
                })
                .collect();
        }
        worst = worst.max(rel_err(h[0], y[0]));
    }
    assert!(worst <= 1e-6, "worst relative error {worst:e}");
}

#[test]
fn f64_bf16_f16_converted() {
    let (ts, meta) = read_safetensors(&read("mixed_dtypes.safetensors")).unwrap();
    assert_eq!(meta, None);
    let names: Vec<&str> = ts.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a.bf16", "b.f64", "c.f16", "d.f32"]);
    let text = String::from_utf8(read("mixed_dtypes.expected.txt")).unwrap();
    for line in text.lines() {
        let (head, vals) = line.split_once('|').unwrap();
        let mut head = head.split_whitespace();
        let name = head.next().unwrap();
        let shape: Vec<usize> = head
            .next()
            .unwrap()
            .split(',')
            .map(|s| s.parse().unwrap())
            .collect();
        let vals: Vec<f32> = vals
            .split_whitespace()
            .map(|v| v.parse::<f64>().unwrap() as f32)
            .collect();
        let t = by_name(&ts, name);
        assert_eq!(t.shape, shape, "{name}");
        assert_eq!(t.data, vals, "{name}");
    }
}

#[test]
fn integer_dtype_names_the_tensor() {
    let e = read_safetensors(&read("int_dtype.safetensors")).unwrap_err();
    assert!(
        matches!(&e, SafetensorsError::UnsupportedDtype { name, dtype } if name == "steps" && dtype == "I32"),
        "{e:?}"
    );
    assert!(e.to_string().contains("steps") && e.to_string().contains("I32"));
}

/// Builds a file from a header string and `data_len` bytes of data.
fn file(header: &str, data_len: usize) -> Vec<u8> {
    let mut v = vec![0u8; 8 + header.len() + data_len];
    v[..8].copy_from_slice(&(header.len() as u64).to_le_bytes());
    v[8..8 + header.len()].copy_from_slice(header.as_bytes());
    v
}

#[test]
fn header_claiming_more_data_than_the_file_holds() {
    let h = r#"{"w":{"dtype":"F32","shape":[1000000,1000],"data_offsets":[0,4000000000]}}"#;
    let e = read_safetensors(&file(h, 16)).unwrap_err();
    assert!(matches!(e, SafetensorsError::Format(_)), "{e:?}");
    // Offsets consistent with the shape but past the end of the data.
    let h = r#"{"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}"#;
    assert!(read_safetensors(&file(h, 16)).is_err());
    // A header length larger than the file.
    let mut f = file(r#"{}"#, 0);
    f[..8].copy_from_slice(&1_000_000u64.to_le_bytes());
    assert!(read_safetensors(&f).is_err());
    // Shape overflow.
    let h = r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}"#;
    assert!(read_safetensors(&file(h, 0)).is_err());
    // The same layout with exactly the right amount of data is fine.
    let h = r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
    let (ts, _) = read_safetensors(&file(h, 16)).unwrap();
    assert_eq!(ts[0].data, [0.0; 4]);
}

#[test]
fn element_cap_applies_before_allocation() {
    // A genuine file just over the cap (2^28 + 1 BF16 values, 512 MiB): refused before
    // any f32 buffer is allocated.
    let n = pruningamr::network::tensor::MAX_TOTAL_ELEMENTS + 1;
    let h = format!(
        r#"{{"w":{{"dtype":"BF16","shape":[{n}],"data_offsets":[0,{}]}}}}"#,
        2 * n
    );
    let f = file(&h, 2 * n);
    let e = read_safetensors(&f).unwrap_err();
    assert!(matches!(e, SafetensorsError::TooLarge { .. }), "{e:?}");
}

#[test]
fn truncated_files_are_errors() {
    for name in ["mlp.safetensors", "mixed_dtypes.safetensors"] {
        let bytes = read(name);
        for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                read_safetensors(&bytes[..cut]).is_err(),
                "{name} cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(
            read_safetensors(&longer).is_err(),
            "{name} with a trailing byte"
        );
    }
}
