//! ONNX reader: decodes the protobuf (never runs the graph) and recognises a feed-forward
//! MLP on the single data path from the graph input to the graph output.
//!
//! Recognised, in path order:
//! * linear layers: `Gemm` (`alpha`, `beta`, `transB`; `transA = 0`), `MatMul` by a
//!   constant (weights `in × out`, transposed to `out × in`) optionally followed by `Add`;
//! * activations: `Relu`, `LeakyRelu`, `Tanh`, `Sigmoid`, `Softplus`, `Elu`, `Gelu`
//!   (opset 20, `approximate` none/tanh), `Sin` (SIREN: a scalar `Mul` between the layer
//!   and `Sin` becomes `Sine { omega }`), and elementwise sub-graphs that compute SiLU
//!   (`Mul(x, Sigmoid(x))`), erf- or tanh-GELU or Softplus (e.g. torch's
//!   `Div √2 → Erf → Add 1 → Mul x → Mul 0.5`);
//! * `Mul`/`Add`/`Sub`/`Div`/`Neg` by constants (scalar or per-feature): at the graph
//!   start they form `input_affine`; after a layer they fold into it; after an activation
//!   they fold into the next layer, or at the end become `output_scale` (scalar) or fold
//!   into a final linear layer;
//! * the Fourier encoding `MatMul(x, B) → Mul s → Sin, Cos → Concat(axis −1)` (also with
//!   the `MatMul`/`Mul` duplicated in each branch, as torch exports
//!   `cat([sin(2πx@B), cos(2πx@B)])`);
//! * `Identity`, `Dropout` (mask unused), `Cast` to a float type, `Flatten(axis 1)` and
//!   `Reshape` to `[-1 or 0, features]`, which keep `(batch, features)`.
//!
//! Weights come from initializers or `Constant` nodes (`raw_data`, `float_data`,
//! `double_data`, `int32_data` for f16/bf16, `int64_data`); float16/bfloat16/double are
//! converted. Everything else is a typed [`OnnxError`].

mod adapt;
mod mlp;
pub mod proto;
mod region;

pub(crate) use adapt::{activation, network_file};
pub use mlp::{Act, Dense, Encoding, OnnxMlp};

use std::collections::{HashMap, HashSet, VecDeque};

use prost::Message;

use crate::network::positional::Block;
use crate::network::tensor::{MAX_TOTAL_ELEMENTS, Tensor};
use proto::{AttributeProto, ModelProto, NodeProto, TensorProto, attr_type, data_type};
use region::{Bin, ENode, Un};

/// Largest single dimension accepted in a tensor or a shape.
const MAX_DIM: i64 = 1 << 28;
/// Most nodes an elementwise sub-graph (one activation) may have.
const MAX_REGION_NODES: usize = 64;

const OTHER_WAYS: &str = "only plain MLPs (Gemm/MatMul layers with pointwise activations) can be read from ONNX; for other networks save the weights as .safetensors/.pt and describe the architecture";

/// Errors of [`read_onnx`].
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("not a valid ONNX file: {0} (truncated, or not an .onnx model?)")]
    Decode(#[from] prost::DecodeError),
    #[error("the ONNX model has no graph")]
    NoGraph,
    #[error(
        "tensor {tensor}: its data is stored externally (location {location:?}); re-export with the weights embedded (torch.onnx.export(..., external_data=False), or onnx.load the model with its data and onnx.save_model(model, path, save_as_external_data=False))"
    )]
    ExternalData { tensor: String, location: String },
    #[error(
        "tensor {tensor}: data type {dtype} is not supported (float32, float64, float16, bfloat16 weights and int32/int64 shapes are)"
    )]
    UnsupportedDtype { tensor: String, dtype: String },
    #[error("tensor {tensor}: {reason}")]
    BadTensor { tensor: String, reason: String },
    #[error(
        "tensor {tensor}: the model's constants exceed {limit} elements in total; this reader is meant for small MLPs"
    )]
    TooLarge { tensor: String, limit: usize },
    #[error(
        "the graph has {} data inputs ({}); expected exactly one, the coordinates",
        .names.len(), .names.join(", ")
    )]
    InputCount { names: Vec<String> },
    #[error("graph input {name}: {reason}")]
    BadInput { name: String, reason: String },
    #[error("the graph has {count} outputs; expected exactly one")]
    OutputCount { count: usize },
    #[error("node {node}: op {op} is not supported{hint}; {OTHER_WAYS}")]
    UnsupportedOp {
        node: String,
        op: String,
        hint: String,
    },
    #[error(
        "node {node}: op {op} with two data inputs (a skip connection) is not supported; {OTHER_WAYS}"
    )]
    SkipConnection { node: String, op: String },
    #[error("node {node}: op {op}: {reason}")]
    BadNode {
        node: String,
        op: String,
        reason: String,
    },
    #[error(
        "value {value} feeds {} and the branches never merge into one pattern this reader knows (a multi-output model?); {OTHER_WAYS}",
        .nodes.join(", ")
    )]
    Branching { value: String, nodes: Vec<String> },
    #[error(
        "node {node}: op {op} starts an elementwise sub-graph that is none of the recognised activations (SiLU, GELU, Softplus, …); {OTHER_WAYS}"
    )]
    UnrecognisedActivation { node: String, op: String },
    #[error("the data path ends at {value} without reaching the graph output {output}")]
    DeadEnd { value: String, output: String },
    #[error("node {node}: the graph has a cycle")]
    Cycle { node: String },
    #[error("the graph contains no linear layer (Gemm or MatMul)")]
    NoLayers,
    #[error("shape mismatch: {0}")]
    Shape(String),
}

type Result<T> = std::result::Result<T, OnnxError>;

/// A constant tensor (initializer or `Constant` output), widened to f64.
#[derive(Clone, Debug)]
struct Const {
    dims: Vec<usize>,
    data: Vec<f64>,
}

impl Const {
    fn scalar(&self) -> Option<f64> {
        (self.data.len() == 1).then(|| self.data[0])
    }
}

/// One recognised operation on the data path, before layers are assembled.
#[derive(Debug)]
enum Step {
    /// `W·x + b` with `w` row-major `out × inp`.
    Linear {
        w: Vec<f64>,
        out: usize,
        inp: usize,
        b: Option<Vec<f64>>,
    },
    /// Elementwise `x + v` (`v` of length 1 or the feature count).
    Add(Vec<f64>),
    /// Elementwise `x · v`.
    Mul(Vec<f64>),
    /// An activation (`Sin` arrives as `Sine { omega: 1 }`).
    Act(Act),
    /// Fourier features; `matrix` (`d × F`) is `None` when the `MatMul` came before the
    /// branch point (it is then the pending linear step).
    Fourier {
        matrix: Option<(Vec<f64>, usize, usize)>,
        scale: f64,
        sin_first: bool,
    },
    /// A positional encoding's blocks, in the order of its `Concat`.
    Positional(Vec<Block>),
}

struct Tagged {
    step: Step,
    node: String,
    op: String,
}

/// Reads an ONNX model and recognises the MLP it contains.
pub fn read_onnx(bytes: &[u8]) -> Result<OnnxMlp> {
    let model = ModelProto::decode(bytes)?;
    let graph = model.graph.as_ref().ok_or(OnnxError::NoGraph)?;
    let mut budget = MAX_TOTAL_ELEMENTS;

    let mut consts: HashMap<&str, Const> = HashMap::new();
    for t in &graph.initializer {
        consts.insert(t.name.as_str(), decode_tensor(t, &t.name, &mut budget)?);
    }
    for n in &graph.node {
        if n.op_type == "Constant" && is_default_domain(n) {
            let Some(out) = n.output.first() else {
                continue;
            };
            if let Some(c) = constant_node_value(n, out, &mut budget)? {
                consts.insert(out.as_str(), c);
            }
        }
    }

    let inputs: Vec<&proto::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|v| !consts.contains_key(v.name.as_str()))
        .collect();
    if inputs.len() != 1 {
        return Err(OnnxError::InputCount {
            names: inputs.iter().map(|v| v.name.clone()).collect(),
        });
    }
    let input = inputs[0];
    let input_dim_hint = input_last_dim(input)?;
    if graph.output.len() != 1 {
        return Err(OnnxError::OutputCount {
            count: graph.output.len(),
        });
    }

    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        if (n.op_type == "Constant" || n.op_type == "Shape") && is_default_domain(n) {
            continue;
        }
        let mut seen = HashSet::new();
        for name in &n.input {
            if !name.is_empty() && !consts.contains_key(name.as_str()) && seen.insert(name) {
                consumers.entry(name.as_str()).or_default().push(i);
            }
        }
    }

    let walker = Walker {
        nodes: &graph.node,
        consts: &consts,
        consumers: &consumers,
        output: graph.output[0].name.as_str(),
    };
    let steps = walker.walk(input.name.as_str(), input_dim_hint)?;
    build(steps, input_dim_hint)
}

fn is_default_domain(n: &NodeProto) -> bool {
    n.domain.is_empty() || n.domain == "ai.onnx"
}

fn input_last_dim(v: &proto::ValueInfoProto) -> Result<Option<usize>> {
    let shape = v
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref());
    let Some(shape) = shape else { return Ok(None) };
    let Some(last) = shape.dim.last() else {
        return Err(OnnxError::BadInput {
            name: v.name.clone(),
            reason: "it is a scalar; expected a (batch, dimension) tensor".into(),
        });
    };
    if last.dim_value > MAX_DIM {
        return Err(OnnxError::BadInput {
            name: v.name.clone(),
            reason: format!("absurd dimension {}", last.dim_value),
        });
    }
    Ok((last.dim_value > 0).then_some(last.dim_value as usize))
}

// ---------------------------------------------------------------------------------------
// Tensors

fn bad_tensor(name: &str, reason: impl Into<String>) -> OnnxError {
    OnnxError::BadTensor {
        tensor: name.to_string(),
        reason: reason.into(),
    }
}

/// Decodes a tensor; the element count is checked against the remaining budget and the
/// bytes actually present before anything is allocated.
fn decode_tensor(t: &TensorProto, name: &str, budget: &mut usize) -> Result<Const> {
    if t.data_location == 1 {
        let location = t
            .external_data
            .iter()
            .find(|e| e.key == "location")
            .map(|e| e.value.clone())
            .unwrap_or_default();
        return Err(OnnxError::ExternalData {
            tensor: name.to_string(),
            location,
        });
    }
    let mut dims = Vec::with_capacity(t.dims.len().min(16));
    let mut n: usize = 1;
    for &d in &t.dims {
        if !(0..=MAX_DIM).contains(&d) {
            return Err(bad_tensor(name, format!("invalid dimension {d}")));
        }
        dims.push(d as usize);
        n = n
            .checked_mul(d as usize)
            .ok_or_else(|| bad_tensor(name, "element count overflows"))?;
    }
    if n > *budget {
        return Err(OnnxError::TooLarge {
            tensor: name.to_string(),
            limit: MAX_TOTAL_ELEMENTS,
        });
    }
    *budget -= n;

    // ONNX stores a tensor either as little-endian `raw_data` or in the typed field of its
    // storage type (float16/bfloat16 bits widened into `int32_data`): one decode per type,
    // differing only in the element width and the conversion.
    let raw = &t.raw_data;
    let decode = |width: usize,
                  from_le: &dyn Fn(&[u8]) -> f64,
                  typed: &dyn Fn() -> Vec<f64>,
                  typed_len: usize,
                  field: &str|
     -> Result<Vec<f64>> {
        let mismatch = |have: usize, unit: &str| {
            bad_tensor(
                name,
                format!("{n} elements expected but {have} {unit} present (truncated file?)"),
            )
        };
        if !raw.is_empty() {
            if raw.len() != n * width {
                return Err(mismatch(raw.len(), "bytes"));
            }
            Ok(raw.chunks_exact(width).map(from_le).collect())
        } else if typed_len == n {
            Ok(typed())
        } else {
            Err(mismatch(typed_len, &format!("{field} values")))
        }
    };
    let half_bits = |bits: u16| -> f64 {
        if t.data_type == data_type::FLOAT16 {
            f64::from(half::f16::from_bits(bits).to_f32())
        } else {
            f64::from(half::bf16::from_bits(bits).to_f32())
        }
    };
    let data: Vec<f64> = match t.data_type {
        data_type::FLOAT => decode(
            4,
            &|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            &|| t.float_data.iter().map(|&v| f64::from(v)).collect(),
            t.float_data.len(),
            "float_data",
        )?,
        data_type::DOUBLE => decode(
            8,
            &|c| f64::from_le_bytes(arr8(c)),
            &|| t.double_data.clone(),
            t.double_data.len(),
            "double_data",
        )?,
        data_type::FLOAT16 | data_type::BFLOAT16 => decode(
            2,
            &|c| half_bits(u16::from_le_bytes([c[0], c[1]])),
            &|| t.int32_data.iter().map(|&v| half_bits(v as u16)).collect(),
            t.int32_data.len(),
            "int32_data",
        )?,
        data_type::INT64 => decode(
            8,
            &|c| i64::from_le_bytes(arr8(c)) as f64,
            &|| t.int64_data.iter().map(|&v| v as f64).collect(),
            t.int64_data.len(),
            "int64_data",
        )?,
        data_type::INT32 => decode(
            4,
            &|c| f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            &|| t.int32_data.iter().map(|&v| f64::from(v)).collect(),
            t.int32_data.len(),
            "int32_data",
        )?,
        other => {
            return Err(OnnxError::UnsupportedDtype {
                tensor: name.to_string(),
                dtype: data_type::name(other),
            });
        }
    };
    Ok(Const { dims, data })
}

fn arr8(c: &[u8]) -> [u8; 8] {
    let mut b = [0u8; 8];
    b.copy_from_slice(c);
    b
}

/// The value of a `Constant` node, or `None` for kinds that cannot be weights (strings,
/// sparse tensors), which are only an error if the data path uses them.
fn constant_node_value(n: &NodeProto, out: &str, budget: &mut usize) -> Result<Option<Const>> {
    for a in &n.attribute {
        let c = match a.name.as_str() {
            "value" => match &a.t {
                Some(t) => decode_tensor(t, out, budget)?,
                None => return Err(bad_tensor(out, "Constant 'value' without a tensor")),
            },
            "value_float" => Const {
                dims: vec![],
                data: vec![f64::from(a.f)],
            },
            "value_int" => Const {
                dims: vec![],
                data: vec![a.i as f64],
            },
            "value_floats" => Const {
                dims: vec![a.floats.len()],
                data: a.floats.iter().map(|&v| f64::from(v)).collect(),
            },
            "value_ints" => Const {
                dims: vec![a.ints.len()],
                data: a.ints.iter().map(|&v| v as f64).collect(),
            },
            _ => continue,
        };
        return Ok(Some(c));
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------
// Attributes

fn label(nodes: &[NodeProto], i: usize) -> String {
    let n = &nodes[i];
    if n.name.is_empty() {
        format!("#{i} ({})", n.op_type)
    } else {
        n.name.clone()
    }
}

fn find_attr<'n>(n: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

struct Walker<'a> {
    nodes: &'a [NodeProto],
    consts: &'a HashMap<&'a str, Const>,
    consumers: &'a HashMap<&'a str, Vec<usize>>,
    output: &'a str,
}

impl<'a> Walker<'a> {
    fn bad(&self, i: usize, reason: impl Into<String>) -> OnnxError {
        OnnxError::BadNode {
            node: label(self.nodes, i),
            op: self.nodes[i].op_type.clone(),
            reason: reason.into(),
        }
    }

    fn unsupported(&self, i: usize, hint: impl Into<String>) -> OnnxError {
        OnnxError::UnsupportedOp {
            node: label(self.nodes, i),
            op: self.nodes[i].op_type.clone(),
            hint: hint.into(),
        }
    }

    fn skip(&self, i: usize) -> OnnxError {
        OnnxError::SkipConnection {
            node: label(self.nodes, i),
            op: self.nodes[i].op_type.clone(),
        }
    }

    fn attr_f(&self, i: usize, name: &str, default: f64) -> Result<f64> {
        match find_attr(&self.nodes[i], name) {
            None => Ok(default),
            Some(a) if a.r#type == attr_type::FLOAT || a.r#type == 0 => Ok(f64::from(a.f)),
            Some(a) if a.r#type == attr_type::INT => Ok(a.i as f64),
            Some(_) => Err(self.bad(i, format!("attribute {name} is not a number"))),
        }
    }

    fn attr_i(&self, i: usize, name: &str, default: i64) -> Result<i64> {
        match find_attr(&self.nodes[i], name) {
            None => Ok(default),
            Some(a) if a.r#type == attr_type::INT || a.r#type == 0 => Ok(a.i),
            Some(_) => Err(self.bad(i, format!("attribute {name} is not an integer"))),
        }
    }

    fn attr_s(&self, i: usize, name: &str, default: &str) -> Result<String> {
        match find_attr(&self.nodes[i], name) {
            None => Ok(default.to_string()),
            Some(a) if a.r#type == attr_type::STRING || a.r#type == 0 => {
                Ok(String::from_utf8_lossy(&a.s).into_owned())
            }
            Some(_) => Err(self.bad(i, format!("attribute {name} is not a string"))),
        }
    }

    fn consumers_of(&self, v: &str) -> &'a [usize] {
        self.consumers.get(v).map_or(&[], |c| c.as_slice())
    }

    fn konst(&self, name: &str) -> Option<&'a Const> {
        self.consts.get(name)
    }

    /// Distinct non-constant inputs of node `i`.
    fn data_inputs(&self, i: usize) -> Vec<&'a str> {
        let mut out: Vec<&'a str> = Vec::new();
        for s in &self.nodes[i].input {
            if !s.is_empty() && self.konst(s).is_none() && !out.contains(&s.as_str()) {
                out.push(s.as_str());
            }
        }
        out
    }

    /// The first output of node `i`, checking that no other output is used.
    fn main_output(&self, i: usize) -> Result<&'a str> {
        let n = &self.nodes[i];
        let first = n
            .output
            .first()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.bad(i, "node has no output"))?;
        for o in n.output.iter().skip(1) {
            if !o.is_empty() && (!self.consumers_of(o).is_empty() || o == self.output) {
                return Err(self.bad(i, format!("its extra output {o} is used")));
            }
        }
        Ok(first.as_str())
    }

    /// Per-feature broadcast of a constant: a scalar, or `[.., F]` with leading 1s.
    fn per_feature(&self, i: usize, c: &Const, features: Option<usize>) -> Result<Vec<f64>> {
        if c.data.len() == 1 {
            return Ok(c.data.clone());
        }
        let last = c.dims.last().copied().unwrap_or(1);
        let leading_ones = c.dims.len() <= 2 && c.dims.iter().rev().skip(1).all(|&d| d == 1);
        if leading_ones && features.is_none_or(|f| f == last) {
            Ok(c.data.clone())
        } else {
            Err(self.bad(
                i,
                format!(
                    "constant of shape {:?} does not broadcast over the {} features",
                    c.dims,
                    features.map_or("?".into(), |f| f.to_string())
                ),
            ))
        }
    }

    fn walk(&self, input: &'a str, input_dim: Option<usize>) -> Result<Vec<Tagged>> {
        let mut steps = Vec::new();
        let mut visited = vec![false; self.nodes.len()];
        let mut cur = input;
        let mut features = input_dim;
        while cur != self.output {
            let cons = self.consumers_of(cur);
            cur = match cons {
                [] => {
                    return Err(OnnxError::DeadEnd {
                        value: cur.to_string(),
                        output: self.output.to_string(),
                    });
                }
                [i] => {
                    self.visit(&mut visited, *i)?;
                    self.single(*i, cur, &mut features, &mut steps, &mut visited)?
                }
                _ => self.fan_out(cur, cons, &mut features, &mut steps, &mut visited)?,
            };
        }
        Ok(steps)
    }

    fn visit(&self, visited: &mut [bool], i: usize) -> Result<()> {
        if std::mem::replace(&mut visited[i], true) {
            return Err(OnnxError::Cycle {
                node: label(self.nodes, i),
            });
        }
        Ok(())
    }

    /// Handles node `i`, the only consumer of `cur`; returns its output.
    fn single(
        &self,
        i: usize,
        cur: &'a str,
        features: &mut Option<usize>,
        steps: &mut Vec<Tagged>,
        visited: &mut [bool],
    ) -> Result<&'a str> {
        let n = &self.nodes[i];
        let op = n.op_type.as_str();
        if !is_default_domain(n) {
            return Err(self.unsupported(i, format!(" (custom domain {:?})", n.domain)));
        }
        let out = self.main_output(i)?;
        let data = self.data_inputs(i);
        if op == "Reshape" {
            return self.reshape(i, cur, *features).map(|()| out);
        }
        if data.iter().any(|&d| d != cur) {
            return Err(self.skip(i));
        }
        let mut push = |step: Step| {
            steps.push(Tagged {
                step,
                node: label(self.nodes, i),
                op: op.to_string(),
            })
        };
        let input = |k: usize| n.input.get(k).map(String::as_str).unwrap_or("");
        match op {
            "Identity" | "Dropout" => {}
            "Cast" => {
                let to = self.attr_i(i, "to", 0)?;
                if ![1, 10, 11, 16].contains(&(to as i32)) {
                    return Err(self.unsupported(i, " to a non-float type"));
                }
            }
            "Flatten" => {
                let axis = self.attr_i(i, "axis", 1)?;
                if axis != 1 && axis != -1 {
                    return Err(self.bad(i, format!("axis {axis} does not keep (batch, features)")));
                }
            }
            "Gemm" => {
                if input(0) != cur {
                    return Err(self.unsupported(i, " with the data as the B operand"));
                }
                if self.attr_i(i, "transA", 0)? != 0 {
                    return Err(self.unsupported(i, " with transA=1"));
                }
                let trans_b = self.attr_i(i, "transB", 0)? != 0;
                let alpha = self.attr_f(i, "alpha", 1.0)?;
                let beta = self.attr_f(i, "beta", 1.0)?;
                let b = self
                    .konst(input(1))
                    .ok_or_else(|| self.bad(i, "B is not a constant"))?;
                if b.dims.len() != 2 {
                    return Err(self.bad(i, format!("B has shape {:?}, expected 2-D", b.dims)));
                }
                let (out_d, inp) = if trans_b {
                    (b.dims[0], b.dims[1])
                } else {
                    (b.dims[1], b.dims[0])
                };
                self.check_features(i, *features, inp)?;
                let w: Vec<f64> = if trans_b {
                    b.data.iter().map(|v| alpha * v).collect()
                } else {
                    transpose(&b.data, inp, out_d)
                        .into_iter()
                        .map(|v| alpha * v)
                        .collect()
                };
                let bias = match n.input.get(2).filter(|s| !s.is_empty()) {
                    None => None,
                    Some(name) => {
                        let c = self
                            .konst(name)
                            .ok_or_else(|| self.bad(i, "C is not a constant"))?;
                        let v = self.per_feature(i, c, Some(out_d))?;
                        let v = if v.len() == 1 { vec![v[0]; out_d] } else { v };
                        Some(v.into_iter().map(|x| beta * x).collect())
                    }
                };
                *features = Some(out_d);
                push(Step::Linear {
                    w,
                    out: out_d,
                    inp,
                    b: bias,
                });
            }
            "MatMul" => {
                if input(0) != cur {
                    return Err(self.unsupported(i, " with the weights as the first operand"));
                }
                let b = self
                    .konst(input(1))
                    .ok_or_else(|| self.bad(i, "B is not a constant"))?;
                let (inp, out_d) = match b.dims.as_slice() {
                    [k, m] => (*k, *m),
                    [k] => (*k, 1),
                    d => return Err(self.bad(i, format!("weight of shape {d:?}; expected 2-D"))),
                };
                self.check_features(i, *features, inp)?;
                *features = Some(out_d);
                push(Step::Linear {
                    w: transpose(&b.data, inp, out_d),
                    out: out_d,
                    inp,
                    b: None,
                });
            }
            "Add" | "Sub" | "Mul" | "Div" => {
                let (pos, other) = if input(0) == cur {
                    (0, input(1))
                } else {
                    (1, input(0))
                };
                if other == cur {
                    return self.region(i, cur, steps, visited);
                }
                let c = self.konst(other).ok_or_else(|| self.skip(i))?;
                let v = self.per_feature(i, c, *features)?;
                if features.is_none() && v.len() > 1 {
                    *features = Some(v.len());
                }
                match (op, pos) {
                    ("Add", _) => push(Step::Add(v)),
                    ("Mul", _) => push(Step::Mul(v)),
                    ("Sub", 0) => push(Step::Add(v.iter().map(|x| -x).collect())),
                    ("Sub", _) => {
                        push(Step::Mul(vec![-1.0]));
                        push(Step::Add(v));
                    }
                    (_, 0) => {
                        if v.contains(&0.0) {
                            return Err(self.bad(i, "division by zero"));
                        }
                        push(Step::Mul(v.iter().map(|x| 1.0 / x).collect()));
                    }
                    _ => return Err(self.unsupported(i, " dividing a constant by the data")),
                }
            }
            "Neg" => push(Step::Mul(vec![-1.0])),
            "Relu" => push(Step::Act(Act::Relu)),
            "Tanh" => push(Step::Act(Act::Tanh)),
            "Sigmoid" => push(Step::Act(Act::Sigmoid)),
            "Sin" => push(Step::Act(Act::Sine { omega: 1.0 })),
            "Softplus" => push(Step::Act(Act::Softplus {
                beta: 1.0,
                threshold: f32::INFINITY,
            })),
            "LeakyRelu" => {
                let a = self.attr_f(i, "alpha", 0.01)?;
                push(Step::Act(Act::LeakyRelu(a as f32)));
            }
            "Elu" => {
                let a = self.attr_f(i, "alpha", 1.0)?;
                push(Step::Act(Act::Elu(a as f32)));
            }
            "Gelu" => {
                let tanh_approx = match self.attr_s(i, "approximate", "none")?.as_str() {
                    "none" => false,
                    "tanh" => true,
                    other => return Err(self.bad(i, format!("unknown approximate={other:?}"))),
                };
                push(Step::Act(Act::Gelu { tanh_approx }));
            }
            "Erf" | "Pow" | "Exp" | "Log" | "Sqrt" | "Reciprocal" | "Abs" => {
                return self.region(i, cur, steps, visited);
            }
            "Concat" => {
                return Err(self.unsupported(i, " (concatenating constants onto the features)"));
            }
            _ => return Err(self.unsupported(i, "")),
        }
        Ok(out)
    }

    fn check_features(&self, i: usize, features: Option<usize>, inp: usize) -> Result<()> {
        match features {
            Some(f) if f != inp => Err(self.bad(
                i,
                format!("weight expects {inp} input features but the data has {f}"),
            )),
            _ => Ok(()),
        }
    }

    fn reshape(&self, i: usize, cur: &str, features: Option<usize>) -> Result<()> {
        let n = &self.nodes[i];
        if n.input.first().map(String::as_str) != Some(cur) {
            return Err(self.skip(i));
        }
        let shape = n.input.get(1).and_then(|s| self.konst(s)).ok_or_else(|| {
            self.bad(
                i,
                "the target shape is computed; export with constant folding, or use Flatten",
            )
        })?;
        let ok = match shape.data.as_slice() {
            [a, b] if *a == -1.0 || *a == 0.0 => {
                (*b == -1.0 && *a == 0.0) || features.is_some_and(|f| *b == f as f64)
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(self.bad(
                i,
                format!(
                    "reshape to {:?} does not keep (batch, features)",
                    shape.data
                ),
            ))
        }
    }

    /// `cur` feeds several nodes: the Fourier pattern, or an elementwise activation.
    fn fan_out(
        &self,
        cur: &'a str,
        cons: &[usize],
        features: &mut Option<usize>,
        steps: &mut Vec<Tagged>,
        visited: &mut [bool],
    ) -> Result<&'a str> {
        if let Some((blocks, concat, nodes)) = self.try_positional(cur, cons)? {
            for &k in &nodes {
                self.visit(visited, k)?;
            }
            *features = features.map(|f| f * blocks.len());
            steps.push(Tagged {
                step: Step::Positional(blocks),
                node: label(self.nodes, concat),
                op: "Concat".into(),
            });
            return self.main_output(concat);
        }
        if let Some((step, concat, nodes)) = self.try_fourier(cur, cons)? {
            for &k in &nodes {
                self.visit(visited, k)?;
            }
            if let Step::Fourier {
                matrix: Some((_, _, f)),
                ..
            } = &step
            {
                *features = Some(2 * f);
            } else {
                *features = features.map(|f| 2 * f);
            }
            steps.push(Tagged {
                step,
                node: label(self.nodes, concat),
                op: "Concat".into(),
            });
            return self.main_output(concat);
        }
        self.region(cons[0], cur, steps, visited)
    }

    /// Recognises a positional encoding at `cur`: one `Concat` (axis −1) whose inputs are
    /// `cur` itself, `Sin`/`Cos` of `cur`, or `Sin`/`Cos` of `Mul(cur, scalar)`, and which is
    /// all that `cur`'s consumers lead to. `Ok(None)` if the graph does not look like that.
    /// Tried before the Fourier pattern, which it never matches (that one starts with a
    /// fan-out of two, this with a direct `Concat` or more than two consumers).
    #[allow(clippy::type_complexity)]
    fn try_positional(
        &self,
        cur: &'a str,
        cons: &[usize],
    ) -> Result<Option<(Vec<Block>, usize, Vec<usize>)>> {
        let is_concat = |k: usize| self.nodes[k].op_type == "Concat";
        if cons.len() <= 2 && !cons.iter().any(|&k| is_concat(k)) {
            return Ok(None);
        }
        // Value name → the block it is.
        let mut pieces: HashMap<&str, Block> = HashMap::from([(cur, Block::Input)]);
        let mut nodes = Vec::new();
        let mut concat = None;
        let mut trig = |k: usize, f: f64, nodes: &mut Vec<usize>| -> Result<Option<()>> {
            let n = &self.nodes[k];
            let block = match n.op_type.as_str() {
                "Sin" => Block::Sin(f),
                "Cos" => Block::Cos(f),
                _ => return Ok(None),
            };
            if !is_default_domain(n) || n.input.len() != 1 {
                return Ok(None);
            }
            let out = self.main_output(k)?;
            pieces.insert(out, block);
            nodes.push(k);
            Ok(Some(()))
        };
        for &k in cons {
            let n = &self.nodes[k];
            if !is_default_domain(n) {
                return Ok(None);
            }
            match n.op_type.as_str() {
                "Concat" => {
                    if concat.replace(k).is_some_and(|c| c != k) {
                        return Ok(None);
                    }
                }
                "Sin" | "Cos" => {
                    if trig(k, 1.0, &mut nodes)?.is_none() {
                        return Ok(None);
                    }
                }
                "Mul" => {
                    let other = n.input.iter().find(|s| s.as_str() != cur);
                    let f = match other.and_then(|o| self.konst(o)).and_then(|c| c.scalar()) {
                        Some(f) if self.data_inputs(k) == [cur] && f.is_finite() => f,
                        _ => return Ok(None),
                    };
                    nodes.push(k);
                    let out = self.main_output(k)?;
                    let next = self.consumers_of(out);
                    if next.is_empty() || next.len() > 2 {
                        return Ok(None);
                    }
                    for &t in next {
                        if trig(t, f, &mut nodes)?.is_none() {
                            return Ok(None);
                        }
                    }
                }
                _ => return Ok(None),
            }
        }
        // Every sine and cosine feeds the one Concat, and the Concat takes only them and cur.
        let Some(concat) = concat.or_else(|| {
            let last = *nodes.last()?;
            self.consumers_of(self.main_output(last).ok()?)
                .first()
                .copied()
        }) else {
            return Ok(None);
        };
        if !is_concat(concat) {
            return Ok(None);
        }
        for (&v, b) in &pieces {
            if *b != Block::Input && self.consumers_of(v) != [concat] {
                return Ok(None);
            }
        }
        let ins = &self.nodes[concat].input;
        let blocks: Option<Vec<Block>> = ins
            .iter()
            .map(|v| pieces.get(v.as_str()).copied())
            .collect();
        let Some(blocks) = blocks else {
            return Ok(None);
        };
        if blocks.len() != pieces.len() - usize::from(!blocks.contains(&Block::Input)) {
            // A sine or cosine computed but concatenated twice or not at all.
            return Ok(None);
        }
        let axis = self.attr_i(concat, "axis", 0)?;
        if axis != -1 && axis != 1 {
            return Err(self.bad(
                concat,
                format!("a positional encoding concatenated on axis {axis}; expected -1"),
            ));
        }
        nodes.push(concat);
        Ok(Some((blocks, concat, nodes)))
    }

    /// Recognises `[MatMul B] [Mul s] → Sin | Cos → Concat` branches from `cur`. `Ok(None)`
    /// if the branches do not look like that at all.
    #[allow(clippy::type_complexity)]
    fn try_fourier(
        &self,
        cur: &'a str,
        cons: &[usize],
    ) -> Result<Option<(Step, usize, Vec<usize>)>> {
        if cons.len() != 2 {
            return Ok(None);
        }
        let mut branches = Vec::new();
        let mut nodes = Vec::new();
        for &start in cons {
            let mut node = start;
            let mut val = cur;
            let mut matrix: Option<(Vec<f64>, usize, usize)> = None;
            let mut scale = 1.0;
            let mut trig = None;
            for _ in 0..8 {
                let n = &self.nodes[node];
                if self.data_inputs(node) != [val] || !is_default_domain(n) {
                    return Ok(None);
                }
                let other = n
                    .input
                    .iter()
                    .find(|s| s.as_str() != val)
                    .map(String::as_str);
                let c = other.and_then(|o| self.konst(o));
                match (n.op_type.as_str(), c) {
                    ("MatMul", Some(c))
                        if matrix.is_none() && n.input[0] == val && c.dims.len() == 2 =>
                    {
                        matrix = Some((c.data.clone(), c.dims[0], c.dims[1]));
                    }
                    ("Mul", Some(c)) if c.scalar().is_some() => scale *= c.data[0],
                    ("Div", Some(c))
                        if c.scalar().is_some_and(|s| s != 0.0) && n.input[0] == val =>
                    {
                        scale /= c.data[0]
                    }
                    ("Sin", None) => trig = Some(true),
                    ("Cos", None) => trig = Some(false),
                    _ => return Ok(None),
                }
                nodes.push(node);
                val = self.main_output(node)?;
                let next = self.consumers_of(val);
                if next.len() != 1 {
                    return Ok(None);
                }
                node = next[0];
                if trig.is_some() {
                    break;
                }
            }
            let Some(sin) = trig else { return Ok(None) };
            if self.nodes[node].op_type != "Concat" {
                return Ok(None);
            }
            branches.push((sin, matrix, scale, node, val));
        }
        let (a, b) = (&branches[0], &branches[1]);
        if a.3 != b.3 || a.0 == b.0 {
            return Ok(None);
        }
        let concat = a.3;
        let cn = &self.nodes[concat];
        let ins: Vec<&str> = cn.input.iter().map(String::as_str).collect();
        let first_is_a = match ins.as_slice() {
            [x, y] if *x == a.4 && *y == b.4 => true,
            [x, y] if *x == b.4 && *y == a.4 => false,
            _ => return Ok(None),
        };
        let axis = self.attr_i(concat, "axis", 0)?;
        if axis != -1 && axis != 1 {
            return Err(self.bad(
                concat,
                format!("Fourier features concatenated on axis {axis}; expected -1"),
            ));
        }
        let same_matrix = match (&a.1, &b.1) {
            (None, None) => true,
            (Some(x), Some(y)) => x == y,
            _ => false,
        };
        let same_scale = (a.2 - b.2).abs() <= 1e-12 * a.2.abs().max(b.2.abs());
        if !same_matrix || !same_scale {
            return Err(self.bad(
                concat,
                "the sin and cos branches use different matrices or scales",
            ));
        }
        nodes.push(concat);
        let sin_first = if first_is_a { a.0 } else { b.0 };
        let step = Step::Fourier {
            matrix: a.1.clone(),
            scale: a.2,
            sin_first,
        };
        Ok(Some((step, concat, nodes)))
    }

    /// Collects the elementwise sub-graph that starts at `cur` (first node `first`) until
    /// it closes on one value that computes a known activation.
    fn region(
        &self,
        first: usize,
        cur: &'a str,
        steps: &mut Vec<Tagged>,
        visited: &mut [bool],
    ) -> Result<&'a str> {
        let mut vals: HashMap<&'a str, usize> = HashMap::from([(cur, 0)]);
        let mut expr = vec![ENode::Input];
        let mut members: Vec<usize> = Vec::new();
        let unrecognised = || OnnxError::UnrecognisedActivation {
            node: label(self.nodes, first),
            op: self.nodes[first].op_type.clone(),
        };
        loop {
            let mut open: Vec<&'a str> = vals
                .keys()
                .copied()
                .filter(|v| {
                    *v == self.output || self.consumers_of(v).iter().any(|c| !members.contains(c))
                })
                .collect();
            open.sort_unstable();
            if let [v] = open.as_slice()
                && !members.is_empty()
                && let Some(act) = region::identify(&expr, vals[v])
            {
                for &m in &members {
                    self.visit(visited, m)?;
                }
                steps.push(Tagged {
                    step: Step::Act(act),
                    node: label(self.nodes, first),
                    op: self.nodes[first].op_type.clone(),
                });
                return Ok(v);
            }
            if members.len() >= MAX_REGION_NODES {
                return Err(unrecognised());
            }
            let mut ready = None;
            let mut blocked = None;
            let mut non_elementwise = None;
            'search: for v in &open {
                for &c in self.consumers_of(v) {
                    if members.contains(&c) {
                        continue;
                    }
                    let n = &self.nodes[c];
                    let op = n.op_type.as_str();
                    let elementwise = is_default_domain(n)
                        && (Un::from_op(op).is_some()
                            || Bin::from_op(op).is_some()
                            || op == "Cast");
                    if !elementwise {
                        non_elementwise.get_or_insert(c);
                    } else if self.data_inputs(c).iter().all(|d| vals.contains_key(d)) {
                        ready = Some(c);
                        break 'search;
                    } else {
                        blocked.get_or_insert(c);
                    }
                }
            }
            let Some(c) = ready else {
                if let Some(b) = blocked {
                    return Err(self.skip(b));
                }
                if open.len() > 1 || self.consumers_of(cur).len() > 1 {
                    return Err(self.branching(cur));
                }
                return Err(match non_elementwise {
                    Some(c) if members.is_empty() => self.unsupported(c, ""),
                    _ => unrecognised(),
                });
            };
            let n = &self.nodes[c];
            let operand = |k: usize, expr: &mut Vec<ENode>| -> Result<usize> {
                let name = n.input.get(k).map(String::as_str).unwrap_or("");
                if let Some(&idx) = vals.get(name) {
                    return Ok(idx);
                }
                let k = self
                    .konst(name)
                    .ok_or_else(|| self.bad(c, "missing input"))?;
                let s = k.scalar().ok_or_else(|| {
                    self.bad(c, "per-feature constant inside an elementwise activation")
                })?;
                expr.push(ENode::Const(s));
                Ok(expr.len() - 1)
            };
            let op = n.op_type.as_str();
            let node = if let Some(u) = Un::from_op(op) {
                ENode::Un(u, operand(0, &mut expr)?)
            } else if let Some(b) = Bin::from_op(op) {
                let x = operand(0, &mut expr)?;
                let y = operand(1, &mut expr)?;
                ENode::Bin(b, x, y)
            } else {
                ENode::Un(Un::Identity, operand(0, &mut expr)?)
            };
            expr.push(node);
            vals.insert(self.main_output(c)?, expr.len() - 1);
            members.push(c);
        }
    }

    /// Error for a value whose branches cannot be followed: names the first merge node
    /// downstream (a skip connection) if there is one.
    fn branching(&self, start: &'a str) -> OnnxError {
        let mut queue = VecDeque::from([start]);
        let mut seen: HashSet<&str> = HashSet::from([start]);
        let mut steps = 0usize;
        while let Some(v) = queue.pop_front() {
            for &c in self.consumers_of(v) {
                steps += 1;
                if steps > 100_000 {
                    break;
                }
                if self.data_inputs(c).len() > 1 {
                    return self.skip(c);
                }
                for o in &self.nodes[c].output {
                    if !o.is_empty() && seen.insert(o.as_str()) {
                        queue.push_back(o.as_str());
                    }
                }
            }
        }
        OnnxError::Branching {
            value: start.to_string(),
            nodes: self
                .consumers_of(start)
                .iter()
                .map(|&c| label(self.nodes, c))
                .collect(),
        }
    }
}

fn transpose(m: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

// ---------------------------------------------------------------------------------------
// Assembling layers

struct Pending {
    w: Vec<f64>,
    out: usize,
    inp: usize,
    b: Vec<f64>,
    has_bias: bool,
    /// `z = omega·(W·x + b)`; kept apart so that SIREN's ω survives.
    omega: f64,
}

impl Pending {
    fn fold_omega(&mut self) {
        if self.omega != 1.0 {
            let o = self.omega;
            self.w.iter_mut().for_each(|v| *v *= o);
            self.b.iter_mut().for_each(|v| *v *= o);
            self.omega = 1.0;
        }
    }
}

struct Layer {
    w: Vec<f64>,
    out: usize,
    inp: usize,
    b: Vec<f64>,
    act: Act,
}

fn at(v: &[f64], i: usize) -> f64 {
    if v.len() == 1 { v[0] } else { v[i] }
}

fn zip_with(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    let n = a.len().max(b.len());
    (0..n).map(|i| f(at(a, i), at(b, i))).collect()
}

fn build(steps: Vec<Tagged>, input_dim_hint: Option<usize>) -> Result<OnnxMlp> {
    let mut affine: Option<(Vec<f64>, Vec<f64>)> = None;
    let mut enc: Option<(Vec<f64>, usize, usize, bool, f64)> = None;
    let mut positional: Option<Vec<Block>> = None;
    let mut layers: Vec<Layer> = Vec::new();
    let mut cur: Option<Pending> = None;
    let mut post: Option<(Vec<f64>, Vec<f64>)> = None;
    let mut output_scale = 1.0;

    for Tagged { step, node, op } in steps {
        let bad = |reason: &str| OnnxError::BadNode {
            node: node.clone(),
            op: op.clone(),
            reason: reason.to_string(),
        };
        let input_stage =
            layers.is_empty() && cur.is_none() && enc.is_none() && positional.is_none();
        match step {
            Step::Linear { mut w, out, inp, b } => {
                if let Some(mut p) = cur.take() {
                    p.fold_omega();
                    layers.push(Layer {
                        w: p.w,
                        out: p.out,
                        inp: p.inp,
                        b: p.b,
                        act: Act::Identity,
                    });
                }
                let has_bias = b.is_some();
                let mut b = b.unwrap_or_else(|| vec![0.0; out]);
                if let Some((s, t)) = post.take() {
                    if s.len() > 1 && s.len() != inp || t.len() > 1 && t.len() != inp {
                        return Err(OnnxError::Shape(format!("node {node}: feature count")));
                    }
                    for o in 0..out {
                        let row = &mut w[o * inp..(o + 1) * inp];
                        b[o] += row
                            .iter()
                            .enumerate()
                            .map(|(i, v)| v * at(&t, i))
                            .sum::<f64>();
                        row.iter_mut()
                            .enumerate()
                            .for_each(|(i, v)| *v *= at(&s, i));
                    }
                }
                cur = Some(Pending {
                    w,
                    out,
                    inp,
                    b,
                    has_bias,
                    omega: 1.0,
                });
            }
            Step::Add(v) => {
                if let Some(p) = cur.as_mut() {
                    if p.omega == 0.0 {
                        return Err(bad("adding after a multiplication by zero"));
                    }
                    let o = p.omega;
                    for (k, b) in p.b.iter_mut().enumerate() {
                        *b += at(&v, k) / o;
                    }
                    p.has_bias = true;
                } else if input_stage {
                    let (a, b) = affine.get_or_insert_with(|| (vec![1.0], vec![0.0]));
                    *b = zip_with(b, &v, |x, y| x + y);
                    if a.len() == 1 && b.len() > 1 {
                        *a = vec![a[0]; b.len()];
                    }
                } else {
                    let (_, t) = post.get_or_insert_with(|| (vec![1.0], vec![0.0]));
                    *t = zip_with(t, &v, |x, y| x + y);
                }
            }
            Step::Mul(v) => {
                if let Some(p) = cur.as_mut() {
                    if v.len() == 1 {
                        p.omega *= v[0];
                    } else {
                        p.fold_omega();
                        let inp = p.inp;
                        for (o, &vo) in v.iter().enumerate().take(p.out) {
                            p.w[o * inp..(o + 1) * inp]
                                .iter_mut()
                                .for_each(|x| *x *= vo);
                            p.b[o] *= vo;
                        }
                    }
                } else if input_stage {
                    let (a, b) = affine.get_or_insert_with(|| (vec![1.0], vec![0.0]));
                    *a = zip_with(a, &v, |x, y| x * y);
                    *b = zip_with(b, &v, |x, y| x * y);
                } else {
                    let (s, t) = post.get_or_insert_with(|| (vec![1.0], vec![0.0]));
                    *s = zip_with(s, &v, |x, y| x * y);
                    *t = zip_with(t, &v, |x, y| x * y);
                }
            }
            Step::Act(act) => {
                let Some(mut p) = cur.take() else {
                    return Err(bad("activation that does not follow a linear layer"));
                };
                let act = match act {
                    Act::Sine { .. } => Act::Sine {
                        omega: p.omega as f32,
                    },
                    a => {
                        p.fold_omega();
                        a
                    }
                };
                layers.push(Layer {
                    w: p.w,
                    out: p.out,
                    inp: p.inp,
                    b: p.b,
                    act,
                });
            }
            Step::Positional(blocks) => {
                if !input_stage || post.is_some() {
                    return Err(bad("a positional encoding must come first in the network"));
                }
                positional = Some(blocks);
            }
            Step::Fourier {
                matrix,
                scale,
                sin_first,
            } => {
                if enc.is_some() || positional.is_some() || !layers.is_empty() || post.is_some() {
                    return Err(bad("a Fourier encoding must come first in the network"));
                }
                match (matrix, cur.take()) {
                    (Some((m, d, f)), None) => enc = Some((m, d, f, sin_first, scale)),
                    (None, Some(p)) => {
                        if p.has_bias && p.b.iter().any(|&v| v != 0.0) {
                            return Err(bad(
                                "Fourier features with a phase (bias) term are not supported",
                            ));
                        }
                        let m = transpose(&p.w, p.out, p.inp);
                        enc = Some((m, p.inp, p.out, sin_first, scale * p.omega));
                    }
                    _ => {
                        return Err(bad(
                            "Fourier branches without exactly one projection matrix",
                        ));
                    }
                }
            }
        }
    }

    if let Some(p) = cur.take() {
        let mut p = p;
        if p.omega != 1.0 && post.is_none() {
            output_scale *= p.omega;
            p.omega = 1.0;
        }
        p.fold_omega();
        layers.push(Layer {
            w: p.w,
            out: p.out,
            inp: p.inp,
            b: p.b,
            act: Act::Identity,
        });
    }
    if layers.is_empty() {
        return Err(OnnxError::NoLayers);
    }
    if let Some((s, t)) = post.take() {
        if s.len() == 1 && t.iter().all(|&v| v == 0.0) {
            output_scale *= s[0];
        } else {
            let last = layers.last_mut().expect("layers is not empty");
            if last.act != Act::Identity {
                return Err(OnnxError::Shape(
                    "a per-feature scale or shift after the last activation is not supported; fold it into the targets or drop it".into(),
                ));
            }
            for o in 0..last.out {
                let (so, to) = (at(&s, o), at(&t, o));
                last.w[o * last.inp..(o + 1) * last.inp]
                    .iter_mut()
                    .for_each(|x| *x *= so);
                last.b[o] = last.b[o] * so + to;
            }
        }
    }

    let input_dim = match (&enc, &positional, input_dim_hint) {
        (Some((_, d, ..)), _, _) => *d,
        (None, _, Some(d)) => d,
        (None, Some(blocks), None) => layers[0].inp / blocks.len(),
        (None, None, None) => layers[0].inp,
    };
    if input_dim_hint.is_some_and(|h| h != input_dim) {
        return Err(OnnxError::Shape(format!(
            "the graph input has {} features but the first layer expects {input_dim}",
            input_dim_hint.unwrap_or(0)
        )));
    }
    let mut width = match (&enc, &positional) {
        (Some((_, _, f, ..)), _) => 2 * f,
        (None, Some(blocks)) => blocks.len() * input_dim,
        (None, None) => input_dim,
    };
    for (k, l) in layers.iter().enumerate() {
        if l.inp != width {
            return Err(OnnxError::Shape(format!(
                "layer {k} expects {} inputs but receives {width}",
                l.inp
            )));
        }
        width = l.out;
    }
    let input_affine = match affine {
        None => None,
        Some((a, b)) => {
            if [a.len(), b.len()].iter().any(|&n| n != 1 && n != input_dim) {
                return Err(OnnxError::Shape("input scale/shift length".into()));
            }
            let bc = |v: &[f64]| (0..input_dim).map(|i| at(v, i) as f32).collect::<Vec<_>>();
            Some((bc(&a), bc(&b)))
        }
    };
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    Ok(OnnxMlp {
        input_dim,
        encoding: match positional {
            Some(blocks) => Some(Encoding::Positional { blocks }),
            None => enc.map(|(m, d, f, sin_first, scale)| Encoding::Fourier {
                matrix: Tensor {
                    name: "encoding.matrix".into(),
                    shape: vec![d, f],
                    data: f32s(&m),
                },
                order_sin_first: sin_first,
                scale: scale as f32,
            }),
        },
        input_affine,
        layers: layers
            .iter()
            .enumerate()
            .map(|(k, l)| Dense {
                weight: Tensor {
                    name: format!("layers.{k}.weight"),
                    shape: vec![l.out, l.inp],
                    data: f32s(&l.w),
                },
                bias: f32s(&l.b),
                act: l.act,
            })
            .collect(),
        output_scale: (output_scale != 1.0).then_some(output_scale as f32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(data_type: i32, dims: Vec<i64>) -> TensorProto {
        TensorProto {
            dims,
            data_type,
            name: "t".into(),
            ..Default::default()
        }
    }

    #[test]
    fn half_precision_storage() {
        let vals = [1.5f32, -0.25, 3.0];
        let mut t = tensor(data_type::FLOAT16, vec![3]);
        t.int32_data = vals
            .iter()
            .map(|&v| i32::from(half::f16::from_f32(v).to_bits()))
            .collect();
        let mut budget = 100;
        assert_eq!(
            decode_tensor(&t, "t", &mut budget).unwrap().data,
            [1.5, -0.25, 3.0]
        );
        let mut t = tensor(data_type::BFLOAT16, vec![3]);
        t.raw_data = vals
            .iter()
            .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
            .collect();
        assert_eq!(
            decode_tensor(&t, "t", &mut budget).unwrap().data,
            [1.5, -0.25, 3.0]
        );
        assert_eq!(budget, 94);
        t.raw_data.pop();
        assert!(matches!(
            decode_tensor(&t, "t", &mut budget),
            Err(OnnxError::BadTensor { .. })
        ));
        let t = tensor(2, vec![1]);
        assert!(matches!(
            decode_tensor(&t, "t", &mut budget),
            Err(OnnxError::UnsupportedDtype { dtype, .. }) if dtype == "UINT8"
        ));
    }
}
