"""Makes the small test files for the readers (seeded, deterministic).

Run from the crate root:  venv/bin/python tests/data/make_test_files.py
Needs: numpy, onnx, safetensors, ml_dtypes (no torch).

Each ONNX model NAME.onnx gets NAME.expected.txt: one line per grid point,
"x1 x2 ... | y1 y2 ...", where y is the graph evaluated in float64 by
onnx.reference.ReferenceEvaluator on a copy of the model whose float32 tensors are
widened to float64 (so the reference is the graph's own semantics, not this crate's
pattern matching).
"""

import itertools
import json
import os
import struct

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240611)


def w(*shape, scale=None):
    fan_in = shape[-1] if len(shape) > 1 else shape[0]
    s = scale if scale is not None else 1.0 / np.sqrt(fan_in)
    return (rng.uniform(-1, 1, size=shape) * s).astype(np.float32)


def init(name, arr, raw=True):
    arr = np.asarray(arr)
    if raw:
        return numpy_helper.from_array(arr, name)
    dt = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE}[arr.dtype.type]
    return helper.make_tensor(name, dt, arr.shape, arr.ravel().tolist(), raw=False)


def const_node(out, arr, name=None):
    return helper.make_node(
        "Constant", [], [out], name=name or out, value=numpy_helper.from_array(np.asarray(arr), out)
    )


class G:
    """Tiny graph builder."""

    def __init__(self, dim, elem=TensorProto.FLOAT):
        self.nodes, self.inits, self.k, self.dim, self.elem = [], [], 0, dim, elem

    def v(self):
        self.k += 1
        return f"v{self.k}"

    def op(self, op, inputs, name=None, **attrs):
        out = self.v()
        self.nodes.append(helper.make_node(op, inputs, [out], name=name or f"/net/{op}_{self.k}", **attrs))
        return out

    def c(self, arr, raw=True):
        self.k += 1
        name = f"c{self.k}"
        self.inits.append(init(name, arr, raw))
        return name

    def model(self, out, out_dim, opset=17):
        self.nodes.append(helper.make_node("Identity", [out], ["y"], name="/out"))
        g = helper.make_graph(
            self.nodes,
            "g",
            [helper.make_tensor_value_info("x", self.elem, ["N", self.dim])],
            [helper.make_tensor_value_info("y", self.elem, ["N", out_dim])],
            self.inits,
        )
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_test_files")
        m.ir_version = 8 if opset < 20 else 9
        return m


def widen(model):
    m = onnx.ModelProto()
    m.CopyFrom(model)

    def conv(t):
        if t.data_type == TensorProto.FLOAT:
            a = numpy_helper.to_array(t).astype(np.float64)
            t.CopyFrom(numpy_helper.from_array(a, t.name))

    for t in m.graph.initializer:
        conv(t)
    for n in m.graph.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                conv(a.t)
            if n.op_type == "Cast" and a.name == "to":
                a.i = TensorProto.DOUBLE
    for v in list(m.graph.input) + list(m.graph.output):
        v.type.tensor_type.elem_type = TensorProto.DOUBLE
    return m


def grid(dim, n):
    axis = np.linspace(-1.0, 1.0, n)
    return np.array(list(itertools.product(axis, repeat=dim)), dtype=np.float64)


def save_onnx(name, model, dim, n=5):
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name + ".onnx"))
    pts = grid(dim, n)
    (y,) = ReferenceEvaluator(widen(model)).run(None, {"x": pts})
    y = np.asarray(y, dtype=np.float64).reshape(len(pts), -1)
    with open(os.path.join(HERE, name + ".expected.txt"), "w") as f:
        for p, q in zip(pts, y):
            f.write(" ".join(repr(float(v)) for v in p) + " | " + " ".join(repr(float(v)) for v in q) + "\n")


def gemm_transb1():
    g = G(3)
    h = g.op("Gemm", ["x", g.c(w(16, 3)), g.c(w(16))], transB=1)
    h = g.op("Relu", [h])
    # alpha and beta not 1
    h = g.op("Gemm", [h, g.c(w(16, 16)), g.c(w(16))], transB=1, alpha=0.5, beta=2.0)
    h = g.op("Tanh", [h])
    h = g.op("Gemm", [h, g.c(w(1, 16)), g.c(w(1))], transB=1)
    save_onnx("gemm_transb1", g.model(h, 1), 3)


def gemm_transb0():
    g = G(3)
    # float_data storage (raw=False) and a [1, out] bias
    h = g.op("Gemm", ["x", g.c(w(3, 12), raw=False), g.c(w(1, 12), raw=False)])
    h = g.op("LeakyRelu", [h], alpha=0.2)
    h = g.op("Gemm", [h, g.c(w(12, 12)), g.c(w(12))], alpha=1.5)
    h = g.op("Softplus", [h])
    h = g.op("Gemm", [h, g.c(w(12, 12)), g.c(w(12))])
    h = g.op("Elu", [h], alpha=0.7)
    h = g.op("Gemm", [h, g.c(w(12, 12)), g.c(w(12))])
    h = g.op("Sigmoid", [h])
    h = g.op("Gemm", [h, g.c(w(12, 2)), g.c(w(2))])
    save_onnx("gemm_transb0", g.model(h, 2), 3)


def matmul_add():
    """Input affine, MatMul+Add, torch's erf-GELU decomposition, Constant-node weights,
    Flatten/Reshape/Identity, an output scale."""
    g = G(3)
    h = g.op("Mul", ["x", g.c(np.array([2.0, 0.5, 1.0], np.float32))])
    h = g.op("Sub", [h, g.c(np.array(0.25, np.float32))])
    h = g.op("MatMul", [h, g.c(w(3, 16))])
    h = g.op("Add", [g.c(w(16)), h])  # constant first
    # GELU exactly as torch.onnx (opset < 20) writes it
    d = g.op("Div", [h, g.c(np.array(1.4142135381698608, np.float32))])
    e = g.op("Erf", [d])
    a = g.op("Add", [e, g.c(np.array(1.0, np.float32))])
    m = g.op("Mul", [h, a])
    h = g.op("Mul", [m, g.c(np.array(0.5, np.float32))])
    h = g.op("Flatten", [h], axis=1)
    g.nodes.append(const_node("W2", w(16, 16)))
    h = g.op("MatMul", [h, "W2"])
    h = g.op("Add", [h, g.c(w(16))])
    h = g.op("Tanh", [h])
    g.nodes.append(const_node("shape", np.array([-1, 16], np.int64)))
    h = g.op("Reshape", [h, "shape"])
    h = g.op("Identity", [h])
    h = g.op("MatMul", [h, g.c(w(16, 1))])
    h = g.op("Add", [h, g.c(w(1))])
    h = g.op("Mul", [h, g.c(np.array(3.0, np.float32))])
    save_onnx("matmul_add", g.model(h, 1), 3)


def siren():
    g = G(2)
    h = "x"
    for i, (o, k) in enumerate([(24, 2), (24, 24), (24, 24)]):
        s = 1.0 / k if i == 0 else np.sqrt(6 / k) / 30
        h = g.op("Gemm", [h, g.c(w(o, k, scale=s)), g.c(w(o, scale=0.1))], transB=1)
        h = g.op("Mul", [h, g.c(np.array(30.0, np.float32))])
        h = g.op("Sin", [h])
    h = g.op("Gemm", [h, g.c(w(1, 24)), g.c(w(1))], transB=1)
    h = g.op("Mul", [g.c(np.array(0.5, np.float32)), h])
    save_onnx("siren", g.model(h, 1), 2, n=9)


def fourier_sin_first():
    g = G(2)
    B = (rng.normal(size=(2, 8)) * 2.0).astype(np.float32)
    z = g.op("MatMul", ["x", g.c(B)])
    z = g.op("Mul", [z, g.c(np.array(2 * np.pi, np.float32))])
    s = g.op("Sin", [z])
    c = g.op("Cos", [z])
    h = g.op("Concat", [s, c], axis=-1)
    h = g.op("Gemm", [h, g.c(w(16, 16)), g.c(w(16))], transB=1)
    h = g.op("Relu", [h])
    h = g.op("Gemm", [h, g.c(w(1, 16)), g.c(w(1))], transB=1)
    save_onnx("fourier_sin_first", g.model(h, 1), 2, n=9)


def fourier_cos_first():
    """The MatMul/Mul duplicated in each branch, as torch exports
    cat([cos(2*pi*x @ B), sin(2*pi*x @ B)], -1)."""
    g = G(2)
    B = g.c((rng.normal(size=(2, 6)) * 1.5).astype(np.float32))
    two_pi = g.c(np.array(2 * np.pi, np.float32))
    outs = []
    for f in ["Cos", "Sin"]:
        z = g.op("Mul", [two_pi, "x"])
        z = g.op("MatMul", [z, B])
        outs.append(g.op(f, [z]))
    h = g.op("Concat", outs, axis=1)
    h = g.op("Gemm", [h, g.c(w(12, 12)), g.c(w(12))], transB=1)
    h = g.op("Tanh", [h])
    h = g.op("Gemm", [h, g.c(w(1, 12)), g.c(w(1))], transB=1)
    save_onnx("fourier_cos_first", g.model(h, 1), 2, n=9)


def silu():
    g = G(3)
    h = "x"
    for o, k in [(16, 3), (16, 16)]:
        h = g.op("Gemm", [h, g.c(w(o, k)), g.c(w(o))], transB=1)
        s = g.op("Sigmoid", [h])
        h = g.op("Mul", [h, s])
    h = g.op("Gemm", [h, g.c(w(1, 16)), g.c(w(1))], transB=1)
    save_onnx("silu", g.model(h, 1), 3)


def gelu_opset20():
    g = G(3)
    h = g.op("Gemm", ["x", g.c(w(16, 3)), g.c(w(16))], transB=1)
    h = g.op("Gelu", [h])
    h = g.op("Gemm", [h, g.c(w(16, 16)), g.c(w(16))], transB=1)
    h = g.op("Gelu", [h], approximate="tanh")
    h = g.op("Gemm", [h, g.c(w(1, 16)), g.c(w(1))], transB=1)
    save_onnx("gelu_opset20", g.model(h, 1, opset=20), 3)


def decompositions():
    """tanh-GELU written out op by op, torch's softplus(beta=2) export
    (Mul 2 -> Softplus -> Div 2), and constant-first Sub (c - x)."""
    g = G(3)
    h = g.op("Gemm", ["x", g.c(w(16, 3)), g.c(w(16))], transB=1)
    half = g.op("Mul", [h, g.c(np.array(0.5, np.float32))])
    cube = g.op("Pow", [h, g.c(np.array(3.0, np.float32))])
    inner = g.op("Mul", [cube, g.c(np.array(0.044715, np.float32))])
    inner = g.op("Add", [h, inner])
    inner = g.op("Mul", [inner, g.c(np.array(np.sqrt(2 / np.pi), np.float32))])
    t = g.op("Tanh", [inner])
    t = g.op("Add", [t, g.c(np.array(1.0, np.float32))])
    h = g.op("Mul", [half, t])
    h = g.op("Gemm", [h, g.c(w(16, 16)), g.c(w(16))], transB=1)
    h = g.op("Mul", [h, g.c(np.array(2.0, np.float32))])
    h = g.op("Softplus", [h])
    h = g.op("Div", [h, g.c(np.array(2.0, np.float32))])
    h = g.op("Sub", [g.c(np.array(1.0, np.float32)), h])
    h = g.op("Gemm", [h, g.c(w(2, 16)), g.c(w(2))], transB=1)
    save_onnx("decompositions", g.model(h, 2), 3)


def float64_model():
    """All-double model with double_data (non-raw) initializers."""
    g = G(2, elem=TensorProto.DOUBLE)
    h = g.op("Gemm", ["x", g.c(w(8, 2).astype(np.float64), raw=False), g.c(w(8).astype(np.float64), raw=False)], transB=1)
    h = g.op("Tanh", [h])
    h = g.op("Gemm", [h, g.c(w(1, 8).astype(np.float64)), g.c(w(1).astype(np.float64))], transB=1)
    save_onnx("float64", g.model(h, 1), 2)


def bad_models():
    # unsupported op
    g = G(3)
    h = g.op("Gemm", ["x", g.c(w(8, 3)), g.c(w(8))], transB=1)
    h = g.op("Softsign", [h], name="/net/Softsign_1")
    h = g.op("Gemm", [h, g.c(w(1, 8)), g.c(w(1))], transB=1)
    onnx.save(g.model(h, 1), os.path.join(HERE, "unsupported_op.onnx"))

    # residual skip connection (Add of two data values)
    g = G(3)
    h1 = g.op("Relu", [g.op("Gemm", ["x", g.c(w(8, 3)), g.c(w(8))], transB=1)])
    h2 = g.op("Relu", [g.op("Gemm", [h1, g.c(w(8, 8)), g.c(w(8))], transB=1)])
    h = g.op("Add", [h1, h2], name="/net/Add_1")
    h = g.op("Gemm", [h, g.c(w(1, 8)), g.c(w(1))], transB=1)
    onnx.save(g.model(h, 1), os.path.join(HERE, "skip_add.onnx"))

    # DeepSDF-style concat of the input into a hidden layer
    g = G(3)
    h = g.op("Relu", [g.op("Gemm", ["x", g.c(w(8, 3)), g.c(w(8))], transB=1)])
    h = g.op("Concat", [h, "x"], name="/net/Concat_1", axis=1)
    h = g.op("Gemm", [h, g.c(w(1, 11)), g.c(w(1))], transB=1)
    onnx.save(g.model(h, 1), os.path.join(HERE, "skip_concat.onnx"))

    # external data
    g = G(3)
    h = g.op("Gemm", ["x", g.c(w(8, 3)), g.c(w(8))], transB=1)
    m = g.model(h, 8)
    onnx.save_model(
        m,
        os.path.join(HERE, "external.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="external.onnx.data",
        size_threshold=0,
    )


def write_safetensors_manual(path, tensors, metadata=None):
    """tensors: list of (name, dtype string, shape, raw bytes), written in this order."""
    header, off, blobs = {}, 0, []
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def safetensors_files():
    # An MLP state dict with >10 layers' worth of names, plus metadata.
    sizes = [3, 8, 8, 8, 8, 8, 8, 1]
    tensors = {}
    for i in range(len(sizes) - 1):
        tensors[f"net.{2 * i}.weight"] = w(sizes[i + 1], sizes[i])
        tensors[f"net.{2 * i}.bias"] = w(sizes[i + 1])
    meta = json.dumps({"activation": "relu", "layers": len(sizes) - 1})
    save_file(tensors, os.path.join(HERE, "mlp.safetensors"), metadata={"pruningamr": meta, "other": "x"})
    pts = grid(3, 5)
    with open(os.path.join(HERE, "mlp.safetensors.expected.txt"), "w") as f:
        for p in pts:
            h = p
            for i in range(len(sizes) - 1):
                h = tensors[f"net.{2 * i}.weight"].astype(np.float64) @ h + tensors[f"net.{2 * i}.bias"]
                if i < len(sizes) - 2:
                    h = np.maximum(h, 0.0)
            f.write(" ".join(repr(float(v)) for v in p) + " | " + " ".join(repr(float(v)) for v in h) + "\n")

    # Mixed dtypes: F64, BF16, F16, F32. Expected values (as float32) in a text file.
    a64 = rng.normal(size=(2, 3))
    abf = rng.normal(size=(5,)).astype(np.float32).astype(ml_dtypes.bfloat16)
    a16 = rng.normal(size=(2, 2)).astype(np.float16)
    a32 = rng.normal(size=(3,)).astype(np.float32)
    write_safetensors_manual(
        os.path.join(HERE, "mixed_dtypes.safetensors"),
        [
            ("b.f64", "F64", a64.shape, a64.astype("<f8").tobytes()),
            ("a.bf16", "BF16", abf.shape, abf.view(np.uint16).astype("<u2").tobytes()),
            ("c.f16", "F16", a16.shape, a16.astype("<f2").tobytes()),
            ("d.f32", "F32", a32.shape, a32.astype("<f4").tobytes()),
        ],
    )
    with open(os.path.join(HERE, "mixed_dtypes.expected.txt"), "w") as f:
        for name, arr in [("a.bf16", abf), ("b.f64", a64), ("c.f16", a16), ("d.f32", a32)]:
            vals = np.asarray(arr, dtype=np.float64).astype(np.float32).ravel()
            f.write(name + " " + ",".join(map(str, arr.shape)) + " | " + " ".join(repr(float(v)) for v in vals) + "\n")

    # An integer tensor: must be refused, naming the tensor.
    save_file({"ok": w(2), "steps": np.arange(4, dtype=np.int32)}, os.path.join(HERE, "int_dtype.safetensors"))


if __name__ == "__main__":
    gemm_transb1()
    gemm_transb0()
    matmul_add()
    siren()
    fourier_sin_first()
    fourier_cos_first()
    silu()
    gelu_opset20()
    decompositions()
    float64_model()
    bad_models()
    safetensors_files()
    print("ok")
