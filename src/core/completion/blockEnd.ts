// Where a multi-line suggestion should stop: at the end of the block the
// cursor is in (the function body, the class, the statement being written),
// found with tree-sitter, or by indentation where no grammar is at hand.
// Text the model writes after that is the next thing, not this completion.
import type { Node } from 'web-tree-sitter';

import { grammarForLanguage, type TreeSitter } from '../syntax/treeSitter';

export interface TrimInput {
  /** The document text before the cursor. */
  prefix: string;
  /** What the model generated. */
  suggestion: string;
  /** The document text after the cursor. */
  suffix: string;
  languageId: string;
}

const CLOSER_LINE = /^\s*([)\]}]+[;,)]*|end|fi|done|esac|endif|endfunction)\s*$/;

function indentOf(line: string): number {
  return /^[ \t]*/.exec(line)![0].replace(/\t/g, '    ').length;
}

/** The rest of the document has text after the cursor's line: the closer of the block is likely there already. */
function suffixHasCode(suffix: string): boolean {
  const nl = suffix.indexOf('\n');
  return nl >= 0 && suffix.slice(nl + 1).trim().length > 0;
}

function firstLine(suggestion: string, lineSuffix: string): string {
  let line = suggestion.split('\n')[0].replace(/\s+$/, '');
  // Do not repeat what already follows the cursor (`foo(|)` → `a, b` not `a, b)`).
  const rest = lineSuffix.trim();
  if (rest && line.endsWith(rest)) line = line.slice(0, line.length - rest.length);
  return line;
}

/** Keeps the first `rows` lines (0 = the cursor line only). */
function keepLines(suggestion: string, lastRow: number): string {
  return suggestion.split('\n').slice(0, lastRow + 1).join('\n');
}

function closeRow(suggestion: string, row: number, suffix: string): number {
  // The block's closing line: keep it when writing at the end of the text, else it is already there.
  const line = suggestion.split('\n')[row] ?? '';
  return CLOSER_LINE.test(line) && suffixHasCode(suffix) ? row - 1 : row;
}

/** Indentation rule: stop before the first line that leaves the cursor's block. */
export function trimByIndent(input: TrimInput): string {
  const lines = input.suggestion.split('\n');
  const cursorLine = input.prefix.slice(input.prefix.lastIndexOf('\n') + 1);
  const base = cursorLine.trim() === '' ? indentOf(cursorLine) : indentOf(cursorLine);
  let blank = 0;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i];
    if (l.trim() === '') {
      if (++blank >= 2) return lines.slice(0, i - 1).join('\n');
      continue;
    }
    blank = 0;
    if (indentOf(l) < base) {
      const keep = CLOSER_LINE.test(l) && !suffixHasCode(input.suffix) ? i : i - 1;
      return lines.slice(0, keep + 1).join('\n');
    }
    // At the cursor's own level, a top-level cursor completes one statement (a blank line ends it).
  }
  return input.suggestion;
}

function before(a: { row: number; column: number }, b: { row: number; column: number }): boolean {
  return a.row < b.row || (a.row === b.row && a.column < b.column);
}

/** Tree rule; undefined when there is no grammar for the language. */
async function trimByTree(input: TrimInput, ts: TreeSitter): Promise<string | undefined> {
  const text = input.prefix + input.suggestion;
  const row0 = input.prefix.split('\n').length - 1;
  const cursor = { row: row0, column: input.prefix.length - (input.prefix.lastIndexOf('\n') + 1) };
  const lastRow = row0 + input.suggestion.split('\n').length - 1;
  const contentEnd = text.replace(/\s+$/, '').length;
  return ts.withTree(grammarForLanguage(input.languageId), text, (tree) => {
    const root = tree.rootNode;
    let node: Node | null = root.descendantForPosition(cursor);
    // The innermost node that began before the cursor and goes on past its line.
    let block: Node | undefined;
    for (; node && node.id !== root.id; node = node.parent) {
      if (before(node.startPosition, cursor) && node.endPosition.row > row0) {
        block = node;
        break;
      }
    }
    let end: Node | undefined = block;
    if (!block) {
      // At the top level: the first whole declaration or statement that the suggestion starts.
      end = root.namedChildren.find((c): c is Node => c !== null && c.endIndex > input.prefix.length);
    }
    if (!end) return input.suggestion;
    // Not closed within the suggestion (the parser made up the end): keep it all.
    if (end.endIndex >= contentEnd || end.hasError || end.endPosition.row > lastRow) return input.suggestion;
    const row = end.endPosition.row - row0;
    const keep = block ? closeRow(input.suggestion, row, input.suffix) : row;
    return keepLines(input.suggestion, Math.max(0, keep));
  });
}

/** The suggestion cut to what belongs at the cursor. */
export async function trimSuggestion(input: TrimInput, ts?: TreeSitter): Promise<string> {
  const suggestion = input.suggestion.replace(/\r\n/g, '\n');
  const lineSuffix = input.suffix.split('\n')[0];
  if (suggestion.trim() === '') return '';
  // Text after the cursor on its line: only this line can be completed.
  if (lineSuffix.trim() !== '' || !suggestion.includes('\n')) return firstLine(suggestion, lineSuffix);
  const normalized = { ...input, suggestion };
  const viaTree = ts?.available ? await trimByTree(normalized, ts) : undefined;
  const cut = viaTree ?? trimByIndent(normalized);
  return cut.replace(/\s+$/, '');
}
