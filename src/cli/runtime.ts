// What every CLI command shares: the output streams, Ctrl-C handling, and an
// engine process with the chosen model loaded.
import * as fs from 'fs';
import * as path from 'path';
import { CancellationTokenSource, CancellationToken } from 'vscode-jsonrpc';

import { EngineClient } from '../engine/client';
import type { ModelInfo } from '../protocol/engine';
import type { EngineFlags } from './args';
import { chooseDefaultModel, packageRoot } from './default-model';
import { formatCount, ProgressLine } from './progress';

export interface Output {
  isTTY?: boolean;
  columns?: number;
  write(s: string): boolean;
}

export interface Io {
  stdout: Output;
  stderr: Output;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

/** Thrown (and mapped to exit status 130) when Ctrl-C stopped a command. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

/**
 * Ctrl-C: the first press cancels the running engine call (the command then
 * ends with status 130); a second press exits at once.
 */
export class Interrupt {
  private source = new CancellationTokenSource();
  private presses = 0;
  private readonly handler = () => {
    this.presses++;
    if (this.presses > 1) process.exit(130);
    this.source.cancel();
  };

  constructor(listen = true) {
    if (listen) process.on('SIGINT', this.handler);
  }

  get token(): CancellationToken {
    return this.source.token;
  }

  get requested(): boolean {
    return this.source.token.isCancellationRequested;
  }

  /** Throws Interrupted if Ctrl-C was pressed. */
  check(): void {
    if (this.requested) throw new Interrupted();
  }

  /** A fresh token after a handled interrupt (chat goes on after stopping an answer). */
  rearm(): void {
    this.source.dispose();
    this.source = new CancellationTokenSource();
    this.presses = 0;
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
    this.source.dispose();
  }
}

export interface LoadedModel {
  client: EngineClient;
  modelId: string;
  modelPath: string;
  info: ModelInfo;
}

/** Resolves --model or the default model (converting the tiny test model once if needed). */
export async function resolveModelPath(flags: EngineFlags, io: Io, client: EngineClient, interrupt: Interrupt): Promise<string> {
  if (flags.model !== undefined) return flags.model;
  const choice = chooseDefaultModel(packageRoot(), io.env);
  if (choice.note) io.stderr.write(`${choice.note}\n`);
  if (choice.kind === 'file') return choice.path;
  fs.mkdirSync(path.dirname(choice.output), { recursive: true });
  const line = new ProgressLine(io.stderr);
  await client.convert(
    { input: choice.input, output: choice.output, vocab: choice.vocab },
    { token: interrupt.token, onProgress: (p) => line.update({ label: 'converting', done: p.done, total: p.total, unit: 'tensors', elapsedMs: p.elapsedMs }) },
  );
  line.clear();
  return choice.output;
}

/** Starts the engine process, loads the model, runs `fn`, and stops the process. */
export async function withModel<T>(flags: EngineFlags, io: Io, interrupt: Interrupt, fn: (m: LoadedModel) => Promise<T>): Promise<T> {
  const client = new EngineClient({ env: io.env });
  try {
    const modelPath = await resolveModelPath(flags, io, client, interrupt);
    interrupt.check();
    const line = new ProgressLine(io.stderr);
    const loaded = await client.loadModel(
      { path: modelPath, device: flags.device, ...(flags.threads !== undefined ? { threads: flags.threads } : {}) },
      { token: interrupt.token, onProgress: (p) => line.update({ label: 'loading', done: p.done, total: p.total, unit: 'tensors', elapsedMs: p.elapsedMs }) },
    );
    line.clear();
    interrupt.check();
    return await fn({ client, modelId: loaded.modelId, modelPath, info: loaded.info });
  } finally {
    await client.dispose();
  }
}

/** One line about the model for stderr. */
export function describeModel(m: LoadedModel): string {
  const i = m.info;
  const params = i.nParams >= 1e9 ? `${(i.nParams / 1e9).toFixed(1)}B` : i.nParams >= 1e6 ? `${(i.nParams / 1e6).toFixed(0)}M` : formatCount(i.nParams);
  return `${i.name || m.modelPath} (${i.architecture}, ${params} params) on ${i.device}`;
}
