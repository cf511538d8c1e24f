// A chat over the workspace: each question forks the workspace stream,
// feeds the recent turns and the question, streams the answer into the
// history, and drops the fork. One answer at a time; Stop (or a new
// question) cancels the running one.
import { CancelSource, CancelToken } from '../async/cancel';
import { ChatMessage, HistoryStore } from './history';
import { chatPrompt, TURN_STOPS } from './prompts';

export interface AnswerResult {
  tokens: number;
  tokensPerSecond: number;
  elapsedMs: number;
  stopReason: string;
}

export interface AnswerStream extends AsyncIterable<string> {
  readonly result: Promise<AnswerResult>;
}

export interface ChatFork {
  session: string;
  nPast: number;
  /** The workspace is still being read: the fork holds part of it. */
  partial: boolean;
  drop(): Promise<void>;
}

export interface ChatEngine {
  fork(): Promise<ChatFork>;
  generate(session: string, prompt: string, options: { maxTokens: number; temperature: number; stop: string[] }, token: CancelToken): AnswerStream;
}

export interface ChatSettings {
  maxTokens: number;
  temperature: number;
}

export type ChatEvent =
  | { type: 'message'; message: ChatMessage }
  | { type: 'cleared' }
  | { type: 'busy'; busy: boolean };

export interface AskOptions {
  /** What the chat shows as the question (default: the question). */
  display?: string;
  /** Markdown the extension writes at the start of the answer (e.g. the places found). */
  preface?: string;
  /** Called with each piece of answer text (chat participant, language model provider). */
  onText?: (text: string) => void;
  /** Cancels this answer (besides Stop). */
  token?: CancelToken;
  /** Leave earlier turns out of the prompt. */
  withoutHistory?: boolean;
}

export class ChatController {
  private running: { source: CancelSource; done: Promise<unknown> } | undefined;
  private readonly listeners = new Set<(e: ChatEvent) => void>();

  constructor(
    private readonly engine: ChatEngine,
    readonly history: HistoryStore,
    private readonly settings: () => ChatSettings,
    private readonly describeError: (e: unknown) => string = (e) => (e instanceof Error ? e.message : String(e)),
  ) {}

  onEvent(fn: (e: ChatEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: ChatEvent): void {
    for (const l of this.listeners) l(e);
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Stops the running answer (it keeps what it wrote, marked stopped). */
  stop(): void {
    this.running?.source.cancel();
  }

  async clear(): Promise<void> {
    this.stop();
    await this.running?.done.catch(() => undefined);
    await this.history.clear();
    this.emit({ type: 'cleared' });
  }

  /** Asks; resolves with the finished answer message (done, stopped or error). */
  async ask(question: string, options: AskOptions = {}): Promise<ChatMessage> {
    if (this.running) {
      this.running.source.cancel();
      await this.running.done.catch(() => undefined);
    }
    const source = new CancelSource(options.token);
    const done = this.run(question, options, source.token);
    this.running = { source, done };
    this.emit({ type: 'busy', busy: true });
    try {
      return await done;
    } finally {
      if (this.running?.done === done) {
        this.running = undefined;
        this.emit({ type: 'busy', busy: false });
      }
    }
  }

  private async run(question: string, options: AskOptions, token: CancelToken): Promise<ChatMessage> {
    const turns = options.withoutHistory ? [] : this.history.turns();
    this.emit({ type: 'message', message: this.history.add('user', options.display ?? question) });
    const preface = options.preface ? `${options.preface}\n\n` : '';
    let answer = this.history.add('assistant', preface, 'streaming');
    this.emit({ type: 'message', message: answer });
    let text = '';
    const show = (status: ChatMessage['status'], extra: Partial<ChatMessage> = {}, persist = false) => {
      answer = this.history.update(answer.id, { text: preface + text, status, ...extra }, persist) ?? answer;
      this.emit({ type: 'message', message: answer });
    };
    let fork: ChatFork | undefined;
    try {
      fork = await this.engine.fork();
      if (token.isCancellationRequested) {
        show('stopped', {}, true);
        return answer;
      }
      const s = this.settings();
      const stream = this.engine.generate(fork.session, chatPrompt(turns, question), { maxTokens: s.maxTokens, temperature: s.temperature, stop: TURN_STOPS }, token);
      for await (const piece of stream) {
        // The answer starts after "Assistant:"; its first space is the format's.
        const add = text === '' ? piece.replace(/^ +/, '') : piece;
        if (!add) continue;
        text += add;
        options.onText?.(add);
        show('streaming');
      }
      const r = await stream.result;
      for (const stop of TURN_STOPS) if (text.endsWith(stop)) text = text.slice(0, -stop.length);
      text = text.replace(/\s+$/, '');
      const stopped = token.isCancellationRequested || r.stopReason === 'aborted';
      show(stopped ? 'stopped' : 'done', { stats: { tokens: r.tokens, tokensPerSecond: r.tokensPerSecond, elapsedMs: r.elapsedMs } }, true);
    } catch (e) {
      if (token.isCancellationRequested) show('stopped', {}, true);
      else show('error', { error: this.describeError(e) }, true);
    } finally {
      await fork?.drop().catch(() => undefined);
    }
    return answer;
  }
}

/**
 * One answer outside the chat panel's history (VS Code's own chat, the
 * language model provider): fork, generate `prompt`, stream, drop.
 */
export async function answerOnce(
  engine: ChatEngine,
  prompt: string,
  settings: ChatSettings,
  token: CancelToken,
  onText: (text: string) => void,
): Promise<{ text: string; result: AnswerResult }> {
  const fork = await engine.fork();
  try {
    const stream = engine.generate(fork.session, prompt, { maxTokens: settings.maxTokens, temperature: settings.temperature, stop: TURN_STOPS }, token);
    let text = '';
    for await (const piece of stream) {
      const add = text === '' ? piece.replace(/^ +/, '') : piece;
      if (!add) continue;
      text += add;
      onText(add);
    }
    return { text, result: await stream.result };
  } finally {
    await fork.drop().catch(() => undefined);
  }
}
