#!/usr/bin/env node
// `npm test`: every test runner of the project, each ending with its own
// pass/fail summary line, then one overall line.
//   node tools/test.js            native + unit + lint + integration
//   node tools/test.js native     engine: cmake build + ctest (no Node involved)
//   node tools/test.js unit       TypeScript: tsc to out/, node --test over out/test/unit
//   node tools/test.js lint       layer lint (tools/check-layers.js)
//   node tools/test.js integration  the extension in a real VS Code (code-server + headless
//                                 Chromium; sets up test/integration on first use)
// Extra arguments after `unit` filter test files by substring (e.g. `unit engine/`).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const jobs = String(Math.min(2, require('os').cpus().length));

function sh(cmd, args, options = {}) {
  process.stdout.write(`$ ${[cmd, ...args].join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (r.error) process.stdout.write(`${r.error.message}\n`);
  return r.status === 0;
}

function native() {
  return (
    sh('cmake', ['-S', 'native', '-B', 'native/build-cmake', '-DCMAKE_BUILD_TYPE=Release']) &&
    sh('cmake', ['--build', 'native/build-cmake', '-j', jobs]) &&
    sh('ctest', ['--test-dir', 'native/build-cmake', '--output-on-failure'])
  );
}

function testFiles(dir, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) testFiles(p, out);
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

/** The addon must exist and be newer than its sources for the engine tests. */
function addonUpToDate() {
  const addon = path.join(root, 'native', 'build', 'Release', 'rwkvx.node');
  if (!fs.existsSync(addon)) return false;
  const built = fs.statSync(addon).mtimeMs;
  const sources = ['native/addon', 'native/src', 'native/include'].flatMap((d) =>
    fs.existsSync(path.join(root, d)) ? fs.readdirSync(path.join(root, d)).map((f) => path.join(root, d, f)) : [],
  );
  return sources.every((f) => fs.statSync(f).mtimeMs <= built);
}

function unit(filters) {
  if (!addonUpToDate() && !sh(process.execPath, ['tools/build.js', 'addon'])) return false;
  fs.rmSync(path.join(root, 'out'), { recursive: true, force: true });
  if (!sh(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', '.'])) return false;
  let files = testFiles(path.join(root, 'out', 'test', 'unit'));
  if (filters.length > 0) files = files.filter((f) => filters.some((s) => toPosix(f).includes(s)));
  if (files.length === 0) {
    process.stdout.write('no unit test files found\n');
    return filters.length > 0;
  }
  // One file at a time: the engine tests fork processes and use both cores.
  return sh(process.execPath, ['--test', '--test-concurrency=1', ...files.map((f) => path.relative(root, f))]);
}

const toPosix = (p) => p.split(path.sep).join('/');

function lint() {
  return sh(process.execPath, ['tools/check-layers.js']);
}

function integration() {
  const harness = path.join(root, 'test', 'integration');
  // The marker is written only after code-server was rebuilt for its Node 24.
  if (!fs.existsSync(path.join(harness, 'node_modules', '.rwkvx-setup-done')) && !sh('npm', ['run', 'setup'], { cwd: harness })) return false;
  return sh(process.execPath, [path.join('test', 'integration', 'run.js')]);
}

const [part, ...rest] = process.argv.slice(2);
const parts = part === undefined ? ['native', 'unit', 'lint', 'integration'] : [part];
const results = [];
for (const p of parts) {
  let ok;
  if (p === 'native') ok = native();
  else if (p === 'unit') ok = unit(rest);
  else if (p === 'lint') ok = lint();
  else if (p === 'integration') ok = integration();
  else {
    process.stderr.write(`usage: node tools/test.js [native|unit|lint|integration] [filters]\n`);
    process.exit(2);
  }
  results.push([p, ok]);
}
const failed = results.filter(([, ok]) => !ok).map(([p]) => p);
process.stdout.write(`\ntest runners: ${results.length - failed.length} passed, ${failed.length} failed${failed.length ? ` (${failed.join(', ')})` : ''}\n`);
process.exit(failed.length === 0 ? 0 : 1);
