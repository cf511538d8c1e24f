// Parses the Python literals of a World vocabulary line ('…', "…", b'…', b"…")
// into raw bytes. Str literals are encoded as UTF-8; bytes literals keep their bytes.

const SIMPLE_ESCAPES: Record<string, number> = {
  '\\': 0x5c, "'": 0x27, '"': 0x22, n: 0x0a, t: 0x09, r: 0x0d,
  a: 0x07, b: 0x08, f: 0x0c, v: 0x0b, '0': 0x00,
};

export function parsePyLiteral(src: string): Uint8Array {
  let i = 0;
  let isBytes = false;
  if (src[i] === 'b' || src[i] === 'B') { isBytes = true; i++; }
  const quote = src[i];
  if (quote !== "'" && quote !== '"') throw new Error(`not a Python literal: ${src}`);
  if (!src.endsWith(quote) || src.length < i + 2) throw new Error(`unterminated literal: ${src}`);
  const body = src.slice(i + 1, src.length - 1);
  const out: number[] = [];
  const pushCodePoint = (cp: number) => {
    if (isBytes) {
      if (cp > 0xff) throw new Error(`non-byte in bytes literal: ${src}`);
      out.push(cp);
    } else {
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out.push(b);
    }
  };
  for (let j = 0; j < body.length; ) {
    const ch = body[j];
    if (ch !== '\\') {
      const cp = body.codePointAt(j)!;
      pushCodePoint(cp);
      j += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = body[j + 1];
    if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(j + 2, j + 2 + n);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) throw new Error(`bad escape in ${src}`);
      const v = parseInt(hex, 16);
      // In a str literal \xHH is the code point U+00HH, not a raw byte.
      if (isBytes) out.push(v); else pushCodePoint(v);
      j += 2 + n;
    } else if (e !== undefined && e in SIMPLE_ESCAPES) {
      out.push(SIMPLE_ESCAPES[e]);
      j += 2;
    } else {
      throw new Error(`unknown escape \\${e} in ${src}`);
    }
  }
  return Uint8Array.from(out);
}
