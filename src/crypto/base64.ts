/**
 * Standard base64 with padding (RFC 4648 §4), the only binary encoding on the wire: its grammar is
 * the client library's (src/client/bytes.ts); decoding here is Buffer's, fast for large bodies.
 */
import { isBase64 } from '../client/bytes.js';

export { isBase64 };

/** Decodes strictly: anything but canonical padded base64 is refused, not silently skipped. */
export function fromBase64(text: string): Buffer | undefined {
  if (!isBase64(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Non-zero trailing bits (e.g. "AB==" vs "AA==") decode the same; refuse the non-canonical form.
  return bytes.toString('base64') === text ? bytes : undefined;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
