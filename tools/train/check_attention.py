"""The sparse attention implementations of model.py against a plain dense-mask softmax of the same pattern:
the blockwise one (checkpointed query blocks) in values and gradients, float64; the FlexAttention one in values
(and gradients on CUDA, where it has a backward), float32, plus its block lists: every (query block, key block)
pair the pattern allows must be visited. Usage: python3 tools/train/check_attention.py [--device cuda]"""
import argparse
import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model as M  # noqa: E402


def dense_reference(q, k, v, chunk, topk):
    T = q.shape[2]
    sel = M.moba_chunks(q, k, chunk, topk)
    pos = torch.arange(T, device=q.device)
    mask = sel[..., pos // chunk] & (pos[None, :] <= pos[:, None])
    s = (q @ k.transpose(-1, -2)) / 8
    return torch.softmax(s.masked_fill(~mask, float("-inf")), -1) @ v


def check_flex_blocks(sel, chunk, block):
    """Every allowed (query, key) pair lies in a key block listed for its query block."""
    selp, kv_num, kv_idx = M.flex_blocks(sel, chunk, block)
    B, H, T, nc = sel.shape
    pos = torch.arange(T, device=sel.device)
    allowed = sel[..., pos // chunk] & (pos[None, :] <= pos[:, None])                   # [B,H,T,T]
    nb = kv_num.shape[-1]
    for b in range(B):
        for h in range(H):
            for qb in range(nb):
                listed = set(kv_idx[b, h, qb, : kv_num[b, h, qb]].tolist())
                rows = allowed[b, h, qb * block:(qb + 1) * block]
                used = {int(k) // block for k in torch.nonzero(rows.any(0)).flatten()}
                assert used <= listed, (b, h, qb, sorted(used - listed))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    dev = ap.parse_args().device
    warnings.filterwarnings("ignore", message=".*flex_attention called without torch.compile.*")
    torch.manual_seed(0)
    worst = 0.0
    for T, chunk, topk in ((1000, 64, 3), (777, 32, 4), (300, 64, 3)):
        q, k, v = (torch.randn(2, 3, T, 64, dtype=torch.float64, device=dev, requires_grad=True) for _ in range(3))
        ref = dense_reference(q, k, v, chunk, topk)
        g = torch.randn_like(ref)
        gref = torch.autograd.grad((ref * g).sum(), (q, k, v))
        for qblock in (chunk, 3 * chunk, 4096):
            y = M.moba_attention(q, k, v, chunk, topk, qblock=qblock)
            gy = torch.autograd.grad((y * g).sum(), (q, k, v))
            e = max([(y - ref).abs().max().item()] + [(a - b).abs().max().item() for a, b in zip(gy, gref)])
            print(f"blockwise: T {T} chunk {chunk} top-k {topk} query block {qblock}: max abs error {e:.2e}")
            worst = max(worst, e)
    assert worst < 1e-10, worst
    worst = 0.0
    for T, chunk, topk in ((1000, 128, 3), (1777, 256, 4), (2048, 512, 3), (700, 128, 3)):
        grad = dev == "cuda"
        q, k, v = (torch.randn(1, 2, T, 64, device=dev, requires_grad=grad) for _ in range(3))
        check_flex_blocks(M.moba_chunks(q, k, chunk, topk), chunk, 128)
        ref = dense_reference(q, k, v, chunk, topk)
        y = M.moba_attention_flex(q, k, v, chunk, topk)
        e = (y - ref).abs().max().item()
        if grad:
            g = torch.randn_like(ref)
            gref = torch.autograd.grad((ref * g).sum(), (q, k, v))
            gy = torch.autograd.grad((y * g).sum(), (q, k, v))
            e = max([e] + [(a - b).abs().max().item() for a, b in zip(gy, gref)])
        print(f"flex: T {T} chunk {chunk} top-k {topk}: max abs error {e:.2e}{' (values and gradients)' if grad else ' (values)'}")
        worst = max(worst, e)
    assert worst < 1e-3, worst
    print("sparse attention check passed")


if __name__ == "__main__":
    main()
