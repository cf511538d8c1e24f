// The edit policy, as a pure function of the table and the changed files:
//   - a changed part in the hot tail: rewind to the checkpoint before it, then
//     re-feed what followed it and the new version last — when what follows is
//     at most `rewindSlack` × its size (default 0.1: an edit re-feeds at most
//     the edited file + 10 %); otherwise it is treated like a cold part;
//   - a changed part in the cold part: mark it stale and append the new
//     version as "File (updated): …";
//   - a deleted file: hot copies are rewound away; if an older copy stays in
//     the stream, a "File (deleted): …" note is appended;
//   - a created file: appended as "File: …".
import type { FilePart } from './segments';
import type { Seg, SegHeader } from './table';

/** What a file is now: its parts, or null when it is gone or no longer included. */
export interface FileChange {
  parts: FilePart[];
  mtimeMs: number;
  /** Hash of the whole file. */
  hash?: string;
}

export type TailItem =
  | { from: 'kept'; seg: Seg }
  | { from: 'new'; kind: 'file'; path: string; header: 'file' | 'updated'; part: FilePart; mtimeMs: number; fileHash?: string }
  | { from: 'new'; kind: 'deleted'; path: string; header: 'deleted'; mtimeMs: number };

export interface UpdatePlan {
  /** First segment index that is rewound (segs.length when nothing is). */
  rewindIndex: number;
  /** segs[0 .. rewindIndex) with the stale marks of this update applied (copies where changed). */
  prefix: Seg[];
  /** What to feed after the rewind point, in order. */
  tail: TailItem[];
  /** Segments marked stale by this update. */
  staled: number;
  /** Hot segments rewound away. */
  removed: number;
  /** Whether anything changes at all. */
  noop: boolean;
}

export interface PolicyOptions {
  /** A hot part is rewound only if the tokens after it are ≤ this × its own tokens (Infinity: always). */
  rewindSlack: number;
}

export const DEFAULT_POLICY: PolicyOptions = { rewindSlack: 0.1 };

export function planUpdate(
  segs: readonly Seg[], hotStart: number, changes: ReadonlyMap<string, FileChange | null>, now: number,
  policy: PolicyOptions = DEFAULT_POLICY,
): UpdatePlan {
  const removed = new Set<number>();
  const staled = new Set<number>();
  const appends: { path: string; part: FilePart; mtimeMs: number; fileHash?: string }[] = [];
  const gone: string[] = [];

  const liveByPath = new Map<string, number[]>();
  segs.forEach((s, i) => {
    if (s.kind !== 'file' || s.stale) return;
    if (!liveByPath.has(s.path)) liveByPath.set(s.path, []);
    liveByPath.get(s.path)!.push(i);
  });
  // Tokens after each position, to price a rewind.
  const after = new Array<number>(segs.length + 1).fill(0);
  for (let i = segs.length - 1; i >= 0; i--) after[i] = after[i + 1] + segs[i].tokens;
  const retire = (i: number) => {
    const cheap = after[i + 1] <= policy.rewindSlack * segs[i].tokens;
    if (i >= hotStart && cheap) removed.add(i);
    else staled.add(i);
  };

  for (const [path, change] of changes) {
    const live = liveByPath.get(path) ?? [];
    if (change === null) {
      if (live.length === 0) continue;
      live.forEach(retire);
      gone.push(path);
      continue;
    }
    const byPart = new Map(live.map((i) => [segs[i].part, i] as const));
    const sameShape = live.length === change.parts.length
      && change.parts.every((p) => byPart.has(p.part) && segs[byPart.get(p.part)!].parts === p.parts);
    if (sameShape) {
      for (const p of change.parts) {
        const i = byPart.get(p.part)!;
        if (segs[i].contentHash === p.hash) continue;
        retire(i);
        appends.push({ path, part: p, mtimeMs: change.mtimeMs, fileHash: change.hash });
      }
    } else {
      // The split changed (or the file is new): every old part goes, every new part comes.
      live.forEach(retire);
      for (const p of change.parts) appends.push({ path, part: p, mtimeMs: change.mtimeMs, fileHash: change.hash });
    }
  }

  const rewindIndex = removed.size ? Math.min(...removed) : segs.length;
  const mark = (s: Seg, i: number) => (staled.has(i) ? { ...s, stale: true } : s);
  const prefix = segs.slice(0, rewindIndex).map(mark);
  const kept = segs.slice(rewindIndex).map((s, k) => mark(s, rewindIndex + k)).filter((_, k) => !removed.has(rewindIndex + k));

  // Which paths the model will still have seen before the new items.
  const lastMention = new Map<string, SegHeader>();
  for (const s of [...prefix, ...kept]) if (s.kind !== 'preamble') lastMention.set(s.path, s.header);

  const tail: TailItem[] = kept.map((seg) => ({ from: 'kept' as const, seg }));
  for (const path of gone) {
    const last = lastMention.get(path);
    const stillNew = appends.some((a) => a.path === path);
    if (last !== undefined && last !== 'deleted' && !stillNew) {
      tail.push({ from: 'new', kind: 'deleted', path, header: 'deleted', mtimeMs: now });
      lastMention.set(path, 'deleted');
    }
  }
  for (const a of appends) {
    const header = lastMention.has(a.path) ? 'updated' : 'file';
    tail.push({ from: 'new', kind: 'file', path: a.path, header, part: a.part, mtimeMs: a.mtimeMs, fileHash: a.fileHash });
  }

  return {
    rewindIndex, prefix, tail, staled: staled.size, removed: removed.size,
    noop: removed.size === 0 && staled.size === 0 && appends.length === 0 && tail.length === 0,
  };
}
