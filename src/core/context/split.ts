// Splits a huge file into parts at declaration boundaries (tree-sitter where a
// grammar exists, blank lines before unindented lines otherwise). Cut points are
// content-defined between a minimum and a maximum size, so an edit inside one
// declaration usually changes only the part that holds it.
import { hashText } from './hash';
import type { FilePart } from './segments';
import type { SyntaxOutliner } from '../syntax/outline';

export interface SplitOptions {
  /** Files up to this many bytes stay one segment (default 32 KiB). */
  splitAboveBytes: number;
  /** Parts aim for this size (default 12 KiB); never smaller than a third of it unless the file ends. */
  targetPartBytes: number;
  /** Hard upper bound of a part (default 2 × target). */
  maxPartBytes: number;
}

export const DEFAULT_SPLIT: SplitOptions = { splitAboveBytes: 32 * 1024, targetPartBytes: 12 * 1024, maxPartBytes: 24 * 1024 };

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0 && i + 1 < text.length; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** Fallback boundaries: an unindented line after a blank line, or a Markdown heading. */
export function blankLineBoundaries(text: string): number[] {
  const lines = text.split('\n');
  const cuts: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i];
    if (/^#{1,6}\s/.test(l) || (lines[i - 1].trim() === '' && /^\S/.test(l))) cuts.push(i);
  }
  return cuts;
}

/** Small stable hash of a line, for content-defined cuts. */
function lineHash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The first non-blank line at or after offset (boundaries often start with a blank line). */
function firstNonBlank(text: string, from: number): string {
  const m = /[^\s]/g;
  m.lastIndex = from;
  const hit = m.exec(text);
  if (!hit) return '';
  const end = text.indexOf('\n', hit.index);
  return text.slice(hit.index, end < 0 ? text.length : end);
}

export function splitByBoundaries(text: string, boundaries: readonly number[], o: SplitOptions = DEFAULT_SPLIT): FilePart[] {
  const whole = (): FilePart[] => [{ part: 0, parts: 0, body: text, hash: hashText(text), startLine: 0 }];
  if (Buffer.byteLength(text, 'utf8') <= o.splitAboveBytes) return whole();
  const starts = lineStarts(text);
  const nLines = starts.length;
  // Byte sizes are approximated by UTF-16 length: cheap, and only steer the cuts.
  const offset = (line: number) => (line >= nLines ? text.length : starts[line]);
  const minBytes = Math.floor(o.targetPartBytes / 3);
  const cands = [...new Set(boundaries)].filter((b) => b > 0 && b < nLines).sort((a, b) => a - b);
  const cuts: number[] = [];
  let start = 0;
  let ci = 0;
  const sizeFrom = (line: number) => offset(line) - offset(start);
  // Stop once the rest fits comfortably in one part.
  while (text.length - offset(start) > o.targetPartBytes * 1.5) {
    while (ci < cands.length && cands[ci] <= start) ci++;
    let chosen = -1;
    let overTarget = -1;
    let lastInReach = -1;
    for (let j = ci; j < cands.length && sizeFrom(cands[j]) <= o.maxPartBytes; j++) {
      const c = cands[j];
      const size = sizeFrom(c);
      if (size < minBytes) continue;
      // Content-defined: the line itself decides, so earlier edits do not move this cut.
      if (lineHash(firstNonBlank(text, offset(c))) % 4 === 0) { chosen = c; break; }
      lastInReach = c;
      if (size >= o.targetPartBytes && overTarget < 0) overTarget = c;
    }
    if (chosen < 0) chosen = overTarget >= 0 ? overTarget : lastInReach;
    if (chosen < 0) {
      // No boundary in reach: cut at the last line start within the target size.
      let l = start + 1;
      while (l + 1 < nLines && sizeFrom(l + 1) <= o.targetPartBytes) l++;
      chosen = l;
    }
    cuts.push(chosen);
    start = chosen;
  }
  if (cuts.length === 0) return whole();
  const bounds = [0, ...cuts, nLines];
  const parts: FilePart[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const body = text.slice(offset(bounds[i]), offset(bounds[i + 1]));
    parts.push({ part: i + 1, parts: bounds.length - 1, body, hash: hashText(body), startLine: bounds[i] });
  }
  return parts;
}

/** Splits with the outliner when it knows the language, else at blank lines. */
export async function splitFile(file: string, text: string, outliner: SyntaxOutliner | undefined, o: SplitOptions = DEFAULT_SPLIT): Promise<FilePart[]> {
  if (Buffer.byteLength(text, 'utf8') <= o.splitAboveBytes) {
    return [{ part: 0, parts: 0, body: text, hash: hashText(text), startLine: 0 }];
  }
  const syntax = outliner ? await outliner.boundaries(file, text) : undefined;
  if (!syntax || syntax.length === 0) return splitByBoundaries(text, blankLineBoundaries(text), o);
  // Long stretches without declarations (data tables, prose) still need breaks:
  // blank-line boundaries fill only the gaps the syntax leaves too wide.
  const starts = lineStarts(text);
  const at = (l: number) => (l >= starts.length ? text.length : starts[l]);
  const edges = [0, ...syntax, starts.length];
  const fill = blankLineBoundaries(text).filter((c) => {
    let k = 0;
    while (k + 1 < edges.length && edges[k + 1] <= c) k++;
    return k + 1 < edges.length && at(edges[k + 1]) - at(edges[k]) > o.maxPartBytes;
  });
  return splitByBoundaries(text, [...syntax, ...fill], o);
}
