"""Float64 numpy reference of RWKV-7 ("x070") and RWKV-X, one token at a time.

Written from the equations in ../../../shared/engine-facts.md, as plainly as
possible: it is what the engine's CPU backend is checked against, so it favours
obviousness over speed. Works from a dict of numpy arrays in the official
checkpoint layout (BlinkDL RWKV-7 keys; RWKV-X: `rwkv.` + RWKV-7 keys and
`moba.{j}.*` for the attention blocks).

    model = Model(weights)                       # RWKV-7
    model = Model(weights, chunk_size=16, topk=3) # RWKV-X (attn_after derived)
    logits, state = model.run(tokens)            # logits [T, V], final state
    logits(weights, tokens, **kw) -> [T, V]
"""
import numpy as np

N = 64                    # head size of every released model
LN_EPS = 1e-5
GN_EPS = 64e-5            # GroupNorm of the time-mix output (ln_x)
DECAY = 0.606531          # exp(-0.5): w = exp(-DECAY * sigmoid(d)) lies in (0.545, 1)
L2_EPS = 1e-12
ATTN_SCALE = 1.0 / 8.0    # 1/sqrt(64)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def layer_norm(x, w, b, eps=LN_EPS):
    mu = x.mean()
    var = ((x - mu) ** 2).mean()
    return (x - mu) / np.sqrt(var + eps) * w + b


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


class Model:
    def __init__(self, weights, chunk_size=None, topk=None, attn_after=None):
        w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
        self.is_x = 'rwkv.emb.weight' in w
        if self.is_x:
            rw = {k[5:]: v for k, v in w.items() if k.startswith('rwkv.')}
            aw = {k[5:]: v for k, v in w.items() if k.startswith('moba.')}
        else:
            rw, aw = w, {}
        self.emb = rw['emb.weight']
        self.V, self.C = self.emb.shape
        self.H = self.C // N
        self.L = 1 + max(int(k.split('.')[1]) for k in rw if k.startswith('blocks.'))
        self.ln0 = (rw['blocks.0.ln0.weight'], rw['blocks.0.ln0.bias'])
        self.ln_out = (rw['ln_out.weight'], rw['ln_out.bias'])
        self.head = rw['head.weight']
        # [1,1,C] vectors become [C]; matrices stay as stored
        self.blocks = []
        for i in range(self.L):
            pre = 'blocks.%d.' % i
            p = {k[len(pre):]: (v.reshape(-1) if v.ndim == 3 else v)
                 for k, v in rw.items() if k.startswith(pre)}
            self.blocks.append(p)
        n_attn = len({k.split('.')[0] for k in aw})
        self.attn = []
        for j in range(n_attn):
            pre = '%d.' % j
            p = {k[len(pre):]: (v.reshape(-1) if v.ndim == 3 else v)
                 for k, v in aw.items() if k.startswith(pre)}
            self.attn.append(p)
        if n_attn:
            if chunk_size is None or topk is None:
                raise ValueError('RWKV-X needs chunk_size and topk (they are not in the .pth)')
            if attn_after is None:
                # groups of L / n_attn RWKV blocks, each followed by one attention block
                g = self.L // n_attn
                attn_after = [(j + 1) * g - 1 for j in range(n_attn)]
        self.attn_after = list(attn_after or [])
        self.chunk_size, self.topk = chunk_size, topk

    # -- state ------------------------------------------------------------
    def new_state(self):
        return {
            'att_x': np.zeros((self.L, self.C)),          # LN1 output of the previous token
            'ffn_x': np.zeros((self.L, self.C)),          # LN2 output of the previous token
            'wkv': np.zeros((self.L, self.H, N, N)),      # [layer][head][value][key]
            'attn': [{'k': [], 'v': [], 'ffn_x': np.zeros(self.C)} for _ in self.attn],
            'pos': 0,
        }

    # -- one token ----------------------------------------------------------
    def step(self, state, token, trace=None):
        x = layer_norm(self.emb[token], *self.ln0)
        v_first = None
        for i, p in enumerate(self.blocks):
            x, v_first = self.rwkv_block(i, p, x, state, v_first)
            for j, after in enumerate(self.attn_after):
                if after == i:
                    x = self.attn_block(j, self.attn[j], x, state, trace)
        state['pos'] += 1
        return self.head @ layer_norm(x, *self.ln_out)

    def rwkv_block(self, i, p, h, state, v_first):
        x = layer_norm(h, p['ln1.weight'], p['ln1.bias'])
        dx, v_first = self.time_mix(i, p, x, state, v_first)
        h = h + dx
        x = layer_norm(h, p['ln2.weight'], p['ln2.bias'])
        h = h + channel_mix(p, x, state['ffn_x'], i)
        return h, v_first

    def time_mix(self, i, blk, x, state, v_first):
        H = self.H
        p = {k[4:]: v for k, v in blk.items() if k.startswith('att.')}
        xx = state['att_x'][i] - x
        state['att_x'][i] = x                      # the state keeps the LN1 output
        xr, xw, xk, xv, xa, xg = (x + xx * p['x_' + c] for c in 'rwkvag')
        r = p['receptance.weight'] @ xr
        k = p['key.weight'] @ xk
        v = p['value.weight'] @ xv
        w = np.exp(-DECAY * sigmoid(p['w0'] + np.tanh(xw @ p['w1']) @ p['w2']))
        a = sigmoid(p['a0'] + (xa @ p['a1']) @ p['a2'])
        if i == 0:
            v_first = v
        else:
            v = v + (v_first - v) * sigmoid(p['v0'] + (xv @ p['v1']) @ p['v2'])
        g = sigmoid(xg @ p['g1']) @ p['g2']
        kk = (k * p['k_k']).reshape(H, N)
        kk = kk / np.maximum(np.linalg.norm(kk, axis=1, keepdims=True), L2_EPS)
        kk = kk.reshape(-1)
        k = k * (1 + (a - 1) * p['k_a'])           # after kk was taken
        y = np.zeros(self.C)
        for h in range(H):
            s = slice(h * N, (h + 1) * N)
            S = state['wkv'][i, h]                  # [value][key]
            sa = S @ (-kk[s])
            S = S * w[s][None, :] + np.outer(sa, kk[s] * a[s]) + np.outer(v[s], k[s])
            state['wkv'][i, h] = S
            y[s] = S @ r[s]
        o = np.zeros(self.C)
        for h in range(H):                           # GroupNorm, one group per head
            s = slice(h * N, (h + 1) * N)
            mu = y[s].mean()
            var = ((y[s] - mu) ** 2).mean()
            o[s] = (y[s] - mu) / np.sqrt(var + GN_EPS)
        o = o * p['ln_x.weight'] + p['ln_x.bias']
        r_k = p['r_k'].reshape(-1)
        for h in range(H):                           # bonus, with the modified k
            s = slice(h * N, (h + 1) * N)
            o[s] += np.sum(r[s] * k[s] * r_k[s]) * v[s]
        return p['output.weight'] @ (o * g), v_first

    def attn_block(self, j, p, h, state, trace=None):
        st = state['attn'][j]
        x = layer_norm(h, p['ln1.weight'], p['ln1.bias'])
        q = p['att.receptance.weight'] @ x
        st['k'].append(p['att.key.weight'] @ x)
        st['v'].append(p['att.value.weight'] @ x)
        K, V = np.array(st['k']), np.array(st['v'])
        t = len(st['k']) - 1
        y = np.zeros(self.C)
        for hd in range(self.H):
            s = slice(hd * N, (hd + 1) * N)
            pos, chosen = moba_positions(q[s], K[:, s], t, self.chunk_size, self.topk)
            if trace is not None:
                trace.append((j, t, hd, chosen))
            att = softmax(K[pos, s] @ q[s] * ATTN_SCALE)
            y[s] = att @ V[pos, s]
        h = h + p['att.output.weight'] @ y
        x = layer_norm(h, p['ln2.weight'], p['ln2.bias'])
        xx = st['ffn_x'] - x
        st['ffn_x'] = x
        kx = x + xx * p['ffn.x_k']
        return h + p['ffn.value.weight'] @ (np.maximum(p['ffn.key.weight'] @ kx, 0) ** 2)

    # -- sequences ----------------------------------------------------------
    def run(self, tokens, state=None, trace=None):
        state = self.new_state() if state is None else state
        out = np.array([self.step(state, t, trace) for t in tokens])
        return out, state


def channel_mix(p, x, prev, i):
    xx = prev[i] - x
    prev[i] = x                                      # the state keeps the LN2 output
    k = x + xx * p['ffn.x_k']
    return p['ffn.value.weight'] @ (np.maximum(p['ffn.key.weight'] @ k, 0) ** 2)


def moba_positions(q, K, t, B, topk):
    """Key positions that query position t attends to (one head), and the earlier
    chunks chosen. Chunks of B tokens from the sequence start; own chunk causally;
    plus the top-(topk-1) strictly earlier chunks by q . mean(chunk keys), ties to
    the lower chunk index; all earlier chunks while there are at most topk-1."""
    c = t // B
    if c <= topk - 1:
        return list(range(t + 1)), list(range(c))
    scores = [float(q @ K[i * B:(i + 1) * B].mean(axis=0)) for i in range(c)]
    chosen = sorted(sorted(range(c), key=lambda i: (-scores[i], i))[:topk - 1])
    pos = [p for i in chosen for p in range(i * B, (i + 1) * B)]
    return pos + list(range(c * B, t + 1)), chosen


def logits(weights, tokens, **kw):
    return Model(weights, **kw).run(tokens)[0]


def run(weights, tokens, **kw):
    """-> (logits [T, V], final state dict)."""
    return Model(weights, **kw).run(tokens)
