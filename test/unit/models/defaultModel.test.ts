import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { chooseModel } from '../../../src/core/models/defaultModel';

function ext(files: string[]): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkvx-ext-'));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    fs.writeFileSync(path.join(d, f), 'x');
  }
  return d;
}

test('the settings win; a missing file there is an error, not a fallback', () => {
  const e = ext(['media/models/default.gguf', 'my.gguf']);
  assert.deepEqual(chooseModel({ settingPath: 'my.gguf', baseDir: e, extensionPath: e, modelsDir: '/m' }), { kind: 'file', path: path.join(e, 'my.gguf'), source: 'setting' });
  const none = chooseModel({ settingPath: '/nope.gguf', extensionPath: e, modelsDir: '/m' });
  assert.equal(none.kind, 'none');
});

test('then the embedded model, then the tiny test model (converted once)', () => {
  const e = ext(['media/models/default.gguf', 'test/fixtures/models/rwkv7-tiny.gguf']);
  assert.equal(chooseModel({ settingPath: '', extensionPath: e, modelsDir: '/m' }).kind, 'file');
  const dev = ext(['test/fixtures/models/rwkvx-tiny-bf16.pth', 'test/fixtures/models/tiny-vocab.txt']);
  const models = path.join(dev, 'models');
  const c = chooseModel({ settingPath: '', extensionPath: dev, modelsDir: models });
  assert.equal(c.kind, 'convert');
  if (c.kind !== 'convert') return;
  assert.ok(c.output.startsWith(models));
  fs.mkdirSync(models);
  fs.writeFileSync(c.output, 'GGUF');
  const again = chooseModel({ settingPath: '', extensionPath: dev, modelsDir: models });
  assert.deepEqual(again.kind === 'file' && again.path, c.output);
  assert.equal(chooseModel({ settingPath: '', extensionPath: ext([]), modelsDir: models }).kind, 'none');
});
