// Greedy longest-match tokenizer over a RWKV World vocabulary file, the same
// algorithm the engine uses. Here it only counts tokens (budgets, benchmarks)
// without an engine; the engine stays the source of truth for feeding.
import { readFileSync } from 'node:fs';
import { parsePyLiteral } from './pyLiteral';

export class WorldTokenizer {
  // Trie: node 0 is the root. Children live in an open-addressing hash table
  // keyed by node*256+byte (typed arrays: no boxing, few cache misses); the
  // root's children are dense because every byte is a token.
  private readonly rootChild = new Int32Array(256).fill(-1);
  private keys = new Int32Array(1 << 20).fill(-1);
  private vals = new Int32Array(1 << 20);
  private used = 0;
  /** 32 - log2(table size): multiplicative hashing keeps the high bits. */
  private shift = 12;
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

  private slot(key: number): number {
    const mask = this.keys.length - 1;
    let i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    while (this.keys[i] !== -1 && this.keys[i] !== key) i = (i + 1) & mask;
    return i;
  }

  private child(node: number, byte: number): number {
    const key = node * 256 + byte;
    const mask = this.keys.length - 1;
    let i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = this.keys[i];
      if (k === key) return this.vals[i];
      if (k === -1) return -1;
      i = (i + 1) & mask;
    }
  }

  private setChild(node: number, byte: number, next: number): void {
    if ((this.used + 1) * 2 > this.keys.length) {
      const oldK = this.keys, oldV = this.vals;
      this.keys = new Int32Array(oldK.length * 2).fill(-1);
      this.vals = new Int32Array(oldK.length * 2);
      this.shift--;
      for (let j = 0; j < oldK.length; j++) if (oldK[j] !== -1) { const s = this.slot(oldK[j]); this.keys[s] = oldK[j]; this.vals[s] = oldV[j]; }
    }
    const key = node * 256 + byte;
    const s = this.slot(key);
    if (this.keys[s] === -1) this.used++;
    this.keys[s] = key;
    this.vals[s] = next;
  }

  private insert(bytes: Uint8Array, id: number): void {
    let node = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      let next = node === 0 ? this.rootChild[b] : this.child(node, b);
      if (next < 0) {
        next = this.nodeCount++;
        if (next >= this.tokenOf.length) {
          const grown = new Int32Array(this.tokenOf.length * 2);
          grown.set(this.tokenOf);
          this.tokenOf = grown;
        }
        if (node === 0) this.rootChild[b] = next; else this.setChild(node, b, next);
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
        const next = this.child(node, bytes[j]);
        if (next < 0) break;
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
