// The one loader of web-tree-sitter and the grammars of @vscode/tree-sitter-wasm,
// for completions (where a block ends) and the context log (where a huge file
// may be cut). Grammars load on demand, once. Never throws: without the
// runtime or a grammar, callers get undefined and fall back to indentation.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Language, Parser, Tree } from 'web-tree-sitter';

/** VS Code language ids → grammar names (tree-sitter-<name>.wasm). */
const GRAMMAR_BY_LANGUAGE: Record<string, string> = {
  typescript: 'typescript', typescriptreact: 'tsx', javascript: 'javascript', javascriptreact: 'javascript',
  python: 'python', go: 'go', rust: 'rust', java: 'java', csharp: 'c-sharp', c: 'cpp', cpp: 'cpp', cuda: 'cpp',
  'cuda-cpp': 'cpp', ruby: 'ruby', php: 'php', shellscript: 'bash', css: 'css', powershell: 'powershell',
};

/** File name extensions → grammar names. */
const GRAMMAR_BY_EXT: Record<string, string> = {
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript', '.tsx': 'tsx',
  '.js': 'javascript', '.jsx': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript',
  '.py': 'python', '.pyi': 'python', '.go': 'go', '.rs': 'rust', '.java': 'java', '.cs': 'c-sharp',
  '.c': 'cpp', '.h': 'cpp', '.cc': 'cpp', '.cpp': 'cpp', '.cxx': 'cpp', '.hpp': 'cpp', '.hh': 'cpp',
  '.cu': 'cpp', '.cuh': 'cpp', '.rb': 'ruby', '.php': 'php', '.sh': 'bash', '.bash': 'bash',
  '.css': 'css', '.ps1': 'powershell',
};

export function grammarForLanguage(languageId: string): string | undefined {
  return GRAMMAR_BY_LANGUAGE[languageId];
}

export function grammarForFile(file: string): string | undefined {
  return GRAMMAR_BY_EXT[path.extname(file).toLowerCase()];
}

// Defaults: beside a bundle (dist/, as packaged), else the installed packages.
// web-tree-sitter's own default looks beside its module, which inside a bundle
// is dist/ even where the wasm is not.
function defaultRuntimeWasm(): string | undefined {
  const beside = path.join(__dirname, 'web-tree-sitter.wasm');
  if (fs.existsSync(beside)) return beside;
  try {
    return require.resolve('web-tree-sitter/web-tree-sitter.wasm');
  } catch {
    return undefined;
  }
}

function defaultGrammarDir(): string {
  const beside = path.join(__dirname, 'grammars');
  return fs.existsSync(beside) ? beside : path.dirname(require.resolve('@vscode/tree-sitter-wasm/wasm/tree-sitter.js'));
}

export interface TreeSitterOptions {
  /** Folder with tree-sitter-<name>.wasm (default: the @vscode/tree-sitter-wasm package). */
  grammarDir?: string;
  /** web-tree-sitter's own web-tree-sitter.wasm (default: next to its module). */
  runtimeWasm?: string;
}

export class TreeSitter {
  private parser: Parser | undefined;
  private mod: typeof import('web-tree-sitter') | undefined;
  private readonly languages = new Map<string, Promise<Language | undefined>>();
  /** Why tree-sitter (or the last grammar tried) is not available, for the log. */
  failure: string | undefined;

  private constructor(private readonly options: TreeSitterOptions) {}

  static async create(options: TreeSitterOptions = {}): Promise<TreeSitter> {
    const t = new TreeSitter(options);
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      t.mod = require('web-tree-sitter') as typeof import('web-tree-sitter');
      const runtime = options.runtimeWasm ?? defaultRuntimeWasm();
      await t.mod.Parser.init(runtime ? { locateFile: () => runtime } : undefined);
      t.parser = new t.mod.Parser();
    } catch (e) {
      t.failure = e instanceof Error ? e.message : String(e);
    }
    return t;
  }

  get available(): boolean {
    return this.parser !== undefined;
  }

  private language(name: string): Promise<Language | undefined> {
    let p = this.languages.get(name);
    if (!p) {
      p = (async () => {
        try {
          const dir = this.options.grammarDir ?? defaultGrammarDir();
          return await this.mod!.Language.load(path.join(dir, `tree-sitter-${name}.wasm`));
        } catch (e) {
          this.failure = `grammar ${name}: ${e instanceof Error ? e.message : String(e)}`;
          return undefined;
        }
      })();
      this.languages.set(name, p);
    }
    return p;
  }

  /**
   * Parses `text` with the grammar `grammar` (a name from grammarForLanguage /
   * grammarForFile), calls `use` with the tree and frees it; undefined without
   * that grammar. Safe to share: nothing awaits between choosing the language and parsing.
   */
  async withTree<T>(grammar: string | undefined, text: string, use: (tree: Tree) => T): Promise<T | undefined> {
    if (!grammar || !this.parser) return undefined;
    const lang = await this.language(grammar);
    if (!lang) return undefined;
    this.parser.setLanguage(lang);
    const tree = this.parser.parse(text);
    if (!tree) return undefined;
    try {
      return use(tree);
    } finally {
      tree.delete();
    }
  }
}

let shared: Promise<TreeSitter> | undefined;

/** One loader per process (grammars load once for every user), at the default locations. */
export function sharedTreeSitter(): Promise<TreeSitter> {
  shared ??= TreeSitter.create();
  return shared;
}
