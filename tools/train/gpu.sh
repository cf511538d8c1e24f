#!/usr/bin/env bash
# Steps of a training session on the lent GPU machine (run from the repository root there; $OUT comes back).
# Corpus shards travel one per call in .device-carry/ and are tokenized into .tmp/tokens/ (kept while the
# machine stays warm). Phases:
#   check                 GPU facts, tokenize the carried shard, WKV and attention checks on the GPU beside
#                         stage-2 step benches (one GPU each where there are four), a 2-GPU data-parallel bench
#   tokenize              tokenize the carried shard(s)
#   start RUN MINUTES GPUS [ARGS...]   start training detached (setsid) on GPUS (e.g. 0,1: data parallel over
#                         both), budget MINUTES, extra train.py args
#   poll RUN SECONDS      wait, then show the log tail
#   finish RUN [SECONDS]  wait up to SECONDS for the run's export, then put it (xz, 15 MiB parts) and its logs in $OUT
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT=${OUT:-.tmp/out}
mkdir -p "$OUT" .tmp/runs
phase=$1; shift
log_of() { echo ".tmp/runs/$1.jsonl"; }   # ignored path: the tree sync between calls leaves it alone
case "$phase" in
check)
  # checks and stage-2 step benches side by side, one GPU each where there are four
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name(), torch.cuda.device_count())"
  python3 tools/train/data.py tokenize --corpus .device-carry --cache .tmp/tokens --procs "$(nproc)" | tee "$OUT/tokenize.txt"
  ngpu=$(nvidia-smi -L | wc -l)
  on() { local g=$1; shift; if [ "$ngpu" -ge 4 ]; then CUDA_VISIBLE_DEVICES=$g "$@" & else CUDA_VISIBLE_DEVICES=0 "$@"; fi; }
  checks() {
    python3 tools/train/check_wkv.py --device cuda 2>&1 | tail -5
    python3 tools/train/check_attention.py --device cuda 2>&1 | tail -6
  }
  bench() {  # NAME ARGS...: a 32K-token stage-2 step bench
    local name=$1; shift
    python3 tools/train/train.py --run "$name" --bench --stage 2 --seq-len 32768 --batch 1 --recall 0.5 --max-steps 14 \
      --eval-every 0 --ckpt-every 0 --log-every 2 --run-dir .tmp/runs/bench --log "$OUT/$name.jsonl" "$@" > "$OUT/$name.txt" 2>&1
  }
  on 0 checks > "$OUT/checks.txt" 2>&1
  on 1 bench s2-flex --attn-impl flex
  on 2 bench s2-blockwise
  on 3 bench s2-twin --arch rwkv7
  wait
  if [ "$ngpu" -ge 2 ]; then   # data parallel over two GPUs (NCCL), as the stage-2 runs use it
    CUDA_VISIBLE_DEVICES=0,1 bench s2-ddp2 --nproc 2 --attn-impl flex --max-steps 8
  fi
  cat "$OUT/checks.txt"
  for f in "$OUT"/s2-*.jsonl; do echo "== $f"; grep -v '"event": "start"' "$f" | tail -n 3 | cut -c1-220; done
  for f in "$OUT"/s2-*.txt; do grep -il "error\|traceback" "$f" && tail -n 15 "$f"; done
  ;;
tokenize)
  python3 tools/train/data.py tokenize --corpus .device-carry --cache .tmp/tokens --procs "$(nproc)" | tee "$OUT/tokenize.txt"
  ls -la .tmp/tokens
  ;;
start)
  run=$1; minutes=$2; gpus=$3; shift 3
  rm -f "$(log_of "$run")"
  CUDA_VISIBLE_DEVICES=$gpus setsid nohup python3 tools/train/train.py --run "$run" --nproc "$(echo "$gpus" | tr ',' '\n' | wc -l)" --time-budget-min "$minutes" --deadline-min "$(python3 -c "print($minutes + 1.5)")" \
    --log "$(log_of "$run")" "$@" \
    > ".tmp/runs/$run.out" 2>&1 < /dev/null &
  sleep "${START_WAIT:-60}"
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
  if [ -f "$dir/$run.pth" ]; then   # xz parts: two runs' weights in fewer than 8 files each
    cp "$dir/$run.json" "$OUT/"
    xz -6 -T0 -c "$dir/$run.pth" | split -b 15M -d -a 2 - "$OUT/$run.pth.xz.part-"
  fi
  ls -la "$OUT"; tail -n 4 "$(log_of "$run")"
  ;;
esac
