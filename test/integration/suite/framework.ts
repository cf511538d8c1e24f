// A minimal test runner for the extension host (no test framework is a
// dependency): tests run in order in one window, each with a time limit;
// results go to the console (forwarded to the harness's output).
export type TestFn = () => Promise<void>;

interface Case {
  name: string;
  fn: TestFn;
  timeoutMs: number;
}

const cases: Case[] = [];

export function test(name: string, fn: TestFn, timeoutMs = 120_000): void {
  cases.push({ name, fn, timeoutMs });
}

const setups: TestFn[] = [];

/** Runs before the tests (also when a filter picks only some). */
export function setup(fn: TestFn): void {
  setups.push(fn);
}

export async function runAll(filter?: string): Promise<{ passed: number; failed: string[] }> {
  const failed: string[] = [];
  let passed = 0;
  for (const fn of setups) await fn();
  for (const c of cases) {
    if (filter && !c.name.includes(filter)) continue;
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        c.fn(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${c.timeoutMs} ms`)), c.timeoutMs))),
      ]);
      passed++;
      console.log(`  ok    ${c.name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed.push(c.name);
      console.log(`  FAIL  ${c.name} (${Date.now() - t0} ms)\n        ${e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 6).join('\n        ') : String(e)}`);
    } finally {
      clearTimeout(timer);
    }
  }
  return { passed, failed };
}

/** Polls `check` until it returns a value (not undefined/false) or the time is up. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`waited ${timeoutMs} ms for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
