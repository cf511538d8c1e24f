// The browser side the integration tests can reach from the extension host:
// an HTTP server on 127.0.0.1 that runs a few playwright operations on the
// workbench page (and inside the extension's webviews), and saves
// screenshots as test artifacts.
'use strict';
const http = require('http');
const path = require('path');

const EXTENSION_ID = 'rwkvx.rwkvx-code';

function webview(page) {
  // The webview view of this extension: an outer iframe per webview, the content in its active frame.
  return page.frameLocator(`iframe.webview[src*="extensionId=${EXTENSION_ID}"]`).first().frameLocator('iframe#active-frame');
}

async function run(page, artifacts, op) {
  const timeout = op.timeoutMs ?? 30_000;
  const scope = op.webview ? webview(page) : page;
  switch (op.op) {
    case 'screenshot': {
      const file = path.join(artifacts, `${String(op.name).replace(/[^\w.-]/g, '_')}.png`);
      await page.screenshot({ path: file });
      return { file };
    }
    case 'waitFor':
      await scope.locator(op.selector).first().waitFor({ state: op.state ?? 'visible', timeout });
      return {};
    case 'waitText': {
      // Polls until an element matching the selector contains the text (or any text when none is given).
      const until = Date.now() + timeout;
      for (;;) {
        const texts = await scope.locator(op.selector).allInnerTexts().catch(() => []);
        const hit = texts.find((t) => (op.text ? t.includes(op.text) : t.trim().length > 0));
        if (hit !== undefined) return { text: hit };
        if (Date.now() > until) throw new Error(`no ${op.selector} with ${op.text ? JSON.stringify(op.text) : 'text'} after ${timeout} ms; saw ${JSON.stringify(texts.slice(-3))}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    case 'texts':
      return { texts: await scope.locator(op.selector).allInnerTexts() };
    case 'count':
      return { count: await scope.locator(op.selector).count() };
    case 'fill':
      await scope.locator(op.selector).first().fill(op.text, { timeout });
      return {};
    case 'click':
      await scope.locator(op.selector).first().click({ timeout });
      return {};
    case 'press':
      if (op.selector) await scope.locator(op.selector).first().press(op.key, { timeout });
      else await page.keyboard.press(op.key);
      return {};
    case 'type':
      await page.keyboard.type(op.text, { delay: op.delayMs ?? 20 });
      return {};
    default:
      throw new Error(`unknown driver op ${op.op}`);
  }
}

function startDriver({ artifacts, log }) {
  let page;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      const reply = (status, value) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      try {
        if (!page) throw new Error('no page yet');
        const op = JSON.parse(body);
        reply(200, await run(page, artifacts, op));
      } catch (e) {
        log(`driver: ${e.message}`);
        reply(500, { error: e.message });
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        attach: (p) => (page = p),
        close: () => server.close(),
      });
    });
  });
}

module.exports = { startDriver };
