// The segment table: what the engine session has read, in order, and where.
import type { SnapshotId } from './ports';

export type SegKind = 'preamble' | 'file' | 'deleted';
export type SegHeader = 'preamble' | 'file' | 'updated' | 'deleted';

export interface Seg {
  kind: SegKind;
  /** Display path; '' for the preamble. */
  path: string;
  /** 1-based part of a split file; 0 when whole. */
  part: number;
  parts: number;
  header: SegHeader;
  /** hashText of the file part's text ('' for preamble and deletion notes). */
  contentHash: string;
  /** Hash of the whole file this part came from (reopening skips re-splitting unchanged files). */
  fileHash?: string;
  /** hashText of the exact segment text the engine read. */
  textHash: string;
  /** Token range [start, start + tokens). */
  start: number;
  tokens: number;
  /** A newer copy (or a deletion note) later in the stream supersedes this one. */
  stale: boolean;
  mtimeMs: number;
  /** Token ids, kept while the segment is in the hot tail (re-fed after a rewind). */
  ids?: Int32Array;
}

/** A snapshot at a segment boundary; shared between tables, dropped when unreferenced. */
export interface Ckpt {
  pos: number;
  snap: SnapshotId;
  refs: number;
}

export interface Table {
  segs: Seg[];
  /** Index of the first segment of the hot tail (segs.length when the tail is empty). */
  hotStart: number;
  /** Checkpoints by token position (always at segment starts or the end). */
  ckpts: Map<number, Ckpt>;
  /** Files the budget left out: path → content hash when left out. */
  leftOut: Map<string, string>;
}

export const tableEnd = (t: Table): number => {
  const last = t.segs[t.segs.length - 1];
  return last ? last.start + last.tokens : 0;
};

/** Tokens the model reads that no longer describe the workspace: stale copies and deletion notes. */
export function staleTokens(t: Table): number {
  let n = 0;
  for (const s of t.segs) if (s.stale || s.kind === 'deleted') n += s.tokens;
  return n;
}

export function liveFiles(t: Table): Set<string> {
  const out = new Set<string>();
  for (const s of t.segs) if (s.kind === 'file' && !s.stale) out.add(s.path);
  return out;
}

export function hotTokens(t: Table): number {
  return tableEnd(t) - (t.segs[t.hotStart]?.start ?? tableEnd(t));
}
