import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, beforeEach, test } from 'node:test';

import { checkUrl, download, DownloadError, statedSha256 } from '../../../src/core/models/download';

// A local model server: serves BODY with Range support, an ETag holding its
// SHA-256 (as Hugging Face does), and switches to misbehave on request.
const BODY = randomBytes(3 * 1024 * 1024 + 123);
const SHA = createHash('sha256').update(BODY).digest('hex');
let server: http.Server;
let base = '';
let mode: 'normal' | 'cut' | 'no-range' | 'corrupt' | 'slow' = 'normal';
let requests: { url: string; range?: string }[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', ...(req.headers.range ? { range: req.headers.range } : {}) });
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/model.pth' });
      return res.end();
    }
    if (req.url === '/missing') {
      res.writeHead(404);
      return res.end();
    }
    const body = mode === 'corrupt' ? Buffer.concat([BODY.subarray(0, 100), Buffer.from('X'), BODY.subarray(101)]) : BODY;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m && mode !== 'no-range' ? Number(m[1]) : 0;
    const headers: http.OutgoingHttpHeaders = { etag: `"${SHA}"`, 'accept-ranges': 'bytes', 'content-length': body.length - from };
    if (from > 0) {
      headers['content-range'] = `bytes ${from}-${body.length - 1}/${body.length}`;
      res.writeHead(206, headers);
    } else res.writeHead(200, headers);
    if (mode === 'cut') {
      // Half of the body, then the connection drops.
      res.write(body.subarray(from, from + Math.floor((body.length - from) / 2)), () => res.destroy());
      return;
    }
    if (mode === 'slow') {
      let at = from;
      const tick = () => {
        if (res.destroyed) return;
        if (at >= body.length) return void res.end();
        res.write(body.subarray(at, at + 64 * 1024));
        at += 64 * 1024;
        setTimeout(tick, 5);
      };
      return tick();
    }
    res.end(body.subarray(from));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

let dir = '';
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rwkvx-dl-'));
  mode = 'normal';
  requests = [];
});

test('downloads, checks the hash the server states, and leaves no partial files', async () => {
  const dest = path.join(dir, 'm.pth');
  const seen: number[] = [];
  const r = await download({ url: `${base}/model.pth`, dest, onProgress: (p) => seen.push(p.received) });
  assert.equal(r.sha256, SHA);
  assert.equal(r.verifiedBy, 'server');
  assert.equal(r.size, BODY.length);
  assert.ok(fs.readFileSync(dest).equals(BODY));
  assert.deepEqual(fs.readdirSync(dir), ['m.pth']);
  assert.equal(seen[seen.length - 1], BODY.length);
});

test('a dropped connection resumes with a Range request for the rest', async () => {
  const dest = path.join(dir, 'm.pth');
  mode = 'cut';
  await assert.rejects(download({ url: `${base}/model.pth`, dest }), (e: DownloadError) => e.code === 'network');
  const partSize = fs.statSync(`${dest}.part`).size;
  assert.ok(partSize > 0 && partSize < BODY.length);
  mode = 'normal';
  const r = await download({ url: `${base}/model.pth`, dest, sha256: SHA });
  assert.equal(r.resumedFrom, partSize);
  assert.equal(r.verifiedBy, 'catalog');
  assert.equal(requests[requests.length - 1].range, `bytes=${partSize}-`);
  assert.ok(fs.readFileSync(dest).equals(BODY));
});

test('a server that ignores Range makes the download start over', async () => {
  const dest = path.join(dir, 'm.pth');
  fs.writeFileSync(`${dest}.part`, BODY.subarray(0, 1000));
  fs.writeFileSync(`${dest}.part.json`, JSON.stringify({ url: `${base}/model.pth` }));
  mode = 'no-range';
  const r = await download({ url: `${base}/model.pth`, dest });
  assert.equal(r.resumedFrom, 0);
  assert.ok(fs.readFileSync(dest).equals(BODY));
});

test('a partial file of another URL is not resumed', async () => {
  const dest = path.join(dir, 'm.pth');
  fs.writeFileSync(`${dest}.part`, Buffer.from('garbage'));
  fs.writeFileSync(`${dest}.part.json`, JSON.stringify({ url: `${base}/other.pth` }));
  const r = await download({ url: `${base}/model.pth`, dest });
  assert.equal(r.resumedFrom, 0);
  assert.equal(requests[0].range, undefined);
  assert.equal(r.sha256, SHA);
});

test('a corrupt body fails the checksum and is removed', async () => {
  const dest = path.join(dir, 'm.pth');
  mode = 'corrupt';
  await assert.rejects(download({ url: `${base}/model.pth`, dest }), (e: DownloadError) => e.code === 'checksum' && e.message.includes(SHA));
  assert.deepEqual(fs.readdirSync(dir), []);
  // A wrong catalog hash fails as well, even when the server agrees with the body.
  mode = 'normal';
  await assert.rejects(download({ url: `${base}/model.pth`, dest, sha256: '0'.repeat(64) }), (e: DownloadError) => e.code === 'checksum');
});

test('cancel keeps the partial file; the next run resumes from it', async () => {
  const dest = path.join(dir, 'm.pth');
  mode = 'slow';
  const ctl = new AbortController();
  const p = download({ url: `${base}/model.pth`, dest, signal: ctl.signal, onProgress: (pr) => { if (pr.received > 256 * 1024) ctl.abort(); } });
  await assert.rejects(p, (e: DownloadError) => e.code === 'aborted');
  const partSize = fs.statSync(`${dest}.part`).size;
  assert.ok(partSize > 0);
  mode = 'normal';
  const r = await download({ url: `${base}/model.pth`, dest });
  assert.equal(r.resumedFrom, partSize);
  assert.equal(r.sha256, SHA);
});

test('redirects are followed; HTTP errors are reported', async () => {
  const r = await download({ url: `${base}/redirect`, dest: path.join(dir, 'r.pth') });
  assert.equal(r.sha256, SHA);
  await assert.rejects(download({ url: `${base}/missing`, dest: path.join(dir, 'x.pth') }), (e: DownloadError) => e.code === 'http' && /404/.test(e.message));
});

test('plain HTTP is refused except to this machine', async () => {
  assert.throws(() => checkUrl('http://example.com/m.pth'), (e: DownloadError) => e.code === 'insecure');
  assert.throws(() => checkUrl('ftp://example.com/m.pth'), (e: DownloadError) => e.code === 'insecure');
  assert.equal(checkUrl('https://huggingface.co/x').protocol, 'https:');
  assert.equal(checkUrl('http://localhost:1/x').hostname, 'localhost');
  await assert.rejects(download({ url: 'http://example.com/m.pth', dest: path.join(dir, 'm') }), (e: DownloadError) => e.code === 'insecure');
});

test('stated hashes: ETag, X-Linked-ETag, Digest', () => {
  assert.equal(statedSha256({ 'x-linked-etag': `"${SHA}"` }), SHA);
  assert.equal(statedSha256({ etag: `W/"${SHA.toUpperCase()}"` }), SHA);
  assert.equal(statedSha256({ etag: '"abc"' }), undefined);
  assert.equal(statedSha256({ digest: `sha-256=${Buffer.from(SHA, 'hex').toString('base64')}` }), SHA);
});
