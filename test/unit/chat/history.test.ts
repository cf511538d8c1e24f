import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { HISTORY_KEY, HistoryStore, KeyValueStore } from '../../../src/core/chat/history';

class MapStore implements KeyValueStore {
  readonly map = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    // Through JSON, as VS Code's Memento stores it.
    const v = this.map.get(key);
    return v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as T);
  }
  async update(key: string, value: unknown): Promise<void> {
    this.map.set(key, value);
  }
}

test('messages survive a reload; a streaming answer reads back as stopped', async () => {
  const kv = new MapStore();
  const h = new HistoryStore(kv);
  h.add('user', 'what is x?');
  const a = h.add('assistant', '', 'streaming');
  h.update(a.id, { text: 'x is' }, false);
  await h.flush();
  const again = new HistoryStore(kv);
  assert.deepEqual(again.all().map((m) => [m.role, m.text, m.status]), [['user', 'what is x?', 'done'], ['assistant', '', 'stopped']]);
  // Ids keep growing after a reload.
  assert.equal(again.add('user', 'next').id, 'm3');
});

test('completed turns pair questions with answers, skipping errors', async () => {
  const h = new HistoryStore(new MapStore());
  h.add('user', 'q1');
  h.add('assistant', 'a1');
  h.add('user', 'q2');
  const failed = h.add('assistant', '', 'streaming');
  h.update(failed.id, { status: 'error', error: 'engine died' });
  h.add('user', 'q3');
  h.add('assistant', 'a3', 'stopped');
  assert.deepEqual(h.turns(), [{ question: 'q1', answer: 'a1' }, { question: 'q3', answer: 'a3' }]);
});

test('bounded by count and by characters, oldest dropped first', () => {
  const h = new HistoryStore(new MapStore(), { maxMessages: 3, maxChars: 10 });
  h.add('user', 'aaaa');
  h.add('user', 'bbbb');
  h.add('user', 'cccc');
  assert.deepEqual(h.all().map((m) => m.text), ['bbbb', 'cccc']);
  h.add('user', 'd');
  h.add('user', 'e');
  assert.deepEqual(h.all().map((m) => m.text), ['cccc', 'd', 'e']);
});

test('damaged stored values read as an empty history', () => {
  for (const bad of [42, 'x', { version: 2, messages: [] }, { version: 1, messages: [{ id: 1 }, null] }]) {
    const kv = new MapStore();
    kv.map.set(HISTORY_KEY, bad);
    assert.deepEqual(new HistoryStore(kv).all(), []);
  }
});

test('clear empties the store', async () => {
  const kv = new MapStore();
  const h = new HistoryStore(kv);
  h.add('user', 'q');
  await h.clear();
  assert.deepEqual(new HistoryStore(kv).all(), []);
});
