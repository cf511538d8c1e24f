// Greedy longest-match tokenizer over a RWKV World vocabulary file, the same
// algorithm the engine uses. Here it only counts tokens (budgets, benchmarks)
// without an engine; the engine stays the source of truth for feeding.
import { readFileSync } from 'node:fs';
import { parsePyLiteral } from './pyLiteral';

export class WorldTokenizer {
  // Trie: node 0 is the root. Children live in a hash map keyed by node*256+byte;
  // the root's children are dense because every byte is a token.
  private readonly rootChild = new Int32Array(256).fill(-1);
  private readonly children = new Map<number, number>();
  private tokenOf: Int32Array = new Int32Array(1024).fill(0);
  private nodeCount = 1;
  private readonly bytesOf: Uint8Array[] = [];

  static fromFile(path: string): WorldTokenizer {
    return WorldTokenizer.fromText(readFileSync(path, 'utf8'));
  }

  static fromText(text: string): WorldTokenizer {
    const t = new WorldTokenizer();
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const first = line.indexOf(' ');
      const last = line.lastIndexOf(' ');
      if (first < 0 || last <= first) throw new Error(`bad vocabulary line: ${line}`);
      const id = Number(line.slice(0, first));
      const bytes = parsePyLiteral(line.slice(first + 1, last));
      const len = Number(line.slice(last + 1));
      if (!Number.isInteger(id) || id <= 0 || bytes.length !== len) {
        throw new Error(`bad vocabulary line (id or length): ${line}`);
      }
      t.insert(bytes, id);
    }
    for (let b = 0; b < 256; b++) {
      if (t.rootChild[b] < 0 || t.tokenOf[t.rootChild[b]] === 0) {
        throw new Error(`vocabulary lacks the single byte ${b}`);
      }
    }
    return t;
  }

  get vocabSize(): number { return this.bytesOf.length; }

  private insert(bytes: Uint8Array, id: number): void {
    let node = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      let next = node === 0 ? this.rootChild[b] : (this.children.get(node * 256 + b) ?? -1);
      if (next < 0) {
        next = this.nodeCount++;
        if (next >= this.tokenOf.length) {
          const grown = new Int32Array(this.tokenOf.length * 2);
          grown.set(this.tokenOf);
          this.tokenOf = grown;
        }
        if (node === 0) this.rootChild[b] = next; else this.children.set(node * 256 + b, next);
      }
      node = next;
    }
    this.tokenOf[node] = id;
    this.bytesOf[id] = bytes;
  }

  encodeBytes(bytes: Uint8Array): Int32Array {
    const out = new Int32Array(bytes.length);
    let n = 0;
    for (let i = 0; i < bytes.length; ) {
      let node = this.rootChild[bytes[i]];
      let bestId = this.tokenOf[node];
      let bestLen = 1;
      for (let j = i + 1; j < bytes.length; j++) {
        const next = this.children.get(node * 256 + bytes[j]);
        if (next === undefined) break;
        node = next;
        const id = this.tokenOf[node];
        if (id !== 0) { bestId = id; bestLen = j - i + 1; }
      }
      out[n++] = bestId;
      i += bestLen;
    }
    return out.slice(0, n);
  }

  encode(text: string): Int32Array {
    return this.encodeBytes(Buffer.from(text, 'utf8'));
  }

  count(text: string): number {
    return this.encode(text).length;
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytesOf[ids[i]];
      if (!b) throw new Error(`unknown token id ${ids[i]}`);
      parts.push(b);
    }
    return Buffer.concat(parts);
  }

  decode(ids: ArrayLike<number>): string {
    return Buffer.from(this.decodeBytes(ids)).toString('utf8');
  }
}
