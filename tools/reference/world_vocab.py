"""RWKV World vocabulary files and a plain greedy-longest-match tokenizer.

File format, one token per line: `<id> <python str or bytes literal> <byte length>`.
A str literal stands for its UTF-8 bytes. Token 0 (end of document) is not in
the file. Independent of the engine's trie: a dict lookup per candidate length.
"""
import ast


def parse_line(line):
    """'123 b"\\xe4" 1' -> (123, b'\\xe4'); checks the stated byte length."""
    first = line.index(' ')
    last = line.rindex(' ')
    tid = int(line[:first])
    lit = ast.literal_eval(line[first + 1:last])
    raw = lit.encode('utf-8') if isinstance(lit, str) else lit
    if not isinstance(raw, bytes) or len(raw) != int(line[last + 1:]):
        raise ValueError('bad vocabulary line: %r' % line)
    return tid, raw


def load_vocab(path):
    """-> dict id -> bytes (id 0 not included)."""
    vocab = {}
    with open(path, 'r', encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n')
            if line:
                tid, raw = parse_line(line)
                vocab[tid] = raw
    return vocab


def format_line(tid, raw):
    """The line the official file would have: repr of the str when the bytes are
    valid UTF-8, else repr of the bytes."""
    try:
        lit = repr(raw.decode('utf-8'))
    except UnicodeDecodeError:
        lit = repr(raw)
    return '%d %s %d' % (tid, lit, len(raw))


class Tokenizer:
    def __init__(self, vocab):
        self.vocab = dict(vocab)
        self.ids = {raw: tid for tid, raw in self.vocab.items()}
        if len(self.ids) != len(self.vocab):
            raise ValueError('duplicate token bytes in vocabulary')
        self.max_len = max(len(b) for b in self.ids)

    def encode(self, data):
        """bytes (or str, taken as UTF-8) -> token ids, longest match first."""
        if isinstance(data, str):
            data = data.encode('utf-8')
        out, i = [], 0
        while i < len(data):
            for n in range(min(self.max_len, len(data) - i), 0, -1):
                tid = self.ids.get(data[i:i + n])
                if tid is not None:
                    out.append(tid)
                    i += n
                    break
            else:
                raise ValueError('byte %d has no token' % data[i])
        return out

    def decode(self, ids):
        return b''.join(self.vocab[t] for t in ids if t != 0)
