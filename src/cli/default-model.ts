// Which model runs when no --model is given: the embedded default model
// (media/models/default.gguf) once it ships; until then a tiny test model,
// with a note that its answers are noise. A tiny model that exists only as a
// checkpoint is converted once into a cache folder.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const DEFAULT_MODEL = path.join('media', 'models', 'default.gguf');
const FIXTURE_DIR = path.join('test', 'fixtures', 'models');
const PREFERRED_TINY = ['rwkvx-tiny.gguf', 'rwkv7-tiny.gguf'];
/** Checkpoints the engine can convert, best first, with their vocabulary. */
const TINY_CHECKPOINTS = ['rwkvx-tiny-bf16.pth', 'rwkv7-tiny-fp16.pth', 'rwkv7-tiny-fp32.pth'];
const TINY_VOCAB = 'tiny-vocab.txt';

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

const noiseNote = (file: string) =>
  `note: the default model (${DEFAULT_MODEL}) is not here yet; using the tiny test model ${file}: answers will be noise`;

export function chooseDefaultModel(root: string | null, env: NodeJS.ProcessEnv = process.env): ModelChoice {
  if (root === null) throw new Error('cannot find the rwkvx-code package folder; give --model M.gguf');
  const embedded = path.join(root, DEFAULT_MODEL);
  if (fs.existsSync(embedded)) return { kind: 'file', path: embedded };
  const fixtures = path.join(root, FIXTURE_DIR);
  const ggufs = fs.existsSync(fixtures) ? fs.readdirSync(fixtures).filter((f) => f.endsWith('.gguf')) : [];
  const gguf = PREFERRED_TINY.find((f) => ggufs.includes(f)) ?? ggufs.sort()[0];
  if (gguf !== undefined) return { kind: 'file', path: path.join(fixtures, gguf), note: noiseNote(path.join(FIXTURE_DIR, gguf)) };
  const vocab = path.join(fixtures, TINY_VOCAB);
  const checkpoint = TINY_CHECKPOINTS.find((f) => fs.existsSync(path.join(fixtures, f)));
  if (checkpoint === undefined || !fs.existsSync(vocab)) {
    throw new Error(`no model: ${DEFAULT_MODEL} is missing and there is no tiny test model in ${FIXTURE_DIR}; give --model M.gguf`);
  }
  const input = path.join(fixtures, checkpoint);
  // Keyed by size and time so a changed checkpoint is converted again.
  const st = fs.statSync(input);
  const output = path.join(cacheDir(env), `${path.basename(checkpoint, '.pth')}-${st.size}-${Math.floor(st.mtimeMs)}.gguf`);
  const note = noiseNote(path.join(FIXTURE_DIR, checkpoint));
  if (fs.existsSync(output)) return { kind: 'file', path: output, note };
  return { kind: 'convert', input, vocab, output, note };
}
