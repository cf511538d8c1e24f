"""Corpus reading, validation split, repository layout, token caches and batches.

Layout (the extension's context log): each repository is its files in corpus order, each written as
    "File: <path>\n" + text + "\n\n"
tokenized file by file (greedy match never crosses a file boundary, as the context log's segments),
then token 0 (end of document) after the repository's last file.

Validation split: whole repositories, chosen by a fixed rule (sha256("rwkvx-val-v1:" + repo) < 4% of
the hash range): babel/babel, colinhacks/zod, mikro-orm/mikro-orm, BurntSushi/ripgrep on the current
corpus (val_repos.txt). Never trained on.

Token caches (one set per shard, uint16 because the vocabulary has < 65,536 ids):
    <cache>/<shard>.train.npy, <shard>.val.npy    the token streams of each split
    <cache>/<shard>.index.json                     per repository: split, [start, end) in its stream, files

    python3 tools/train/data.py tokenize --corpus DIR --cache DIR [--procs 16]
"""
import argparse
import glob
import hashlib
import json
import lzma
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VAL_SALT = "rwkvx-val-v1"
VAL_FRACTION = 0.04


def default_corpus():
    for d in (os.path.join(REPO_ROOT, "..", "shared", "corpus"), os.path.join(REPO_ROOT, ".device-carry")):
        if glob.glob(os.path.join(d, "shard-*.jsonl.xz")):
            return os.path.abspath(d)
    return os.path.join(REPO_ROOT, "..", "shared", "corpus")


def shard_paths(corpus=None):
    return sorted(glob.glob(os.path.join(corpus or default_corpus(), "shard-*.jsonl.xz")))


def iter_records(path):
    with lzma.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def is_val_repo(repo):
    h = int(hashlib.sha256(f"{VAL_SALT}:{repo}".encode()).hexdigest()[:8], 16)
    return h / 2 ** 32 < VAL_FRACTION


def file_piece(rec):
    return f"File: {rec['path']}\n{rec['text']}\n\n"


_TOK = None


def _init_worker(vocab_path):
    global _TOK
    from vocab import Tokenizer
    _TOK = Tokenizer(vocab_path)


def _encode(piece):
    return np.asarray(_TOK.encode(piece), dtype=np.uint16)


def tokenize_shard(shard, vocab_path, cache, procs, max_files=0, sample_every=1, only_val=False):
    """Tokenize one shard into its cache files; returns a summary dict."""
    import itertools
    from multiprocessing import Pool
    t0 = time.time()
    name = os.path.basename(shard).split(".")[0]
    recs = list(itertools.islice(iter_records(shard), 0, max_files or None, sample_every))
    if only_val:                                   # evaluation caches: the validation repositories alone
        recs = [r for r in recs if is_val_repo(r["repo"])]
    t_read = time.time() - t0
    pieces = [file_piece(r) for r in recs]
    with Pool(procs, initializer=_init_worker, initargs=(vocab_path,)) as pool:
        toks = pool.map(_encode, pieces, chunksize=64)
    streams = {"train": [], "val": []}
    pos = {"train": 0, "val": 0}
    index, cur = [], None
    eod = np.zeros(1, dtype=np.uint16)
    for r, t in zip(recs, toks):
        if cur is None or cur["repo"] != r["repo"]:
            if cur is not None:
                streams[cur["split"]].append(eod)
                pos[cur["split"]] += 1
                cur["end"] = pos[cur["split"]]
            split = "val" if is_val_repo(r["repo"]) else "train"
            cur = {"repo": r["repo"], "split": split, "start": pos[split], "file_starts": [], "paths": []}
            index.append(cur)
        cur["file_starts"].append(pos[cur["split"]])
        cur["paths"].append(r["path"])
        streams[cur["split"]].append(t)
        pos[cur["split"]] += len(t)
    if cur is not None:
        streams[cur["split"]].append(eod)
        pos[cur["split"]] += 1
        cur["end"] = pos[cur["split"]]
    os.makedirs(cache, exist_ok=True)
    for split, parts in streams.items():
        arr = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint16)
        np.save(os.path.join(cache, f"{name}.{split}.npy"), arr)
    nbytes = sum(len(p.encode("utf-8")) for p in pieces)
    ntok = sum(len(t) for t in toks)
    summary = {"shard": name, "vocab": os.path.basename(vocab_path), "files": len(recs), "bytes": nbytes,
               "tokens": ntok, "bytes_per_token": round(nbytes / max(ntok, 1), 4),
               "train_tokens": pos["train"], "val_tokens": pos["val"],
               "val_repos": [x["repo"] for x in index if x["split"] == "val"],
               "read_s": round(t_read, 1), "total_s": round(time.time() - t0, 1), "procs": procs}
    with open(os.path.join(cache, f"{name}.index.json"), "w") as f:
        json.dump({"summary": summary, "repos": index}, f)
    return summary


def load_split(cache, split):
    """Concatenate the shards' streams of one split in shard order; also return repository spans."""
    arrs, spans, off = [], [], 0
    for idx_path in sorted(glob.glob(os.path.join(cache, "shard-*.index.json"))):
        name = os.path.basename(idx_path).split(".")[0]
        arr = np.load(os.path.join(cache, f"{name}.{split}.npy"), mmap_mode="r")
        with open(idx_path) as f:
            meta = json.load(f)
        for rep in meta["repos"]:
            if rep["split"] == split:
                spans.append((rep["repo"], off + rep["start"], off + rep["end"]))
        arrs.append(np.asarray(arr))
        off += len(arr)
    stream = np.concatenate(arrs) if arrs else np.zeros(0, dtype=np.uint16)
    return stream, spans


class WindowBatches:
    """Windows of seq_len+1 tokens starting at `starts`, visited in a seeded permutation per epoch. Batch `step`
    of rank `rank` is a pure function of (seed, step, rank, world), so a resumed run sees exactly the data it
    would have seen."""

    def __init__(self, stream, starts, seq_len, batch_per_rank, seed, rank=0, world=1):
        self.stream, self.starts, self.T, self.bs = stream, np.asarray(starts, dtype=np.int64), seq_len, batch_per_rank
        self.seed, self.rank, self.world = seed, rank, world
        self.n_windows = len(self.starts)
        self.per_step = batch_per_rank * world
        self.steps_per_epoch = self.n_windows // self.per_step
        if self.steps_per_epoch < 1:
            raise ValueError("not enough windows for one step")
        self._perm_epoch, self._perm = -1, None

    def batch(self, step):
        epoch, s = divmod(step, self.steps_per_epoch)
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n_windows)
            self._perm_epoch = epoch
        first = s * self.per_step + self.rank * self.bs
        idx = self.starts[self._perm[first:first + self.bs]][:, None] + np.arange(self.T + 1)[None, :]
        return self.stream[idx].astype(np.int64), epoch


class Stage1Batches(WindowBatches):
    """Stage 1: fixed windows over the concatenated training stream (window i starts at token seq_len*i, so
    consecutive windows share one token)."""

    def __init__(self, stream, seq_len, batch_per_rank, seed, rank=0, world=1):
        n = (len(stream) - 1) // seq_len
        super().__init__(stream, np.arange(n, dtype=np.int64) * seq_len, seq_len, batch_per_rank, seed, rank, world)


def val_windows(stream, seq_len, n):
    """n windows of seq_len+1 tokens spread evenly over the validation stream (deterministic)."""
    n_win = (len(stream) - 1) // seq_len
    pick = np.linspace(0, n_win - 1, num=min(n, n_win)).astype(np.int64)
    idx = pick[:, None] * seq_len + np.arange(seq_len + 1)[None, :]
    return stream[idx].astype(np.int64)


def repo_sequences(stream, spans, seq_len, min_len):
    """Stage 2: whole repositories cut into consecutive pieces of at most seq_len+1 tokens (pieces shorter
    than min_len dropped). Returns a list of (repo, start, end)."""
    out = []
    for repo, a, b in spans:
        for s in range(a, b - 1, seq_len):
            e = min(s + seq_len + 1, b)
            if e - s >= min_len:
                out.append((repo, s, e))
    return out


class Stage2Batches(WindowBatches):
    """Stage 2: windows that start where a repository (or one of its seq_len pieces, `repo_sequences`) starts,
    so a window holds whole files laid out as the context log lays out a workspace; a repository shorter than
    the window is followed by the next one."""

    def __init__(self, stream, spans, seq_len, batch_per_rank, seed, rank=0, world=1, min_len=1024, recall=None):
        min_len = min(min_len, seq_len // 2)
        starts = [s for _, s, _ in repo_sequences(stream, spans, seq_len, min_len) if s + seq_len + 1 <= len(stream)]
        super().__init__(stream, starts, seq_len, batch_per_rank, seed, rank, world)
        self.recall = recall

    def batch(self, step):
        w, epoch = super().batch(step)
        if self.recall is not None:
            w = np.stack([self.recall(row, step, self.rank, i) for i, row in enumerate(w)])
        return w, epoch


# Synthetic long-range recall for stage 2 (train.py --recall P). A "fact" binds a random name to a random value
# once in the window; a later line asks for it with a prefix after which only the value fits, so the value's
# tokens can be predicted only by finding the fact, possibly tens of thousands of tokens back. The pairs are
# code-shaped (a definition and a use); none is the evaluation's passkey sentence.
RECALL_WORDS = ("max retry count user session cache token limit port host path mode level buffer size timeout "
                "index offset seed version build region queue worker batch shard key secret salt owner flag "
                "color theme width height depth margin page chunk block frame rate delay window budget").split()
RECALL_PAIRS = (
    ('const {UP} = "{v}";', 'expect({UP}).toBe("{v}");'),
    ("{snake} = {v}  # fixed", "assert config.{snake} == {v}"),
    ("#define {UP} {v}", "static_assert({UP} == {v});"),
    ("// {camel} must stay {v}", "// note: {camel} must stay {v}"),
    ("{snake}: {v}", "{snake}: {v}"),
    ("export const {camel} = '{v}';", "if ({camel} !== '{v}') throw new Error('{camel}');"),
    ('let {snake} = "{v}";', 'assert_eq!({snake}, "{v}");'),
)


def _recall_fill(rng):
    words = [RECALL_WORDS[i] for i in rng.choice(len(RECALL_WORDS), size=int(rng.integers(2, 4)), replace=False)]
    kind = int(rng.integers(3))
    if kind == 0:
        v = str(int(rng.integers(10 ** 3, 10 ** 8)))
    elif kind == 1:
        v = "".join("0123456789abcdef"[i] for i in rng.integers(16, size=int(rng.integers(6, 11))))
    else:
        v = "-".join(RECALL_WORDS[i] for i in rng.choice(len(RECALL_WORDS), size=2, replace=False))
    return {"UP": "_".join(words).upper(), "snake": "_".join(words),
            "camel": words[0] + "".join(w.title() for w in words[1:]), "v": v}


class RecallInserts:
    """Adds up to `most` fact/ask pairs to a window with probability `p`: each fact line goes in at a random
    place, its ask line at a random later place (both at token boundaries, as new lines), and the window is cut
    back to its length. Deterministic in (seed, step, rank, row)."""

    def __init__(self, tokenizer, p, seed, most=8):
        self.tok, self.p, self.seed, self.most = tokenizer, p, seed, most

    def __call__(self, w, step, rank, row):
        rng = np.random.default_rng([self.seed, step, rank, row, 0x5eca11])
        if rng.random() >= self.p:
            return w
        n = len(w)
        gap, tail = min(64, n // 16), min(512, n // 4)      # ask >= gap after its fact, >= tail before the end
        inserts = []                                        # (position in the original window, tokens)
        for _ in range(int(rng.integers(1, self.most + 1))):
            fill = _recall_fill(rng)
            fact, ask = RECALL_PAIRS[int(rng.integers(len(RECALL_PAIRS)))]
            a = int(rng.integers(0, int(n * 0.8)))
            b = int(rng.integers(a + gap, n - tail)) if a + gap < n - tail else None
            if b is None:
                continue
            for pos, text in ((a, fact), (b, ask)):
                inserts.append((pos, np.asarray(self.tok.encode("\n" + text.format(**fill) + "\n"), dtype=w.dtype)))
        for pos, t in sorted(inserts, key=lambda x: -x[0]):  # from the back: earlier positions stay valid
            w = np.concatenate([w[:pos], t, w[pos:]])
        return w[:n]


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tokenize")
    t.add_argument("--corpus", default=None)
    t.add_argument("--shards", nargs="*", default=None, help="shard names (default: all found)")
    t.add_argument("--vocab", default=os.path.join(HERE, "vocab_code16k.txt"))
    t.add_argument("--cache", default=os.path.join(REPO_ROOT, ".tmp", "tokens"))
    t.add_argument("--procs", type=int, default=os.cpu_count())
    t.add_argument("--max-files", type=int, default=0, help="smoke tests: only the first N records")
    t.add_argument("--sample-every", type=int, default=1, help="smoke tests: every Nth record")
    t.add_argument("--only-val", action="store_true", help="tokenize the validation repositories only")
    sub.add_parser("val-repos")
    args = ap.parse_args()
    if args.cmd == "val-repos":
        for p in shard_paths():
            seen = []
            for r in iter_records(p):
                if is_val_repo(r["repo"]) and r["repo"] not in seen:
                    seen.append(r["repo"])
                    print(r["repo"])
        return
    for p in shard_paths(args.corpus):
        name = os.path.basename(p).split(".")[0]
        if args.shards and name not in args.shards:
            continue
        if os.path.exists(os.path.join(args.cache, f"{name}.index.json")):
            print(f"{name}: cached")
            continue
        print(json.dumps(tokenize_shard(p, args.vocab, args.cache, args.procs, args.max_files, args.sample_every, args.only_val)), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
