// rwkvx-code: the whole workspace in the context of a local RWKV model, kept
// current as the code changes. Activation wires the engine process, the
// workspace context, the chat (panel, @rwkvx, model provider), inline
// completions, commands and the status bar.
import * as vscode from 'vscode';

import { ChatController } from '../core/chat/controller';
import { HistoryStore } from '../core/chat/history';
import { ChatViewProvider, CHAT_VIEW_ID } from './chat/chatView';
import { EngineChat } from './chat/engineChat';
import { LastEditor, registerProposals } from './chat/links';
import { registerLanguageModelProvider } from './chat/lmProvider';
import { registerParticipant } from './chat/participant';
import { registerCommands } from './commands';
import { affects, readSettings } from './config';
import { budgetFor, WorkspaceContext } from './context/workspaceContext';
import { InlineCompletions } from './completion/inlineProvider';
import { EngineService } from './engine/engineService';
import { Log } from './log';
import { StatusBar, StatusModel } from './ui/status';

/** What activate() returns: the parts, for the integration tests. */
export interface RwkvxApi {
  engine: EngineService;
  context: WorkspaceContext;
  chat: ChatController;
  view: ChatViewProvider;
  completions: InlineCompletions;
  status: StatusModel;
  statusBar: StatusBar;
  log: Log;
  /** Answers @rwkvx gave in VS Code's chat (for tests). */
  participantAnswers: readonly string[];
  /** Which of VS Code's chat integrations are registered here. */
  integrations: { participant: boolean; languageModelProvider: boolean };
}

function describeError(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string })?.code;
  if (code === 'ERR_ENGINE_EXITED' || code === 'ERR_ENGINE_UNAVAILABLE') {
    // "the engine process was killed (SIGKILL; out of memory?) while 'generate' was running; …"
    const what = m.split('\n')[0].replace(/ while '[^']*' was running.*$/, '').replace(/;.*$/, '');
    return `${what.charAt(0).toUpperCase()}${what.slice(1)} while answering. It is restarting; ask again in a moment.`;
  }
  return m;
}

export function activate(ctx: vscode.ExtensionContext): RwkvxApi {
  const log = new Log();
  const engine = new EngineService(ctx, log);
  const context = new WorkspaceContext(ctx, engine, log);
  const chatEngine = new EngineChat(engine, context);
  const history = new HistoryStore(ctx.workspaceState);
  const chat = new ChatController(chatEngine, history, () => readSettings().chat, describeError);
  const completions = new InlineCompletions(engine, context, log);
  const status = new StatusModel(engine, context, completions.pipeline);
  const statusBar = new StatusBar(status);
  const lastEditor = new LastEditor();
  const view = new ChatViewProvider(ctx.extensionUri, chat, status, lastEditor, () => context.knownPaths());
  const participantAnswers: string[] = [];
  const participant = registerParticipant(chatEngine, ctx.extensionUri, (text) => participantAnswers.push(text));
  const lmProvider = registerLanguageModelProvider(engine, chatEngine, () => budgetFor(engine.model?.info.device ?? 'cpu', readSettings().contextBudget));

  let offeredModels = false;
  ctx.subscriptions.push(
    log, engine, context, completions, status, statusBar, lastEditor, view,
    ...(participant ? [participant] : []),
    ...(lmProvider ? [lmProvider] : []),
    registerProposals(),
    vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, view, { webviewOptions: { retainContextWhenHidden: true } }),
    vscode.languages.registerInlineCompletionItemProvider([{ scheme: 'file' }, { scheme: 'untitled' }], completions),
    ...registerCommands({ extensionPath: ctx.extensionPath, engine, context, chat, view, status, log }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      const what = affects(e);
      if (what.model) void engine.reload();
      else if (e.affectsConfiguration('rwkvx.context.budgetTokens')) void context.recreate('budget changed');
      else if (what.context) context.settingsChanged();
    }),
    engine.onDidCrash((reason) => {
      if (chat.busy) return; // the answer shows the error itself
      void vscode.window.showWarningMessage(`RWKV: the engine process stopped (${reason.split('\n')[0]}); restarting it.`);
    }),
    engine.onDidChange(() => {
      if (engine.state !== 'no-model' || offeredModels) return;
      offeredModels = true;
      void vscode.window.showWarningMessage(`RWKV: ${engine.error ?? 'no model'}`, 'Download Model', 'Import Model').then((pick) => {
        if (pick === 'Download Model') void vscode.commands.executeCommand('rwkvx.downloadModel');
        else if (pick === 'Import Model') void vscode.commands.executeCommand('rwkvx.importModel');
      });
    }),
    engine.onDidLoadModel(({ model, restart }) => {
      if (model.note && !restart) void vscode.window.showInformationMessage(`RWKV: ${model.note}`);
    }),
  );
  void vscode.commands.executeCommand('setContext', 'rwkvx.paused', false);
  if (!ctx.globalState.get<boolean>('rwkvx.welcomed')) {
    // First run: the walkthrough says what the extension does and how to get a larger model.
    void ctx.globalState.update('rwkvx.welcomed', true);
    void vscode.commands.executeCommand('workbench.action.openWalkthrough', `${ctx.extension.id}#rwkvx.start`, false).then(undefined, () => undefined);
  }
  log.info(`activated in ${vscode.env.appName} ${vscode.version} (${vscode.env.remoteName ?? 'local'}); chat participant: ${participant ? 'yes' : 'no'}, model provider: ${lmProvider ? 'yes' : 'no (needs VS Code 1.104+)'}`);
  void engine.reload();
  return { engine, context, chat, view, completions, status, statusBar, log, participantAnswers, integrations: { participant: !!participant, languageModelProvider: !!lmProvider } };
}

export function deactivate(): void {
  // Everything is in ctx.subscriptions; the engine client stops its process there.
}
