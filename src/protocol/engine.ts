// The protocol between a front end (extension, CLI) and the engine process:
// JSON-RPC over the IPC channel of a forked child (vscode-jsonrpc). One map
// per direction; methods are named after the keys of the maps.
//
// Conventions: ids (models, sessions, snapshots) are strings chosen by the
// engine process and never reused, also across restarts of that process;
// binary data travels as base64; token ids as plain number arrays; long calls
// (loadModel, feed, generate, convert) report progress through notifications
// that carry a `progressId` / `streamId` chosen by the caller, and stop when
// the request is cancelled ($/cancelRequest).
import { NotificationType, RequestType, ResponseError } from 'vscode-jsonrpc';

import { EngineError } from '../common/errors';

export type DeviceSpec = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
export type ConvertType = 'f16' | 'q8_0' | 'f32' | 'bf16';
export type KvType = 'f32' | 'f16';
export type StopReason = 'maxTokens' | 'eos' | 'stop' | 'callback' | 'aborted';

export interface ModelInfo {
  architecture: string; // "rwkv7" or "rwkvx"
  name: string;
  nEmbd: number;
  nLayer: number;
  nAttnLayer: number;
  nHead: number;
  headSize: number;
  nFfn: number;
  nVocab: number;
  attnChunkSize: number;
  attnTopK: number;
  nParams: number;
  weightBytes: number;
  stateBytes: number;
  kvBytesPerToken: number;
  trainContextLength: number;
  device: string;
  deviceNote: string; // why "auto" chose the device it chose
}

export interface SamplerParams {
  temperature?: number; // <= 0: greedy
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  penaltyLastN?: number;
  seed?: number;
}

/** Where bytes travel: inline (base64) or through a file the engine reads or writes. */
export interface BytesOrPath {
  bytes?: string; // base64
  path?: string;
}

// ------------------------------------------------------------- requests

export interface HelloResult {
  pid: number;
  epoch: number; // restart count of the engine process, part of every id
  abiVersion: number | null; // null when the addon could not be loaded
  buildInfo: string;
  addonPath: string | null;
  addonError?: string;
}

export interface LoadModelParams {
  path: string;
  device?: DeviceSpec;
  threads?: number; // 0 = all cores
  useMmap?: boolean;
  progressId?: string;
}
export interface LoadModelResult {
  modelId: string;
  info: ModelInfo;
  chatTemplate?: string;
  elapsedMs: number;
}

export interface OpenSessionParams {
  modelId: string;
  nCtx?: number;
  kvType?: KvType;
  prefillChunk?: number;
}
export interface SessionResult {
  sessionId: string;
  nPast: number;
}

export interface FeedParams {
  sessionId: string;
  tokens?: number[];
  text?: string;
  /** Return the logits after the last token (base64 float32). */
  wantLogits?: boolean;
  progressId?: string;
}
export interface FeedResult {
  nPast: number;
  fed: number;
  logits?: string;
  elapsedMs: number;
  tokensPerSecond: number;
}

export interface AllLogitsParams {
  sessionId: string;
  tokens: number[];
  /** Write a float32 .npy of shape [T, V] there instead of returning the data. */
  outPath?: string;
}
export interface AllLogitsResult {
  nPast: number;
  rows: number;
  nVocab: number;
  data?: string; // base64 float32, row-major [rows, nVocab]
  outPath?: string;
}

export interface GenerateParams {
  sessionId: string;
  /** Text (or tokens) fed before generating, e.g. the question of a fork. */
  prompt?: string;
  promptTokens?: number[];
  /** Names the `text` notifications of this call. */
  streamId: string;
  /** Progress of the prompt feed. */
  progressId?: string;
  maxTokens?: number;
  stop?: string[];
  stopAtEos?: boolean;
  sampler?: SamplerParams;
}
export interface GenerateResult {
  text: string;
  nGenerated: number;
  stopReason: StopReason;
  nPast: number;
  elapsedMs: number;
  tokensPerSecond: number;
}

export interface RewindParams {
  sessionId: string;
  /** Restore this snapshot (taken from this session or an ancestor). */
  snapshotId?: string;
  /** Or go back to this many tokens, through a snapshot taken at that point. */
  nPast?: number;
}

export interface SnapshotResult {
  snapshotId: string;
  nPast: number;
}

export interface ExportResult {
  size: number;
  bytes?: string; // base64, when no path was given
  path?: string;
}

export interface ConvertParams {
  input: string;
  output: string;
  vocab?: string;
  type?: ConvertType;
  name?: string;
  attnChunkSize?: number;
  attnTopK?: number;
  progressId?: string;
}
export interface ConvertResult {
  output: string;
  size: number;
  elapsedMs: number;
}

export interface ThroughputStats {
  tokens: number;
  elapsedMs: number;
  tokensPerSecond: number;
}

export interface EngineStats {
  pid: number;
  epoch: number;
  uptimeMs: number;
  models: { modelId: string; path: string; architecture: string; device: string; deviceNote: string; weightBytes: number }[];
  sessions: { sessionId: string; modelId: string; nPast: number; busy: boolean }[];
  snapshots: number;
  prefill: ThroughputStats; // totals since start
  decode: ThroughputStats;
  lastPrefill?: ThroughputStats;
  lastDecode?: ThroughputStats;
  memory: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
}

type Empty = Record<string, never>;

/** Requests from the front end to the engine process. */
export interface EngineRequests {
  hello: { params: Empty; result: HelloResult };
  loadModel: { params: LoadModelParams; result: LoadModelResult };
  unloadModel: { params: { modelId: string }; result: Empty };
  modelInfo: { params: { modelId: string }; result: ModelInfo };
  metaString: { params: { modelId: string; key: string }; result: { value: string | null } };
  tokenize: { params: { modelId: string; text: string }; result: { tokens: number[] } };
  detokenize: { params: { modelId: string; tokens: number[] }; result: { text: string } };
  openSession: { params: OpenSessionParams; result: SessionResult };
  forkSession: { params: { sessionId: string }; result: SessionResult };
  dropSession: { params: { sessionId: string }; result: Empty };
  resetSession: { params: { sessionId: string }; result: SessionResult };
  /** nPast once the calls queued on the session before it are done. */
  sessionInfo: { params: { sessionId: string }; result: SessionResult };
  feed: { params: FeedParams; result: FeedResult };
  allLogits: { params: AllLogitsParams; result: AllLogitsResult };
  generate: { params: GenerateParams; result: GenerateResult };
  rewind: { params: RewindParams; result: SessionResult };
  snapshot: { params: { sessionId: string }; result: SnapshotResult };
  restore: { params: { sessionId: string; snapshotId: string }; result: SessionResult };
  dropSnapshot: { params: { snapshotId: string }; result: Empty };
  exportSnapshot: { params: { snapshotId: string; path?: string }; result: ExportResult };
  importSnapshot: { params: { modelId: string } & BytesOrPath; result: SnapshotResult };
  saveSession: { params: { sessionId: string; path?: string }; result: ExportResult };
  loadSession: { params: { sessionId: string } & BytesOrPath; result: SessionResult };
  convert: { params: ConvertParams; result: ConvertResult };
  stats: { params: Empty; result: EngineStats };
  shutdown: { params: Empty; result: Empty };
}

// -------------------------------------------------------- notifications

export interface ProgressNotification {
  progressId: string;
  phase: 'load' | 'feed' | 'convert';
  done: number;
  total: number;
  unit: 'tensors' | 'tokens';
  elapsedMs: number;
  /** For tokens: the rate so far. */
  tokensPerSecond?: number;
}

export interface TextNotification {
  streamId: string;
  text: string;
  tokens: number[];
}

/** Notifications from the engine process to the front end. */
export interface EngineNotifications {
  progress: ProgressNotification;
  text: TextNotification;
  log: { level: 'info' | 'warn' | 'error'; message: string };
}

// ---------------------------------------------------------------- errors

/** The `data` of every error response of the engine process. */
export interface EngineErrorData {
  /** The engine's status name (e.g. IO, FORMAT, ABORTED) or one of the codes below. */
  code: string;
  /** For a session call that stopped midway: the tokens it holds now. */
  nPast?: number;
}

/** Error codes of the engine process itself (besides the engine's status names). */
export const HostErrorCodes = {
  unknownId: 'ERR_UNKNOWN_ID', // model, session or snapshot id not (or no longer) known
  addonMissing: 'ERR_ADDON_MISSING', // the native addon could not be loaded
  invalidParams: 'ERR_INVALID_PARAMS',
  busy: 'ERR_BUSY',
  internal: 'ERR_INTERNAL',
} as const;

/** JSON-RPC error code for engine errors (the text code is in data.code). */
export const ENGINE_ERROR = -32001;

export type EngineMethod = keyof EngineRequests;
export type ParamsOf<M extends EngineMethod> = EngineRequests[M]['params'];
export type ResultOf<M extends EngineMethod> = EngineRequests[M]['result'];
export type NotificationMethod = keyof EngineNotifications;

/** Wire name of a request or notification. */
export function wireName(method: string): string {
  return `rwkvx/${method}`;
}

export function requestType<M extends EngineMethod>(method: M): RequestType<ParamsOf<M>, ResultOf<M>, EngineErrorData> {
  return new RequestType<ParamsOf<M>, ResultOf<M>, EngineErrorData>(wireName(method));
}

export function notificationType<N extends NotificationMethod>(method: N): NotificationType<EngineNotifications[N]> {
  return new NotificationType<EngineNotifications[N]>(wireName(method));
}

// Keyed by method so the compiler proves the list complete.
const METHOD_SET: Record<EngineMethod, true> = {
  hello: true,
  loadModel: true,
  unloadModel: true,
  modelInfo: true,
  metaString: true,
  tokenize: true,
  detokenize: true,
  openSession: true,
  forkSession: true,
  dropSession: true,
  resetSession: true,
  sessionInfo: true,
  feed: true,
  allLogits: true,
  generate: true,
  rewind: true,
  snapshot: true,
  restore: true,
  dropSnapshot: true,
  exportSnapshot: true,
  importSnapshot: true,
  saveSession: true,
  loadSession: true,
  convert: true,
  stats: true,
  shutdown: true,
};

/** Every request method, for hosts that must register them all. */
export const ENGINE_METHODS = Object.keys(METHOD_SET) as readonly EngineMethod[];

/** Any failure as the JSON-RPC error the engine process answers with. */
export function toResponseError(e: unknown): ResponseError<EngineErrorData> {
  if (e instanceof ResponseError) return e as ResponseError<EngineErrorData>;
  const err = e as { code?: unknown; message?: unknown; nPast?: unknown } | null;
  const code = typeof err?.code === 'string' ? err.code : HostErrorCodes.internal;
  const message = typeof err?.message === 'string' && err.message.length > 0 ? err.message : String(e);
  const data: EngineErrorData = { code };
  if (typeof err?.nPast === 'number') data.nPast = err.nPast;
  return new ResponseError(ENGINE_ERROR, message, data);
}

/** The engine process's error response as the EngineError callers see. */
export function fromResponseError(e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  if (e instanceof ResponseError) {
    const data = e.data as Partial<EngineErrorData> | undefined;
    const code = typeof data?.code === 'string' ? data.code : `JSONRPC_${e.code}`;
    return new EngineError(code, e.message, { nPast: typeof data?.nPast === 'number' ? data.nPast : undefined });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new EngineError(HostErrorCodes.internal, message, { cause: e });
}
