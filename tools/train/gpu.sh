#!/usr/bin/env bash
# Steps of a training session on the lent GPU machine (run from the repository root there; $OUT comes back).
# Corpus shards travel one per call in .device-carry/ and are tokenized into .tmp/tokens/ (kept while the
# machine stays warm). Phases:
#   check                 GPU facts, WKV check on the GPU, CPU smoke test, tokenize the carried shard, step-time bench
#   tokenize              tokenize the carried shard(s)
#   start RUN MINUTES [ARGS...]   start training detached (setsid), budget MINUTES, extra train.py args
#   poll RUN SECONDS      wait, then show the log tail
#   finish RUN [SECONDS]  wait up to SECONDS for the run's export, then put it (split in 15 MiB parts) and its logs in $OUT
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT=${OUT:-.tmp/out}
mkdir -p "$OUT" .tmp/runs
phase=$1; shift
log_of() { echo ".tmp/runs/$1.jsonl"; }   # ignored path: the tree sync between calls leaves it alone
case "$phase" in
check)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name(), torch.cuda.device_count())"
  nproc; free -g | head -2
  python3 tools/train/check_wkv.py --device cuda 2>&1 | tee "$OUT/check_wkv_cuda.txt"
  python3 tools/train/check_attention.py --device cuda 2>&1 | tail -6 | tee "$OUT/check_attention_cuda.txt"
  python3 tools/train/data.py tokenize --corpus .device-carry --cache .tmp/tokens --procs "$(nproc)" | tee "$OUT/tokenize.txt"
  # the CPU smoke test runs beside the GPU step-time benches
  (OMP_NUM_THREADS=4 DEVICE=cpu tools/train/smoke_test.sh .device-carry > "$OUT/smoke_cpu.txt" 2>&1; echo "smoke exit $?" >> "$OUT/smoke_cpu.txt") &
  smoke=$!
  for bs in 16 32; do
    python3 tools/train/train.py --run bench$bs --bench --batch $bs --max-steps 25 --eval-every 0 --ckpt-every 0 \
      --log-every 5 --run-dir .tmp/runs/bench --log "$OUT/bench$bs.jsonl" 2>&1 | grep -v '"event": "start"' | tail -3
  done
  timeout 200 python3 tools/train/train.py --run benchc --bench --compile --batch 16 --max-steps 40 --eval-every 0 \
      --ckpt-every 0 --log-every 5 --run-dir .tmp/runs/bench --log "$OUT/benchc.jsonl" 2>&1 | grep -v '"event": "start"' | tail -4
  wait $smoke; tail -5 "$OUT/smoke_cpu.txt"
  ;;
tokenize)
  python3 tools/train/data.py tokenize --corpus .device-carry --cache .tmp/tokens --procs "$(nproc)" | tee "$OUT/tokenize.txt"
  ls -la .tmp/tokens
  ;;
start)
  run=$1; minutes=$2; shift 2
  rm -f "$(log_of "$run")"
  setsid nohup python3 tools/train/train.py --run "$run" --time-budget-min "$minutes" --deadline-min "$(python3 -c "print($minutes + 1.5)")" \
    --log "$(log_of "$run")" "$@" \
    > ".tmp/runs/$run.out" 2>&1 < /dev/null &
  sleep 60
  tail -c 3000 ".tmp/runs/$run.out"
  ;;
poll)
  run=$1; secs=$2
  for ((i = 0; i < secs; i += 30)); do
    sleep 30
    grep -q '"event": "done"' "$(log_of "$run")" 2>/dev/null && break
  done
  grep -v '"event": "start"' "$(log_of "$run")" | tail -n 6; tail -n 3 ".tmp/runs/$run.out"; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
  ;;
finish)
  run=$1; secs=${2:-540}
  for ((i = 0; i < secs; i += 10)); do
    grep -q '"event": "done"' "$(log_of "$run")" 2>/dev/null && break
    sleep 10
  done
  dir=.tmp/runs/$run
  cp "$(log_of "$run")" "$OUT/"; cp ".tmp/runs/$run.out" "$OUT/$run.out.txt"
  if [ -f "$dir/$run.pth" ]; then
    cp "$dir/$run.json" "$OUT/"
    split -b 15M -d -a 2 "$dir/$run.pth" "$OUT/$run.pth.part-"
  fi
  ls -la "$OUT"; tail -n 4 "$(log_of "$run")"
  ;;
esac
