//! A named dense tensor as the safetensors and ONNX readers hand it on, and the cap on how
//! many elements one file may make us allocate.

/// Upper bound on the number of elements in one file's tensors (2^28 ≈ 268 M, 1 GiB of
/// f32), checked before anything is allocated.
pub const MAX_TOTAL_ELEMENTS: usize = 1 << 28;

/// A named dense tensor, row-major, converted to f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}
