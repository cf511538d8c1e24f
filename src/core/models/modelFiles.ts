// Model files the extension knows: what kind a file is, how to make it a
// GGUF the engine loads, and which models sit in the extension's models
// folder.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type ModelFileKind = 'gguf' | 'pth' | 'safetensors' | 'fla-folder';

export function kindOf(file: string): ModelFileKind | undefined {
  try {
    if (fs.statSync(file).isDirectory()) {
      return fs.existsSync(path.join(file, 'model.safetensors')) || fs.readdirSync(file).some((f) => f.endsWith('.safetensors')) ? 'fla-folder' : undefined;
    }
  } catch {
    return undefined;
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === '.gguf') return 'gguf';
  if (ext === '.pth') return 'pth';
  if (ext === '.safetensors') return 'safetensors';
  return undefined;
}

/** Checks the first bytes: a GGUF file starts with "GGUF"; a .pth is a zip ("PK"). */
export function sniff(file: string): ModelFileKind | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    const b = Buffer.alloc(8);
    fs.readSync(fd, b, 0, 8, 0);
    fs.closeSync(fd);
    if (b.subarray(0, 4).toString('latin1') === 'GGUF') return 'gguf';
    if (b[0] === 0x50 && b[1] === 0x4b) return 'pth';
    // safetensors: little-endian u64 header length, then '{'.
    const n = b.readBigUInt64LE(0);
    if (n > 0n && n < 100_000_000n) return 'safetensors';
  } catch {
    // unreadable: the caller reports it
  }
  return undefined;
}

export interface ImportPlan {
  /** What the engine loads in the end. */
  gguf: string;
  /** A conversion is needed first (input → gguf). */
  convert?: { input: string; vocab?: string };
}

/**
 * How to import `file` into `modelsDir`: a GGUF is used where it is; a
 * checkpoint is converted into the models folder (with a World vocabulary
 * from `vocabCandidates` when it carries none).
 */
export function planImport(file: string, modelsDir: string, vocabCandidates: string[]): ImportPlan {
  const kind = kindOf(file);
  if (!kind) throw new Error(`${path.basename(file)} is not a model file this extension reads (.gguf, .pth, .safetensors)`);
  if (kind === 'gguf') {
    if (sniff(file) !== 'gguf') throw new Error(`${path.basename(file)} does not start like a GGUF file`);
    return { gguf: file };
  }
  const base = kind === 'fla-folder' ? path.basename(file) + '.safetensors' : path.basename(file);
  const out = path.join(modelsDir, base.replace(/\.(pth|safetensors)$/i, '') + '.gguf');
  const neighbours = [path.join(kind === 'fla-folder' ? file : path.dirname(file), 'rwkv_vocab_v20230424.txt')];
  const vocab = [...neighbours, ...vocabCandidates].find((v) => fs.existsSync(v));
  return { gguf: out, convert: { input: file, ...(vocab ? { vocab } : {}) } };
}

export interface InstalledModel {
  path: string;
  name: string;
  size: number;
  mtimeMs: number;
}

/** GGUF files in the models folder, newest first. */
export function listModels(modelsDir: string): InstalledModel[] {
  if (!fs.existsSync(modelsDir)) return [];
  return fs
    .readdirSync(modelsDir)
    .filter((f) => f.toLowerCase().endsWith('.gguf'))
    .map((f) => {
      const p = path.join(modelsDir, f);
      const st = fs.statSync(p);
      return { path: p, name: f.replace(/\.gguf$/i, ''), size: st.size, mtimeMs: st.mtimeMs };
    })
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
}
