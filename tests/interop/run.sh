#!/usr/bin/env bash
# Interop check with real MFEM (PyMFEM) and meshio: export meshes from Rust, load them in
# Python, compare. Creates target/venv (pip install mfem numpy meshio) when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/venv
if ! "$venv/bin/python" -c 'import mfem.ser, numpy, meshio' >/dev/null 2>&1; then
  echo "setting up $venv (mfem numpy meshio)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet mfem numpy meshio
fi
cargo test --release --test mesh_interop_export --test run_interop_export
"$venv/bin/python" tests/interop/check_mfem.py target/interop
