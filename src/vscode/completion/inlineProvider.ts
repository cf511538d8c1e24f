// Inline completions: VS Code asks on every keystroke and cancels the last
// request; the pipeline (src/core/completion) debounces, reuses cached
// suggestions, forks the workspace context through the engine and cuts the
// suggestion at the end of the block. Latency goes to the log and the
// status bar tooltip.
import * as vscode from 'vscode';

import type { CancelToken } from '../../core/async/cancel';
import { trimSuggestion } from '../../core/completion/blockEnd';
import { CompletionEnginePort, EngineCompletionModel, ForkedContext } from '../../core/completion/engineModel';
import { CompletionOutcome, CompletionPipeline } from '../../core/completion/pipeline';
import { readSettings } from '../config';
import { sharedTreeSitter, type TreeSitter } from '../../core/syntax/treeSitter';
import type { WorkspaceContext } from '../context/workspaceContext';
import type { EngineService } from '../engine/engineService';
import type { Log } from '../log';

/** Keeps forks of the context for a while even as it changes: re-reading the file for every edit would cost more than the staleness. */
const KEEP_FORK_MS = 30_000;

class CompletionEngine implements CompletionEnginePort {
  private stable = '';
  private stableSince = 0;

  constructor(private readonly engine: EngineService, private readonly context: WorkspaceContext) {}

  async forkContext(): Promise<ForkedContext> {
    await this.engine.ready();
    const f = await this.context.fork();
    return { session: f.session, drop: f.drop };
  }

  contextVersion(): string {
    const v = this.context.version();
    const epochChanged = v.split(':')[0] !== this.stable.split(':')[0];
    if (v !== this.stable && (epochChanged || Date.now() - this.stableSince > KEEP_FORK_MS)) {
      this.stable = v;
      this.stableSince = Date.now();
    }
    return this.stable;
  }

  async fork(session: string): Promise<string> {
    return (await this.engine.client.request('forkSession', { sessionId: session })).sessionId;
  }

  async feed(session: string, text: string, token: CancelToken): Promise<void> {
    await this.engine.client.feed({ sessionId: session, text }, { token });
  }

  async generate(session: string, options: { maxTokens: number; stop: string[] }, token: CancelToken) {
    const s = this.engine.client.generate({ sessionId: session, maxTokens: options.maxTokens, stop: options.stop, sampler: { temperature: 0 } }, { token });
    const r = await s.result;
    return { text: r.text, tokens: r.nGenerated };
  }

  async drop(session: string): Promise<void> {
    await this.engine.client.request('dropSession', { sessionId: session });
  }
}

export class InlineCompletions implements vscode.InlineCompletionItemProvider, vscode.Disposable {
  readonly pipeline: CompletionPipeline;
  readonly model: EngineCompletionModel;
  private treeSitter: Promise<TreeSitter>;
  /** The last outcomes, for tests and the status command. */
  readonly outcomes: CompletionOutcome[] = [];

  constructor(private readonly engine: EngineService, context: WorkspaceContext, private readonly log: Log) {
    this.model = new EngineCompletionModel(new CompletionEngine(engine, context));
    this.treeSitter = sharedTreeSitter().then((t) => {
      if (!t.available) log.warn(`completions: tree-sitter unavailable (${t.failure}); blocks end by indentation`);
      return t;
    });
    this.pipeline = new CompletionPipeline(this.model, () => readSettings().completion, async (input) => trimSuggestion(input, await this.treeSitter));
    this.pipeline.onOutcome((o) => {
      this.outcomes.push(o);
      if (this.outcomes.length > 20) this.outcomes.shift();
      if (o.source === 'model') this.log.info(`completion ${o.relPath}: ${Math.round(o.latencyMs)} ms, ${o.tokens} tokens, ${JSON.stringify(o.text ?? '').length - 2} chars`);
      else if (o.source === 'cache') this.log.info(`completion ${o.relPath}: ${Math.round(o.latencyMs)} ms from the cache`);
      else if (o.source === 'error') this.log.warn(`completion ${o.relPath}: ${o.error}`);
    });
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    _context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    if (!readSettings().completion.enabled || this.engine.state !== 'ready') return undefined;
    const offset = document.offsetAt(position);
    const text = document.getText();
    const outcome = await this.pipeline.provide(
      {
        document: document.uri.toString(),
        relPath: vscode.workspace.asRelativePath(document.uri, (vscode.workspace.workspaceFolders?.length ?? 0) > 1),
        languageId: document.languageId,
        prefix: text.slice(0, offset),
        suffix: text.slice(offset),
      },
      token,
    );
    if (!outcome.text || token.isCancellationRequested) return undefined;
    return [new vscode.InlineCompletionItem(outcome.text, new vscode.Range(position, position))];
  }

  dispose(): void {
    void this.model.dispose();
  }
}
