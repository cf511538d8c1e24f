// ask / chat / complete read the repository through the context log
// (src/core/context): the same discovery, order, budget and persistence as the
// extension. The log is saved under the cache folder per repository and model,
// so asking again in an unchanged repository reads nothing twice (with another
// --ctx the saved context is fitted to the new budget, reusing what it can).
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

import { ClientEnginePort, ContextLog, FolderStorage, NodeFileSystem, systemClock, type ContextStatus, type ProgressEvent } from '../core/context';
import { cacheDir } from './default-model';
import { formatCount, formatDuration, ProgressLine } from './progress';
import { Interrupt, Interrupted, Io, LoadedModel } from './runtime';

export interface WorkspaceRead {
  /** A fork of the workspace stream, for the question or the completion. */
  sessionId: string;
  tokens: number;
  files: number;
  /** Drops the fork and saves the log. */
  close(): Promise<void>;
}

export interface ReadOptions {
  budget: number;
  nCtx: number;
  /** Paths relative to `dir` kept out of the context (the file being completed). */
  exclude?: string[];
}

// One saved context per repository and model; the log fits a save made under
// another budget to the current one when it reopens it.
function storageFor(dir: string, modelPath: string): FolderStorage {
  const key = createHash('sha256').update(`${path.resolve(dir)}\n${path.resolve(modelPath)}`).digest('hex').slice(0, 16);
  const folder = path.join(cacheDir(), 'contexts', key);
  fs.mkdirSync(folder, { recursive: true });
  return new FolderStorage(folder);
}

function describe(s: ContextStatus, dir: string): string {
  const skipped = Object.values(s.skipped).reduce((a, b) => a + (b ?? 0), 0);
  const parts = [`${formatCount(s.files)} files in context from ${path.resolve(dir)}`];
  if (skipped > 0) parts.push(`skipped ${formatCount(skipped)}: binary, huge, generated, ignored or secret`);
  if (s.filesLeftOut > 0) parts.push(`${formatCount(s.filesLeftOut)} left out: they do not fit the ${formatCount(s.budgetTokens)}-token budget (--ctx)`);
  if (s.restore?.reused && s.restore.refit) parts.push(`reused the saved context, fitted to this budget: ${formatCount(s.restore.catchUpTokens ?? 0)} tokens read`);
  else if (s.restore?.reused) parts.push(`reused the saved context, ${formatCount(s.restore.catchUpTokens ?? 0)} tokens read for changes`);
  return parts.join('; ');
}

export async function readWorkspace(m: LoadedModel, dir: string, o: ReadOptions, io: Io, interrupt: Interrupt): Promise<WorkspaceRead> {
  const model = { modelId: m.modelId, path: m.modelPath, info: m.info };
  const port = new ClientEnginePort(m.client, { model: () => model, contextLength: () => o.nCtx });
  const log = new ContextLog(
    {
      fs: new NodeFileSystem(),
      engine: port,
      clock: systemClock,
      folders: [{
        name: path.basename(path.resolve(dir)),
        path: path.resolve(dir),
        ...(o.exclude?.length ? { filesExclude: Object.fromEntries(o.exclude.map((p) => [p, true])) } : {}),
      }],
      storage: storageFor(dir, m.modelPath),
    },
    { budgetTokens: o.budget },
  );
  const line = new ProgressLine(io.stderr);
  const started = Date.now();
  let lastFeed: ProgressEvent | undefined;
  const offProgress = log.onProgress((e) => {
    if (e.phase === 'scan') return;
    if (e.tokensTotal > 0) lastFeed = e;
    line.update({ label: `reading ${formatCount(e.filesTotal)} files`, done: e.tokensDone, total: Math.max(e.tokensTotal, 1), unit: 'tokens', elapsedMs: Date.now() - started, rate: e.tokensPerSecond });
  });
  // Ctrl-C ends the read at once; the log is disposed without saving (what was
  // fed is lost, what was saved before stays valid).
  let stop: { dispose(): void } | undefined;
  const interrupted = new Promise<never>((_, reject) => {
    stop = interrupt.token.onCancellationRequested(() => reject(new Interrupted()));
  });
  try {
    interrupt.check();
    await Promise.race([log.start(), interrupted]);
  } catch (e) {
    line.clear();
    await log.dispose({ save: false });
    throw e;
  } finally {
    stop?.dispose();
    offProgress();
  }
  const status = log.status();
  if (lastFeed) {
    line.done({ label: `reading ${formatCount(lastFeed.filesTotal)} files`, done: lastFeed.tokensTotal, total: lastFeed.tokensTotal, unit: 'tokens', elapsedMs: Date.now() - started, rate: lastFeed.tokensPerSecond });
  }
  io.stderr.write(`${describe(status, dir)} (${formatCount(status.tokensInContext)} tokens, ${formatDuration(Date.now() - started)})\n`);
  const fork = await log.forkForQuery();
  return {
    sessionId: fork.session,
    tokens: fork.nPast,
    files: status.files,
    close: async () => {
      await fork.drop();
      await log.dispose({ save: true });
    },
  };
}
