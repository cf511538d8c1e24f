// Small generated workspaces for the context-log tests.
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './helpers';

export function makeWorkspace(files: Record<string, string>, name = 'ws'): string {
  const root = path.join(tempDir(), name);
  mkdirSync(root, { recursive: true });
  for (const [rel, text] of Object.entries(files)) writeFile(root, rel, text);
  return root;
}

/** Writes a file, with an old mtime unless told otherwise (so only chosen files look recent). */
export function writeFile(root: string, rel: string, text: string, mtimeMs = Date.now() - 90 * 24 * 3600_000): string {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  utimesSync(p, mtimeMs / 1000, mtimeMs / 1000);
  return p;
}

export function removeFile(root: string, rel: string): string {
  const p = path.join(root, rel);
  rmSync(p, { recursive: true, force: true });
  return p;
}

export function sourceFile(name: string, lines: number, seed = 0): string {
  let s = `// ${name}\n`;
  for (let i = 0; i < lines; i++) s += `export const ${name.replace(/\W/g, '_')}_${i} = ${(i * 7 + seed) % 101};\n`;
  return s;
}

/** A promise gate: closed gates hold every waiter until opened. */
export class Gate {
  private openNow = true;
  private waiters: (() => void)[] = [];
  /** Resolves when something is waiting at the closed gate. */
  private arrived: (() => void)[] = [];
  close(): void { this.openNow = false; }
  open(): void {
    this.openNow = true;
    for (const w of this.waiters.splice(0)) w();
  }
  wait(): Promise<void> {
    if (this.openNow) return Promise.resolve();
    for (const a of this.arrived.splice(0)) a();
    return new Promise((r) => this.waiters.push(r));
  }
  /** Resolves once a waiter is held here. */
  reached(): Promise<void> {
    if (this.waiters.length) return Promise.resolve();
    return new Promise((r) => this.arrived.push(r));
  }
}
