"""Writes numpy_net.npz: a small network in pruningamr's npz format, written by numpy itself
(np.savez_compressed, float64 weights, one Fortran-order weight, a <U activations array), with
the expected outputs for a few points as meta_ members (which the loader ignores).

    python3 make_numpy_fixture.py   # needs numpy only
"""
import numpy as np

rng = np.random.default_rng(7)
d, F, h = 3, 4, 5
G = rng.normal(size=(d, F))
W0 = rng.normal(size=(h, 2 * F))
b0 = rng.normal(size=h)
W1 = np.asfortranarray(rng.normal(size=(h, h)))
b1 = rng.normal(size=h)
W2 = rng.normal(size=(2, h)).astype(np.float32)
b2 = rng.normal(size=2).astype(np.float32)
mean = np.array([0.5, -1.0, 2.0])
std = np.array([2.0, 0.5, 4.0])
scale = np.float32(3.0)
acts = np.array(["LeakyReLU:0.2", "tanh", "Identity"])

x = rng.uniform(-2, 2, size=(16, d))
z = (x - mean) / std
p = 2 * np.pi * z @ G
f = np.concatenate([np.cos(p), np.sin(p)], axis=1)
a0 = f @ W0.T + b0
a0 = np.where(a0 >= 0, a0, 0.2 * a0)
a1 = np.tanh(a0 @ W1.T + b1)
y = (a1 @ W2.T.astype(np.float64) + b2) * scale

np.savez_compressed(
    "numpy_net.npz",
    weight_0=W0, bias_0=b0, weight_1=W1, bias_1=b1, weight_2=W2, bias_2=b2,
    activations=acts, input_mean=mean, input_std=std, fourier_gauss=G, output_scale=scale,
    meta_x=x, meta_y=y,
)
