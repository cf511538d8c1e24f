// FileSystemPort over Node's fs: the implementation the extension and the CLI use.
import { promises as fsp } from 'node:fs';
import type { DirEntry, FileStat, FileSystemPort } from '../context/ports';

export class NodeFileSystem implements FileSystemPort {
  async readFile(path: string): Promise<Uint8Array> {
    return fsp.readFile(path);
  }

  async stat(path: string): Promise<FileStat> {
    const s = await fsp.stat(path);
    return { kind: s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other', size: s.size, mtimeMs: s.mtimeMs };
  }

  async readDir(path: string): Promise<DirEntry[]> {
    const entries = await fsp.readdir(path, { withFileTypes: true });
    return entries.map((e) => ({
      name: e.name,
      kind: e.isSymbolicLink() ? 'symlink' : e.isFile() ? 'file' : e.isDirectory() ? 'dir' : 'other',
    }));
  }

  async realpath(path: string): Promise<string> {
    return fsp.realpath(path);
  }
}
