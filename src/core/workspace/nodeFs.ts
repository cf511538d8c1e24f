// FileSystemPort over Node's fs: the implementation the extension and the CLI use.
// Synchronous calls behind promises: for thousands of small files they are
// several times faster than the thread-pool round trips of fs.promises on a
// small machine. Discovery yields to the event loop between slices, so the
// extension host stays responsive during a scan.
import * as fs from 'node:fs';
import type { DirEntry, FileStat, FileSystemPort } from '../context/ports';

function call<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}

export class NodeFileSystem implements FileSystemPort {
  readFile(path: string): Promise<Uint8Array> {
    return call(() => fs.readFileSync(path));
  }

  stat(path: string): Promise<FileStat> {
    return call(() => {
      const s = fs.statSync(path);
      return { kind: s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other', size: s.size, mtimeMs: s.mtimeMs };
    });
  }

  readDir(path: string): Promise<DirEntry[]> {
    return call(() => fs.readdirSync(path, { withFileTypes: true }).map((e) => ({
      name: e.name,
      kind: e.isSymbolicLink() ? 'symlink' : e.isFile() ? 'file' : e.isDirectory() ? 'dir' : 'other',
    })));
  }

  realpath(path: string): Promise<string> {
    return call(() => fs.realpathSync.native(path));
  }
}
