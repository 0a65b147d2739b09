/**
 * The few DER shapes a DSA SubjectPublicKeyInfo is made of, read strictly: node:crypto parses DSA
 * keys but exposes only the sizes of p and q, and the domain parameters must be checked.
 * @see RFC 3279 section 2.3.2 (DSA public keys), ITU-T X.690 (DER)
 */
export class DerError extends Error {}

const TAG = { integer: 0x02, bitString: 0x03, sequence: 0x30 } as const;

/** One element: its tag, its contents and what follows it in `bytes`. */
function element(bytes: Buffer, tag: number): { body: Buffer; rest: Buffer } {
  if (bytes.length < 2 || bytes[0] !== tag) throw new DerError(`expected DER tag ${tag}`);
  let length = bytes[1] as number;
  let offset = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || bytes.length < 2 + count) throw new DerError('bad DER length');
    length = bytes.readUIntBE(2, count);
    offset = 2 + count;
  }
  if (bytes.length < offset + length) throw new DerError('truncated DER');
  return { body: bytes.subarray(offset, offset + length), rest: bytes.subarray(offset + length) };
}

function integer(bytes: Buffer): { value: bigint; rest: Buffer } {
  const { body, rest } = element(bytes, TAG.integer);
  if (body.length === 0 || (body[0] as number) & 0x80) throw new DerError('expected a positive INTEGER');
  return { value: BigInt(`0x${body.toString('hex')}`), rest };
}

/** p, q, g and y of a DSA key's SPKI DER (the algorithm OID is checked by node:crypto first). */
export function dsaPublicKeyValues(spki: Buffer): { p: bigint; q: bigint; g: bigint; y: bigint } {
  const outer = element(spki, TAG.sequence).body;
  const algorithm = element(outer, TAG.sequence);
  const oid = element(algorithm.body, 0x06);
  const params = element(oid.rest, TAG.sequence).body;
  const p = integer(params);
  const q = integer(p.rest);
  const g = integer(q.rest);
  const bits = element(algorithm.rest, TAG.bitString).body;
  if (bits[0] !== 0) throw new DerError('expected a whole-byte BIT STRING');
  const y = integer(bits.subarray(1));
  return { p: p.value, q: q.value, g: g.value, y: y.value };
}
