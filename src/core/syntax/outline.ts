// Declaration boundaries from tree-sitter (the loader in ./treeSitter). Used to
// split huge files into segments at places where a reader (and the model)
// expects a break.
import type { Node } from 'web-tree-sitter';

import { grammarForFile, sharedTreeSitter, TreeSitter, TreeSitterOptions } from './treeSitter';

export type OutlinerOptions = TreeSitterOptions;

export class SyntaxOutliner {
  /** Over a loader that may be shared (with completions). */
  constructor(private readonly treeSitter: TreeSitter) {}

  /** Never throws: without tree-sitter the outliner answers undefined and callers fall back. Without options,
   *  over the process's shared loader. */
  static async create(options: OutlinerOptions = {}): Promise<SyntaxOutliner> {
    return new SyntaxOutliner(await (Object.keys(options).length > 0 ? TreeSitter.create(options) : sharedTreeSitter()));
  }

  get available(): boolean {
    return this.treeSitter.available;
  }

  /**
   * 0-based line numbers where a top-level declaration (with its leading
   * comments) starts; inside a declaration longer than `descendLines`, also
   * where its members start. Undefined when the language is unknown.
   */
  boundaries(file: string, text: string, descendLines = 400): Promise<number[] | undefined> {
    return this.treeSitter.withTree(grammarForFile(file), text, (tree) => {
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
      return [...cuts].sort((a, b) => a - b);
    });
  }
}
