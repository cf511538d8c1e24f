import { createHash } from 'node:crypto';

/** 128-bit hex digest of text (as UTF-8): content identity for files and segments. */
export function hashText(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32);
}

export function hashBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
