import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { CancelSource, CancelToken } from '../../../src/core/async/cancel';
import { AnswerResult, ChatController, ChatEngine, ChatEvent } from '../../../src/core/chat/controller';
import { HistoryStore, KeyValueStore } from '../../../src/core/chat/history';

class MemStore implements KeyValueStore {
  m = new Map<string, unknown>();
  get<T>(k: string) { return this.m.get(k) as T | undefined; }
  async update(k: string, v: unknown) { this.m.set(k, v); }
}

/** An engine whose answers are given by the test, piece by piece. */
class ScriptedEngine implements ChatEngine {
  prompts: string[] = [];
  forks = 0;
  drops = 0;
  pieces: string[] = [' Hello', ' world', '\n\nUser:'];
  failAfter: number | undefined;
  /** Resolved by the test to let a piece through. */
  gate: (() => Promise<void>) | undefined;
  async fork() {
    this.forks++;
    return { session: `s${this.forks}`, nPast: 100, partial: false, drop: async () => { this.drops++; } };
  }
  generate(_session: string, prompt: string, _o: unknown, token: CancelToken) {
    this.prompts.push(prompt);
    const self = this;
    let resolveResult!: (r: AnswerResult) => void;
    let rejectResult!: (e: unknown) => void;
    const result = new Promise<AnswerResult>((res, rej) => { resolveResult = res; rejectResult = rej; });
    result.catch(() => undefined);
    return {
      result,
      async *[Symbol.asyncIterator]() {
        let n = 0;
        for (const p of self.pieces) {
          if (self.gate) await self.gate();
          if (token.isCancellationRequested) { resolveResult({ tokens: n, tokensPerSecond: 1, elapsedMs: 1, stopReason: 'aborted' }); return; }
          if (self.failAfter !== undefined && n >= self.failAfter) {
            const e = new Error('the engine process was killed (SIGKILL) while generating');
            rejectResult(e);
            throw e;
          }
          n++;
          yield p;
        }
        resolveResult({ tokens: n, tokensPerSecond: 10, elapsedMs: 5, stopReason: 'stop' });
      },
    };
  }
}

function setup() {
  const engine = new ScriptedEngine();
  const history = new HistoryStore(new MemStore());
  const chat = new ChatController(engine, history, () => ({ maxTokens: 50, temperature: 1 }));
  const events: ChatEvent[] = [];
  chat.onEvent((e) => events.push(e));
  return { engine, history, chat, events };
}

test('an answer streams into the history, trimmed of the format, and the fork is dropped', async () => {
  const { engine, chat, events, history } = setup();
  const m = await chat.ask('What is this?');
  assert.equal(m.text, 'Hello world');
  assert.equal(m.status, 'done');
  assert.deepEqual(m.stats, { tokens: 3, tokensPerSecond: 10, elapsedMs: 5 });
  assert.equal(engine.prompts[0], 'User: What is this?\n\nAssistant:');
  assert.equal(engine.drops, 1);
  const streamed = events.filter((e) => e.type === 'message' && e.message.role === 'assistant').map((e) => (e as { message: { text: string } }).message.text);
  assert.deepEqual(streamed.slice(0, 3), ['', 'Hello', 'Hello world']);
  assert.deepEqual(events.filter((e) => e.type === 'busy').map((e) => (e as { busy: boolean }).busy), [true, false]);
  // The next question carries the conversation.
  await chat.ask('And then?');
  assert.equal(engine.prompts[1], 'User: What is this?\n\nAssistant: Hello world\n\nUser: And then?\n\nAssistant:');
  assert.equal(history.all().length, 4);
});

test('stop keeps what was written and marks it stopped', async () => {
  const { engine, chat } = setup();
  let release!: () => void;
  let first = true;
  engine.gate = async () => {
    if (first) { first = false; return; }
    await new Promise<void>((r) => (release = r));
  };
  const p = chat.ask('long?');
  await new Promise((r) => setTimeout(r, 10));
  assert.ok(chat.busy);
  chat.stop();
  release();
  const m = await p;
  assert.equal(m.status, 'stopped');
  assert.equal(m.text, 'Hello');
  assert.equal(engine.drops, 1);
});

test('an engine failure mid-answer becomes an error message; the next question works', async () => {
  const { engine, chat } = setup();
  engine.failAfter = 1;
  const bad = await chat.ask('q1');
  assert.equal(bad.status, 'error');
  assert.match(bad.error ?? '', /SIGKILL/);
  assert.equal(bad.text, 'Hello');
  assert.equal(engine.drops, 1);
  engine.failAfter = undefined;
  const good = await chat.ask('q2');
  assert.equal(good.status, 'done');
  // The failed turn is not fed again.
  assert.equal(engine.prompts[1], 'User: q2\n\nAssistant:');
});

test('a preface and a display text; a new question stops the running one', async () => {
  const { engine, chat, history } = setup();
  let hold = true;
  engine.gate = async () => { while (hold) await new Promise((r) => setTimeout(r, 2)); };
  const first = chat.ask('one');
  await new Promise((r) => setTimeout(r, 5));
  const second = chat.ask('where is x?', { display: 'Where is `x`?', preface: '**x** at a.ts:1' });
  hold = false;
  assert.equal((await first).status, 'stopped');
  const m = await second;
  assert.equal(m.text, '**x** at a.ts:1\n\nHello world');
  assert.ok(history.all().some((h) => h.role === 'user' && h.text === 'Where is `x`?'));
});

test('an outside token cancels like stop', async () => {
  const { engine, chat } = setup();
  const src = new CancelSource();
  engine.gate = async () => { src.cancel(); };
  const m = await chat.ask('q', { token: src.token });
  assert.equal(m.status, 'stopped');
});
