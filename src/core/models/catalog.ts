// The official RWKV-7 "G1" reasoning/chat models (BlinkDL, Apache-2.0) the
// Download command offers, and the World vocabulary their .pth files need
// for conversion to GGUF. Hashes: where a hash is not written here, the
// download is checked against the SHA-256 that Hugging Face states for the
// file (its LFS ETag), and refused when the server states none and the
// catalog has none.

export interface CatalogModel {
  id: string;
  label: string;
  /** File name on the server (an official .pth checkpoint). */
  file: string;
  /** Approximate download size, for the picker. */
  approxBytes: number;
  sha256?: string;
  detail: string;
}

export const OFFICIAL_BASE_URL = 'https://huggingface.co/BlinkDL/rwkv7-g1/resolve/main/';

export const CATALOG: readonly CatalogModel[] = [
  { id: 'g1-0.1b', label: 'RWKV-7 G1 0.1B', file: 'rwkv7-g1-0.1b-20250307-ctx4096.pth', approxBytes: 382e6, detail: 'fast on any CPU; short answers, simple completions' },
  { id: 'g1-0.4b', label: 'RWKV-7 G1 0.4B', file: 'rwkv7-g1-0.4b-20250324-ctx4096.pth', approxBytes: 902e6, detail: 'a good CPU model for laptops' },
  { id: 'g1-1.5b', label: 'RWKV-7 G1 1.5B', file: 'rwkv7-g1-1.5b-20250429-ctx4096.pth', approxBytes: 3.06e9, detail: 'better answers; a GPU reads large workspaces much faster' },
  { id: 'g1-2.9b', label: 'RWKV-7 G1 2.9B', file: 'rwkv7-g1-2.9b-20250519-ctx4096.pth', approxBytes: 5.9e9, detail: 'the best of the G1 series here; wants a GPU' },
];

/** The World vocabulary (rwkv_vocab_v20230424.txt), needed to convert an official .pth. */
export const WORLD_VOCAB = {
  file: 'rwkv_vocab_v20230424.txt',
  url: 'https://raw.githubusercontent.com/BlinkDL/ChatRWKV/main/tokenizer/rwkv_vocab_v20230424.txt',
  sha256: 'e6dee3d4e31b4d5c40ac99508ac6c701ceef4bed681bf2167ce9a908552bca89',
  bytes: 1093733,
} as const;

/** URL of a catalog model under a base (the official one, or a mirror the user configured). */
export function modelUrl(model: CatalogModel, baseUrl: string = OFFICIAL_BASE_URL): string {
  return new URL(model.file, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString();
}

/** The GGUF name a downloaded or imported checkpoint is converted to. */
export function ggufNameFor(file: string): string {
  return file.replace(/\.(pth|safetensors|gguf)$/i, '') + '.gguf';
}
