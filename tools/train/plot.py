"""Loss curves from training logs (JSON lines) to a PNG.

    python3 tools/train/plot.py tools/train/logs/stage1_loss.png tools/train/logs/rwkvx-s1.jsonl tools/train/logs/rwkv7-s1.jsonl
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    out, logs = sys.argv[1], sys.argv[2:]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for path in logs:
        recs = [json.loads(l) for l in open(path)]
        name = next((r["run"] for r in recs if r.get("event") == "start"), path)
        tr = [(r["tokens"] / 1e6, r["loss"]) for r in recs if "loss" in r]
        va = [(r["tokens"] / 1e6, r["val_bpb"]) for r in recs if "val_bpb" in r and not r.get("final")]
        ax1.plot(*zip(*tr), lw=0.8, label=name)
        ax2.plot(*zip(*va), marker="o", ms=3, label=name)
    ax1.set(xlabel="training tokens (M)", ylabel="train loss (nats/token, 10-step mean)", ylim=(1.3, 4.0),
            title="Stage 1 training loss")
    ax2.set(xlabel="training tokens (M)", ylabel="validation bits per byte", ylim=(0.6, 1.2),
            title="Validation (4 held-out repos, 64 x 2048 tokens)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
