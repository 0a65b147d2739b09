/**
 * DSA verification (FIPS 186-4 §4.7) in BigInt, for a client with no DSA of its own (a browser):
 * it only ever computes on public values, so it need not be constant-time. It never signs:
 * JavaScript has no constant-time big-integer arithmetic, and signing would leak the key.
 */
import { type Bytes, sha256Hex } from './bytes.js';
import { bytesToBigInt, DerError, dsaValues, element, parseSpki, TAG } from './der.js';
import { ClientError } from './errors.js';
import { type SignatureProvider, webCryptoSignatures } from './signatures.js';

export interface DsaPublicKey {
  p: bigint;
  q: bigint;
  g: bigint;
  y: bigint;
}

/** base^exponent mod modulus, square and multiply (public values only). */
export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

/** a^-1 mod m for a prime m (extended Euclid). */
function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [a % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

export function derInteger(value: bigint): number[] {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const body = hex.match(/../g)?.map((h) => Number.parseInt(h, 16)) ?? [0];
  if ((body[0] as number) & 0x80) body.unshift(0);
  return [TAG.integer, ...derLength(body.length), ...body];
}

export function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

/**
 * r and s of a DER Dss-Sig-Value, only in its one canonical encoding (as OpenSSL, which
 * re-encodes and compares): any other encoding of the same numbers is no signature.
 */
export function parseDsaSignature(signature: Bytes): { r: bigint; s: bigint } | undefined {
  try {
    const seq = element(signature, TAG.sequence);
    if (seq.rest.length) return undefined;
    const r = element(seq.body, TAG.integer);
    const s = element(r.rest, TAG.integer);
    if (s.rest.length || !r.body.length || !s.body.length) return undefined;
    const values = { r: bytesToBigInt(r.body), s: bytesToBigInt(s.body) };
    const body = [...derInteger(values.r), ...derInteger(values.s)];
    const canonical = [TAG.sequence, ...derLength(body.length), ...body];
    if (canonical.length !== signature.length || canonical.some((b, i) => b !== signature[i]))
      return undefined;
    return values;
  } catch (error) {
    if (error instanceof DerError) return undefined;
    throw error;
  }
}

/** DSA with SHA-256: true only for a valid signature of `data` under `key`. */
export async function dsaVerify(key: DsaPublicKey, data: Bytes, signature: Bytes): Promise<boolean> {
  const parsed = parseDsaSignature(signature);
  if (!parsed) return false;
  const { r, s } = parsed;
  const { p, q, g, y } = key;
  if (!(r > 0n && r < q && s > 0n && s < q)) return false;
  // z: the leftmost min(N, 256) bits of the digest
  const digestBits = 256;
  const n = q.toString(2).length;
  let z = BigInt(`0x${await sha256Hex(data)}`);
  if (n < digestBits) z >>= BigInt(digestBits - n);
  const w = modInverse(s, q);
  const u1 = (z * w) % q;
  const u2 = (r * w) % q;
  const v = ((modPow(g, u1, p) * modPow(y, u2, p)) % p) % q;
  return v === r;
}

const NO_DSA_SIGNING =
  'this client does not sign with DSA (no constant-time big integers here): choose rsa-pss-sha256 or ed25519';

/**
 * A DSA provider that only verifies, for browsers. Keys are checked with `checkPublicKey` first
 * (L = 2048, N = 256, g and y in the subgroup) by whoever imports them.
 */
export const bigintDsaVerifier: SignatureProvider = {
  canSign: () => false,
  async importPublic(_alg, spki) {
    return dsaValues(parseSpki(spki));
  },
  async importPrivate() {
    throw new ClientError(NO_DSA_SIGNING);
  },
  async sign() {
    throw new ClientError(NO_DSA_SIGNING);
  },
  async verify(_alg, key, data, signature) {
    return dsaVerify(key as DsaPublicKey, data, signature);
  },
};

/** For a browser: WebCrypto for RSA-PSS and Ed25519, and DSA verification (never signing) in BigInt. */
export function browserSignatures(): SignatureProvider {
  return webCryptoSignatures(bigintDsaVerifier);
}
