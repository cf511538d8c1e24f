#!/usr/bin/env bash
# Where a decode step's time goes, per kernel, on the GPU machine: ncu with the
# decode graph off (kernels launched one by one), caches and clocks left as
# they run (no flush between kernels). Prints a table per model: total GPU
# time per kernel name, calls, time per call, over the prompt token and the
# decoded ones. Needs the CUDA build (tools/gpu/run.sh makes it) and models.
#   bash tools/gpu/profile_decode.sh BUILD_DIR MODEL.gguf [MODEL.gguf ...]
set -u
export PATH=/usr/local/cuda/bin:$PATH
BUILD=$1; shift
OUT=${OUT:-/tmp/rwkvx-gpu-out}
mkdir -p "$OUT"
for m in "$@"; do
  name=$(basename "$m" .gguf)
  RWKVX_CUDA_GRAPHS=0 timeout 120 ncu --cache-control none --clock-control none --metrics gpu__time_duration.sum --csv \
    "$BUILD/rwkvx-engine" generate --model "$m" --device cuda --prompt "a" --max-tokens 3 > "$OUT/ncu-$name.csv" 2> "$OUT/ncu-$name.err"
  echo "== $name: decode kernels (4 forward passes of 1 token)"
  python3 - "$OUT/ncu-$name.csv" <<'PY'
import collections, csv, sys
rows, hdr = [], None
for r in csv.reader(open(sys.argv[1])):
    if r and r[0] == "ID":
        hdr = r
    elif hdr and len(r) == len(hdr):
        rows.append(dict(zip(hdr, r)))
scale = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3}
agg = collections.defaultdict(lambda: [0, 0.0])
for d in rows:
    if d.get("Metric Name") != "gpu__time_duration.sum":
        continue
    us = float(d["Metric Value"].replace(",", "")) * scale.get(d.get("Metric Unit", "ns"), 1e-3)
    name = d["Kernel Name"].split("(")[0].replace("void ", "").split("::")[-1]
    agg[name][0] += 1
    agg[name][1] += us
total = sum(v for _, v in agg.values())
print(f"{'us total':>10} {'calls':>6} {'us/call':>8}  kernel")
for k, (n, us) in sorted(agg.items(), key=lambda x: -x[1][1]):
    print(f"{us:10.1f} {n:6d} {us / n:8.2f}  {k}")
print(f"{total:10.1f} us in all; {total / 4:.1f} us per token")
PY
done
