// ask, chat and complete: read the repository into a session, then answer.
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';

import { ABORTED, isEngineError } from '../common/errors';
import type { GenerateResult, SamplerParams } from '../protocol/engine';
import type { Command, SamplingFlags } from './args';
import { completionPrefix, fileSegment, fitBudget, nextTurn, TURN_STOP, userTurn } from './prompt';
import { formatCount, formatDuration, ProgressLine } from './progress';
import { readRepository, RepoFile } from './repo-reader';
import { describeModel, Interrupt, Interrupted, Io, LoadedModel, withModel } from './runtime';

export const DEFAULT_CONTEXT = 65536;
/** Room kept for the question and the chat turns. */
const QUESTION_RESERVE = 512;

function samplerOf(s: SamplingFlags): SamplerParams {
  // Chat defaults of the RWKV G1 models: sample, but only from the likely head.
  return { temperature: s.temperature ?? 1.0, topP: s.topP ?? 0.3, presencePenalty: 0.4, frequencyPenalty: 0.4, ...(s.seed !== undefined ? { seed: s.seed } : {}) };
}

export interface ReadContext {
  sessionId: string;
  tokens: number;
  files: number;
}

/** Reads `files` into a new session, within the budget, with a progress line. */
async function readIntoSession(m: LoadedModel, files: RepoFile[], budget: number, nCtx: number, io: Io, interrupt: Interrupt): Promise<ReadContext> {
  const tokens: number[][] = [];
  for (const f of files) {
    interrupt.check();
    tokens.push((await m.client.request('tokenize', { modelId: m.modelId, text: fileSegment(f) })).tokens);
  }
  const fit = fitBudget(files, tokens, budget);
  if (fit.dropped.length > 0) {
    io.stderr.write(`${fit.dropped.length} of ${files.length} files do not fit the ${formatCount(budget)}-token budget (--ctx); left out: ${fit.dropped.slice(0, 3).map((f) => f.path).join(', ')}${fit.dropped.length > 3 ? ', …' : ''}\n`);
  }
  const { sessionId } = await m.client.request('openSession', { modelId: m.modelId, nCtx });
  if (fit.total === 0) return { sessionId, tokens: 0, files: 0 };
  const line = new ProgressLine(io.stderr);
  const label = `reading ${fit.files.length} files`;
  try {
    const r = await m.client.feed(
      { sessionId, tokens: fit.tokens.flat() },
      { token: interrupt.token, onProgress: (p) => line.update({ label, done: p.done, total: p.total, unit: 'tokens', elapsedMs: p.elapsedMs, rate: p.tokensPerSecond }) },
    );
    line.done({ label, done: r.fed, total: fit.total, unit: 'tokens', elapsedMs: r.elapsedMs, rate: r.tokensPerSecond });
    return { sessionId, tokens: r.nPast, files: fit.files.length };
  } catch (e) {
    line.clear();
    if (isEngineError(e, ABORTED)) throw new Interrupted();
    throw e;
  }
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

function readRepo(dir: string, io: Io): RepoFile[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`);
  const repo = readRepository(dir);
  const skipped = repo.skipped.length > 0 ? ` (skipped ${repo.skipped.length}: binary, huge, generated or secret)` : '';
  io.stderr.write(`${repo.files.length} text files in ${path.resolve(dir)}${repo.source === 'git' ? ' (git ls-files)' : ''}${skipped}\n`);
  return repo.files;
}

function summary(r: GenerateResult): string {
  return `(${formatCount(r.nGenerated)} tokens, ${r.tokensPerSecond.toFixed(1)} tok/s, ${formatDuration(r.elapsedMs)}${r.stopReason === 'maxTokens' ? ', stopped at --max-tokens' : ''})`;
}

export async function runAsk(cmd: Extract<Command, { name: 'ask' }>, io: Io, interrupt: Interrupt): Promise<number> {
  const files = readRepo(cmd.dir, io);
  const maxTokens = cmd.sampling.maxTokens ?? 500;
  const { nCtx, budget } = budgetOf(cmd.engine.ctx, maxTokens);
  return withModel(cmd.engine, io, interrupt, async (m) => {
    io.stderr.write(`model: ${describeModel(m)}\n`);
    const ctx = await readIntoSession(m, files, budget, nCtx, io, interrupt);
    const r = await answer(m, ctx.sessionId, userTurn(cmd.question), cmd.sampling, maxTokens, io, interrupt);
    if (r.stopReason === 'aborted') throw new Interrupted();
    io.stderr.write(`${summary(r)}\n`);
    return 0;
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
  const files = readRepo(cmd.dir, io);
  const maxTokens = cmd.sampling.maxTokens ?? 500;
  const { nCtx, budget } = budgetOf(cmd.engine.ctx, maxTokens);
  return withModel(cmd.engine, io, interrupt, async (m) => {
    io.stderr.write(`model: ${describeModel(m)}\n`);
    const ctx = await readIntoSession(m, files, budget, nCtx, io, interrupt);
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
    }
    return 0;
  });
}

export async function runComplete(cmd: Extract<Command, { name: 'complete' }>, io: Io, interrupt: Interrupt): Promise<number> {
  const target = path.resolve(cmd.dir, cmd.file);
  const rel = path.relative(path.resolve(cmd.dir), target).split(path.sep).join('/');
  const prefix = completionPrefix(rel, fs.readFileSync(target, 'utf8'), cmd.line, cmd.column);
  // The file being completed goes last, cut at the cursor; its full copy is left out.
  const files = readRepo(cmd.dir, io).filter((f) => f.path !== rel);
  const maxTokens = cmd.sampling.maxTokens ?? 64;
  const { nCtx, budget } = budgetOf(cmd.engine.ctx, maxTokens);
  return withModel(cmd.engine, io, interrupt, async (m) => {
    io.stderr.write(`model: ${describeModel(m)}\n`);
    const ctx = await readIntoSession(m, files, budget, nCtx, io, interrupt);
    const stream = m.client.generate(
      { sessionId: ctx.sessionId, prompt: prefix, maxTokens, stop: ['\n```', '\n\n\n'], sampler: { temperature: cmd.sampling.temperature ?? 0, ...(cmd.sampling.seed !== undefined ? { seed: cmd.sampling.seed } : {}) } },
      { token: interrupt.token },
    );
    for await (const chunk of stream) io.stdout.write(chunk.text);
    const r = await stream.result;
    io.stdout.write('\n');
    if (r.stopReason === 'aborted') throw new Interrupted();
    return 0;
  });
}
