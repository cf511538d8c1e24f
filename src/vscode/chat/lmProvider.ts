// The local model in VS Code's model picker: a language model chat provider
// (vscode.lm.registerLanguageModelChatProvider, stable since VS Code 1.104,
// no proposed API). The typings this package builds against (@types/vscode
// 1.95) predate it, so the shapes used are declared here and the provider
// is registered only where the running VS Code has the function.
import * as vscode from 'vscode';

import { CancelToken } from '../../core/async/cancel';
import { answerOnce, ChatEngine } from '../../core/chat/controller';
import { oneTurnText } from '../../core/chat/prompts';
import { readSettings } from '../config';
import type { EngineService } from '../engine/engineService';

export const LM_VENDOR = 'rwkvx';

interface ModelInformation {
  id: string;
  name: string;
  family: string;
  version: string;
  maxInputTokens: number;
  maxOutputTokens: number;
  tooltip?: string;
  detail?: string;
  capabilities: { imageInput?: boolean; toolCalling?: boolean | number };
  /** Shown in the chat's model picker (VS Code 1.105+). */
  isUserSelectable?: boolean;
}

interface RequestMessage {
  role: vscode.LanguageModelChatMessageRole | number;
  content: readonly unknown[];
  name?: string;
}

interface ChatProvider {
  onDidChangeLanguageModelChatInformation?: vscode.Event<void>;
  provideLanguageModelChatInformation(options: { silent: boolean }, token: vscode.CancellationToken): vscode.ProviderResult<ModelInformation[]>;
  provideLanguageModelChatResponse(model: ModelInformation, messages: readonly RequestMessage[], options: unknown, progress: vscode.Progress<unknown>, token: vscode.CancellationToken): Thenable<void>;
  provideTokenCount(model: ModelInformation, text: string | RequestMessage, token: vscode.CancellationToken): Thenable<number>;
}

type Register = (vendor: string, provider: ChatProvider) => vscode.Disposable;

function textOf(m: RequestMessage | string): string {
  if (typeof m === 'string') return m;
  return m.content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : typeof (p as { value?: unknown }).value === 'string' ? (p as { value: string }).value : '')).join('');
}

/** The G1 chat format for a list of messages (system, user, assistant), ending at the start of the answer. */
export function promptOf(messages: readonly RequestMessage[]): string {
  const parts: string[] = [];
  for (const m of messages) {
    const t = oneTurnText(textOf(m));
    if (!t) continue;
    const role = m.role === vscode.LanguageModelChatMessageRole.Assistant ? 'Assistant' : m.role === vscode.LanguageModelChatMessageRole.User ? 'User' : 'System';
    parts.push(`${role}: ${t}`);
  }
  return `${parts.join('\n\n')}\n\nAssistant:`;
}

export function registerLanguageModelProvider(engine: EngineService, chat: ChatEngine, budget: () => number): vscode.Disposable | undefined {
  const register = (vscode.lm as unknown as { registerLanguageModelChatProvider?: Register }).registerLanguageModelChatProvider;
  if (typeof register !== 'function') return undefined;
  const changed = new vscode.EventEmitter<void>();
  const sub = engine.onDidChange(() => changed.fire());
  const provider: ChatProvider = {
    onDidChangeLanguageModelChatInformation: changed.event,
    provideLanguageModelChatInformation() {
      const m = engine.model;
      if (!m) return [];
      return [
        {
          id: 'rwkvx-workspace',
          name: `RWKV (local): ${m.info.name || 'model'}`,
          family: m.info.architecture,
          version: String(m.info.nParams),
          maxInputTokens: 16_384,
          maxOutputTokens: readSettings().chat.maxTokens,
          tooltip: `Runs on this machine (${m.info.device}) with the whole workspace (${budget()} tokens at most) in its context.`,
          detail: m.info.device,
          capabilities: { imageInput: false, toolCalling: false },
          isUserSelectable: true,
        },
      ];
    },
    async provideLanguageModelChatResponse(_model, messages, _options, progress, token) {
      await answerOnce(chat, promptOf(messages), readSettings().chat, token as CancelToken, (t) => progress.report(new vscode.LanguageModelTextPart(t)));
    },
    async provideTokenCount(_model, text) {
      const m = engine.model;
      const s = textOf(text);
      if (!m) return Math.ceil(s.length / 4);
      return (await engine.client.request('tokenize', { modelId: m.modelId, text: s })).tokens.length;
    },
  };
  const reg = register.call(vscode.lm, LM_VENDOR, provider);
  return vscode.Disposable.from(reg, sub, changed);
}
