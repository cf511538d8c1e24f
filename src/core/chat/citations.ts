// Citations in model answers: `path/to/file.ext:12`, `file.ext:12-20`,
// `file.ext#L12`, `file.ext, line 12`. Found in plain text so the chat can
// turn them into links that open the file at that line.

export interface Citation {
  /** As written (forward slashes), relative to a workspace folder or absolute. */
  path: string;
  /** 1-based; 0 when the citation names only a file. */
  line: number;
  /** 1-based last line of a range, when one was given. */
  endLine?: number;
  /** Offset and length of the whole citation in the searched text. */
  start: number;
  length: number;
}

// A path: optional leading ./ or / or a drive, segments of word chars, dots and dashes,
// and a final segment with an extension (or a well-known extensionless name).
const SEGMENT = String.raw`[\w.@+-]+`;
const PATH = String.raw`(?:[A-Za-z]:[\\/]|\.{0,2}/)?(?:${SEGMENT}[\\/])*(?:[\w@+-][\w.@+-]*\.[A-Za-z0-9]{1,10}|Makefile|Dockerfile|LICENSE|README)`;
const CITATION_RE = new RegExp(
  String.raw`(?<![\w/.\\-])(${PATH})(?::(\d{1,7})(?:[-–](\d{1,7}))?(?::\d{1,5})?|#L(\d{1,7})(?:-L?(\d{1,7}))?|,? lines? (\d{1,7})(?:[-–](\d{1,7}))?)`,
  'g',
);

/** Version-like or URL-like strings that look like `name.ext:digits` but are not files. */
function plausible(path: string, before: string): boolean {
  if (/^\d+(\.\d+)+$/.test(path)) return false; // 1.2.3:4
  if (/[a-z]+:\/\/\S*$/i.test(before)) return false; // part of a URL
  if (/^(localhost|127\.0\.0\.1|[\w-]+\.(com|org|net|io))$/i.test(path)) return false; // host:port
  return true;
}

/** Every citation in `text`, in order. */
export function findCitations(text: string): Citation[] {
  const out: Citation[] = [];
  for (const m of text.matchAll(CITATION_RE)) {
    const start = m.index ?? 0;
    const path = m[1].replace(/\\/g, '/');
    if (!plausible(path, text.slice(Math.max(0, start - 200), start))) continue;
    const line = Number(m[2] ?? m[4] ?? m[6]);
    const endRaw = m[3] ?? m[5] ?? m[7];
    const end = endRaw !== undefined ? Number(endRaw) : undefined;
    if (!(line >= 1)) continue;
    out.push({ path, line, ...(end !== undefined && end >= line ? { endLine: end } : {}), start, length: m[0].length });
  }
  return out;
}

/** A file path alone (no line), e.g. in a "File: path" line or a code span. */
export function looksLikePath(text: string): boolean {
  return new RegExp(`^${PATH}$`).test(text) && plausible(text, '');
}

/** Splits text into plain runs and citations, for renderers. */
export function splitCitations(text: string): (string | Citation)[] {
  const parts: (string | Citation)[] = [];
  let at = 0;
  for (const c of findCitations(text)) {
    if (c.start > at) parts.push(text.slice(at, c.start));
    parts.push(c);
    at = c.start + c.length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}
