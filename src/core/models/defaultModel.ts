// Which model the extension loads: the one the settings name, else the
// model embedded in the extension (media/models/default.gguf), else — in a
// development checkout only — the tiny test model (converted once), whose
// answers are noise.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const EMBEDDED_MODEL = path.join('media', 'models', 'default.gguf');
const FIXTURES = path.join('test', 'fixtures', 'models');
const TINY_GGUF = ['rwkvx-tiny.gguf', 'rwkv7-tiny.gguf'];
const TINY_CHECKPOINTS = ['rwkvx-tiny-bf16.pth', 'rwkv7-tiny-fp16.pth', 'rwkv7-tiny-fp32.pth'];
const TINY_VOCAB = 'tiny-vocab.txt';

export type ModelChoice =
  | { kind: 'file'; path: string; source: 'setting' | 'embedded' | 'dev-fixture'; note?: string }
  | { kind: 'convert'; input: string; vocab: string; output: string; source: 'dev-fixture'; note: string }
  | { kind: 'none'; reason: string };

export interface ChooseInput {
  /** rwkvx.model.path ('' when unset); relative paths are taken from `baseDir`. */
  settingPath: string;
  baseDir?: string;
  extensionPath: string;
  /** Where converted models go (the extension's global storage). */
  modelsDir: string;
}

const NOISE = 'no embedded model in this build: using the tiny test model, whose answers are noise. Download or import a real model for useful answers.';

export function chooseModel(input: ChooseInput): ModelChoice {
  if (input.settingPath) {
    const p = path.isAbsolute(input.settingPath) ? input.settingPath : path.resolve(input.baseDir ?? input.extensionPath, input.settingPath);
    return fs.existsSync(p) ? { kind: 'file', path: p, source: 'setting' } : { kind: 'none', reason: `the model in the settings (rwkvx.model.path) does not exist: ${p}` };
  }
  const embedded = path.join(input.extensionPath, EMBEDDED_MODEL);
  if (fs.existsSync(embedded)) return { kind: 'file', path: embedded, source: 'embedded' };
  const fixtures = path.join(input.extensionPath, FIXTURES);
  const gguf = TINY_GGUF.map((f) => path.join(fixtures, f)).find((f) => fs.existsSync(f));
  if (gguf) return { kind: 'file', path: gguf, source: 'dev-fixture', note: NOISE };
  const vocab = path.join(fixtures, TINY_VOCAB);
  const checkpoint = TINY_CHECKPOINTS.map((f) => path.join(fixtures, f)).find((f) => fs.existsSync(f));
  if (checkpoint && fs.existsSync(vocab)) {
    const st = fs.statSync(checkpoint);
    const output = path.join(input.modelsDir, `${path.basename(checkpoint, '.pth')}-${st.size}-${Math.floor(st.mtimeMs)}.gguf`);
    if (fs.existsSync(output)) return { kind: 'file', path: output, source: 'dev-fixture', note: NOISE };
    return { kind: 'convert', input: checkpoint, vocab, output, source: 'dev-fixture', note: NOISE };
  }
  return { kind: 'none', reason: 'no model yet: download one (RWKV: Download Model) or import a .gguf / .pth file (RWKV: Import Model)' };
}
