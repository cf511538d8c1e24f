// Property: after any sequence of edits, creates, deletes, renames, unsaved
// changes and folder operations, what the engine has read equals a fresh
// stream of the current files (stale copies accounted for); after a
// compaction it equals a fresh stream token for token.
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { ContextOptions } from '../../../src/core/context/contextLog';
import { assertMatchesFresh, openLog } from './helpers';
import { makeWorkspace, removeFile, sourceFile, writeFile } from './workspaceGen';

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OPTIONS: ContextOptions = {
  hotTailTokens: 700,
  maxColdCheckpoints: 2,
  minCheckpointSpacing: 1,
  staleThreshold: 0.35,
  split: { splitAboveBytes: 2048, targetPartBytes: 900, maxPartBytes: 1800 },
};

function doc(n: number, seed: number): string {
  return Array.from({ length: 40 }, (_, i) => `Heading ${i}\n  text ${(i * seed + n) % 17} of doc ${n}\n`).join('\n');
}

for (const seed of (process.env.PROPERTY_SEEDS ? Array.from({ length: Number(process.env.PROPERTY_SEEDS) }, (_, i) => i + 1) : [1, 2, 3, 4, 5, 6])) {
  test(`property: random edits keep the stream equal to a fresh one (seed ${seed})`, async () => {
    const rand = rng(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
    const files = new Map<string, string>();
    const initial: Record<string, string> = { 'README.md': '# Property\n', 'package.json': '{}\n' };
    for (let i = 0; i < 8; i++) initial[`src/m${i}.ts`] = sourceFile(`m${i}`, 3 + (i % 4));
    initial['docs/big.md'] = doc(0, 1);
    const root = makeWorkspace(initial);
    for (const [k, v] of Object.entries(initial)) files.set(k, v);
    const overlays = new Map<string, string>();
    const h = await openLog([{ name: 'ws', path: root }], OPTIONS);
    let made = 100;
    const log: string[] = [];
    for (let step = 0; step < 36; step++) {
      const r = rand();
      const existing = [...files.keys()];
      if (r < 0.35 && existing.length) {
        const f = pick(existing);
        const text = f.endsWith('.md') ? doc(step, seed + step) : sourceFile(`m${step}`, 2 + Math.floor(rand() * 6), step);
        files.set(f, text);
        overlays.delete(path.join(root, f));
        h.log.notify({ type: 'saved', path: writeFile(root, f, text, Date.now()) });
        log.push(`save ${f}`);
      } else if (r < 0.45) {
        const f = `src/new${made++}.ts`;
        files.set(f, sourceFile(f, 3));
        h.log.notify({ type: 'created', path: writeFile(root, f, files.get(f)!, Date.now()) });
        log.push(`create ${f}`);
      } else if (r < 0.55 && existing.length > 3) {
        const f = pick(existing);
        files.delete(f);
        overlays.delete(path.join(root, f));
        h.log.notify({ type: 'deleted', path: removeFile(root, f) });
        log.push(`delete ${f}`);
      } else if (r < 0.65 && existing.length) {
        const f = pick(existing);
        const to = f.replace(/(\.\w+)$/, `_r${made++}$1`);
        renameSync(path.join(root, f), path.join(root, to));
        files.set(to, files.get(f)!);
        files.delete(f);
        const o = overlays.get(path.join(root, f));
        overlays.delete(path.join(root, f));
        if (o !== undefined) overlays.set(path.join(root, to), o);
        h.log.notify({ type: 'renamed', from: path.join(root, f), to: path.join(root, to) });
        log.push(`rename ${f} ${to}`);
      } else if (r < 0.78 && existing.length) {
        const f = pick(existing.filter((x) => x.endsWith('.ts')).concat(existing).slice(0, 6));
        const text = `// unsaved ${step}\n` + (files.get(f) ?? '');
        overlays.set(path.join(root, f), text);
        h.log.notify({ type: 'changed', path: path.join(root, f), text });
        log.push(`type ${f}`);
      } else if (r < 0.84 && overlays.size) {
        const p = pick([...overlays.keys()]);
        overlays.delete(p);
        h.log.notify({ type: 'discarded', path: p });
        log.push(`discard ${p}`);
      } else if (r < 0.9) {
        const dir = `pkg${made++}`;
        for (const n of ['x', 'y']) {
          files.set(`${dir}/${n}.ts`, sourceFile(`${dir}${n}`, 2));
          writeFile(root, `${dir}/${n}.ts`, files.get(`${dir}/${n}.ts`)!, Date.now());
        }
        h.log.notify({ type: 'created', path: path.join(root, dir) });
        log.push(`mkdir ${dir}`);
      } else if (r < 0.94) {
        const dirs = [...new Set(existing.filter((f) => f.startsWith('pkg')).map((f) => f.split('/')[0]))];
        if (dirs.length) {
          const d = pick(dirs);
          for (const f of existing) if (f.startsWith(d + '/')) { files.delete(f); overlays.delete(path.join(root, f)); }
          h.log.notify({ type: 'deleted', path: removeFile(root, d) });
          log.push(`rmdir ${d}`);
        }
      } else {
        void h.log.compactNow();
        log.push('compact');
      }
      // Sometimes let several events pile up into one batch.
      if (rand() < 0.6) {
        h.clock.advance(Math.floor(rand() * 1200));
        await h.log.flush();
        assert.notEqual(h.log.status().state, 'error', `${h.log.status().error} after ${log.join('; ')}`);
        try {
          await assertMatchesFresh(h, OPTIONS, overlays);
        } catch (e) {
          const t = h.log.table()!;
          const segs = t.segs.map((x) => `${x.stale ? '~' : ''}${x.header[0]}:${x.path}${x.part ? '#' + x.part : ''}`).join(' ');
          (e as Error).message += `\nafter: ${log.join('; ')}\ntable (hot from ${t.hotStart}): ${segs}`;
          throw e;
        }
      }
    }
    await h.log.flush();
    await assertMatchesFresh(h, OPTIONS, overlays);
    // Once compacted, the stream is a fresh stream, token for token.
    await h.log.compactNow();
    await h.log.flush();
    const fresh = await openLog(h.folders, { ...OPTIONS, recentEdits: [...h.log.recent()] }, { clock: h.clock, overlays });
    assert.deepEqual(h.engine.tokensOf(h.log.sessionId()!), fresh.engine.tokensOf(fresh.log.sessionId()!));
    await fresh.log.dispose();
    await h.log.dispose();
    assert.equal(h.engine.liveSessions, 0, 'no session leaked');
    assert.equal(h.engine.liveSnapshots, 0, 'no snapshot leaked');
  });
}
