// One inline completion request, end to end: the cache first (a suggestion
// the user is typing into costs nothing), then a debounce that any keystroke
// cancels, then the model, then the cut at the end of the block. Every
// outcome is reported with its latency.
import { CancelToken, realTimers, Timers, wait } from '../async/cancel';
import { CompletionCache } from './cache';
import type { TrimInput } from './blockEnd';

export interface CompletionRequest {
  /** Document identity (URI string). */
  document: string;
  /** The path as the context shows it (relative to the workspace folder). */
  relPath: string;
  languageId: string;
  /** The whole text before the cursor. */
  prefix: string;
  /** The whole text after the cursor. */
  suffix: string;
}

export interface ModelInput {
  relPath: string;
  languageId: string;
  prefix: string;
  maxTokens: number;
}

export interface ModelOutput {
  text: string;
  tokens: number;
}

/** The model side: continues the workspace context + the file up to the cursor. */
export interface CompletionModel {
  complete(input: ModelInput, token: CancelToken): Promise<ModelOutput>;
}

export interface CompletionSettings {
  enabled: boolean;
  delayMs: number;
  maxTokens: number;
}

export type OutcomeSource = 'cache' | 'model' | 'cancelled' | 'disabled' | 'error';

export interface CompletionOutcome {
  source: OutcomeSource;
  /** The suggestion (may be '' when the model had nothing that fits). */
  text?: string;
  latencyMs: number;
  tokens?: number;
  error?: string;
  relPath: string;
}

export class CompletionPipeline {
  readonly cache = new CompletionCache(200);
  private readonly listeners = new Set<(o: CompletionOutcome) => void>();
  /** Latencies of the last answers that reached the user (cache and model). */
  readonly recent: { source: OutcomeSource; ms: number }[] = [];

  constructor(
    private readonly model: CompletionModel,
    private readonly settings: () => CompletionSettings,
    private readonly trim: (input: TrimInput) => Promise<string>,
    private readonly timers: Timers = realTimers,
  ) {}

  onOutcome(fn: (o: CompletionOutcome) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private report(o: CompletionOutcome): CompletionOutcome {
    if (o.source === 'cache' || o.source === 'model') {
      this.recent.push({ source: o.source, ms: o.latencyMs });
      if (this.recent.length > 50) this.recent.shift();
    }
    for (const l of this.listeners) l(o);
    return o;
  }

  /** Median latency of recent model answers, if any. */
  medianModelMs(): number | undefined {
    const ms = this.recent.filter((r) => r.source === 'model').map((r) => r.ms).sort((a, b) => a - b);
    return ms.length ? ms[Math.floor(ms.length / 2)] : undefined;
  }

  async provide(req: CompletionRequest, token: CancelToken): Promise<CompletionOutcome> {
    const t0 = this.timers.now();
    const elapsed = () => this.timers.now() - t0;
    const s = this.settings();
    const base = { relPath: req.relPath };
    if (!s.enabled) return { ...base, source: 'disabled', latencyMs: 0 };
    const key = { document: req.document, prefix: req.prefix, lineSuffix: req.suffix.split('\n')[0] };
    const hit = this.cache.get(key);
    if (hit) return this.report({ ...base, source: 'cache', text: hit.text, latencyMs: elapsed() });
    if (!(await wait(s.delayMs, token, this.timers))) return { ...base, source: 'cancelled', latencyMs: elapsed() };
    let out: ModelOutput;
    try {
      out = await this.model.complete({ relPath: req.relPath, languageId: req.languageId, prefix: req.prefix, maxTokens: s.maxTokens }, token);
    } catch (e) {
      if (token.isCancellationRequested) return { ...base, source: 'cancelled', latencyMs: elapsed() };
      return this.report({ ...base, source: 'error', latencyMs: elapsed(), error: e instanceof Error ? e.message : String(e) });
    }
    const text = await this.trim({ prefix: req.prefix, suggestion: out.text, suffix: req.suffix, languageId: req.languageId });
    // Even when the user moved on, the answer is good for this position.
    this.cache.put(key, text);
    if (token.isCancellationRequested) return { ...base, source: 'cancelled', latencyMs: elapsed() };
    return this.report({ ...base, source: 'model', text, tokens: out.tokens, latencyMs: elapsed() });
  }
}
