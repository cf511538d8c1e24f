// Where web-tree-sitter's runtime and the grammars are: beside the bundle in
// the packaged extension (dist/), in node_modules in a development checkout.
// One loader serves completions and the context's outliner.
import * as fs from 'fs';
import * as path from 'path';

import { TreeSitter } from '../core/syntax/treeSitter';

export function treeSitterPaths(extensionPath: string): { runtimeWasm?: string; grammarDir?: string } {
  const runtime = [path.join(extensionPath, 'dist', 'web-tree-sitter.wasm'), path.join(extensionPath, 'node_modules', 'web-tree-sitter', 'web-tree-sitter.wasm')].find((p) => fs.existsSync(p));
  const grammars = [path.join(extensionPath, 'dist', 'grammars'), path.join(extensionPath, 'node_modules', '@vscode', 'tree-sitter-wasm', 'wasm')].find((p) => fs.existsSync(p));
  return { ...(runtime ? { runtimeWasm: runtime } : {}), ...(grammars ? { grammarDir: grammars } : {}) };
}

const loaders = new Map<string, Promise<TreeSitter>>();

/** The extension's tree-sitter loader (made on first use; grammars load once for all users). */
export function sharedTreeSitter(extensionPath: string): Promise<TreeSitter> {
  let t = loaders.get(extensionPath);
  if (!t) {
    t = TreeSitter.create(treeSitterPaths(extensionPath));
    loaders.set(extensionPath, t);
  }
  return t;
}
