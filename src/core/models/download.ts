// Downloads a model file: resumable (a .part file and a Range request),
// checked (SHA-256 from the catalog, or the one the server states for the
// file), with progress and cancellation. The only network use of the
// product, and only when the user asks: HTTPS, except to this machine
// (loopback), which the tests use.
import { createHash, Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';

export interface DownloadProgress {
  received: number;
  /** Undefined when the server does not say. */
  total: number | undefined;
  bytesPerSecond: number;
  /** Bytes that were already on disk from an earlier attempt. */
  resumedFrom: number;
}

export interface DownloadOptions {
  url: string;
  dest: string;
  /** Expected SHA-256 (hex). Without it, the server's stated hash is used (Hugging Face sends it). */
  sha256?: string;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  maxRedirects?: number;
  /** Request headers (e.g. a user agent). */
  headers?: Record<string, string>;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** Where the checked hash came from; 'none' when nobody stated one. */
  verifiedBy: 'catalog' | 'server' | 'none';
  resumedFrom: number;
}

export class DownloadError extends Error {
  constructor(readonly code: 'insecure' | 'http' | 'checksum' | 'size' | 'aborted' | 'network' | 'redirects', message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

interface PartMeta {
  url: string;
  validator?: string;
  total?: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function checkUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new DownloadError('insecure', `not a URL: ${raw}`);
  }
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && LOOPBACK.has(u.hostname)) return u;
  throw new DownloadError('insecure', `refusing ${u.protocol}//${u.host}: model downloads use HTTPS (plain HTTP only to this machine)`);
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The SHA-256 a server states for the body: Hugging Face's X-Linked-ETag / ETag of LFS files, or a Digest header. */
export function statedSha256(headers: http.IncomingHttpHeaders): string | undefined {
  for (const h of ['x-linked-etag', 'etag']) {
    const v = headers[h];
    if (typeof v === 'string') {
      const s = v.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
      if (HEX64.test(s)) return s;
    }
  }
  const digest = headers['digest'] ?? headers['repr-digest'];
  if (typeof digest === 'string') {
    const m = /sha-256=:?([A-Za-z0-9+/=]+):?/i.exec(digest);
    if (m) {
      const hex = Buffer.from(m[1], 'base64').toString('hex');
      if (HEX64.test(hex)) return hex;
    }
  }
  return undefined;
}

function readMeta(file: string): PartMeta | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as PartMeta;
    return typeof m.url === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

async function hashFile(file: string, hash: Hash, signal?: AbortSignal): Promise<void> {
  for await (const chunk of fs.createReadStream(file)) {
    if (signal?.aborted) throw new DownloadError('aborted', 'download cancelled');
    hash.update(chunk as Buffer);
  }
}

function get(url: URL, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.get(url, { headers, signal }, resolve);
    req.on('error', (e) => reject(signal?.aborted ? new DownloadError('aborted', 'download cancelled') : new DownloadError('network', `${url.host}: ${e.message}`)));
  });
}

/** Follows redirects (each hop checked for HTTPS); returns the final response. */
async function open(start: URL, headers: Record<string, string>, options: DownloadOptions): Promise<{ res: http.IncomingMessage; url: URL }> {
  let url = start;
  const max = options.maxRedirects ?? 8;
  for (let hop = 0; ; hop++) {
    const res = await get(url, headers, options.signal);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (hop >= max) throw new DownloadError('redirects', `too many redirects from ${start.host}`);
      url = checkUrl(new URL(res.headers.location, url).toString());
      continue;
    }
    return { res, url };
  }
}

function totalOf(res: http.IncomingMessage, offset: number): number | undefined {
  const range = res.headers['content-range'];
  if (typeof range === 'string') {
    const m = /\/(\d+)\s*$/.exec(range);
    if (m) return Number(m[1]);
  }
  const linked = res.headers['x-linked-size'];
  if (typeof linked === 'string' && /^\d+$/.test(linked)) return Number(linked);
  const len = res.headers['content-length'];
  if (typeof len === 'string' && /^\d+$/.test(len)) return Number(len) + (res.statusCode === 206 ? offset : 0);
  return undefined;
}

export async function download(options: DownloadOptions): Promise<DownloadResult> {
  const url = checkUrl(options.url);
  const part = `${options.dest}.part`;
  const metaFile = `${options.dest}.part.json`;
  fs.mkdirSync(path.dirname(options.dest), { recursive: true });

  // Resume only a part file of the same URL.
  let meta = readMeta(metaFile);
  let offset = 0;
  if (meta && meta.url === options.url && fs.existsSync(part)) offset = fs.statSync(part).size;
  else {
    fs.rmSync(part, { force: true });
    meta = { url: options.url };
  }

  const headers: Record<string, string> = { 'accept-encoding': 'identity', ...options.headers };
  if (offset > 0) {
    headers.range = `bytes=${offset}-`;
    if (meta.validator) headers['if-range'] = meta.validator;
  }
  const { res } = await open(url, headers, options);
  const status = res.statusCode ?? 0;
  if (status === 416 && offset > 0 && meta.total === offset) {
    // Everything was already here; only the check is left.
    res.resume();
  } else if (status !== 200 && status !== 206) {
    res.resume();
    if (status === 416) {
      fs.rmSync(part, { force: true });
      fs.rmSync(metaFile, { force: true });
    }
    throw new DownloadError('http', `${url.host} answered ${status} ${res.statusMessage ?? ''}`.trim());
  }
  if (status === 200 && offset > 0) {
    // The server ignored the range (or the file changed): start over.
    offset = 0;
  }
  const resumedFrom = offset;
  const total = status === 416 ? meta.total : totalOf(res, offset);
  const validator = [res.headers.etag, res.headers['last-modified']].find((v): v is string => typeof v === 'string' && !v.startsWith('W/'));
  const stated = statedSha256(res.headers);
  meta = { url: options.url, ...(validator ? { validator } : {}), ...(total !== undefined ? { total } : {}) };
  fs.writeFileSync(metaFile, JSON.stringify(meta));

  const hash = createHash('sha256');
  if (offset > 0) await hashFile(part, hash, options.signal);
  let received = offset;
  if (status !== 416) {
    const out = fs.createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' });
    const started = Date.now();
    let lastReport = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        let settled = false;
        // Stop reading, keep what was written (the part file is resumable), then report.
        const fail = (e: Error) => {
          if (settled) return;
          settled = true;
          options.signal?.removeEventListener('abort', onAbort);
          res.removeAllListeners('data');
          res.destroy();
          out.end(() => reject(options.signal?.aborted ? new DownloadError('aborted', 'download cancelled') : e));
        };
        const onAbort = () => fail(new DownloadError('aborted', 'download cancelled'));
        if (options.signal?.aborted) return onAbort();
        options.signal?.addEventListener('abort', onAbort, { once: true });
        res.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          received += chunk.length;
          if (!out.write(chunk)) {
            res.pause();
            out.once('drain', () => res.resume());
          }
          const now = Date.now();
          if (options.onProgress && now - lastReport >= 100) {
            lastReport = now;
            const secs = (now - started) / 1000;
            options.onProgress({ received, total, bytesPerSecond: secs > 0 ? (received - offset) / secs : 0, resumedFrom });
          }
        });
        res.on('aborted', () => fail(new DownloadError('network', `${url.host} closed the connection after ${received} bytes; run again to resume`)));
        res.on('error', (e) => fail(new DownloadError('network', e.message)));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          options.signal?.removeEventListener('abort', onAbort);
          out.end(() => resolve());
        });
        out.on('error', (e) => fail(e));
      });
    } catch (e) {
      if (e instanceof DownloadError) throw e;
      throw new DownloadError('network', (e as Error).message);
    }
    if (total !== undefined && received < total) {
      throw new DownloadError('network', `${url.host} ended the body after ${received} of ${total} bytes; run again to resume`);
    }
    options.onProgress?.({ received, total, bytesPerSecond: 0, resumedFrom });
  }

  const size = fs.statSync(part).size;
  const sha256 = hash.digest('hex');
  const expected = options.sha256?.toLowerCase() ?? stated ?? (meta.validator ? statedSha256({ etag: meta.validator }) : undefined);
  const discard = () => {
    fs.rmSync(part, { force: true });
    fs.rmSync(metaFile, { force: true });
  };
  if (total !== undefined && size !== total) {
    discard();
    throw new DownloadError('size', `got ${size} bytes, expected ${total}; the partial file was removed`);
  }
  if (expected !== undefined && sha256 !== expected) {
    discard();
    throw new DownloadError('checksum', `SHA-256 mismatch: got ${sha256}, expected ${expected}; the file was removed`);
  }
  fs.renameSync(part, options.dest);
  fs.rmSync(metaFile, { force: true });
  return { path: options.dest, size, sha256, verifiedBy: options.sha256 ? 'catalog' : expected ? 'server' : 'none', resumedFrom };
}
