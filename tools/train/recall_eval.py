"""Long-range recall in the training format: does a model find a fact d tokens back?

    python3 tools/train/recall_eval.py W1.pth [W2.pth ...] [--cache .tmp/val_tokens] [--windows 6]

For each of --windows validation windows of --len tokens (data.val_windows), four recall pairs of
data.RECALL_PAIRS (fresh names and values, seeded) are spliced in: every ask line near the end of the window,
its fact line d tokens before it, d in --distances (one pair per distance). The score is the value's tokens in
the ask line (teacher-forced): their mean bits, and whether greedy decoding would write all of them ("copied").
The control is the same window with the asks but without the facts, where the value cannot be known. Distances
beyond what stage 2 trained (32K windows) are not asked. Runs on the CPU in fp32 (blockwise attention).
"""
import argparse
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
from evaluate import load  # noqa: E402
from vocab import Tokenizer  # noqa: E402


def line_tokens(tok, text, value):
    """Tokens of "\\n" + text + "\\n" and the [first, last] token indexes that cover the value's bytes."""
    ids = tok.encode("\n" + text + "\n")
    start = len(("\n" + text[:text.index(value)]).encode())
    end = start + len(value.encode())
    pos, first, last = 0, None, None
    for i, t in enumerate(ids):
        nxt = pos + len(tok.id_to_bytes[t])
        if first is None and nxt > start:
            first = i
        if pos < end:
            last = i
        pos = nxt
    return np.asarray(ids, dtype=np.int64), first, last


def build(window, tok, rng, distances, with_facts):
    """The window with the pairs spliced in (cut back to its length); per pair (distance, value span)."""
    n = len(window)
    inserts, spans = [], []
    for j, d in enumerate(distances):
        ask_at = n - 600 - 400 * j
        fill = data._recall_fill(rng)
        fact, ask = data.RECALL_PAIRS[int(rng.integers(len(data.RECALL_PAIRS)))]
        a_ids, first, last = line_tokens(tok, ask.format(**fill), fill["v"])
        inserts.append((ask_at, a_ids, (d, first, last)))
        if with_facts:
            inserts.append((ask_at - d, np.asarray(tok.encode("\n" + fact.format(**fill) + "\n")), None))
    inserts.sort(key=lambda x: x[0])
    out, prev, shift = [], 0, 0
    for pos, ids, meta in inserts:
        out += [window[prev:pos], ids]
        if meta is not None:
            d, first, last = meta
            spans.append((d, pos + shift + first, pos + shift + last))
        shift += len(ids)
        prev = pos
    out.append(window[prev:])
    return np.concatenate(out)[:n], spans


@torch.no_grad()
def score(net, seq, spans):
    x = torch.from_numpy(seq[None, :-1])
    logp = torch.log_softmax(net(x)[0].float(), -1)
    res = {}
    for d, a, b in spans:                      # tokens a..b are predicted at positions a-1..b-1
        tgt = torch.from_numpy(seq[a:b + 1])
        lp = logp[a - 1:b].gather(1, tgt[:, None])[:, 0]
        greedy = bool((logp[a - 1:b].argmax(-1) == tgt).all())
        res[d] = (-lp.sum().item() / math.log(2), greedy)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", nargs="+")
    ap.add_argument("--cache", default=os.path.join(HERE, "..", "..", ".tmp", "val_tokens"))
    ap.add_argument("--windows", type=int, default=6)
    ap.add_argument("--len", type=int, default=32768)
    ap.add_argument("--distances", default="1024,4096,16384,28672")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dists = [int(x) for x in a.distances.split(",")]
    tok = Tokenizer(os.path.join(HERE, "vocab_code16k.txt"))
    stream, _ = data.load_split(a.cache, "val")
    windows = data.val_windows(stream, a.len, a.windows)
    cases = []
    for i, w in enumerate(windows):
        w = w[:a.len]
        for with_facts in (True, False):
            rng = np.random.default_rng([a.seed, i])         # same names and values with and without facts
            cases.append((with_facts, *build(w, tok, rng, dists, with_facts)))
    print(f"{len(windows)} windows of {a.len} tokens, one pair per distance {dists}; bits = the value's tokens")
    print("| model | " + " | ".join(f"d={d}: bits with / without fact, copied" for d in dists) + " |")
    print("|---|" + "---|" * len(dists))
    for path in a.weights:
        net, meta = load(path, "cpu")
        net.eval()
        acc = {(d, f): [] for d in dists for f in (True, False)}
        for with_facts, seq, spans in cases:
            for d, r in score(net, seq, spans).items():
                acc[(d, with_facts)].append(r)
        cells = []
        for d in dists:
            on, off = acc[(d, True)], acc[(d, False)]
            cells.append(f"{np.mean([b for b, _ in on]):.1f} / {np.mean([b for b, _ in off]):.1f}, "
                         f"{sum(g for _, g in on)}/{len(on)}")
        print(f"| {os.path.basename(path)} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
