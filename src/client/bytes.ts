/** * Bytes, base64 and PEM without Node's Buffer, so that the same code runs in a browser.
 * Base64 is standard with padding (RFC 4648 §4), decoded strictly: the protocol's only binary encoding.
 */
/** Bytes over a plain ArrayBuffer, as WebCrypto takes them. */
export type Bytes = Uint8Array<ArrayBuffer>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isBase64(text: string): boolean {
  return BASE64.test(text);
}

const encoder = new TextEncoder();

export function utf8(text: string): Bytes {
  return encoder.encode(text);
}

export function fromUtf8(bytes: Bytes): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

export function toBase64(bytes: Bytes): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Anything but canonical padded base64 (including non-zero trailing bits) is `undefined`. */
export function fromBase64(text: unknown): Bytes | undefined {
  if (typeof text !== 'string' || !isBase64(text)) return undefined;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return toBase64(bytes) === text ? bytes : undefined;
}

export function toHex(bytes: Bytes): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function concat(...parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** The DER inside one PEM block of the given label (`PUBLIC KEY`, `PRIVATE KEY`), or undefined. */
export function pemToDer(pem: unknown, label: string): Bytes | undefined {
  if (typeof pem !== 'string') return undefined;
  const match = new RegExp(
    `^\\s*-----BEGIN ${label}-----\\r?\\n([A-Za-z0-9+/=\\r\\n]+?)-----END ${label}-----\\s*$`,
  ).exec(pem);
  return match ? fromBase64(match[1].replace(/\r?\n/g, '')) : undefined;
}

/** SHA-256 in lowercase hex. */
export async function sha256Hex(data: Bytes | string): Promise<string> {
  const bytes = typeof data === 'string' ? utf8(data) : data;
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}

/** A fresh random UUIDv4 (message ids are made by the client). */
export function randomId(): string {
  return crypto.randomUUID();
}
