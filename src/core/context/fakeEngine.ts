// An honest stand-in for the engine: it keeps the exact token list of every
// session, and snapshot / restore / fork copy token prefixes, so tests can check
// that what the model has read equals a fresh stream of the current files. It
// enforces the C ABI's rules (one call per session at a time, a snapshot only
// restores onto a session with the same prefix) and counts the tokens fed.
// The benchmark uses it too, with a real tokenizer, to count re-fed tokens.
import { createHash } from 'node:crypto';
import {
  EngineError, type EngineInfo, type EnginePort, type FeedOptions, type FeedResult, type SessionId, type SnapshotId,
} from './ports';

/** Immutable full chunks shared between copies + one private open chunk: cheap prefix copies. */
const CHUNK = 8192;

export class TokenRope {
  private full: Int32Array[] = [];
  private open = new Int32Array(CHUNK);
  private openLen = 0;

  get length(): number { return this.full.length * CHUNK + this.openLen; }

  push(tokens: ArrayLike<number>): void {
    const src = tokens instanceof Int32Array ? tokens : Int32Array.from(tokens);
    for (let i = 0; i < src.length; ) {
      const n = Math.min(CHUNK - this.openLen, src.length - i);
      this.open.set(src.subarray(i, i + n), this.openLen);
      this.openLen += n;
      i += n;
      if (this.openLen === CHUNK) {
        this.full.push(this.open);
        this.open = new Int32Array(CHUNK);
        this.openLen = 0;
      }
    }
  }

  /** A copy of the first n tokens; full chunks are shared, never written again. */
  prefix(n: number): TokenRope {
    if (n > this.length) throw new Error('prefix past the end');
    const r = new TokenRope();
    const k = Math.floor(n / CHUNK);
    r.full = this.full.slice(0, k);
    const rest = n - k * CHUNK;
    const src = k < this.full.length ? this.full[k] : this.open;
    r.open.set(src.subarray(0, rest));
    r.openLen = rest;
    return r;
  }

  /** True when the first other.length tokens of this equal other. */
  startsWith(other: TokenRope): boolean {
    if (other.length > this.length) return false;
    for (let c = 0; c < other.full.length; c++) {
      const a = this.full[c], b = other.full[c];
      if (a === b) continue;
      for (let i = 0; i < CHUNK; i++) if (a[i] !== b[i]) return false;
    }
    const base = other.full.length;
    const mine = base < this.full.length ? this.full[base] : this.open;
    for (let i = 0; i < other.openLen; i++) if (mine[i] !== other.open[i]) return false;
    return true;
  }

  /** sha256 of the first n tokens (as little-endian int32). */
  hashPrefix(n: number): string {
    const h = createHash('sha256');
    let left = n;
    for (const c of this.full) {
      if (left <= 0) break;
      const k = Math.min(left, CHUNK);
      h.update(Buffer.from(c.buffer, c.byteOffset, k * 4));
      left -= k;
    }
    if (left > 0) h.update(Buffer.from(this.open.buffer, this.open.byteOffset, left * 4));
    return h.digest('hex');
  }

  toArray(): Int32Array {
    const out = new Int32Array(this.length);
    this.full.forEach((c, i) => out.set(c, i * CHUNK));
    out.set(this.open.subarray(0, this.openLen), this.full.length * CHUNK);
    return out;
  }

  slice(start: number, end: number): Int32Array {
    return this.toArray().subarray(start, end);
  }

  static from(tokens: ArrayLike<number>): TokenRope {
    const r = new TokenRope();
    r.push(tokens);
    return r;
  }
}

export interface Tokenizer {
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
}

/** One token per UTF-8 byte (id = byte + 1, as the World vocabulary numbers them): exact and reversible. */
export const byteTokenizer: Tokenizer = {
  encode: (text) => Int32Array.from(Buffer.from(text, 'utf8'), (b) => b + 1),
  decode: (ids) => Buffer.from(Array.from(ids, (i) => i - 1)).toString('utf8'),
};

export interface FakeEngineOptions {
  tokenizer?: Tokenizer;
  fingerprint?: string;
  contextLength?: number;
  stateBytes?: number;
  /** Tokens per prefill chunk: progress and abort happen between chunks. */
  chunk?: number;
  /** Awaited before each chunk (tests use it to interleave events with a feed). */
  beforeChunk?: (session: SessionId, done: number, total: number) => Promise<void> | void;
}

const MAGIC_SESSION = 'FAKESESS';
const MAGIC_SNAPSHOT = 'FAKESNAP';

export class FakeEngine implements EnginePort {
  readonly tokenizer: Tokenizer;
  private readonly sessions = new Map<SessionId, TokenRope>();
  /**
   * A snapshot taken here keeps its token prefix (shared chunks); one read back
   * from bytes knows only its length and prefix hash, like the real engine's
   * (recurrent state + hash of the token prefix).
   */
  private readonly snapshots = new Map<SnapshotId, { n: number; rope?: TokenRope; hash?: string }>();
  private readonly busy = new Set<SessionId>();
  private nextId = 1;
  private newId(kind: 's' | 'k'): string { return `${kind}${this.nextId++}`; }
  /** Every token fed, over all sessions (the cost the context log causes). */
  fedTokens = 0;
  feedCalls = 0;
  tokenizeCalls = 0;
  /** Set to make the next feed throw (simulates an engine failure). */
  failNextFeed: EngineError | undefined;

  constructor(private readonly options: FakeEngineOptions = {}) {
    this.tokenizer = options.tokenizer ?? byteTokenizer;
  }

  async info(): Promise<EngineInfo> {
    return {
      fingerprint: this.options.fingerprint ?? 'fake-model',
      contextLength: this.options.contextLength ?? 1 << 24,
      stateBytes: this.options.stateBytes ?? 1 << 20,
    };
  }

  async tokenize(text: string): Promise<Int32Array> {
    this.tokenizeCalls++;
    return this.tokenizer.encode(text);
  }

  private session(s: SessionId): TokenRope {
    const r = this.sessions.get(s);
    if (!r) throw new EngineError('invalid-argument', `no session ${s}`);
    return r;
  }

  /** The C ABI lets one call run per session; a second concurrent call is a caller bug. */
  private async exclusive<T>(s: SessionId, fn: () => Promise<T> | T): Promise<T> {
    this.session(s);
    if (this.busy.has(s)) throw new Error(`FakeEngine: concurrent calls on session ${s}`);
    this.busy.add(s);
    try {
      return await fn();
    } finally {
      this.busy.delete(s);
    }
  }

  async openSession(): Promise<SessionId> {
    const id = this.newId('s');
    this.sessions.set(id, new TokenRope());
    return id;
  }

  async dropSession(s: SessionId): Promise<void> {
    if (this.busy.has(s)) throw new Error(`FakeEngine: dropping busy session ${s}`);
    this.sessions.delete(s);
  }

  async nPast(s: SessionId): Promise<number> {
    return this.session(s).length;
  }

  async feed(s: SessionId, tokens: Int32Array, options: FeedOptions = {}): Promise<FeedResult> {
    return this.exclusive(s, async () => {
      this.feedCalls++;
      if (this.failNextFeed) {
        const e = this.failNextFeed;
        this.failNextFeed = undefined;
        throw e;
      }
      const rope = this.session(s);
      const limit = (await this.info()).contextLength;
      if (rope.length + tokens.length > limit) throw new EngineError('context-full', 'session would exceed n_ctx');
      const chunk = this.options.chunk ?? 4096;
      for (let done = 0; done < tokens.length; ) {
        if (options.signal?.aborted) return { nPast: rope.length, aborted: true };
        await this.options.beforeChunk?.(s, done, tokens.length);
        // Let other work run between chunks, as the real engine's worker thread does.
        await new Promise<void>((r) => setImmediate(r));
        if (options.signal?.aborted) return { nPast: rope.length, aborted: true };
        const n = Math.min(chunk, tokens.length - done);
        rope.push(tokens.subarray(done, done + n));
        this.fedTokens += n;
        done += n;
        options.onProgress?.(done, tokens.length);
      }
      return { nPast: rope.length, aborted: false };
    });
  }

  async snapshot(s: SessionId): Promise<SnapshotId> {
    return this.exclusive(s, () => {
      const id = this.newId('k');
      const rope = this.session(s);
      this.snapshots.set(id, { n: rope.length, rope: rope.prefix(rope.length) });
      return id;
    });
  }

  async restore(s: SessionId, snap: SnapshotId): Promise<void> {
    return this.exclusive(s, () => {
      const p = this.snapshots.get(snap);
      if (!p) throw new EngineError('invalid-argument', `no snapshot ${snap}`);
      const rope = this.session(s);
      const same = rope.length >= p.n && (p.rope ? rope.startsWith(p.rope) : rope.hashPrefix(p.n) === p.hash);
      if (!same) throw new EngineError('state-mismatch', 'token prefix differs from the snapshot');
      this.sessions.set(s, rope.prefix(p.n));
    });
  }

  async dropSnapshot(snap: SnapshotId): Promise<void> {
    this.snapshots.delete(snap);
  }

  async fork(s: SessionId): Promise<SessionId> {
    return this.exclusive(s, () => {
      const id = this.newId('s');
      const rope = this.session(s);
      this.sessions.set(id, rope.prefix(rope.length));
      return id;
    });
  }

  async saveSession(s: SessionId): Promise<Uint8Array> {
    return this.exclusive(s, () => encodeBlob(MAGIC_SESSION, this.session(s).toArray()));
  }

  async loadSession(s: SessionId, bytes: Uint8Array): Promise<void> {
    return this.exclusive(s, () => {
      this.sessions.set(s, TokenRope.from(decodeBlob(MAGIC_SESSION, bytes)));
    });
  }

  async saveSnapshot(snap: SnapshotId): Promise<Uint8Array> {
    const p = this.snapshots.get(snap);
    if (!p) throw new EngineError('invalid-argument', `no snapshot ${snap}`);
    p.hash ??= p.rope!.hashPrefix(p.n);
    // n (as two int32 halves) and the 32-byte prefix hash as 8 int32s.
    const hash = Buffer.from(p.hash, 'hex');
    const words = new Int32Array(10);
    words[0] = p.n % 2 ** 31;
    words[1] = Math.floor(p.n / 2 ** 31);
    for (let i = 0; i < 8; i++) words[2 + i] = hash.readInt32LE(i * 4);
    return encodeBlob(MAGIC_SNAPSHOT, words);
  }

  async loadSnapshot(bytes: Uint8Array): Promise<SnapshotId> {
    const words = decodeBlob(MAGIC_SNAPSHOT, bytes);
    if (words.length !== 10) throw new EngineError('format', 'not a snapshot');
    const hash = Buffer.alloc(32);
    for (let i = 0; i < 8; i++) hash.writeInt32LE(words[2 + i], i * 4);
    const id = this.newId('k');
    this.snapshots.set(id, { n: words[0] + words[1] * 2 ** 31, hash: hash.toString('hex') });
    return id;
  }

  // ------------------------------------------------------- test inspection

  tokensOf(s: SessionId): Int32Array {
    return this.session(s).toArray();
  }

  textOf(s: SessionId): string {
    return this.tokenizer.decode(this.tokensOf(s));
  }

  get liveSessions(): number { return this.sessions.size; }
  get liveSnapshots(): number { return this.snapshots.size; }

  /** Like a new engine process: every session and snapshot is gone (ids are never reused). */
  restart(): void {
    this.sessions.clear();
    this.snapshots.clear();
    this.busy.clear();
  }
}

// Blob: magic(8) | count(u32) | tokens(i32 × count) | sha256(32) — corruption is detected, as the real engine does.
function encodeBlob(magic: string, tokens: Int32Array): Uint8Array {
  const body = Buffer.alloc(12 + tokens.length * 4);
  body.write(magic, 0, 'latin1');
  body.writeUInt32LE(tokens.length, 8);
  Buffer.from(tokens.buffer, tokens.byteOffset, tokens.byteLength).copy(body, 12);
  const sum = createHash('sha256').update(body).digest();
  return Buffer.concat([body, sum]);
}

function decodeBlob(magic: string, bytes: Uint8Array): Int32Array {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 44 || b.toString('latin1', 0, 8) !== magic) throw new EngineError('format', 'not a saved state');
  const n = b.readUInt32LE(8);
  if (b.length !== 12 + n * 4 + 32) throw new EngineError('format', 'truncated saved state');
  const sum = createHash('sha256').update(b.subarray(0, 12 + n * 4)).digest();
  if (!sum.equals(b.subarray(12 + n * 4))) throw new EngineError('format', 'saved state checksum mismatch');
  const out = new Int32Array(n);
  Buffer.from(out.buffer).set(b.subarray(12, 12 + n * 4));
  return out;
}
