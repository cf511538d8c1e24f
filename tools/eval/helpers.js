// Pure helpers of the model evaluation (tools/eval/eval-model.js): the
// validation split and layout of tools/train/data.py, window choice, the
// bits-per-byte arithmetic, a seeded PRNG, identifier definitions and uses for
// the cross-file test, and answer checks. No I/O, no engine: unit-tested.
'use strict';
const crypto = require('node:crypto');

const VAL_SALT = 'rwkvx-val-v1';
const VAL_FRACTION = 0.04;

/** data.is_val_repo: the first 32 bits of sha256(salt:repo) below 4% of their range. */
function isValRepo(repo) {
  const h = crypto.createHash('sha256').update(`${VAL_SALT}:${repo}`, 'utf8').digest();
  return h.readUInt32BE(0) / 2 ** 32 < VAL_FRACTION;
}

/** data.file_piece: one file as the context log lays it out. */
function filePiece(path, text) {
  return `File: ${path}\n${text}\n\n`;
}

/**
 * Start tokens of the bits-per-byte windows: data.val_windows (n windows of
 * seqLen + 1 tokens spread evenly, numpy.linspace floored), then every `every`th.
 */
function windowStarts(nTokens, seqLen, nWindows, every = 1) {
  const nWin = Math.floor((nTokens - 1) / seqLen);
  if (nWin < 1) return [];
  const num = Math.min(nWindows, nWin);
  const picks = [];
  const step = num > 1 ? (nWin - 1) / (num - 1) : 0;
  for (let i = 0; i < num; i++) picks.push(i === num - 1 && num > 1 ? nWin - 1 : Math.floor(i * step));
  return picks.filter((_, i) => i % every === 0).map((w) => w * seqLen);
}

/** -log softmax(row)[target] in nats, in double precision. */
function crossEntropy(logits, offset, n, target) {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[offset + i] > max) max = logits[offset + i];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[offset + i] - max);
  return Math.log(sum) + max - logits[offset + target];
}

/** Summed nats over UTF-8 bytes of the predicted tokens → bits per byte. */
function bitsPerByte(sumNats, bytes) {
  return bytes > 0 ? sumNats / Math.LN2 / bytes : NaN;
}

/** Index of the largest value (greedy choice; the first on ties). */
function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** mulberry32: a small seeded PRNG giving floats in [0, 1). */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed from any parts (so every trial has its own stream). */
function seedOf(...parts) {
  return crypto.createHash('sha256').update(parts.join('\u0000')).digest().readUInt32LE(0);
}

/** Fisher-Yates with a seeded PRNG; returns a new array. */
function shuffled(items, rand) {
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// Exported top-level definitions (column 0) in the languages of the
// validation repositories and a few more: what another file can refer to.
// TS/JS `export ...`, Rust `pub ...` items, Python public def/class, Go
// capitalized func/type. Locals and private items are left out on purpose.
const DEFINITION_PATTERNS = [
  /^export\s+(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:function\s*\*?|class|interface|type|enum|const\s+enum|const|let|var|namespace)\s+([A-Za-z_$][\w$]*)/gm,
  /^pub(?:\([^)\n]*\))?\s+(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+"[^"\n]*"\s+)?(?:fn|struct|enum|trait|type|const|static|union)\s+([A-Za-z_]\w*)/gm,
  /^(?:async\s+)?(?:def|class)\s+([A-Za-z]\w*)/gm,
  /^func\s+(?:\([^)\n]*\)\s*)?([A-Z]\w*)/gm,
  /^type\s+([A-Z]\w*)\s+(?:struct|interface|func|\[|map|[a-z])/gm,
];

// Names that are keywords or built-in types somewhere: a use of them in B is
// rarely a reference to another file's definition.
const NOT_REFERENCES = new Set(
  ('from type async await self Self this super string number boolean object symbol bigint undefined null true false ' +
    'void never unknown any default static const else enum impl trait struct loop match move where crate pub use mod ' +
    'None True False print list dict tuple func interface package import export return yield class function while ' +
    'String Vec Option Result Some Box Error Object Array Promise Map Set Date Symbol RegExp JSON Math Number Boolean')
    .split(' '),
);

/** Names exported at the top level of a source file, in a Set. */
function definitionsOf(text) {
  const names = new Set();
  for (const re of DEFINITION_PATTERNS) {
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) if (!NOT_REFERENCES.has(m[1])) names.add(m[1]);
  }
  return names;
}

/**
 * A name that reads as one identifier, not an everyday word: capitalized,
 * camelCase or snake_case. Plain lowercase words (read, schema, time) are
 * locals and methods in most files that use them, not references to the
 * file that happens to export them.
 */
function isDistinctive(name) {
  return /^[A-Z]/.test(name) || /[a-z0-9][A-Z]/.test(name) || /[A-Za-z0-9]_[A-Za-z0-9]/.test(name);
}

/** Length of the common folder prefix of two paths (in folders). */
function sharedFolders(a, b) {
  const x = a.split('/').slice(0, -1);
  const y = b.split('/').slice(0, -1);
  let n = 0;
  while (n < x.length && n < y.length && x[n] === y[n]) n++;
  return n;
}

/** Test-fixture files: syntax samples, not code another file refers to. */
function isFixture(path) {
  return /(^|\/)(fixtures?|testdata|__fixtures__|snapshots?)\//.test(path);
}

const IDENT_CHAR = /[A-Za-z0-9_$]/;
const IDENT_RUN = /[A-Za-z0-9_$]+/g;

/**
 * First uses of identifiers in `text` (a whole file piece, header included):
 * [{ name, index }] for each name at its first whole-word occurrence, in order.
 * A run starting with a digit is a number, not a name.
 */
function firstUses(text) {
  const seen = new Set();
  const out = [];
  IDENT_RUN.lastIndex = 0;
  for (let m = IDENT_RUN.exec(text); m !== null; m = IDENT_RUN.exec(text)) {
    const name = m[0];
    if (/^[0-9]/.test(name) || seen.has(name)) continue;
    seen.add(name);
    out.push({ name, index: m.index });
  }
  return out;
}

/** Where the prompt of a completion at `index` ends: before the whitespace that leads to it. */
function promptEnd(text, index) {
  let q = index;
  while (q > 0 && /\s/.test(text[q - 1])) q--;
  return q;
}

/**
 * The identifier a greedy continuation names: leading whitespace skipped, then
 * the identifier run; complete when a non-identifier character follows it.
 */
function predictedIdentifier(generated) {
  const s = generated.replace(/^\s+/, '');
  let n = 0;
  while (n < s.length && IDENT_CHAR.test(s[n])) n++;
  return { name: s.slice(0, n), complete: n < s.length };
}

/**
 * The passkey's forms: the evaluation's sentence, and a definition and its use of the kind stage 2's recall
 * pairs train (tools/train/data.py RECALL_PAIRS), which separates "can retrieve" from "reads this question".
 * needle: the line put in the haystack; question: what ends the prompt; candidate: a key as the answer's text.
 */
const PASSKEY_FORMS = {
  sentence: {
    needle: (key) => `// The passkey is ${key}. Remember it.\n`,
    question: '\n// What is the passkey? The passkey is',
    candidate: (key) => ` ${key}`,
  },
  code: {
    needle: (key) => `const PASSKEY = "${key}";\n`,
    question: '\nexpect(PASSKEY).toBe("',
    candidate: (key) => `${key}`,
  },
};

/** The passkey line inserted in the haystack. */
function needleLine(key, form = 'sentence') {
  return PASSKEY_FORMS[form].needle(key);
}

const PASSKEY_QUESTION = PASSKEY_FORMS.sentence.question;

/** Exact match of the key: the first number of the answer, all of it. */
function passkeyAnswer(generated) {
  const m = /^\s*(\d+)/.exec(generated);
  return m ? m[1] : '';
}

/** Markdown table from a header row and body rows. */
function markdownTable(header, rows, align) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  const sep = header.map((_, i) => ((align && align[i]) === 'r' ? '---:' : '---'));
  return [line(header), line(sep), ...rows.map(line)].join('\n');
}

module.exports = {
  PASSKEY_FORMS,
  VAL_SALT,
  VAL_FRACTION,
  PASSKEY_QUESTION,
  isValRepo,
  filePiece,
  windowStarts,
  crossEntropy,
  bitsPerByte,
  argmax,
  prng,
  seedOf,
  shuffled,
  definitionsOf,
  sharedFolders,
  isDistinctive,
  isFixture,
  firstUses,
  promptEnd,
  predictedIdentifier,
  needleLine,
  passkeyAnswer,
  markdownTable,
};
