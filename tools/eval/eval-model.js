#!/usr/bin/env node
// npm run eval:model — evaluation of the embedded model (issue 7) on the CPU
// with the project's engine: bits per byte on the validation repositories,
// passkey retrieval at 1K/4K/16K/64K tokens (greedy answer; and whether the
// true key is the likeliest of 10 candidates), and cross-file identifier
// completion with the repository in context vs. the current file only (and a
// control without the defining files).
// Prints a markdown table (stdout; progress goes to stderr) and, with --out,
// writes everything as JSON. Deterministic for a given --seed.
//
//   npm run eval:model -- [--models a.gguf,b.gguf] [--out FILE.json] [--quick]
//     [--corpus DIR] [--threads N] [--seed N] [--only bpb,passkey,xfile]
//     [--bpb-windows 64] [--bpb-every 8] [--bpb-len 2048]
//     [--passkey-lengths 1024,4096,16384,65536] [--passkey-depths 0.1,0.5,0.9] [--passkey-trials 4,4,2,1]
//     [--passkey-candidates 10] [--passkey-form sentence|code]
//     [--xfile-budget 16384] [--xfile-files 16] [--xfile-positions 4] [--xfile-prefix 2048]
//     [--xfile-def-max 4096] [--xfile-min-length 4] [--xfile-max-tokens 16]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { readValRepos } = require('./corpus');
const { loadAddon, Runner } = require('./engine');
const { measureBpb } = require('./bpb');
const { measurePasskey } = require('./passkey');
const { measureCrossFile } = require('./crossfile');
const { PASSKEY_FORMS, filePiece, markdownTable } = require('./helpers');

const root = path.resolve(__dirname, '..', '..');
const DEFAULT_MODELS = ['media/models/default.gguf'];
// the twin of the shipped model (the ablation), then both stage-1 models, where converted locally (docs/model.md)
const OPTIONAL_MODELS = ['.tmp/models/rwkv7-s2b-q8_0.gguf', '.tmp/models/rwkvx-s1-q8_0.gguf', '.tmp/models/rwkv7-s1-q8_0.gguf'];

const DEFAULTS = {
  corpus: path.join(root, '..', 'shared', 'corpus'),
  threads: 0,
  seed: 1,
  only: 'bpb,passkey,xfile',
  'bpb-windows': 64,
  'bpb-every': 8,
  'bpb-len': 2048,
  'passkey-lengths': '1024,4096,16384,65536',
  'passkey-depths': '0.1,0.5,0.9',
  'passkey-trials': '4,4,2,1',
  'passkey-candidates': 10,
  'passkey-form': 'sentence',
  'xfile-budget': 16384,
  'xfile-files': 16,
  'xfile-positions': 4,
  'xfile-prefix': 2048,
  'xfile-def-max': 4096,
  'xfile-min-length': 4,
  'xfile-max-tokens': 16,
};

// About two minutes on two cores for the three models: a smoke test of every path.
const QUICK = {
  'bpb-windows': 64,
  'bpb-every': 32,
  'bpb-len': 512,
  'passkey-lengths': '1024,4096',
  'passkey-depths': '0.5',
  'passkey-trials': '1,1',
  'xfile-budget': 2048,
  'xfile-files': 2,
  'xfile-positions': 2,
  'xfile-prefix': 512,
};

const USAGE = `usage: npm run eval:model -- [--models a.gguf,b.gguf] [--out FILE.json] [--quick] [options]
options (defaults): ${Object.entries(DEFAULTS)
  .map(([k, v]) => `--${k} ${k === 'corpus' ? '../shared/corpus' : v}`)
  .join(' ')}`;

function parseArgs(argv) {
  const a = { ...DEFAULTS, models: null, out: null, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--quick') a.quick = true;
    else if (k === '--help' || k === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (k.startsWith('--') && i + 1 < argv.length && (k.slice(2) in a)) a[k.slice(2)] = argv[++i];
    else throw new Error(`unknown or incomplete argument ${k}\n${USAGE}`);
  }
  if (a.quick) for (const [k, v] of Object.entries(QUICK)) if (!argv.includes(`--${k}`)) a[k] = v;
  const int = (k) => {
    const n = Number(a[k]);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${k} needs a whole number, got ${a[k]}`);
    return n;
  };
  const list = (k, f = Number) => String(a[k]).split(',').filter(Boolean).map(f);
  const only = new Set(list('only', String));
  for (const m of only) if (!['bpb', 'passkey', 'xfile'].includes(m)) throw new Error(`--only takes bpb, passkey, xfile; got ${m}`);
  const lengths = list('passkey-lengths');
  let trials = list('passkey-trials');
  if (trials.length === 1) trials = lengths.map(() => trials[0]);
  if (trials.length !== lengths.length) throw new Error('--passkey-trials needs one count, or one per length');
  const form = String(a['passkey-form']);
  if (!Object.hasOwn(PASSKEY_FORMS, form)) throw new Error(`--passkey-form takes ${Object.keys(PASSKEY_FORMS).join(', ')}; got ${form}`);
  return {
    models: a.models,
    out: a.out,
    quick: a.quick,
    corpus: path.resolve(a.corpus),
    threads: int('threads'),
    seed: int('seed'),
    only,
    bpb: { windows: int('bpb-windows'), every: Math.max(1, int('bpb-every')), seqLen: int('bpb-len') },
    passkey: { lengths, depths: list('passkey-depths'), trials, candidates: Math.max(2, int('passkey-candidates')), form, seed: int('seed') },
    xfile: {
      budget: int('xfile-budget'),
      files: int('xfile-files'),
      positions: int('xfile-positions'),
      maxPrefixTokens: int('xfile-prefix'),
      maxDefTokens: int('xfile-def-max'),
      minLength: int('xfile-min-length'),
      maxTokens: int('xfile-max-tokens'),
      seed: int('seed'),
    },
  };
}

function resolveModels(arg) {
  if (arg) {
    const list = arg.split(',').filter(Boolean).map((p) => path.resolve(p));
    for (const p of list) if (!fs.existsSync(p)) throw new Error(`model not found: ${p}`);
    return { models: list, skipped: [] };
  }
  const models = [];
  const skipped = [];
  for (const rel of DEFAULT_MODELS) {
    const p = path.join(root, rel);
    if (!fs.existsSync(p)) throw new Error(`the embedded model is missing: ${p}`);
    models.push(p);
  }
  for (const rel of OPTIONAL_MODELS) {
    if (fs.existsSync(path.join(root, rel))) models.push(path.join(root, rel));
    else skipped.push(rel);
  }
  return { models, skipped };
}

const log = (s) => process.stderr.write(`${s}\n`);
const secs = (t0) => (Date.now() - t0) / 1000;

/** Each repository's files tokenized as pieces, and the validation stream (token 0 after each repository). */
function tokenizeRepos(runner, repos) {
  const out = repos.map((r) => ({
    repo: r.repo,
    files: r.files.map((f) => ({ ...f, tokens: runner.tokenize(filePiece(f.path, f.text)) })),
  }));
  let n = 0;
  for (const r of out) n += r.files.reduce((s, f) => s + f.tokens.length, 0) + 1;
  const stream = new Int32Array(n);
  let o = 0;
  for (const r of out) {
    for (const f of r.files) {
      stream.set(f.tokens, o);
      o += f.tokens.length;
    }
    stream[o++] = 0;
  }
  return { repos: out, stream };
}

async function evalModel(addon, file, repos, cfg) {
  const t0 = Date.now();
  const model = await addon.loadModel(file, { device: 'cpu', threads: cfg.threads });
  try {
    const runner = new Runner(model);
    const info = runner.info;
    log(`${info.name} (${path.relative(root, file)}): ${info.architecture}, ${info.nParams} parameters, ${info.device}`);
    const t1 = Date.now();
    const data = tokenizeRepos(runner, repos);
    log(`  tokenized the validation repositories: ${data.stream.length} tokens in ${secs(t1).toFixed(1)} s`);
    const result = { name: info.name, file: path.relative(root, file), architecture: info.architecture, params: info.nParams, device: info.device, valTokens: data.stream.length };
    const timed = async (key, fn) => {
      const t = Date.now();
      const before = runner.tokens;
      result[key] = await fn();
      result[key].seconds = +secs(t).toFixed(1);
      result[key].tokensRead = runner.tokens - before;
    };
    if (cfg.only.has('bpb')) await timed('bpb', () => measureBpb(runner, data.stream, cfg.bpb, log));
    if (cfg.only.has('passkey')) await timed('passkey', () => measurePasskey(runner, data.repos, cfg.passkey, log));
    if (cfg.only.has('xfile')) await timed('xfile', () => measureCrossFile(runner, data.repos, cfg.xfile, log));
    result.tokensRead = runner.tokens;
    result.seconds = +secs(t0).toFixed(1);
    return result;
  } finally {
    model.dispose();
  }
}

const pct = (k, n) => (n > 0 ? `${((100 * k) / n).toFixed(1)}% (${k}/${n})` : '–');
const kTokens = (n) => (n % 1024 === 0 ? `${n / 1024}K` : String(n));

function table(results, cfg) {
  const rows = [];
  const row = (label, f) => rows.push([label, ...results.map((r) => f(r) ?? '–')]);
  if (cfg.only.has('bpb')) {
    const b = results[0].bpb;
    row(`bits per byte (${b.windows} windows × ${b.seqLen} tokens)`, (r) => r.bpb.bitsPerByte.toFixed(4));
    row('nats per token (same windows)', (r) => r.bpb.natsPerToken.toFixed(4));
  }
  if (cfg.only.has('passkey')) {
    const passkey = cfg.passkey.form === 'sentence' ? 'passkey' : `passkey (${cfg.passkey.form} form)`;
    cfg.passkey.lengths.forEach((len, i) => {
      row(`${passkey} at ${kTokens(len)} tokens (depths ${cfg.passkey.depths.join('/')})`, (r) => {
        const x = r.passkey.byLength[i];
        return `${x.correct}/${x.trials}`;
      });
    });
    cfg.passkey.lengths.forEach((len, i) => {
      row(`${passkey} at ${kTokens(len)}, true key the likeliest of ${cfg.passkey.candidates} (chance ${Math.round(100 / cfg.passkey.candidates)}%)`, (r) => {
        const x = r.passkey.byLength[i];
        return `${x.rankedFirst}/${x.trials}`;
      });
    });
  }
  if (cfg.only.has('xfile')) {
    const x = (r) => r.xfile;
    row('cross-file identifier positions', (r) => String(x(r).positions));
    row('exact match (a): repository files in context', (r) => pct(x(r).repoContextCorrect, x(r).positions));
    row('exact match (b): current file only', (r) => pct(x(r).fileOnlyCorrect, x(r).positions));
    row('exact match (c): (a) without the defining files', (r) => pct(x(r).withoutDefinersCorrect, x(r).positions));
    row('right only with (a) / only with (b)', (r) => `${x(r).onlyRepoContextCorrect} / ${x(r).onlyFileOnlyCorrect}`);
    row('identifier bits, mean −log₂ p: (a) / (b) / (c)', (r) => [x(r).repoContextBits, x(r).fileOnlyBits, x(r).withoutDefinersBits].map((v) => v.toFixed(2)).join(' / '));
    row('positions where (a) has fewer bits than (b)', (r) => pct(x(r).repoContextLowerBitsThanFileOnly, x(r).positions));
    row('positions where (a) has fewer bits than (c)', (r) => pct(x(r).repoContextLowerBitsThanWithoutDefiners, x(r).positions));
  }
  row('tokens read', (r) => r.tokensRead.toLocaleString('en-US'));
  row('wall time', (r) => `${Math.round(r.seconds)} s`);
  return markdownTable(['measure', ...results.map((r) => `\`${r.name}\``)], rows, ['l', ...results.map(() => 'r')]);
}

async function main() {
  const cfg = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const { models, skipped } = resolveModels(cfg.models);
  for (const s of skipped) log(`(not found, left out: ${s})`);
  const addon = loadAddon(root);
  log(`reading the validation repositories from ${cfg.corpus}`);
  const repos = await readValRepos(cfg.corpus, log);
  log(`${repos.length} validation repositories: ${repos.map((r) => `${r.repo} (${r.files.length} files)`).join(', ')}`);
  const results = [];
  for (const m of models) results.push(await evalModel(addon, m, repos, cfg));
  const machine = `${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length} threads, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}; engine ${results[0].device}`;
  const date = new Date().toISOString();
  const total = secs(t0);
  const md = [
    table(results, cfg),
    '',
    `Machine: ${machine}. Date: ${date}. Total wall time ${Math.round(total)} s (corpus read included); tokens read ${results.reduce((s, r) => s + r.tokensRead, 0).toLocaleString('en-US')}.`,
    `Validation repositories: ${repos.map((r) => r.repo).join(', ')}; seed ${cfg.seed}${cfg.quick ? '; --quick' : ''}.`,
  ].join('\n');
  console.log(md);
  if (cfg.out) {
    const json = { date, machine, node: process.version, totalSeconds: +total.toFixed(1), config: { ...cfg, only: [...cfg.only] }, valRepos: repos.map((r) => r.repo), models: results, table: md };
    fs.mkdirSync(path.dirname(path.resolve(cfg.out)), { recursive: true });
    fs.writeFileSync(cfg.out, `${JSON.stringify(json, null, 1)}\n`);
    log(`wrote ${cfg.out}`);
  }
}

main().catch((e) => {
  process.stderr.write(`eval:model: ${e.message}\n`);
  process.exit(1);
});
