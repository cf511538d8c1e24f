// ask, chat and complete: read the repository into a session, then answer.
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';

import type { GenerateResult, SamplerParams } from '../protocol/engine';
import type { Command, SamplingFlags } from './args';
import { completionPrefix, nextTurn, TURN_STOP, userTurn } from './prompt';
import { formatCount, formatDuration } from './progress';
import { describeModel, Interrupt, Interrupted, Io, LoadedModel, withModel } from './runtime';
import { readWorkspace } from './workspace-context';

export const DEFAULT_CONTEXT = 65536;
/** Room kept for the question and the chat turns. */
const QUESTION_RESERVE = 512;

function samplerOf(s: SamplingFlags): SamplerParams {
  // Chat defaults of the RWKV G1 models: sample, but only from the likely head.
  return { temperature: s.temperature ?? 1.0, topP: s.topP ?? 0.3, presencePenalty: 0.4, frequencyPenalty: 0.4, ...(s.seed !== undefined ? { seed: s.seed } : {}) };
}

/** Streams one answer to stdout; returns how it ended. */
async function answer(m: LoadedModel, sessionId: string, prompt: string, sampling: SamplingFlags, maxTokens: number, io: Io, interrupt: Interrupt, stop = [TURN_STOP]): Promise<GenerateResult> {
  const stream = m.client.generate({ sessionId, prompt, maxTokens: sampling.maxTokens ?? maxTokens, stop, sampler: samplerOf(sampling) }, { token: interrupt.token });
  let first = true;
  for await (const chunk of stream) {
    // The model's answer begins with the space after "Assistant:".
    io.stdout.write(first ? chunk.text.replace(/^ /, '') : chunk.text);
    if (chunk.text.length > 0) first = false;
  }
  const r = await stream.result;
  io.stdout.write('\n');
  return r;
}

function budgetOf(ctx: number | undefined, maxTokens: number): { nCtx: number; budget: number } {
  const nCtx = ctx ?? DEFAULT_CONTEXT;
  return { nCtx, budget: Math.max(0, nCtx - maxTokens - QUESTION_RESERVE) };
}

function summary(r: GenerateResult): string {
  return `(${formatCount(r.nGenerated)} tokens, ${r.tokensPerSecond.toFixed(1)} tok/s, ${formatDuration(r.elapsedMs)}${r.stopReason === 'maxTokens' ? ', stopped at --max-tokens' : ''})`;
}

export async function runAsk(cmd: Extract<Command, { name: 'ask' }>, io: Io, interrupt: Interrupt): Promise<number> {
  const maxTokens = cmd.sampling.maxTokens ?? 500;
  const { nCtx, budget } = budgetOf(cmd.engine.ctx, maxTokens);
  return withModel(cmd.engine, io, interrupt, async (m) => {
    io.stderr.write(`model: ${describeModel(m)}\n`);
    const ctx = await readWorkspace(m, cmd.dir, { budget, nCtx }, io, interrupt);
    try {
      const r = await answer(m, ctx.sessionId, userTurn(cmd.question), cmd.sampling, maxTokens, io, interrupt);
      if (r.stopReason === 'aborted') throw new Interrupted();
      io.stderr.write(`${summary(r)}\n`);
      return 0;
    } finally {
      await ctx.close();
    }
  });
}

/** Ctrl-C while waiting for input ends the chat (status 130). */
function untilInterrupted<T>(p: Promise<T>, interrupt: Interrupt): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (interrupt.requested) return reject(new Interrupted());
    const sub = interrupt.token.onCancellationRequested(() => reject(new Interrupted()));
    p.then(resolve, reject).finally(() => sub.dispose());
  });
}

export async function runChat(cmd: Extract<Command, { name: 'chat' }>, io: Io, interrupt: Interrupt): Promise<number> {
  const maxTokens = cmd.sampling.maxTokens ?? 500;
  const { nCtx, budget } = budgetOf(cmd.engine.ctx, maxTokens);
  return withModel(cmd.engine, io, interrupt, async (m) => {
    io.stderr.write(`model: ${describeModel(m)}\n`);
    const ctx = await readWorkspace(m, cmd.dir, { budget, nCtx }, io, interrupt);
    io.stderr.write('Ask about the repository; an empty line or Ctrl-D ends, Ctrl-C stops an answer.\n');
    const rl = readline.createInterface({ input: io.stdin, terminal: false });
    const lines = rl[Symbol.asyncIterator]();
    let stoppedOnTurn = false;
    let started = false;
    try {
      for (;;) {
        io.stderr.write('> ');
        const next = await untilInterrupted(lines.next(), interrupt);
        if (next.done || next.value.trim().length === 0) break;
        const prompt = started ? nextTurn(next.value, stoppedOnTurn) : userTurn(next.value);
        started = true;
        const r = await answer(m, ctx.sessionId, prompt, cmd.sampling, maxTokens, io, interrupt);
        stoppedOnTurn = r.stopReason === 'stop';
        if (r.stopReason === 'aborted') {
          // Ctrl-C stopped this answer only; the conversation goes on.
          io.stderr.write('(stopped)\n');
          interrupt.rearm();
        }
      }
    } finally {
      rl.close();
      await ctx.close();
    }
    return 0;
  });
}

export async function runComplete(cmd: Extract<Command, { name: 'complete' }>, io: Io, interrupt: Interrupt): Promise<number> {
  const target = path.resolve(cmd.dir, cmd.file);
  const rel = path.relative(path.resolve(cmd.dir), target).split(path.sep).join('/');
  const prefix = completionPrefix(rel, fs.readFileSync(target, 'utf8'), cmd.line, cmd.column);
  const maxTokens = cmd.sampling.maxTokens ?? 64;
  const { nCtx, budget } = budgetOf(cmd.engine.ctx, maxTokens);
  return withModel(cmd.engine, io, interrupt, async (m) => {
    io.stderr.write(`model: ${describeModel(m)}\n`);
    // The file being completed goes last, cut at the cursor; its full copy is left out.
    const ctx = await readWorkspace(m, cmd.dir, { budget, nCtx, exclude: [rel] }, io, interrupt);
    try {
    const stream = m.client.generate(
      { sessionId: ctx.sessionId, prompt: prefix, maxTokens, stop: ['\n```', '\n\n\n'], sampler: { temperature: cmd.sampling.temperature ?? 0, ...(cmd.sampling.seed !== undefined ? { seed: cmd.sampling.seed } : {}) } },
      { token: interrupt.token },
    );
    for await (const chunk of stream) io.stdout.write(chunk.text);
    const r = await stream.result;
    io.stdout.write('\n');
    if (r.stopReason === 'aborted') throw new Interrupted();
    return 0;
    } finally {
      await ctx.close();
    }
  });
}
