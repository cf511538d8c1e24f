"""Writes the small committed fixtures the engine is tested against.

    python3 tools/reference/make_fixtures.py            (from the repo root)

Deterministic (fixed seeds, no timestamps): rerunning gives byte-identical files.
Outputs under test/fixtures/models/ and test/fixtures/tokenizer/; the shared
World vocabulary (../shared/vocab/, never committed) is read for the tokenizer
goldens when present.
"""
import hashlib
import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pth_io      # noqa: E402
import rwkv_ref    # noqa: E402
import world_vocab  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
MODELS = os.path.join(REPO, 'test', 'fixtures', 'models')
TOKDIR = os.path.join(REPO, 'test', 'fixtures', 'tokenizer')
SHARED_VOCAB_REL = '../shared/vocab/rwkv_vocab_v20230424.txt'   # from the repo root
SHARED_VOCAB = os.path.normpath(os.path.join(REPO, SHARED_VOCAB_REL))

# ---------------------------------------------------------------------------
# tiny vocabulary

WORDS = '''the of and to in is that for it with as was on be by this are from at or an
not have we you can will all one but they which their has more if new also time
model token state file code data value key list type name line text read write
return class self print import function const let var else while true false none
null string number error open close start end size next first last user hello world
update input output result test main init call path node load save run make'''.split()

CODE = ['def ', 'class ', 'return', 'return ', 'import ', 'from ', 'self', 'self.', '__init__',
        'function', 'const ', 'let ', 'var ', 'if ', 'else', 'elif ', 'for ', 'while ', '==', '!=',
        '<=', '>=', '=>', '->', '::', '()', '();', '{}', '[]', '{\n', '}\n', '});', '//', '/*', '*/',
        '#include', 'int ', 'void ', 'std::', 'print(', 'console.log(', 'True', 'False', 'None',
        'null', 'undefined', 'async ', 'await ', 'export ', 'type ', '...', '++', '+=', '"""',
        "'''", '```', '):\n', ') {\n', '0x', '00', '10', '100', '2024', '//!', '#!/', '</', '/>',
        '<think>', '</think>', 'User:', 'Assistant:', ' = ', ', ', '. ', ': ', '; ']
# a prefix chain with holes: "interface" is a token but "inter"/"interf"/... are
# not, so a trie walk passes through non-token nodes before its longest match
TRAPS = ['in', 'int', 'inte', 'interface', 'ab', 'abcdef', 'xyz', 'xyzw']
SPACES = ['  ', '   ', '    ', '        ', '\t\t', '\t\t\t', '\n\n', '\n\n\n', '\r\n', '\r\n\r\n',
          '\n    ', '\n        ', '\n\t', '\n\t\t', ' \n', '\n ', ' ' * 16, ' ' * 32, '#' * 8, '-' * 16]
SYLLABLES = '''th he an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le
ve co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur ing ion tion ent ment ation ers est
pro con com per ter ver str ect'''.split()
UTF8 = ['é', 'è', 'ü', 'ö', 'ñ', 'ç', 'ß', 'ï', 'é ', ' é', '\u0301', 'e\u0301', '中', '文', '中文', '你',
        '好', '你好', '世界', '日本', 'の', 'は', '한', '국', '😀', '🚀', '👍', '😀😀', '—', '’', '“', '”',
        '…', '→', 'λ', 'π', 'Ω', '€', '\u200d', '𝔘']
PARTIAL = [b'\xe4\xb8', b'\xf0\x9f', b'\x98\x80', b'\xe2\x80', b'\xc3']


def tiny_vocab_tokens():
    toks = set()
    for k, w in enumerate(WORDS):
        toks.update([w, ' ' + w] + ([w.capitalize(), ' ' + w.capitalize()] if k < 6 else []))
    toks.update(CODE + TRAPS + SPACES + SYLLABLES)
    raw = {t.encode('utf-8') for t in toks} | {t.encode('utf-8') for t in UTF8} | set(PARTIAL)
    raw = {b for b in raw if len(b) > 1}
    return sorted(raw, key=lambda b: (len(b), b))   # official order: by length, then bytes


def write_tiny_vocab(path):
    lines = [world_vocab.format_line(i + 1, bytes([i])) for i in range(256)]
    for k, raw in enumerate(tiny_vocab_tokens()):
        lines.append(world_vocab.format_line(257 + k, raw))
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.write('\n'.join(lines) + '\n')


# ---------------------------------------------------------------------------
# tiny random models

def fixture_values(x):
    """Round to bf16 and flush |x| < 2^-14 to zero, so that the same numbers are
    exact in bf16, fp16 and fp32: one golden set covers every dtype variant."""
    q = pth_io.round_bf16(np.asarray(x, dtype=np.float32))
    q[np.abs(q) < 2.0 ** -14] = 0.0
    return q


def rwkv7_weights(rng, V, C, L, F, ranks, with_layer0_v=True):
    """Official-layout RWKV-7 weights with a sensible random init: LN outputs stay
    near unit scale, decays spread over (0.55, 1), logits spread over a few units."""
    H = C // 64
    Dw, Da, Dv, Dg = ranks
    nrm = lambda *shape, s=1.0: rng.standard_normal(shape) * s      # noqa: E731
    uni = lambda lo, hi, *shape: rng.uniform(lo, hi, shape)         # noqa: E731
    vec = lambda a: a.reshape(1, 1, C)                                # noqa: E731
    w = {'emb.weight': nrm(V, C)}
    for i in range(L):
        b = 'blocks.%d.' % i
        if i == 0:
            w[b + 'ln0.weight'], w[b + 'ln0.bias'] = uni(0.6, 1.4, C), nrm(C, s=0.1)
        w[b + 'ln1.weight'], w[b + 'ln1.bias'] = uni(0.6, 1.4, C), nrm(C, s=0.1)
        w[b + 'ln2.weight'], w[b + 'ln2.bias'] = uni(0.6, 1.4, C), nrm(C, s=0.1)
        for c in 'rwkvag':
            w[b + 'att.x_' + c] = vec(uni(0.0, 1.0, C))
        w[b + 'att.w0'] = vec(uni(-5.0, 2.0, C))        # sigmoid(d) over ~(0.007, 0.9)
        w[b + 'att.w1'], w[b + 'att.w2'] = nrm(C, Dw, s=C ** -0.5), nrm(Dw, C, s=Dw ** -0.5)
        w[b + 'att.a0'] = vec(uni(-2.0, 2.0, C))
        w[b + 'att.a1'], w[b + 'att.a2'] = nrm(C, Da, s=C ** -0.5), nrm(Da, C, s=Da ** -0.5)
        if i > 0 or with_layer0_v:                       # layer 0's v0/v1/v2 are unused
            w[b + 'att.v0'] = vec(uni(-1.5, 1.5, C))
            w[b + 'att.v1'], w[b + 'att.v2'] = nrm(C, Dv, s=C ** -0.5), nrm(Dv, C, s=Dv ** -0.5)
        w[b + 'att.g1'], w[b + 'att.g2'] = nrm(C, Dg, s=C ** -0.5), nrm(Dg, C, s=Dg ** -0.5)
        w[b + 'att.k_k'] = vec(uni(0.5, 1.0, C))
        w[b + 'att.k_a'] = vec(uni(0.5, 1.5, C))
        w[b + 'att.r_k'] = nrm(H, 64, s=0.1)
        for m in ('receptance', 'key', 'value', 'output'):
            w[b + 'att.%s.weight' % m] = nrm(C, C, s=C ** -0.5)
        w[b + 'att.ln_x.weight'], w[b + 'att.ln_x.bias'] = uni(0.5, 1.5, C), nrm(C, s=0.1)
        w[b + 'ffn.x_k'] = vec(uni(0.0, 1.0, C))
        w[b + 'ffn.key.weight'] = nrm(F, C, s=C ** -0.5)
        w[b + 'ffn.value.weight'] = nrm(C, F, s=0.5 * F ** -0.5)
    w['ln_out.weight'], w['ln_out.bias'] = uni(0.6, 1.4, C), nrm(C, s=0.1)
    w['head.weight'] = nrm(V, C, s=1.5 * C ** -0.5)
    return {k: fixture_values(v) for k, v in w.items()}


def moba_weights(rng, C, F, j):
    nrm = lambda *shape, s=1.0: rng.standard_normal(shape) * s      # noqa: E731
    b = 'moba.%d.' % j
    w = {
        b + 'ln1.weight': rng.uniform(0.6, 1.4, C), b + 'ln1.bias': nrm(C, s=0.1),
        b + 'ln2.weight': rng.uniform(0.6, 1.4, C), b + 'ln2.bias': nrm(C, s=0.1),
        # q and k at ~1.5 per component: scaled scores q.k/8 spread by ~2
        b + 'att.receptance.weight': nrm(C, C, s=1.5 * C ** -0.5),
        b + 'att.key.weight': nrm(C, C, s=1.5 * C ** -0.5),
        b + 'att.value.weight': nrm(C, C, s=C ** -0.5),
        b + 'att.output.weight': nrm(C, C, s=C ** -0.5),
        b + 'ffn.x_k': rng.uniform(0.0, 1.0, C).reshape(1, 1, C),
        b + 'ffn.key.weight': nrm(F, C, s=C ** -0.5),
        b + 'ffn.value.weight': nrm(C, F, s=0.5 * F ** -0.5),
    }
    return {k: fixture_values(v) for k, v in w.items()}


# ---------------------------------------------------------------------------
# text for the token sequences

TEXT_RWKV7 = ('def update(self, key, value):\n    """Write the new value."""\n'
              '    if key in self.state:\n        return self.state[key]\n\n'
              'User: 你好 😀 what is the model state?\r\n\r\nAssistant: <think>\n</think> '
              'The token interface returns a list of values.\n')
TEXT_RWKVX = ('export function load(path) {\n  const data = read(path);\n  if (data == null) {\n'
              '    console.log("open error: " + path);\n    return undefined;\n  }\n'
              '  return data;\n}\n\n// The state of the model is a file of values; the key '
              'and the value of each token are saved. Hello world, 中文 and é.\n'
              'class Node:\n    def __init__(self, name):\n        self.name = name\n'
              '        self.next = None\n\nUser: print the first line of the text\n\n'
              'Assistant: <think>\n</think> The first line is the main input of the test.\n')


def tokens_from(tok, text, n):
    ids = tok.encode(text)
    if len(ids) < n:
        raise ValueError('text gives only %d tokens, need %d' % (len(ids), n))
    return [0] + ids[:n - 1]          # start with end-of-document (id 0), as a document would


# ---------------------------------------------------------------------------

def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def save_npy(path, arr, dtype):
    np.save(path, np.ascontiguousarray(arr, dtype=dtype))


def model_stats(model, tokens, logits):
    """Numbers that show the random init is in a healthy range."""
    st = model.new_state()
    w_min, w_max, hid = 1.0, 0.0, []
    for t in tokens:
        x = rwkv_ref.layer_norm(model.emb[t], *model.ln0)
        v_first = None
        for i, p in enumerate(model.blocks):
            xx = rwkv_ref.layer_norm(x, p['ln1.weight'], p['ln1.bias'])
            xw = xx + (st['att_x'][i] - xx) * p['att.x_w']
            d = p['att.w0'] + np.tanh(xw @ p['att.w1']) @ p['att.w2']
            w = np.exp(-rwkv_ref.DECAY * rwkv_ref.sigmoid(d))
            w_min, w_max = min(w_min, w.min()), max(w_max, w.max())
            x, v_first = model.rwkv_block(i, p, x, st, v_first)
            for j, after in enumerate(model.attn_after):
                if after == i:
                    x = model.attn_block(j, model.attn[j], x, st)
            hid.append(float(np.sqrt((x ** 2).mean())))
        st['pos'] += 1
    return {'decay_min': round(float(w_min), 4), 'decay_max': round(float(w_max), 6),
            'hidden_rms_max': round(max(hid), 3), 'hidden_rms_min': round(min(hid), 3),
            'logits_std': round(float(logits.std()), 3),
            'logits_min': round(float(logits.min()), 3), 'logits_max': round(float(logits.max()), 3),
            'wkv_abs_max': round(float(np.abs(st['wkv']).max()), 3)}


def selection_margin(model, tokens):
    """Smallest score gap, over all top-k choices made, between the last chunk
    chosen and the best chunk left out: a fp32 engine must pick the same chunks."""
    st = model.new_state()
    worst = np.inf
    orig = rwkv_ref.moba_positions

    def watch(q, K, t, B, topk):
        nonlocal worst
        c = t // B
        if c > topk - 1:
            s = sorted((float(q @ K[i * B:(i + 1) * B].mean(axis=0)) for i in range(c)), reverse=True)
            worst = min(worst, s[topk - 2] - s[topk - 1])
        return orig(q, K, t, B, topk)
    rwkv_ref.moba_positions = watch
    try:
        model.run(tokens, st)
    finally:
        rwkv_ref.moba_positions = orig
    return worst


def tokenizer_cases():
    rng = np.random.default_rng(7)
    pieces = ['def f(x):\n    return x * 2\n', '\r\n', '\t\t', ' ' * 37, '你好，世界。', '😀👍🏽',
              'e\u0301', 'The model reads the file. ', '{"key": [1, 2, 3]}', '#' * 90,
              'Ünïcödé ', '𝔘𝔫𝔦', 'интерфейс ', 'السلام ', '\n\n', 'const x = () => {};\n']
    mixed = []
    while sum(len(p.encode('utf-8')) for p in mixed) < 10240:
        mixed.append(pieces[rng.integers(len(pieces))])
    mixed = ''.join(mixed).encode('utf-8')[:10240]
    mixed = mixed.decode('utf-8', errors='ignore').encode('utf-8')   # cut at a char boundary
    return [
        ('empty', b''),
        ('ascii_code', b'def update(self, key):\n    return {"k": key, "n": 42}  # done\n'),
        ('crlf', b'line one\r\nline two\r\n\r\nend\r'),
        ('long_space_run', b' ' * 300 + b'x' + b' ' * 129 + b'y'),
        ('tabs', b'\tif (a) {\n\t\treturn b;\n\t}\n\t\t\t\tend'),
        ('emoji', '😀 👍🏽 🚀 family 👨\u200d👩\u200d👧 flags 🇯🇵'.encode('utf-8')),
        ('four_byte_other', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎𠜱 𝄞'.encode('utf-8')),
        ('cjk', '你好，世界。日本語のテキスト。한국어 문장'.encode('utf-8')),
        ('combining_marks', 'e\u0301 a\u0308 n\u0303 Z\u0335\u0321 \u0301alone'.encode('utf-8')),
        ('invalid_utf8', b'\xff\xfe ab \xc3\x28 \xe2\x82 \xf0\x9f\x98 \x80\x80 \xed\xa0\x80 end'),
        ('nul_and_controls', b'\x00\x01\x1b[0m\x7f'),
        ('chat', b'User: hi\n\nAssistant: <think>\nok\n</think> hello'),
        ('long_rules', b'#' * 200 + b'\n' + b'-' * 100),
        ('greedy_trap', b'interface inter interf int in i abcde abcdef xyz'),
        ('mixed_10k', mixed),
    ]


def tokenizer_goldens(vocab_path, vocab_label):
    tok = world_vocab.Tokenizer(world_vocab.load_vocab(vocab_path))
    cases = []
    for name, raw in tokenizer_cases():
        ids = tok.encode(raw)
        assert tok.decode(ids) == raw
        case = {'name': name, 'hex': raw.hex()}
        try:
            case['text'] = raw.decode('utf-8')
        except UnicodeDecodeError:
            pass                      # invalid UTF-8: only the hex bytes
        case['ids'] = ids
        cases.append(case)
    return {'vocab': vocab_label, 'vocab_sha256': sha256(vocab_path),
            'algorithm': 'greedy longest match over raw bytes (tools/reference/world_vocab.py)',
            'cases': cases}


def write_json(path, obj):
    text = json.dumps(obj, indent=1, ensure_ascii=False)
    # lists of numbers on one line: token sequences stay readable (a JSON string
    # cannot hold a raw newline, so only real arrays match)
    text = re.sub(r'\[\n\s*(-?[\d.e+-]+(?:,\n\s*-?[\d.e+-]+)*)\n\s*\]',
                  lambda m: '[' + ', '.join(x.strip() for x in m.group(1).split(',')) + ']', text)
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.write(text + '\n')


def main():
    os.makedirs(MODELS, exist_ok=True)
    os.makedirs(TOKDIR, exist_ok=True)
    os.makedirs(os.path.join(MODELS, 'rwkv7-tiny-fla'), exist_ok=True)
    P = lambda name: os.path.join(MODELS, name)      # noqa: E731
    manifest = {}

    # -- vocabulary
    write_tiny_vocab(P('tiny-vocab.txt'))
    tiny = world_vocab.load_vocab(P('tiny-vocab.txt'))
    tok = world_vocab.Tokenizer(tiny)
    n_ids = max(tiny) + 1
    V = (n_ids + 63) // 64 * 64             # embeddings padded past the vocabulary, as released models are
    manifest['tiny-vocab.txt'] = {'purpose': 'World-format vocabulary of the tiny models',
                                  'tokens': len(tiny), 'max_id': max(tiny), 'model_vocab_rows': V}

    # -- RWKV-7
    C, L, F, ranks = 128, 2, 512, (32, 32, 16, 64)
    w7 = rwkv7_weights(np.random.default_rng(1234), V, C, L, F, ranks)
    pth_io.write_pth(P('rwkv7-tiny-bf16.pth'), w7, 'bf16')
    pth_io.write_pth(P('rwkv7-tiny-fp16.pth'), w7, 'fp16')
    pth_io.write_pth(P('rwkv7-tiny-fp32.pth'), w7, 'fp32')
    fla = pth_io.official_to_fla(w7)
    pth_io.write_safetensors(P('rwkv7-tiny-fla/model.safetensors'), fla, 'bf16')
    write_json(P('rwkv7-tiny-fla/config.json'), pth_io.fla_config(w7))
    toks7 = tokens_from(tok, TEXT_RWKV7, 64)
    m7 = rwkv_ref.Model(w7)
    lg7, st7 = m7.run(toks7)
    save_npy(P('rwkv7-tiny-logits.npy'), lg7, '<f4')
    save_npy(P('rwkv7-tiny-state-att-x.npy'), st7['att_x'], '<f4')
    save_npy(P('rwkv7-tiny-state-ffn-x.npy'), st7['ffn_x'], '<f4')
    save_npy(P('rwkv7-tiny-state-wkv.npy'), st7['wkv'], '<f4')
    info7 = {'arch': 'rwkv7', 'n_embd': C, 'n_head': C // 64, 'head_size': 64, 'n_layer': L,
             'ffn': F, 'vocab_rows': V, 'lora_rank': dict(zip('wavg', ranks)),
             'layer0_has_v0_v1_v2': True, 'tokens': toks7, 'text': TEXT_RWKV7,
             'stats': model_stats(m7, toks7, lg7)}
    write_json(P('rwkv7-tiny.json'), info7)

    # -- RWKV-X: 4 RWKV blocks, attention after blocks 1 and 3
    # FFN width 2C here (released models use 4C): the engine must read it from the shapes
    B, TOPK, LX, FX = 16, 3, 4, 256
    # seed picked (among 5678..5693) for the widest top-k score gap: 0.043
    rng = np.random.default_rng(5691)
    wx = {'rwkv.' + k: v for k, v in rwkv7_weights(rng, V, C, LX, FX, ranks, with_layer0_v=False).items()}
    for j in range(2):
        wx.update(moba_weights(rng, C, FX, j))
    pth_io.write_pth(P('rwkvx-tiny-bf16.pth'), wx, 'bf16', modern=True)
    toksx = tokens_from(tok, TEXT_RWKVX, 100)
    mx = rwkv_ref.Model(wx, chunk_size=B, topk=TOPK)
    assert mx.attn_after == [1, 3]
    trace = []
    lgx, _ = mx.run(toksx, trace=trace)
    chunks = -np.ones((2, len(toksx), C // 64, TOPK - 1), dtype=np.int32)
    for j, t, hd, chosen in trace:
        chunks[j, t, hd, :len(chosen)] = chosen
    dense = rwkv_ref.Model(wx, chunk_size=B, topk=10 ** 6).run(toksx)[0]
    margin = selection_margin(mx, toksx)
    assert margin > 2e-2, 'top-k choice too close to a tie for an fp32 engine: %g' % margin
    differs = np.abs(dense - lgx).max(axis=1)
    assert differs[:B * TOPK].max() < 1e-12 and differs[B * TOPK:].max() > 1e-3
    save_npy(P('rwkvx-tiny-logits.npy'), lgx, '<f4')
    save_npy(P('rwkvx-tiny-chunks.npy'), chunks, '<i4')
    infox = {'arch': 'rwkvx', 'n_embd': C, 'n_head': C // 64, 'head_size': 64,
             'n_rwkv_layer': LX, 'n_attn_layer': 2, 'attn_after': mx.attn_after,
             'ffn': FX, 'vocab_rows': V, 'lora_rank': dict(zip('wavg', ranks)),
             'layer0_has_v0_v1_v2': False,
             'attn_chunk_size': B, 'attn_topk': TOPK, 'attn_scale': 0.125,
             'attn_pattern': 'training (MoBA): chunks of attn_chunk_size from the sequence start; '
                             'own chunk causally + top-(attn_topk-1) strictly earlier chunks per head '
                             'by q . mean(chunk keys), ties to the lower index; dense while chunk '
                             'index <= attn_topk-1',
             'tokens': toksx, 'text': TEXT_RWKVX,
             'selection_min_score_gap': round(float(margin), 4),
             'sparse_vs_dense_max_logit_diff_after_first_dense_part': round(float(differs[B * TOPK:].max()), 4),
             'stats': model_stats(mx, toksx, lgx)}
    write_json(P('rwkvx-tiny.json'), infox)

    # -- tokenizer goldens
    write_json(os.path.join(TOKDIR, 'tiny-goldens.json'),
               tokenizer_goldens(P('tiny-vocab.txt'), 'test/fixtures/models/tiny-vocab.txt'))
    if os.path.exists(SHARED_VOCAB):
        write_json(os.path.join(TOKDIR, 'world-goldens.json'),
                   tokenizer_goldens(SHARED_VOCAB, SHARED_VOCAB_REL))
    else:
        print('note: %s missing, world-goldens.json left as it is' % SHARED_VOCAB)

    # -- manifest
    purposes = {
        'rwkv7-tiny-bf16.pth': 'RWKV-7 tiny model, official .pth layout, bf16 (torch<=2.5 record layout)',
        'rwkv7-tiny-fp16.pth': 'same values as rwkv7-tiny-bf16.pth, stored fp16',
        'rwkv7-tiny-fp32.pth': 'same values as rwkv7-tiny-bf16.pth, stored fp32',
        'rwkv7-tiny-fla/model.safetensors': 'same values, fla-hub names and shapes, bf16',
        'rwkv7-tiny-fla/config.json': 'fla-hub config.json for the safetensors model',
        'rwkv7-tiny.json': 'dimensions, token sequence and init statistics of the RWKV-7 fixtures',
        'rwkv7-tiny-logits.npy': 'golden logits after each token of rwkv7-tiny.json tokens, float32 [T, V]',
        'rwkv7-tiny-state-att-x.npy': 'final state: time-mix token shift (LN1 output) per layer [L, C]',
        'rwkv7-tiny-state-ffn-x.npy': 'final state: channel-mix token shift (LN2 output) per layer [L, C]',
        'rwkv7-tiny-state-wkv.npy': 'final state: wkv per layer [L, H, 64 value, 64 key]',
        'rwkvx-tiny-bf16.pth': 'RWKV-X tiny model, official .pth layout, bf16 (torch>=2.6 record layout)',
        'rwkvx-tiny.json': 'RWKV-X hyperparameters not in the .pth (chunk size, top-k, attn_after) and tokens',
        'rwkvx-tiny-logits.npy': 'golden logits after each token of rwkvx-tiny.json tokens, float32 [T, V]',
        'rwkvx-tiny-chunks.npy': 'earlier chunks each query attends to, int32 [attn block, T, head, topk-1], -1 = none',
    }
    for name, purpose in purposes.items():
        entry = {'purpose': purpose}
        if name.endswith('.npy'):
            a = np.load(P(name))
            entry.update(shape=list(a.shape), dtype=str(a.dtype))
        manifest[name] = entry
    manifest['rwkv7-tiny-logits.npy']['tokens'] = toks7
    manifest['rwkvx-tiny-logits.npy']['tokens'] = toksx
    for name in manifest:
        manifest[name]['bytes'] = os.path.getsize(P(name))
        manifest[name]['sha256'] = sha256(P(name))
    for name in ('tiny-goldens.json', 'world-goldens.json'):
        path = os.path.join(TOKDIR, name)
        if os.path.exists(path):
            manifest['../tokenizer/' + name] = {
                'purpose': 'tokenizer goldens (%s vocabulary)' % ('tiny' if name.startswith('tiny') else 'World'),
                'bytes': os.path.getsize(path), 'sha256': sha256(path)}
    write_json(P('MANIFEST.json'), {
        'generator': 'tools/reference/make_fixtures.py (float64 numpy reference tools/reference/rwkv_ref.py)',
        'note': 'all rwkv7-tiny weight files hold identical values (bf16-exact, fp16-exact); '
                'goldens were computed in float64 from those values',
        'files': manifest})
    total = sum(e['bytes'] for e in manifest.values())
    print('wrote %d files, %.2f MB' % (len(manifest), total / 1e6))
    print('rwkv7 stats', info7['stats'])
    print('rwkvx stats', infox['stats'], 'margin', margin)


if __name__ == '__main__':
    main()
