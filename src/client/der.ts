import type { Bytes } from './bytes.js';
/**
 * The few DER shapes of a SubjectPublicKeyInfo, read strictly, without Node.
 * @see RFC 5280 §4.1 (SPKI), RFC 3279 §2.3 (RSA and DSA keys), RFC 8410 (Ed25519), ITU-T X.690 (DER)
 */
export class DerError extends Error {}

export const TAG = { integer: 0x02, bitString: 0x03, null: 0x05, oid: 0x06, sequence: 0x30 } as const;

/** One element: its contents and what follows it. */
export function element(bytes: Bytes, tag: number): { body: Bytes; rest: Bytes } {
  if (bytes.length < 2 || bytes[0] !== tag) throw new DerError(`expected DER tag ${tag}`);
  let length = bytes[1] as number;
  let offset = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || bytes.length < 2 + count) throw new DerError('bad DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (bytes[2 + i] as number);
    offset = 2 + count;
  }
  if (bytes.length < offset + length) throw new DerError('truncated DER');
  return { body: bytes.subarray(offset, offset + length), rest: bytes.subarray(offset + length) };
}

export function bytesToBigInt(bytes: Bytes): bigint {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return value;
}

/** A positive INTEGER. */
export function integer(bytes: Bytes): { value: bigint; rest: Bytes } {
  const { body, rest } = element(bytes, TAG.integer);
  if (body.length === 0 || (body[0] as number) & 0x80) throw new DerError('expected a positive INTEGER');
  return { value: bytesToBigInt(body), rest };
}

/** Dotted form of an OBJECT IDENTIFIER's contents. */
function oidText(body: Bytes): string {
  const parts: number[] = [];
  let value = 0;
  for (const b of body) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  const first = parts.shift() ?? 0;
  return [
    Math.min(2, Math.floor(first / 40)),
    first - 40 * Math.min(2, Math.floor(first / 40)),
    ...parts,
  ].join('.');
}

export interface Spki {
  /** The algorithm OID, dotted. */
  algorithm: string;
  /** The algorithm parameters as DER (empty when absent). */
  parameters: Bytes;
  /** The BIT STRING's bytes, after its unused-bits octet. */
  key: Bytes;
}

/** Splits a SubjectPublicKeyInfo; nothing may follow it. */
export function parseSpki(der: Bytes): Spki {
  const outer = element(der, TAG.sequence);
  if (outer.rest.length) throw new DerError('trailing bytes after the key');
  const algorithm = element(outer.body, TAG.sequence);
  const oid = element(algorithm.body, TAG.oid);
  const bits = element(algorithm.rest, TAG.bitString);
  if (bits.rest.length) throw new DerError('trailing bytes in the key');
  if (bits.body[0] !== 0) throw new DerError('expected a whole-byte BIT STRING');
  return { algorithm: oidText(oid.body), parameters: oid.rest, key: bits.body.subarray(1) };
}

export const OID = {
  rsa: '1.2.840.113549.1.1.1',
  rsaPss: '1.2.840.113549.1.1.10',
  dsa: '1.2.840.10040.4.1',
  ed25519: '1.3.101.112',
} as const;

/** n and e of an RSA key's BIT STRING (RSAPublicKey). */
export function rsaValues(key: Bytes): { n: bigint; e: bigint } {
  const seq = element(key, TAG.sequence).body;
  const n = integer(seq);
  const e = integer(n.rest);
  return { n: n.value, e: e.value };
}

/** p, q, g (parameters) and y (BIT STRING) of a DSA key. */
export function dsaValues(spki: Spki): { p: bigint; q: bigint; g: bigint; y: bigint } {
  const params = element(spki.parameters, TAG.sequence).body;
  const p = integer(params);
  const q = integer(p.rest);
  const g = integer(q.rest);
  return { p: p.value, q: q.value, g: g.value, y: integer(spki.key).value };
}
