#!/usr/bin/env bash
# The one command for the GPU machine (no Node there): builds the engine with
# CMake for the card present, runs every test (CPU and CUDA), the CUDA
# benchmark (bench/gpu/cuda_bench.cpp) and the PyTorch baseline
# (bench/gpu/torch_baseline.py), keeps logs under $OUT and prints a short table
# last. Fits one 10-minute device call: the benchmark phases get what is left
# of a deadline.
#   bash tools/gpu/run.sh [all|test|bench]      (default all)
set -u
PART=${1:-all}
OUT=${OUT:-/tmp/rwkvx-gpu-out}
mkdir -p "$OUT"
T0=$(date +%s)
DEADLINE=${RWKVX_GPU_DEADLINE:-560}   # seconds from start by which everything must be done
elapsed() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( DEADLINE - $(elapsed) )); }
export PATH=/usr/local/cuda/bin:$PATH
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=$ROOT/native/build-gpu
MODELS=/tmp/rwkvx-models
mkdir -p "$MODELS"
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }

say "== rwkvx GPU run $(date -u '+%Y-%m-%d %H:%M UTC') part=$PART"
GPU=$(nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader 2>&1 | head -1)
say "gpu: $GPU"
say "nvcc: $(nvcc --version 2>&1 | grep release)"
say "cmake: $(cmake --version | head -1)"
CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')
ARCHS="${CAP:-90}-real"

# cuBLAS for the benchmark's baseline rate (dlopen'ed; never linked)
CUBLAS=$(ls /usr/local/cuda/lib64/libcublas.so.1[0-9] 2>/dev/null | head -1)
if [ -z "$CUBLAS" ]; then
  CUBLAS=$(python3 -c "import nvidia, glob, os; d=os.path.dirname(nvidia.__file__); print((glob.glob(d+'/*/lib/libcublas.so.*')+[''])[0])" 2>/dev/null)
fi
if [ -n "$CUBLAS" ]; then
  export RWKVX_CUBLAS=$CUBLAS
  export LD_LIBRARY_PATH=$(dirname "$CUBLAS"):${LD_LIBRARY_PATH:-}
fi
say "cublas: ${CUBLAS:-not found}"

# ---- build. A CPU-only build of the engine tool writes the random benchmark
# models meanwhile (the CUDA build's tool would wait for all of CUDA).
cmake -S native -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRWKVX_CUDA=ON -DRWKVX_CUDA_ARCHS="$ARCHS" > "$OUT/build.log" 2>&1 || { say "configure FAILED"; tail -30 "$OUT/build.log"; exit 1; }
GEN_PID=""
if [ "$PART" != test ]; then
  (
    cmake -S native -B "$BUILD-cpu" -DCMAKE_BUILD_TYPE=Release -DRWKVX_CUDA=OFF > /dev/null 2>&1 &&
      cmake --build "$BUILD-cpu" -j 4 --target rwkvx-engine > /dev/null 2>&1 || exit 1
    for s in 0.1b 1.5b 2.9b x0.22b; do
      f=$MODELS/rwkvx-bench-$s-f16.gguf
      [ -f "$f" ] || { "$BUILD-cpu/rwkvx-engine" random-model "$s" "$f.tmp" --type f16 > /dev/null 2>&1 && mv "$f.tmp" "$f"; } &
    done
    wait
  ) &
  GEN_PID=$!
fi
cmake --build "$BUILD" -j 14 >> "$OUT/build.log" 2>&1 || { say "build FAILED"; grep -E "error" "$OUT/build.log" | head -30; tail -20 "$OUT/build.log"; exit 1; }
say "build: ok in $(elapsed) s (archs $ARCHS)"
grep -E "warning" "$OUT/build.log" | grep -v "^$" | head -5

# ---- tests
if [ "$PART" != bench ]; then
  : > "$OUT/tests.log"
  # the whole-model tests once per prefill matrix path (cuBLAS is the default where found)
  for t in test_cuda_ops test_cuda_model:own test_cuda_model; do
    bin=${t%%:*}
    echo "== $t" >> "$OUT/tests.log"
    if [ "$t" != "$bin" ]; then RWKVX_CUDA_GEMM=${t#*:} timeout 240 "$BUILD/$bin" >> "$OUT/tests.log" 2>&1
    else timeout 240 "$BUILD/$bin" >> "$OUT/tests.log" 2>&1; fi
    rc=$?
    say "$t: $(grep -E '^[0-9]+ passed' "$OUT/tests.log" | tail -1) (exit $rc)"
  done
  grep -E "^(FAIL|  CHECK|  exception|  REQUIRE)" "$OUT/tests.log" | head -30
  timeout 200 ctest --test-dir "$BUILD" -E "test_cuda_(ops|model)" --output-on-failure > "$OUT/ctest.log" 2>&1
  say "ctest (other tests): $(grep -E 'tests passed' "$OUT/ctest.log" | tail -1)"
  grep -E "Failed|\*\*\*" "$OUT/ctest.log" | head -10
fi

# ---- benchmark and baseline
if [ "$PART" != test ]; then
  [ -n "$GEN_PID" ] && wait "$GEN_PID"
  say "models: $(ls "$MODELS"/*.gguf 2>/dev/null | wc -l) written by $(elapsed) s"
  REF=$MODELS/ref-0.1b.npy
  TOKS="1 22 333 4444 5555 666 77 8 99 1000 20000 3000 400 50 6 7"
  "$BUILD/rwkvx-engine" logits --model "$MODELS/rwkvx-bench-0.1b-f16.gguf" --device cpu --tokens "$TOKS" --out "$REF" > /dev/null 2>&1
  B=$(( $(left) / 2 ))
  [ "$B" -lt 60 ] && B=60
  say "engine benchmark budget ${B} s"
  timeout $(( B + 90 )) "$BUILD/rwkvx-cuda-bench" --dir "$MODELS" --budget-s "$B" --out "$OUT/bench.tsv" > "$OUT/bench.log" 2>&1
  say "engine benchmark exit $?"
  if [ -n "$CUBLAS" ] && [ "$(left)" -gt 120 ]; then
    # the same engine with its own GEMM for the prefill products: 64K tokens of 0.1B and 1.5B
    timeout 100 "$BUILD/rwkvx-cuda-bench" --dir "$MODELS" --gemm own --shapes 0.1b,1.5b --contexts 65536 \
      --decode 32 --budget-s 50 > "$OUT/bench-own.log" 2>&1
    say "own-GEMM benchmark exit $?"
  fi
  [ "${RWKVX_GPU_BASELINE:-1}" = 0 ] && { say "baseline skipped (RWKVX_GPU_BASELINE=0)"; TB=0; }
  [ "${TB:-1}" = 0 ] || TB=$(( $(left) - 20 ))
  if [ "$TB" != 0 ]; then
    [ "$TB" -lt 40 ] && TB=40
    PYTHONUNBUFFERED=1 timeout $(( TB + 30 )) python3 bench/gpu/torch_baseline.py --dir "$MODELS" --budget-s "$TB" \
      --check-logits "$REF" --check-tokens "$TOKS" > "$OUT/torch.log" 2>&1
    say "baseline exit $?"
  fi
fi

# ---- the table
if [ -f "$OUT/bench.log" ]; then
  say ""
  grep -E "^(GPU|device-to-device|bf16 GEMM)" "$OUT/bench.log" | tee -a "$SUMMARY"
  sed -n '/^model /,$p' "$OUT/bench.log" | tee -a "$SUMMARY"
  tail -3 "$OUT/bench.log" | grep -i -E "error|rwkvx-cuda-bench:" | tee -a "$SUMMARY"
fi
if [ -f "$OUT/bench-own.log" ]; then
  say "-- prefill through the own GEMM:"
  sed -n '/^model /,$p' "$OUT/bench-own.log" | tee -a "$SUMMARY"
fi
if [ -f "$OUT/torch.log" ]; then
  grep -E "^(torch |baseline|0\.|1\.|2\.|x0)" "$OUT/torch.log" | tee -a "$SUMMARY"
  grep -E "Error|error" "$OUT/torch.log" | tail -3 | tee -a "$SUMMARY"
fi
say "total $(elapsed) s"
