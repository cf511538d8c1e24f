#!/usr/bin/env node
// Build steps of the package.
//   node tools/build.js [bundle]  esbuild bundles: dist/cli.js, dist/engine-host.js,
//                                 and dist/extension.js once src/vscode/extension.ts exists
//   node tools/build.js addon     the native addon (node-gyp, native/binding.gyp) into
//                                 native/build/Release/rwkvx.node, using the local Node
//                                 headers when present so nothing is downloaded
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');

function bundle() {
  const esbuild = require('esbuild');
  const entries = [
    { in: 'src/cli/main.ts', out: 'dist/cli.js', external: [] },
    { in: 'src/engine/host/main.ts', out: 'dist/engine-host.js', external: [] },
    { in: 'src/vscode/extension.ts', out: 'dist/extension.js', external: ['vscode'] },
  ].filter((e) => fs.existsSync(path.join(root, e.in)));
  for (const e of entries) {
    esbuild.buildSync({
      absWorkingDir: root,
      entryPoints: [e.in],
      outfile: e.out,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: true,
      external: e.external,
      logLevel: 'warning',
    });
  }
  process.stderr.write(`built ${entries.map((e) => e.out).join(', ')}\n`);
}

/** Folder holding include/node/node_api.h for the running Node, if any. */
function localNodeDir() {
  const candidates = [path.join(path.dirname(process.execPath), '..'), '/usr', '/usr/local'];
  return candidates.map((d) => path.resolve(d)).find((d) => fs.existsSync(path.join(d, 'include', 'node', 'node_api.h')) && fs.existsSync(path.join(d, 'include', 'node', 'common.gypi')));
}

function nodeGyp() {
  // npm puts its bundled node-gyp in npm_config_node_gyp for lifecycle scripts.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) return [process.execPath, fromNpm];
  for (const base of [path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')]) {
    if (fs.existsSync(base)) return [process.execPath, base];
  }
  return ['node-gyp'];
}

function addon() {
  const [cmd, ...pre] = nodeGyp();
  const args = [...pre, 'rebuild', '--directory', 'native', '-j', String(Math.min(2, require('os').cpus().length))];
  const nodedir = localNodeDir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const step = process.argv[2] ?? 'bundle';
if (step === 'bundle') bundle();
else if (step === 'addon') addon();
else {
  process.stderr.write(`usage: node tools/build.js [bundle|addon]\n`);
  process.exit(2);
}
