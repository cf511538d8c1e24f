import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { compact, shortDevice, StatusInput, summarize } from '../../../src/core/status/summary';

const model = { name: 'rwkv7-g1-0.1b', device: 'CPU (avx512, 2 threads)', params: 191e6 };
const context = { state: 'ready', tokensInContext: 12_345, budgetTokens: 65_536, staleShare: 0.031, files: 40, filesLeftOut: 0, pendingChanges: 0, compacting: false };

test('ready: tokens / budget, stale share, device', () => {
  const v = summarize({ engine: 'ready', model, context });
  assert.equal(v.text, '$(check) RWKV 12K/64K · 3% stale · CPU');
  assert.equal(v.level, 'ok');
  assert.ok(v.tooltip.some((l) => l.includes('12,345 of 65,536 tokens, 40 files')));
});

test('reading shows its share and the rate in the tooltip', () => {
  const v = summarize({ engine: 'ready', model, context: { ...context, state: 'building' }, progress: { phase: 'build', tokensDone: 250, tokensTotal: 1000, filesDone: 3, filesTotal: 10, tokensPerSecond: 500, secondsLeft: 1.5 } });
  assert.equal(v.text, '$(sync~spin) RWKV: reading 25% · CPU');
  assert.ok(v.tooltip.some((l) => /250\/1\.0K tokens at 500 tok\/s, 2 s left/.test(l)));
});

test('engine states come first', () => {
  const base: StatusInput = { engine: 'ready', model, context };
  assert.match(summarize({ ...base, engine: 'restarting', engineError: 'killed' }).text, /restarting/);
  assert.equal(summarize({ ...base, engine: 'error' }).level, 'error');
  assert.match(summarize({ ...base, engine: 'loading', engineProgress: { label: 'loading', done: 5, total: 10 } }).text, /loading 50%/);
  assert.match(summarize({ engine: 'no-model', engineError: 'no model yet' }).tooltip[0], /no model yet/);
});

test('paused, pending edits, completion latency', () => {
  assert.match(summarize({ engine: 'ready', model, context: { ...context, state: 'paused' } }).text, /paused · 12K\/64K/);
  const busy = summarize({ engine: 'ready', model, context: { ...context, pendingChanges: 2 }, completion: { lastMs: 123.4, lastSource: 'model', medianMs: 200 } });
  assert.equal(busy.level, 'busy');
  assert.ok(busy.tooltip.includes('Last completion: 123 ms (model), median 200 ms'));
  assert.ok(busy.tooltip.includes('Pending edits: 2'));
});

test('numbers and devices', () => {
  assert.equal(compact(999), '999');
  assert.equal(compact(1500), '1.5K');
  assert.equal(compact(1_048_576), '1M');
  assert.equal(compact(262_144), '256K');
  assert.equal(compact(1_000_000), '1.0M');
  assert.equal(shortDevice('CUDA: NVIDIA H100 80GB HBM3 (sm_90)'), 'NVIDIA H100 80GB HBM3');
  assert.equal(shortDevice('CPU (avx2, 8 threads)'), 'CPU');
});
