"""Loss curves from training logs (JSON lines) to a PNG.

    python3 tools/train/plot.py tools/train/logs/stage1_loss.png tools/train/logs/rwkvx-s1.jsonl tools/train/logs/rwkv7-s1.jsonl
    python3 tools/train/plot.py --title "Stage 2" --smooth 10 tools/train/logs/stage2_loss.png \
        tools/train/logs/rwkvx-s2b.jsonl tools/train/logs/rwkv7-s2b.jsonl

--smooth N averages N consecutive logged losses (a stage-2 step is two repositories, so its loss is noisy).
The validation panel is drawn when a log has validation points besides the final one.
"""
import argparse
import json

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--title", default="Stage 1")
    ap.add_argument("--smooth", type=int, default=1)
    a = ap.parse_args()
    runs = []
    for path in a.logs:
        recs = [json.loads(l) for l in open(path)]
        name = next((r["run"] for r in recs if r.get("event") == "start"), path)
        tr = np.array([(r["tokens"] / 1e6, r["loss"]) for r in recs if "loss" in r])
        va = [(r["tokens"] / 1e6, r["val_bpb"]) for r in recs if "val_bpb" in r and not r.get("final")]
        if a.smooth > 1:
            n = len(tr) // a.smooth * a.smooth
            tr = tr[:n].reshape(-1, a.smooth, 2).mean(1)
        runs.append((name, tr, va))
    with_val = any(va for _, _, va in runs)
    fig, axes = plt.subplots(1, 2 if with_val else 1, figsize=(12 if with_val else 7, 4.5), squeeze=False)
    ax1 = axes[0, 0]
    for name, tr, va in runs:
        ax1.plot(tr[:, 0], tr[:, 1], lw=0.8, label=name)
    lo, hi = np.percentile(np.concatenate([tr[:, 1] for _, tr, _ in runs]), [0.5, 97])
    ax1.set(xlabel="training tokens (M)", ylim=(lo - 0.05, hi + 0.1), title=f"{a.title} training loss",
            ylabel="train loss (nats/token" + (f", mean of {a.smooth} logged steps)" if a.smooth > 1 else ", 10-step mean)"))
    if with_val:
        ax2 = axes[0, 1]
        for name, _, va in runs:
            if va:
                ax2.plot(*zip(*va), marker="o", ms=3, label=name)
        ax2.set(xlabel="training tokens (M)", ylabel="validation bits per byte", ylim=(0.6, 1.2),
                title="Validation (4 held-out repos, 64 x 2048 tokens)")
    for ax in axes[0]:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)


if __name__ == "__main__":
    main()
