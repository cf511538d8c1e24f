// The validation repositories of the corpus (../shared/corpus, FORMAT.md),
// read straight from the .xz shards with `xz -dc`; nothing is copied. Only the
// lines of validation repositories are parsed (the repo is the first key).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

const { isValRepo } = require('./helpers');

function shardPaths(corpusDir) {
  if (!fs.existsSync(corpusDir)) throw new Error(`corpus folder not found: ${corpusDir} (give --corpus DIR with shard-*.jsonl.xz)`);
  const shards = fs.readdirSync(corpusDir).filter((n) => /^shard-\d+\.jsonl\.xz$/.test(n)).sort();
  if (shards.length === 0) throw new Error(`no shard-*.jsonl.xz in ${corpusDir}`);
  return shards.map((n) => path.join(corpusDir, n));
}

function checkXz() {
  const r = spawnSync('xz', ['--version'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) throw new Error('the `xz` command is needed to read the corpus (install xz-utils)');
}

/** Records of one shard whose repository passes `keep`, in order. */
async function readShard(file, keep, onRecord) {
  const xz = spawn('xz', ['-dc', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  xz.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve, reject) => {
    xz.on('error', reject);
    xz.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`xz -dc ${file} failed (${code}): ${stderr.trim()}`))));
  });
  const rl = readline.createInterface({ input: xz.stdout, crlfDelay: Infinity });
  const verdict = new Map();
  for await (const line of rl) {
    if (!line) continue;
    const m = /^\{"repo":\s*"([^"\\]*)"/.exec(line);
    let repo = m ? m[1] : null;
    let rec = null;
    if (repo === null) {
      rec = JSON.parse(line);
      repo = rec.repo;
    }
    let ok = verdict.get(repo);
    if (ok === undefined) verdict.set(repo, (ok = keep(repo)));
    if (ok) onRecord(rec ?? JSON.parse(line));
  }
  await exited;
}

/**
 * The validation repositories in corpus order: [{ repo, shard, files: [{ path, lang, text }] }].
 * Records of one repository are contiguous (FORMAT.md).
 */
async function readValRepos(corpusDir, log = () => {}) {
  checkXz();
  const repos = [];
  for (const file of shardPaths(corpusDir)) {
    const t0 = Date.now();
    const before = repos.length;
    await readShard(file, isValRepo, (r) => {
      let cur = repos[repos.length - 1];
      if (!cur || cur.repo !== r.repo) repos.push((cur = { repo: r.repo, shard: path.basename(file), files: [] }));
      cur.files.push({ path: r.path, lang: r.lang, text: r.text });
    });
    log(`${path.basename(file)}: ${repos.length - before} validation repositories (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  if (repos.length === 0) throw new Error(`no validation repository in ${corpusDir}`);
  return repos;
}

module.exports = { readValRepos, shardPaths };
