#!/usr/bin/env bash
# A few training steps of a tiny RWKV-X and its RWKV-7 twin on a small sample of one shard, then export
# and reload. Runs on the CPU (DEVICE=cpu, the default) or a GPU (DEVICE=cuda). PYTHON picks the interpreter.
# Usage: tools/train/smoke_test.sh [corpus dir holding shard-*.jsonl.xz]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cpu}
CORPUS=${1:-}
TMP=.tmp/smoke
rm -rf "$TMP"
mkdir -p "$TMP"
first=$(ls ${CORPUS:-../shared/corpus}/shard-*.jsonl.xz 2>/dev/null | head -1 || true)
[ -n "$first" ] || first=$(ls .device-carry/shard-*.jsonl.xz | head -1)
$PY tools/train/data.py tokenize --corpus "$(dirname "$first")" --shards "$(basename "$first" .jsonl.xz)" \
  --cache "$TMP/tokens" --sample-every 200 --procs 2
for arch in rwkvx rwkv7; do
  $PY tools/train/train.py --run smoke-$arch --arch $arch --device $DEVICE --cache "$TMP/tokens" \
    --run-dir "$TMP/run-$arch" --log "$TMP/smoke-$arch.jsonl" \
    --n-embd 128 --n-layer 2 --n-attn 1 --attn-chunk 32 --attn-topk 2 --wkv-chunk 16 \
    --seq-len 128 --batch 4 --warmup 5 --total-steps 12 --eval-every 6 --eval-windows 4 --ckpt-every 6 --log-every 2 \
    --max-steps 8
  # resume from the step-8 checkpoint (written at the stop) and finish the schedule
  $PY tools/train/train.py --run smoke-$arch --arch $arch --device $DEVICE --cache "$TMP/tokens" \
    --run-dir "$TMP/run-$arch" --log "$TMP/smoke-$arch.jsonl" --resume \
    --n-embd 128 --n-layer 2 --n-attn 1 --attn-chunk 32 --attn-topk 2 --wkv-chunk 16 \
    --seq-len 128 --batch 4 --warmup 5 --total-steps 12 --eval-every 0 --eval-windows 4 --ckpt-every 0 --log-every 1
  $PY tools/train/export.py show "$TMP/run-$arch/smoke-$arch.pth" | tail -3
done
# stage 2 (windows at repository starts, recall pairs, the blockwise sparse attention) from the RWKV-X export,
# data parallel over two processes (gloo on the CPU, NCCL on GPUs)
$PY tools/train/train.py --run smoke-s2 --nproc 2 --recall 0.5 --device $DEVICE --cache "$TMP/tokens" --run-dir "$TMP/run-s2" \
  --log "$TMP/smoke-s2.jsonl" --n-embd 128 --n-layer 2 --n-attn 1 --attn-chunk 32 --attn-topk 2 --wkv-chunk 16 \
  --stage 2 --seq-len 256 --batch 1 --warmup 2 --total-steps 3 --eval-every 0 --eval-windows 2 --ckpt-every 0 \
  --log-every 1 --init-from "$TMP/run-rwkvx/smoke-rwkvx.pth"
grep -q '"event": "done"' "$TMP/smoke-s2.jsonl" || { echo "stage 2 did not finish" >&2; exit 1; }
$PY - <<'PY'
import json
for arch in ("rwkvx", "rwkv7"):
    recs = [json.loads(l) for l in open(f".tmp/smoke/smoke-{arch}.jsonl")]
    losses = [r["loss"] for r in recs if "loss" in r]
    vals = [r["val_bpb"] for r in recs if "val_bpb" in r]
    assert all(x == x for x in losses + vals), "NaN"
    assert losses[-1] < losses[0], f"{arch}: loss did not fall: {losses}"
    steps = [r["step"] for r in recs if "loss" in r]
    assert steps == sorted(steps) and steps[-1] == 12, f"{arch}: resume did not continue to step 12: {steps}"
    assert any(r.get("event") == "resume" and r["step"] == 8 for r in recs), "no resume at step 8"
    print(f"{arch}: train loss {losses[0]} -> {losses[-1]}, val bpb {vals}")
print("smoke test passed")
PY
