#!/usr/bin/env python3
"""The baseline a user could write: RWKV-7 / RWKV-X in plain PyTorch, reading
the same random GGUF models as rwkvx-cuda-bench. Projections run as bf16
matrix products over the whole chunk, the WKV-7 recurrence as a loop over
tokens (all heads at once, fp32 state), attention through
scaled_dot_product_attention (dense: at the 4K context measured here every
query's chunk choice covers all earlier chunks, so MoBA equals causal
attention). Eager, and torch.compile of the decode step where it works.

  python3 bench/gpu/torch_baseline.py --dir /tmp/models --shapes 0.1b,x0.22b \
      [--ctx 4096] [--decode 64] [--compile 0.1b] [--check-logits F.npy --check-tokens "1 2 3"]

Prints one line per model: prefill tok/s, decode tok/s eager, decode tok/s
compiled, and (with --check-logits) the normalized error of its logits
against the engine's, which checks that the baseline computes the same model.
"""
import argparse
import math
import mmap
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# ---------------------------------------------------------------- GGUF reader


def read_gguf(path):
    """Metadata dict and {name: numpy array} for F32/F16/BF16 tensors (shape as numpy, reversed ne)."""
    f = open(path, 'rb')
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from('<' + fmt, mm, pos)
        pos += struct.calcsize('<' + fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take('Q')
        s = bytes(mm[pos:pos + n]).decode('utf-8', 'replace')
        pos += n
        return s

    scalar = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}

    def value(t):
        if t in scalar:
            return take(scalar[t])
        if t == 8:
            return string()
        if t == 9:
            et, n = take('I'), take('Q')
            return [value(et) for _ in range(n)]
        raise ValueError(f'GGUF value type {t}')

    assert bytes(mm[0:4]) == b'GGUF', 'not a GGUF file'
    pos = 4
    take('I')
    n_tensors, n_kv = take('Q'), take('Q')
    meta = {}
    for _ in range(n_kv):
        k = string()
        meta[k] = value(take('I'))
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = take('I')
        ne = [take('Q') for _ in range(nd)]
        infos.append((name, ne, take('I'), take('Q')))
    align = meta.get('general.alignment', 32)
    base = (pos + align - 1) // align * align
    dt = {0: np.float32, 1: np.float16, 30: np.uint16}
    tensors = {}
    for name, ne, t, off in infos:
        if t not in dt:
            raise ValueError(f'{name}: tensor type {t} not supported by the baseline (use f16 models)')
        n = int(np.prod(ne))
        a = np.frombuffer(mm, dtype=dt[t], count=n, offset=base + off).reshape(list(reversed(ne)))
        tensors[name] = (a, t)
    return meta, tensors


# ---------------------------------------------------------------- model


class Model:
    def __init__(self, path, dev='cuda'):
        meta, ts = read_gguf(path)
        arch = meta['general.architecture']
        self.arch = arch

        def T(name, dtype=torch.float32):
            a, t = ts[name]
            x = torch.from_numpy(a.astype(np.float32) if t != 30 else (a.astype(np.uint32) << 16).view(np.float32))
            return x.to(dev, dtype).squeeze()

        def M(name):  # matrices [out, in] in bf16
            return T(name, torch.bfloat16)

        self.C = meta[f'{arch}.embedding_length']
        self.L = meta[f'{arch}.block_count']
        self.H = self.C // 64
        self.emb = M('token_embd.weight')
        self.ln0 = (T('token_embd_norm.weight'), T('token_embd_norm.bias'))
        self.lnout = (T('output_norm.weight'), T('output_norm.bias'))
        self.head = M('output.weight')
        self.blocks = []
        for i in range(self.L):
            p = f'blk.{i}.'
            b = {k: T(p + n) for k, n in [('ln1w', 'attn_norm.weight'), ('ln1b', 'attn_norm.bias'), ('ln2w', 'attn_norm_2.weight'),
                                          ('ln2b', 'attn_norm_2.bias'), ('w0', 'time_mix_w0.weight'), ('a0', 'time_mix_a0.weight'),
                                          ('v0', 'time_mix_v0.weight'), ('k_k', 'time_mix_k_k.weight'), ('k_a', 'time_mix_k_a.weight'),
                                          ('r_k', 'time_mix_r_k.weight'), ('lnxw', 'time_mix_ln.weight'), ('lnxb', 'time_mix_ln.bias'),
                                          ('ffn_xk', 'channel_mix_lerp_k.weight')]}
            b['mix'] = T(p + 'time_mix_lerp_fused.weight').reshape(6, self.C)
            for k, n in [('w1', 'w1'), ('w2', 'w2'), ('a1', 'a1'), ('a2', 'a2'), ('v1', 'v1'), ('v2', 'v2'), ('g1', 'g1'), ('g2', 'g2'),
                         ('wr', 'receptance'), ('wk', 'key'), ('wv', 'value'), ('wo', 'output')]:
                b[k] = M(p + 'time_mix_' + n + '.weight')
            b['fk'] = M(p + 'channel_mix_key.weight')
            b['fv'] = M(p + 'channel_mix_value.weight')
            self.blocks.append(b)
        self.attn = []
        self.after = []
        if arch == 'rwkvx':
            na = meta['rwkvx.attention.block_count']
            self.after = list(meta.get('rwkvx.attention.after_block', [(j + 1) * (self.L // na) - 1 for j in range(na)]))
            for j in range(na):
                p = f'moba.{j}.'
                self.attn.append({'ln1w': T(p + 'attn_norm.weight'), 'ln1b': T(p + 'attn_norm.bias'),
                                  'ln2w': T(p + 'attn_norm_2.weight'), 'ln2b': T(p + 'attn_norm_2.bias'),
                                  'ffn_xk': T(p + 'channel_mix_lerp_k.weight'), 'wq': M(p + 'attn_q.weight'),
                                  'wk': M(p + 'attn_k.weight'), 'wv': M(p + 'attn_v.weight'), 'wo': M(p + 'attn_output.weight'),
                                  'fk': M(p + 'channel_mix_key.weight'), 'fv': M(p + 'channel_mix_value.weight')})

    def new_state(self, dev='cuda'):
        C, H = self.C, self.H
        return {'att': torch.zeros(self.L, C, device=dev), 'ffn': torch.zeros(self.L, C, device=dev),
                'wkv': torch.zeros(self.L, H, 64, 64, device=dev), 'affn': torch.zeros(max(1, len(self.attn)), C, device=dev),
                'k': [None] * len(self.attn), 'v': [None] * len(self.attn)}


def lin(x, w):
    return (x.to(torch.bfloat16) @ w.t()).float()


def shift(x, st, key, i):
    prev = st[key][i]
    xx = torch.cat([prev[None], x[:-1]]) - x
    st[key][i] = x[-1]
    return xx


def channel_mix(x, w, xk_mu, fk, fv, st, key, i):
    xx = shift(x, st, key, i)
    k = torch.relu(lin(x + xx * xk_mu, fk)) ** 2
    return lin(k, fv)


def time_mix(m, i, b, x, st, vfirst):
    T_, C, H = x.shape[0], m.C, m.H
    xx = shift(x, st, 'att', i)
    xr, xw, xk, xv, xa, xg = (x + xx * b['mix'][j] for j in range(6))
    r, k, v = lin(xr, b['wr']), lin(xk, b['wk']), lin(xv, b['wv'])
    w = torch.exp(-0.606531 * torch.sigmoid(b['w0'] + lin(torch.tanh(lin(xw, b['w1'])), b['w2'])))
    a = torch.sigmoid(b['a0'] + lin(lin(xa, b['a1']), b['a2']))
    if i == 0:
        vfirst = v
    else:
        v = v + (vfirst - v) * torch.sigmoid(b['v0'] + lin(lin(xv, b['v1']), b['v2']))
    g = lin(torch.sigmoid(lin(xg, b['g1'])), b['g2'])
    kk = F.normalize((k * b['k_k']).view(T_, H, 64), dim=-1, eps=1e-12).view(T_, C)
    k = k * (1 + (a - 1) * b['k_a'])
    S = st['wkv'][i]
    rr, ww, kh, vh, aa, bb = (z.view(T_, H, 64) for z in (r, w, k, v, -kk, kk * a))
    ys = []
    for t in range(T_):  # the recurrence, token by token
        sa = torch.einsum('hij,hj->hi', S, aa[t])
        S = S * ww[t][:, None, :] + sa[:, :, None] * bb[t][:, None, :] + vh[t][:, :, None] * kh[t][:, None, :]
        ys.append(torch.einsum('hij,hj->hi', S, rr[t]))
    st['wkv'][i] = S
    y = torch.stack(ys).view(T_, C)
    y = F.group_norm(y, H, b['lnxw'], b['lnxb'], eps=64e-5)
    y = y + ((r * k * b['r_k']).view(T_, H, 64).sum(-1, keepdim=True) * v.view(T_, H, 64)).view(T_, C)
    return lin(y * g, b['wo']), vfirst


def attention(m, j, a, x, st):
    T_, C, H = x.shape[0], m.C, m.H
    q, k, v = (lin(x, a[n]).view(T_, H, 64).transpose(0, 1).to(torch.bfloat16) for n in ('wq', 'wk', 'wv'))
    past = st['k'][j]
    if past is None:
        st['k'][j], st['v'][j] = k, v
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.125)
    else:
        st['k'][j] = torch.cat([past, k], 1)
        st['v'][j] = torch.cat([st['v'][j], v], 1)
        n = st['k'][j].shape[1]
        mask = torch.ones(T_, n, dtype=torch.bool, device=x.device).tril(n - T_)
        o = F.scaled_dot_product_attention(q, st['k'][j], st['v'][j], attn_mask=mask, scale=0.125)
    return lin(o.transpose(0, 1).reshape(T_, C).float(), a['wo'])


def forward(m, tokens, st):
    h = F.layer_norm(m.emb[tokens].float(), (m.C,), *m.ln0, eps=1e-5)
    vfirst = None
    nxt = 0
    for i, b in enumerate(m.blocks):
        dh, vfirst = time_mix(m, i, b, F.layer_norm(h, (m.C,), b['ln1w'], b['ln1b'], eps=1e-5), st, vfirst)
        h = h + dh
        h = h + channel_mix(F.layer_norm(h, (m.C,), b['ln2w'], b['ln2b'], eps=1e-5), None, b['ffn_xk'], b['fk'], b['fv'], st, 'ffn', i)
        while nxt < len(m.attn) and m.after[nxt] == i:
            a = m.attn[nxt]
            h = h + attention(m, nxt, a, F.layer_norm(h, (m.C,), a['ln1w'], a['ln1b'], eps=1e-5), st)
            h = h + channel_mix(F.layer_norm(h, (m.C,), a['ln2w'], a['ln2b'], eps=1e-5), None, a['ffn_xk'], a['fk'], a['fv'], st, 'affn', nxt)
            nxt += 1
    return lin(F.layer_norm(h, (m.C,), *m.lnout, eps=1e-5), m.head)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', default='/tmp')
    ap.add_argument('--shapes', default='0.1b,x0.22b,1.5b,2.9b')
    ap.add_argument('--type', default='f16')
    ap.add_argument('--ctx', type=int, default=4096)
    ap.add_argument('--chunk', type=int, default=1024)
    ap.add_argument('--decode', type=int, default=32)
    ap.add_argument('--compile', default='0.1b')
    ap.add_argument('--budget-s', type=float, default=240)
    ap.add_argument('--check-logits', default='')
    ap.add_argument('--check-tokens', default='')
    ap.add_argument('--check-shape', default='0.1b')
    args = ap.parse_args()
    t_start = time.time()
    torch.backends.cuda.matmul.allow_tf32 = True
    print(f'torch {torch.__version__} on {torch.cuda.get_device_name(0)}', flush=True)
    rows = []
    for shape in args.shapes.split(','):
        if time.time() - t_start > args.budget_s:
            rows.append((shape, None, None, None, 'skipped: time budget'))
            continue
        path = f'{args.dir}/rwkvx-bench-{shape}-{args.type}.gguf'
        m = Model(path)
        note = ''
        with torch.no_grad():
            if args.check_logits and shape == args.check_shape:
                toks = torch.tensor([int(x) for x in args.check_tokens.split()], device='cuda')
                st = m.new_state()
                got = torch.cat([forward(m, toks[i:i + 1], st) for i in range(len(toks))]).cpu().numpy()
                ref = np.load(args.check_logits)
                e = float(np.abs(got - ref).max() / np.abs(ref).max())
                note += f'logits vs engine: {e:.3g}; '
                print(f'{shape}: baseline logits vs engine (CPU) normalized error {e:.3g}', flush=True)
            toks = torch.randint(1, 65535, (args.ctx + args.decode + 8,), device='cuda')
            st = m.new_state()
            forward(m, toks[:16], st)  # warm-up
            st = m.new_state()
            torch.cuda.synchronize()
            t0 = time.time()
            done = 0
            while done < args.ctx:
                n = min(args.chunk, args.ctx - done)
                forward(m, toks[done:done + n], st)
                done += n
                if time.time() - t_start > args.budget_s:
                    note += f'prefill stopped at {done} tokens (budget); '
                    break
            torch.cuda.synchronize()
            prefill = done / (time.time() - t0)

            def step(tok):
                return forward(m, tok, st)

            for i in range(3):
                step(toks[done + i:done + i + 1])
            torch.cuda.synchronize()
            t0 = time.time()
            for i in range(args.decode):
                step(toks[i:i + 1])
            torch.cuda.synchronize()
            decode = args.decode / (time.time() - t0)
            compiled = None
            if shape in args.compile.split(',') and m.arch == 'rwkv7' and time.time() - t_start < args.budget_s:
                try:
                    # The decode step as a function of (token, state tensors), compiled with CUDA graphs.
                    def dstep(tok, att, ffn, wkv):
                        s = {'att': att, 'ffn': ffn, 'wkv': wkv, 'affn': None, 'k': [], 'v': []}
                        out = forward(m, tok, s)
                        return out, s['att'], s['ffn'], s['wkv']
                    cstep = torch.compile(dstep, mode='reduce-overhead', fullgraph=False)
                    att, ffn, wkv = st['att'].clone(), st['ffn'].clone(), st['wkv'].clone()
                    for i in range(5):
                        out, att2, ffn2, wkv2 = cstep(toks[i:i + 1], att, ffn, wkv)
                        att, ffn, wkv = att2.clone(), ffn2.clone(), wkv2.clone()
                    torch.cuda.synchronize()
                    t0 = time.time()
                    for i in range(args.decode):
                        out, att2, ffn2, wkv2 = cstep(toks[i:i + 1], att, ffn, wkv)
                        att, ffn, wkv = att2.clone(), ffn2.clone(), wkv2.clone()
                    torch.cuda.synchronize()
                    compiled = args.decode / (time.time() - t0)
                except Exception as e:  # report, keep the eager figures
                    note += f'torch.compile failed: {type(e).__name__}: {str(e)[:120]}; '
        rows.append((shape, prefill, decode, compiled, note))
        print(f'{shape}: prefill {prefill:.0f} tok/s (ctx {args.ctx}), decode eager {decode:.1f} tok/s, '
              f'compiled {"-" if compiled is None else f"{compiled:.1f}"} tok/s {note}', flush=True)
        del m
        torch.cuda.empty_cache()
    print('\nbaseline\tshape\tprefill_tps\tdecode_eager_tps\tdecode_compiled_tps\tnote')
    for shape, p, d, c, note in rows:
        f = lambda v: '-' if v is None else f'{v:.1f}'
        print(f'baseline\t{shape}\t{f(p)}\t{f(d)}\t{f(c)}\t{note}')


if __name__ == '__main__':
    sys.exit(main())
