import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { CATALOG, ggufNameFor, modelUrl, OFFICIAL_BASE_URL } from '../../../src/core/models/catalog';
import { kindOf, listModels, planImport, sniff } from '../../../src/core/models/modelFiles';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rwkvx-models-'));
}

test('a GGUF is used where it is; a fake one is refused', () => {
  const d = tmp();
  const good = path.join(d, 'a.gguf');
  fs.writeFileSync(good, Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(16)]));
  assert.deepEqual(planImport(good, path.join(d, 'models'), []), { gguf: good });
  const bad = path.join(d, 'b.gguf');
  fs.writeFileSync(bad, 'hello');
  assert.throws(() => planImport(bad, d, []), /does not start like a GGUF/);
  assert.throws(() => planImport(path.join(d, 'x.bin'), d, []), /not a model file/);
});

test('a checkpoint is converted into the models folder with a vocabulary found beside it or given', () => {
  const d = tmp();
  const pth = path.join(d, 'rwkv7-g1-0.1b.pth');
  fs.writeFileSync(pth, Buffer.from('PK\u0003\u0004....'));
  assert.equal(sniff(pth), 'pth');
  const models = path.join(d, 'models');
  const shared = path.join(d, 'shared-vocab.txt');
  assert.deepEqual(planImport(pth, models, [shared]), { gguf: path.join(models, 'rwkv7-g1-0.1b.gguf'), convert: { input: pth } });
  fs.writeFileSync(shared, '1 b"\\x00" 1\n');
  assert.equal(planImport(pth, models, [shared]).convert?.vocab, shared);
  const beside = path.join(d, 'rwkv_vocab_v20230424.txt');
  fs.writeFileSync(beside, '');
  assert.equal(planImport(pth, models, [shared]).convert?.vocab, beside);
});

test('an fla folder counts as a checkpoint', () => {
  const d = tmp();
  const f = path.join(d, 'rwkv7-fla');
  fs.mkdirSync(f);
  fs.writeFileSync(path.join(f, 'model.safetensors'), Buffer.alloc(16));
  assert.equal(kindOf(f), 'fla-folder');
  assert.equal(planImport(f, d, []).gguf, path.join(d, 'rwkv7-fla.gguf'));
});

test('installed models are listed newest first', () => {
  const d = tmp();
  fs.writeFileSync(path.join(d, 'old.gguf'), 'GGUF');
  fs.utimesSync(path.join(d, 'old.gguf'), 1000, 1000);
  fs.writeFileSync(path.join(d, 'new.gguf'), 'GGUF');
  fs.writeFileSync(path.join(d, 'notes.txt'), '');
  assert.deepEqual(listModels(d).map((m) => m.name), ['new', 'old']);
  assert.deepEqual(listModels(path.join(d, 'none')), []);
});

test('catalog URLs and names', () => {
  assert.ok(CATALOG.length >= 4);
  for (const m of CATALOG) assert.ok(modelUrl(m).startsWith('https://'));
  assert.equal(modelUrl(CATALOG[0], 'http://127.0.0.1:9/mirror'), `http://127.0.0.1:9/mirror/${CATALOG[0].file}`);
  assert.equal(modelUrl(CATALOG[0]), OFFICIAL_BASE_URL + CATALOG[0].file);
  assert.equal(ggufNameFor('a.pth'), 'a.gguf');
});
