// The completion model over the engine: the workspace stream is forked, the
// current file (its header, then its text up to the cursor) is fed, and the
// model continues. The fork fed up to the cursor's line is kept, so the next
// request in the same file feeds only the lines typed since; it is thrown
// away when the workspace stream changes (its version) or the text above
// differs.
import { CancelToken } from '../async/cancel';
import type { CompletionModel, ModelInput, ModelOutput } from './pipeline';

export interface ForkedContext {
  session: string;
  drop(): Promise<void>;
}

export interface CompletionEnginePort {
  /** A fork of the workspace stream (or an empty session when there is none yet). */
  forkContext(): Promise<ForkedContext>;
  /** Identifies the workspace stream the forks come from: a new value invalidates kept forks. */
  contextVersion(): string;
  fork(session: string): Promise<string>;
  feed(session: string, text: string, token: CancelToken): Promise<void>;
  generate(session: string, options: { maxTokens: number; stop: string[] }, token: CancelToken): Promise<{ text: string; tokens: number }>;
  drop(session: string): Promise<void>;
}

/** Fence language ids, as the context log's segments write them. */
const FENCE_LANG: Record<string, string> = {
  typescript: 'ts', typescriptreact: 'tsx', javascript: 'js', javascriptreact: 'jsx', python: 'python', go: 'go',
  rust: 'rust', java: 'java', csharp: 'csharp', c: 'c', cpp: 'cpp', ruby: 'ruby', php: 'php', shellscript: 'sh',
  css: 'css', html: 'html', json: 'json', markdown: 'markdown', yaml: 'yaml', sql: 'sql', kotlin: 'kotlin', swift: 'swift',
};

export const COMPLETION_STOPS = ['\n```', '\nFile: ', '\nFile (updated): '];

/** The file's header as the model saw files in the workspace stream. */
export function fileHeader(relPath: string, languageId: string): string {
  return `File (updated): ${relPath}\n\`\`\`${FENCE_LANG[languageId] ?? ''}\n`;
}

/** Keeps at most `maxChars` of the prefix, starting at a line start on a coarse grid (so the cut rarely moves). */
export function clipPrefix(prefix: string, maxChars: number, grid = 4096): string {
  if (prefix.length <= maxChars) return prefix;
  const from = Math.ceil((prefix.length - maxChars) / grid) * grid;
  const nl = prefix.indexOf('\n', from);
  return nl < 0 ? prefix.slice(from) : prefix.slice(nl + 1);
}

interface Kept {
  version: string;
  session: string;
  fed: string;
  drop: () => Promise<void>;
}

export class EngineCompletionModel implements CompletionModel {
  private kept: Kept | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** For diagnostics and tests: characters fed by the last request. */
  lastFedChars = 0;
  reused = 0;

  constructor(private readonly port: CompletionEnginePort, private readonly maxPrefixChars = 16_000) {}

  /** One request at a time: a cancelled one finishes quickly, so the next waits little. */
  complete(input: ModelInput, token: CancelToken): Promise<ModelOutput> {
    const run = this.queue.then(() => this.run(input, token));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async release(): Promise<void> {
    const k = this.kept;
    this.kept = undefined;
    if (k) await k.drop().catch(() => undefined);
  }

  private async run(input: ModelInput, token: CancelToken): Promise<ModelOutput> {
    if (token.isCancellationRequested) throw new Error('cancelled');
    const text = fileHeader(input.relPath, input.languageId) + clipPrefix(input.prefix, this.maxPrefixChars);
    const cut = text.lastIndexOf('\n') + 1;
    const stable = text.slice(0, cut);
    const line = text.slice(cut);
    const version = this.port.contextVersion();
    let k = this.kept;
    if (k && (k.version !== version || !stable.startsWith(k.fed))) {
      await this.release();
      k = undefined;
    }
    this.lastFedChars = 0;
    if (!k) {
      const ctx = await this.port.forkContext();
      k = this.kept = { version, session: ctx.session, fed: '', drop: () => ctx.drop() };
    } else this.reused++;
    const delta = stable.slice(k.fed.length);
    if (delta) {
      try {
        await this.port.feed(k.session, delta, token);
      } catch (e) {
        // Stopped midway: the kept session is at an unknown place.
        await this.release();
        throw e;
      }
      k.fed = stable;
      this.lastFedChars += delta.length;
    }
    const s = await this.port.fork(k.session);
    try {
      if (line) {
        await this.port.feed(s, line, token);
        this.lastFedChars += line.length;
      }
      return await this.port.generate(s, { maxTokens: input.maxTokens, stop: COMPLETION_STOPS }, token);
    } finally {
      await this.port.drop(s).catch(() => undefined);
    }
  }

  dispose(): Promise<void> {
    return this.release();
  }
}
