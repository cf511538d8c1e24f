#!/usr/bin/env node
// `npm run package`: the installable extension, rwkvx-code-<version>-<target>.vsix.
// Stages exactly what the extension needs at run time — the bundles (dist/),
// the native addon (and its CUDA backend where built), the web-tree-sitter
// runtime and grammars, media/ (webview assets, icons, the embedded model),
// syntaxes/ — and runs vsce there with --target, so nothing else (sources,
// tests, node_modules) ends up in the package. Fails above the size limit.
//   node tools/package-vsix.js [--target linux-x64] [--out file.vsix] [--no-build]
// Other targets: build the addon on (or for) that platform, then pass its
// vsce target (win32-x64, darwin-arm64, linux-arm64, …).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
const MAX_BYTES = 60 * 1024 * 1024;

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

function run(cmd, args, cwd = root) {
  process.stdout.write(`$ ${[cmd, ...args].join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function copy(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.cpSync(from, to, { recursive: true, dereference: true });
}

const target = arg('target', `${process.platform === 'win32' ? 'win32' : process.platform}-${process.arch}`);
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const out = path.resolve(arg('out', path.join(root, `${pkg.name}-${pkg.version}-${target}.vsix`)));

if (!process.argv.includes('--no-build')) run(process.execPath, ['tools/build.js']);
const addonDir = path.join(root, 'native', 'build', 'Release');
const binaries = fs.existsSync(addonDir) ? fs.readdirSync(addonDir).filter((f) => /\.(node|so|dll|dylib)$/.test(f)) : [];
if (!binaries.some((f) => f.endsWith('.node'))) {
  process.stderr.write('native/build/Release/rwkvx.node is missing: build it first (npm run build:addon)\n');
  process.exit(1);
}
for (const f of ['dist/extension.js', 'dist/engine-host.js']) {
  if (!fs.existsSync(path.join(root, f))) {
    process.stderr.write(`${f} is missing: npm run build\n`);
    process.exit(1);
  }
}

const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkvx-vsix-'));
try {
  // The manifest without what only development needs.
  const manifest = { ...pkg };
  delete manifest.scripts;
  delete manifest.devDependencies;
  delete manifest.dependencies; // bundled into dist/
  delete manifest.private;
  delete manifest.bin;
  manifest.files = undefined;
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2));
  for (const f of ['dist/extension.js', 'dist/engine-host.js']) copy(path.join(root, f), path.join(stage, f));
  for (const f of binaries) copy(path.join(addonDir, f), path.join(stage, 'native', 'build', 'Release', f));
  copy(path.join(root, 'media'), path.join(stage, 'media'));
  copy(path.join(root, 'syntaxes'), path.join(stage, 'syntaxes'));
  // web-tree-sitter's runtime and the grammars the extension maps languages to.
  copy(require.resolve('web-tree-sitter/web-tree-sitter.wasm', { paths: [root] }), path.join(stage, 'dist', 'web-tree-sitter.wasm'));
  const grammarDir = path.dirname(require.resolve('@vscode/tree-sitter-wasm/wasm/tree-sitter.js', { paths: [root] }));
  for (const g of fs.readdirSync(grammarDir).filter((f) => /^tree-sitter-.+\.wasm$/.test(f) && !/regex|ini/.test(f))) {
    copy(path.join(grammarDir, g), path.join(stage, 'dist', 'grammars', g));
  }
  for (const f of ['README.md', 'LICENSE', 'CHANGELOG.md']) if (fs.existsSync(path.join(root, f))) copy(path.join(root, f), path.join(stage, f));
  if (!fs.existsSync(path.join(stage, 'LICENSE'))) {
    fs.writeFileSync(path.join(stage, 'LICENSE'), `${pkg.name} is licensed under the ${pkg.license} license.\n`);
  }
  fs.writeFileSync(path.join(stage, '.vscodeignore'), '**/*.map\n');
  const vsce = require.resolve('@vscode/vsce/vsce', { paths: [root] });
  run(process.execPath, [vsce, 'package', '--target', target, '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', out], stage);
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
const size = fs.statSync(out).size;
process.stdout.write(`${path.relative(root, out)}: ${(size / 1024 / 1024).toFixed(1)} MB (limit ${MAX_BYTES / 1024 / 1024} MB)\n`);
if (size > MAX_BYTES) {
  process.stderr.write('the package is over the size limit\n');
  process.exit(1);
}
