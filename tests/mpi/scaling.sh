#!/usr/bin/env bash
# Strong scaling of the MPI build on this machine (issue 18): `-np 1 --threads 1` against
# `-np 2 --threads 1` on the NS_PINN and CT_demo default runs (best of REPEATS wall times each),
# then, from the one-process CT_demo run's parameters.json, the measured cost of scoring one
# element and of one RMSE point, and what they project for a 10^7-element CT slice on 1, 8
# and 64 nodes of 16 cores. Prints the CPU, the SIMD level and the load average beside the
# numbers: timings on a loaded machine are not the machine's.
#
#   bash tests/mpi/scaling.sh            # REPEATS=3 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats="${REPEATS:-3}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cargo build --release --features mpi --quiet
bin="$PWD/target/release/pruningamr"
out="$PWD/target/scaling"
rm -rf "$out"
mkdir -p "$out"

cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
flags="$(grep -m1 '^flags' /proc/cpuinfo)"
if [[ "$flags" == *" avx512f"* ]]; then simd="avx512f"
elif [[ "$flags" == *" avx2"* && "$flags" == *" fma"* ]]; then simd="avx2+fma"
else simd="portable"; fi
echo "CPU: $cpu ($(nproc) CPUs), SIMD kernels: $simd"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Best wall time (s) of `repeats` runs of `mpirun -np $1 pruningamr --threads 1 <args>`; the
# last run's files stay in $out/<tag>.
best() {
  local np="$1" tag="$2"
  shift 2
  local b=""
  for _ in $(seq "$repeats"); do
    local t0 t1
    t0=$(date +%s.%N)
    mpirun -q --bind-to none --oversubscribe -np "$np" "$bin" --quiet --threads 1 \
      --output "$out/$tag" "$@"
    t1=$(date +%s.%N)
    b=$(python3 -c "t=$t1-$t0; b='$b'; print(f'{min(t, float(b)) if b else t:.3f}')")
  done
  echo "$b"
}

for key in NS_PINN CT_demo; do
  t1=$(best 1 "$key-np1" --INR_key "$key")
  t2=$(best 2 "$key-np2" --INR_key "$key")
  ratio=$(python3 -c "print(f'{$t1/$t2:.2f}')")
  echo "$key defaults: -np 1 --threads 1 ${t1} s, -np 2 --threads 1 ${t2} s, speed-up ${ratio}x"
done

python3 - "$out/CT_demo-np1" <<'PY'
import glob, json, sys
p = json.load(open(glob.glob(sys.argv[1] + "/**/parameters.json", recursive=True)[0]))
its = p["iterations"]
scored = sum(i["scored"] for i in its) + (p["final_scoring"] or {}).get("scored", 0)
score_s = sum(i["seconds"]["scoring"] for i in its) + (p["final_scoring"] or {}).get("seconds", 0)
points = p["rmse_sampling"]["points"]
rmse_s = sum(i["seconds"]["rmse"] for i in its)
draw_s = p["rmse_sampling"]["seconds"]
# Work every rank repeats (refinement, hanging constraints) and rank 0's writing, per element.
elements = sum(i["elements"] for i in its)
serial_s = sum(i["seconds"]["refinement"] + i["seconds"]["writing"] for i in its)
c_elem = score_s / scored
c_point = (draw_s + rmse_s) / points          # drawn + evaluated once, interpolated each iteration
c_serial = serial_s / elements
print(f"CT_demo, one thread: scoring {c_elem*1e3:.3f} ms/element ({scored} scored), "
      f"RMSE {c_point*1e6:.3f} us/point over the run ({points} points, {len(its)} iterations, "
      f"drawn {draw_s:.2f} s + measured {rmse_s:.2f} s), refine+write {c_serial*1e6:.3f} us/element")
N = 1e7
pts = N                                           # an RMSE point per element of the slice
for nodes in (1, 8, 64):
    cores = nodes * 16
    par = (N * c_elem + pts * c_point) / cores
    ser = N * c_serial
    print(f"projected 10^7-element CT slice on {nodes:>2} node(s) x 16 cores: "
          f"{(par + ser)/3600:.3f} h = scoring+RMSE {par:.0f} s + refine/write {ser:.0f} s")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
