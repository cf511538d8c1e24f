// StoragePort over a folder: whole-file replacement through a temp file, fsync
// and rename, so a crash leaves either the old file or the new one.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { StoragePort } from './ports';

export class FolderStorage implements StoragePort {
  constructor(readonly dir: string) {}

  private file(name: string): string {
    if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) throw new Error(`bad storage name: ${name}`);
    return path.join(this.dir, name);
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    try {
      return await fsp.readFile(this.file(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async writeAtomic(name: string, data: Uint8Array): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const target = this.file(name);
    const tmp = path.join(this.dir, `.${name}.${process.pid}.${Date.now()}.tmp`);
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, target);
  }

  async remove(name: string): Promise<void> {
    await fsp.rm(this.file(name), { force: true });
  }

  async list(): Promise<string[]> {
    try {
      return (await fsp.readdir(this.dir)).filter((n) => !n.startsWith('.'));
    } catch {
      return [];
    }
  }
}
