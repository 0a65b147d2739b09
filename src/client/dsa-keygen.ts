/**
 * DSA key generation in BigInt, for a client with no DSA of its own (a browser): fresh domain
 * parameters of the protocol's size (L = 2048, N = 256) and a key pair in them, as PEM.
 *
 * The parameters are made as FIPS 186-4 §A.1.1 makes them in outline (a prime q, then a prime
 * p = k·2q + 1, both passing 64 Miller-Rabin rounds with random bases, as the server checks them;
 * g = h^((p-1)/q) mod p, §A.2.1), from `crypto.getRandomValues` rather than from a published seed:
 * the seed lets a third party validate parameters, and here the only party is the user, on their
 * own device. A user who shares no parameters with anyone needs trust no one's.
 *
 * JavaScript has no constant-time big integers: y = g^x mod p runs once, at generation, on the
 * user's own device; this module never signs (see ./dsa.ts). Signing with the key is for a client
 * with OpenSSL (the CLI) after the key store is downloaded.
 */

import { modPow } from './bigint.js';
import type { Bytes } from './bytes.js';
import { derInteger, derLength } from './dsa.js';
import type { DsaKeyGenerator, PemKeyPair } from './keygen.js';
import { derToPem } from './keygen.js';
import { DSA_BITS } from './keys.js';

const ROUNDS = 64;
/** The 2000 odd primes up to 17,393, for trial division: sieved on first use, not at import. */
let smallPrimes: bigint[] | undefined;
function oddSmallPrimes(): bigint[] {
  if (smallPrimes) return smallPrimes;
  const limit = 17_394;
  const composite = new Uint8Array(limit);
  const primes: bigint[] = [];
  for (let n = 3; n < limit; n += 2) {
    if (composite[n]) continue;
    primes.push(BigInt(n));
    for (let m = n * n; m < limit; m += 2 * n) composite[m] = 1;
  }
  smallPrimes = primes;
  return primes;
}

function randomBits(bits: number): bigint {
  const bytes = new Uint8Array(Math.ceil(bits / 8));
  crypto.getRandomValues(bytes);
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n & ((1n << BigInt(bits)) - 1n);
}

/** Uniform in [low, high] by rejection sampling. */
function randomBetween(low: bigint, high: bigint): bigint {
  const range = high - low;
  const bits = range.toString(2).length;
  for (;;) {
    const n = randomBits(bits);
    if (n <= range) return low + n;
  }
}

/** Miller-Rabin with `rounds` random bases, after trial division by small primes (FIPS 186-4 §C.3.1). */
export function isProbablePrime(n: bigint, rounds = ROUNDS): boolean {
  if (n < 2n) return false;
  if (n % 2n === 0n) return n === 2n;
  for (const p of oddSmallPrimes()) {
    if (n === p) return true;
    if (n % p === 0n) return false;
  }
  let d = n - 1n;
  let s = 0;
  while (d % 2n === 0n) {
    d /= 2n;
    s++;
  }
  witness: for (let i = 0; i < rounds; i++) {
    let x = modPow(randomBetween(2n, n - 2n), d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let j = 1; j < s; j++) {
      x = (x * x) % n;
      if (x === n - 1n) continue witness;
    }
    return false;
  }
  return true;
}

export interface DsaDomain {
  p: bigint;
  q: bigint;
  g: bigint;
}

/** Fresh (p, q, g) with L = 2048, N = 256. Takes seconds: run it in a Web Worker in a page. */
export function generateDsaDomain(): DsaDomain {
  const { L, N } = DSA_BITS;
  let q: bigint;
  do q = randomBits(N) | (1n << BigInt(N - 1)) | 1n;
  while (!isProbablePrime(q));
  const twoQ = 2n * q;
  for (;;) {
    const x = randomBits(L) | (1n << BigInt(L - 1));
    const p = x - (x % twoQ) + 1n;
    // one round first: almost every composite fails it, and only a likely prime pays for 64
    if (p.toString(2).length !== L || !isProbablePrime(p, 1) || !isProbablePrime(p)) continue;
    const e = (p - 1n) / q;
    for (let h = 2n; h < p - 1n; h++) {
      const g = modPow(h, e, p);
      if (g !== 1n) return { p, q, g };
    }
  }
}

const seq = (...parts: number[][]) => {
  const body = parts.flat();
  return [0x30, ...derLength(body.length), ...body];
};
const wrap = (tag: number, body: number[]) => [tag, ...derLength(body.length), ...body];
const DSA_OID = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01]; // 1.2.840.10040.4.1

/** A DSA key pair in `domain` (fresh parameters when none are given), as PKCS#8 and SPKI PEM. */
export async function generateDsaKeyPair(domain: DsaDomain = generateDsaDomain()): Promise<PemKeyPair> {
  const { p, q, g } = domain;
  const x = randomBetween(1n, q - 1n);
  const y = modPow(g, x, p);
  const algorithm = seq(DSA_OID, seq(derInteger(p), derInteger(q), derInteger(g)));
  const spki = seq(algorithm, wrap(0x03, [0, ...derInteger(y)]));
  const pkcs8 = seq(derInteger(0n), algorithm, wrap(0x04, derInteger(x)));
  return {
    privateKey: derToPem(new Uint8Array(pkcs8) as Bytes, 'PRIVATE KEY'),
    publicKey: derToPem(new Uint8Array(spki) as Bytes, 'PUBLIC KEY'),
  };
}

/** For a page: DSA with fresh parameters in BigInt (seconds of work; a Web Worker keeps the page responsive). */
export const browserDsaKeyGenerator: DsaKeyGenerator = () => generateDsaKeyPair();
