//! Fuzzes the start-mesh readers (`MFEM mesh v1.0`, `MFEM INLINE mesh v1.0`) on arbitrary
//! bytes: a parse must end in Ok or Err, never a panic, a hang or a huge allocation. A mesh
//! that parses is refined (uniformly, then every other element) and searched, so a file that
//! passes the reader's checks but breaks the mesh code shows up too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pruningamr::mesh::Mesh;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut mesh) = Mesh::parse(text, "fuzz.mesh") else {
        return;
    };
    // Keep each run fast: refinement multiplies elements by 4 or 8 per step.
    if mesh.num_elements() > 64 {
        return;
    }
    mesh.refine_uniformly();
    let marks: Vec<bool> = (0..mesh.num_elements()).map(|e| e % 2 == 0).collect();
    if mesh.refine(&marks).is_err() {
        panic!("refine refused marks of the right length");
    }
    // An element's centre (the multilinear map at the reference centre) lies in it, so point
    // location must find every centre.
    let centres: Vec<[f64; 3]> = (0..mesh.num_elements().min(64))
        .map(|e| mesh.element_center(e))
        .collect();
    let values: Vec<f64> = mesh.vertices().iter().map(|v| v[0] - v[1] + v[2]).collect();
    let constrained = mesh
        .constrain(&values, 1)
        .expect("values of the right length");
    let mut out = vec![0.0; centres.len()];
    let outside = mesh
        .interpolate(&constrained, 1, &centres, &mut out)
        .expect("lengths fit");
    assert_eq!(outside, 0, "element centres not located");
    let (lo, hi) = mesh.bounding_box();
    let mut out = vec![0.0; 2];
    let _ = mesh.interpolate(&constrained, 1, &[lo, hi], &mut out);
    let _ = mesh.mfem_text();
});
