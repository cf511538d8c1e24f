// The protocol between the extension and its chat webview (media/chat.js, a
// plain script that is not bundled): one message union per direction, and a
// check of what arrives from the webview. The webview never renders model text
// itself: it receives HTML the extension rendered with the safe renderer
// (src/core/chat/markdown.ts).

export interface ViewMessage {
  id: string;
  role: 'user' | 'assistant' | 'notice';
  html: string;
  status: 'streaming' | 'done' | 'stopped' | 'error';
  error?: string;
  /** "123 tokens · 45.6 tok/s" */
  footer?: string;
}

export interface ContextLine {
  text: string;
  tooltip: string;
  level: 'ok' | 'busy' | 'warning' | 'error';
}

/** Extension → webview. */
export type ToView =
  | { type: 'init'; messages: ViewMessage[]; busy: boolean; context: ContextLine }
  | { type: 'message'; message: ViewMessage }
  | { type: 'cleared' }
  | { type: 'busy'; busy: boolean }
  | { type: 'context'; context: ContextLine }
  | { type: 'prefill'; text: string };

/** Webview → extension. */
export type FromView =
  | { type: 'ready' }
  | { type: 'ask'; text: string }
  | { type: 'stop' }
  | { type: 'clear' }
  | { type: 'code'; action: 'copy' | 'insert' | 'apply'; messageId: string; index: number }
  | { type: 'open'; path: string; line: number; endLine?: number };

export function isFromView(m: unknown): m is FromView {
  const x = m as { type?: unknown };
  if (typeof x !== 'object' || x === null || typeof x.type !== 'string') return false;
  const v = m as Record<string, unknown>;
  switch (x.type) {
    case 'ready': case 'stop': case 'clear': return true;
    case 'ask': return typeof v.text === 'string';
    case 'code': return ['copy', 'insert', 'apply'].includes(v.action as string) && typeof v.messageId === 'string' && Number.isInteger(v.index);
    case 'open': return typeof v.path === 'string' && Number.isInteger(v.line);
    default: return false;
  }
}
