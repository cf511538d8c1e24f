"""Train RWKV-X (or its pure RWKV-7 twin) on the tokenized corpus.

One GPU:   python3 tools/train/train.py --run NAME [options]
N GPUs:    python3 tools/train/train.py --run NAME --nproc N [options]   (one process per GPU, DDP over NCCL;
           not torchrun: its parser takes this script's --run and --log as ambiguous prefixes of its own)
CPU smoke: python3 tools/train/train.py --run smoke --device cpu --n-embd 128 --n-layer 2 --seq-len 128 ...

AdamW, bf16 autocast on CUDA with fp32 master weights (the WKV state is fp32 always), linear warmup then
cosine to min_lr, global grad-norm clip. The batch of step s is a pure function of (seed, s, rank, world)
(data.Stage1Batches), so a resumed run continues the same data order. Logs are JSON lines.

Resume: `--resume` continues from <run_dir>/last.pt (model, optimizer, step, schedule). `--init-from X.pth
--start-step S` starts from exported weights (bf16 official layout, e.g. the committed ones) at step S of the
same schedule with fresh optimizer moments (a short re-warmup, --rewarmup, protects them).
`--time-budget-min M` sets total steps from the step time measured after the first steps so that training
ends inside M minutes (the chosen number is logged; pass --total-steps to reproduce it).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
import model as M  # noqa: E402
from vocab import Tokenizer  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def get_args(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--arch", choices=["rwkvx", "rwkv7"], default="rwkvx")
    ap.add_argument("--n-embd", type=int, default=384)
    ap.add_argument("--n-layer", type=int, default=8)
    ap.add_argument("--n-attn", type=int, default=2)
    ap.add_argument("--attn-chunk", type=int, default=512)
    ap.add_argument("--attn-topk", type=int, default=3)
    ap.add_argument("--wkv-chunk", type=int, default=32)
    ap.add_argument("--vocab", default=os.path.join(HERE, "vocab_code16k.txt"))
    ap.add_argument("--cache", default=os.path.join(REPO_ROOT, ".tmp", "tokens"))
    ap.add_argument("--run-dir", default=None, help="checkpoints (default .tmp/runs/RUN)")
    ap.add_argument("--log", default=None, help="JSON lines log (default tools/train/logs/RUN.jsonl)")
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--attn-impl", choices=["blockwise", "flex"], default="blockwise",
                    help="sparse attention in training: blockwise masked SDPA (checked everywhere) or FlexAttention "
                         "with a block-sparse mask (compiled on CUDA; check_attention.py --device cuda first)")
    ap.add_argument("--stage", type=int, choices=[1, 2], default=1,
                    help="1: random windows of the stream; 2: windows starting at repository starts")
    ap.add_argument("--recall", type=float, default=0.0,
                    help="stage 2: share of windows given synthetic fact/ask pairs (data.RecallInserts)")
    ap.add_argument("--batch", type=int, default=16, help="sequences per GPU per step")
    ap.add_argument("--lr", type=float, default=8e-4)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--rewarmup", type=int, default=50)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.99)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--total-steps", type=int, default=0)
    ap.add_argument("--time-budget-min", type=float, default=0.0)
    ap.add_argument("--deadline-min", type=float, default=0.0, help="hard stop (checkpoint + export) after M minutes")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps of this process (smoke)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-windows", type=int, default=64)
    ap.add_argument("--ckpt-every", type=int, default=500)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init-from", default=None)
    ap.add_argument("--start-step", type=int, default=0)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--bench", action="store_true", help="no final eval, checkpoint or export")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--nproc", type=int, default=1, help="data-parallel processes (GPUs; gloo on the CPU)")
    return ap.parse_args(argv)


class Logger:
    def __init__(self, path, enabled):
        self.path, self.enabled = path, enabled
        if enabled:
            os.makedirs(os.path.dirname(path), exist_ok=True)

    def __call__(self, **rec):
        if not self.enabled:
            return
        rec = {"time": round(time.time(), 2), **rec}
        line = json.dumps(rec)
        with open(self.path, "a") as f:
            f.write(line + "\n")
        print(line, flush=True)


def lr_at(step, a, total):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    if total <= a.warmup:
        return a.lr
    p = min(1.0, (step - a.warmup) / (total - a.warmup))
    return a.lr * (a.min_lr_ratio + (1 - a.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


@torch.no_grad()
def evaluate(model, windows, token_bytes, device, bs, amp):
    model.eval()
    loss_sum, n_tok, n_bytes = 0.0, 0, 0
    for i in range(0, len(windows), bs):
        w = torch.from_numpy(windows[i:i + bs]).to(device)
        x, y = w[:, :-1], w[:, 1:]
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
        loss_sum += F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        n_tok += y.numel()
        n_bytes += int(token_bytes[y.cpu().numpy()].sum())
    model.train()
    return loss_sum / n_tok, loss_sum / math.log(2) / max(n_bytes, 1)


def save_ckpt(path, raw, opt, step, total, args, extra):
    tmp = path + ".tmp"
    torch.save({"model": raw.state_dict(), "opt": opt.state_dict(), "step": step, "total_steps": total,
                "config": raw.cfg.to_dict(), "args": vars(args), **extra}, tmp)
    os.replace(tmp, path)


def _spawned(rank, argv, world, port):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    main(argv)


def spawn(a, argv):
    import socket
    import torch.multiprocessing as mp
    with socket.socket() as s:                             # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_spawned, args=(argv, a.nproc, port), nprocs=a.nproc, join=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    a = get_args(argv)
    if a.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return spawn(a, argv)
    M.ATTN_IMPL = a.attn_impl
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    ddp = world > 1
    if ddp and a.device == "cuda":
        torch.distributed.init_process_group("nccl")
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    elif ddp:                                              # CPU data parallel (tests of this path)
        torch.distributed.init_process_group("gloo")
        device = torch.device("cpu")
    else:
        device = torch.device(a.device)
    amp = device.type == "cuda"
    torch.backends.cuda.matmul.allow_tf32 = False     # fp32 matmuls (WKV) stay fp32
    torch.manual_seed(a.seed)
    run_dir = a.run_dir or os.path.join(REPO_ROOT, ".tmp", "runs", a.run)
    os.makedirs(run_dir, exist_ok=True)
    log = Logger(a.log or os.path.join(HERE, "logs", f"{a.run}.jsonl"), rank == 0)
    t_start = time.time()

    tok = Tokenizer(a.vocab)
    token_bytes = np.asarray(tok.token_bytes, dtype=np.int64)
    train_stream, train_spans = data.load_split(a.cache, "train")
    val_stream, val_spans = data.load_split(a.cache, "val")
    if a.stage == 2:
        recall = data.RecallInserts(tok, a.recall, a.seed) if a.recall > 0 else None
        batches = data.Stage2Batches(train_stream, train_spans, a.seq_len, a.batch, a.seed, rank, world, recall=recall)
        order = (f"Stage2Batches seed={a.seed} windows={batches.n_windows} of {a.seq_len}+1 tokens starting at "
                 f"repository pieces, permutation per epoch = numpy default_rng([seed, epoch])"
                 + (f", recall pairs in {a.recall:.0%} of windows (data.RecallInserts)" if recall else ""))
    else:
        batches = data.Stage1Batches(train_stream, a.seq_len, a.batch, a.seed, rank, world)
        order = (f"Stage1Batches seed={a.seed} windows={batches.n_windows} of {a.seq_len}+1 tokens, "
                 f"permutation per epoch = numpy default_rng([seed, epoch])")
    val_w = data.val_windows(val_stream, a.seq_len, a.eval_windows)

    cfg = M.Config(vocab_size=tok.vocab_size, n_embd=a.n_embd, n_layer=a.n_layer,
                   n_attn=a.n_attn if a.arch == "rwkvx" else 0, attn_chunk=a.attn_chunk,
                   attn_topk=a.attn_topk, wkv_chunk=a.wkv_chunk)
    raw = M.build(cfg).to(device)
    opt = torch.optim.AdamW(M.param_groups(raw, a.wd), lr=a.lr, betas=(a.beta1, a.beta2), eps=1e-8,
                            fused=device.type == "cuda")
    step, total = a.start_step, a.total_steps
    ckpt_path = os.path.join(run_dir, "last.pt")
    rewarm_from = None
    if a.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        raw.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, total = ck["step"], ck["total_steps"]
        log(event="resume", source=ckpt_path, step=step, total_steps=total)
    elif a.init_from:
        sd = torch.load(a.init_from, map_location="cpu", weights_only=True)
        raw.load_state_dict({k: v.float() for k, v in sd.items()})
        rewarm_from = step
        log(event="init_from", source=a.init_from, step=step)
    model = raw
    if a.compile:
        model = torch.compile(raw)
    if ddp:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    if step == a.start_step and not a.resume:
        log(event="start", run=a.run, config=cfg.to_dict(), params=M.count_params(raw),
            args=vars(a), world=world, device=str(device),
            gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            torch=torch.__version__, vocab=os.path.basename(a.vocab),
            train_tokens=int(len(train_stream)), val_tokens=int(len(val_stream)),
            train_repos=len(train_spans), val_repos=[s[0] for s in val_spans],
            data_order=order,
            steps_per_epoch=batches.steps_per_epoch, tokens_per_step=a.seq_len * a.batch * world)

    tokens_per_step = a.seq_len * a.batch * world
    deadline = t_start + a.deadline_min * 60 if a.deadline_min else None
    stop_file = os.path.join(run_dir, "STOP")
    calib_t0, calib_steps, first_step = None, 0, step
    t_last, loss_acc, n_acc = time.time(), 0.0, 0
    while True:
        if total and step >= total:
            break
        if a.max_steps and step - first_step >= a.max_steps:
            break
        if (deadline and time.time() > deadline) or os.path.exists(stop_file):
            log(event="stopped_early", step=step, reason="deadline" if deadline and time.time() > deadline else "STOP file")
            break
        lr = lr_at(step, a, total or 10 ** 9)
        if rewarm_from is not None and step - rewarm_from < a.rewarmup:
            lr *= (step - rewarm_from + 1) / a.rewarmup
        for g in opt.param_groups:
            g["lr"] = lr
        w, epoch = batches.batch(step)
        w = torch.from_numpy(w).to(device, non_blocking=True)
        x, y = w[:, :-1], w[:, 1:]
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(raw.parameters(), a.clip)
        opt.step()
        step += 1
        loss_acc += loss.item()
        n_acc += 1

        # choose the total from the measured step time (steps 11..40 of this process)
        if not total and a.time_budget_min:
            if step - first_step == 10:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                calib_t0 = time.time()
            elif step - first_step == 40:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                dt = (time.time() - calib_t0) / 30
                left = a.time_budget_min * 60 - (time.time() - t_start)
                t_total = torch.tensor([step + int(left * 0.97 / dt)], device=device)
                if ddp:
                    torch.distributed.broadcast(t_total, 0)
                total = int(t_total.item())
                log(event="total_steps", total_steps=total, step_time_s=round(dt, 4),
                    budget_min=a.time_budget_min, tokens_planned=total * tokens_per_step)

        if step % a.log_every == 0:
            now = time.time()
            log(step=step, loss=round(loss_acc / n_acc, 4), lr=round(lr, 7), grad_norm=round(float(gnorm), 3),
                epoch=epoch, tokens=step * tokens_per_step, tok_per_s=round(tokens_per_step * n_acc / (now - t_last)),
                elapsed_s=round(now - t_start, 1))
            t_last, loss_acc, n_acc = now, 0.0, 0
        if a.eval_every and step % a.eval_every == 0 and rank == 0:
            vl, bpb = evaluate(raw, val_w, token_bytes, device, a.batch, amp)
            log(step=step, val_loss=round(vl, 4), val_bpb=round(bpb, 4), tokens=step * tokens_per_step)
            t_last = time.time()
        if a.ckpt_every and step % a.ckpt_every == 0 and rank == 0:
            save_ckpt(ckpt_path, raw, opt, step, total, a, {})
            t_last = time.time()

    if rank == 0 and a.bench:
        log(event="bench_done", step=step, wall_s=round(time.time() - t_start, 1),
            max_mem_gib=round(torch.cuda.max_memory_allocated(device) / 2 ** 30, 2) if device.type == "cuda" else None)
    elif rank == 0:
        vl, bpb = evaluate(raw, val_w, token_bytes, device, a.batch, amp)
        log(step=step, val_loss=round(vl, 4), val_bpb=round(bpb, 4), tokens=step * tokens_per_step, final=True)
        save_ckpt(ckpt_path, raw, opt, step, total, a, {})
        import export
        out = export.export(raw, os.path.join(run_dir, f"{a.run}.pth"), vocab=os.path.basename(a.vocab),
                            training_tokens=step * tokens_per_step, step=step, total_steps=total)
        log(event="done", step=step, tokens=step * tokens_per_step, export=out,
            wall_s=round(time.time() - t_start, 1))
    if ddp:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
