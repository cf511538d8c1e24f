"""The blockwise sparse attention of model.py (checkpointed query blocks) against a plain dense-mask softmax
of the same pattern, values and gradients, in float64. Usage: python3 tools/train/check_attention.py"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model as M  # noqa: E402


def dense_reference(q, k, v, chunk, topk):
    T = q.shape[2]
    sel = M.moba_chunks(q, k, chunk, topk)
    pos = torch.arange(T)
    mask = sel[..., pos // chunk] & (pos[None, :] <= pos[:, None])
    s = (q @ k.transpose(-1, -2)) / 8
    return torch.softmax(s.masked_fill(~mask, float("-inf")), -1) @ v


def main():
    torch.manual_seed(0)
    worst = 0.0
    for T, chunk, topk in ((1000, 64, 3), (777, 32, 4), (300, 64, 3)):
        q, k, v = (torch.randn(2, 3, T, 64, dtype=torch.float64, requires_grad=True) for _ in range(3))
        ref = dense_reference(q, k, v, chunk, topk)
        g = torch.randn_like(ref)
        gref = torch.autograd.grad((ref * g).sum(), (q, k, v))
        for qblock in (chunk, 3 * chunk, 4096):
            y = M.moba_attention(q, k, v, chunk, topk, qblock=qblock)
            gy = torch.autograd.grad((y * g).sum(), (q, k, v))
            e = max([(y - ref).abs().max().item()] + [(a - b).abs().max().item() for a, b in zip(gy, gref)])
            print(f"T {T} chunk {chunk} top-k {topk} query block {qblock}: max abs error {e:.2e}")
            worst = max(worst, e)
    assert worst < 1e-10, worst
    print("sparse attention check passed")


if __name__ == "__main__":
    main()
