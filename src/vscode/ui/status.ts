// One view of the product's state (engine, model, context, completions) for
// the status bar, the chat header and the status command.
import * as path from 'path';
import * as vscode from 'vscode';

import { StatusInput, StatusView, summarize } from '../../core/status/summary';
import type { CompletionOutcome, CompletionPipeline } from '../../core/completion/pipeline';
import type { WorkspaceContext } from '../context/workspaceContext';
import type { EngineService } from '../engine/engineService';

export class StatusModel implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly subs: vscode.Disposable[] = [];
  private lastCompletion: CompletionOutcome | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly engine: EngineService, private readonly context: WorkspaceContext, private readonly completions: CompletionPipeline) {
    this.subs.push(engine.onDidChange(() => this.fire()), context.onDidChange(() => this.fire()));
    const off = completions.onOutcome((o) => {
      if (o.source === 'model' || o.source === 'cache' || o.source === 'error') {
        this.lastCompletion = o;
        this.fire();
      }
    });
    this.subs.push({ dispose: off });
  }

  /** Coalesces bursts (progress events) into one refresh per 100 ms. */
  private fire(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changed.fire();
    }, 100);
  }

  input(): StatusInput {
    const m = this.engine.model;
    const c = this.context.status();
    const p = this.context.progress();
    return {
      engine: this.engine.state,
      ...(this.engine.error ? { engineError: this.engine.error } : {}),
      ...(this.engine.progress ? { engineProgress: this.engine.progress } : {}),
      ...(m ? { model: { name: m.info.name || path.basename(m.path, '.gguf'), device: m.info.device, params: m.info.nParams, ...(m.note ? { note: m.note } : {}) } } : {}),
      ...(c ? { context: c } : {}),
      ...(p ? { progress: p } : {}),
      ...(this.lastCompletion ? { completion: { lastMs: this.lastCompletion.latencyMs, lastSource: this.lastCompletion.source, medianMs: this.completions.medianModelMs() } } : {}),
      noWorkspace: WorkspaceContextFolders() === 0,
    };
  }

  view(): StatusView {
    return summarize(this.input());
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subs) s.dispose();
    this.changed.dispose();
  }
}

function WorkspaceContextFolders(): number {
  return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').length;
}

/** The status bar item: the summary line, details in the tooltip, click opens the chat. */
export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('rwkvx.status', vscode.StatusBarAlignment.Right, 100);
  private readonly sub: vscode.Disposable;

  constructor(private readonly status: StatusModel) {
    this.item.name = 'RWKV context';
    this.item.command = 'rwkvx.openChat';
    this.sub = status.onDidChange(() => this.render());
    this.render();
    this.item.show();
  }

  render(): void {
    const v = this.status.view();
    this.item.text = v.text;
    const md = new vscode.MarkdownString(v.tooltip.map((l) => l.replace(/[\\`*_[\]<>]/g, (c) => `\\${c}`)).join('\n\n'));
    md.appendMarkdown('\n\n---\n\nClick to open the RWKV chat.');
    this.item.tooltip = md;
    this.item.backgroundColor =
      v.level === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : v.level === 'warning' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  /** For tests: what the item shows. */
  get text(): string {
    return this.item.text;
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}
