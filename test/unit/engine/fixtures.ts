// Test fixtures shared by the engine and CLI tests: the repository root, a
// scratch folder, and the tiny models converted from the committed
// checkpoints (test/fixtures/models) into GGUF with the engine's converter.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { Addon, findAddon, loadAddon } from '../../../src/engine/host/addon';

export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) || !fs.existsSync(path.join(dir, 'native'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('repository root not found');
    dir = parent;
  }
  return dir;
}

export const FIXTURES = path.join(repoRoot(), 'test', 'fixtures', 'models');
export const TINY_VOCAB = path.join(FIXTURES, 'tiny-vocab.txt');

export function scratchDir(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rwkvx-${name}-`));
  return dir;
}

export function addon(): Addon {
  const p = findAddon(path.join(repoRoot(), 'src'));
  if (p === null) throw new Error('native/build/Release/rwkvx.node is missing: run npm install');
  return loadAddon(p);
}

export interface TinyModels {
  dir: string;
  rwkv7: string; // GGUF, f32
  rwkvx: string; // GGUF, f16
  cleanup(): void;
}

/** Converts the tiny checkpoints once per test file. */
export async function tinyModels(): Promise<TinyModels> {
  const dir = scratchDir('models');
  const a = addon();
  const rwkv7 = path.join(dir, 'rwkv7-tiny.gguf');
  const rwkvx = path.join(dir, 'rwkvx-tiny.gguf');
  await a.convert(path.join(FIXTURES, 'rwkv7-tiny-fp32.pth'), rwkv7, { vocab: TINY_VOCAB, type: 'f32' });
  await a.convert(path.join(FIXTURES, 'rwkvx-tiny-bf16.pth'), rwkvx, { vocab: TINY_VOCAB, type: 'f16' });
  return { dir, rwkv7, rwkvx, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Index of the largest value (greedy choice). */
export function argmax(a: Float32Array, from = 0, to = a.length): number {
  let best = from;
  for (let i = from + 1; i < to; i++) if (a[i] > a[best]) best = i;
  return best - from;
}

/** Resolves after the first call of the returned callback. */
export function firstCall<T extends unknown[]>(): { fn: (...args: T) => void; called: Promise<T> } {
  let resolve!: (v: T) => void;
  const called = new Promise<T>((r) => (resolve = r));
  let done = false;
  return {
    fn: (...args: T) => {
      if (!done) {
        done = true;
        resolve(args);
      }
    },
    called,
  };
}
