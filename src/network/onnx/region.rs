//! Small scalar expressions for elementwise sub-graphs (the decompositions exporters use
//! for SiLU, GELU, Softplus, …), and their identification with a known [`Act`].
//!
//! An expression is a list of nodes in topological order, evaluated iteratively (no
//! recursion). Identification compares the expression with each candidate activation at
//! fixed sample points; the candidates differ from one another by far more than the
//! tolerance, while an exporter's decomposition matches its activation up to f32 rounding
//! of its constants.

use super::mlp::{self, Act};

#[derive(Clone, Copy, Debug)]
pub(crate) enum Un {
    Neg,
    Exp,
    Log,
    Sqrt,
    Reciprocal,
    Erf,
    Tanh,
    Sigmoid,
    Relu,
    Softplus,
    Abs,
    Identity,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum ENode {
    Input,
    Const(f64),
    Un(Un, usize),
    Bin(Bin, usize, usize),
}

impl Un {
    pub(crate) fn from_op(op: &str) -> Option<Un> {
        Some(match op {
            "Neg" => Un::Neg,
            "Exp" => Un::Exp,
            "Log" => Un::Log,
            "Sqrt" => Un::Sqrt,
            "Reciprocal" => Un::Reciprocal,
            "Erf" => Un::Erf,
            "Tanh" => Un::Tanh,
            "Sigmoid" => Un::Sigmoid,
            "Relu" => Un::Relu,
            "Softplus" => Un::Softplus,
            "Abs" => Un::Abs,
            "Identity" => Un::Identity,
            _ => return None,
        })
    }
}

impl Bin {
    pub(crate) fn from_op(op: &str) -> Option<Bin> {
        Some(match op {
            "Add" => Bin::Add,
            "Sub" => Bin::Sub,
            "Mul" => Bin::Mul,
            "Div" => Bin::Div,
            "Pow" => Bin::Pow,
            _ => return None,
        })
    }
}

/// Evaluates node `out` of `expr` at input `x`.
pub(crate) fn eval(expr: &[ENode], out: usize, x: f64, scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    for node in expr.iter().take(out + 1) {
        let v = match *node {
            ENode::Input => x,
            ENode::Const(c) => c,
            ENode::Un(op, a) => {
                let a = scratch[a];
                match op {
                    Un::Neg => -a,
                    Un::Exp => a.exp(),
                    Un::Log => a.ln(),
                    Un::Sqrt => a.sqrt(),
                    Un::Reciprocal => 1.0 / a,
                    Un::Erf => libm::erf(a),
                    Un::Tanh => a.tanh(),
                    Un::Sigmoid => mlp::sigmoid(a),
                    Un::Relu => a.max(0.0),
                    Un::Softplus => mlp::softplus(a),
                    Un::Abs => a.abs(),
                    Un::Identity => a,
                }
            }
            ENode::Bin(op, a, b) => {
                let (a, b) = (scratch[a], scratch[b]);
                match op {
                    Bin::Add => a + b,
                    Bin::Sub => a - b,
                    Bin::Mul => a * b,
                    Bin::Div => a / b,
                    Bin::Pow => a.powf(b),
                }
            }
        };
        scratch.push(v);
    }
    scratch[out]
}

/// The activation that node `out` of `expr` computes, if it is one of the candidates.
pub(crate) fn identify(expr: &[ENode], out: usize) -> Option<Act> {
    const CANDIDATES: [Act; 8] = [
        Act::Silu,
        Act::Gelu { tanh_approx: false },
        Act::Gelu { tanh_approx: true },
        Act::Softplus {
            beta: 1.0,
            threshold: f32::INFINITY,
        },
        Act::Sigmoid,
        Act::Tanh,
        Act::Relu,
        Act::Elu(1.0),
    ];
    let mut scratch = Vec::with_capacity(expr.len());
    let xs: Vec<f64> = (-160..=160).map(|k| f64::from(k) * 0.05 + 0.0123).collect();
    let values: Vec<f64> = xs
        .iter()
        .map(|&x| eval(expr, out, x, &mut scratch))
        .collect();
    CANDIDATES.into_iter().find(|act| {
        xs.iter().zip(&values).all(|(&x, &v)| {
            let g = act.eval(x);
            (v - g).abs() <= 1e-6 * (1.0 + g.abs())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_erf_gelu_and_not_tanh_gelu() {
        // 0.5 * x * (1 + erf(x / sqrt2)), constants rounded to f32 as in an exported file.
        let e = vec![
            ENode::Input,
            ENode::Const(f64::from(std::f32::consts::SQRT_2)),
            ENode::Bin(Bin::Div, 0, 1),
            ENode::Un(Un::Erf, 2),
            ENode::Const(1.0),
            ENode::Bin(Bin::Add, 3, 4),
            ENode::Bin(Bin::Mul, 0, 5),
            ENode::Const(0.5),
            ENode::Bin(Bin::Mul, 6, 7),
        ];
        assert_eq!(identify(&e, 8), Some(Act::Gelu { tanh_approx: false }));
        // Without the final 0.5 it is 2·GELU, which is nothing known.
        assert_eq!(identify(&e, 6), None);
    }
}
