// Declaration boundaries from tree-sitter (web-tree-sitter + the grammars that
// @vscode/tree-sitter-wasm ships). Used to split huge files into segments at
// places where a reader (and the model) expects a break.
import * as path from 'node:path';
import type { Language, Node, Parser } from 'web-tree-sitter';

const GRAMMAR_BY_EXT: Record<string, string> = {
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript', '.tsx': 'tsx',
  '.js': 'javascript', '.jsx': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript',
  '.py': 'python', '.pyi': 'python', '.go': 'go', '.rs': 'rust', '.java': 'java', '.cs': 'c-sharp',
  '.c': 'cpp', '.h': 'cpp', '.cc': 'cpp', '.cpp': 'cpp', '.cxx': 'cpp', '.hpp': 'cpp', '.hh': 'cpp',
  '.cu': 'cpp', '.cuh': 'cpp', '.rb': 'ruby', '.php': 'php', '.sh': 'bash', '.bash': 'bash',
  '.css': 'css', '.ps1': 'powershell',
};

export function grammarFor(file: string): string | undefined {
  return GRAMMAR_BY_EXT[path.extname(file).toLowerCase()];
}

export interface OutlinerOptions {
  /** Folder with tree-sitter-<lang>.wasm (default: the @vscode/tree-sitter-wasm package). */
  grammarDir?: string;
  /** web-tree-sitter's own wasm (default: next to its module). */
  runtimeWasm?: string;
}

export class SyntaxOutliner {
  private parser: Parser | undefined;
  private readonly languages = new Map<string, Promise<Language | undefined>>();
  private ts: typeof import('web-tree-sitter') | undefined;

  private constructor(private readonly options: OutlinerOptions) {}

  /** Never throws: without tree-sitter the outliner answers undefined and callers fall back. */
  static async create(options: OutlinerOptions = {}): Promise<SyntaxOutliner> {
    const o = new SyntaxOutliner(options);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      o.ts = require('web-tree-sitter') as typeof import('web-tree-sitter');
      const runtime = options.runtimeWasm;
      await o.ts.Parser.init(runtime ? { locateFile: () => runtime } : undefined);
      o.parser = new o.ts.Parser();
    } catch {
      o.parser = undefined;
    }
    return o;
  }

  get available(): boolean { return this.parser !== undefined; }

  private language(name: string): Promise<Language | undefined> {
    let p = this.languages.get(name);
    if (!p) {
      p = (async () => {
        try {
          const dir = this.options.grammarDir
            ?? path.dirname(require.resolve('@vscode/tree-sitter-wasm/wasm/tree-sitter.js'));
          return await this.ts!.Language.load(path.join(dir, `tree-sitter-${name}.wasm`));
        } catch {
          return undefined;
        }
      })();
      this.languages.set(name, p);
    }
    return p;
  }

  /**
   * 0-based line numbers where a top-level declaration (with its leading
   * comments) starts; inside a declaration longer than `descendLines`, also
   * where its members start. Undefined when the language is unknown.
   */
  async boundaries(file: string, text: string, descendLines = 400): Promise<number[] | undefined> {
    const name = grammarFor(file);
    if (!name || !this.parser) return undefined;
    const lang = await this.language(name);
    if (!lang) return undefined;
    this.parser.setLanguage(lang);
    const tree = this.parser.parse(text);
    if (!tree) return undefined;
    const cuts = new Set<number>();
    const visit = (node: Node, depth: number) => {
      const kids = node.namedChildren.filter((k): k is Node => k !== null);
      let prevEnd = -1;
      for (const k of kids) {
        const start = k.startPosition.row;
        // Comments stick to the declaration below them: cut after the previous one.
        if (k.type.includes('comment')) continue;
        if (prevEnd >= 0 && start > prevEnd) cuts.add(prevEnd + 1);
        prevEnd = k.endPosition.row;
        if (depth < 4 && k.endPosition.row - start > descendLines) visit(k, depth + 1);
      }
    };
    visit(tree.rootNode, 0);
    tree.delete();
    return [...cuts].sort((a, b) => a - b);
  }
}
