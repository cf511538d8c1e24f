"""Validation loss and bits per byte of exported weights (.pth, official layout) on the CPU or a GPU.

    python3 tools/train/evaluate.py tools/train/weights/rwkvx-s1.pth --cache .tmp/val_tokens --windows 64 --every 8

Uses the same windows as train.py's periodic evaluation (data.val_windows: --windows spread evenly over the
validation stream; --every K keeps every Kth of them to save time on the CPU). The architecture comes from the
sidecar JSON next to the weights (or in tools/train/weights/).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
import model as M  # noqa: E402
from train import evaluate  # noqa: E402
from vocab import Tokenizer  # noqa: E402


def load(path, device):
    """The model of a .pth with its sidecar JSON: beside it, else tools/train/weights/NAME.json."""
    side = os.path.splitext(path)[0] + ".json"
    if not os.path.exists(side):
        side = os.path.join(HERE, "weights", os.path.basename(side))
    meta = json.load(open(side))
    cfg = M.Config(**meta["config"])
    net = M.build(cfg)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    return net.to(device), meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("--cache", default=os.path.join(data.REPO_ROOT, ".tmp", "tokens"))
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--windows", type=int, default=64)
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    device = torch.device(a.device)
    net, meta = load(a.weights, device)
    tok = Tokenizer(os.path.join(HERE, meta["vocab"]))
    stream, spans = data.load_split(a.cache, "val")
    w = data.val_windows(stream, a.seq_len, a.windows)[:: a.every]
    vl, bpb = evaluate(net, w, np.asarray(tok.token_bytes), device, 1, device.type == "cuda")
    print(json.dumps({"weights": os.path.basename(a.weights), "windows": len(w), "seq_len": a.seq_len,
                      "val_loss": round(vl, 4), "val_bpb": round(bpb, 4), "device": str(device)}))


if __name__ == "__main__":
    main()
