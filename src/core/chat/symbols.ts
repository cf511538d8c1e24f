// Definitions and uses of a name by reading the text, for when no language
// server answers (or to add what it does not know). Definitions are lines
// where a declaration keyword or an assignment introduces the name.

import type { Location } from './prompts';

export interface SourceFile {
  path: string;
  text: string;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const DECL_KEYWORDS = [
  'function', 'class', 'interface', 'type', 'enum', 'const', 'let', 'var', 'def', 'fn', 'func', 'struct', 'trait',
  'impl', 'module', 'namespace', 'macro', 'static', 'val', 'object', 'record', 'union', 'typedef', 'alias',
];

export function definitionPattern(symbol: string): RegExp {
  const s = escapeRe(symbol);
  const kw = DECL_KEYWORDS.join('|');
  return new RegExp(
    [
      // function foo / class Foo / def foo / fn foo / export const foo / pub struct Foo
      String.raw`\b(?:${kw})\s+(?:[\w<>\[\]*&,\s]*?\s)?\**${s}\b`,
      // foo = …, self.foo = … at the start of a statement (not ==)
      String.raw`^\s*(?:(?:export|public|private|protected|static|readonly)\s+)*${s}\s*(?::[^=\n]*)?=(?!=)`,
      // methods and properties in a class body: foo(…) { / foo: …
      String.raw`^\s*(?:(?:public|private|protected|static|async|readonly|override|get|set)\s+)*${s}\s*(?:<[^>]*>)?\([^)]*\)\s*(?::[^{]*)?\{`,
      // C-like: Type name(…) {  at line start
      String.raw`^[\w:<>,\s*&]+\s\**${s}\s*\([^;]*\)\s*(?:const\s*)?\{?\s*$`,
      // #define NAME
      String.raw`^\s*#\s*define\s+${s}\b`,
    ].join('|'),
  );
}

export function findSymbol(files: readonly SourceFile[], symbol: string, limit = 500): { definitions: Location[]; uses: Location[] } {
  const definitions: Location[] = [];
  const uses: Location[] = [];
  if (!/^[\w$]+$/.test(symbol)) return { definitions, uses };
  const word = new RegExp(`(?<![\\w$])${escapeRe(symbol)}(?![\\w$])`);
  const def = definitionPattern(symbol);
  for (const f of files) {
    const lines = f.text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (!word.test(line)) continue;
      const loc = { path: f.path, line: i + 1, text: line.trim() };
      if (def.test(line)) definitions.push(loc);
      else if (uses.length < limit) uses.push(loc);
    }
  }
  return { definitions, uses };
}
