/**
 * Standard base64 with padding (RFC 4648 §4), the only binary encoding on the wire: its grammar is
 * the client library's (src/client/bytes.ts); decoding here is Buffer's, fast for large bodies.
 */
import { isBase64 } from '../client/bytes.js';

export { isBase64 };

/**
 * Decodes strictly: anything but canonical padded base64 is refused, not silently skipped. Buffer
 * decodes leniently (it skips what is not base64, takes the URL alphabet, ignores non-zero trailing
 * bits as in "AB==" against "AA=="), but it encodes only the canonical form: text that is its own
 * bytes' encoding is canonical base64, and nothing else is. One pass each way, no grammar check.
 */
export function fromBase64(text: string): Buffer | undefined {
  if (typeof text !== 'string') return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
