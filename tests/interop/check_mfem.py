#!/usr/bin/env python3
"""Checks the files tests/mesh_interop_export.rs wrote against real MFEM (PyMFEM) and meshio.

For every case folder (target/interop/2d, 3d) and every iteration in its probe.json:
  - MFEM loads it_N.mesh as a nonconforming mesh (when vertices hang) with our element,
    vertex and true-DOF counts (order-1 H1 space), keeping our element order;
  - MFEM loads it_N.gf; its values at our probe points (mesh.FindPoints + gf.GetValue) equal
    our interpolated values to 1e-6;
  - our hanging values are MFEM's constraints of our other values (GetTrueDofs then
    SetFromTrueDofs changes nothing);
  - the ParaView .pvd lists every iteration and meshio reads each .vtu back with our point and
    cell counts, point data and cell data.
Exits non-zero on any mismatch.

usage: check_mfem.py [target/interop]
"""
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import meshio
import mfem as mfem_pkg
import mfem.ser as mfem
import numpy as np

TOL = 1e-6


class Checker:
    def __init__(self):
        self.failures = []
        self.checks = 0

    def expect(self, ok, what):
        self.checks += 1
        if not ok:
            self.failures.append(what)
            print("  MISMATCH:", what)


def check_iteration(case, it, probe, ck):
    dim, ncomp = probe["dim"], probe["ncomp"]
    tag = f"{case.name}/it_{it['it']}"
    mesh = mfem.Mesh(str(case / it["mesh"]), 1, 1)
    hanging = it["hanging"]
    ck.expect(mesh.Dimension() == dim, f"{tag}: dimension {mesh.Dimension()} != {dim}")
    ck.expect(bool(mesh.Nonconforming()) == (hanging > 0),
              f"{tag}: Nonconforming() = {mesh.Nonconforming()} with {hanging} hanging vertices")
    ck.expect(mesh.GetNE() == it["ne"], f"{tag}: GetNE {mesh.GetNE()} != ours {it['ne']}")
    ck.expect(mesh.GetNV() == it["nv"], f"{tag}: GetNV {mesh.GetNV()} != ours {it['nv']}")
    fec = mfem.H1_FECollection(1, dim)
    fes = mfem.FiniteElementSpace(mesh, fec)
    ck.expect(fes.GetNDofs() == it["nv"], f"{tag}: GetNDofs {fes.GetNDofs()} != {it['nv']}")
    ck.expect(fes.GetTrueVSize() == it["true_dofs"],
              f"{tag}: true DOFs {fes.GetTrueVSize()} != ours {it['true_dofs']}")

    gf = mfem.GridFunction(mesh, str(case / it["gf"]))
    ck.expect(gf.FESpace().GetVDim() == ncomp, f"{tag}: VDim {gf.FESpace().GetVDim()} != {ncomp}")
    ck.expect(gf.Size() == it["nv"] * ncomp, f"{tag}: gf size {gf.Size()}")

    # values at points
    pts = np.array(it["points"], dtype=float)
    want = np.array(it["values"], dtype=float)
    count, elems, ips = mesh.FindPoints(pts, warn=False)
    found = {}
    # FindPoints starts from the elements around the closest vertex, which on anisotropic
    # meshes (long thin elements) need not hold the point: those few are searched element by
    # element with MFEM's inverse transformation.
    searched = 0
    for k in range(len(pts)):
        if elems[k] >= 0:
            continue
        x = mfem.Vector(pts[k].tolist())
        for e in range(mesh.GetNE()):
            # (the transformation must outlive the inverse that points to it)
            trans = mesh.GetElementTransformation(e)
            inv = mfem.InverseElementTransformation(trans)
            ip = mfem.IntegrationPoint()
            if inv.Transform(x, ip) == mfem.InverseElementTransformation.Inside:
                found[k] = (e, ip)
                count += 1
                searched += 1
                break
    ck.expect(count == len(pts), f"{tag}: MFEM found {count} of {len(pts)} points")
    worst = 0.0
    for k in range(len(pts)):
        e, ip = found.get(k, (elems[k], ips[k]))
        if e < 0:
            continue
        for c in range(ncomp):
            v = gf.GetValue(e, ip, c + 1)
            worst = max(worst, abs(v - want[k, c]))
    ck.expect(worst <= TOL, f"{tag}: values at points differ from MFEM's by {worst:.3g}")

    # hanging values are MFEM's constraints of the rest
    tv = mfem.Vector(gf.FESpace().GetTrueVSize())
    gf.GetTrueDofs(tv)
    gf2 = mfem.GridFunction(gf.FESpace())
    gf2.SetFromTrueDofs(tv)
    a, b = gf.GetDataArray().copy(), gf2.GetDataArray().copy()
    jump = float(np.max(np.abs(a - b))) if a.size else 0.0
    ck.expect(jump <= TOL, f"{tag}: re-constraining in MFEM changes values by {jump:.3g}")

    # element order kept: element centres equal the .vtu cells' centres (our order)
    vtu = meshio.read(case / it["vtu"])
    ck.expect(len(vtu.points) == it["nv"], f"{tag}: vtu points {len(vtu.points)} != {it['nv']}")
    ncells = sum(len(b.data) for b in vtu.cells)
    ck.expect(ncells == it["ne"], f"{tag}: vtu cells {ncells} != {it['ne']}")
    kinds = {b.type for b in vtu.cells}
    ck.expect(kinds == {"quad" if dim == 2 else "hexahedron"}, f"{tag}: vtu cell types {kinds}")
    conn = np.concatenate([b.data for b in vtu.cells])
    centres = vtu.points[conn].mean(axis=1)
    c = mfem.Vector(dim)
    diff = 0.0
    for e in range(mesh.GetNE()):
        mesh.GetElementCenter(e, c)
        diff = max(diff, float(np.max(np.abs(c.GetDataArray() - centres[e, :dim]))))
    ck.expect(diff <= 1e-12, f"{tag}: MFEM element centres differ from ours by {diff:.3g}")
    # the .vtu point data equals the .gf file's values (both in our vertex order) ...
    lines = (case / it["gf"]).read_text().split("\n\n", 1)[1].split()
    ours = np.array([float(x) for x in lines]).reshape(ncomp, -1)
    nv = it["nv"]
    names = probe.get("point_data_names") or [f"u{c}" for c in range(ncomp)]
    for comp in range(ncomp):
        name = names[comp]
        ok = name in vtu.point_data and ours.shape[1] == nv
        ck.expect(ok, f"{tag}: vtu point data lacks {name}")
        if ok:
            d = float(np.max(np.abs(vtu.point_data[name] - ours[comp])))
            ck.expect(d <= 1e-7, f"{tag}: vtu {name} differs from the .gf by {d:.3g}")
    # ... and MFEM, which renumbers vertices on load, has the same value at each position
    where = {tuple(np.round(x[:dim], 12)): k for k, x in enumerate(vtu.points)}
    vals = gf.GetDataArray()
    worst_v, missing = 0.0, 0
    for i in range(mesh.GetNV()):
        k = where.get(tuple(np.round(np.array(mesh.GetVertexArray(i))[:dim], 12)))
        if k is None:
            missing += 1
            continue
        for comp in range(ncomp):
            worst_v = max(worst_v, abs(vals[comp * nv + i] - ours[comp, k]))
    ck.expect(missing == 0 and worst_v <= 1e-12,
              f"{tag}: MFEM vertex values vs ours: {missing} unmatched, max diff {worst_v:.3g}")
    lev = vtu.cell_data.get("level")
    ck.expect(lev is not None and int(np.max(np.concatenate(lev))) == it["max_level"],
              f"{tag}: vtu cell data 'level' missing or wrong")
    print(f"  {tag}: NE {mesh.GetNE()}, NV {mesh.GetNV()}, true DOFs {fes.GetTrueVSize()}, "
          f"hanging {hanging}, nonconforming {bool(mesh.Nonconforming())}, "
          f"{len(pts)} points ({searched} by element search) max |diff| {worst:.2g}, "
          f"re-constrain {jump:.2g}")


def check_case(case, ck):
    probe = json.loads((case / "probe.json").read_text())
    print(f"{case.name}: dim {probe['dim']}, {probe['ncomp']} component(s)")
    for it in probe["iterations"]:
        check_iteration(case, it, probe, ck)
    pvd = ET.parse(case / probe["pvd"]).getroot()
    sets = pvd.findall("./Collection/DataSet")
    ck.expect(len(sets) == len(probe["iterations"]),
              f"{case.name}: pvd lists {len(sets)} datasets, {len(probe['iterations'])} iterations")
    pvd_dir = (case / probe["pvd"]).parent
    for ds, it in zip(sets, probe["iterations"]):
        ck.expect(float(ds.get("timestep")) == it["it"], f"{case.name}: pvd timestep {ds.get('timestep')}")
        ck.expect((pvd_dir / ds.get("file")).is_file(), f"{case.name}: pvd names missing {ds.get('file')}")


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "target/interop")
    cases = sorted(p for p in root.iterdir() if (p / "probe.json").is_file()) if root.is_dir() else []
    if not cases:
        print(f"no cases under {root} (run cargo test --release --test mesh_interop_export)")
        return 1
    ck = Checker()
    for case in cases:
        check_case(case, ck)
    if ck.failures:
        print(f"FAILED: {len(ck.failures)} of {ck.checks} checks")
        return 1
    print(f"ok: {ck.checks} checks passed (PyMFEM {getattr(mfem_pkg, '__version__', '?')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
