// The text of a segment as the model reads it: a plain header line and the file
// in a fence. Headers say whether this is the first copy of a file, a newer copy
// that replaces an earlier one, or a note that the file is gone.
import * as path from 'node:path';

export type HeaderKind = 'file' | 'updated' | 'deleted';

/** One piece of a file: the whole file, or part i of n when it was split. */
export interface FilePart {
  /** 1-based; 0 when the file is not split. */
  part: number;
  parts: number;
  body: string;
  /** hashText(body) */
  hash: string;
  /** 0-based first line of the part in the file. */
  startLine: number;
}

const FENCE_LANG: Record<string, string> = {
  '.ts': 'ts', '.tsx': 'tsx', '.mts': 'ts', '.cts': 'ts', '.js': 'js', '.jsx': 'jsx', '.mjs': 'js', '.cjs': 'js',
  '.py': 'python', '.go': 'go', '.rs': 'rust', '.java': 'java', '.cs': 'csharp', '.c': 'c', '.h': 'c',
  '.cc': 'cpp', '.cpp': 'cpp', '.hpp': 'cpp', '.cu': 'cuda', '.rb': 'ruby', '.php': 'php', '.sh': 'sh',
  '.css': 'css', '.html': 'html', '.json': 'json', '.md': 'markdown', '.yml': 'yaml', '.yaml': 'yaml',
  '.toml': 'toml', '.sql': 'sql', '.kt': 'kotlin', '.swift': 'swift', '.scala': 'scala', '.lua': 'lua',
};

export function headerLine(kind: HeaderKind, file: string, part = 0, parts = 0): string {
  const label = kind === 'file' ? 'File' : kind === 'updated' ? 'File (updated)' : 'File (deleted)';
  const suffix = part > 0 ? ` (part ${part}/${parts})` : '';
  return `${label}: ${file}${suffix}`;
}

/** A fence longer than any backtick run inside the body, so the body cannot close it. */
function fenceFor(body: string): string {
  let longest = 0;
  for (const m of body.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return '`'.repeat(Math.max(3, longest + 1));
}

export function fileSegmentText(kind: 'file' | 'updated', file: string, p: FilePart): string {
  const fence = fenceFor(p.body);
  const lang = FENCE_LANG[path.extname(file).toLowerCase()] ?? '';
  const body = p.body.length === 0 || p.body.endsWith('\n') ? p.body : p.body + '\n';
  return `${headerLine(kind, file, p.part, p.parts)}\n${fence}${lang}\n${body}${fence}\n\n`;
}

export function deletedSegmentText(file: string): string {
  return `${headerLine('deleted', file)}\n\n`;
}

export function preambleText(folderNames: readonly string[]): string {
  const what = folderNames.length === 1
    ? `the workspace folder "${folderNames[0]}"`
    : `the workspace folders ${folderNames.map((n) => `"${n}"`).join(', ')} (paths start with the folder name)`;
  return (
    `What follows is every file of ${what}, one after another. ` +
    'Each starts with a line "File: <path>" and its text in a fence. ' +
    'A later "File (updated): <path>" replaces every earlier copy of that file (or of that part of it), ' +
    'and "File (deleted): <path>" means the file no longer exists.\n\n'
  );
}
