// Suggestions already computed, reused while the user types into them: a
// suggestion made at prefix P still holds at P + t when the suggestion
// starts with t; what is left of it is offered without asking the model.
import { Lru } from './lru';

export interface CacheKey {
  /** The document (URI string). */
  document: string;
  /** The whole text before the cursor. */
  prefix: string;
  /** The rest of the line after the cursor. */
  lineSuffix: string;
}

export interface CacheHit {
  /** What is left of the suggestion after what the user typed. */
  text: string;
  /** How many characters of the suggestion the user typed already. */
  typed: number;
}

interface Entry {
  document: string;
  /** Length of the prefix: the cursor offset. */
  offset: number;
  /** The end of the prefix; with the offset it identifies the position. */
  tail: string;
  lineSuffix: string;
  suggestion: string;
}

/** How much of the prefix is compared (an edit further up also shifts the offset or the tail). */
const TAIL = 4000;

export class CompletionCache {
  private readonly lru: Lru<string, Entry>;
  hits = 0;
  misses = 0;

  constructor(capacity = 100) {
    this.lru = new Lru(capacity);
  }

  private static id(document: string, offset: number, tail: string, lineSuffix: string): string {
    return `${document}\u0000${offset}\u0000${tail}\u0000${lineSuffix}`;
  }

  put(key: CacheKey, suggestion: string): void {
    if (suggestion.length === 0) return;
    const tail = key.prefix.slice(-TAIL);
    const e: Entry = { document: key.document, offset: key.prefix.length, tail, lineSuffix: key.lineSuffix, suggestion };
    this.lru.set(CompletionCache.id(e.document, e.offset, tail, e.lineSuffix), e);
  }

  get(key: CacheKey): CacheHit | undefined {
    const offset = key.prefix.length;
    const exact = this.lru.get(CompletionCache.id(key.document, offset, key.prefix.slice(-TAIL), key.lineSuffix));
    if (exact) {
      this.hits++;
      return { text: exact.suggestion, typed: 0 };
    }
    // An earlier position in the same document whose suggestion the user is typing out.
    for (const [id, e] of this.lru.entriesNewestFirst()) {
      const t = offset - e.offset;
      if (e.document !== key.document || e.lineSuffix !== key.lineSuffix || t <= 0 || t >= e.suggestion.length) continue;
      const typed = e.suggestion.slice(0, t);
      if (!key.prefix.endsWith(typed)) continue;
      if (key.prefix.slice(0, offset - t).slice(-TAIL) !== e.tail) continue;
      this.lru.get(id);
      this.hits++;
      return { text: e.suggestion.slice(t), typed: t };
    }
    this.misses++;
    return undefined;
  }

  /** Forgets a document's suggestions (closed, or changed above the cursor in ways the key cannot see). */
  forget(document: string): void {
    for (const [id, e] of [...this.lru.entriesNewestFirst()]) if (e.document === document) this.lru.delete(id);
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }
}
