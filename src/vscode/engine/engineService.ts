// The engine process as the extension sees it: one EngineClient (which forks
// the engine host and restarts it after a crash), the model loaded in it,
// and a state for the status bar. After a crash the client restarts the
// process; this service then loads the model again and tells the context,
// which rebuilds (or reopens its save).
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

import { EngineClient } from '../../engine/client';
import type { EngineStats, ModelInfo, ProgressNotification } from '../../protocol/engine';
import { chooseModel } from '../../core/models/defaultModel';
import { readSettings } from '../config';
import type { Log } from '../log';

export type EngineState = 'starting' | 'converting' | 'loading' | 'ready' | 'restarting' | 'no-model' | 'error';

export interface LoadedModel {
  modelId: string;
  path: string;
  info: ModelInfo;
  source: string;
  /** A warning for the user (the tiny test model, a CPU fallback). */
  note?: string;
  /** Engine epoch the model was loaded in: ids of older epochs are gone. */
  epoch: number;
}

export class EngineService implements vscode.Disposable {
  readonly client: EngineClient;
  private stateValue: EngineState = 'starting';
  private modelValue: LoadedModel | undefined;
  private errorValue: string | undefined;
  private loading: Promise<LoadedModel | undefined> | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly loaded = new vscode.EventEmitter<{ model: LoadedModel; restart: boolean }>();
  private readonly crashed = new vscode.EventEmitter<string>();
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;
  private restartRequested = false;
  private afterRestart: ((m: LoadedModel | undefined) => void) | undefined;
  /** Progress of the current load / conversion, for the status bar. */
  progress: { label: string; done: number; total: number } | undefined;

  /** State, model or progress changed. */
  readonly onDidChange = this.changed.event;
  /** A model is loaded (first time, another model, or again after the engine restarted). */
  readonly onDidLoadModel = this.loaded.event;
  /** The engine process died (the reason, for people). */
  readonly onDidCrash = this.crashed.event;

  constructor(private readonly ctx: vscode.ExtensionContext, private readonly log: Log) {
    this.client = new EngineClient({ env: { ...process.env } });
    this.client.onLog((line) => log.engine(line));
    this.client.onDidCrash((e) => {
      const asked = this.restartRequested;
      this.restartRequested = false;
      if (asked) this.log.info('engine: restarting as asked');
      else this.log.error(`engine: ${e.reason}${e.willRestart ? '; restarting' : '; giving up'}`);
      this.modelValue = undefined;
      this.errorValue = asked ? undefined : e.reason;
      // Callers that need the model wait for the reload after the restart.
      const previous = this.afterRestart;
      this.loading = e.willRestart ? new Promise((resolve) => (this.afterRestart = resolve)) : undefined;
      previous?.(undefined);
      if (!e.willRestart) this.afterRestart = undefined;
      this.setState(e.willRestart ? 'restarting' : 'error');
      if (!asked) this.crashed.fire(e.reason);
    });
    this.client.onDidRestart((e) => {
      this.log.info(`engine: process restarted (epoch ${e.epoch})`);
      const waiting = this.afterRestart;
      this.afterRestart = undefined;
      const run = this.load(true);
      void run.then((m) => waiting?.(m));
    });
  }

  get state(): EngineState {
    return this.stateValue;
  }

  get model(): LoadedModel | undefined {
    return this.modelValue;
  }

  get error(): string | undefined {
    return this.errorValue;
  }

  get pid(): number | undefined {
    return this.client.pid;
  }

  /** Folder for downloaded and converted models. */
  get modelsDir(): string {
    return path.join(this.ctx.globalStorageUri.fsPath, 'models');
  }

  private setState(s: EngineState): void {
    this.stateValue = s;
    this.changed.fire();
  }

  /** The loaded model, loading it first if needed (waits for a running load). */
  async ready(): Promise<LoadedModel> {
    if (this.modelValue && this.modelValue.epoch === this.client.epoch) return this.modelValue;
    const m = await (this.loading ?? this.load(false));
    if (!m) throw new Error(this.errorValue ?? 'no model is loaded');
    return m;
  }

  /** Loads the model the settings choose (again). */
  reload(): Promise<LoadedModel | undefined> {
    return this.load(false);
  }

  private load(restart: boolean): Promise<LoadedModel | undefined> {
    const run = this.loadNow(restart).finally(() => {
      if (this.loading === run) this.loading = undefined;
    });
    this.loading = run;
    return run;
  }

  private async loadNow(restart: boolean): Promise<LoadedModel | undefined> {
    if (this.disposed) return undefined;
    const settings = readSettings();
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const choice = chooseModel({ settingPath: settings.modelPath, baseDir: folder, extensionPath: this.ctx.extensionPath, modelsDir: this.modelsDir });
    try {
      this.errorValue = undefined;
      if (choice.kind === 'none') {
        this.modelValue = undefined;
        this.errorValue = choice.reason;
        this.setState('no-model');
        return undefined;
      }
      const old = this.modelValue;
      this.modelValue = undefined;
      if (old && old.epoch === this.client.epoch) await this.client.request('unloadModel', { modelId: old.modelId }).catch(() => undefined);
      let modelPath: string;
      if (choice.kind === 'convert') {
        this.setState('converting');
        fs.mkdirSync(path.dirname(choice.output), { recursive: true });
        await this.client.convert(
          { input: choice.input, output: choice.output, vocab: choice.vocab },
          { onProgress: (p) => this.onProgress('converting the test model', p) },
        );
        modelPath = choice.output;
      } else modelPath = choice.path;
      this.setState('loading');
      const t0 = Date.now();
      const r = await this.client.loadModel(
        { path: modelPath, device: settings.device, ...(settings.threads > 0 ? { threads: settings.threads } : {}) },
        { onProgress: (p) => this.onProgress('loading the model', p) },
      );
      this.progress = undefined;
      const notes = [choice.note, r.info.deviceNote].filter((n): n is string => !!n);
      const m: LoadedModel = { modelId: r.modelId, path: modelPath, info: r.info, source: choice.source, epoch: this.client.epoch, ...(notes.length ? { note: notes.join('; ') } : {}) };
      this.modelValue = m;
      this.log.info(`model ${r.info.name || path.basename(modelPath)} (${r.info.architecture}, ${r.info.nParams} params) on ${r.info.device} in ${Date.now() - t0} ms from ${modelPath}${m.note ? ` — ${m.note}` : ''}`);
      this.setState('ready');
      this.loaded.fire({ model: m, restart });
      return m;
    } catch (e) {
      this.progress = undefined;
      const message = e instanceof Error ? e.message : String(e);
      this.log.error(`engine: ${message}`);
      this.errorValue = message;
      // A crash during the load is handled by the restart; anything else is an error to show.
      if (this.stateValue !== 'restarting') this.setState('error');
      return undefined;
    }
  }

  private onProgress(label: string, p: ProgressNotification): void {
    this.progress = { label, done: p.done, total: p.total };
    this.changed.fire();
  }

  /** Converts a checkpoint to GGUF in the engine (for Import and Download). */
  convert(input: string, output: string, vocab: string | undefined, token: vscode.CancellationToken, onProgress: (p: ProgressNotification) => void) {
    fs.mkdirSync(path.dirname(output), { recursive: true });
    return this.client.convert({ input, output, ...(vocab ? { vocab } : {}) }, { token, onProgress });
  }

  stats(): Promise<EngineStats> {
    return this.client.request('stats', {});
  }

  /** A fresh engine process: after the client gave up on a crashing one, or when the user asks. */
  async restart(): Promise<void> {
    if (this.stateValue === 'error' && !this.client.pid) {
      await this.client.restart();
      await this.load(true);
      return;
    }
    const proc = this.client.process;
    if (!proc) {
      await this.load(false);
      return;
    }
    // Stopping the process takes the crash path: restart with back-off, reload, the context reopens.
    this.restartRequested = true;
    proc.kill('SIGTERM');
    await new Promise<void>((resolve) => {
      const sub = this.loaded.event(() => {
        sub.dispose();
        resolve();
      });
    });
  }

  dispose(): void {
    this.disposed = true;
    for (const d of this.disposables) d.dispose();
    void this.client.dispose();
    this.changed.dispose();
    this.loaded.dispose();
    this.crashed.dispose();
  }
}
