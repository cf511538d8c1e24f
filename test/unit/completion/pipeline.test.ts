import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { CancelSource, CancelToken, Timers, wait } from '../../../src/core/async/cancel';
import { clipPrefix, CompletionEnginePort, EngineCompletionModel, fileHeader } from '../../../src/core/completion/engineModel';
import { CompletionModel, CompletionPipeline, ModelInput } from '../../../src/core/completion/pipeline';
import { trimSuggestion } from '../../../src/core/completion/blockEnd';

/** Timers driven by the test. */
class ManualTimers implements Timers {
  t = 0;
  private next = 1;
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): unknown { const id = this.next++; this.due.set(id, { at: this.t + ms, fn }); return id; }
  clearTimeout(id: unknown): void { this.due.delete(id as number); }
  async advance(ms: number): Promise<void> {
    this.t += ms;
    for (const [id, d] of [...this.due].sort((a, b) => a[1].at - b[1].at)) {
      if (d.at <= this.t) { this.due.delete(id); d.fn(); }
    }
    await new Promise((r) => setImmediate(r));
  }
  get pending(): number { return this.due.size; }
}

class FakeModel implements CompletionModel {
  calls: ModelInput[] = [];
  answer = 'return a + b;\n}\n\nfunction next() {}';
  gate: Promise<void> | undefined;
  async complete(input: ModelInput, token: CancelToken) {
    this.calls.push(input);
    if (this.gate) await this.gate;
    if (token.isCancellationRequested) throw new Error('ABORTED');
    return { text: this.answer, tokens: 7 };
  }
}

const req = (prefix: string, suffix = '') => ({ document: 'file:///a.ts', relPath: 'a.ts', languageId: 'typescript', prefix, suffix });

function setup(delayMs = 100) {
  const timers = new ManualTimers();
  const model = new FakeModel();
  const p = new CompletionPipeline(model, () => ({ enabled: true, delayMs, maxTokens: 32 }), (i) => trimSuggestion(i), timers);
  return { timers, model, p };
}

test('wait resolves after the time, or false at once on cancel', async () => {
  const timers = new ManualTimers();
  const src = new CancelSource();
  const w = wait(50, src.token, timers);
  src.cancel();
  assert.equal(await w, false);
  assert.equal(timers.pending, 0);
  const ok = wait(50, new CancelSource().token, timers);
  await timers.advance(50);
  assert.equal(await ok, true);
});

test('debounce: the model is asked only after the delay, and a keystroke (cancel) within it asks nothing', async () => {
  const { timers, model, p } = setup();
  const first = new CancelSource();
  const r1 = p.provide(req('function add(a, b) {\n  '), first.token);
  await timers.advance(50);
  first.cancel();
  assert.equal((await r1).source, 'cancelled');
  assert.equal(model.calls.length, 0);
  const second = new CancelSource();
  const r2 = p.provide(req('function add(a, b) {\n  '), second.token);
  await timers.advance(100);
  const o = await r2;
  assert.equal(o.source, 'model');
  assert.equal(o.text, 'return a + b;\n}');
  assert.equal(model.calls.length, 1);
  assert.equal(model.calls[0].maxTokens, 32);
});

test('typing into a suggestion is served from the cache without the model', async () => {
  const { timers, model, p } = setup();
  const r = p.provide(req('function add(a, b) {\n  '), new CancelSource().token);
  await timers.advance(100);
  await r;
  const hit = await p.provide(req('function add(a, b) {\n  retu'), new CancelSource().token);
  assert.equal(hit.source, 'cache');
  assert.equal(hit.text, 'rn a + b;\n}');
  assert.equal(model.calls.length, 1);
  assert.equal(p.recent.length, 2);
});

test('an answer that arrives after the user moved on is cached but not shown', async () => {
  const { timers, model, p } = setup(0);
  let open!: () => void;
  model.gate = new Promise((r) => (open = r));
  model.answer = 'x';
  const src = new CancelSource();
  const r = p.provide(req('let v = '), src.token);
  await timers.advance(0);
  src.cancel();
  open();
  assert.equal((await r).source, 'cancelled');
  model.gate = undefined;
});

test('model errors are reported; disabled does nothing', async () => {
  const timers = new ManualTimers();
  const failing: CompletionModel = { complete: async () => { throw new Error('engine died'); } };
  const p = new CompletionPipeline(failing, () => ({ enabled: true, delayMs: 0, maxTokens: 8 }), (i) => trimSuggestion(i), timers);
  const seen: string[] = [];
  p.onOutcome((o) => seen.push(`${o.source}:${o.error ?? ''}`));
  assert.equal((await p.provide(req('x'), new CancelSource().token)).error, 'engine died');
  assert.deepEqual(seen, ['error:engine died']);
  const off = new CompletionPipeline(failing, () => ({ enabled: false, delayMs: 0, maxTokens: 8 }), (i) => trimSuggestion(i), timers);
  assert.equal((await off.provide(req('x'), new CancelSource().token)).source, 'disabled');
});

// ----------------------------------------------------------- engine model

class FakeEngine implements CompletionEnginePort {
  version = 'v1';
  next = 1;
  sessions = new Map<string, string>();
  log: string[] = [];
  failFeedOn: string | undefined;
  async forkContext() {
    const s = `ctx${this.next++}`;
    this.sessions.set(s, '<ctx>');
    this.log.push(`forkContext ${s}`);
    return { session: s, drop: async () => { this.sessions.delete(s); this.log.push(`drop ${s}`); } };
  }
  contextVersion() { return this.version; }
  async fork(session: string) {
    const s = `f${this.next++}`;
    this.sessions.set(s, this.sessions.get(session)!);
    return s;
  }
  async feed(session: string, text: string, token: CancelToken) {
    if (token.isCancellationRequested || (this.failFeedOn && text.includes(this.failFeedOn))) throw new Error('ABORTED');
    this.log.push(`feed ${session} ${JSON.stringify(text)}`);
    this.sessions.set(session, this.sessions.get(session)! + text);
  }
  async generate(session: string) {
    return { text: `<after ${JSON.stringify(this.sessions.get(session))}>`, tokens: 3 };
  }
  async drop(session: string) { this.sessions.delete(session); }
}

test('the engine model feeds header + file up to the cursor on a fork of the context', async () => {
  const e = new FakeEngine();
  const m = new EngineCompletionModel(e);
  const out = await m.complete({ relPath: 'src/a.ts', languageId: 'typescript', prefix: 'line1\nline2\nlet x', maxTokens: 8 }, new CancelSource().token);
  assert.equal(out.text, `<after ${JSON.stringify('<ctx>' + fileHeader('src/a.ts', 'typescript') + 'line1\nline2\nlet x')}>`);
  // Only the kept session and nothing else stays open.
  assert.deepEqual([...e.sessions.keys()], ['ctx1']);
});

test('the next request in the same file feeds only the new lines; a new context version starts over', async () => {
  const e = new FakeEngine();
  const m = new EngineCompletionModel(e);
  const t = new CancelSource().token;
  await m.complete({ relPath: 'a.ts', languageId: 'typescript', prefix: 'a\nb\nc', maxTokens: 8 }, t);
  await m.complete({ relPath: 'a.ts', languageId: 'typescript', prefix: 'a\nb\ncd\ne', maxTokens: 8 }, t);
  assert.equal(m.reused, 1);
  assert.equal(m.lastFedChars, 'cd\n'.length + 'e'.length);
  // Text above changed: a fresh fork.
  await m.complete({ relPath: 'a.ts', languageId: 'typescript', prefix: 'X\nb\ncd\ne', maxTokens: 8 }, t);
  assert.equal(m.reused, 1);
  e.version = 'v2';
  await m.complete({ relPath: 'a.ts', languageId: 'typescript', prefix: 'X\nb\ncd\ne', maxTokens: 8 }, t);
  assert.equal(e.log.filter((l) => l.startsWith('forkContext')).length, 3);
  assert.equal(e.log.filter((l) => l.startsWith('drop')).length, 2);
});

test('a feed stopped midway drops the kept session', async () => {
  const e = new FakeEngine();
  const m = new EngineCompletionModel(e);
  e.failFeedOn = 'boom';
  await assert.rejects(m.complete({ relPath: 'a.ts', languageId: 'typescript', prefix: 'boom\nx', maxTokens: 8 }, new CancelSource().token));
  assert.equal(e.sessions.size, 0);
});

test('long prefixes are clipped at a line start on a coarse grid', () => {
  const lines = Array.from({ length: 3000 }, (_, i) => `line ${i}`).join('\n');
  const a = clipPrefix(lines, 10_000);
  assert.ok(a.length <= 10_000 && lines.endsWith(a) && /^line \d+/.test(a));
  // Typing a few more characters does not move the cut.
  const b = clipPrefix(lines + 'abc', 10_000);
  assert.equal(b, a + 'abc');
  assert.equal(clipPrefix('short', 10), 'short');
});
