// Which model runs when no --model is given: the extension's rule
// (core/models/defaultModel: the embedded media/models/default.gguf, else in a
// development checkout the tiny test model, converted once) with the CLI's
// package root and cache folder.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { chooseModel, EMBEDDED_MODEL } from '../core/models/defaultModel';

export const DEFAULT_MODEL = EMBEDDED_MODEL;

export type ModelChoice =
  | { kind: 'file'; path: string; note?: string }
  | { kind: 'convert'; input: string; vocab: string; output: string; note: string };

/** The package root: the nearest folder above `start` whose package.json names this project. */
export function packageRoot(start: string = __dirname): string | null {
  let dir = path.resolve(start);
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        if (JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'rwkvx-code') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.length > 0 ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'rwkvx');
}

export function chooseDefaultModel(root: string | null, env: NodeJS.ProcessEnv = process.env): ModelChoice {
  if (root === null) throw new Error('cannot find the rwkvx-code package folder; give --model M.gguf');
  const c = chooseModel({ settingPath: '', extensionPath: root, modelsDir: cacheDir(env) });
  if (c.kind === 'none') throw new Error(`no model: ${DEFAULT_MODEL} is missing and there is no tiny test model; give --model M.gguf`);
  const note = c.note === undefined ? {} : { note: `note: ${c.note}` };
  return c.kind === 'file' ? { kind: 'file', path: c.path, ...note } : { kind: 'convert', input: c.input, vocab: c.vocab, output: c.output, note: `note: ${c.note}` };
}
