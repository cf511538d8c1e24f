// Content checks that keep useless text out of the context: binary files,
// minified bundles, generated code and lockfiles.

/** Git's rule: a NUL byte in the first 8000 bytes means binary. */
export function isBinary(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 8000).indexOf(0) >= 0;
}

const GENERATED_NAMES: RegExp[] = [
  /^(package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|bun\.lockb?|Cargo\.lock|poetry\.lock|Pipfile\.lock|uv\.lock|pdm\.lock|Gemfile\.lock|composer\.lock|go\.sum|flake\.lock|mix\.lock|pubspec\.lock|Podfile\.lock|packages\.lock\.json|gradle\.lockfile)$/,
  /\.(map|min\.map)$/,                // source maps
  /\.pb\.(go|cc|h)$/, /_pb2(_grpc)?\.pyi?$/, /\.pb\.(ts|js)$/,
  /\.(g|freezed)\.dart$/, /\.designer\.cs$/, /\.generated\.\w+$/, /\.gen\.(go|ts|js)$/,
];

const GENERATED_MARKERS: RegExp[] = [
  /@generated\b/,
  /\bDO NOT EDIT\b/,
  /\bauto-?generated\b/i,
  /\bThis file (is|was|has been) (automatically |auto-)?generated\b/i,
];

const ANY_GENERATED_NAME = new RegExp(GENERATED_NAMES.map((r) => `(?:${r.source})`).join('|'));
const ANY_MARKER = new RegExp(GENERATED_MARKERS.map((r) => `(?:${r.source})`).join('|'), 'i');

export function generatedReason(name: string, text: string): string | undefined {
  if (ANY_GENERATED_NAME.test(name)) {
    for (const re of GENERATED_NAMES) if (re.test(name)) return `name matches ${re.source}`;
  }
  // Only the head of the file: generators stamp the first lines.
  let end = 0;
  for (let i = 0; i < 6 && end >= 0 && end < 1024; i++) end = text.indexOf('\n', end + (i ? 1 : 0));
  const head = text.slice(0, end < 0 || end > 1024 ? Math.min(text.length, 1024) : end);
  if (!ANY_MARKER.test(head)) return undefined;
  for (const re of GENERATED_MARKERS) {
    const m = re.exec(head);
    if (m) return `header says "${m[0]}"`;
  }
  return undefined;
}

const MINIFIED_NAME = /[.-]min\.(js|mjs|cjs|css)$/i;

export function minifiedReason(name: string, text: string): string | undefined {
  if (MINIFIED_NAME.test(name)) return 'name says minified';
  if (text.length < 2048) return undefined;
  let lines = 1;
  let longest = 0;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
    longest = Math.max(longest, i - start);
    start = i + 1;
    lines++;
  }
  longest = Math.max(longest, text.length - start);
  const average = text.length / lines;
  if (average > 300) return `average line ${Math.round(average)} characters`;
  if (longest > 10000 && longest > text.length / 2) return `one line of ${longest} characters`;
  return undefined;
}
