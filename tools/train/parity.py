"""Parity of an exported GGUF with the training model: the engine's logits (rwkvx-engine logits, CPU, fp32
KV cache) against model.py's on the same tokens, fp32 on the CPU with the same bf16 weights. The tokens are
this repository's own sources (deterministic, no corpus needed), long enough that every attention block
chooses among several earlier chunks.

    python3 tools/train/parity.py WEIGHTS.pth MODEL.gguf [--engine native/build-cmake/rwkvx-engine] [--tol 1e-3]
        [--attn-chunk N --attn-top-k K]   (a file converted with other attention settings than trained)

Prints the normalized error (||engine - torch|| / ||torch|| over all positions), the worst position's, and how
often the two agree on the most likely next token; exits 1 when the normalized error is above --tol."""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import model as M  # noqa: E402
from evaluate import load  # noqa: E402
from vocab import Tokenizer  # noqa: E402


def sample_tokens(n):
    tok = Tokenizer(os.path.join(HERE, "vocab_code16k.txt"))
    ids = []
    for path in sorted(glob.glob(os.path.join(REPO, "native", "src", "*.cpp"))):
        rel = os.path.relpath(path, REPO)
        with open(path, encoding="utf-8") as f:
            ids += tok.encode(f"File: {rel}\n{f.read()}\n\n")
        if len(ids) >= n:
            break
    return ids[:n]


def torch_logits(pth, ids, chunk=0, topk=0):
    model, _ = load(pth, "cpu")
    model.eval()
    for m in model.modules():            # a file converted with other --attn-chunk/--attn-top-k than trained
        if isinstance(m, M.SparseAttention):
            m.chunk, m.topk = chunk or m.chunk, topk or m.topk
    with torch.no_grad():
        return model(torch.tensor([ids])).squeeze(0).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pth")
    ap.add_argument("gguf")
    ap.add_argument("--engine", default=os.path.join(REPO, "native", "build-cmake", "rwkvx-engine"))
    ap.add_argument("--tokens", type=int, default=2600)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--attn-chunk", type=int, default=0, help="the GGUF's chunk size, when not the trained one")
    ap.add_argument("--attn-top-k", type=int, default=0, help="the GGUF's top-k, when not the trained one")
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    ids = sample_tokens(a.tokens)
    want = torch_logits(a.pth, ids, a.attn_chunk, a.attn_top_k)
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "logits.npy")
        subprocess.run([a.engine, "logits", "--model", a.gguf, "--device", "cpu", "--kv", "f32",
                        "--tokens", " ".join(map(str, ids)), "--out", out], check=True)
        got = np.load(out)
    err = float(np.linalg.norm(got - want) / np.linalg.norm(want))
    per_pos = np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)
    agree = float((got.argmax(1) == want.argmax(1)).mean())
    print(f"{os.path.basename(a.gguf)} vs {os.path.basename(a.pth)} on {len(ids)} tokens: normalized error {err:.3g}, "
          f"worst position {per_pos.max():.3g} (token {int(per_pos.argmax())}), top-1 agreement {agree:.2%} "
          f"(tolerance {a.tol:g})")
    sys.exit(0 if err <= a.tol else 1)


if __name__ == "__main__":
    main()
