"""Export trained weights in the official checkpoint layout (.pth, bf16, written with torch.save) plus a
JSON sidecar; split large files for the trip back from the GPU machine and join them again here.

    python3 tools/train/export.py from-ckpt .tmp/runs/RUN/last.pt OUT.pth      # a training checkpoint -> .pth
    python3 tools/train/export.py join tools/train/weights/RUN.pth              # RUN.pth.part-* -> RUN.pth (sha256 checked)
    python3 tools/train/export.py show OUT.pth                                   # keys, shapes, dtypes

The state dict keys are the model's parameter names, which are the official ones (model.py): an RWKV-X file has
rwkv.<RWKV-7 keys> and moba.{j}.* keys; the twin is a plain RWKV-7 file. Sidecar OUT.json: vocabulary file name,
attention chunk size, top-k, the RWKV blocks each attention block follows, training tokens, config, sha256.
"""
import argparse
import glob
import hashlib
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for blk in iter(lambda: f.read(1 << 20), b""):
            h.update(blk)
    return h.hexdigest()


def sidecar(cfg, path, vocab, training_tokens, **extra):
    n_attn = cfg["n_attn"]
    group = cfg["n_layer"] // n_attn if n_attn else 0
    return {
        "file": os.path.basename(path),
        "arch": "rwkvx" if n_attn else "rwkv7",
        "dtype": "bfloat16",
        "vocab": vocab,
        "vocab_size": cfg["vocab_size"],
        "n_embd": cfg["n_embd"], "n_layer": cfg["n_layer"], "head_size": 64,
        "ffn_dim": cfg["n_embd"] * cfg["ffn_mult"],
        "lora_ranks": {"w": cfg["d_decay"], "a": cfg["d_aaa"], "v": cfg["d_mv"], "g": cfg["d_gate"]},
        "attention": None if not n_attn else {
            "blocks": n_attn, "chunk_size": cfg["attn_chunk"], "top_k": cfg["attn_topk"],
            "after_rwkv_block": [(j + 1) * group - 1 for j in range(n_attn)],
            "scale": 0.125, "positional_encoding": "none",
            "selection": "per head, q . mean(chunk keys) in fp32; own chunk causal + top-(k-1) strictly earlier chunks",
        },
        "training_tokens": training_tokens,
        "config": cfg,
        **extra,
    }


def write(state_dict, cfg, path, vocab, training_tokens, **extra):
    sd = {k: v.detach().to("cpu", torch.bfloat16).contiguous() for k, v in state_dict.items()}
    torch.save(sd, path)
    meta = sidecar(cfg, path, vocab, training_tokens, **extra)
    meta["sha256"] = sha256(path)
    meta["bytes"] = os.path.getsize(path)
    with open(os.path.splitext(path)[0] + ".json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return {"path": path, "bytes": meta["bytes"], "sha256": meta["sha256"]}


def export(model, path, vocab, training_tokens, **extra):
    return write(model.state_dict(), model.cfg.to_dict(), path, vocab, training_tokens, **extra)


def join(path):
    parts = sorted(glob.glob(path + ".part-*"))
    if not parts:
        raise SystemExit(f"no parts {path}.part-*")
    with open(path, "wb") as out:
        for p in parts:
            with open(p, "rb") as f:
                out.write(f.read())
    meta_path = os.path.splitext(path)[0] + ".json"
    if os.path.exists(meta_path):
        want = json.load(open(meta_path))["sha256"]
        got = sha256(path)
        if got != want:
            raise SystemExit(f"sha256 mismatch: {got} != {want}")
    print(f"joined {len(parts)} parts -> {path} ({os.path.getsize(path)} bytes, sha256 ok)")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("from-ckpt")
    c.add_argument("ckpt")
    c.add_argument("out")
    j = sub.add_parser("join")
    j.add_argument("path")
    s = sub.add_parser("show")
    s.add_argument("path")
    a = ap.parse_args()
    if a.cmd == "from-ckpt":
        ck = torch.load(a.ckpt, map_location="cpu", weights_only=False)
        args = ck["args"]
        tokens = ck["step"] * args["seq_len"] * args["batch"] * ck.get("world", 1)
        print(write(ck["model"], ck["config"], a.out, os.path.basename(args["vocab"]), tokens,
                    step=ck["step"], total_steps=ck["total_steps"]))
    elif a.cmd == "join":
        join(a.path)
    else:
        sd = torch.load(a.path, map_location="cpu", weights_only=True)
        n = 0
        for k, v in sd.items():
            n += v.numel()
            print(f"{k:40s} {str(tuple(v.shape)):16s} {v.dtype}")
        print(f"{len(sd)} tensors, {n} parameters")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
