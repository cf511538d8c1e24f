// The webview protocol: what isFromView lets through, and that the webview
// script (media/chat.js, not type-checked with the extension) handles every
// message the extension sends and sends only messages the extension accepts.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { describe, it } from 'node:test';

import { FromView, isFromView, ToView } from '../../../src/protocol/webview';
import { repoRoot } from '../engine/fixtures';

// Keyed by the unions: a message type added to the protocol fails to compile here until listed.
const TO_VIEW: Record<ToView['type'], true> = { init: true, message: true, cleared: true, busy: true, context: true, prefill: true };
const FROM_VIEW: { [K in FromView['type']]: Extract<FromView, { type: K }> } = {
  ready: { type: 'ready' },
  ask: { type: 'ask', text: 'what does main do?' },
  stop: { type: 'stop' },
  clear: { type: 'clear' },
  code: { type: 'code', action: 'insert', messageId: 'm1', index: 0 },
  open: { type: 'open', path: 'src/a.ts', line: 3, endLine: 5 },
};

const script = fs.readFileSync(path.join(repoRoot(), 'media', 'chat.js'), 'utf8');

describe('webview protocol', () => {
  it('accepts each well-formed message from the webview', () => {
    for (const m of Object.values(FROM_VIEW)) assert.equal(isFromView(m), true, JSON.stringify(m));
  });

  it('rejects malformed or unknown messages', () => {
    const bad: unknown[] = [
      null, 'ask', 42, {}, { type: 7 }, { type: 'nope' },
      { type: 'ask' }, { type: 'ask', text: 3 },
      { type: 'code', action: 'delete', messageId: 'm', index: 0 },
      { type: 'code', action: 'copy', messageId: 'm', index: 1.5 },
      { type: 'open', path: 'a.ts' }, { type: 'open', path: 1, line: 1 },
    ];
    for (const m of bad) assert.equal(isFromView(m), false, JSON.stringify(m));
  });

  it('media/chat.js handles every message the extension sends', () => {
    const handled = new Set([...script.matchAll(/case '(\w+)':/g)].map((m) => m[1]));
    assert.deepEqual([...handled].sort(), Object.keys(TO_VIEW).sort());
  });

  it('media/chat.js posts only messages the extension accepts', () => {
    const posted = [...script.matchAll(/postMessage\(\{ type: '(\w+)'/g)].map((m) => m[1]);
    assert.ok(posted.length >= 5, `found ${posted.length} posted messages`);
    for (const t of posted) assert.ok(t in FROM_VIEW, `chat.js posts '${t}', which the protocol does not have`);
  });
});
