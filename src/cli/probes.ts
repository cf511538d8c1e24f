// The engine probes (issue 2, item 7) and info: exact flags, machine-readable
// output on stdout, everything else on stderr.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { EngineClient } from '../engine/client';
import type { Command } from './args';
import { packageRoot } from './default-model';
import { DEFAULT_CONTEXT } from './assistant';
import { formatCount, ProgressLine } from './progress';
import { describeModel, Interrupt, Interrupted, Io, withModel } from './runtime';

export async function runConvert(cmd: Extract<Command, { name: 'convert' }>, io: Io, interrupt: Interrupt): Promise<number> {
  const client = new EngineClient({ env: io.env });
  const line = new ProgressLine(io.stderr);
  try {
    const r = await client.convert(
      { input: cmd.input, output: cmd.output, vocab: cmd.vocab, type: cmd.type, name: cmd.modelName },
      { token: interrupt.token, onProgress: (p) => line.update({ label: 'converting', done: p.done, total: p.total, unit: 'tensors', elapsedMs: p.elapsedMs }) },
    );
    line.clear();
    io.stderr.write(`wrote ${r.output} (${formatCount(r.size)} bytes)\n`);
    return 0;
  } finally {
    line.clear();
    await client.dispose();
  }
}

export async function runTokenize(cmd: Extract<Command, { name: 'tokenize' }>, io: Io, interrupt: Interrupt): Promise<number> {
  const text = cmd.text ?? fs.readFileSync(cmd.file!, 'utf8');
  return withModel(cmd.engine, io, interrupt, async (m) => {
    const { tokens } = await m.client.request('tokenize', { modelId: m.modelId, text });
    io.stdout.write(`${tokens.join(' ')}\n`);
    return 0;
  });
}

export async function runLogits(cmd: Extract<Command, { name: 'logits' }>, io: Io, interrupt: Interrupt): Promise<number> {
  return withModel(cmd.engine, io, interrupt, async (m) => {
    const { sessionId } = await m.client.request('openSession', { modelId: m.modelId, ...(cmd.engine.ctx !== undefined ? { nCtx: cmd.engine.ctx } : {}) });
    const r = await m.client.request('allLogits', { sessionId, tokens: cmd.tokens, outPath: cmd.out }, interrupt.token);
    io.stderr.write(`wrote ${r.outPath} [${r.rows}, ${r.nVocab}] float32\n`);
    return 0;
  });
}

export async function runGenerate(cmd: Extract<Command, { name: 'generate' }>, io: Io, interrupt: Interrupt): Promise<number> {
  return withModel(cmd.engine, io, interrupt, async (m) => {
    const { sessionId } = await m.client.request('openSession', { modelId: m.modelId, ...(cmd.engine.ctx !== undefined ? { nCtx: cmd.engine.ctx } : {}) });
    const s = cmd.sampling;
    const stream = m.client.generate(
      {
        sessionId,
        prompt: cmd.prompt,
        maxTokens: s.maxTokens ?? 100,
        sampler: {
          ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
          ...(s.topP !== undefined ? { topP: s.topP } : {}),
          ...(s.seed !== undefined ? { seed: s.seed } : {}),
        },
      },
      { token: interrupt.token },
    );
    for await (const chunk of stream) io.stdout.write(chunk.text);
    const r = await stream.result;
    io.stdout.write('\n');
    if (r.stopReason === 'aborted') throw new Interrupted();
    io.stderr.write(`(${r.nGenerated} tokens, ${r.tokensPerSecond.toFixed(1)} tok/s, stop: ${r.stopReason})\n`);
    return 0;
  });
}

export async function runInfo(cmd: Extract<Command, { name: 'info' }>, io: Io, interrupt: Interrupt): Promise<number> {
  return withModel(cmd.engine, io, interrupt, async (m) => {
    const hello = await m.client.request('hello', {});
    const i = m.info;
    const ctx = cmd.engine.ctx ?? DEFAULT_CONTEXT;
    const mib = (b: number) => `${(b / (1 << 20)).toFixed(1)} MiB`;
    const rows: [string, string][] = [
      ['model', describeModel(m)],
      ['file', path.resolve(m.modelPath)],
      ['shape', `${i.nLayer} RWKV-7 layers${i.nAttnLayer > 0 ? ` + ${i.nAttnLayer} attention blocks (chunk ${i.attnChunkSize}, top-${i.attnTopK})` : ''}, width ${i.nEmbd}, ${i.nHead} heads of ${i.headSize}, vocabulary ${formatCount(i.nVocab)}`],
      ['weights', mib(i.weightBytes)],
      ['device', i.device],
      ['device note', i.deviceNote || '-'],
      ['context budget', `${formatCount(ctx)} tokens (--ctx; trained up to ${formatCount(i.trainContextLength)})`],
      ['state', `${mib(i.stateBytes)} per session${i.kvBytesPerToken > 0 ? ` + KV cache ${formatCount(i.kvBytesPerToken)} B/token = ${mib(i.kvBytesPerToken * ctx)} at the budget` : ''}`],
      ['engine', `${hello.buildInfo} (process ${hello.pid})`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) io.stdout.write(`${k.padEnd(width)}  ${v}\n`);
    return 0;
  });
}

/** Delegates to bench/engine.js with the remaining arguments. */
export async function runBench(cmd: Extract<Command, { name: 'bench' }>, io: Io): Promise<number> {
  const root = packageRoot();
  const script = root === null ? null : path.join(root, 'bench', 'engine.js');
  if (script === null || !fs.existsSync(script)) {
    io.stderr.write('rwkvx: bench/engine.js is not in this checkout\n');
    return 1;
  }
  return new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [script, ...cmd.args], { stdio: 'inherit', env: io.env });
    child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)));
  });
}
