// Ignore files as layers: .git/info/exclude, then .gitignore from the repository
// root down, then .rwkvxignore from the folder root down, then the extra
// patterns of the settings (gitignore syntax, relative to the workspace
// folder). A later (deeper or stronger) layer overrides an earlier one, as in git.
import ignore, { type Ignore } from 'ignore';
import * as path from 'node:path';

export type LayerReason = 'gitignore' | 'git-info-exclude' | 'rwkvxignore' | 'extra-ignore';

export interface IgnoreLayer {
  /** Directory the patterns are relative to. */
  baseAbs: string;
  reason: LayerReason;
  /** The ignore file, for the report. */
  file: string;
  ig: Ignore;
}

export function makeLayer(baseAbs: string, reason: LayerReason, file: string, text: string): IgnoreLayer | undefined {
  const ig = ignore().add(text);
  // A file without rules changes nothing; skip it to keep lookups short.
  if (!/^[^#\s]/m.test(text)) return undefined;
  return { baseAbs, reason, file, ig };
}

/**
 * `{a,b}` alternatives written out as separate patterns, for the settings'
 * patterns (files.exclude habits); gitignore syntax itself has no braces.
 * Escaped braces (`\\{`) are kept.
 */
export function expandBraces(pattern: string): string[] {
  let depth = 0;
  let open = -1;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') { i++; continue; }
    if (c === '{') { if (depth++ === 0) open = i; }
    else if (c === '}' && depth > 0 && --depth === 0) {
      const inner = pattern.slice(open + 1, i);
      const alternatives: string[] = [];
      let d = 0;
      let from = 0;
      for (let j = 0; j < inner.length; j++) {
        const x = inner[j];
        if (x === '\\') { j++; continue; }
        if (x === '{') d++;
        else if (x === '}') d--;
        else if (x === ',' && d === 0) { alternatives.push(inner.slice(from, j)); from = j + 1; }
      }
      alternatives.push(inner.slice(from));
      if (alternatives.length < 2) continue; // `{x}`: literal
      const head = pattern.slice(0, open);
      const tail = pattern.slice(i + 1);
      return alternatives.flatMap((a) => expandBraces(head + a + tail));
    }
  }
  return [pattern];
}

/** The settings' extra patterns as the strongest layer of a workspace folder. */
export function extraIgnoreLayer(folderAbs: string, patterns: readonly string[] | undefined): IgnoreLayer | undefined {
  const lines = (patterns ?? []).map((p) => p.trim()).filter((p) => p !== '' && !p.startsWith('#')).flatMap(expandBraces);
  if (lines.length === 0) return undefined;
  return makeLayer(folderAbs, 'extra-ignore', 'setting rwkvx.context.extraIgnore', lines.join('\n'));
}

/** `abs` relative to `base` with `/` separators, or undefined when not below it. */
export function relUnder(base: string, abs: string): string | undefined {
  if (abs === base) return '';
  const prefix = base.endsWith(path.sep) ? base : base + path.sep;
  if (!abs.startsWith(prefix)) return undefined;
  const rel = abs.slice(prefix.length);
  return path.sep === '/' ? rel : rel.split(path.sep).join('/');
}

export interface LayerVerdict {
  ignored: boolean;
  layer?: IgnoreLayer;
  pattern?: string;
}

/**
 * Runs the layers over one path. The parent folders were already judged on the
 * way down (a folder that ends up ignored is never entered), so a layer whose
 * only objection is an ancestor that a later layer re-included has no say.
 */
export function judge(layers: readonly IgnoreLayer[], abs: string, isDir: boolean): LayerVerdict {
  let verdict: LayerVerdict = { ignored: false };
  for (const layer of layers) {
    const rel = relUnder(layer.baseAbs, abs);
    if (!rel) continue;
    const key = isDir ? rel + '/' : rel;
    const t = layer.ig.test(key);
    if (t.ignored) {
      const slash = rel.lastIndexOf('/');
      if (slash > 0) {
        const parent = layer.ig.test(rel.slice(0, slash) + '/');
        if (parent.ignored && parent.rule === t.rule) continue;
      }
      verdict = { ignored: true, layer, pattern: t.rule?.pattern };
    } else if (t.unignored) {
      verdict = { ignored: false };
    }
  }
  return verdict;
}
