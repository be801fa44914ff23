//! `--time_slices` (issue 16): a series of slices is the same as its slices run one by one,
//! series.pvd lists their last iterations, NS_PINN sliced on a 2-D mesh names its outputs u, v,
//! p with the 3-D network's values, and the contact sheet has a panel per slice and one
//! colour bar.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::files::{files, without_timings};
use common::picture::Picture;
use pruningamr::config::Config;
use pruningamr::network::{Coordinates, Inr, builtin_network};
use pruningamr::run::{Silent, run};
use pruningamr::series::{Outcome, SeriesSummary};
use serde_json::Value;

use common::config;

fn out_dir(name: &str) -> PathBuf {
    common::out_dir("series", name)
}

fn series(cfg: &Config) -> SeriesSummary {
    match pruningamr::series::run(cfg, &Silent).unwrap() {
        Outcome::Series(s) => s,
        Outcome::Run(_) => panic!("--time_slices ran one run"),
    }
}

/// Small settings so that ten CT_demo runs take seconds (the same on both sides).
const CT_SMALL: &[&str] = &[
    "--INR_key",
    "CT_demo",
    "--prop_threshold",
    "0.6",
    "--max_it",
    "2",
    "--num_uniform_ref",
    "1",
    "--ID_samples",
    "32",
    "--error_samples",
    "16",
    "--rmse_samples",
    "4096",
];

/// The elements named `tag` of an XML text, each as its attributes (a minimal reader: VTK's
/// files have no comments, CDATA or entities but the five standard ones).
fn xml_elements(text: &str, tag: &str) -> Vec<BTreeMap<String, String>> {
    let open = format!("<{tag}");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&open) {
        rest = &rest[at + open.len()..];
        if !rest.starts_with([' ', '>', '/', '\n']) {
            continue;
        }
        let end = rest.find('>').expect("element ends");
        let mut attrs = BTreeMap::new();
        let mut a = rest[..end].trim_end_matches('/');
        while let Some(eq) = a.find("=\"") {
            let name = a[..eq].trim().to_string();
            let after = &a[eq + 2..];
            let close = after.find('"').expect("attribute ends");
            let value = after[..close]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            attrs.insert(name, value);
            a = &after[close + 1..];
        }
        out.push(attrs);
    }
    out
}

/// A `.vtu` read back: cell count, point coordinates and the point-data arrays by name.
struct Vtu {
    cells: usize,
    cell_type: u8,
    points: Vec<[f64; 3]>,
    point_data: BTreeMap<String, Vec<f64>>,
}

fn decode_block(b64: &str) -> Vec<u8> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .expect("base64");
    let n = u64::from_le_bytes(raw[..8].try_into().unwrap()) as usize;
    assert_eq!(raw.len(), 8 + n, "header counts the data");
    raw[8..].to_vec()
}

fn read_vtu(path: &Path) -> Vtu {
    let text = std::fs::read_to_string(path).unwrap();
    let piece = &xml_elements(&text, "Piece")[0];
    let cells: usize = piece["NumberOfCells"].parse().unwrap();
    let arrays = |section: &str| -> Vec<(Option<String>, Vec<u8>)> {
        let open = format!("<{section}");
        let start = text.find(&open).expect("section");
        let end = text.find(&format!("</{section}>")).expect("section ends");
        let body = &text[start..end];
        body.split("<DataArray")
            .skip(1)
            .map(|chunk| {
                let attrs = &xml_elements(&format!("<DataArray{chunk}"), "DataArray")[0];
                let data =
                    &chunk[chunk.find('>').unwrap() + 1..chunk.find("</DataArray>").unwrap()];
                (attrs.get("Name").cloned(), decode_block(data))
            })
            .collect()
    };
    let f64s = |b: &[u8]| -> Vec<f64> {
        b.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let points = f64s(&arrays("Points")[0].1)
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    let cell_type = arrays("Cells")
        .iter()
        .find(|(n, _)| n.as_deref() == Some("types"))
        .map(|(_, b)| b[0])
        .unwrap();
    let point_data = arrays("PointData")
        .into_iter()
        .map(|(n, b)| (n.expect("named"), f64s(&b)))
        .collect();
    Vtu {
        cells,
        cell_type,
        points,
        point_data,
    }
}

/// series.pvd's (time, file) steps.
fn pvd_steps(pvd: &Path) -> Vec<(f64, PathBuf)> {
    let text = std::fs::read_to_string(pvd).unwrap();
    xml_elements(&text, "DataSet")
        .into_iter()
        .map(|a| {
            (
                a["timestep"].parse().unwrap(),
                pvd.parent().unwrap().join(&a["file"]),
            )
        })
        .collect()
}

#[test]
fn a_ct_series_is_its_slices_run_one_by_one() {
    let (a, b) = (out_dir("ct_series"), out_dir("ct_single"));
    let mut args = CT_SMALL.to_vec();
    args.extend(["--time_slices", "0:1:5"]);
    let s = series(&config(&a, &args));
    let times = [0.0, 0.25, 0.5, 0.75, 1.0];
    assert_eq!(s.slices.len(), 5);
    assert!(s.sheet.is_none(), "no --plot, no contact sheet");

    for (k, t) in times.iter().enumerate() {
        let mut args = CT_SMALL.to_vec();
        let t_text = t.to_string();
        args.extend(["--time_slice", &t_text, "--paraview"]);
        let single = run(&config(&b, &args), &Silent).unwrap();
        let (st, sliced) = &s.slices[k];
        assert_eq!(st, t);
        let name = format!(
            "CT_demo/thrs_0.001_prop_thrs_0.6_eps_0.001_nsamp_32_errsamp_16_tslice_{}",
            ["0.0", "0.25", "0.5", "0.75", "1.0"][k]
        );
        assert_eq!(sliced.experiment_dir, a.join(&name));
        assert_eq!(single.experiment_dir, b.join(&name));
        let (fa, fb) = (files(&sliced.experiment_dir), files(&single.experiment_dir));
        assert_eq!(
            fa.keys().collect::<Vec<_>>(),
            fb.keys().collect::<Vec<_>>(),
            "t = {t}: the same files"
        );
        assert!(fa.contains_key(Path::new("ParaView/pruningamr.pvd")));
        for (path, bytes) in &fa {
            if path == Path::new("parameters.json") {
                assert_eq!(
                    without_timings(bytes),
                    without_timings(&fb[path]),
                    "t = {t}"
                );
            } else {
                assert!(bytes == &fb[path], "t = {t}: {} differs", path.display());
            }
        }
    }

    // series.pvd: the five times, each the last iteration of its slice.
    assert_eq!(
        s.pvd,
        a.join("CT_demo/thrs_0.001_prop_thrs_0.6_eps_0.001_nsamp_32_errsamp_16_series/series.pvd")
    );
    let steps = pvd_steps(&s.pvd);
    assert_eq!(steps.len(), 5);
    for ((t, file), (st, sliced)) in steps.iter().zip(&s.slices) {
        assert_eq!(t, st);
        let last = sliced.iterations.last().unwrap();
        assert_eq!(
            std::fs::canonicalize(file).unwrap(),
            std::fs::canonicalize(
                sliced
                    .experiment_dir
                    .join(format!("ParaView/pruningamr_{}.vtu", last.it))
            )
            .unwrap()
        );
        let vtu = read_vtu(file);
        assert_eq!(vtu.cells, last.elements, "t = {t}");
        assert_eq!(vtu.cell_type, 12);
        assert_eq!(vtu.point_data.keys().collect::<Vec<_>>(), vec!["density"]);
    }
}

#[test]
fn ns_pinn_sliced_on_a_2d_mesh_names_u_v_p_and_draws_a_sheet() {
    let out = out_dir("ns_series");
    let cfg = config(
        &out,
        &[
            "--INR_key",
            "NS_PINN",
            "--original",
            "--max_it",
            "2",
            "--rmse_samples",
            "4096",
            "--time_slices",
            "0,5,10",
            "--plot",
            "--plot_component",
            "|uv|",
        ],
    );
    let s = series(&cfg);
    let (file, _) = builtin_network("NS_PINN").unwrap();
    let net3d = Inr::new(file, Coordinates::Identity, 3).unwrap();
    let steps = pvd_steps(&s.pvd);
    assert_eq!(
        s.pvd,
        out.join("NS_PINN_original_series/series.pvd"),
        "beside NS_PINN_original_tslice_*"
    );
    assert_eq!(steps.len(), 3);
    for ((t, file), (st, sliced)) in steps.iter().zip(&s.slices) {
        assert_eq!(t, st);
        assert_eq!(
            sliced.experiment_dir,
            out.join(format!("NS_PINN_original_tslice_{t:?}"))
        );
        let vtu = read_vtu(file);
        assert_eq!(vtu.cell_type, 9, "quads: a 2-D mesh");
        assert_eq!(vtu.cells, 64, "2 x 2 quads refined twice");
        assert_eq!(
            vtu.point_data.keys().collect::<Vec<_>>(),
            vec!["p", "u", "v"]
        );
        // A uniform mesh hangs no vertex: every value is the network's at (x, y, t).
        let at: Vec<[f64; 3]> = vtu.points.iter().map(|p| [p[0], p[1], *t]).collect();
        let want = net3d.eval_points(&at);
        for (c, name) in ["u", "v", "p"].iter().enumerate() {
            let got = &vtu.point_data[*name];
            for (i, v) in got.iter().enumerate() {
                assert_eq!(
                    *v,
                    want[i * 3 + c],
                    "t = {t}, {name} at {:?}",
                    vtu.points[i]
                );
            }
        }
        let p: Value = serde_json::from_slice(
            &std::fs::read(sliced.experiment_dir.join("parameters.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(p["output_names"], serde_json::json!(["u", "v", "p"]));
        let per: Vec<&String> = p["rmse_per_output"].as_object().unwrap().keys().collect();
        assert_eq!(per, vec!["u", "v", "p"]);
        assert_eq!(p["rmse_per_output"]["v"].as_array().unwrap().len(), 2);
        assert_eq!(p["time_slice"], *t);
    }

    // The contact sheet: one panel per slice, each showing the field, and one colour bar.
    let (path, layout) = s.sheet.as_ref().expect("--plot draws the sheet");
    assert_eq!(path, &out.join("NS_PINN_original_series/series.png"));
    let png = Picture::read(path);
    assert_eq!((png.width, png.height), pruningamr::figures::sheet_size(3));
    assert_eq!(layout.panels.len(), 3);
    let w = png.width as usize;
    let px = |x: i32, y: i32| png.rgb[y as usize * w + x as usize];
    for [x0, y0, pw, ph] in &layout.panels {
        let field = (0..*ph)
            .flat_map(|y| (0..*pw).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let c = px(x0 + x, y0 + y);
                c.iter().max().unwrap() - c.iter().min().unwrap() > 40
            })
            .count();
        assert!(
            field * 10 > (pw * ph) as usize * 9,
            "a panel shows the field"
        );
    }
    // Columns painted exactly with the colour scale, top to bottom: the bar's, nowhere else.
    let [bx, by, bw, bh] = layout.colour_bar;
    let is_scale_column = |x: i32| {
        (0..bh).all(|r| {
            let want = pruningamr::plot::viridis(1.0 - (f64::from(r) + 0.5) / f64::from(bh));
            let got = px(x, by + r);
            (0..3).all(|k| (i32::from(got[k]) - i32::from(want[k])).abs() <= 2)
        })
    };
    let scale_columns: Vec<i32> = (0..png.width as i32)
        .filter(|&x| is_scale_column(x))
        .collect();
    assert_eq!(
        scale_columns,
        (bx..bx + bw).collect::<Vec<_>>(),
        "one colour bar"
    );
    assert!(
        layout.range.0 >= 0.0,
        "a magnitude is never negative: {:?}",
        layout.range
    );
}

#[test]
fn time_slices_on_a_network_without_time_is_a_usage_error() {
    let out = out_dir("no_time");
    let bin = env!("CARGO_BIN_EXE_pruningamr");
    for (args, option) in [
        (
            vec!["--INR_key", "hos", "--time_slices", "0,1"],
            "--time_slices",
        ),
        (
            vec!["--INR_key", "CT_demo", "--time_slices", "0:1:0"],
            "--time_slices",
        ),
        (
            vec!["--INR_key", "NS_PINN", "--plot", "--plot_component", "w"],
            "--plot_component",
        ),
    ] {
        let o = std::process::Command::new(bin)
            .args(&args)
            .arg("--output")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("pruningamr: {option}: ")),
            "{args:?}: {err}"
        );
    }
    assert!(!out.exists(), "nothing written");
}
