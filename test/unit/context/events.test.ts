import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChangeQueue, isRuleFile, type ChangeBatch } from '../../../src/core/context/events';
import { FakeClock } from '../../../src/core/context/fakeClock';

function queue() {
  const clock = new FakeClock();
  const batches: ChangeBatch[] = [];
  const q = new ChangeQueue(clock, { unsavedDebounceMs: 500, batchMs: 100, maxWaitMs: 1000 }, (b) => batches.push(b));
  return { clock, q, batches };
}

test('events: a burst waits for quiet, then goes as one batch', () => {
  const { clock, q, batches } = queue();
  for (let i = 0; i < 10; i++) { q.push({ type: 'saved', path: `/w/f${i}.ts` }); clock.advance(50); }
  assert.equal(batches.length, 0);
  clock.advance(60);
  assert.equal(batches.length, 1);
  assert.equal(batches[0].paths.size, 10);
});

test('events: unsaved changes are debounced per file; saves do not wait for typing elsewhere forever', () => {
  const { clock, q, batches } = queue();
  q.push({ type: 'changed', path: '/w/a.ts', text: '1' });
  clock.advance(400);
  q.push({ type: 'changed', path: '/w/a.ts', text: '2' });
  clock.advance(400);
  assert.equal(batches.length, 0, 'the debounce restarts with each keystroke');
  clock.advance(100);
  assert.equal(batches.length, 1);
  assert.deepEqual([...batches[0].paths], ['/w/a.ts']);
  // Continuous typing: maxWait forces a batch.
  for (let i = 0; i < 10; i++) { q.push({ type: 'changed', path: '/w/b.ts', text: String(i) }); clock.advance(200); }
  assert.ok(batches.length >= 2);
});

test('events: renames touch both paths; ignore files and settings ask for a rescan', () => {
  const { clock, q, batches } = queue();
  q.push({ type: 'renamed', from: '/w/a.ts', to: '/w/b.ts' });
  q.push({ type: 'saved', path: '/w/sub/.gitignore' });
  clock.advance(200);
  assert.equal(batches.length, 1);
  assert.deepEqual([...batches[0].paths].sort(), ['/w/a.ts', '/w/b.ts', '/w/sub/.gitignore']);
  assert.equal(batches[0].rescan, true);
  q.push({ type: 'settings', folders: [{ name: 'w', path: '/w' }] });
  clock.advance(200);
  assert.equal(batches[1].rescan, true);
  assert.equal(batches[1].folders?.[0].path, '/w');
  assert.ok(isRuleFile('/w/.git/info/exclude') && isRuleFile('/w/.rwkvxignore') && !isRuleFile('/w/a.ts'));
});

test('events: takeAll empties the queue without waiting; requeue puts paths back', () => {
  const { clock, q, batches } = queue();
  q.push({ type: 'changed', path: '/w/a.ts', text: 'x' });
  const b = q.takeAll()!;
  assert.deepEqual([...b.paths], ['/w/a.ts']);
  assert.equal(q.pending, 0);
  clock.advance(5000);
  assert.equal(batches.length, 0);
  q.requeue(b);
  clock.advance(200);
  assert.equal(batches.length, 1);
});
