// The command palette: questions about the workspace, context control,
// models, and the engine's status. Every command also takes arguments, so
// tests and keybindings can run it without the pickers.
import * as vscode from 'vscode';

import type { ChatController } from '../core/chat/controller';
import { explainQuestion, locationsMarkdown, whereQuestion } from '../core/chat/prompts';
import type { ChatViewProvider } from './chat/chatView';
import { selectionOf, symbolAt, findLocations } from './chat/workspaceQueries';
import type { WorkspaceContext } from './context/workspaceContext';
import type { EngineService } from './engine/engineService';
import type { Log } from './log';
import { downloadModel, DownloadArgs, importModel, ImportArgs, selectModel } from './models/modelCommands';
import type { StatusModel } from './ui/status';

export interface CommandDeps {
  extensionPath: string;
  engine: EngineService;
  context: WorkspaceContext;
  chat: ChatController;
  view: ChatViewProvider;
  status: StatusModel;
  log: Log;
}

export const COMMANDS = [
  'rwkvx.openChat',
  'rwkvx.askWorkspace',
  'rwkvx.explainSelection',
  'rwkvx.whereDefinedUsed',
  'rwkvx.rebuildContext',
  'rwkvx.pauseContext',
  'rwkvx.resumeContext',
  'rwkvx.selectModel',
  'rwkvx.importModel',
  'rwkvx.downloadModel',
  'rwkvx.showStatus',
  'rwkvx.stopAnswer',
  'rwkvx.clearChat',
  'rwkvx.restartEngine',
] as const;

const STATUS_URI = vscode.Uri.parse('rwkvx-status:/RWKV%20status.md');

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function statusDocument(d: CommandDeps): Promise<string> {
  const lines: string[] = ['# RWKV status', ''];
  const m = d.engine.model;
  lines.push(`- Engine: ${d.engine.state}${d.engine.pid ? ` (process ${d.engine.pid}, restart count ${d.engine.client.epoch})` : ''}${d.engine.error ? ` — ${d.engine.error}` : ''}`);
  if (m) {
    lines.push(`- Model: ${m.info.name} — ${m.info.architecture}, ${m.info.nParams.toLocaleString('en-US')} parameters, ${m.info.nLayer} layers (${m.info.nAttnLayer} attention), vocabulary ${m.info.nVocab}`);
    lines.push(`- File: ${m.path} (${m.source})`);
    lines.push(`- Device: ${m.info.device}${m.info.deviceNote ? ` — ${m.info.deviceNote}` : ''}`);
    if (m.note) lines.push(`- Note: ${m.note}`);
  }
  try {
    const s = await d.engine.stats();
    lines.push(`- Engine memory: ${(s.memory.rss / 1e6).toFixed(0)} MB resident; ${s.sessions.length} sessions, ${s.snapshots} snapshots`);
    lines.push(`- Reading: ${s.prefill.tokens.toLocaleString('en-US')} tokens at ${s.prefill.tokensPerSecond.toFixed(0)} tok/s; writing: ${s.decode.tokens.toLocaleString('en-US')} tokens at ${s.decode.tokensPerSecond.toFixed(1)} tok/s`);
  } catch (e) {
    lines.push(`- Engine stats: unavailable (${errorText(e)})`);
  }
  lines.push('', '## Context', '');
  for (const l of d.status.view().tooltip) lines.push(`- ${l}`);
  const report = d.context.report();
  if (report) {
    lines.push('', `Files in the context: ${report.included.length}; skipped: ${report.skipped.length}; left out for the budget: ${report.leftOut.length}`);
    const skipped = report.skipped.slice(0, 50).map((s) => `- ${s.path}: ${s.reason}`);
    if (skipped.length) lines.push('', '### Skipped', '', ...skipped);
    if (report.leftOut.length) lines.push('', '### Left out (budget)', '', ...report.leftOut.slice(0, 50).map((p) => `- ${p}`));
  }
  lines.push('', 'The full log is in the Output panel, channel "rwkvx".');
  return lines.join('\n');
}

export function registerCommands(d: CommandDeps): vscode.Disposable[] {
  let statusText = '';
  const statusChanged = new vscode.EventEmitter<vscode.Uri>();
  const reg = (id: (typeof COMMANDS)[number], fn: (...args: any[]) => unknown) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (e) {
        d.log.error(`${id}: ${errorText(e)}`);
        void vscode.window.showErrorMessage(`RWKV: ${errorText(e)}`);
        return undefined;
      }
    });
  return [
    statusChanged,
    vscode.workspace.registerTextDocumentContentProvider('rwkvx-status', { onDidChange: statusChanged.event, provideTextDocumentContent: () => statusText }),
    reg('rwkvx.openChat', () => d.view.reveal()),
    reg('rwkvx.askWorkspace', async (question?: string) => {
      const q = question ?? (await vscode.window.showInputBox({ title: 'Ask about the workspace', prompt: 'The whole workspace is in the model’s context', placeHolder: 'Where is the configuration read?' }));
      if (!q?.trim()) return undefined;
      await d.view.reveal();
      return d.chat.ask(q.trim());
    }),
    reg('rwkvx.explainSelection', async () => {
      const sel = selectionOf(vscode.window.activeTextEditor);
      if (!sel) {
        void vscode.window.showInformationMessage('RWKV: select some code to explain.');
        return undefined;
      }
      await d.view.reveal();
      const where = sel.startLine === sel.endLine ? `${sel.path}:${sel.startLine}` : `${sel.path}:${sel.startLine}-${sel.endLine}`;
      return d.chat.ask(explainQuestion(sel), { display: `Explain ${where}` });
    }),
    reg('rwkvx.whereDefinedUsed', async (symbolArg?: string) => {
      const editor = vscode.window.activeTextEditor;
      const symbol = symbolArg ?? symbolAt(editor) ?? (await vscode.window.showInputBox({ title: 'Where is this defined / used?', prompt: 'A name (function, class, variable)' }));
      if (!symbol?.trim()) return undefined;
      const found = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `RWKV: looking for ${symbol}` }, () => findLocations(symbol.trim(), editor));
      await d.view.reveal();
      return d.chat.ask(whereQuestion(symbol, found.definitions, found.uses), {
        display: `Where is \`${symbol}\` defined and used?`,
        preface: locationsMarkdown(symbol, found.definitions, found.uses),
      });
    }),
    reg('rwkvx.rebuildContext', async () => {
      await d.context.rebuild();
    }),
    reg('rwkvx.pauseContext', () => {
      d.context.pause();
      void vscode.commands.executeCommand('setContext', 'rwkvx.paused', true);
    }),
    reg('rwkvx.resumeContext', () => {
      d.context.resume();
      void vscode.commands.executeCommand('setContext', 'rwkvx.paused', false);
    }),
    reg('rwkvx.selectModel', () => selectModel(d.engine, d.log, d.extensionPath)),
    reg('rwkvx.importModel', (args?: ImportArgs) => importModel(d.engine, d.log, args)),
    reg('rwkvx.downloadModel', (args?: DownloadArgs) => downloadModel(d.engine, d.log, args)),
    reg('rwkvx.showStatus', async (options?: { show?: boolean }) => {
      statusText = await statusDocument(d);
      statusChanged.fire(STATUS_URI);
      if (options?.show !== false) {
        d.log.show();
        const doc = await vscode.workspace.openTextDocument(STATUS_URI);
        await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
      }
      return statusText;
    }),
    reg('rwkvx.stopAnswer', () => d.chat.stop()),
    reg('rwkvx.clearChat', () => d.chat.clear()),
    reg('rwkvx.restartEngine', () => d.engine.restart()),
  ];
}
