//! Replays every case of `mfem/refine_cases.json` (MFEM 4.10's counts): each step marks the
//! elements whose centre lies within radius r of p, refines them, and compares the marked
//! count, elements, vertices, DOFs, true DOFs and hanging vertices with MFEM's.

mod common;

use pruningamr::mesh::Mesh;
use serde_json::Value;

fn count(v: &Value, key: &str) -> usize {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("missing {key} in {v}")) as usize
}

#[test]
#[ignore = "needs PRUNINGAMR_REFERENCE"]
fn every_refine_case_matches_mfem_counts() {
    let root = common::reference_dir();
    let text = std::fs::read_to_string(root.join("mfem/refine_cases.json")).unwrap();
    let cases: Value = serde_json::from_str(&text).unwrap();
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 4);
    let mut steps_checked = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        assert_eq!(
            case["rule"].as_str().unwrap(),
            "center within radius r_it of point p"
        );
        let mut mesh =
            Mesh::read(&root.join("meshes").join(case["mesh"].as_str().unwrap())).unwrap();
        let p: Vec<f64> = case["p"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let init = &case["initial"];
        assert_eq!(mesh.num_elements(), count(init, "NE"), "{name} initial NE");
        assert_eq!(mesh.num_vertices(), count(init, "NV"), "{name} initial NV");
        assert_eq!(
            mesh.num_true_dofs(),
            count(init, "true_dofs"),
            "{name} initial true dofs"
        );
        for (step, after) in case["after"].as_array().unwrap().iter().enumerate() {
            let r = after["radius"].as_f64().unwrap();
            let marked: Vec<bool> = (0..mesh.num_elements())
                .map(|e| {
                    let c = mesh.element_center(e);
                    let d2: f64 = p
                        .iter()
                        .enumerate()
                        .map(|(a, pa)| (c[a] - pa).powi(2))
                        .sum();
                    d2.sqrt() < r
                })
                .collect();
            let n_marked = marked.iter().filter(|&&m| m).count();
            let outcome = mesh.refine(&marked).unwrap();
            let got = [
                n_marked,
                outcome.refined,
                mesh.num_elements(),
                mesh.num_vertices(),
                mesh.num_vertices(),
                mesh.num_true_dofs(),
                mesh.num_hanging(),
            ];
            let want = [
                count(after, "marked"),
                count(after, "marked"),
                count(after, "NE"),
                count(after, "NV"),
                count(after, "ndofs"),
                count(after, "true_dofs"),
                count(after, "hanging"),
            ];
            println!(
                "{name} step {step}: [marked refined NE NV ndofs true hanging] = {got:?}, MFEM {want:?}"
            );
            assert_eq!(got, want, "{name} step {step}");
            steps_checked += 1;
        }
    }
    assert_eq!(steps_checked, 18);
}
