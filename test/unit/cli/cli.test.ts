// The rwkvx command line end to end on the tiny models: the engine probes
// with their exact flags, ask / chat / complete / info in a small
// repository, the default-model fallback, Ctrl-C and bad input.
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { after, before, describe, it } from 'node:test';

import { decodeNpyFloat32 } from '../../../src/common/npy';
import type { NativeModel } from '../../../src/engine/host/addon';
import { addon, FIXTURES, repoRoot, scratchDir, TINY_VOCAB } from '../engine/fixtures';

const ENTRY = path.join(repoRoot(), 'out', 'src', 'cli', 'entry.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [ENTRY, ...args], {
    cwd: options.cwd ?? repoRoot(),
    // Saved contexts and converted models go to this run's scratch cache, not the user's.
    env: { ...process.env, XDG_CACHE_HOME: path.join(dir, 'cache-runs'), ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own process group, so Ctrl-C can be sent the way a terminal does.
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

const rwkvx = (args: string[], options?: Parameters<typeof start>[1]) => start(args, options).done;

let dir: string;
let model7: string;
let native: NativeModel;

before(async () => {
  dir = scratchDir('cli');
  model7 = path.join(dir, 'rwkv7-tiny.gguf');
  const r = await rwkvx(['convert', path.join(FIXTURES, 'rwkv7-tiny-fp32.pth'), model7, '--vocab', TINY_VOCAB, '--type', 'f32']);
  assert.equal(r.code, 0, r.stderr);
  native = await addon().loadModel(model7);
});

after(() => {
  native?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('rwkvx probes', () => {
  it('convert writes a GGUF that loads, also as Q8_0; a missing vocabulary is a clear error', async () => {
    assert.equal(native.info().architecture, 'rwkv7');
    const q8 = path.join(dir, 'q8.gguf');
    const r = await rwkvx(['convert', path.join(FIXTURES, 'rwkv7-tiny-bf16.pth'), q8, '--vocab', TINY_VOCAB, '--quant', 'q8_0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote .*q8\.gguf/);
    const m = await addon().loadModel(q8);
    assert.equal(m.info().nVocab, 704);
    m.dispose();
    const bad = await rwkvx(['convert', path.join(FIXTURES, 'rwkv7-tiny-bf16.pth'), path.join(dir, 'x.gguf')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /vocabulary/);
  });

  it('tokenize prints the ids on one line, from --text or --file', async () => {
    const text = 'def update(self, key):\n    return 你好 😀';
    const r = await rwkvx(['tokenize', '--model', model7, '--text', text]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+( \d+)*\n$/);
    assert.deepEqual(r.stdout.trim().split(' ').map(Number), Array.from(native.tokenize(text)));
    const file = path.join(dir, 'text.txt');
    fs.writeFileSync(file, text);
    assert.equal((await rwkvx(['tokenize', '--model', model7, '--file', file])).stdout, r.stdout);
  });

  it('logits writes float32 [T, V] equal to the engine’s logits after each token', async () => {
    const out = path.join(dir, 'logits.npy');
    const r = await rwkvx(['logits', '--model', model7, '--tokens', '5 17 200 3', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const npy = decodeNpyFloat32(fs.readFileSync(out));
    assert.deepEqual(npy.shape, [4, 704]);
    const s = native.newSession();
    assert.deepEqual(npy.data, await s.prefillAllLogits([5, 17, 200, 3]));
    s.dispose();
    if (hasNumpy()) {
      const shape = execFileSync('python3', ['-c', `import numpy as np; a = np.load(${JSON.stringify(out)}); print(a.dtype, a.shape)`]).toString().trim();
      assert.equal(shape, 'float32 (4, 704)');
    }
  });

  it('generate streams the greedy continuation, the same every time', async () => {
    const args = ['generate', '--model', model7, '--prompt', 'User: hello\n\nAssistant:', '--max-tokens', '12', '--temperature', '0'];
    const a = await rwkvx(args);
    assert.equal(a.code, 0, a.stderr);
    const b = await rwkvx(args);
    assert.equal(b.stdout, a.stdout);
    // The same greedy continuation through the addon.
    const s = native.newSession();
    await s.prefill(native.tokenize('User: hello\n\nAssistant:'));
    const sampler = native.newSampler({ temperature: 0 });
    let text = '';
    await s.generate(sampler, { maxTokens: 12 }, (t) => (text += t));
    assert.equal(a.stdout, `${text}\n`);
    sampler.dispose();
    s.dispose();
  });

  it('fails clearly on a missing or corrupt model', async () => {
    const missing = await rwkvx(['tokenize', '--model', path.join(dir, 'nope.gguf'), '--text', 'a']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.gguf.*\[IO\]/s);
    const corrupt = path.join(dir, 'corrupt.gguf');
    fs.writeFileSync(corrupt, fs.readFileSync(model7).subarray(0, 100_000));
    const bad = await rwkvx(['generate', '--model', corrupt, '--prompt', 'x']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /corrupt\.gguf.*\[(FORMAT|SHAPE|IO)\]/s);
    const usage = await rwkvx(['logits', '--tokens', '1 2']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--out/);
  });

  it('Ctrl-C during generation stops the engine call and exits 130', async () => {
    const run = start(['generate', '--model', model7, '--prompt', 'x', '--max-tokens', '100000000']);
    // Like a terminal's Ctrl-C: the whole process group, the engine process included.
    run.child.stdout!.once('data', () => process.kill(-run.child.pid!, 'SIGINT'));
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted/);
  });
});

function hasNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('rwkvx in a repository', () => {
  let repo: string;
  before(() => {
    repo = path.join(dir, 'repo');
    fs.mkdirSync(path.join(repo, 'src'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'README.md'), '# Demo\nA tiny demo repository that adds numbers.\n');
    fs.writeFileSync(path.join(repo, 'src', 'add.ts'), 'export function add(a: number, b: number): number {\n  return a + b;\n}\n');
    fs.writeFileSync(path.join(repo, '.env'), 'SECRET=1\n');
  });

  it('ask reads the files with a progress summary and streams an answer', async () => {
    const r = await rwkvx(['ask', 'What does this repository do?', '--model', model7, '--max-tokens', '16'], { cwd: repo });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /2 files in context from .*repo; skipped 1/);
    assert.match(r.stderr, /reading 2 files .* tokens/);
    assert.match(r.stderr, /\(\d+ tokens, [\d.]+ tok\/s/);
  });

  it('asking again in the unchanged repository reuses the saved context', async () => {
    // Same --max-tokens as above: the same budget, so the save is used as it is (not fitted again).
    const r = await rwkvx(['ask', 'And again?', '--model', model7, '--max-tokens', '16'], { cwd: repo });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /reused the saved context, 0 tokens read for changes/);
    assert.doesNotMatch(r.stderr, /reading \d+ files/);
  });

  it('ask with no --model runs on the embedded default model (else the tiny test model, saying so)', async () => {
    const cache = path.join(dir, 'cache');
    const r = await rwkvx(['ask', 'What does this repository do?', '--max-tokens', '4'], { cwd: repo, env: { XDG_CACHE_HOME: cache } });
    assert.equal(r.code, 0, r.stderr);
    if (fs.existsSync(path.join(repoRoot(), 'media', 'models', 'default.gguf'))) {
      assert.match(r.stderr, /model: rwkvx-\S+ \(rwkvx, \d+M params\)/);
      assert.doesNotMatch(r.stderr, /noise/);
    } else {
      assert.match(r.stderr, /tiny test model, whose answers are noise/);
      assert.ok(fs.readdirSync(path.join(cache, 'rwkvx')).some((f) => f.endsWith('.gguf')), 'converted once into the cache');
    }
  });

  it('ask respects --ctx and reports what did not fit', async () => {
    const r = await rwkvx(['ask', 'q', '--model', model7, '--max-tokens', '1', '--ctx', '560'], { cwd: repo });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /left out: they do not fit the \d+-token budget/);
  });

  it('Ctrl-C while reading exits 130', async () => {
    const big = path.join(dir, 'bigrepo');
    fs.mkdirSync(big, { recursive: true });
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(big, `f${i}.txt`), `line ${i} of a long file\n`.repeat(4000));
    const run = start(['ask', 'q', '--model', model7, '--ctx', '10000000'], { cwd: big });
    run.child.stderr!.on('data', (s: string) => {
      if (s.includes('model:')) process.kill(-run.child.pid!, 'SIGINT');
    });
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
  });

  it('chat keeps the context across turns and ends on an empty line', async () => {
    const r = await rwkvx(['chat', '--model', model7, '--max-tokens', '6'], { cwd: repo, input: 'What is this?\nAnd the tests?\n\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stderr.match(/> /g) ?? []).length, 3, 'two answers, then the empty line ends');
    assert.equal(r.stdout.split('\n').length - 1, 2);
  });

  it('complete continues the file at the cursor', async () => {
    const r = await rwkvx(['complete', 'src/add.ts:2:10', '--model', model7, '--max-tokens', '5'], { cwd: repo });
    assert.equal(r.code, 0, r.stderr);
    const bad = await rwkvx(['complete', 'src/add.ts:9:1', '--model', model7], { cwd: repo });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /has 4 lines/);
  });

  it('info shows the model, device and context budget', async () => {
    const r = await rwkvx(['info', '--model', model7, '--ctx', '4096']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /model +rwkv7-tiny-fp32 \(rwkv7/);
    assert.match(r.stdout, /device +CPU/);
    assert.match(r.stdout, /device note/);
    assert.match(r.stdout, /context budget +4,096 tokens/);
  });
});
