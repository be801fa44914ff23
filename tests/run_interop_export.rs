//! End-to-end runs for the interop check: the program's own output for a 2-D adaptive run
//! (hos, hanging vertices) and a 3-D one (NS_PINN, three components), with ParaView files,
//! plus a `probe.json` per run with our counts and interpolated values at random points.
//! `tests/interop/check_mfem.py` loads every `it_N.mesh`/`.gf` in MFEM and every `.vtu` in
//! meshio and compares (`tests/interop/run.sh`).

use std::path::Path;

use clap::Parser;
use pruningamr::config::Cli;
use pruningamr::random::{Purpose, Stream};
use pruningamr::run::{EachIteration, run};
use serde_json::json;

fn export(name: &str, args: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop");
    let case = root.join(name);
    let _ = std::fs::remove_dir_all(&case);
    let out = root.join(format!("{name}-output"));
    let _ = std::fs::remove_dir_all(&out);
    let out_s = out.display().to_string();
    let mut full = vec!["pruningamr", "--quiet", "--paraview", "--output", &out_s];
    full.extend_from_slice(args);
    let cfg = Cli::try_parse_from(full).unwrap().validate().unwrap();
    let exp_dir = pruningamr::experiment::name::folder(&cfg);
    let mut iterations = Vec::new();
    let mut meta = None;
    let summary = run(
        &cfg,
        &EachIteration::new(|view: &pruningamr::run::IterationView<'_>| {
            let mesh = view.field.mesh();
            let ncomp = view.field.ncomp();
            let (lo, hi) = mesh.bounding_box();
            let mut s = Stream::new(99, view.it, 0, Purpose::Rmse);
            let points: Vec<[f64; 3]> = (0..300)
                .map(|_| {
                    let mut p = [0.0; 3];
                    for a in 0..mesh.dim() {
                        p[a] = s.in_range(lo[a], hi[a]);
                    }
                    p
                })
                .collect();
            let mut values = vec![0.0; points.len() * ncomp];
            assert_eq!(
                mesh.interpolate(view.field.values(), ncomp, &points, &mut values)
                    .unwrap(),
                0
            );
            iterations.push(json!({
                "it": view.it,
                "mesh": format!("it_{}.mesh", view.it),
                "gf": format!("it_{}.gf", view.it),
                "vtu": format!("ParaView/pruningamr_{}.vtu", view.it),
                "ne": mesh.num_elements(),
                "nv": mesh.num_vertices(),
                "true_dofs": mesh.num_true_dofs(),
                "hanging": mesh.num_hanging(),
                "max_level": (0..mesh.num_elements()).map(|e| mesh.element_level(e)).max(),
                "points": points.iter().map(|p| p[..mesh.dim()].to_vec()).collect::<Vec<_>>(),
                "values": values.chunks(ncomp).map(<[f64]>::to_vec).collect::<Vec<_>>(),
            }));
            meta = Some((
                mesh.dim(),
                ncomp,
                mesh.num_hanging(),
                view.field.names().to_vec(),
            ));
        }),
    )
    .unwrap();
    let (dim, ncomp, hanging, names) = meta.expect("at least one iteration");
    assert!(
        hanging > 0,
        "{name}: the run left no hanging vertex to check"
    );
    assert_eq!(summary.iterations.len(), iterations.len());
    // The output names are the VTU point-data arrays.
    let probe = json!({
        "dim": dim,
        "ncomp": ncomp,
        "pvd": "ParaView/pruningamr.pvd",
        "point_data_names": names,
        "iterations": iterations,
    });
    // The checker reads the case folder: the experiment folder with probe.json beside.
    std::fs::rename(&exp_dir, &case).unwrap();
    std::fs::write(
        case.join("probe.json"),
        serde_json::to_string_pretty(&probe).unwrap(),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn export_2d_adaptive_run() {
    export("run_hos", &["--INR_key", "hos", "--max_it", "5"]);
}

#[test]
fn export_3d_adaptive_run() {
    export(
        "run_ns_pinn",
        &[
            "--INR_key",
            "NS_PINN",
            "--max_it",
            "3",
            "--num_uniform_ref",
            "1",
            "--threshold",
            "0.01",
            "--prop_threshold",
            "0.4",
        ],
    );
}

/// The estimate criterion's anisotropic splits on a real run (CT_demo at t = 1, whose error
/// needs them): MFEM must load every iteration with our counts and constraints.
#[test]
fn export_3d_anisotropic_run() {
    export(
        "run_ct_estimate",
        &[
            "--INR_key",
            "CT_demo",
            "--time_slice",
            "1.0",
            "--criterion",
            "estimate",
            "--max_dofs",
            "4000",
            "--max_it",
            "12",
            "--rmse_samples",
            "4096",
        ],
    );
    // The last mesh has elements halved along some axes only: extents that differ.
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop/run_ct_estimate");
    let last = (0..12)
        .rev()
        .find_map(|it| std::fs::read_to_string(case.join(format!("it_{it}.mesh"))).ok())
        .expect("an iteration was written");
    let lines: Vec<&str> = last.lines().collect();
    let at = |name: &str| lines.iter().position(|l| *l == name).unwrap() + 1;
    let ne: usize = lines[at("elements")].parse().unwrap();
    let nv_at = at("vertices");
    let vertices: Vec<Vec<f64>> = lines[nv_at + 2..]
        .iter()
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
        .collect();
    let anisotropic = lines[at("elements") + 1..][..ne].iter().any(|l| {
        let ids: Vec<usize> = l
            .split_whitespace()
            .skip(2)
            .map(|x| x.parse().unwrap())
            .collect();
        let ext: Vec<f64> = (0..3)
            .map(|a| {
                let xs = ids.iter().map(|&v| vertices[v][a]);
                xs.clone().fold(f64::MIN, f64::max) - xs.fold(f64::MAX, f64::min)
            })
            .collect();
        ext.iter().any(|&e| (e - ext[0]).abs() > 1e-9 * ext[0])
    });
    assert!(
        anisotropic,
        "no element of the last mesh was halved along some axes only"
    );
}
