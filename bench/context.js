#!/usr/bin/env node
// npm run bench:context — the whole-workspace context log on generated
// workspaces (not a test). Counting only: the engine is the FakeEngine with a
// real greedy World tokenizer (../shared/vocab), so token counts are real but
// no model runs; feeding a real repository through the real engine comes with
// the engine adapter. Every figure is printed beside a baseline measured in
// the same run (plain walk + read of the same files; the edited file's own
// tokens for re-feed costs).
//   node bench/context.js [--files 2000,10000] [--keep] [--no-real] [--real-ctx 32768]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = (p) => path.join(root, 'out', 'src', 'core', p);
if (!fs.existsSync(out('context/contextLog.js'))) {
  console.error('build first: npx tsc -p .');
  process.exit(1);
}
const { ContextLog } = require(out('context/contextLog.js'));
const { FakeEngine } = require(out('context/fakeEngine.js'));
const { FolderStorage } = require(out('context/nodeStorage.js'));
const { systemClock } = require(out('context/systemClock.js'));
const { WorldTokenizer } = require(out('tokenizer/worldTokenizer.js'));
const { Discovery } = require(out('workspace/discovery.js'));
const { NodeFileSystem } = require(out('workspace/nodeFs.js'));
const { SyntaxOutliner } = require(out('syntax/outline.js'));

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const SIZES = arg('files', '2000,10000') === 'none' ? [] : arg('files', '2000,10000').split(',').map(Number);
const KEEP = args.includes('--keep');

// ------------------------------------------------------------ workspace

function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = 'value index result count buffer token session update context stream segment offset length state model window query cache parse render handle event error config option'.split(' ');

function tsFile(r, name, lines) {
  let s = `// ${name}: generated for the context benchmark.\nimport { helper } from './util';\n\n`;
  let i = 0;
  while (i < lines) {
    const fn = `${WORDS[Math.floor(r() * WORDS.length)]}${i}`;
    s += `/** Computes the ${WORDS[Math.floor(r() * WORDS.length)]} of a ${WORDS[Math.floor(r() * WORDS.length)]}. */\n`;
    s += `export function ${fn}(input: number[], limit = ${Math.floor(r() * 100)}): number {\n`;
    const body = 2 + Math.floor(r() * 8);
    for (let k = 0; k < body; k++) s += `  const ${WORDS[k % WORDS.length]}${k} = helper(input[${k}] ?? 0) * ${Math.floor(r() * 1000)};\n`;
    s += `  return Math.min(limit, ${WORDS[0]}0);\n}\n\n`;
    i += body + 5;
  }
  return s;
}

function pyFile(r, name, lines) {
  let s = `"""${name}: generated for the context benchmark."""\nfrom .util import helper\n\n`;
  for (let i = 0; i < lines; i += 6) {
    s += `def ${WORDS[Math.floor(r() * WORDS.length)]}_${i}(items, limit=${Math.floor(r() * 50)}):\n`;
    s += `    """Return the ${WORDS[Math.floor(r() * WORDS.length)]} of items."""\n    total = 0\n`;
    s += `    for item in items:\n        total += helper(item) * ${Math.floor(r() * 100)}\n    return min(total, limit)\n\n`;
  }
  return s;
}

function mdFile(r, name, paras) {
  let s = `# ${name}\n\n`;
  for (let i = 0; i < paras; i++) {
    s += Array.from({ length: 40 }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' ') + '.\n\n';
  }
  return s;
}

/** n included text files in nested folders, plus what discovery must skip. */
function generate(dir, n) {
  fs.rmSync(dir, { recursive: true, force: true });
  const r = rng(n);
  const write = (rel, text) => {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  };
  write('.gitignore', 'node_modules/\nbuild/\n*.log\n');
  write('README.md', mdFile(r, 'Benchmark workspace', 6));
  write('package.json', JSON.stringify({ name: 'bench', version: '1.0.0', dependencies: { left: '1' } }, null, 2) + '\n');
  write('package-lock.json', JSON.stringify({ lockfileVersion: 3, packages: {} }) + '\n');
  let made = 3;
  const packages = Math.max(4, Math.round(n / 250));
  while (made < n) {
    const pkg = `packages/p${Math.floor(r() * packages)}`;
    const sub = ['src', 'src/core', 'src/util', 'test', 'docs'][Math.floor(r() * 5)];
    const idx = made;
    // Sizes spread like real code: mostly 1–6 KB, some larger.
    const lines = Math.floor(20 + Math.pow(r(), 2) * 300);
    let rel, text;
    if (sub === 'docs') { rel = `${pkg}/docs/guide${idx}.md`; text = mdFile(r, `Guide ${idx}`, 2 + Math.floor(lines / 30)); }
    else if (sub === 'test') { rel = `${pkg}/test/mod${idx}.test.ts`; text = tsFile(r, `test ${idx}`, lines / 2); }
    else if (r() < 0.3) { rel = `${pkg}/${sub}/mod${idx}.py`; text = pyFile(r, `mod${idx}`, lines); }
    else { rel = `${pkg}/${sub}/mod${idx}.ts`; text = tsFile(r, `mod${idx}`, lines); }
    write(rel, text);
    made++;
  }
  // A few huge files that get split into parts.
  for (let i = 0; i < Math.max(2, n / 1000); i++) write(`packages/p${packages - 1 - i}/src/huge${i}.ts`, tsFile(r, `huge${i}`, 3000));
  // What must stay out: dependencies, build output, logs, binaries, secrets, bundles.
  for (let i = 0; i < n / 10; i++) write(`node_modules/dep${i % 50}/index${i}.js`, 'module.exports = 1;\n');
  for (let i = 0; i < 20; i++) write(`build/out${i}.js`, 'console.log(1);\n');
  write('debug.log', 'log\n');
  write('assets/logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]));
  write('.env', 'TOKEN=placeholder\n');
  write('packages/p0/dist.min.js', 'var a=' + '1,'.repeat(5000) + '1;\n');
  return { hugeFile: `packages/p${packages - 1}/src/huge0.ts` };
}

// -------------------------------------------------------------- helpers

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const now = () => process.hrtime.bigint();
const fmt = (x, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** Baseline: walk every folder and read every file, no rules at all. */
async function plainWalk(dir) {
  let files = 0;
  let bytes = 0;
  const walk = async (d) => {
    const entries = await fs.promises.readdir(d, { withFileTypes: true });
    await Promise.all(entries.map(async (e) => {
      const p = path.join(d, e.name);
      if (e.isDirectory()) return walk(p);
      const b = await fs.promises.readFile(p);
      files++;
      bytes += b.length;
    }));
  };
  await walk(dir);
  return { files, bytes };
}

function touch(file, marker) {
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.replace(/return Math.min\(limit, /, `return Math.min(limit + ${marker}, `).replace(/return min\(total, limit\)/, `return min(total, limit + ${marker})`));
}

async function editAndMeasure(log, engine, abs) {
  const before = engine.fedTokens;
  const t0 = now();
  log.notify({ type: 'saved', path: abs });
  await log.flush();
  const elapsed = ms(t0);
  const t = log.table();
  const display = path.relative(log._root, abs).split(path.sep).join('/');
  const live = t.segs.filter((s) => s.path === display && !s.stale && s.kind === 'file');
  const fileTokens = live.reduce((n, s) => n + s.tokens, 0);
  const last = t.segs[t.segs.length - 1];
  return { fed: engine.fedTokens - before, fileTokens, partTokens: last.tokens, refed: log.status().lastUpdate?.refedTokens ?? 0, ms: elapsed };
}

// ------------------------------------------------------------------ run

async function main() {
  const vocab = path.resolve(root, '..', 'shared', 'vocab', 'rwkv_vocab_v20230424.txt');
  if (!fs.existsSync(vocab)) {
    console.error(`no World vocabulary at ${vocab}`);
    process.exit(1);
  }
  let t0 = now();
  const tokenizer = WorldTokenizer.fromFile(vocab);
  const vocabMs = ms(t0);
  const outliner = await SyntaxOutliner.create();
  console.log(`date: ${new Date().toISOString()}  node ${process.version}  cpu: ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}  mem ${fmt(os.totalmem() / 2 ** 30, 1)} GiB  load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`World vocabulary loaded in ${fmt(vocabMs)} ms (${tokenizer.vocabSize} tokens); tree-sitter ${outliner.available ? 'on' : 'off'}`);
  const results = [];
  for (const n of SIZES) {
    const dir = path.join(os.tmpdir(), `rwkvx-bench-context-${n}`);
    const store = path.join(os.tmpdir(), `rwkvx-bench-context-${n}-store`);
    fs.rmSync(store, { recursive: true, force: true });
    const { hugeFile } = generate(dir, n);
    if (args.includes('--generate-only')) { console.log(`generated ${dir}`); continue; }
    const folders = [{ name: 'bench', path: dir, filesExclude: { '**/.DS_Store': true } }];

    // Baseline and scan, each twice; the second (warm cache) run counts.
    let base, baseMs, report, scanMs;
    for (let i = 0; i < 2; i++) {
      t0 = now(); base = await plainWalk(dir); baseMs = ms(t0);
      t0 = now(); report = await new Discovery(new NodeFileSystem(), folders).scan(); scanMs = ms(t0);
    }
    t0 = now();
    let tokens = 0;
    for (const f of report.included) tokens += tokenizer.count(f.text);
    const tokMs = ms(t0);

    // The context log over a counting engine: build, edits, compaction, reopen.
    const engine = new FakeEngine({ tokenizer, contextLength: 1 << 26, chunk: 1 << 16 });
    const mk = (eng) => {
      const l = new ContextLog({ fs: new NodeFileSystem(), engine: eng, clock: systemClock, folders, storage: new FolderStorage(store) }, {
        outliner, budgetTokens: 1 << 26, reserveShare: 0.05, idleCompactMs: 0, staleThreshold: 1, saveDebounceMs: 1e9,
      });
      l._root = dir;
      return l;
    };
    const log = mk(engine);
    t0 = now();
    await log.start();
    const buildMs = ms(t0);
    const st = log.status();

    // Edits, chosen by position in the stream: the first at 40 % (edited twice:
    // the second time it is the hot tail's last file), a cold one at 60 %.
    const code = log.table().segs.filter((x) => x.kind === 'file' && x.part === 0 && /\.(ts|py)$/.test(x.path));
    const at = (share) => path.join(dir, code[Math.floor(code.length * share)].path);
    const hotFile = at(0.4);
    touch(hotFile, 1);
    await editAndMeasure(log, engine, hotFile); // now it is hot
    touch(hotFile, 2);
    const hot = await editAndMeasure(log, engine, hotFile);
    const cold = at(0.6);
    touch(cold, 3);
    const coldEdit = await editAndMeasure(log, engine, cold);
    // The first file again: hot, but the cold file's new copy follows it now.
    touch(hotFile, 5);
    const hotFollowed = await editAndMeasure(log, engine, hotFile);
    const huge = path.join(dir, hugeFile);
    touch(huge, 4);
    const hugeEdit = await editAndMeasure(log, engine, huge);

    t0 = now();
    const fedBefore = engine.fedTokens;
    await log.compactNow();
    await log.flush();
    const compactMs = ms(t0);
    const compact = log.status().lastBuild;
    const compactFed = engine.fedTokens - fedBefore;

    t0 = now();
    await log.save();
    const saveMs = ms(t0);
    const tokensInContext = log.status().tokensInContext;
    await log.dispose({ save: false });

    const engine2 = new FakeEngine({ tokenizer, contextLength: 1 << 26, chunk: 1 << 16 });
    const log2 = mk(engine2);
    t0 = now();
    await log2.start();
    const reopenMs = ms(t0);
    const reopen = { fed: engine2.fedTokens, tokenized: engine2.tokenizeCalls, reused: log2.status().restore?.reused };
    await log2.dispose({ save: false });

    const r = {
      files: n, included: report.included.length, skipped: report.skipped.length, mb: report.bytes / 1e6,
      baseMs, baseFiles: base.files, scanMs, tokens, tokMs, buildMs, streamTokens: st.tokensInContext, segments: st.segments,
      hot, hotFollowed, cold: coldEdit, huge: hugeEdit, compactMs, compactFed, compactReused: compact?.reusedTokens ?? 0,
      saveMs, reopenMs, reopen, tokensInContext,
    };
    results.push(r);
    console.log(`\n== ${fmt(n)} files (${fmt(r.included)} included, ${fmt(r.skipped)} skipped entries, ${fmt(r.mb, 1)} MB of text)`);
    console.log(`scan (rules, sniffing, hashing): ${fmt(scanMs)} ms; baseline plain walk + read of all ${fmt(base.files)} files: ${fmt(baseMs)} ms; ratio ${fmt(scanMs / baseMs, 2)}`);
    console.log(`tokens (World, greedy): ${fmt(tokens)} in ${fmt(tokMs)} ms (${fmt(r.mb / (tokMs / 1000), 1)} MB/s); stream with headers: ${fmt(st.tokensInContext)} tokens in ${fmt(st.segments)} segments`);
    console.log(`first build through the counting engine: ${fmt(buildMs)} ms (scan + order + split + tokenize + feed bookkeeping)`);
    console.log(`hot edit (last file of the tail): fed ${fmt(hot.fed)} tokens for a ${fmt(hot.fileTokens)}-token file (ratio ${fmt(hot.fed / hot.fileTokens, 3)}), ${fmt(hot.ms)} ms to current`);
    console.log(`hot edit of a file others follow: fed ${fmt(hotFollowed.fed)} tokens for a ${fmt(hotFollowed.fileTokens)}-token file (ratio ${fmt(hotFollowed.fed / hotFollowed.fileTokens, 3)}; re-fed followers ${fmt(hotFollowed.refed)}), ${fmt(hotFollowed.ms)} ms`);
    console.log(`cold edit: fed ${fmt(coldEdit.fed)} tokens for a ${fmt(coldEdit.fileTokens)}-token file (ratio ${fmt(coldEdit.fed / coldEdit.fileTokens, 3)}), ${fmt(coldEdit.ms)} ms to current`);
    console.log(`cold edit of a huge split file: fed ${fmt(hugeEdit.fed)} tokens (one part) of ${fmt(hugeEdit.fileTokens)} (ratio ${fmt(hugeEdit.fed / hugeEdit.fileTokens, 3)}), ${fmt(hugeEdit.ms)} ms`);
    console.log(`compaction (first stale copy at 40 % of the stream): ${fmt(compactMs)} ms, fed ${fmt(compactFed)}, reused ${fmt(r.compactReused)} of ${fmt(tokensInContext)} tokens (${fmt(100 * r.compactReused / tokensInContext, 1)} %)`);
    console.log(`save: ${fmt(saveMs)} ms; reopen: ${fmt(reopenMs)} ms, fed ${fmt(reopen.fed)} tokens, tokenized ${reopen.tokenized} texts, reused ${reopen.reused}`);
    if (!KEEP) { fs.rmSync(dir, { recursive: true, force: true }); fs.rmSync(store, { recursive: true, force: true }); }
  }
  const real = args.includes('--no-real') ? null : await realEngine(outliner);
  console.log('\nJSON ' + JSON.stringify({ generated: results, real }));
}

// ------------------------------------------------- real engine, tiny model

/**
 * This repository (its tracked files, copied so edits touch only the copy)
 * fed through the real engine process and the CLI's EnginePort adapter, on the
 * tiny RWKV-X test model converted from test/fixtures/models.
 */
async function realEngine(outliner) {
  const addonPath = path.join(root, 'native', 'build', 'Release', 'rwkvx.node');
  const clientJs = path.join(root, 'out', 'src', 'engine', 'client', 'index.js');
  const portJs = path.join(root, 'out', 'src', 'cli', 'context-engine.js');
  if (!fs.existsSync(addonPath) || !fs.existsSync(clientJs) || !fs.existsSync(portJs)) {
    console.log('\n== real engine: skipped (needs native/build/Release/rwkvx.node and the compiled engine client)');
    return null;
  }
  const { EngineClient } = require(clientJs);
  const { ClientEnginePort } = require(portJs);
  const { execFileSync } = require('node:child_process');
  const nCtx = Number(arg('real-ctx', '32768'));
  const repo = path.join(os.tmpdir(), 'rwkvx-bench-context-repo');
  const store = path.join(os.tmpdir(), 'rwkvx-bench-context-repo-store');
  const models = path.join(os.tmpdir(), 'rwkvx-bench-context-models');
  for (const d of [repo, store, models]) fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(models, { recursive: true });
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root }).toString().split('\0').filter(Boolean);
  for (const rel of tracked) {
    const src = path.join(root, rel);
    let st;
    try { st = fs.lstatSync(src); } catch { continue; }
    if (!st.isFile()) continue;
    fs.mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
    fs.copyFileSync(src, path.join(repo, rel));
  }
  const client = new EngineClient();
  try {
    await client.start();
    const gguf = path.join(models, 'rwkvx-tiny.gguf');
    const fixtures = path.join(root, 'test', 'fixtures', 'models');
    await client.convert({ input: path.join(fixtures, 'rwkvx-tiny-bf16.pth'), output: gguf, vocab: path.join(fixtures, 'tiny-vocab.txt'), type: 'f16' });
    const loaded = await client.loadModel({ path: gguf, device: 'cpu' });
    const port = new ClientEnginePort(client, { modelId: loaded.modelId, path: gguf, info: loaded.info }, nCtx);
    const mk = () => new ContextLog({ fs: new NodeFileSystem(), engine: port, clock: systemClock, folders: [{ name: 'rwkvx-code', path: repo }], storage: new FolderStorage(store) }, {
      outliner, budgetTokens: nCtx, idleCompactMs: 0, staleThreshold: 1, saveDebounceMs: 1e9,
    });
    const log = mk();
    let lastBuild;
    log.onProgress((e) => { if (e.phase === 'build' || e.phase === 'compact') lastBuild = e; });
    let t0 = now();
    await log.start();
    const buildMs = ms(t0);
    const buildProgress = lastBuild;
    const st = log.status();
    const report = log.report();
    const code = log.table().segs.filter((x) => x.kind === 'file' && x.part === 0 && /\.(ts|js|cc|h|cpp|py)$/.test(x.path));
    const pick = (share) => path.join(repo, code[Math.floor(code.length * share)].path);
    const editReal = async (file, marker) => {
      fs.appendFileSync(file, `\n// bench edit ${marker}\n`);
      const t = now();
      log.notify({ type: 'saved', path: file });
      await log.flush();
      const u = log.status().lastUpdate;
      const display = path.relative(repo, file).split(path.sep).join('/');
      const fileTokens = log.table().segs.filter((x) => x.path === display && !x.stale && x.kind === 'file').reduce((n, x) => n + x.tokens, 0);
      return { ms: ms(t), fed: u.refedTokens + u.newTokens, refed: u.refedTokens, fileTokens };
    };
    const hotFile = pick(0.4);
    await editReal(hotFile, 1);
    const hot = await editReal(hotFile, 2);
    const cold = await editReal(pick(0.6), 3);
    t0 = now();
    await log.compactNow();
    await log.flush();
    const compactMs = ms(t0);
    const compact = log.status().lastBuild;
    t0 = now();
    await log.save();
    const saveMs = ms(t0);
    const saveBytes = log.status().lastSave?.bytes ?? 0;
    await log.dispose({ save: false });
    const log2 = mk();
    t0 = now();
    await log2.start();
    const reopenMs = ms(t0);
    const restore = log2.status().restore;
    await log2.dispose({ save: false });
    const r = {
      model: `${loaded.info.architecture} ${loaded.info.name || 'tiny'} (${loaded.info.nParams} params, vocab ${loaded.info.nVocab}) on ${loaded.info.device}`,
      files: report.included.length, leftOut: st.filesLeftOut, skipped: report.skipped.length, tokens: st.tokensInContext, nCtx,
      buildMs, ingestTokPerSec: buildProgress?.tokensPerSecond ?? 0, hot, cold, compactMs, compact, saveMs, saveBytes, reopenMs, restore,
    };
    console.log(`\n== real engine: this repository (${fmt(tracked.length)} tracked files) on ${r.model}`);
    console.log(`stream: ${fmt(r.tokens)} tokens of ${fmt(nCtx)} budget, ${fmt(r.files)} files in, ${fmt(r.leftOut)} left out by the budget, ${fmt(r.skipped)} skipped entries`);
    console.log(`first build: ${fmt(buildMs)} ms, ingest ${fmt(r.ingestTokPerSec)} tok/s`);
    console.log(`hot edit: fed ${fmt(hot.fed)} for a ${fmt(hot.fileTokens)}-token file (ratio ${fmt(hot.fed / hot.fileTokens, 3)}), ${fmt(hot.ms)} ms to current`);
    console.log(`cold edit: fed ${fmt(cold.fed)} for a ${fmt(cold.fileTokens)}-token file (ratio ${fmt(cold.fed / cold.fileTokens, 3)}), ${fmt(cold.ms)} ms to current`);
    console.log(`compaction: ${fmt(compactMs)} ms, reused ${fmt(compact.reusedTokens)}, fed ${fmt(compact.fedTokens)}`);
    console.log(`save: ${fmt(saveMs)} ms (${fmt(saveBytes / 1e6, 1)} MB); reopen: ${fmt(reopenMs)} ms, reused ${restore.reused}, fed ${fmt(restore.catchUpTokens ?? 0)} (load ${fmt(restore.loadMs ?? 0)} ms, check ${fmt(restore.catchUpMs ?? 0)} ms)`);
    return r;
  } finally {
    await client.dispose();
    if (!KEEP) for (const d of [repo, store, models]) fs.rmSync(d, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
