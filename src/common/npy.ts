// Writes float32 arrays in NumPy's .npy format (version 1.0, C order), the
// format the `logits` probe produces and the engine tests read.

export function encodeNpyFloat32(data: Float32Array, shape: readonly number[]): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`npy: shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // Magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), body]);
}

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

/** Reads a little-endian float32 .npy in C order (what encodeNpyFloat32 writes). */
export function decodeNpyFloat32(buf: Uint8Array): NpyArray {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error('npy: bad magic');
  const major = b[6];
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + headerLen);
  if (!header.includes("'<f4'")) throw new Error(`npy: not float32: ${header.trim()}`);
  if (header.includes("'fortran_order': True")) throw new Error('npy: Fortran order is not supported');
  const m = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!m) throw new Error('npy: no shape');
  const shape = m[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, c) => a * c, 1);
  const offset = start + headerLen;
  if (b.byteLength - offset < count * 4) throw new Error('npy: truncated data');
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(b.subarray(offset, offset + count * 4));
  return { shape, data };
}
