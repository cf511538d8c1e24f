// The native addon (native/addon, built to native/build/Release/rwkvx.node):
// its TypeScript shape and the loader. Only the engine process loads it.
import * as fs from 'fs';
import * as path from 'path';

/** Errors thrown or rejected by the addon carry the engine's status name. */
export interface AddonError extends Error {
  code: string; // e.g. "FORMAT" (rwkvx_status_name), or ERR_DISPOSED / ERR_BUSY / ERR_INVALID_ARG_TYPE
  status?: number; // the engine's numeric status, when it came from the engine
  nPast?: number; // session calls: tokens held after the failure
}

export type Progress = (done: number, total: number) => void;

export interface NativeModelInfo {
  architecture: string;
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
  deviceNote: string;
}

export interface LoadOptions {
  device?: 'auto' | 'cpu' | 'cuda';
  deviceIndex?: number;
  threads?: number;
  useMmap?: boolean;
}

export interface SessionOptions {
  nCtx?: number;
  kvType?: 'f32' | 'f16';
  prefillChunk?: number;
}

export interface SamplerOptions {
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  penaltyLastN?: number;
  seed?: number;
}

export interface GenerateOptions {
  maxTokens?: number;
  stop?: string[];
  stopAtEos?: boolean;
}

export interface NativeGenerateResult {
  nGenerated: number;
  stopReason: 'maxTokens' | 'eos' | 'stop' | 'callback' | 'aborted';
  nPast: number;
}

export interface ConvertOptions {
  type?: 'f16' | 'q8_0' | 'f32' | 'bf16';
  vocab?: string;
  name?: string;
  attnChunkSize?: number;
  attnTopK?: number;
}

export interface NativeModel {
  readonly disposed: boolean;
  info(): NativeModelInfo;
  /** A string value of the file's metadata, or undefined when absent. */
  metaString(key: string): string | undefined;
  tokenize(text: string | Uint8Array): Int32Array;
  tokenBytes(token: number): Uint8Array;
  detokenize(tokens: Int32Array | number[]): string;
  newSession(options?: SessionOptions): NativeSession;
  newSampler(options?: SamplerOptions): NativeSampler;
  deserializeSnapshot(bytes: Uint8Array): Promise<NativeSnapshot>;
  /** Frees the model once its sessions, snapshots and samplers are gone. */
  dispose(): void;
}

/** One call at a time (ERR_BUSY otherwise); abort() works any time. */
export interface NativeSession {
  readonly nPast: number;
  readonly busy: boolean;
  readonly disposed: boolean;
  prefill(tokens: Int32Array | number[], options?: { logits?: boolean }, onProgress?: Progress): Promise<{ nPast: number; logits?: Float32Array }>;
  /** Logits after every token, row-major [n, nVocab]. */
  prefillAllLogits(tokens: Int32Array | number[]): Promise<Float32Array>;
  decode(token: number): Promise<Float32Array>;
  /**
   * Text pieces arrive in order, all before the Promise settles; token is -1
   * for text held back to the end (stop-string lookahead).
   */
  generate(sampler: NativeSampler, options: GenerateOptions, onText?: (text: string, token: number) => void): Promise<NativeGenerateResult>;
  abort(): void;
  reset(): void;
  truncate(n: number): void;
  fork(): NativeSession;
  snapshot(): NativeSnapshot;
  /** Returns nPast after the restore. */
  restore(snapshot: NativeSnapshot): number;
  save(): Promise<Buffer>;
  load(bytes: Uint8Array): Promise<{ nPast: number }>;
  dispose(): void;
}

export interface NativeSnapshot {
  readonly nPast: number;
  readonly disposed: boolean;
  serialize(): Promise<Buffer>;
  dispose(): void;
}

export interface NativeSampler {
  readonly disposed: boolean;
  accept(token: number): void;
  sample(logits: Float32Array): number;
  dispose(): void;
}

export interface Addon {
  abiVersion(): number;
  /** RWKVX_ABI_VERSION of the header the addon was compiled against. */
  readonly headerAbiVersion: number;
  buildInfo(): string;
  statusName(status: number): string;
  loadModel(path: string, options?: LoadOptions, onProgress?: Progress): Promise<NativeModel>;
  convert(input: string, output: string, options?: ConvertOptions, onProgress?: Progress): Promise<void>;
}

export const ADDON_RELATIVE_PATH = path.join('native', 'build', 'Release', 'rwkvx.node');

/**
 * Where the addon is: $RWKVX_ADDON, else native/build/Release/rwkvx.node in
 * the nearest folder above this file that has one (out/src/engine/host and
 * dist/ both sit below the package root).
 */
export function findAddon(start: string = __dirname, env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.RWKVX_ADDON) return env.RWKVX_ADDON;
  let dir = path.resolve(start);
  for (;;) {
    const candidate = path.join(dir, ADDON_RELATIVE_PATH);
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export function loadAddon(addonPath: string): Addon {
  // A computed path keeps bundlers from trying to inline the binary.
  const addon = require(addonPath) as Addon;
  const version = addon.abiVersion();
  if (version !== addon.headerAbiVersion) {
    throw new Error(`engine ABI ${version} does not match the addon's header (${addon.headerAbiVersion}); rebuild with npm install`);
  }
  return addon;
}
