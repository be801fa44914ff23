"""Writes the seed corpora of the fuzz targets (fuzz/seeds/<target>/): tiny valid inputs,
so the fuzzer starts inside the formats. Needs numpy. Run from anywhere:
    python3 fuzz/seeds/make_seeds.py
"""
import io
import os
import struct
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- meshes: the shipped start meshes plus a v1.0 quad mesh and an INLINE hex mesh.
for m in ["rectangle.mesh", "box-hex.mesh", "NS_PINN_2x2x10_z0_20.mesh"]:
    with open(os.path.join(REPO, "meshes", m), "rb") as f:
        write("mesh_reader", m, f.read())
write("mesh_reader", "two_quads.mesh", b"""MFEM mesh v1.0
# two quads
dimension
2
elements
2
1 3 0 1 4 3
2 3 1 2 5 4
boundary
2
1 1 0 1
2 1 4 3
vertices
6
2
0 0
1 0
2 0
0 1
1 1
2 1
""")
write("mesh_reader", "inline_hex.mesh",
      b"MFEM INLINE mesh v1.0\ntype = hex\nnx = 2\nny = 1\nnz = 2\nsx = 2.0\nsy = 1\nsz = 0.5\n")


# ---- pickles, written opcode by opcode as torch.save's protocol-2 pickles are.
class Pk:
    def __init__(self):
        self.b = bytearray(b"\x80\x02")

    def op(self, x):
        self.b += x
        return self

    def glob(self, module, name):
        return self.op(f"c{module}\n{name}\n".encode())

    def str(self, s):
        s = s.encode()
        return self.op(b"X" + struct.pack("<I", len(s)) + s)

    def int(self, i):
        return self.op(b"J" + struct.pack("<i", i))

    def ints(self, v):
        self.op(b"(")
        for i in v:
            self.int(i)
        return self.op(b"t")

    def tensor(self, key, size):
        stride = [size[1], 1] if len(size) == 2 else [1]
        self.glob("torch._utils", "_rebuild_tensor_v2").op(b"(")
        self.op(b"(").str("storage").glob("torch", "FloatStorage").str(key).str("cpu").int(8)
        self.op(b"tQ").int(0).ints(size).ints(stride).op(b"\x89")
        return self.glob("collections", "OrderedDict").op(b")R").op(b"tR")

    def module(self, module, cls):
        return self.glob(module, cls).op(b")\x81}b")


ACT = "torch.nn.modules.activation"
LIN = "torch.nn.modules.linear"

lists = Pk().op(b"}(")
lists.str("weights_list").op(b"](").tensor("0", [3, 2]).tensor("1", [1, 3]).op(b"e")
lists.str("bias_list").op(b"](").tensor("2", [3]).tensor("3", [1]).op(b"e")
lists.str("act_list").op(b"](").module(ACT, "Tanh").module(LIN, "Identity").op(b"e")
lists.op(b"u.")

flat = Pk().glob("collections", "OrderedDict").op(b")R(")
for name, key, size in [("Layers.0.weight", "0", [3, 2]), ("Layers.0.bias", "2", [3]),
                        ("Layers.1.weight", "1", [1, 3]), ("Layers.1.bias", "3", [1])]:
    flat.str(name).tensor(key, size)
flat.op(b"u.")


def linear(p, w, b, size):
    p.glob(LIN, "Linear").op(b")\x81}").str("_parameters")
    p.glob("collections", "OrderedDict").op(b")R(").str("weight").tensor(w, size)
    p.str("bias").tensor(b, [size[0]]).op(b"us")
    return p.op(b"b")


seq = Pk().glob("torch.nn.modules.container", "Sequential").op(b")\x81}").str("_modules")
seq.glob("collections", "OrderedDict").op(b")R(").str("0")
linear(seq, "0", "2", [3, 2]).str("1").module(ACT, "GELU").str("2")
linear(seq, "1", "3", [1, 3]).op(b"us").op(b"b.")

for name, p in [("lists", lists), ("flat", flat), ("sequential", seq)]:
    write("checkpoint", f"1_{name}.pkl", b"\x01" + bytes(p.b))
    write("checkpoint", f"3_{name}.pkl", b"\x03" + bytes(p.b))


def torch_zip(pickle):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("net/data.pkl", pickle)
        z.writestr("net/byteorder", b"little")
        for k in range(4):
            z.writestr(f"net/data/{k}", np.arange(8, dtype="<f4").tobytes())
        z.writestr("net/version", b"3\n")
    return buf.getvalue()


write("checkpoint", "0_lists.ckpt", b"\x00" + torch_zip(bytes(lists.b)))


# ---- npz networks written by numpy, and single .npy members.
def npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


w0 = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=np.float32)
net = dict(weight_0=w0, bias_0=np.zeros(3, np.float32),
           weight_1=np.ones((1, 3), np.float32), bias_1=np.array([0.5], np.float32),
           activations=np.array(["LeakyReLU:0.2", "Identity"]))
write("checkpoint", "0_plain.npz", b"\x00" + npz(**net))
write("checkpoint", "0_transforms.npz", b"\x00" + npz(
    **dict(net, weight_0=np.ones((3, 4), np.float32),
           fourier_gauss=np.array([[0.5], [1.0]]) * np.ones((2, 2)),
           input_mean=np.array([0.5, -1.0], np.float32), input_std=np.array([2.0, 0.5]),
           output_scale=np.float32(3.0))))


def npy(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


write("checkpoint", "2_f4.npy", b"\x02" + npy(w0))
write("checkpoint", "2_f8_fortran.npy", b"\x02" + npy(np.asfortranarray(w0.astype(">f8"))))
write("checkpoint", "2_f2.npy", b"\x02" + npy(w0.astype(np.float16)))
