// VS Code glob patterns (files.exclude): `**` spans path segments, `*` and `?`
// stay within one, `{a,b}` alternates, `[...]` is a class. Matched against the
// path relative to the workspace folder, with `/` separators.

export function globToRegExp(glob: string): RegExp {
  let g = glob.replace(/\\/g, '/');
  if (g.startsWith('./')) g = g.slice(2);
  if (g.endsWith('/')) g = g.slice(0, -1);
  let re = '';
  let inBrace = 0;
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === '*') {
      if (g[i + 1] === '*') {
        // `**/` at a segment start matches zero or more whole segments.
        const atStart = i === 0 || g[i - 1] === '/';
        let j = i + 2;
        if (atStart && g[j] === '/') { re += '(?:[^/]*/)*'; i = j; continue; }
        if (atStart && j === g.length) { re += '.*'; i = j; continue; }
        re += '[^/]*';
        i++;
        continue;
      }
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '{') {
      inBrace++;
      re += '(?:';
    } else if (c === '}' && inBrace > 0) {
      inBrace--;
      re += ')';
    } else if (c === ',' && inBrace > 0) {
      re += '|';
    } else if (c === '[') {
      const end = g.indexOf(']', i + 1);
      if (end < 0) { re += '\\['; continue; }
      let cls = g.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls}]`;
      i = end;
    } else {
      re += c.replace(/[.+^$()|\\]/g, '\\$&');
    }
  }
  // A matched folder excludes everything below it.
  return new RegExp(`^${re}(?:/.*)?$`);
}

export interface CompiledExclude {
  pattern: string;
  re: RegExp;
  /** `when` clause: `$(basename).ts` → exclude only if that sibling exists. */
  whenSibling?: string;
}

export function compileFilesExclude(map: Record<string, boolean | { when: string }> | undefined): CompiledExclude[] {
  const out: CompiledExclude[] = [];
  for (const [pattern, value] of Object.entries(map ?? {})) {
    if (value === false || value === undefined || value === null) continue;
    const c: CompiledExclude = { pattern, re: globToRegExp(pattern) };
    if (typeof value === 'object' && typeof value.when === 'string') c.whenSibling = value.when;
    out.push(c);
  }
  return out;
}

/** The pattern that excludes `rel`, or undefined. `siblings` are the names in rel's folder. */
export function matchFilesExclude(
  rules: CompiledExclude[], rel: string, siblings: ReadonlySet<string> | undefined,
): string | undefined {
  for (const r of rules) {
    if (!r.re.test(rel)) continue;
    if (r.whenSibling !== undefined) {
      const name = rel.slice(rel.lastIndexOf('/') + 1);
      const dot = name.lastIndexOf('.');
      const base = dot > 0 ? name.slice(0, dot) : name;
      const sibling = r.whenSibling.replace(/\$\(basename\)/g, base);
      if (!siblings || !siblings.has(sibling)) continue;
    }
    return r.pattern;
  }
  return undefined;
}
