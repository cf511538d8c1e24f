// The browser, from inside the extension host: the harness's driver server
// (test/integration/harness/driver.js) runs playwright operations on the
// workbench page and in this extension's webviews.
import * as http from 'http';

export interface DriverOp {
  op: 'screenshot' | 'waitFor' | 'waitText' | 'texts' | 'count' | 'fill' | 'click' | 'press' | 'type';
  selector?: string;
  webview?: boolean;
  text?: string;
  key?: string;
  name?: string;
  state?: 'visible' | 'attached' | 'hidden';
  timeoutMs?: number;
}

export function driverAvailable(): boolean {
  return !!process.env.RWKVX_TEST_DRIVER;
}

export function drive<T = Record<string, unknown>>(op: DriverOp): Promise<T> {
  const url = process.env.RWKVX_TEST_DRIVER;
  if (!url) return Promise.reject(new Error('no browser driver (RWKVX_TEST_DRIVER): these tests run in code-server through test/integration/run.js'));
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        const v = JSON.parse(body || '{}');
        if (res.statusCode === 200) resolve(v as T);
        else reject(new Error(`driver ${op.op} ${op.selector ?? ''}: ${v.error ?? res.statusCode}`));
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(op));
  });
}
