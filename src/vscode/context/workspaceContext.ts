// The workspace context in VS Code: one ContextLog (src/core/context) per
// loaded model, fed by the editor's events (unsaved edits, saves, creates,
// deletes, renames, settings), persisted in the workspace storage folder.
// Chat and completions fork it; without a workspace folder they get an
// empty session instead.
import * as path from 'path';
import * as vscode from 'vscode';

import { ClientEnginePort } from '../../core/context/clientPort';
import { ContextLog, ContextStatus, ContextUnavailableError, QueryFork } from '../../core/context/contextLog';
import { FolderStorage } from '../../core/context/nodeStorage';
import type { ProgressEvent } from '../../core/context/progress';
import { systemClock } from '../../core/context/systemClock';
import type { FilesExclude, WorkspaceFolder } from '../../core/context/ports';
import { SyntaxOutliner } from '../../core/syntax/outline';
import { NodeFileSystem } from '../../core/workspace/nodeFs';
import { readSettings } from '../config';
import type { EngineService } from '../engine/engineService';
import type { Log } from '../log';
import { sharedTreeSitter } from '../../core/syntax/treeSitter';

/** Default token budget: 64K on the CPU, more where a GPU reads fast. */
export function budgetFor(device: string, configured: number): number {
  if (configured > 0) return configured;
  return /cuda|gpu/i.test(device) ? 262_144 : 65_536;
}

export class WorkspaceContext implements vscode.Disposable {
  private log: ContextLog | undefined;
  private readonly port: ClientEnginePort;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [];
  private unsubscribe: (() => void)[] = [];
  private lastProgress: ProgressEvent | undefined;
  private versionValue = 0;
  private lastTokens = -1;
  private pendingText = new Map<string, NodeJS.Timeout>();
  private starting: Promise<void> | undefined;
  /** Status/progress changed. */
  readonly onDidChange = this.changed.event;
  /** Edits the context received (for the status tooltip and tests). */
  eventsSeen = 0;

  constructor(private readonly ctx: vscode.ExtensionContext, private readonly engine: EngineService, private readonly out: Log) {
    const budget = () => budgetFor(engine.model?.info.device ?? 'cpu', readSettings().contextBudget);
    // Sessions hold the budget plus room for a query or a completion's file.
    this.port = new ClientEnginePort(engine.client, { model: () => engine.ready(), contextLength: budget, sessionLength: () => budget() + 16_384 });
    this.disposables.push(
      engine.onDidLoadModel(({ restart }) => void (restart && this.log ? this.afterRestart() : this.recreate('model loaded'))),
      ...this.watchEditor(),
    );
  }

  // ------------------------------------------------------------ lifecycle

  static folders(): WorkspaceFolder[] {
    const extra = readSettings().extraIgnore;
    return (vscode.workspace.workspaceFolders ?? [])
      .filter((f) => f.uri.scheme === 'file')
      .map((f) => {
        const filesExclude = vscode.workspace.getConfiguration('files', f.uri).get<FilesExclude>('exclude', {}) ?? {};
        return { name: f.name, path: f.uri.fsPath, filesExclude: { ...filesExclude }, ...(extra.length ? { extraIgnore: [...extra] } : {}) };
      });
  }

  get available(): boolean {
    return this.log !== undefined;
  }

  /** Replaces the context log (first model load, another model, other settings). */
  async recreate(reason: string): Promise<void> {
    const run = (async () => {
      await this.disposeLog();
      const folders = WorkspaceContext.folders();
      if (folders.length === 0 || !this.engine.model) {
        this.changed.fire();
        return;
      }
      const storageDir = this.ctx.storageUri ? path.join(this.ctx.storageUri.fsPath, 'context') : undefined;
      const log = new ContextLog(
        {
          fs: new NodeFileSystem(),
          engine: this.port,
          clock: systemClock,
          folders,
          ...(storageDir ? { storage: new FolderStorage(storageDir) } : {}),
          logger: { info: (m) => this.out.info(/^context\b/.test(m) ? m : `context: ${m}`), warn: (m) => this.out.warn(/^context\b/.test(m) ? m : `context: ${m}`) },
        },
        { budgetTokens: budgetFor(this.engine.model.info.device, readSettings().contextBudget), outliner: await this.outliner() },
      );
      this.log = log;
      this.unsubscribe = [
        log.onStatus(() => this.onStatus()),
        log.onProgress((p) => {
          this.lastProgress = p.done ? undefined : p;
          this.changed.fire();
        }),
      ];
      this.out.info(`context: starting (${reason}) over ${folders.map((f) => f.path).join(', ')}`);
      this.changed.fire();
      try {
        await log.start();
        const s = log.status();
        this.out.info(`context: ${s.tokensInContext} tokens, ${s.files} files${s.restore?.reused ? ' (reopened)' : ''}${s.filesLeftOut ? `, ${s.filesLeftOut} left out` : ''}`);
      } catch (e) {
        this.out.error(`context: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.changed.fire();
    })();
    this.starting = run;
    return run;
  }

  private outlinerPromise: Promise<SyntaxOutliner> | undefined;

  /** Tree-sitter for splitting huge files, with paths that also hold in the packaged extension. */
  private outliner(): Promise<SyntaxOutliner> {
    this.outlinerPromise ??= sharedTreeSitter().then((t) => new SyntaxOutliner(t));
    return this.outlinerPromise;
  }

  private async afterRestart(): Promise<void> {
    const log = this.log;
    if (!log) return this.recreate('engine restarted');
    this.out.info('context: the engine restarted; reopening the context');
    try {
      await log.engineRestarted();
    } catch (e) {
      this.out.error(`context: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.changed.fire();
  }

  private onStatus(): void {
    const s = this.log?.status();
    if (s && s.tokensInContext !== this.lastTokens) {
      this.lastTokens = s.tokensInContext;
      this.versionValue++;
    }
    this.changed.fire();
  }

  private async disposeLog(): Promise<void> {
    const log = this.log;
    this.log = undefined;
    this.lastProgress = undefined;
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    if (log) await log.dispose().catch(() => undefined);
  }

  // ------------------------------------------------------------- queries

  status(): ContextStatus | undefined {
    return this.log?.status();
  }

  progress(): ProgressEvent | undefined {
    return this.lastProgress;
  }

  /** Changes when the stream's content changed (completions keep forks per version). */
  version(): string {
    return `${this.engine.client.epoch}:${this.versionValue}`;
  }

  /** A fork of the workspace stream, or an empty session when there is no workspace. */
  async fork(): Promise<QueryFork> {
    if (!this.log && this.starting) await this.starting;
    for (;;) {
      const log = this.log;
      if (!log) break;
      try {
        // Waits for the stream while it is opened (also after an engine restart).
        return await log.forkForQuery();
      } catch (e) {
        // The log was replaced meanwhile (another model, other settings): ask the new one.
        if (!(e instanceof ContextUnavailableError && e.reason === 'disposed' && this.log !== log)) throw e;
        if (!this.log && this.starting) await this.starting;
      }
    }
    const session = await this.port.openSession();
    return { session, nPast: 0, partial: false, drop: () => this.port.dropSession(session) };
  }

  /** Files in the context, for linking bare paths in answers. */
  knownPaths(): Set<string> {
    return new Set(this.log?.report().included.map((f) => f.path) ?? []);
  }

  pause(): void {
    this.log?.pause();
  }

  resume(): void {
    this.log?.resume();
  }

  get paused(): boolean {
    return this.log?.status().state === 'paused';
  }

  async rebuild(): Promise<void> {
    if (!this.log) return this.recreate('rebuild requested');
    await this.log.rebuild();
  }

  /** Applies pending edits now (tests, and before a question about them). */
  async flush(): Promise<void> {
    await this.log?.flush();
  }

  report() {
    return this.log?.report();
  }

  // ------------------------------------------------------------- events

  private inWorkspace(uri: vscode.Uri): boolean {
    return uri.scheme === 'file' && vscode.workspace.getWorkspaceFolder(uri) !== undefined;
  }

  private notify(e: Parameters<ContextLog['notify']>[0]): void {
    this.eventsSeen++;
    this.log?.notify(e);
  }

  private watchEditor(): vscode.Disposable[] {
    const watcher = vscode.workspace.createFileSystemWatcher('**/*');
    return [
      watcher,
      vscode.workspace.onDidChangeTextDocument((e) => {
        const doc = e.document;
        if (!this.inWorkspace(doc.uri) || e.contentChanges.length === 0) return;
        // Reading the whole text on every keystroke is wasteful: take it when typing pauses.
        const key = doc.uri.fsPath;
        clearTimeout(this.pendingText.get(key));
        this.pendingText.set(
          key,
          setTimeout(() => {
            this.pendingText.delete(key);
            if (!doc.isClosed) this.notify({ type: 'changed', path: key, text: doc.getText() });
          }, 150),
        );
      }),
      vscode.workspace.onDidSaveTextDocument((doc) => {
        if (!this.inWorkspace(doc.uri)) return;
        clearTimeout(this.pendingText.get(doc.uri.fsPath));
        this.pendingText.delete(doc.uri.fsPath);
        this.notify({ type: 'saved', path: doc.uri.fsPath });
      }),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        if (!this.inWorkspace(doc.uri)) return;
        clearTimeout(this.pendingText.get(doc.uri.fsPath));
        this.pendingText.delete(doc.uri.fsPath);
        // Closed without saving: the disk version holds again.
        this.notify({ type: 'discarded', path: doc.uri.fsPath });
      }),
      watcher.onDidCreate((u) => this.inWorkspace(u) && this.notify({ type: 'created', path: u.fsPath })),
      watcher.onDidDelete((u) => this.inWorkspace(u) && this.notify({ type: 'deleted', path: u.fsPath })),
      // A change on disk (another program, a branch switch): re-read it.
      watcher.onDidChange((u) => this.inWorkspace(u) && this.notify({ type: 'saved', path: u.fsPath })),
      vscode.workspace.onDidRenameFiles((e) => {
        for (const f of e.files) if (this.inWorkspace(f.newUri)) this.notify({ type: 'renamed', from: f.oldUri.fsPath, to: f.newUri.fsPath });
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.recreate('workspace folders changed')),
    ];
  }

  /** files.exclude or the extra ignore patterns changed: everything is judged again. */
  settingsChanged(): void {
    this.notify({ type: 'settings', folders: WorkspaceContext.folders() });
  }

  dispose(): void {
    for (const t of this.pendingText.values()) clearTimeout(t);
    for (const d of this.disposables) d.dispose();
    void this.disposeLog();
    this.changed.dispose();
  }
}
