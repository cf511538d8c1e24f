// Saving and reopening the context: a manifest (format version, model
// fingerprint, segment table, checkpoints) plus the engine's session and
// snapshot bytes as separate blobs named by their hash. The manifest is written
// last and atomically, so a crash mid-save leaves the previous save intact;
// every blob is checked against the hash the manifest records before the engine
// sees it. Anything that does not fit is a LoadError: the caller rebuilds.
import { hashBytes } from './hash';
import type { EnginePort, SessionId, SnapshotId, StoragePort } from './ports';
import type { Ckpt, Seg, Table } from './table';

export const FORMAT_VERSION = 1;
export const MANIFEST = 'context.json';

export interface BlobRef {
  name: string;
  sha256: string;
  size: number;
}

interface SavedSeg extends Omit<Seg, 'ids'> {
  /** Base64 of the Int32 ids, for hot segments. */
  ids?: string;
}

interface Manifest {
  format: 'rwkvx-context';
  version: number;
  fingerprint: string;
  /** Everything that shapes segment text (preamble, headers, split sizes): another key → rebuild. */
  optionsKey: string;
  savedAt: number;
  nPast: number;
  session: BlobRef;
  ckpts: { pos: number; blob: BlobRef }[];
  hotStart: number;
  segs: SavedSeg[];
  leftOut: [string, string][];
  recentEdits: string[];
  /** The token budget the stream was fitted to (absent in saves from before it was recorded). */
  budgetTokens?: number;
}

export class LoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadError';
  }
}

export interface SaveExtras {
  fingerprint: string;
  optionsKey: string;
  recentEdits: string[];
  now: number;
  budgetTokens: number;
}

export interface Loaded {
  session: SessionId;
  table: Table;
  recentEdits: string[];
  savedAt: number;
  /** The budget the save was fitted to, when it says. */
  budgetTokens?: number;
}

const idsToBase64 = (ids: Int32Array) => Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength).toString('base64');
function idsFromBase64(s: string): Int32Array {
  const b = Buffer.from(s, 'base64');
  if (b.length % 4) throw new LoadError('bad token ids in the manifest');
  const out = new Int32Array(b.length / 4);
  Buffer.from(out.buffer).set(b);
  return out;
}

/** Remembers which snapshots are already on disk, so a save writes only new ones. */
export class BlobCache {
  private readonly bySnap = new Map<SnapshotId, BlobRef>();
  /** The session blob this process last wrote or verified. */
  session: BlobRef | undefined;
  get(s: SnapshotId): BlobRef | undefined { return this.bySnap.get(s); }
  set(s: SnapshotId, b: BlobRef): void { this.bySnap.set(s, b); }
  forget(keep: ReadonlySet<SnapshotId>): void {
    for (const s of [...this.bySnap.keys()]) if (!keep.has(s)) this.bySnap.delete(s);
  }
}

/** Blobs are named by their hash; a file of that name is trusted only if this process wrote or verified it. */
async function writeBlob(storage: StoragePort, prefix: string, bytes: Uint8Array, known: BlobRef | undefined, existing: ReadonlySet<string>): Promise<BlobRef> {
  const sha256 = hashBytes(bytes);
  const name = `${prefix}-${sha256.slice(0, 24)}.bin`;
  if (!(known?.sha256 === sha256 && existing.has(name))) await storage.writeAtomic(name, bytes);
  return { name, sha256, size: bytes.length };
}

/**
 * Writes the session, its checkpoints and the manifest. The caller holds the
 * lock that keeps `session` idle while its bytes are taken.
 */
export async function saveContext(
  storage: StoragePort, engine: EnginePort, session: SessionId, table: Table, nPast: number,
  extras: SaveExtras, cache: BlobCache,
): Promise<{ bytes: number }> {
  const existing = new Set(await storage.list());
  let bytes = 0;
  const sessionBytes = await engine.saveSession(session);
  const sessionRef = await writeBlob(storage, 'session', sessionBytes, cache.session, existing);
  cache.session = sessionRef;
  bytes += sessionRef.size;
  const ckpts: Manifest['ckpts'] = [];
  for (const c of [...table.ckpts.values()].sort((a, b) => a.pos - b.pos)) {
    let ref = cache.get(c.snap);
    if (!ref || !existing.has(ref.name)) {
      ref = await writeBlob(storage, 'ckpt', await engine.saveSnapshot(c.snap), undefined, existing);
      cache.set(c.snap, ref);
    }
    bytes += ref.size;
    ckpts.push({ pos: c.pos, blob: ref });
  }
  cache.forget(new Set([...table.ckpts.values()].map((c) => c.snap)));
  const manifest: Manifest = {
    format: 'rwkvx-context', version: FORMAT_VERSION, fingerprint: extras.fingerprint, optionsKey: extras.optionsKey,
    savedAt: extras.now, nPast, session: sessionRef, ckpts, hotStart: table.hotStart,
    segs: table.segs.map(({ ids, ...s }) => (ids ? { ...s, ids: idsToBase64(ids) } : s)),
    leftOut: [...table.leftOut], recentEdits: extras.recentEdits, budgetTokens: extras.budgetTokens,
  };
  await storage.writeAtomic(MANIFEST, Buffer.from(JSON.stringify(manifest), 'utf8'));
  // Only now is the previous save unreferenced.
  const keep = new Set([MANIFEST, sessionRef.name, ...ckpts.map((c) => c.blob.name)]);
  for (const name of await storage.list()) if (!keep.has(name)) await storage.remove(name);
  return { bytes };
}

async function readBlob(storage: StoragePort, ref: BlobRef): Promise<Uint8Array> {
  const bytes = await storage.read(ref.name);
  if (!bytes) throw new LoadError(`missing ${ref.name}`);
  if (bytes.length !== ref.size || hashBytes(bytes) !== ref.sha256) throw new LoadError(`${ref.name} is damaged`);
  return bytes;
}

function checkManifest(m: unknown, expect: { fingerprint: string; optionsKey: string }): Manifest {
  const x = m as Manifest;
  if (!x || typeof x !== 'object' || x.format !== 'rwkvx-context') throw new LoadError('not a context manifest');
  if (x.version !== FORMAT_VERSION) throw new LoadError(`format version ${x.version}, expected ${FORMAT_VERSION}`);
  if (x.fingerprint !== expect.fingerprint) throw new LoadError('saved for another model');
  if (x.optionsKey !== expect.optionsKey) throw new LoadError('saved with other context options');
  if (!Array.isArray(x.segs) || !Array.isArray(x.ckpts) || !x.session || typeof x.nPast !== 'number') {
    throw new LoadError('manifest is incomplete');
  }
  // The table must tile [0, nPast) exactly.
  let pos = 0;
  for (const s of x.segs) {
    if (typeof s.start !== 'number' || s.start !== pos || !(s.tokens >= 0)) throw new LoadError('segment table has gaps');
    pos += s.tokens;
  }
  if (pos !== x.nPast) throw new LoadError('segment table does not match the session length');
  if (!(x.hotStart >= 0 && x.hotStart <= x.segs.length)) throw new LoadError('bad hot tail index');
  for (let i = x.hotStart; i < x.segs.length; i++) {
    if (!x.segs[i].ids) throw new LoadError('hot segment without token ids');
  }
  return x;
}

/** Reads a save back into a new engine session; throws LoadError when anything is off. */
export async function loadContext(
  storage: StoragePort, engine: EnginePort, expect: { fingerprint: string; optionsKey: string }, cache: BlobCache,
): Promise<Loaded | undefined> {
  const raw = await storage.read(MANIFEST);
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch {
    throw new LoadError('manifest is not valid JSON (partial write?)');
  }
  const m = checkManifest(parsed, expect);
  const sessionBytes = await readBlob(storage, m.session);
  const blobs = await Promise.all(m.ckpts.map((c) => readBlob(storage, c.blob)));
  const session = await engine.openSession();
  const snaps: SnapshotId[] = [];
  try {
    await engine.loadSession(session, sessionBytes);
    const n = await engine.nPast(session);
    if (n !== m.nPast) throw new LoadError(`session holds ${n} tokens, the table ${m.nPast}`);
    cache.session = m.session;
    const ckpts = new Map<number, Ckpt>();
    for (let i = 0; i < m.ckpts.length; i++) {
      const snap = await engine.loadSnapshot(blobs[i]);
      snaps.push(snap);
      cache.set(snap, m.ckpts[i].blob);
      ckpts.set(m.ckpts[i].pos, { pos: m.ckpts[i].pos, snap, refs: 1 });
    }
    const segs: Seg[] = m.segs.map(({ ids, ...s }) => (ids ? { ...s, ids: idsFromBase64(ids) } : { ...s }));
    for (let i = m.hotStart; i < segs.length; i++) {
      if (segs[i].ids!.length !== segs[i].tokens) throw new LoadError('hot segment ids do not match its length');
      if (!ckpts.has(segs[i].start)) throw new LoadError('hot segment without a checkpoint');
    }
    return {
      session, recentEdits: Array.isArray(m.recentEdits) ? m.recentEdits : [], savedAt: m.savedAt,
      ...(typeof m.budgetTokens === 'number' ? { budgetTokens: m.budgetTokens } : {}),
      table: { segs, hotStart: m.hotStart, ckpts, leftOut: new Map(m.leftOut ?? []) },
    };
  } catch (e) {
    cache.session = undefined;
    await engine.dropSession(session).catch(() => undefined);
    for (const s of snaps) await engine.dropSnapshot(s).catch(() => undefined);
    if (e instanceof LoadError) throw e;
    throw new LoadError(`the engine refused the saved state: ${(e as Error).message}`);
  }
}
