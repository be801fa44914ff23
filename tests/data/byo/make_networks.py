#!/usr/bin/env python3
"""Regenerate the bring-your-own-network test data for pruningamr.

Every network is small, seeded, briefly trained with Adam on an analytic target, and saved the
way its family's own code saves it. Beside each network:
  <name>.json           what a loader needs (layout, activations, encoding, dims, files)
  <name>.expected.npz   x (float64), y (float32, the framework's model(x)), y64 (float64 copy)

All module definitions below are written for this data set; they only reproduce the
state-dict key layout of each family.

Run:  venv/bin/python make_networks.py   (writes into ./nets, about a minute on 1 core)
Then: venv/bin/python verify_networks.py
"""

import copy
import io
import json
import math
import os
import pickle
import sys
import warnings
import contextlib

import numpy as np
import torch
import torch.nn as nn

warnings.simplefilter("ignore")
torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "nets")
os.makedirs(OUT, exist_ok=True)
TWO_PI = 2.0 * math.pi


def P(*a):
    return os.path.join(OUT, *a)


# --------------------------------------------------------------------------------------------
# Points and expected values
# --------------------------------------------------------------------------------------------

def grid_points(domain, n_per_axis, n_random, seed):
    axes = [np.linspace(lo, hi, n_per_axis) for lo, hi in domain]
    mesh = np.meshgrid(*axes, indexing="ij")
    g = np.stack([m.ravel() for m in mesh], axis=1)
    rng = np.random.default_rng(seed)
    lo = np.array([d[0] for d in domain])
    hi = np.array([d[1] for d in domain])
    r = lo + (hi - lo) * rng.random((n_random, len(domain)))
    return np.concatenate([g, r], axis=0).astype(np.float64)


def points_for(domain):
    n = {1: 33, 2: 9, 3: 5}.get(len(domain), 5)
    return grid_points(domain, n, 8, seed=len(domain) * 1000 + 7)


def expected(name, fn32, fn64, x, extra=None):
    """fn32: float32 torch tensor -> tensor; fn64 likewise in float64."""
    with torch.no_grad():
        y = fn32(torch.from_numpy(x.astype(np.float32))).numpy().astype(np.float32)
        y64 = fn64(torch.from_numpy(x)).numpy().astype(np.float64)
    arrays = {"x": x, "y": y, "y64": y64}
    if extra:
        arrays.update(extra)
    np.savez(P(name + ".expected.npz"), **arrays)
    return y


def module_fns(model):
    m32 = model.float().eval()
    m64 = copy.deepcopy(model).double().eval()
    return m32, m64


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------

def tensors_of(sd):
    return {k: v.detach().cpu().contiguous().clone() for k, v in sd.items()}


def save_safetensors(path, sd, meta=None):
    from safetensors.torch import save_file
    md = None
    if meta is not None:
        md = {"pruningamr": json.dumps(meta, separators=(",", ":"))}
    save_file(tensors_of(sd), path, metadata=md)


def save_npz(path, sd):
    np.savez(path, **{k: v.detach().cpu().numpy() for k, v in sd.items()})


@contextlib.contextmanager
def quiet():
    devnull = open(os.devnull, "w")
    so, se = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = devnull, devnull
    try:
        yield
    finally:
        sys.stdout, sys.stderr = so, se
        devnull.close()


def save_onnx(model, d_in, path_dynamo, path_legacy, rank3=False):
    """The same module exported twice, at opset 17 with a dynamic batch axis: with
    torch.onnx.export's default (dynamo=True in torch >= 2.9) and with the legacy TorchScript
    exporter (dynamo=False). The graphs are kept exactly as produced. rank3: the input is
    [1, n, d] (the SIREN repo's coordinate batches), dynamic n; the exporters then emit
    MatMul + Add instead of Gemm."""
    model = model.float().eval()
    x = torch.zeros(1, 5, d_in) if rank3 else torch.zeros(5, d_in)
    ax = 1 if rank3 else 0
    name = "n" if rank3 else "batch"
    with quiet():
        torch.onnx.export(model, (x,), path_dynamo, opset_version=17, input_names=["x"],
                          output_names=["y"], dynamo=True, external_data=False,
                          dynamic_shapes=({ax: torch.export.Dim(name)},))
        torch.onnx.export(model, (x,), path_legacy, opset_version=17, input_names=["x"],
                          output_names=["y"], dynamo=False,
                          dynamic_axes={"x": {ax: name}, "y": {ax: name}})
    for p in (path_dynamo, path_legacy):
        assert not os.path.exists(p + ".data"), p


def write_json(name, desc):
    desc = dict(desc)
    desc["name"] = name
    desc.setdefault("expected", name + ".expected.npz")
    with open(P(name + ".json"), "w") as f:
        json.dump(desc, f, indent=2)
        f.write("\n")


def layer_keys(pairs):
    return [{"weight": w, "bias": b} for w, b in pairs]


# --------------------------------------------------------------------------------------------
# Training (a few Adam steps on an analytic target; only makes the weights less random)
# --------------------------------------------------------------------------------------------

def train(model, fn, x, target, steps, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt = torch.from_numpy(x.astype(np.float32))
    tt = torch.from_numpy(target.astype(np.float32))
    for _ in range(steps):
        opt.zero_grad()
        loss = ((fn(xt) - tt) ** 2).mean()
        loss.backward()
        opt.step()
    return opt


def target_2d(x):
    return (np.sin(math.pi * x[:, 0]) * np.cos(math.pi * x[:, 1]))[:, None]


def target_3d(x):
    return (np.linalg.norm(x, axis=1) - 0.5)[:, None]


def train_points(domain, seed, n=256):
    rng = np.random.default_rng(seed)
    lo = np.array([d[0] for d in domain])
    hi = np.array([d[1] for d in domain])
    return lo + (hi - lo) * rng.random((n, len(domain)))


# --------------------------------------------------------------------------------------------
# 1. SIREN
# --------------------------------------------------------------------------------------------

class SineAct(nn.Module):
    """sin(w0 * z); has no parameters, so it adds nothing to the state dict."""

    def __init__(self, w0=30.0):
        super().__init__()
        self.w0 = w0

    def forward(self, z):
        return torch.sin(self.w0 * z)


def siren_init_(linears, w0):
    with torch.no_grad():
        for i, lin in enumerate(linears):
            n = lin.weight.shape[1]
            bound = 1.0 / n if i == 0 else math.sqrt(6.0 / n) / w0
            lin.weight.uniform_(-bound, bound)


class SirenRepoLayout(nn.Module):
    """SIREN repository layout (SingleBVPNet -> FCBlock -> Sequential of Sequential(linear,
    sine) blocks, last block linear only). Keys: net.net.<i>.0.weight / .bias."""

    class _Inner(nn.Module):
        def __init__(self, d_in, width, n_hidden, d_out, w0):
            super().__init__()
            blocks = [nn.Sequential(nn.Linear(d_in, width), SineAct(w0))]
            for _ in range(n_hidden):
                blocks.append(nn.Sequential(nn.Linear(width, width), SineAct(w0)))
            blocks.append(nn.Sequential(nn.Linear(width, d_out)))
            self.net = nn.Sequential(*blocks)

        def forward(self, x):
            return self.net(x)

    def __init__(self, d_in, width, n_hidden, d_out, w0=30.0):
        super().__init__()
        self.net = SirenRepoLayout._Inner(d_in, width, n_hidden, d_out, w0)
        siren_init_([b[0] for b in self.net.net], w0)

    def linears(self):
        return [b[0] for b in self.net.net]

    def forward(self, x):
        return self.net(x)


class SirenExploreLayout(nn.Module):
    """explore_siren notebook layout: Sequential of SineLayer modules (each with a .linear),
    then a plain nn.Linear. Keys: net.<i>.linear.weight / .bias, last net.<K>.weight / .bias."""

    class SineLayer(nn.Module):
        def __init__(self, d_in, d_out, w0):
            super().__init__()
            self.w0 = w0
            self.linear = nn.Linear(d_in, d_out)

        def forward(self, x):
            return torch.sin(self.w0 * self.linear(x))

    def __init__(self, d_in, width, n_hidden, d_out, w0=30.0):
        super().__init__()
        layers = [SirenExploreLayout.SineLayer(d_in, width, w0)]
        for _ in range(n_hidden):
            layers.append(SirenExploreLayout.SineLayer(width, width, w0))
        layers.append(nn.Linear(width, d_out))
        self.net = nn.Sequential(*layers)
        siren_init_(self.linears(), w0)

    def linears(self):
        return [m.linear if hasattr(m, "linear") else m for m in self.net]

    def forward(self, x):
        return self.net(x)


def copy_linears(src, dst):
    with torch.no_grad():
        for a, b in zip(src, dst):
            b.weight.copy_(a.weight)
            b.bias.copy_(a.bias)


def make_siren(d):
    domain = [[-1.0, 1.0]] * d
    torch.manual_seed(100 + d)
    repo = SirenRepoLayout(d, 32, 2, 1, 30.0)
    xt = train_points(domain, 10 + d)
    tgt = target_2d(xt) if d == 2 else target_3d(xt)
    train(repo, repo, xt, tgt, steps=30, lr=1e-4)
    explore = SirenExploreLayout(d, 32, 2, 1, 30.0)
    copy_linears(repo.linears(), explore.linears())
    acts = ["sine:30", "sine:30", "sine:30", "identity"]
    x = points_for(domain)

    for layout, model in (("repo", repo), ("explore", explore)):
        name = f"siren{d}d_{layout}"
        m32, m64 = module_fns(model)
        expected(name, m32, m64, x)
        sd = m32.state_dict()
        files = {"torch": name + ".pth", "safetensors": name + ".safetensors", "npz": name + ".npz"}
        torch.save(sd, P(files["torch"]))
        meta = {"activations": acts} if layout == "repo" else None
        save_safetensors(P(files["safetensors"]), sd, meta)
        save_npz(P(files["npz"]), sd)
        if layout == "explore":
            files["onnx"] = name + ".onnx"
            files["onnx_legacy"] = name + ".legacy.onnx"
            save_onnx(m32, d, P(files["onnx"]), P(files["onnx_legacy"]))
            if d == 2:
                files["onnx_rank3"] = name + ".rank3.onnx"
                files["onnx_rank3_legacy"] = name + ".rank3.legacy.onnx"
                save_onnx(m32, d, P(files["onnx_rank3"]), P(files["onnx_rank3_legacy"]),
                          rank3=True)
        keys = list(sd.keys())
        write_json(name, {
            "family": "siren",
            "layout": {"repo": "siren_repo_fcblock", "explore": "explore_siren_sinelayer"}[layout],
            "key_pattern": {"repo": "net.net.{i}.0.weight|bias",
                            "explore": "net.{i}.linear.weight|bias, last net.{K}.weight|bias"}[layout],
            "container": "state_dict",
            "layers": layer_keys(zip(keys[0::2], keys[1::2])),
            "weight_shape": "out_by_in",
            "activations": acts,
            "activation_formula": "sine:w0 means sin(w0 * (W x + b))",
            "input_dim": d, "output_dim": 1, "widths": [d, 32, 32, 32, 1],
            "domain": domain,
            "encoding": None, "input_normalization": None, "output_names": None,
            "safetensors_metadata": meta is not None,
            "files": files,
            "notes": ("keys as saved by torch.save(model.state_dict()) of the SIREN repo's "
                      "SingleBVPNet (its .net is an FCBlock whose .net is the Sequential)"
                      if layout == "repo" else
                      "keys as saved by torch.save(model.state_dict()) of explore_siren's "
                      "Siren; its forward returns (output, coords) - the ONNX graphs here "
                      "return the output only. .rank3*.onnx take x as [1, n, d] and give "
                      "[1, n, 1] (MatMul+Add instead of Gemm)"),
        })


# --------------------------------------------------------------------------------------------
# 2. Fourier features
# --------------------------------------------------------------------------------------------

class TancikFourierMLP(nn.Module):
    """gamma(x) = [sin(2 pi B x), cos(2 pi B x)], B is m x d (features_by_inputs), buffer 'B';
    then a ReLU MLP at mlp.<i>."""

    def __init__(self, d, m, width, n_hidden, d_out, sigma):
        super().__init__()
        self.register_buffer("B", torch.randn(m, d) * sigma)
        layers = [nn.Linear(2 * m, width), nn.ReLU()]
        for _ in range(n_hidden - 1):
            layers += [nn.Linear(width, width), nn.ReLU()]
        layers.append(nn.Linear(width, d_out))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x):
        p = TWO_PI * (x @ self.B.t())
        return self.mlp(torch.cat([torch.sin(p), torch.cos(p)], dim=-1))


class PamrFourierMLP(nn.Module):
    """The PruningAMR original's convention: G is d x F (inputs_by_features), buffer 'gauss',
    features [cos(2 pi x G), sin(2 pi x G)]; layers in ParameterLists weights_list / bias_list
    (weights out x in)."""

    def __init__(self, d, F, width, n_hidden, d_out, sigma):
        super().__init__()
        self.register_buffer("gauss", torch.randn(d, F) * sigma)
        dims = [2 * F] + [width] * n_hidden + [d_out]
        ws, bs = [], []
        for a, b in zip(dims[:-1], dims[1:]):
            lin = nn.Linear(a, b)
            ws.append(nn.Parameter(lin.weight.detach().clone()))
            bs.append(nn.Parameter(lin.bias.detach().clone()))
        self.weights_list = nn.ParameterList(ws)
        self.bias_list = nn.ParameterList(bs)
        self.act_list = nn.ModuleList([nn.ReLU() for _ in range(n_hidden)] + [nn.Identity()])

    def forward(self, x):
        p = TWO_PI * (x @ self.gauss)
        h = torch.cat([torch.cos(p), torch.sin(p)], dim=-1)
        for w, b, act in zip(self.weights_list, self.bias_list, self.act_list):
            h = act(h @ w.t() + b)
        return h


def make_fourier():
    domain = [[-1.0, 1.0]] * 2
    x = points_for(domain)
    xt = train_points(domain, 21)
    tgt = target_2d(xt)

    # (a) Tancik / NeRF convention
    torch.manual_seed(201)
    tm = TancikFourierMLP(2, 16, 32, 3, 1, sigma=2.0)
    train(tm, tm, xt, tgt, steps=40, lr=1e-3)
    name = "fourier_tancik"
    m32, m64 = module_fns(tm)
    expected(name, m32, m64, x)
    sd = m32.state_dict()
    acts = ["relu", "relu", "relu", "identity"]
    enc = {"type": "fourier", "key": "B", "shape": [16, 2],
           "shape_convention": "features_by_inputs", "order": "sin_cos", "scale": TWO_PI,
           "include_input": False,
           "formula": "gamma(x) = [sin(2*pi*B x), cos(2*pi*B x)], B is m x d"}
    files = {"torch": name + ".pth", "safetensors": name + ".safetensors", "npz": name + ".npz",
             "onnx": name + ".onnx", "onnx_legacy": name + ".legacy.onnx"}
    torch.save(sd, P(files["torch"]))
    save_safetensors(P(files["safetensors"]), sd, {"activations": acts, "encoding": {
        k: enc[k] for k in ("type", "key", "shape_convention", "order", "scale")}})
    save_npz(P(files["npz"]), sd)
    save_onnx(m32, 2, P(files["onnx"]), P(files["onnx_legacy"]))
    keys = [k for k in sd if k != "B"]
    write_json(name, {
        "family": "fourier_features", "layout": "tancik_B_buffer_sequential",
        "key_pattern": "B, mlp.{i}.weight|bias (i = 0, 2, 4, 6)",
        "container": "state_dict",
        "layers": layer_keys(zip(keys[0::2], keys[1::2])), "weight_shape": "out_by_in",
        "activations": acts, "input_dim": 2, "output_dim": 1, "widths": [32, 32, 32, 32, 1],
        "domain": domain, "encoding": enc, "input_normalization": None, "output_names": None,
        "safetensors_metadata": True, "files": files,
    })

    # (b) the PruningAMR original's convention
    torch.manual_seed(202)
    pm = PamrFourierMLP(2, 16, 32, 3, 1, sigma=2.0)
    train(pm, pm, xt, tgt, steps=40, lr=1e-3)
    name = "fourier_pamr"
    m32, m64 = module_fns(pm)
    expected(name, m32, m64, x)
    sd = m32.state_dict()
    enc = {"type": "fourier", "key": "gauss", "shape": [2, 16],
           "shape_convention": "inputs_by_features", "order": "cos_sin", "scale": TWO_PI,
           "include_input": False,
           "formula": "gamma(x) = [cos(2*pi*x G), sin(2*pi*x G)], G is d x F"}
    files = {"torch": name + ".pth", "torch_original_dict": name + ".dict.pth",
             "safetensors": name + ".safetensors", "npz": name + ".npz",
             "npz_native": name + ".native.npz"}
    torch.save(sd, P(files["torch"]))
    # the original's own dict: plain lists of tensors, activation modules, gauss
    torch.save({"weights_list": [w.detach().clone() for w in pm.weights_list],
                "bias_list": [b.detach().clone() for b in pm.bias_list],
                "act_list": [nn.ReLU(), nn.ReLU(), nn.ReLU(), nn.Identity()],
                "gauss": pm.gauss.detach().clone()}, P(files["torch_original_dict"]))
    save_safetensors(P(files["safetensors"]), sd)
    save_npz(P(files["npz"]), sd)
    save_native_npz(P(files["npz_native"]), list(pm.weights_list), list(pm.bias_list),
                    ["ReLU", "ReLU", "ReLU", "Identity"], gauss=pm.gauss)
    n = len(pm.weights_list)
    write_json(name, {
        "family": "fourier_features", "layout": "pruningamr_weights_list_gauss",
        "key_pattern": "gauss, weights_list.{i}, bias_list.{i}",
        "container": "state_dict",
        "layers": layer_keys((f"weights_list.{i}", f"bias_list.{i}") for i in range(n)),
        "weight_shape": "out_by_in",
        "activations": acts, "input_dim": 2, "output_dim": 1, "widths": [32, 32, 32, 32, 1],
        "domain": domain, "encoding": enc, "input_normalization": None, "output_names": None,
        "safetensors_metadata": False, "files": files,
        "notes": (".pth is the module's state dict (act_list holds no parameters, so it is "
                  "absent); .dict.pth is the original's own dict {weights_list, bias_list, "
                  "act_list, gauss} with plain lists and torch.nn activation modules; "
                  ".native.npz is pruningamr's own npz format (weight_i, bias_i, activations, "
                  "fourier_gauss)"),
    })


def save_native_npz(path, weights, biases, acts, gauss=None, input_mean=None, input_std=None):
    """pruningamr's own npz format (see src/network/npz.rs in the project)."""
    arrays = {}
    for i, (w, b) in enumerate(zip(weights, biases)):
        arrays[f"weight_{i}"] = w.detach().cpu().numpy().astype(np.float32)
        arrays[f"bias_{i}"] = b.detach().cpu().numpy().astype(np.float32)
    arrays["activations"] = np.array(acts)
    if gauss is not None:
        arrays["fourier_gauss"] = gauss.detach().cpu().numpy().astype(np.float32)
    if input_mean is not None:
        arrays["input_mean"] = np.asarray(input_mean, dtype=np.float32)
        arrays["input_std"] = np.asarray(input_std, dtype=np.float32)
    np.savez(path, **arrays)


# --------------------------------------------------------------------------------------------
# 3. DeepXDE tanh PINN (x, y, t) -> (u, v, p)
# --------------------------------------------------------------------------------------------

def pinn_target(x):
    X, Y, T = x[:, 0], x[:, 1], x[:, 2]
    u = -np.cos(math.pi * X) * np.sin(math.pi * Y) * np.exp(-T)
    v = np.sin(math.pi * X) * np.cos(math.pi * Y) * np.exp(-T)
    p = -0.25 * (np.cos(2 * math.pi * X) + np.cos(2 * math.pi * Y)) * np.exp(-2 * T)
    return np.stack([u, v, p], axis=1)


class FnnLinears(nn.Module):
    """Same key layout as DeepXDE's pytorch FNN: linears.<i>.weight / .bias."""

    def __init__(self, sizes):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x):
        for lin in self.linears[:-1]:
            x = torch.tanh(lin(x))
        return self.linears[-1](x)


def make_pinn():
    domain = [[-1.0, 1.0], [-1.0, 1.0], [0.0, 1.0]]
    sizes = [3, 32, 32, 32, 3]
    x = points_for(domain)
    xt = train_points(domain, 31, n=512)
    yt = pinn_target(xt)
    name = "pinn_deepxde"
    files = {}
    used_deepxde = False
    try:
        os.environ["DDE_BACKEND"] = "pytorch"
        with quiet():
            import deepxde as dde
        used_deepxde = True
    except Exception as e:  # pragma: no cover
        print("deepxde unavailable, reproducing its layout:", e)

    torch.manual_seed(301)
    np.random.seed(301)
    if used_deepxde:
        dde.config.set_random_seed(301)
        net = dde.nn.FNN(sizes, "tanh", "Glorot normal")
        data = dde.data.DataSet(X_train=xt.astype(np.float32), y_train=yt.astype(np.float32),
                                X_test=xt[:64].astype(np.float32),
                                y_test=yt[:64].astype(np.float32))
        model = dde.Model(data, net)
        with quiet():
            model.compile("adam", lr=1e-3)
            model.train(iterations=50, display_every=1000)
            p_backend = model.save(P(name), protocol="backend")        # -> pinn_deepxde-50.pt
            p_pickle = model.save(P(name), protocol="pickle")          # -> pinn_deepxde-50.pkl
        files["torch"] = os.path.basename(p_backend)
        files["deepxde_pickle"] = os.path.basename(p_pickle)
        with torch.no_grad():
            pred = model.predict(x.astype(np.float32))
        torch_net = net
    else:
        torch_net = FnnLinears(sizes)
        opt = train(torch_net, torch_net, xt, yt, steps=50, lr=1e-3)
        files["torch"] = name + "-50.pt"
        torch.save({"model_state_dict": torch_net.state_dict(),
                    "optimizer_state_dict": opt.state_dict()}, P(files["torch"]))
        files["deepxde_pickle"] = name + "-50.pkl"
        with open(P(files["deepxde_pickle"]), "wb") as f:
            pickle.dump(torch_net.state_dict(), f)
        pred = None

    sd = {k: v.detach().clone() for k, v in torch_net.state_dict().items()}
    plain = FnnLinears(sizes)
    plain.load_state_dict(sd)
    m32, m64 = module_fns(plain)
    extra = {}
    if pred is not None:
        extra["y_predict"] = pred.astype(np.float32)  # DeepXDE's model.predict(x)
    y = expected(name, lambda t: torch_net.eval()(t), m64, x, extra)
    if pred is not None:
        assert np.array_equal(y, pred), "model.predict differs from net(x)"

    # same network, other containers
    files["torch_state_dict"] = name + ".state_dict.pt"
    torch.save(sd, P(files["torch_state_dict"]))
    files["torch_pickle_protocol2"] = name + ".proto2.pt"
    torch.save({"model_state_dict": sd}, P(files["torch_pickle_protocol2"]), pickle_protocol=2)
    files["torch_legacy_nonzip"] = name + ".legacy_format.pt"
    torch.save({"model_state_dict": sd}, P(files["torch_legacy_nonzip"]),
               _use_new_zipfile_serialization=False)
    files["safetensors"] = name + ".safetensors"
    save_safetensors(P(files["safetensors"]), sd, {
        "activations": ["tanh", "tanh", "tanh", "identity"], "output_names": ["u", "v", "p"],
        "input_names": ["x", "y", "t"]})
    files["npz"] = name + ".npz"
    save_npz(P(files["npz"]), sd)
    files["npz_native"] = name + ".native.npz"
    n = len(sizes) - 1
    save_native_npz(P(files["npz_native"]), [sd[f"linears.{i}.weight"] for i in range(n)],
                    [sd[f"linears.{i}.bias"] for i in range(n)],
                    ["Tanh"] * (n - 1) + ["Identity"])
    files["onnx"] = name + ".onnx"
    files["onnx_legacy"] = name + ".legacy.onnx"
    save_onnx(m32, 3, P(files["onnx"]), P(files["onnx_legacy"]))
    write_json(name, {
        "family": "deepxde_pinn", "layout": "deepxde_fnn_linears",
        "key_pattern": "model_state_dict -> linears.{i}.weight|bias",
        "container": "dict:model_state_dict (+ optimizer_state_dict)",
        "layers": layer_keys((f"linears.{i}.weight", f"linears.{i}.bias") for i in range(n)),
        "weight_shape": "out_by_in",
        "activations": ["tanh", "tanh", "tanh", "identity"],
        "input_dim": 3, "output_dim": 3, "widths": sizes, "domain": domain,
        "input_names": ["x", "y", "t"], "output_names": ["u", "v", "p"],
        "encoding": None, "input_normalization": None,
        "made_with_deepxde": used_deepxde,
        "deepxde_version": getattr(sys.modules.get("deepxde"), "__version__", None),
        "files": files,
        "notes": ("torch = model.save(path) (protocol='backend'): torch.save({'model_state_dict',"
                  " 'optimizer_state_dict'}); deepxde_pickle = model.save(path, "
                  "protocol='pickle'): plain pickle.dump(net.state_dict()) - not a torch zip, "
                  "tensors pickled by torch's reducers (expect an error or a dedicated path); "
                  "proto2 = torch.save(..., pickle_protocol=2) (still the zip format); "
                  "legacy_format = torch.save(..., _use_new_zipfile_serialization=False) "
                  "(pre-1.6 non-zip format). y_predict in the expected file is DeepXDE's "
                  "model.predict(x), identical to y."),
    })


# --------------------------------------------------------------------------------------------
# 4. nn.Sequential tanh MLP
# --------------------------------------------------------------------------------------------

def tanh_sequential():
    return nn.Sequential(nn.Linear(2, 24), nn.Tanh(), nn.Linear(24, 24), nn.Tanh(),
                         nn.Linear(24, 24), nn.Tanh(), nn.Linear(24, 1))


def make_sequential():
    domain = [[-1.0, 1.0]] * 2
    x = points_for(domain)
    xt = train_points(domain, 41)
    torch.manual_seed(401)
    seq = tanh_sequential()
    train(seq, seq, xt, target_2d(xt), steps=50, lr=1e-2)
    name = "sequential_tanh"
    m32, m64 = module_fns(seq)
    expected(name, m32, m64, x)
    sd = m32.state_dict()
    acts = ["tanh", "tanh", "tanh", "identity"]
    files = {"torch": name + ".pt", "torch_whole_sequential": name + ".module.pt",
             "safetensors": name + ".safetensors", "npz": name + ".npz",
             "npz_native": name + ".native.npz",
             "onnx": name + ".onnx", "onnx_legacy": name + ".legacy.onnx"}
    torch.save(sd, P(files["torch"]))
    torch.save(m32, P(files["torch_whole_sequential"]))  # torch.nn classes only
    save_safetensors(P(files["safetensors"]), sd)
    save_npz(P(files["npz"]), sd)
    save_native_npz(P(files["npz_native"]), [sd[f"{i}.weight"] for i in (0, 2, 4, 6)],
                    [sd[f"{i}.bias"] for i in (0, 2, 4, 6)], ["Tanh"] * 3 + ["Identity"])
    save_onnx(m32, 2, P(files["onnx"]), P(files["onnx_legacy"]))
    write_json(name, {
        "family": "sequential", "layout": "nn_sequential",
        "key_pattern": "{i}.weight|bias (i = 0, 2, 4, 6)", "container": "state_dict",
        "layers": layer_keys((f"{i}.weight", f"{i}.bias") for i in (0, 2, 4, 6)),
        "weight_shape": "out_by_in", "activations": acts,
        "input_dim": 2, "output_dim": 1, "widths": [2, 24, 24, 24, 1], "domain": domain,
        "encoding": None, "input_normalization": None, "output_names": None,
        "files": files,
        "notes": ("module.pt is torch.save(model) of the nn.Sequential itself (only torch.nn "
                  "classes in the pickle: Sequential, Linear, Tanh); the activations are then in "
                  "the file. A plain state dict holds none: tanh must be given."),
    })
    return seq


# --------------------------------------------------------------------------------------------
# 5. NeRP
# --------------------------------------------------------------------------------------------

class NerpFFN(nn.Module):
    """NeRP's FFN layout: model = Sequential(Linear, ReLU, ..., Linear, Sigmoid);
    keys model.<i>.weight / .bias (i = 0, 2, ..., 2*(depth-1))."""

    def __init__(self, d_in, width, depth, d_out):
        super().__init__()
        layers = [nn.Linear(d_in, width), nn.ReLU()]
        for _ in range(1, depth - 1):
            layers += [nn.Linear(width, width), nn.ReLU()]
        layers += [nn.Linear(width, d_out), nn.Sigmoid()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class NerpSiren(nn.Module):
    """NeRP's SIREN layout: model = Sequential of layers each holding .linear; the last layer
    is linear (no sine). Keys model.<i>.linear.weight / .bias."""

    class Layer(nn.Module):
        def __init__(self, a, b, w0, last):
            super().__init__()
            self.w0, self.last = w0, last
            self.linear = nn.Linear(a, b)

        def forward(self, x):
            z = self.linear(x)
            return z if self.last else torch.sin(self.w0 * z)

    def __init__(self, d_in, width, depth, d_out, w0=30.0):
        super().__init__()
        layers = [NerpSiren.Layer(d_in, width, w0, False)]
        for _ in range(1, depth - 1):
            layers.append(NerpSiren.Layer(width, width, w0, False))
        layers.append(NerpSiren.Layer(width, d_out, w0, True))
        self.model = nn.Sequential(*layers)
        siren_init_([m.linear for m in self.model], w0)

    def forward(self, x):
        return self.model(x)


class WithEmbedding(nn.Module):
    """NeRP's encoder: B (embedding_size x coordinates_size) = randn * scale;
    gamma(x) = [sin(2 pi x B^T), cos(2 pi x B^T)]."""

    def __init__(self, B, net):
        super().__init__()
        self.register_buffer("B", B)
        self.net = net

    def forward(self, x):
        p = (TWO_PI * x) @ self.B.t()
        return self.net(torch.cat([torch.sin(p), torch.cos(p)], dim=-1))


def make_nerp():
    domain = [[0.0, 1.0]] * 2   # NeRP's image grids are in [0, 1]
    x = points_for(domain)
    xt = train_points(domain, 51)
    tgt = 0.5 + 0.4 * (np.sin(2 * math.pi * xt[:, :1]) * np.cos(2 * math.pi * xt[:, 1:]))
    for kind in ("ffn", "siren"):
        torch.manual_seed(501 if kind == "ffn" else 502)
        B = torch.randn(16, 2) * 4.0              # embedding_size x coordinates_size, scale 4
        net = NerpFFN(32, 32, 4, 1) if kind == "ffn" else NerpSiren(32, 32, 4, 1)
        full = WithEmbedding(B, net)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3 if kind == "ffn" else 1e-4,
                               betas=(0.9, 0.999), weight_decay=1e-4)
        xt_t = torch.from_numpy(xt.astype(np.float32))
        tt = torch.from_numpy(tgt.astype(np.float32))
        for _ in range(40):
            opt.zero_grad()
            loss = 0.5 * ((full(xt_t) - tt) ** 2).mean()
            loss.backward()
            opt.step()
        name = f"nerp_{kind}"
        m32, m64 = module_fns(full)
        expected(name, m32, m64, x)
        nsd = m32.net.state_dict()
        files = {"torch": name + ".pt", "safetensors": name + ".safetensors",
                 "npz": name + ".npz"}
        torch.save({"net": nsd, "enc": m32.B.detach().clone(), "opt": opt.state_dict()},
                   P(files["torch"]))
        flat = dict(nsd)
        flat["enc"] = m32.B.detach().clone()
        save_safetensors(P(files["safetensors"]), flat)
        save_npz(P(files["npz"]), flat)
        if kind == "ffn":
            keys = [(f"model.{i}.weight", f"model.{i}.bias") for i in (0, 2, 4, 6)]
            acts = ["relu", "relu", "relu", "sigmoid"]
            pattern = "net -> model.{i}.weight|bias (i = 0, 2, 4, 6); enc = B"
        else:
            keys = [(f"model.{i}.linear.weight", f"model.{i}.linear.bias") for i in range(4)]
            acts = ["sine:30", "sine:30", "sine:30", "identity"]
            pattern = "net -> model.{i}.linear.weight|bias; enc = B"
        write_json(name, {
            "family": "nerp", "layout": f"nerp_{kind}",
            "key_pattern": pattern, "container": "dict:net+enc (+ opt)",
            "layers": layer_keys(keys), "weight_shape": "out_by_in", "activations": acts,
            "input_dim": 2, "output_dim": 1, "widths": [32, 32, 32, 32, 1], "domain": domain,
            "encoding": {"type": "fourier", "key": "enc", "shape": [16, 2],
                         "shape_convention": "features_by_inputs", "order": "sin_cos",
                         "scale": TWO_PI, "sigma": 4.0, "include_input": False,
                         "formula": "gamma(x) = [sin(2*pi*x B^T), cos(2*pi*x B^T)], "
                                    "B = randn(embedding_size, coordinates_size) * scale"},
            "input_normalization": None, "output_names": None, "files": files,
            "notes": ("torch.save({'net': model.state_dict(), 'enc': encoder.B, 'opt': "
                      "optim.state_dict()}) as NeRP's training scripts save it (theirs holds a "
                      "CUDA tensor for enc; ours is CPU). safetensors/npz hold the net keys "
                      "plus 'enc'."),
        })


# --------------------------------------------------------------------------------------------
# 6. weight norm
# --------------------------------------------------------------------------------------------

def make_weightnorm():
    domain = [[-1.0, 1.0]] * 2
    x = points_for(domain)
    xt = train_points(domain, 61)
    torch.manual_seed(601)
    wn = torch.nn.utils.weight_norm
    seq = nn.Sequential(wn(nn.Linear(2, 16)), nn.Tanh(), wn(nn.Linear(16, 16)), nn.Tanh(),
                        wn(nn.Linear(16, 1)))
    train(seq, seq, xt, target_2d(xt), steps=50, lr=1e-2)
    name = "weightnorm_tanh"
    m32 = seq.eval()
    # a fresh weight-norm copy for float64 (deepcopy of a used weight_norm module fails)
    eff64 = nn.Sequential(wn(nn.Linear(2, 16)), nn.Tanh(), wn(nn.Linear(16, 16)), nn.Tanh(),
                          wn(nn.Linear(16, 1)))
    eff64.load_state_dict(seq.state_dict())
    eff64 = eff64.double().eval()
    expected(name, m32, eff64, x)
    sd = {k: v for k, v in m32.state_dict().items()}
    files = {"torch": name + ".pt", "safetensors": name + ".safetensors", "npz": name + ".npz",
             "torch_parametrizations": name + ".parametrizations.pt"}
    torch.save(sd, P(files["torch"]))
    save_safetensors(P(files["safetensors"]), sd)
    save_npz(P(files["npz"]), sd)
    # the newer API: torch.nn.utils.parametrizations.weight_norm (keys
    # <i>.parametrizations.weight.original0 = g, original1 = v)
    pseq = nn.Sequential(torch.nn.utils.parametrizations.weight_norm(nn.Linear(2, 16)),
                         nn.Tanh(),
                         torch.nn.utils.parametrizations.weight_norm(nn.Linear(16, 16)),
                         nn.Tanh(),
                         torch.nn.utils.parametrizations.weight_norm(nn.Linear(16, 1)))
    with torch.no_grad():
        for i in (0, 2, 4):
            pseq[i].parametrizations.weight.original0.copy_(seq[i].weight_g)
            pseq[i].parametrizations.weight.original1.copy_(seq[i].weight_v)
            pseq[i].bias.copy_(seq[i].bias)
        yp = pseq(torch.from_numpy(x.astype(np.float32))).numpy()
        yo = seq(torch.from_numpy(x.astype(np.float32))).numpy()
    assert np.allclose(yp, yo, atol=1e-6)
    torch.save(pseq.state_dict(), P(files["torch_parametrizations"]))
    write_json(name, {
        "family": "weight_norm", "layout": "nn_sequential_weight_norm",
        "key_pattern": "{i}.weight_g (out x 1), {i}.weight_v (out x in), {i}.bias",
        "container": "state_dict",
        "layers": [{"weight_g": f"{i}.weight_g", "weight_v": f"{i}.weight_v",
                    "bias": f"{i}.bias"} for i in (0, 2, 4)],
        "weight_formula": "W = weight_g * weight_v / ||weight_v|| (norm of each row, dim=0)",
        "weight_shape": "out_by_in", "activations": ["tanh", "tanh", "identity"],
        "input_dim": 2, "output_dim": 1, "widths": [2, 16, 16, 1], "domain": domain,
        "encoding": None, "input_normalization": None, "output_names": None, "files": files,
        "notes": ("torch.nn.utils.weight_norm (the deprecated API that makes weight_g / "
                  "weight_v); .parametrizations.pt is the same network through "
                  "torch.nn.utils.parametrizations.weight_norm: keys "
                  "{i}.parametrizations.weight.original0 (= g) / original1 (= v), {i}.bias"),
    })


# --------------------------------------------------------------------------------------------
# 7. negative cases
# --------------------------------------------------------------------------------------------

class UserMLP(nn.Module):
    """A user's own class; torch.save(model) pickles a reference to __main__.UserMLP."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


class NerfSkip(nn.Module):
    """NeRF-style trunk: pts_linears.<i>, input concatenated again after layer 4
    (the 5th linear takes width + d inputs); output_linear."""

    def __init__(self, d=3, width=32, depth=6, skip=4, d_out=1):
        super().__init__()
        self.skip = skip
        lins = [nn.Linear(d, width)]
        for i in range(1, depth):
            lins.append(nn.Linear(width + d if i == skip + 1 else width, width))
        self.pts_linears = nn.ModuleList(lins)
        self.output_linear = nn.Linear(width, d_out)

    def forward(self, x):
        h = x
        for i, lin in enumerate(self.pts_linears):
            h = torch.relu(lin(h))
            if i == self.skip:
                h = torch.cat([x, h], dim=-1)
        return self.output_linear(h)


def make_negative(seq):
    domain2 = [[-1.0, 1.0]] * 2
    x2 = points_for(domain2)

    # TorchScript of the tanh Sequential
    name = "neg_torchscript"
    ts = torch.jit.script(seq.float().eval())
    ts.save(P(name + ".pt"))
    m32, m64 = module_fns(copy.deepcopy(seq))
    expected(name, m32, m64, x2)
    write_json(name, {
        "family": "negative", "case": "torchscript",
        "made_by": "torch.jit.script(model).save(path) of the sequential_tanh network",
        "input_dim": 2, "output_dim": 1, "domain": domain2, "files": {"torch": name + ".pt"},
        "expect": "a clear error: a TorchScript archive (code/, constants.pkl), not a state "
                  "dict; same weights as sequential_tanh",
    })

    # whole-module pickle of a user class
    name = "neg_user_module"
    torch.manual_seed(701)
    um = UserMLP().eval()
    torch.save(um, P(name + ".pt"))
    m32, m64 = module_fns(um)
    expected(name, m32, m64, x2)
    write_json(name, {
        "family": "negative", "case": "whole_module_user_class",
        "made_by": "torch.save(model) of __main__.UserMLP (fc1: Linear(2,16), tanh, "
                   "fc2: Linear(16,1))",
        "input_dim": 2, "output_dim": 1, "domain": domain2, "files": {"torch": name + ".pt"},
        "expect": "a clear error: the pickle refers to the user's class __main__.UserMLP, "
                  "which cannot be built; ask for torch.save(model.state_dict())",
    })

    # NeRF-style skip connection
    name = "neg_nerf_skip"
    domain3 = [[-1.0, 1.0]] * 3
    x3 = points_for(domain3)
    torch.manual_seed(702)
    nm = NerfSkip().eval()
    xt = train_points(domain3, 71)
    train(nm, nm, xt, target_3d(xt), steps=30, lr=1e-3)
    m32, m64 = module_fns(nm)
    expected(name, m32, m64, x3)
    sd = m32.state_dict()
    torch.save(sd, P(name + ".pth"))
    save_safetensors(P(name + ".safetensors"), sd)
    write_json(name, {
        "family": "negative", "case": "skip_connection",
        "made_by": "torch.save(model.state_dict()) of a NeRF-style trunk",
        "key_pattern": "pts_linears.{0..5}.weight|bias, output_linear.weight|bias",
        "shapes": {k: list(v.shape) for k, v in sd.items()},
        "activations": ["relu"] * 6 + ["identity"],
        "skip": "after pts_linears.4 (ReLU) the input x is concatenated in front: "
                "h = cat([x, h]); pts_linears.5 takes 3 + 32 = 35 inputs",
        "input_dim": 3, "output_dim": 1, "domain": domain3,
        "files": {"torch": name + ".pth", "safetensors": name + ".safetensors"},
        "expect": "a clear error: pts_linears.5.weight is 32 x 35 but the previous layer "
                  "gives 32 (not a plain chain)",
    })


# --------------------------------------------------------------------------------------------

def main():
    for f in os.listdir(OUT):
        os.remove(P(f))
    make_siren(2)
    make_siren(3)
    make_fourier()
    make_pinn()
    seq = make_sequential()
    make_nerp()
    make_weightnorm()
    make_negative(seq)
    total = sum(os.path.getsize(P(f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, into {OUT}")


if __name__ == "__main__":
    main()
