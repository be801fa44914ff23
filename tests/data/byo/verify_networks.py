#!/usr/bin/env python3
"""Check every file in ./nets against its <name>.expected.npz.

For each network: a plain-numpy evaluator driven only by <name>.json (layers, activations,
encoding) recomputes y64 from the npz weights (float64), and the same from the weights in the
torch / safetensors files; every ONNX graph is run with onnxruntime against y; the op types of
every graph are listed (nets/onnx_ops.json). Negative cases are loaded the way they have to be
(torch.jit.load, torch.load(weights_only=False), the skip-connection by hand).

Run:  venv/bin/python verify_networks.py   (exits non-zero on any mismatch)
"""

import glob
import json
import os
import pickle
import sys
import warnings

import numpy as np
import torch

warnings.simplefilter("ignore")
torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
NETS = os.path.join(HERE, "nets")
failures = []
checks = 0


def P(f):
    return os.path.join(NETS, f)


def check(label, got, want, rtol, atol):
    global checks
    checks += 1
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        failures.append(f"{label}: shape {got.shape} != {want.shape}")
        print(f"  FAIL {label}: shape {got.shape} != {want.shape}")
        return
    if rtol == 0 and atol == 0:
        err = 0.0 if np.array_equal(got, want) else np.inf
    else:
        err = np.max(np.abs(got - want) / (atol + rtol * np.abs(want)))
    ok = err <= 1.0
    if not ok:
        failures.append(f"{label}: max scaled error {err:.3g}")
    print(f"  {'ok  ' if ok else 'FAIL'} {label}  max|d|={np.max(np.abs(got - want)):.3g}")


# ----------------------------------------------------------------------------- reference

def act(name, z):
    if name == "identity":
        return z
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name.startswith("sine:"):
        return np.sin(float(name.split(":")[1]) * z)
    raise ValueError(name)


def encode(desc, t, x):
    enc = desc.get("encoding")
    if not enc:
        return x
    M = t[enc["key"]]
    if enc["shape_convention"] == "features_by_inputs":   # m x d
        p = enc["scale"] * (x @ M.T)
    else:                                                 # d x F
        p = enc["scale"] * (x @ M)
    a, b = (np.sin(p), np.cos(p)) if enc["order"] == "sin_cos" else (np.cos(p), np.sin(p))
    return np.concatenate([a, b], axis=1)


def weight_of(layer, t):
    if "weight" in layer:
        return t[layer["weight"]]
    g, v = t[layer["weight_g"]], t[layer["weight_v"]]
    return g * v / np.linalg.norm(v, axis=1, keepdims=True)


def reference(desc, t, x):
    """t: dict key -> float64 array (state-dict keys)."""
    h = encode(desc, t, x)
    for layer, a in zip(desc["layers"], desc["activations"]):
        h = act(a, h @ weight_of(layer, t).T + t[layer["bias"]])
    return h


def as64(d):
    return {k: np.asarray(v.detach().cpu().numpy() if torch.is_tensor(v) else v,
                          dtype=np.float64) for k, v in d.items()}


def same_tensors(label, a, b, keys):
    global checks
    checks += 1
    bad = [k for k in keys if not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))]
    if bad:
        failures.append(f"{label}: tensors differ: {bad}")
        print(f"  FAIL {label}: tensors differ {bad}")
    else:
        print(f"  ok   {label}: {len(keys)} tensors identical to the npz")


# ----------------------------------------------------------------------------- per format

def load_torch_tensors(desc, fname):
    obj = torch.load(P(fname), map_location="cpu", weights_only=True)
    c = desc.get("container", "state_dict")
    if "model_state_dict" in obj:
        return dict(obj["model_state_dict"])
    if c.startswith("dict:net+enc"):
        d = dict(obj["net"])
        d["enc"] = obj["enc"]
        return d
    return dict(obj)


def onnx_ops(path):
    import onnx
    m = onnx.load(path)
    ops = []
    for n in m.graph.node:
        if n.op_type not in ops:
            ops.append(n.op_type)
    opset = {o.domain or "ai.onnx": o.version for o in m.opset_import}
    inp = m.graph.input[0]
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    gemm = sorted({json.dumps({a.name: onnx.helper.get_attribute_value(a) for a in n.attribute},
                              sort_keys=True) for n in m.graph.node if n.op_type == "Gemm"})
    return {"ops": ops, "node_count": len(m.graph.node), "opset": opset,
            "gemm_attrs": ", ".join(gemm),
            "input": {"name": inp.name, "shape": dims},
            "initializers": len(m.graph.initializer),
            "producer": f"{m.producer_name} {m.producer_version}"}


def run_onnx(path, x):
    import onnxruntime as ort
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x.astype(np.float32)})[0]


def tol_for(desc):
    # float32 vs float64: SIREN's sin(30 z) amplifies rounding; others are tame
    sine = any(a.startswith("sine") for a in desc.get("activations", []))
    return (1e-4, 2e-4) if sine else (1e-5, 1e-5)


def verify_positive(desc, ex, all_ops):
    x, y, y64 = ex["x"], ex["y"], ex["y64"]
    files = desc["files"]
    rtol, atol = tol_for(desc)
    npz = dict(np.load(P(files["npz"])))
    t = as64(npz)
    keys = list(npz.keys())
    r = reference(desc, t, x)
    check("npz -> numpy reference vs y64", r, y64, 1e-10, 1e-12)
    check("npz -> numpy reference vs y (float32)", r, y, rtol, atol)

    for role in ("torch", "torch_state_dict", "torch_pickle_protocol2", "torch_legacy_nonzip"):
        if role in files:
            tt = load_torch_tensors(desc, files[role])
            same_tensors(f"{role} {files[role]}", {k: v.numpy() for k, v in tt.items()},
                         npz, keys)
    if "torch_original_dict" in files:
        d = torch.load(P(files["torch_original_dict"]), weights_only=False)
        tt = {f"weights_list.{i}": w.numpy() for i, w in enumerate(d["weights_list"])}
        tt.update({f"bias_list.{i}": b.numpy() for i, b in enumerate(d["bias_list"])})
        tt["gauss"] = d["gauss"].numpy()
        same_tensors(f"original dict {files['torch_original_dict']} "
                     f"(act_list: {[type(a).__name__ for a in d['act_list']]})", tt, npz, keys)
    if "deepxde_pickle" in files:
        with open(P(files["deepxde_pickle"]), "rb") as f:
            d = pickle.load(f)
        for wo in (True, False):
            try:
                torch.load(P(files["deepxde_pickle"]), weights_only=wo)
                print(f"  note torch.load(weights_only={wo}) read the DeepXDE pickle")
            except Exception as e:
                print(f"  ok   torch.load(weights_only={wo}) refuses the DeepXDE pickle: "
                      f"{type(e).__name__}: {str(e).splitlines()[0][:70]}")
        same_tensors(f"deepxde pickle {files['deepxde_pickle']} ({type(d).__name__})",
                     {k: v.numpy() for k, v in d.items()}, npz, keys)
    if "torch_whole_sequential" in files:
        m = torch.load(P(files["torch_whole_sequential"]), weights_only=False)
        with torch.no_grad():
            check(f"whole nn.Sequential {files['torch_whole_sequential']} (torch) vs y",
                  m(torch.from_numpy(x.astype(np.float32))).numpy(), y, 0, 0)
    if "torch_parametrizations" in files:
        sd = torch.load(P(files["torch_parametrizations"]), weights_only=True)
        tp = {}
        for i in (0, 2, 4):
            tp[f"{i}.weight_g"] = sd[f"{i}.parametrizations.weight.original0"].numpy()
            tp[f"{i}.weight_v"] = sd[f"{i}.parametrizations.weight.original1"].numpy()
            tp[f"{i}.bias"] = sd[f"{i}.bias"].numpy()
        same_tensors(f"parametrizations {files['torch_parametrizations']}", tp, npz, keys)

    if "safetensors" in files:
        from safetensors import safe_open
        with safe_open(P(files["safetensors"]), framework="np") as f:
            st = {k: f.get_tensor(k) for k in f.keys()}
            meta = f.metadata()
        same_tensors(f"safetensors {files['safetensors']}", st, npz, keys)
        check("safetensors -> numpy reference vs y64", reference(desc, as64(st), x), y64,
              1e-10, 1e-12)
        if meta and "pruningamr" in meta:
            m = json.loads(meta["pruningamr"])
            global checks
            checks += 1
            ok = m.get("activations") == desc["activations"]
            if "encoding" in m:
                ok = ok and all(m["encoding"][k] == desc["encoding"][k] for k in m["encoding"])
            print(f"  {'ok  ' if ok else 'FAIL'} safetensors metadata pruningamr = {m}")
            if not ok:
                failures.append("safetensors metadata mismatch")

    if "npz_native" in files:
        nat = dict(np.load(P(files["npz_native"])))
        h = x
        if "fourier_gauss" in nat:
            p = 2 * np.pi * (x @ nat["fourier_gauss"].astype(np.float64))
            h = np.concatenate([np.cos(p), np.sin(p)], axis=1)
        acts = [str(a).lower() for a in nat["activations"]]
        i = 0
        while f"weight_{i}" in nat:
            h = act(acts[i], h @ nat[f"weight_{i}"].astype(np.float64).T + nat[f"bias_{i}"])
            i += 1
        check(f"native npz {files['npz_native']} ({list(nat['activations'])}) vs y64", h, y64,
              1e-10, 1e-12)

    for role in ("onnx", "onnx_legacy", "onnx_rank3", "onnx_rank3_legacy"):
        if role in files:
            info = onnx_ops(P(files[role]))
            all_ops[files[role]] = info
            if "rank3" in role:
                got = run_onnx(P(files[role]), x[None])
                assert got.shape == (1,) + y.shape, got.shape
                got = got[0]
            else:
                got = run_onnx(P(files[role]), x)
            check(f"onnxruntime {files[role]} (N={len(x)}) vs y", got, y, 1e-5, 1e-5)
            print(f"       ops {info['ops']} opset {info['opset']} input {info['input']}")

    if "y_predict" in ex:
        check("DeepXDE model.predict vs y", ex["y_predict"], y, 0, 0)


def verify_negative(desc, ex):
    x, y, y64 = ex["x"], ex["y"], ex["y64"]
    case = desc["case"]
    f = P(desc["files"]["torch"])
    xt = torch.from_numpy(x.astype(np.float32))
    if case == "torchscript":
        m = torch.jit.load(f)
        with torch.no_grad():
            check("torch.jit.load + run vs y", m(xt).numpy(), y, 0, 0)
        global checks
        checks += 1
        try:
            torch.load(f, weights_only=True)
            print("  note torch.load(weights_only=True) accepted the TorchScript file")
        except Exception as e:
            print(f"  ok   torch.load(weights_only=True) refuses it: {str(e).splitlines()[0][:100]}")
    elif case == "whole_module_user_class":
        checks += 1
        try:
            torch.load(f, weights_only=True)
            failures.append("user module loaded with weights_only=True")
        except Exception as e:
            print(f"  ok   torch.load(weights_only=True) refuses it: {str(e).splitlines()[0][:100]}")
        import __main__
        sys.path.insert(0, HERE)
        import make_networks
        __main__.UserMLP = make_networks.UserMLP
        m = torch.load(f, weights_only=False)
        with torch.no_grad():
            check("torch.load(weights_only=False) with the class at hand vs y",
                  m(xt).numpy(), y, 0, 0)
    elif case == "skip_connection":
        sd = as64(torch.load(f, weights_only=True))
        h = x
        for i in range(6):
            h = np.maximum(h @ sd[f"pts_linears.{i}.weight"].T + sd[f"pts_linears.{i}.bias"], 0)
            if i == 4:
                h = np.concatenate([x, h], axis=1)
        h = h @ sd["output_linear.weight"].T + sd["output_linear.bias"]
        check("hand-written skip reference vs y64", h, y64, 1e-10, 1e-12)
        from safetensors.numpy import load_file
        st = load_file(P(desc["files"]["safetensors"]))
        same_tensors("safetensors", st, {k: v.astype(np.float32) for k, v in sd.items()},
                     list(sd))


def main():
    all_ops = {}
    for jf in sorted(glob.glob(P("*.json"))):
        if jf.endswith("onnx_ops.json"):
            continue
        desc = json.load(open(jf))
        ex = dict(np.load(P(desc["expected"])))
        print(f"{desc['name']}  ({desc['family']}, x {ex['x'].shape}, y {ex['y'].shape})")
        if desc["family"] == "negative":
            verify_negative(desc, ex)
        else:
            verify_positive(desc, ex, all_ops)
    with open(P("onnx_ops.json"), "w") as f:
        json.dump(all_ops, f, indent=1)
        f.write("\n")
    print(f"\n{checks} checks, {len(failures)} failures")
    for fl in failures:
        print("  FAIL", fl)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
