//! The viridis colour map (perceptually uniform, readable in grey and by colour-blind viewers).

/// viridis at t = 0, 0.1, …, 1 (the published 11-step table); between stops the map is
/// interpolated linearly, which stays within a few levels of the 256-entry table.
const STOPS: [[u8; 3]; 11] = [
    [68, 1, 84],
    [72, 37, 118],
    [65, 68, 135],
    [53, 96, 141],
    [42, 120, 142],
    [33, 144, 140],
    [34, 168, 132],
    [67, 191, 113],
    [122, 209, 81],
    [187, 223, 39],
    [253, 231, 37],
];

/// Colour of `t` in [0, 1] (clamped; NaN gives the low end).
pub fn viridis(t: f64) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    std::array::from_fn(|c| {
        (f64::from(a[c]) + f * (f64::from(b[c]) - f64::from(a[c]))).round() as u8
    })
}
