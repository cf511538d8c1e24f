"""World-format vocabulary and greedy longest-match tokenizer; building a smaller code vocabulary.

File format (as rwkv_vocab_v20230424.txt): one line per token, `<id> <python literal str|bytes> <byte length>`,
ids 1..256 are the single bytes (id = byte + 1); token 0 is end-of-document and is not in the file.

Build (reads ../shared, writes tools/train/vocab_code16k.txt):
    python3 tools/train/vocab.py build --size 16384
The reduced vocabulary keeps all 256 bytes and the World entries that greedy longest match uses most on a
sample of the training split (every 8th file, validation repositories excluded), in two rounds: round 1
counts usage with the full World vocabulary, round 2 re-counts with the top 2x candidates (removing entries
shifts usage to shorter ones), and the most used are kept. Ids are renumbered in World order.
"""
import argparse
import ast
import collections
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD_VOCAB = os.path.join(HERE, "..", "..", "..", "shared", "vocab", "rwkv_vocab_v20230424.txt")
DEFAULT_VOCAB = os.path.join(HERE, "vocab_code16k.txt")


def read_vocab_lines(path):
    """[(id, literal_text, bytes)] in file order."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            i, j = line.index(" "), line.rindex(" ")
            idx, lit = int(line[:i]), line[i + 1:j]
            s = ast.literal_eval(lit)
            if isinstance(s, str):
                s = s.encode("utf-8")
            if len(s) != int(line[j + 1:]):
                raise ValueError(f"{path}: byte length mismatch on id {idx}")
            out.append((idx, lit, s))
    return out


class Tokenizer:
    """Greedy longest match over UTF-8 bytes on a 256-ary trie (nested dicts; key 256 holds the id)."""

    def __init__(self, path=DEFAULT_VOCAB):
        self.path = path
        lines = read_vocab_lines(path)
        self.vocab_size = max(i for i, _, _ in lines) + 1          # embedding rows, token 0 included
        self.id_to_bytes = [b""] * self.vocab_size
        self.root = {}
        for idx, _, s in lines:
            self.id_to_bytes[idx] = s
            node = self.root
            for c in s:
                node = node.setdefault(c, {})
            node[256] = idx
        for c in range(256):
            if self.root.get(c, {}).get(256) != c + 1:
                raise ValueError(f"{path}: single byte {c} must be id {c + 1}")
        self.token_bytes = [len(s) for s in self.id_to_bytes]      # 0 for token 0

    def encode(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        root, out = self.root, []
        app = out.append
        i, n = 0, len(data)
        while i < n:
            node, j, best, end = root, i, 0, i
            while j < n:
                node = node.get(data[j])
                if node is None:
                    break
                j += 1
                t = node.get(256)
                if t is not None:
                    best, end = t, j
            app(best)
            i = end
        return out

    def decode(self, ids):
        return b"".join(self.id_to_bytes[i] for i in ids)


def _count_worker(args):
    vocab_path, texts = args
    tok = Tokenizer(vocab_path)
    cnt = collections.Counter()
    nbytes = ntok = 0
    for t in texts:
        ids = tok.encode(t)
        cnt.update(ids)
        nbytes += len(t.encode("utf-8"))
        ntok += len(ids)
    return cnt, nbytes, ntok


def count_usage(vocab_path, texts, procs):
    from multiprocessing import Pool
    parts = [(vocab_path, texts[i::procs * 4]) for i in range(procs * 4)]
    total, nbytes, ntok = collections.Counter(), 0, 0
    with Pool(procs) as pool:
        for c, b, t in pool.imap_unordered(_count_worker, parts):
            total.update(c)
            nbytes += b
            ntok += t
    return total, nbytes / max(ntok, 1)


def write_subset(world_lines, keep_ids, path):
    """Write the World entries whose ids are in keep_ids, renumbered 1.. in World order."""
    with open(path, "w", encoding="utf-8") as f:
        new = 0
        for idx, lit, s in world_lines:
            if idx in keep_ids:
                new += 1
                f.write(f"{new} {lit} {len(s)}\n")
    return new


def build(args):
    import data  # corpus reader and split
    t0 = time.time()
    world = read_vocab_lines(args.world)
    texts = []
    for shard in data.shard_paths(args.corpus):
        for n, rec in enumerate(data.iter_records(shard)):
            if data.is_val_repo(rec["repo"]) or n % args.sample_every:
                continue
            texts.append(data.file_piece(rec))
    print(f"sample: {len(texts)} files, {sum(map(len, texts)) / 1e6:.1f} M chars ({time.time() - t0:.0f}s)", flush=True)
    n_keep = args.size - 1 - 256                                    # ids 1..size-1, bytes included
    cnt, bpt_world = count_usage(args.world, texts, args.procs)
    print(f"round 1 (World, {len(world)} entries): {bpt_world:.3f} bytes/token", flush=True)
    cand = [i for i, _ in cnt.most_common() if i > 256][: 2 * n_keep]
    tmp = args.out + ".tmp"
    write_subset(world, set(range(1, 257)) | set(cand), tmp)
    cnt2, bpt2 = count_usage(tmp, texts, args.procs)
    # map the candidate file's ids back to World ids (same order)
    cand_sorted = sorted(set(range(1, 257)) | set(cand))
    ranked = [cand_sorted[i - 1] for i, _ in cnt2.most_common() if i > 256]
    keep = set(range(1, 257)) | set(ranked[:n_keep])
    # candidates never used in round 2 can leave the vocabulary short: fill from round 1's order
    for i in cand:
        if len(keep) >= n_keep + 256:
            break
        keep.add(i)
    os.remove(tmp)
    n = write_subset(world, keep, args.out)
    cnt3, bpt3 = count_usage(args.out, texts, args.procs)
    print(f"round 2 ({len(cand_sorted)} entries): {bpt2:.3f} bytes/token; final {n} entries "
          f"(+ token 0 = {n + 1} ids): {bpt3:.3f} bytes/token on the sample ({time.time() - t0:.0f}s)")
    meta = {"vocab": os.path.basename(args.out), "entries": n, "vocab_size": n + 1,
            "source": "rwkv_vocab_v20230424.txt subset", "sample_every": args.sample_every,
            "sample_files": len(texts), "bytes_per_token_world": round(bpt_world, 4),
            "bytes_per_token_final": round(bpt3, 4)}
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--size", type=int, default=16384, help="embedding rows (token 0 included)")
    b.add_argument("--world", default=WORLD_VOCAB)
    b.add_argument("--corpus", default=None)
    b.add_argument("--sample-every", type=int, default=8)
    b.add_argument("--procs", type=int, default=os.cpu_count())
    b.add_argument("--out", default=DEFAULT_VOCAB)
    e = sub.add_parser("encode", help="print the ids of a string")
    e.add_argument("text")
    e.add_argument("--vocab", default=DEFAULT_VOCAB)
    args = ap.parse_args()
    if args.cmd == "build":
        build(args)
    else:
        tok = Tokenizer(args.vocab)
        ids = tok.encode(args.text)
        print(ids)
        assert tok.decode(ids) == args.text.encode("utf-8")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
