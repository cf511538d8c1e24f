"""RWKV-7 ("x070") and RWKV-X (RWKV-7 + sparse attention blocks) for training.

Parameter names are exactly the official checkpoint keys, so `state_dict()` is the export:
  RWKV-7:  emb.weight, blocks.{i}.{ln0 (i=0), ln1, ln2, att.*, ffn.*}, ln_out, head.weight
  RWKV-X:  rwkv.<the RWKV-7 keys>, moba.{j}.{ln1, ln2}.{weight,bias}, moba.{j}.att.{receptance,key,value,output}.weight,
           moba.{j}.ffn.x_k, moba.{j}.ffn.{key,value}.weight
Attention block j runs after RWKV block (j+1)*(L/N_A)-1. Equations as in shared/engine-facts.md.

Attention (training pattern, also what the engine must do): chunks of `attn_chunk` tokens aligned to the
sequence start; each query attends causally within its own chunk plus the top-(k-1) strictly earlier chunks,
chosen per head by q . mean(keys of the chunk) in fp32; scale 1/8; no positional encoding; heads of 64.
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

from wkv import wkv7_chunked

HEAD = 64
# torch.compile (optional) fuses the elementwise work around the WKV; the WKV's chunk loop stays eager
_wkv = torch.compiler.disable(wkv7_chunked)


@dataclass
class Config:
    vocab_size: int = 16384
    n_embd: int = 384
    n_layer: int = 8           # RWKV-7 blocks
    n_attn: int = 2            # attention blocks (0: pure RWKV-7)
    ffn_mult: int = 4
    d_decay: int = 32          # LoRA ranks w, a, v, g
    d_aaa: int = 32
    d_mv: int = 32
    d_gate: int = 64
    attn_chunk: int = 512      # B of the sparse pattern
    attn_topk: int = 3         # own chunk + (k-1) selected earlier chunks
    wkv_chunk: int = 32

    def to_dict(self):
        return asdict(self)


def time_shift(x):
    """x_prev for every position: the previous token's value, zeros before the first."""
    return F.pad(x, (0, 0, 1, -1))


class TimeMix(nn.Module):
    def __init__(self, cfg, layer_id):
        super().__init__()
        C, L = cfg.n_embd, cfg.n_layer
        H = C // HEAD
        self.layer_id, self.n_head, self.wkv_chunk = layer_id, H, cfg.wkv_chunk
        r01 = layer_id / (L - 1) if L > 1 else 0.0
        r10 = 1.0 - layer_id / L
        ddd = (torch.arange(C, dtype=torch.float32) / C).view(1, 1, C)
        self.x_r = nn.Parameter(1.0 - ddd.pow(0.2 * r10))
        self.x_w = nn.Parameter(1.0 - ddd.pow(0.9 * r10))
        self.x_k = nn.Parameter(1.0 - ddd.pow(0.7 * r10))
        self.x_v = nn.Parameter(1.0 - ddd.pow(0.7 * r10))
        self.x_a = nn.Parameter(1.0 - ddd.pow(0.9 * r10))
        self.x_g = nn.Parameter(1.0 - ddd.pow(0.2 * r10))

        def lora(d_in, rank, d_out, scale):
            w1 = nn.Parameter(torch.zeros(d_in, rank))
            w2 = nn.Parameter(torch.empty(rank, d_out))
            nn.init.orthogonal_(w2, gain=scale)
            return w1, w2

        n = torch.arange(C, dtype=torch.float32)
        decay_speed = -7.0 + 5.0 * (n / (C - 1)) ** (0.85 + 1.0 * r01 ** 0.5)
        self.w0 = nn.Parameter(decay_speed.view(1, 1, C) + 0.5)
        self.w1, self.w2 = lora(C, cfg.d_decay, C, 0.1)
        self.a0 = nn.Parameter(torch.zeros(1, 1, C))
        self.a1, self.a2 = lora(C, cfg.d_aaa, C, 0.1)
        if layer_id > 0:                      # layer 0's v0/v1/v2 would be unused: omitted, as some files do
            self.v0 = nn.Parameter(torch.ones(1, 1, C))
            self.v1, self.v2 = lora(C, cfg.d_mv, C, 0.1)
        self.g1, self.g2 = lora(C, cfg.d_gate, C, 0.1)
        self.k_k = nn.Parameter(torch.full((1, 1, C), 0.85))
        self.k_a = nn.Parameter(torch.ones(1, 1, C))
        self.r_k = nn.Parameter(torch.zeros(H, HEAD))
        self.receptance = nn.Linear(C, C, bias=False)
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        s = 1.0 / math.sqrt(C)
        nn.init.uniform_(self.receptance.weight, -0.5 * s, 0.5 * s)
        nn.init.uniform_(self.key.weight, -0.05 * s, 0.05 * s)
        nn.init.uniform_(self.value.weight, -0.5 * s, 0.5 * s)
        nn.init.zeros_(self.output.weight)
        self.ln_x = nn.GroupNorm(H, C, eps=64e-5)
        with torch.no_grad():
            self.ln_x.weight.fill_(((1 + layer_id) / L) ** 0.7)

    def forward(self, x, v_first):
        B, T, C = x.shape
        H, N = self.n_head, HEAD
        xx = time_shift(x) - x
        xr, xw, xk = x + xx * self.x_r, x + xx * self.x_w, x + xx * self.x_k
        xv, xa, xg = x + xx * self.x_v, x + xx * self.x_a, x + xx * self.x_g
        r = self.receptance(xr)
        k = self.key(xk)
        v = self.value(xv)
        d = self.w0 + torch.tanh(xw @ self.w1) @ self.w2
        logw = -0.606531 * torch.sigmoid(d.float())                    # log of w in (0.545, 1)
        if self.layer_id == 0:
            v_first = v
        else:
            v = v + (v_first - v) * torch.sigmoid(self.v0 + (xv @ self.v1) @ self.v2)
        a = torch.sigmoid(self.a0 + (xa @ self.a1) @ self.a2)
        g = torch.sigmoid(xg @ self.g1) @ self.g2
        kk = F.normalize((k * self.k_k).view(B, T, H, N).float(), dim=-1, p=2.0, eps=1e-12)
        k = k * (1 + (a - 1) * self.k_a)
        with torch.autocast(device_type=x.device.type, enabled=False):
            f = lambda t: t.float().view(B, T, H, N)
            af = f(a)
            y, _ = _wkv(f(r), logw.view(B, T, H, N), f(k), f(v), -kk, kk * af, chunk=self.wkv_chunk)
            y = self.ln_x(y.reshape(B * T, C)).view(B, T, C)
            bonus = (f(r) * f(k) * self.r_k.float()).sum(-1, keepdim=True) * f(v)
            y = y + bonus.reshape(B, T, C)
        return self.output(y * g), v_first


class ChannelMix(nn.Module):
    def __init__(self, cfg, layer_id, n_layer):
        super().__init__()
        C = cfg.n_embd
        r10 = 1.0 - layer_id / n_layer
        ddd = (torch.arange(C, dtype=torch.float32) / C).view(1, 1, C)
        self.x_k = nn.Parameter(1.0 - ddd.pow(r10 ** 4))
        self.key = nn.Linear(C, C * cfg.ffn_mult, bias=False)
        self.value = nn.Linear(C * cfg.ffn_mult, C, bias=False)
        s = 1.0 / math.sqrt(C)
        nn.init.uniform_(self.key.weight, -0.5 * s, 0.5 * s)
        nn.init.zeros_(self.value.weight)

    def forward(self, x):
        k = x + (time_shift(x) - x) * self.x_k
        return self.value(torch.relu(self.key(k)) ** 2)


class Block(nn.Module):
    def __init__(self, cfg, layer_id):
        super().__init__()
        C = cfg.n_embd
        self.layer_id = layer_id
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(C)
        self.ln1 = nn.LayerNorm(C)
        self.ln2 = nn.LayerNorm(C)
        self.att = TimeMix(cfg, layer_id)
        self.ffn = ChannelMix(cfg, layer_id, cfg.n_layer)

    def forward(self, x, v_first):
        if self.layer_id == 0:
            x = self.ln0(x)
        dx, v_first = self.att(self.ln1(x), v_first)
        x = x + dx
        x = x + self.ffn(self.ln2(x))
        return x, v_first


def moba_chunks(q, k, chunk, topk):
    """Boolean [B,H,T,n_chunks]: the chunks each query may see (its own + the top-(k-1) strictly earlier full
    chunks by q . chunk mean, fp32), or None when the pattern is dense causal. Not differentiated (a choice)."""
    B, H, T, N = q.shape
    nc = (T + chunk - 1) // chunk
    if nc <= topk:
        return None
    with torch.no_grad():
        nfull = T // chunk
        km = k[:, :, : nfull * chunk].float().view(B, H, nfull, chunk, N).mean(3)      # [B,H,nfull,N]
        score = q.float() @ km.transpose(-1, -2)                                          # [B,H,T,nfull]
        pos = torch.arange(T, device=q.device)
        qc = pos // chunk
        earlier = torch.arange(nfull, device=q.device)[None, :] < qc[:, None]              # [T,nfull]
        score = score.masked_fill(~earlier, float("-inf"))
        val, idx = score.topk(min(topk - 1, nfull), dim=-1)
        sel = torch.zeros(B, H, T, nc, dtype=torch.bool, device=q.device)
        sel.scatter_(-1, idx, val > float("-inf"))
        sel[:, :, pos, qc] = True                                                          # own chunk
    return sel


def _attend_block(qb, kb, vb, selb, q0, chunk):
    """Queries q0.. of one block against keys 0..end, masked to their chosen chunks and causally."""
    Tq, Tk = qb.shape[2], kb.shape[2]
    kpos = torch.arange(Tk, device=qb.device)
    qpos = q0 + torch.arange(Tq, device=qb.device)
    mask = selb[..., kpos // chunk] & (kpos[None, :] <= qpos[:, None])                   # [B,H,Tq,Tk]
    return F.scaled_dot_product_attention(qb, kb, vb, attn_mask=mask, scale=1.0 / 8)


def moba_attention(q, k, v, chunk, topk, qblock=4096):
    """The sparse pattern computed densely per block of queries: a block's mask is built (and rebuilt in the
    backward, by checkpointing) only while it runs, so memory stays O(qblock * T), not O(T^2), and 64K-token
    sequences fit. The attention FLOPs are small beside the RWKV blocks' at these widths."""
    sel = moba_chunks(q, k, chunk, topk)
    if sel is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0 / 8)
    T = q.shape[2]
    qblock = max(chunk, qblock // chunk * chunk)
    outs = []
    for q0 in range(0, T, qblock):
        q1 = min(T, q0 + qblock)
        args = (q[:, :, q0:q1], k[:, :, :q1], v[:, :, :q1], sel[:, :, q0:q1], q0, chunk)
        if torch.is_grad_enabled() and T > qblock:
            outs.append(torch.utils.checkpoint.checkpoint(_attend_block, *args, use_reentrant=False))
        else:
            outs.append(_attend_block(*args))
    return torch.cat(outs, 2)


# Which implementation SparseAttention uses (train.py --attn-impl); both compute the same pattern.
ATTN_IMPL = "blockwise"
_flex = None


def flex_blocks(sel, chunk, block):
    """For FlexAttention: the selection padded to whole query blocks, and per query block the key blocks to
    visit (count, then indices, chosen first): those of every chunk one of its queries chose, not after it."""
    if chunk % block:
        raise ValueError(f"attention chunk {chunk} must be a multiple of the flex block {block}")
    B, H, T, nc = sel.shape
    nb = (T + block - 1) // block
    selp = F.pad(sel, (0, 0, 0, nb * block - T)) if nb * block > T else sel              # [B,H,nb*block,nc]
    need = selp.view(B, H, nb, block, nc).any(3)                                         # chunks per query block
    kb = torch.arange(nb, device=sel.device)
    kv = need[..., (kb * block) // chunk] & (kb[None, :] <= kb[:, None])                   # [B,H,nb,nb]
    kv_num = kv.sum(-1, dtype=torch.int32)
    kv_idx = torch.argsort(kv.to(torch.int8), dim=-1, descending=True, stable=True).to(torch.int32)
    return selp, kv_num, kv_idx


def moba_attention_flex(q, k, v, chunk, topk, block=128):
    """The same pattern through FlexAttention with a block-sparse mask: a block of `block` queries visits only
    the key blocks of chunks one of its queries chose (and its own), so the work grows with the chosen chunks,
    not with T^2. Compiled on CUDA; on the CPU it runs eager and has no backward (the checks use it forward)."""
    global _flex
    from torch.nn.attention.flex_attention import BlockMask, flex_attention
    sel = moba_chunks(q, k, chunk, topk)
    if sel is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0 / 8)
    T = q.shape[2]
    selp, kv_num, kv_idx = flex_blocks(sel, chunk, block)

    def mask_mod(b, h, qi, ki):
        return selp[b, h, qi, ki // chunk] & (ki <= qi)

    bm = BlockMask.from_kv_blocks(kv_num, kv_idx, BLOCK_SIZE=block, mask_mod=mask_mod, seq_lengths=(T, T))
    if _flex is None:
        _flex = torch.compile(flex_attention, dynamic=False) if q.is_cuda else flex_attention
    return _flex(q, k, v, block_mask=bm, scale=1.0 / 8)


class SparseAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg.n_embd
        self.n_head, self.chunk, self.topk = C // HEAD, cfg.attn_chunk, cfg.attn_topk
        self.receptance = nn.Linear(C, C, bias=False)    # q
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        s = 1.0 / math.sqrt(C)
        for lin in (self.receptance, self.key, self.value):
            nn.init.uniform_(lin.weight, -s, s)
        nn.init.zeros_(self.output.weight)

    def forward(self, x):
        B, T, C = x.shape
        H = self.n_head
        f = lambda t: t.view(B, T, H, HEAD).transpose(1, 2)
        q, k, v = f(self.receptance(x)), f(self.key(x)), f(self.value(x))
        attend = moba_attention_flex if ATTN_IMPL == "flex" else moba_attention
        y = attend(q, k, v, self.chunk, self.topk)
        return self.output(y.transpose(1, 2).reshape(B, T, C))


class AttnBlock(nn.Module):
    def __init__(self, cfg, j):
        super().__init__()
        C = cfg.n_embd
        self.ln1 = nn.LayerNorm(C)
        self.ln2 = nn.LayerNorm(C)
        self.att = SparseAttention(cfg)
        # channel mix placed as if at the RWKV block it follows
        self.ffn = ChannelMix(cfg, (j + 1) * (cfg.n_layer // cfg.n_attn) - 1, cfg.n_layer)

    def forward(self, x):
        x = x + self.att(self.ln1(x))
        x = x + self.ffn(self.ln2(x))
        return x


class RWKV7(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C, V = cfg.n_embd, cfg.vocab_size
        self.emb = nn.Embedding(V, C)
        nn.init.uniform_(self.emb.weight, -1e-4, 1e-4)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layer))
        self.ln_out = nn.LayerNorm(C)
        self.head = nn.Linear(C, V, bias=False)
        nn.init.orthogonal_(self.head.weight, gain=0.5 * math.sqrt(V / C) if V > C else 0.5)

    def forward(self, idx, after_block=None):
        x = self.emb(idx)
        v_first = None
        for i, blk in enumerate(self.blocks):
            x, v_first = blk(x, v_first)
            if after_block is not None:
                x = after_block(i, x)
        return self.head(self.ln_out(x))


class RWKVX(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        if cfg.n_attn < 1 or cfg.n_layer % cfg.n_attn:
            raise ValueError("n_layer must be a multiple of n_attn")
        self.cfg = cfg
        self.rwkv = RWKV7(cfg)
        self.moba = nn.ModuleList(AttnBlock(cfg, j) for j in range(cfg.n_attn))
        self.group = cfg.n_layer // cfg.n_attn

    def attn_after(self, i, x):
        if (i + 1) % self.group == 0:
            x = self.moba[(i + 1) // self.group - 1](x)
        return x

    def forward(self, idx):
        return self.rwkv(idx, after_block=self.attn_after)


def build(cfg):
    return RWKVX(cfg) if cfg.n_attn > 0 else RWKV7(cfg)


def param_groups(model, weight_decay):
    """Weight decay on the Linear matrices only (not on embeddings, LoRAs, mixes, norms)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        is_linear = name.endswith(".weight") and p.dim() == 2 and not name.endswith("emb.weight")
        (decay if is_linear else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def count_params(model):
    return sum(p.numel() for p in model.parameters())
