"""Self-checks of the numpy reference and the file writers. Exit status 1 on failure.

    python3 tools/reference/check_reference.py

Each check compares two independently written forms of the same thing (a
token-by-token loop against a whole-sequence restatement, a dict-based
tokenizer against a trie walk, a writer against a reader), so a mistake in
one shows up as a mismatch.
"""
import json
import os
import sys
import tempfile
import traceback
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures  # noqa: E402
import pth_io         # noqa: E402
import rwkv_ref       # noqa: E402
import world_vocab    # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
MODELS = os.path.join(REPO, 'test', 'fixtures', 'models')
TOKDIR = os.path.join(REPO, 'test', 'fixtures', 'tokenizer')
N = 64


def small_rwkv7(seed, V=300, C=128, L=2, F=256, ranks=(32, 32, 16, 64)):
    return make_fixtures.rwkv7_weights(np.random.default_rng(seed), V, C, L, F, ranks)


def small_rwkvx(seed, V=300, C=128, L=2, F=256):
    rng = np.random.default_rng(seed)
    w = {'rwkv.' + k: v for k, v in
         make_fixtures.rwkv7_weights(rng, V, C, L, F, (32, 32, 16, 64), with_layer0_v=False).items()}
    w.update(make_fixtures.moba_weights(rng, C, F, 0))
    return w


# ---------------------------------------------------------------------------
# Whole-sequence restatement of the equations: matrices over all T tokens,
# the wkv state kept transposed ([key][value]) and updated with einsum.

def ln_rows(X, w, b, eps=1e-5):
    mu = X.mean(axis=1, keepdims=True)
    return (X - mu) / np.sqrt(X.var(axis=1, keepdims=True) + eps) * w + b


def seq_time_mix(p, X, first_layer, VF, x0=None, ST=None):
    """One RWKV-7 time-mix over X [T, C] (LN1 outputs). Returns (out, VF, x_last, ST)."""
    T, C = X.shape
    H = C // N
    g = lambda n: np.asarray(p['att.' + n], dtype=np.float64).reshape(-1) \
        if np.ndim(p['att.' + n]) == 3 else np.asarray(p['att.' + n], dtype=np.float64)  # noqa: E731
    prev = np.vstack([np.zeros((1, C)) if x0 is None else x0[None], X[:-1]])
    mix = lambda m: X * (1 - g(m)) + prev * g(m)                       # noqa: E731  (lerp form)
    R = mix('x_r') @ g('receptance.weight').T
    K = mix('x_k') @ g('key.weight').T
    Vv = mix('x_v') @ g('value.weight').T
    W = np.exp(-0.606531 / (1 + np.exp(-(g('w0') + np.tanh(mix('x_w') @ g('w1')) @ g('w2')))))
    A = 1 / (1 + np.exp(-(g('a0') + mix('x_a') @ g('a1') @ g('a2'))))
    if first_layer:
        VF = Vv
    else:
        gate = 1 / (1 + np.exp(-(g('v0') + mix('x_v') @ g('v1') @ g('v2'))))
        Vv = Vv * (1 - gate) + VF * gate
    G = (1 / (1 + np.exp(-(mix('x_g') @ g('g1'))))) @ g('g2')
    KK = (K * g('k_k')).reshape(T, H, N)
    KK = KK / np.maximum(np.sqrt((KK ** 2).sum(-1, keepdims=True)), 1e-12)
    Km = K - K * g('k_a') + K * A * g('k_a')
    r, k, v, w, a = (z.reshape(T, H, N) for z in (R, Km, Vv, W, A))
    ST = np.zeros((H, N, N)) if ST is None else ST.copy()
    Y = np.zeros((T, H, N))
    for t in range(T):
        b = KK[t] * a[t]
        ST = (w[t][:, :, None] * ST
              - b[:, :, None] * np.einsum('hk,hkv->hv', KK[t], ST)[:, None, :]
              + k[t][:, :, None] * v[t][:, None, :])
        Y[t] = np.einsum('hkv,hk->hv', ST, r[t])
    Yn = (Y - Y.mean(-1, keepdims=True)) / np.sqrt(Y.var(-1, keepdims=True) + 64e-5)
    O = Yn.reshape(T, C) * g('ln_x.weight') + g('ln_x.bias')
    O += ((r * k * g('r_k').reshape(H, N)).sum(-1, keepdims=True) * v).reshape(T, C)
    return (O * G) @ g('output.weight').T, VF, X[-1], ST


def seq_ffn(p, X, prefix='ffn.'):
    C = X.shape[1]
    prev = np.vstack([np.zeros((1, C)), X[:-1]])
    mk = np.asarray(p[prefix + 'x_k'], dtype=np.float64).reshape(-1)
    Kx = X * (1 - mk) + prev * mk
    return np.maximum(Kx @ np.asarray(p[prefix + 'key.weight'], np.float64).T, 0) ** 2 \
        @ np.asarray(p[prefix + 'value.weight'], np.float64).T


def moba_mask(Q, K, B, topk):
    """[T, T] 0/1 mask of the trained sparse pattern for one head, built over the
    whole matrix (the reference builds position lists per query instead)."""
    T = len(Q)
    mask = np.tril(np.ones((T, T)))
    n_chunks = (T + B - 1) // B
    means = np.array([K[i * B:(i + 1) * B].mean(axis=0) for i in range(n_chunks)])
    S = Q @ means.T
    for t in range(T):
        c = t // B
        if c >= topk:
            order = np.lexsort((np.arange(c), -S[t, :c]))    # by score desc, then index
            for i in order[topk - 1:]:
                mask[t, i * B:(i + 1) * B] = 0
    return mask


def seq_attention(p, X, B, topk, dense):
    T, C = X.shape
    H = C // N
    f = lambda n: np.asarray(p[n], dtype=np.float64)                   # noqa: E731
    Q, K, V = X @ f('att.receptance.weight').T, X @ f('att.key.weight').T, X @ f('att.value.weight').T
    Y = np.zeros((T, C))
    for h in range(H):
        s = slice(h * N, (h + 1) * N)
        mask = np.tril(np.ones((T, T))) if dense else moba_mask(Q[:, s], K[:, s], B, topk)
        Sc = np.where(mask > 0, Q[:, s] @ K[:, s].T / 8.0, -np.inf)
        P = np.exp(Sc - Sc.max(axis=1, keepdims=True))
        Y[:, s] = (P / P.sum(axis=1, keepdims=True)) @ V[:, s]
    return Y @ f('att.output.weight').T


def seq_model(weights, tokens, chunk_size=None, topk=None, dense=False):
    """Whole-sequence logits [T, V]; attention blocks placed as in RWKV-X."""
    is_x = 'rwkv.emb.weight' in weights
    rw = {k[5:]: v for k, v in weights.items() if k.startswith('rwkv.')} if is_x else weights
    aw = {k[5:]: v for k, v in weights.items() if k.startswith('moba.')}
    f = lambda n: np.asarray(rw[n], dtype=np.float64)                  # noqa: E731
    L = 1 + max(int(k.split('.')[1]) for k in rw if k.startswith('blocks.'))
    n_attn = len({k.split('.')[0] for k in aw})
    after = {(j + 1) * (L // n_attn) - 1: j for j in range(n_attn)} if n_attn else {}
    X = ln_rows(f('emb.weight')[tokens], f('blocks.0.ln0.weight'), f('blocks.0.ln0.bias'))
    VF = None
    for i in range(L):
        p = {k[len('blocks.%d.' % i):]: v for k, v in rw.items() if k.startswith('blocks.%d.' % i)}
        out, VF, _, _ = seq_time_mix(p, ln_rows(X, p['ln1.weight'], p['ln1.bias']), i == 0, VF)
        X = X + out
        X = X + seq_ffn(p, ln_rows(X, p['ln2.weight'], p['ln2.bias']))
        if i in after:
            q = {k[len('%d.' % after[i]):]: v for k, v in aw.items() if k.startswith('%d.' % after[i])}
            X = X + seq_attention(q, ln_rows(X, q['ln1.weight'], q['ln1.bias']), chunk_size, topk, dense)
            X = X + seq_ffn(q, ln_rows(X, q['ln2.weight'], q['ln2.bias']))
    return ln_rows(X, f('ln_out.weight'), f('ln_out.bias')) @ f('head.weight').T


# ---------------------------------------------------------------------------
# checks

def check_one_layer_vs_restatement():
    """Token-by-token time mix of one layer (layer 1: value residual active) on
    random LN outputs vs the whole-sequence restatement, and the final state vs
    the closed form S_T = sum_s v_s k_s^T G_{s+1}..G_T."""
    w = small_rwkv7(11)
    m = rwkv_ref.Model(w)
    rng = np.random.default_rng(3)
    T = 24
    X = rng.standard_normal((T, m.C))
    VF = rng.standard_normal((T, m.C))
    st = m.new_state()
    out_ref = np.array([m.time_mix(1, m.blocks[1], X[t], st, VF[t])[0] for t in range(T)])
    p = {k[len('blocks.1.'):]: v for k, v in w.items() if k.startswith('blocks.1.')}
    out_seq, _, x_last, ST = seq_time_mix(p, X, False, VF)
    assert np.allclose(out_ref, out_seq, rtol=1e-10, atol=1e-10), np.abs(out_ref - out_seq).max()
    assert np.allclose(st['att_x'][1], x_last)
    assert np.allclose(st['wkv'][1], ST.transpose(0, 2, 1), atol=1e-10)
    # closed form, per head, from the same per-token quantities
    P = m.blocks[1]
    g = lambda n: P['att.' + n]                                       # noqa: E731
    prev = np.vstack([np.zeros((1, m.C)), X[:-1]])
    mix = lambda n: X + (prev - X) * g(n)                             # noqa: E731
    K = mix('x_k') @ g('key.weight').T
    V = mix('x_v') @ g('value.weight').T
    V = V + (VF - V) * rwkv_ref.sigmoid(g('v0') + mix('x_v') @ g('v1') @ g('v2'))
    Wd = np.exp(-0.606531 * rwkv_ref.sigmoid(g('w0') + np.tanh(mix('x_w') @ g('w1')) @ g('w2')))
    A = rwkv_ref.sigmoid(g('a0') + mix('x_a') @ g('a1') @ g('a2'))
    for h in range(m.H):
        s = slice(h * N, (h + 1) * N)
        kk = K[:, s] * g('k_k')[s]
        kk = kk / np.linalg.norm(kk, axis=1, keepdims=True)
        km = K[:, s] * (1 + (A[:, s] - 1) * g('k_a')[s])
        Gs = [np.diag(Wd[t, s]) - np.outer(kk[t], kk[t] * A[t, s]) for t in range(T)]
        S = np.zeros((N, N))
        for s_ in range(T):
            term = np.outer(V[s_, s], km[s_])
            for u in range(s_ + 1, T):
                term = term @ Gs[u]
            S += term
        assert np.allclose(S, st['wkv'][1, h], atol=1e-9), np.abs(S - st['wkv'][1, h]).max()


def check_model_vs_restatement():
    w = small_rwkv7(12)
    toks = list(np.random.default_rng(4).integers(0, 300, 40))
    a = rwkv_ref.logits(w, toks)
    b = seq_model(w, toks)
    assert np.allclose(a, b, rtol=1e-9, atol=1e-9), np.abs(a - b).max()


def check_state_shapes_and_continuation():
    w = small_rwkv7(13, L=3)
    m = rwkv_ref.Model(w)
    st = m.new_state()
    assert st['att_x'].shape == (3, 128) and st['ffn_x'].shape == (3, 128)
    assert st['wkv'].shape == (3, 2, 64, 64)
    toks = list(np.random.default_rng(5).integers(0, 300, 30))
    full, st_full = m.run(toks)
    first, st_half = m.run(toks[:17])
    second, st_half = m.run(toks[17:], st_half)   # continue from the saved state
    assert np.allclose(np.vstack([first, second]), full, rtol=0, atol=1e-12)
    for k in ('att_x', 'ffn_x', 'wkv'):
        assert np.allclose(st_half[k], st_full[k], rtol=0, atol=1e-12)
    assert full.shape == (30, 300)
    # the decay really spans its range and the state is not degenerate
    assert np.abs(st_full['wkv']).max() > 0.1 and np.isfinite(full).all()
    wx = small_rwkvx(14)
    mx = rwkv_ref.Model(wx, chunk_size=8, topk=2)
    _, stx = mx.run(toks[:20])
    assert len(stx['attn']) == 1 and np.array(stx['attn'][0]['k']).shape == (20, 128)
    assert stx['attn'][0]['ffn_x'].shape == (128,) and mx.attn_after == [1]


def check_rwkvx_short_is_dense():
    """Up to B*topk tokens the trained pattern is dense causal attention."""
    w = small_rwkvx(21)
    B, K = 8, 3
    toks = list(np.random.default_rng(6).integers(0, 300, B * K))
    ref = rwkv_ref.logits(w, toks, chunk_size=B, topk=K)
    dense = seq_model(w, toks, dense=True)
    assert np.allclose(ref, dense, rtol=1e-9, atol=1e-9), np.abs(ref - dense).max()


def check_rwkvx_sparse_vs_mask():
    """Past B*topk: the per-query position lists equal an independently built
    [T, T] mask, and the result is no longer the dense one."""
    w = small_rwkvx(22)
    B, K = 8, 3
    toks = list(np.random.default_rng(7).integers(0, 300, 70))
    ref = rwkv_ref.logits(w, toks, chunk_size=B, topk=K)
    masked = seq_model(w, toks, chunk_size=B, topk=K)
    dense = seq_model(w, toks, dense=True)
    assert np.allclose(ref, masked, rtol=1e-9, atol=1e-9), np.abs(ref - masked).max()
    assert np.abs(ref[B * K:] - dense[B * K:]).max() > 1e-3
    # ties go to the lower chunk index
    q = np.ones(4)
    Kc = np.zeros((40, 4))
    Kc[0:8] = Kc[16:24] = 1.0                  # chunks 0 and 2 tie, chunk 1/3 lower
    pos, chosen = rwkv_ref.moba_positions(q, Kc, 39, 8, 2)
    assert chosen == [0] and pos == list(range(8)) + list(range(32, 40))


def check_bf16():
    rng = np.random.default_rng(8)
    x = np.concatenate([
        (rng.standard_normal(200000) * np.exp2(rng.integers(-140, 127, 200000))).astype(np.float32),
        np.array([0.0, -0.0, 1.0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 3.3895e38, 3.4e38,
                  np.inf, -np.inf, 1e-45, 2 ** -133], dtype=np.float32)])
    bits = pth_io.bf16_bits(x)
    # brute force: the nearer of the two bf16 neighbours, ties to the even one
    u = x.view(np.uint32)
    lo = (u >> 16).astype(np.uint16)
    hi = lo + np.uint16(1)
    xd = x.astype(np.float64)
    with np.errstate(all='ignore'):
        flo = pth_io.bf16_to_f32(lo).astype(np.float64)
        fhi = pth_io.bf16_to_f32(hi).astype(np.float64)
        dlo, dhi = np.abs(xd - flo), np.abs(fhi - xd)
    # past the largest finite bf16, "hi" is inf: rounding goes to inf exactly when
    # x is at least halfway to 2^128
    fhi_inf = ~np.isfinite(fhi)
    dhi = np.where(fhi_inf, 2.0 ** 128 - np.abs(xd), dhi)
    expect = np.where(dlo < dhi, lo, np.where(dhi < dlo, hi, np.where(lo % 2 == 0, lo, hi)))
    finite = np.isfinite(x)
    assert np.array_equal(bits[finite], expect[finite].astype(np.uint16))
    assert bits[-4] == 0x7F80 and bits[-3] == 0xFF80
    assert np.isnan(pth_io.bf16_to_f32(pth_io.bf16_bits(np.array([np.nan], np.float32))))[0]
    # round trip of values already in bf16
    y = pth_io.round_bf16(x[finite])
    assert np.array_equal(pth_io.bf16_bits(y), bits[finite])
    assert pth_io.bf16_bits(np.array([1 + 2 ** -8], np.float32))[0] == 0x3F80   # tie -> even
    assert pth_io.bf16_bits(np.array([1 + 3 * 2 ** -8], np.float32))[0] == 0x3F82


def check_pth_round_trip():
    rng = np.random.default_rng(9)
    tensors = {'emb.weight': rng.standard_normal((37, 64)), 'b.vec': rng.standard_normal((1, 1, 64)),
               'r_k': rng.standard_normal((2, 64)), 'scalar': np.array(1.5), 'z': rng.standard_normal(5)}
    for dt in ('bf16', 'fp16', 'fp32'):
        for modern in (False, True):
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, 'model.pth')
                pth_io.write_pth(path, tensors, dt, modern=modern)
                back, dtypes = pth_io.read_pth(path)
                assert list(back) == list(tensors) and set(dtypes.values()) == {dt}
                for k, v in tensors.items():
                    want = {'bf16': pth_io.round_bf16, 'fp16': lambda a: np.float32(a).astype(np.float16),
                            'fp32': np.float32}[dt](np.asarray(v, np.float32))
                    assert back[k].shape == np.shape(v) and np.array_equal(back[k], np.asarray(want, np.float32))
                with zipfile.ZipFile(path) as zf:
                    infos = zf.infolist()
                    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
                    assert zf.read('model/version') == b'3\n' and zf.read('model/byteorder') == b'little'
                    pkl = zf.read('model/data.pkl')
                    assert zf.testzip() is None
                storage = {'bf16': b'BFloat16Storage', 'fp16': b'HalfStorage', 'fp32': b'FloatStorage'}[dt]
                assert b'ctorch._utils\n_rebuild_tensor_v2\n' in pkl and b'ctorch\n' + storage in pkl
                assert pkl[:2] == b'\x80\x02'
                for name, off in pth_io.pth_record_offsets(path).items():
                    assert off % 64 == 0, (name, off)
                with open(path, 'rb') as f:
                    assert b'PK\x06\x06' in f.read()[-200:]       # ZIP64 end record, as torch writes
    # mixed dtypes in one file
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'mixed.pth')
        pth_io.write_pth(path, tensors, {k: dt for k, dt in zip(tensors, ['bf16', 'fp32', 'fp16', 'fp32', 'bf16'])})
        _, dtypes = pth_io.read_pth(path)
        assert list(dtypes.values()) == ['bf16', 'fp32', 'fp16', 'fp32', 'bf16']


def check_safetensors_and_fla_mapping():
    w = small_rwkv7(15)
    fla = pth_io.official_to_fla(w)
    assert 'model.layers.0.attn.v_lora.lora.0.weight' not in fla
    assert fla['model.layers.1.attn.w_lora.lora.0.weight'].shape == (32, 128)   # w1 [C, Dw] transposed
    assert fla['model.layers.1.attn.w_lora.lora.2.weight'].shape == (128, 32)
    assert fla['model.layers.1.attn.w_lora.lora.2.bias'].shape == (128,)
    assert 'model.layers.1.attn.g_lora.lora.2.bias' not in fla
    assert fla['model.layers.0.attn.x_r'].shape == (1, 1, 128) and fla['model.layers.0.ffn.x_k'].shape == (128,)
    back = pth_io.fla_to_official(fla)
    assert set(back) == set(w) - {'blocks.0.att.v0', 'blocks.0.att.v1', 'blocks.0.att.v2'}
    for k in back:
        assert back[k].shape == w[k].shape and np.array_equal(back[k], w[k]), k
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'model.safetensors')
        for dt in ('bf16', 'fp16', 'fp32'):
            pth_io.write_safetensors(path, fla, dt)
            got, dtypes, meta = pth_io.read_safetensors(path)
            assert meta == {'format': 'pt'} and set(got) == set(fla) and set(dtypes.values()) == {dt}
            for k in fla:
                assert np.array_equal(got[k], fla[k].astype(np.float32)), k   # fixture values are exact
            with open(path, 'rb') as f:
                n = int.from_bytes(f.read(8), 'little')
            assert n % 8 == 0
    # a model loaded from the fla names gives the same logits
    toks = [1, 5, 9, 200, 7]
    assert np.array_equal(rwkv_ref.logits(back, toks), rwkv_ref.logits(w, toks))


class _Trie:
    """A second tokenizer: walk a byte trie, remember the last node that ends a token."""
    def __init__(self, vocab):
        self.root = {}
        for tid, raw in vocab.items():
            node = self.root
            for b in raw:
                node = node.setdefault(b, {})
            node[-1] = tid

    def encode(self, data):
        out, i = [], 0
        while i < len(data):
            node, j, best = self.root, i, None
            while j < len(data) and data[j] in node:
                node = node[data[j]]
                j += 1
                if -1 in node:
                    best = (node[-1], j)
            out.append(best[0])
            i = best[1]
        return out


def check_tokenizer():
    paths = [os.path.join(MODELS, 'tiny-vocab.txt')]
    shared = make_fixtures.SHARED_VOCAB
    if os.path.exists(shared):
        paths.append(shared)
    for path in paths:
        vocab = world_vocab.load_vocab(path)
        assert sorted(vocab) == list(range(1, len(vocab) + 1))
        assert all(vocab[b + 1] == bytes([b]) for b in range(256))
        with open(path, encoding='utf-8') as f:          # the writer reproduces every line
            for line in f:
                tid, raw = world_vocab.parse_line(line.rstrip('\n'))
                assert world_vocab.format_line(tid, raw) == line.rstrip('\n')
        tok, trie = world_vocab.Tokenizer(vocab), _Trie(vocab)
        for _, raw in make_fixtures.tokenizer_cases():
            ids = tok.encode(raw)
            assert ids == trie.encode(raw) and tok.decode(ids) == raw
    tiny = world_vocab.Tokenizer(world_vocab.load_vocab(paths[0]))
    # "inter".."interfac" are not tokens: the walk passes them and falls back to "inte";
    # " in" wins over " " + "interface" because matching is greedy from the left
    ids = tiny.encode(b'interfac\ninterface interface')
    assert [tiny.vocab[i] for i in ids] == [b'inte', b'r', b'f', b'a', b'c', b'\n', b'interface',
                                            b' in', b'ter', b'f', b'a', b'ce']


def check_committed_fixtures():
    """The committed files say what the manifest says, the three dtype variants
    and the fla copy hold the same values, and the goldens reproduce."""
    with open(os.path.join(MODELS, 'MANIFEST.json')) as f:
        man = json.load(f)['files']
    for name, e in man.items():
        path = os.path.join(MODELS, name)
        assert make_fixtures.sha256(path) == e['sha256'], name
    w, dt = pth_io.read_pth(os.path.join(MODELS, 'rwkv7-tiny-bf16.pth'))
    assert set(dt.values()) == {'bf16'}
    for other in ('rwkv7-tiny-fp16.pth', 'rwkv7-tiny-fp32.pth'):
        w2, _ = pth_io.read_pth(os.path.join(MODELS, other))
        assert list(w2) == list(w) and all(np.array_equal(w[k], w2[k]) for k in w)
    fla, _, _ = pth_io.read_safetensors(os.path.join(MODELS, 'rwkv7-tiny-fla', 'model.safetensors'))
    back = pth_io.fla_to_official(fla)
    assert all(np.array_equal(back[k], w[k]) for k in back)
    with open(os.path.join(MODELS, 'rwkv7-tiny.json')) as f:
        info = json.load(f)
    lg, st = rwkv_ref.run(w, info['tokens'])
    assert np.array_equal(lg.astype(np.float32), np.load(os.path.join(MODELS, 'rwkv7-tiny-logits.npy')))
    assert np.array_equal(st['wkv'].astype(np.float32), np.load(os.path.join(MODELS, 'rwkv7-tiny-state-wkv.npy')))
    wx, _ = pth_io.read_pth(os.path.join(MODELS, 'rwkvx-tiny-bf16.pth'))
    with open(os.path.join(MODELS, 'rwkvx-tiny.json')) as f:
        ix = json.load(f)
    lgx = rwkv_ref.logits(wx, ix['tokens'], chunk_size=ix['attn_chunk_size'], topk=ix['attn_topk'],
                          attn_after=ix['attn_after'])
    assert np.array_equal(lgx.astype(np.float32), np.load(os.path.join(MODELS, 'rwkvx-tiny-logits.npy')))
    seq = seq_model(wx, ix['tokens'], chunk_size=ix['attn_chunk_size'], topk=ix['attn_topk'])
    assert np.allclose(seq, lgx, rtol=1e-9, atol=1e-9)
    for name in ('tiny-goldens.json', 'world-goldens.json'):
        path = os.path.join(TOKDIR, name)
        if not os.path.exists(path):
            continue
        with open(path, encoding='utf-8') as f:
            g = json.load(f)
        vpath = os.path.join(REPO, g['vocab']) if not g['vocab'].startswith('..') \
            else os.path.normpath(os.path.join(REPO, g['vocab']))
        if not os.path.exists(vpath):
            continue
        tok = world_vocab.Tokenizer(world_vocab.load_vocab(vpath))
        for case in g['cases']:
            raw = bytes.fromhex(case['hex'])
            assert 'text' not in case or case['text'].encode('utf-8') == raw
            assert tok.encode(raw) == case['ids'], (name, case['name'])


CHECKS = [check_one_layer_vs_restatement, check_model_vs_restatement,
          check_state_shapes_and_continuation, check_rwkvx_short_is_dense,
          check_rwkvx_sparse_vs_mask, check_bf16, check_pth_round_trip,
          check_safetensors_and_fla_mapping, check_tokenizer, check_committed_fixtures]


def main():
    failed = 0
    for check in CHECKS:
        try:
            check()
            print('PASS', check.__name__)
        except Exception:
            failed += 1
            print('FAIL', check.__name__)
            traceback.print_exc()
    print('%d of %d checks failed' % (failed, len(CHECKS)) if failed else 'all %d checks passed' % len(CHECKS))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
