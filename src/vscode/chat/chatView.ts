// The chat panel: a webview view with a strict content security policy (a
// nonce for the one script and stylesheet, nothing remote), theme colours,
// answers streamed as HTML the extension rendered safely, code blocks with
// copy / insert / apply, clickable file:line citations, a stop button, the
// history of this workspace and the state of the context.
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';

import type { ChatController } from '../../core/chat/controller';
import type { ChatMessage } from '../../core/chat/history';
import { renderMarkdown } from '../../core/chat/markdown';
import { ContextLine, FromView, isFromView, ToView, ViewMessage } from '../../protocol/webview';
import type { StatusModel } from '../ui/status';
import { applyCode, insertAtCursor, LastEditor, openCitation } from './links';

export const CHAT_VIEW_ID = 'rwkvx.chatView';

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private readonly pending = new Map<string, ChatMessage>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly subs: vscode.Disposable[] = [];
  private readonly readyEmitter = new vscode.EventEmitter<void>();
  /** The webview loaded its script and asked for the state. */
  readonly onDidBecomeReady = this.readyEmitter.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly chat: ChatController,
    private readonly status: StatusModel,
    private readonly lastEditor: LastEditor,
    private readonly knownPaths: () => Set<string>,
  ) {
    const off = chat.onEvent((e) => {
      if (e.type === 'message') this.queue(e.message);
      else if (e.type === 'cleared') this.post({ type: 'cleared' });
      else this.post({ type: 'busy', busy: e.busy });
    });
    this.subs.push({ dispose: off }, status.onDidChange(() => this.post({ type: 'context', context: this.contextLine() })));
  }

  get isReady(): boolean {
    return this.ready && this.view !== undefined;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    view.webview.options = { enableScripts: true, localResourceRoots: [media] };
    view.webview.html = this.html(view.webview);
    view.webview.onDidReceiveMessage((m: unknown) => {
      if (isFromView(m)) void this.onMessage(m);
    });
    view.onDidDispose(() => {
      this.view = undefined;
      this.ready = false;
    });
  }

  /** Shows the view (and optionally puts text into its input box). */
  async reveal(prefill?: string): Promise<void> {
    await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
    if (prefill !== undefined) this.post({ type: 'prefill', text: prefill });
  }

  private contextLine(): ContextLine {
    const v = this.status.view();
    return { text: v.text.replace(/\$\([\w~-]+\)\s*/g, ''), tooltip: v.tooltip.join('\n'), level: v.level };
  }

  private toView(m: ChatMessage): ViewMessage {
    const known = this.knownPaths();
    const html = renderMarkdown(m.text, { isKnownPath: (p) => known.has(p) }).html;
    const footer = m.stats ? `${m.stats.tokens} tokens · ${m.stats.tokensPerSecond.toFixed(1)} tok/s` : undefined;
    return { id: m.id, role: m.role, html, status: m.status, ...(m.error ? { error: m.error } : {}), ...(footer ? { footer } : {}) };
  }

  /** Streamed updates go out at most every 50 ms per message. */
  private queue(m: ChatMessage): void {
    this.pending.set(m.id, m);
    if (m.status !== 'streaming') return this.flush();
    if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), 50);
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const m of this.pending.values()) this.post({ type: 'message', message: this.toView(m) });
    this.pending.clear();
  }

  private post(m: ToView): void {
    if (this.view && this.ready) void this.view.webview.postMessage(m);
  }

  private async onMessage(m: FromView): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.post({ type: 'init', messages: this.chat.history.all().map((h) => this.toView(h)), busy: this.chat.busy, context: this.contextLine() });
        this.readyEmitter.fire();
        return;
      case 'ask':
        if (m.text.trim()) await this.chat.ask(m.text.trim());
        return;
      case 'stop':
        this.chat.stop();
        return;
      case 'clear':
        await this.chat.clear();
        return;
      case 'open':
        await openCitation(m.path, m.line, m.endLine);
        return;
      case 'code':
        await this.codeAction(m.action, m.messageId, m.index);
        return;
    }
  }

  async codeAction(action: 'copy' | 'insert' | 'apply', messageId: string, index: number, confirm = true): Promise<boolean> {
    const msg = this.chat.history.get(messageId);
    const block = msg ? renderMarkdown(msg.text).codeBlocks[index] : undefined;
    if (!block) return false;
    if (action === 'copy') {
      await vscode.env.clipboard.writeText(block.code);
      void vscode.window.setStatusBarMessage('RWKV: code copied', 2000);
      return true;
    }
    if (action === 'insert') return insertAtCursor(this.lastEditor.current, block.code);
    return applyCode(block.code, block.path, this.lastEditor.current, confirm);
  }

  private html(webview: vscode.Webview): string {
    const nonce = randomBytes(16).toString('base64').replace(/[+/=]/g, '');
    const asset = (f: string) => webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', f)).toString();
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource} 'nonce-${nonce}'`,
      `script-src 'nonce-${nonce}'`,
      `img-src ${webview.cspSource} data:`,
      `font-src ${webview.cspSource}`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" nonce="${nonce}" href="${asset('chat.css')}">
<title>RWKV Chat</title>
</head>
<body>
<header id="context" class="context" role="status" aria-live="polite"></header>
<main id="messages" class="messages" aria-live="polite"></main>
<div id="empty" class="empty">Ask about this workspace. The whole repository is in the model's context; answers cite <code>file:line</code>.</div>
<footer class="composer">
  <textarea id="input" rows="3" placeholder="Ask about the workspace (Enter to send, Shift+Enter for a new line)" aria-label="Question"></textarea>
  <div class="buttons">
    <button id="send" class="primary" title="Send (Enter)">Send</button>
    <button id="stop" class="secondary" title="Stop the answer" hidden>Stop</button>
    <button id="clear" class="secondary" title="Clear the history of this workspace">Clear</button>
  </div>
</footer>
<script nonce="${nonce}" src="${asset('chat.js')}"></script>
</body>
</html>`;
  }

  dispose(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const s of this.subs) s.dispose();
    this.readyEmitter.dispose();
  }
}
