// Chat history per workspace, kept in a key-value store (VS Code's
// workspaceState in the extension, a Map in tests). Bounded in messages and
// characters; a damaged or foreign value reads as an empty history.

export type Role = 'user' | 'assistant' | 'notice';
export type MessageStatus = 'streaming' | 'done' | 'stopped' | 'error';

export interface ChatMessage {
  id: string;
  role: Role;
  text: string;
  time: number;
  status: MessageStatus;
  /** For errors: what the user should know. */
  error?: string;
  /** Tokens per second and count of the answer, when it finished. */
  stats?: { tokens: number; tokensPerSecond: number; elapsedMs: number };
}

/** What VS Code's Memento offers, and all the store needs. */
export interface KeyValueStore {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): PromiseLike<void>;
}

export interface HistoryLimits {
  maxMessages: number;
  maxChars: number;
}

export const HISTORY_KEY = 'rwkvx.chat.history.v1';
const DEFAULT_LIMITS: HistoryLimits = { maxMessages: 200, maxChars: 400_000 };

function isMessage(m: unknown): m is ChatMessage {
  const x = m as ChatMessage;
  return (
    typeof x === 'object' && x !== null && typeof x.id === 'string' && typeof x.text === 'string' && typeof x.time === 'number' &&
    (x.role === 'user' || x.role === 'assistant' || x.role === 'notice') &&
    ['streaming', 'done', 'stopped', 'error'].includes(x.status)
  );
}

export class HistoryStore {
  private messages: ChatMessage[];
  private nextId: number;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly store: KeyValueStore, private readonly limits: HistoryLimits = DEFAULT_LIMITS) {
    const raw = store.get<{ version: number; messages: unknown[] }>(HISTORY_KEY);
    const list = raw && raw.version === 1 && Array.isArray(raw.messages) ? raw.messages.filter(isMessage) : [];
    // An answer that was streaming when the window closed did not finish.
    this.messages = list.map((m) => (m.status === 'streaming' ? { ...m, status: 'stopped' as const } : m));
    this.nextId = this.messages.reduce((n, m) => Math.max(n, Number(m.id.replace(/^m/, '')) + 1 || 0), 1);
  }

  all(): readonly ChatMessage[] {
    return this.messages;
  }

  get(id: string): ChatMessage | undefined {
    return this.messages.find((m) => m.id === id);
  }

  add(role: Role, text: string, status: MessageStatus = 'done', now = Date.now()): ChatMessage {
    const m: ChatMessage = { id: `m${this.nextId++}`, role, text, time: now, status };
    this.messages.push(m);
    this.trim();
    void this.save();
    return m;
  }

  /** Changes a message (streamed text, final status); saved unless `persist` is false (mid-stream). */
  update(id: string, change: Partial<Omit<ChatMessage, 'id' | 'role'>>, persist = true): ChatMessage | undefined {
    const i = this.messages.findIndex((m) => m.id === id);
    if (i < 0) return undefined;
    this.messages[i] = { ...this.messages[i], ...change };
    if (persist) {
      this.trim();
      void this.save();
    }
    return this.messages[i];
  }

  clear(): Promise<void> {
    this.messages = [];
    return this.save();
  }

  /** The finished question/answer pairs, oldest first, for the next prompt. */
  turns(): { question: string; answer: string }[] {
    const out: { question: string; answer: string }[] = [];
    for (let i = 0; i + 1 < this.messages.length; i++) {
      const q = this.messages[i];
      const a = this.messages[i + 1];
      if (q.role === 'user' && a.role === 'assistant' && (a.status === 'done' || a.status === 'stopped') && a.text.trim()) {
        out.push({ question: q.text, answer: a.text });
        i++;
      }
    }
    return out;
  }

  /** Resolves when everything added so far is in the store. */
  flush(): Promise<void> {
    return this.saving;
  }

  private trim(): void {
    while (this.messages.length > this.limits.maxMessages) this.messages.shift();
    let chars = this.messages.reduce((n, m) => n + m.text.length, 0);
    while (this.messages.length > 1 && chars > this.limits.maxChars) chars -= this.messages.shift()!.text.length;
  }

  private save(): Promise<void> {
    const snapshot = { version: 1, messages: this.messages.slice() };
    this.saving = this.saving.then(() => this.store.update(HISTORY_KEY, snapshot)).then(undefined, () => undefined);
    return this.saving;
  }
}
