#!/usr/bin/env python3
"""More bring-your-own-network test data, beside make_networks.py's (whose helpers it uses;
it writes only the files below, so the earlier files stay byte for byte):

  positional_nerf.*   a ReLU MLP behind NeRF's positional encoding (nerf-pytorch's Embedder
                      order: x, then per frequency sin of every input, then cos of every
                      input; frequencies 2^k, no pi), as a state dict (.pth), safetensors
                      (config in the metadata), npz and ONNX, with its values at a grid
  neg_mfn_fourier.pth, neg_mfn_gabor.safetensors
                      multiplicative filter networks (Fathony et al. 2021): FourierNet and
                      GaborNet with the MFN repo's parameter names (filters.N.linear, filters.N.mu,
                      filters.N.gamma, linear.N, output_linear)
  neg_wire.pth        a WIRE network (Saragadam et al. 2023) with the WIRE repo's names:
                      net.N.linear (complex after the first layer), net.N.omega_0, net.N.scale_0
  neg_hashgrid_ngp.pth, neg_hashgrid_tcnn.safetensors
                      hash-grid encodings' parameters as torch-ngp's GridEncoder
                      (encoder.embeddings, encoder.offsets, sigma_net.N bias-free) and
                      tiny-cuda-nn's torch modules (encoder.params, sigma_net.params) save them

The refused networks only reproduce each family's state-dict names and dtypes (the module
code is written for this data set); pruningamr must refuse each with a message naming it.

Run:  venv/bin/python make_more_networks.py   (a few seconds)
"""

import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_networks as mn  # noqa: E402  (its main() is not run on import)

P = mn.P


# --------------------------------------------------------------------------------------------
# Positional encoding
# --------------------------------------------------------------------------------------------

class NerfPositionalMLP(nn.Module):
    """gamma(x) = [x, sin(2^0 x), cos(2^0 x), ..., sin(2^(L-1) x), cos(2^(L-1) x)], each
    block over all d inputs (nerf-pytorch's order), then a ReLU MLP at net.<i>."""

    def __init__(self, d, L, width, n_hidden, d_out):
        super().__init__()
        self.L = L
        layers = [nn.Linear((2 * L + 1) * d, width), nn.ReLU()]
        for _ in range(n_hidden - 1):
            layers += [nn.Linear(width, width), nn.ReLU()]
        layers.append(nn.Linear(width, d_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        feats = [x]
        for k in range(self.L):
            f = 2.0 ** k
            feats += [torch.sin(x * f), torch.cos(x * f)]
        return self.net(torch.cat(feats, dim=-1))


def make_positional():
    domain = [[-1.0, 1.0]] * 2
    x = mn.points_for(domain)
    xt = mn.train_points(domain, 81)
    torch.manual_seed(801)
    model = NerfPositionalMLP(2, 4, 32, 2, 1)
    mn.train(model, model, xt, mn.target_2d(xt), steps=60, lr=2e-3)
    name = "positional_nerf"
    m32, m64 = mn.module_fns(model)
    mn.expected(name, m32, m64, x)
    sd = m32.state_dict()
    config = {"activations": "relu",
              "encoding": {"type": "positional", "frequencies": 4, "include_input": True,
                           "pi": False}}
    files = {"torch": name + ".pth", "safetensors": name + ".safetensors", "npz": name + ".npz",
             "onnx": name + ".onnx", "onnx_legacy": name + ".legacy.onnx"}
    torch.save(sd, P(files["torch"]))
    mn.save_safetensors(P(files["safetensors"]), sd, config)
    mn.save_npz(P(files["npz"]), sd)
    mn.save_onnx(m32, 2, P(files["onnx"]), P(files["onnx_legacy"]))
    with open(os.path.join(mn.HERE, "configs", name + ".json"), "w") as f:
        f.write('{"activations": "relu",\n "encoding": {"type": "positional", "frequencies": 4,'
                ' "include_input": true, "pi": false}}\n')
    keys = list(sd)
    mn.write_json(name, {
        "family": "positional_encoding", "layout": "nerf_embedder_sequential",
        "key_pattern": "net.{i}.weight|bias (i = 0, 2, 4)", "container": "state_dict",
        "layers": mn.layer_keys(zip(keys[0::2], keys[1::2])), "weight_shape": "out_by_in",
        "activations": ["relu", "relu", "identity"], "input_dim": 2, "output_dim": 1,
        "widths": [18, 32, 32, 1], "domain": domain,
        "encoding": {"type": "positional", "frequencies": 4, "include_input": True,
                     "pi": False,
                     "formula": "gamma(x) = [x, sin(x), cos(x), sin(2x), cos(2x), ..., "
                                "sin(8x), cos(8x)], each term over all inputs"},
        "input_normalization": None, "output_names": None, "safetensors_metadata": True,
        "files": files,
    })


# --------------------------------------------------------------------------------------------
# Refused families
# --------------------------------------------------------------------------------------------

class FourierFilter(nn.Module):
    def __init__(self, d_in, width, scale):
        super().__init__()
        self.linear = nn.Linear(d_in, width)
        self.linear.weight.data *= scale
        self.linear.bias.data.uniform_(-math.pi, math.pi)

    def forward(self, x):
        return torch.sin(self.linear(x))


class GaborFilter(nn.Module):
    def __init__(self, d_in, width, scale, alpha=6.0):
        super().__init__()
        self.linear = nn.Linear(d_in, width)
        self.mu = nn.Parameter(2 * torch.rand(width, d_in) - 1)
        self.gamma = nn.Parameter(torch.distributions.gamma.Gamma(alpha, 1.0).sample((width,)))
        self.linear.weight.data *= scale * torch.sqrt(self.gamma[:, None])
        self.linear.bias.data.uniform_(-math.pi, math.pi)

    def forward(self, x):
        dist = ((x[:, None, :] - self.mu[None]) ** 2).sum(-1)
        return torch.sin(self.linear(x)) * torch.exp(-0.5 * dist * self.gamma[None])


class Mfn(nn.Module):
    """out = filter_0(x); out = filter_i(x) * linear_{i-1}(out); output_linear(out)."""

    def __init__(self, filt, d_in, width, n_layers, d_out):
        super().__init__()
        self.filters = nn.ModuleList(
            [filt(d_in, width, 16.0 / math.sqrt(n_layers + 1)) for _ in range(n_layers + 1)])
        self.linear = nn.ModuleList([nn.Linear(width, width) for _ in range(n_layers)])
        self.output_linear = nn.Linear(width, d_out)

    def forward(self, x):
        out = self.filters[0](x)
        for i in range(1, len(self.filters)):
            out = self.filters[i](x) * self.linear[i - 1](out)
        return self.output_linear(out)


class ComplexGabor(nn.Module):
    def __init__(self, d_in, width, first, omega0=10.0, sigma0=10.0):
        super().__init__()
        self.omega_0 = nn.Parameter(omega0 * torch.ones(1), False)
        self.scale_0 = nn.Parameter(sigma0 * torch.ones(1), False)
        self.linear = nn.Linear(d_in, width, dtype=torch.float if first else torch.cfloat)

    def forward(self, x):
        lin = self.linear(x)
        return torch.exp(1j * self.omega_0 * lin - (self.scale_0 * lin).abs().square())


class Wire(nn.Module):
    def __init__(self, d_in, width, n_hidden, d_out):
        super().__init__()
        layers = [ComplexGabor(d_in, width, True)]
        layers += [ComplexGabor(width, width, False) for _ in range(n_hidden)]
        layers.append(nn.Linear(width, d_out, dtype=torch.cfloat))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x).real


class NgpGrid(nn.Module):
    """torch-ngp's GridEncoder's parameters (a table per level, offsets into it) and a
    bias-free sigma_net; the lookup itself is CUDA code and not reproduced."""

    def __init__(self, levels=4, level_dim=2, table=64):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.register_buffer(
            "offsets", torch.arange(0, table * (levels + 1), table, dtype=torch.int32))
        self.encoder.embeddings = nn.Parameter(torch.rand(table * levels, level_dim) * 2e-4 - 1e-4)
        self.sigma_net = nn.ModuleList([nn.Linear(levels * level_dim, 16, bias=False),
                                        nn.Linear(16, 1, bias=False)])


class TcnnLike(nn.Module):
    """tiny-cuda-nn's torch modules hold one flat `params` each."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.params = nn.Parameter(torch.rand(4096) * 2e-4 - 1e-4)
        self.sigma_net = nn.Module()
        self.sigma_net.params = nn.Parameter(torch.randn(8 * 16 + 16 * 16) * 0.1)


def make_refused():
    domain2 = [[-1.0, 1.0]] * 2
    x2 = mn.points_for(domain2)
    torch.manual_seed(901)
    fourier = Mfn(FourierFilter, 2, 16, 2, 1).eval()
    torch.save(fourier.state_dict(), P("neg_mfn_fourier.pth"))
    torch.manual_seed(902)
    gabor = Mfn(GaborFilter, 2, 16, 2, 1).eval()
    mn.save_safetensors(P("neg_mfn_gabor.safetensors"), gabor.state_dict())
    torch.manual_seed(903)
    wire = Wire(2, 16, 2, 1).eval()
    torch.save(wire.state_dict(), P("neg_wire.pth"))
    with torch.no_grad():
        xt = torch.from_numpy(x2.astype(np.float32))
        np.savez(P("neg_refused.expected.npz"), x=x2, mfn_fourier=fourier(xt).numpy(),
                 mfn_gabor=gabor(xt).numpy(), wire=wire(xt).numpy())
    torch.manual_seed(904)
    torch.save(NgpGrid().state_dict(), P("neg_hashgrid_ngp.pth"))
    torch.manual_seed(905)
    mn.save_safetensors(P("neg_hashgrid_tcnn.safetensors"), TcnnLike().state_dict())
    mn.write_json("neg_refused", {
        "family": "negative", "case": "not_an_mlp",
        "files": {"mfn_fourier": "neg_mfn_fourier.pth", "mfn_gabor": "neg_mfn_gabor.safetensors",
                  "wire": "neg_wire.pth", "hashgrid_ngp": "neg_hashgrid_ngp.pth",
                  "hashgrid_tcnn": "neg_hashgrid_tcnn.safetensors"},
        "expect": "each refused with a one-line message naming its family (multiplicative "
                  "filter network, WIRE, hash-grid encoding) and what to do instead; the "
                  "expected values (MFN, WIRE) are for the record",
    })


if __name__ == "__main__":
    make_positional()
    make_refused()
    print("wrote positional_nerf.* and neg_* (MFN, WIRE, hash grids) into", mn.OUT)
