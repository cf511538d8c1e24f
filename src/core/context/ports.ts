// Ports: everything the context log needs from outside src/core. The VS Code
// layer, the CLI and the tests each plug in their own implementations; nothing
// here imports `vscode` or the engine client.

// ------------------------------------------------------------- file system

export type EntryKind = 'file' | 'dir' | 'symlink' | 'other';

export interface DirEntry {
  name: string;
  /** The entry itself, not what a symlink points to. */
  kind: EntryKind;
}

export interface FileStat {
  /** After following symlinks. */
  kind: 'file' | 'dir' | 'other';
  size: number;
  mtimeMs: number;
}

/** Errors carry a Node-style code: ENOENT, EACCES, ELOOP, ENOTDIR, … */
export interface FsError extends Error {
  code?: string;
}

/** Absolute, native paths in and out. */
export interface FileSystemPort {
  readFile(path: string): Promise<Uint8Array>;
  /** Follows symlinks. */
  stat(path: string): Promise<FileStat>;
  readDir(path: string): Promise<DirEntry[]>;
  /** Resolves every symlink on the way. */
  realpath(path: string): Promise<string>;
}

// ------------------------------------------------------- settings and roots

/** VS Code's `files.exclude` for one folder: glob → true, or a sibling condition. */
export type FilesExclude = Record<string, boolean | { when: string }>;

export interface WorkspaceFolder {
  /** Shown in paths when the workspace has several folders. */
  name: string;
  /** Absolute native path. */
  path: string;
  filesExclude?: FilesExclude;
  /**
   * More paths to keep out, in .gitignore syntax relative to the folder
   * (`*.snap`, `fixtures/`, `/build`, `**\/gen/**`, `!keep.snap`); the
   * strongest ignore layer, so `!` can re-include what an ignore file left out.
   */
  extraIgnore?: string[];
}

// ----------------------------------------------------------------- engine

/** Opaque handles, as the engine process hands them out (never reused). */
export type SessionId = string;
export type SnapshotId = string;

export interface EngineInfo {
  /** Identifies the model; persisted sessions are reused only with the same one. */
  fingerprint: string;
  /** n_ctx of the sessions openSession() creates: the hard upper bound of the stream. */
  contextLength: number;
  /** Bytes of one snapshot (RWKV state); sizes the checkpoint budget. */
  stateBytes: number;
}

export interface FeedOptions {
  /** Tokens of this call done so far (unit: tokens), between engine chunks. */
  onProgress?: (done: number, total: number) => void;
  /** Aborting stops the call at the next chunk boundary (rwkvx_session_abort). */
  signal?: AbortSignal;
}

export interface FeedResult {
  /** Session length after the call; on abort the completed chunks are kept. */
  nPast: number;
  aborted: boolean;
}

/** Mirrors the rwkvx_status names the adapter may surface. */
export type EngineErrorCode =
  | 'invalid-argument' | 'io' | 'format' | 'unsupported' | 'shape' | 'out-of-memory'
  | 'aborted' | 'state-mismatch' | 'context-full' | 'device' | 'internal';

export class EngineError extends Error {
  constructor(readonly code: EngineErrorCode, message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

/**
 * The engine as the context log uses it; one call per C ABI function. At most
 * one call may be in flight per session (the caller serializes); different
 * sessions may be used concurrently.
 */
export interface EnginePort {
  info(): Promise<EngineInfo>;
  /** rwkvx_tokenize: greedy longest match over UTF-8. */
  tokenize(text: string): Promise<Int32Array>;
  /** rwkvx_session_new (empty). */
  openSession(): Promise<SessionId>;
  /** rwkvx_session_free. */
  dropSession(session: SessionId): Promise<void>;
  /** rwkvx_session_n_past. */
  nPast(session: SessionId): Promise<number>;
  /** rwkvx_session_prefill without logits. */
  feed(session: SessionId, tokens: Int32Array, options?: FeedOptions): Promise<FeedResult>;
  /** rwkvx_snapshot_take: recurrent state + hash of the token prefix. */
  snapshot(session: SessionId): Promise<SnapshotId>;
  /** rwkvx_snapshot_restore: rewinds to the snapshot; EngineError('state-mismatch') if the prefix differs. */
  restore(session: SessionId, snapshot: SnapshotId): Promise<void>;
  /** rwkvx_snapshot_free. */
  dropSnapshot(snapshot: SnapshotId): Promise<void>;
  /** rwkvx_session_fork: copy of the state, KV shared copy-on-write. */
  fork(session: SessionId): Promise<SessionId>;
  /** rwkvx_session_save. */
  saveSession(session: SessionId): Promise<Uint8Array>;
  /** rwkvx_session_load into an open session; EngineError('format' | 'state-mismatch') when it does not fit. */
  loadSession(session: SessionId, bytes: Uint8Array): Promise<void>;
  /** rwkvx_snapshot_serialize. */
  saveSnapshot(snapshot: SnapshotId): Promise<Uint8Array>;
  /** rwkvx_snapshot_deserialize. */
  loadSnapshot(bytes: Uint8Array): Promise<SnapshotId>;
}

// --------------------------------------------------------- clock and storage

export type TimerId = unknown;

/** Time and timers, so tests can drive debounce and idle deterministically. */
export interface ClockPort {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
}

/** The extension's storage folder for this workspace. Names are plain file names. */
export interface StoragePort {
  read(name: string): Promise<Uint8Array | undefined>;
  /** Replaces the file as a whole or not at all (temp file + rename). */
  writeAtomic(name: string, data: Uint8Array): Promise<void>;
  remove(name: string): Promise<void>;
  list(): Promise<string[]>;
}

// ------------------------------------------------------------------ events

/** What the editor reports. Paths are absolute native paths. */
export type WorkspaceEvent =
  /** Unsaved buffer text (debounced). */
  | { type: 'changed'; path: string; text: string }
  /** The buffer was closed or reverted without saving: disk is current again. */
  | { type: 'discarded'; path: string }
  | { type: 'saved'; path: string }
  | { type: 'created'; path: string }
  | { type: 'deleted'; path: string }
  | { type: 'renamed'; from: string; to: string }
  /** files.exclude or another rule changed: rescan everything. */
  | { type: 'settings'; folders: WorkspaceFolder[] };

export interface Logger {
  warn(message: string): void;
  info(message: string): void;
}
