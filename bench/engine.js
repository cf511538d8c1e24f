#!/usr/bin/env node
// npm run bench:engine — CPU engine benchmark (not a test). Builds the
// standalone engine with CMake if needed, then runs `rwkvx-engine bench`,
// which measures the machine's read bandwidth and FMA peak in the same run and
// prints prefill/decode tok/s with their ratios to those bounds.
// Extra arguments pass through, e.g.:
//   npm run bench:engine -- --shapes 0.1b --types q8_0 --prefill 1024
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const build = path.join(root, 'native', 'build-cmake');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run('cmake', ['-S', 'native', '-B', build, '-DCMAKE_BUILD_TYPE=Release'], { stdio: ['ignore', 'ignore', 'inherit'] });
run('cmake', ['--build', build, '-j', String(Math.min(os.cpus().length, 4)), '--target', 'rwkvx-engine']);
const dir = path.join(os.tmpdir(), 'rwkvx-bench-models');
fs.mkdirSync(dir, { recursive: true });
const extra = process.argv.slice(2);
console.log(`date: ${new Date().toISOString()}  host: ${os.hostname()}  cpu: ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}`);
run(path.join(build, 'rwkvx-engine'), ['bench', '--dir', dir, ...extra]);
