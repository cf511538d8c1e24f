// Command line of `rwkvx`: subcommands, their flags, and validation into
// typed commands. Parsing only; nothing here touches the engine.
import { parseArgs, ParseArgsConfig } from 'util';

import type { ConvertType, DeviceSpec } from '../protocol/engine';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface EngineFlags {
  model?: string;
  device: DeviceSpec;
  ctx?: number;
  threads?: number;
}

export interface SamplingFlags {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
}

export type Command =
  | { name: 'help'; topic?: string }
  | { name: 'ask'; question: string; dir: string; engine: EngineFlags; sampling: SamplingFlags }
  | { name: 'chat'; dir: string; engine: EngineFlags; sampling: SamplingFlags }
  | { name: 'complete'; file: string; line: number; column: number; dir: string; engine: EngineFlags; sampling: SamplingFlags }
  | { name: 'info'; engine: EngineFlags }
  | { name: 'convert'; input: string; output: string; vocab?: string; type?: ConvertType; modelName?: string; engine: EngineFlags }
  | { name: 'tokenize'; text?: string; file?: string; engine: EngineFlags }
  | { name: 'logits'; tokens: number[]; out: string; engine: EngineFlags }
  | { name: 'generate'; prompt: string; engine: EngineFlags; sampling: SamplingFlags }
  | { name: 'bench'; args: string[] };

export const USAGE = `Usage: rwkvx <command> [options]

The whole repository in the context of a local RWKV-7 / RWKV-X model.

Commands:
  ask "question"            read the current directory, then answer (streamed)
  chat                      interactive chat that keeps the repository in context
  complete FILE:LINE:COL    complete the code at a position (line and column from 1)
  info                      model, device and context budget
  convert IN OUT.gguf [--vocab FILE] [--quant q8_0] [--type f16|f32|bf16] [--name NAME]
                            official RWKV-7 / RWKV-X .pth or fla-hub .safetensors → GGUF
  tokenize (--text S | --file F)      token ids on one line
  logits --tokens "i j k" --out F.npy  logits after each token, float32 .npy [T, V]
  generate --prompt S [--max-tokens N] [--temperature T]
  bench [...]               engine benchmark (bench/engine.js)

Engine options:
  --model M.gguf            model file (default: the embedded default model)
  --device auto|cpu|cuda[:N]  (default auto: CUDA when usable, else CPU)
  --ctx N                   context budget in tokens (ask/chat/complete: default 65536)
  --threads N               CPU threads (default: all cores)

Generation options (ask, chat, complete, generate):
  --max-tokens N  --temperature T  --top-p P  --seed N
Reading options (ask, chat, complete):
  --dir D, -C D             the repository to read (default: the current directory)

Ctrl-C stops the running step cleanly (exit status 130).`;

const ENGINE_OPTIONS = {
  model: { type: 'string', short: 'm' },
  device: { type: 'string' },
  ctx: { type: 'string' },
  threads: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SAMPLING_OPTIONS = {
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
} as const;

const DIR_OPTIONS = {
  dir: { type: 'string', short: 'C' },
} as const;

type OptionValues = Record<string, string | boolean | undefined>;

function parse(command: string, argv: string[], options: NonNullable<ParseArgsConfig['options']>): { values: OptionValues; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as OptionValues, positionals: r.positionals };
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
}

function str(v: OptionValues, key: string): string | undefined {
  const x = v[key];
  return typeof x === 'string' ? x : undefined;
}

export function parseInteger(name: string, s: string | undefined, min = 0): number | undefined {
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s.trim())) throw new UsageError(`--${name} must be an integer, not '${s}'`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, not '${s}'`);
  return n;
}

export function parseNumber(name: string, s: string | undefined, min: number, max: number): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in [${min}, ${max}], not '${s}'`);
  return n;
}

export function parseDeviceSpec(s: string | undefined): DeviceSpec {
  if (s === undefined || s === 'auto') return 'auto';
  if (s === 'cpu' || s === 'cuda') return s;
  if (/^cuda:\d+$/.test(s)) return s as DeviceSpec;
  throw new UsageError(`--device must be auto, cpu, cuda or cuda:N, not '${s}'`);
}

/** "3 14 159" → [3, 14, 159] (spaces or commas between ids). */
export function parseTokenList(s: string): number[] {
  const parts = s.split(/[\s,]+/).filter((p) => p.length > 0);
  if (parts.length === 0) throw new UsageError('--tokens must list at least one token id');
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new UsageError(`--tokens: '${p}' is not a token id`);
    return Number(p);
  });
}

/** "src/a.ts:12:5" → file, line and column (both from 1); the file may contain colons. */
export function parsePosition(s: string): { file: string; line: number; column: number } {
  const m = /^(.+):(\d+):(\d+)$/.exec(s);
  if (!m) throw new UsageError(`complete: expected FILE:LINE:COL, not '${s}'`);
  const line = Number(m[2]);
  const column = Number(m[3]);
  if (line < 1 || column < 1) throw new UsageError('complete: LINE and COL count from 1');
  return { file: m[1], line, column };
}

function engineFlags(v: OptionValues): EngineFlags {
  return {
    model: str(v, 'model'),
    device: parseDeviceSpec(str(v, 'device')),
    ctx: parseInteger('ctx', str(v, 'ctx'), 1),
    threads: parseInteger('threads', str(v, 'threads'), 0),
  };
}

function samplingFlags(v: OptionValues): SamplingFlags {
  return {
    maxTokens: parseInteger('max-tokens', str(v, 'max-tokens'), 0),
    temperature: parseNumber('temperature', str(v, 'temperature'), 0, 100),
    topP: parseNumber('top-p', str(v, 'top-p'), 0, 1),
    seed: parseInteger('seed', str(v, 'seed'), 0),
  };
}

function noPositionals(command: string, positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`${command}: unexpected argument '${positionals[0]}'`);
}

export function parseCommandLine(argv: string[], cwd: string = process.cwd()): Command {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') return { name: 'help', topic: rest[0] };
  switch (name) {
    case 'ask': {
      const { values, positionals } = parse(name, rest, { ...ENGINE_OPTIONS, ...SAMPLING_OPTIONS, ...DIR_OPTIONS });
      if (values.help) return { name: 'help', topic: name };
      const question = positionals.join(' ').trim();
      if (question.length === 0) throw new UsageError('ask: give the question, e.g. rwkvx ask "What does this repository do?"');
      return { name, question, dir: str(values, 'dir') ?? cwd, engine: engineFlags(values), sampling: samplingFlags(values) };
    }
    case 'chat': {
      const { values, positionals } = parse(name, rest, { ...ENGINE_OPTIONS, ...SAMPLING_OPTIONS, ...DIR_OPTIONS });
      if (values.help) return { name: 'help', topic: name };
      noPositionals(name, positionals);
      return { name, dir: str(values, 'dir') ?? cwd, engine: engineFlags(values), sampling: samplingFlags(values) };
    }
    case 'complete': {
      const { values, positionals } = parse(name, rest, { ...ENGINE_OPTIONS, ...SAMPLING_OPTIONS, ...DIR_OPTIONS });
      if (values.help) return { name: 'help', topic: name };
      if (positionals.length !== 1) throw new UsageError('complete: give one FILE:LINE:COL');
      return { name, ...parsePosition(positionals[0]), dir: str(values, 'dir') ?? cwd, engine: engineFlags(values), sampling: samplingFlags(values) };
    }
    case 'info': {
      const { values, positionals } = parse(name, rest, ENGINE_OPTIONS);
      if (values.help) return { name: 'help', topic: name };
      noPositionals(name, positionals);
      return { name, engine: engineFlags(values) };
    }
    case 'convert': {
      const { values, positionals } = parse(name, rest, {
        ...ENGINE_OPTIONS,
        vocab: { type: 'string' },
        quant: { type: 'string' },
        type: { type: 'string' },
        name: { type: 'string' },
      });
      if (values.help) return { name: 'help', topic: name };
      if (positionals.length !== 2) throw new UsageError('convert: give IN and OUT.gguf');
      const quant = str(values, 'quant');
      const type = str(values, 'type');
      if (quant !== undefined && quant !== 'q8_0') throw new UsageError(`convert: --quant supports q8_0, not '${quant}'`);
      if (type !== undefined && type !== 'f16' && type !== 'f32' && type !== 'bf16') throw new UsageError(`convert: --type must be f16, f32 or bf16, not '${type}'`);
      if (quant !== undefined && type !== undefined) throw new UsageError('convert: give --quant or --type, not both');
      return {
        name,
        input: positionals[0],
        output: positionals[1],
        vocab: str(values, 'vocab'),
        type: (quant ?? type) as ConvertType | undefined,
        modelName: str(values, 'name'),
        engine: engineFlags(values),
      };
    }
    case 'tokenize': {
      const { values, positionals } = parse(name, rest, { ...ENGINE_OPTIONS, text: { type: 'string' }, file: { type: 'string' } });
      if (values.help) return { name: 'help', topic: name };
      noPositionals(name, positionals);
      const text = str(values, 'text');
      const file = str(values, 'file');
      if ((text === undefined) === (file === undefined)) throw new UsageError('tokenize: give exactly one of --text S or --file F');
      return { name, text, file, engine: engineFlags(values) };
    }
    case 'logits': {
      const { values, positionals } = parse(name, rest, { ...ENGINE_OPTIONS, tokens: { type: 'string' }, out: { type: 'string' } });
      if (values.help) return { name: 'help', topic: name };
      noPositionals(name, positionals);
      const tokens = str(values, 'tokens');
      const out = str(values, 'out');
      if (tokens === undefined || out === undefined) throw new UsageError('logits: give --tokens "i j k" and --out F.npy');
      return { name, tokens: parseTokenList(tokens), out, engine: engineFlags(values) };
    }
    case 'generate': {
      const { values, positionals } = parse(name, rest, { ...ENGINE_OPTIONS, ...SAMPLING_OPTIONS, prompt: { type: 'string' } });
      if (values.help) return { name: 'help', topic: name };
      noPositionals(name, positionals);
      const prompt = str(values, 'prompt');
      if (prompt === undefined || prompt.length === 0) throw new UsageError('generate: give --prompt S');
      return { name, prompt, engine: engineFlags(values), sampling: samplingFlags(values) };
    }
    case 'bench':
      return { name, args: rest };
    default:
      throw new UsageError(`unknown command '${name}'`);
  }
}
