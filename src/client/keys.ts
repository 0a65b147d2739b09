import { modPow } from './bigint.js';
import { type Bytes, pemToDer, sha256Hex } from './bytes.js';
import { DerError, dsaValues, OID, parseSpki, rsaValues } from './der.js';
import { KeyCheckError } from './errors.js';

export const SIGNATURE_ALGORITHMS = ['rsa-pss-sha256', 'dsa-sha256', 'ed25519'] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];
export type KeyPurpose = 'encryption' | SignatureAlgorithm;

export function isSignatureAlgorithm(value: unknown): value is SignatureAlgorithm {
  return SIGNATURE_ALGORITHMS.includes(value as SignatureAlgorithm);
}

/** A user's four key pairs as PEM (PKCS#8 private, SPKI public): what a key store folder holds. */
export interface PemKeyPairSet {
  encryption: { privateKey: string; publicKey: string };
  signing: Record<SignatureAlgorithm, { privateKey: string; publicKey: string }>;
}

/** Each of a user's four public keys' SHA-256 of its SPKI DER, lowercase hex. */
export type Fingerprints = Record<KeyPurpose, string>;
export const FINGERPRINT_KEYS = ['encryption', ...SIGNATURE_ALGORITHMS] as const;

export const MIN_RSA_BITS = 2048;
/** As registration (src/crypto/keys.ts): larger moduli buy nothing and make every wrap slow. */
export const MAX_RSA_BITS = 8192;
export const RSA_EXPONENT = 65537n;
export const DSA_BITS = { L: 2048, N: 256 } as const;

const bitLength = (n: bigint) => n.toString(2).length;

/**
 * A public key's SPKI DER, checked as registration checks it (protocol.md, "Keys"): RSA of
 * 2048-8192 bits with an odd modulus and e = 65537; DSA with L = 2048, N = 256, 1 < g < p with g^q = 1 and y in the
 * subgroup; Ed25519. (Primality of p and q is the server's check at registration.)
 */
export function checkPublicKey(pem: unknown, purpose: KeyPurpose): Bytes {
  const der = pemToDer(pem, 'PUBLIC KEY');
  const fail = (what: string): never => {
    throw new KeyCheckError(`${purpose} key must be ${what}`);
  };
  if (!der) throw new KeyCheckError(`${purpose} key is not a PEM public key`);
  try {
    const spki = parseSpki(der);
    const rsa = (oids: string[]) => {
      if (!oids.includes(spki.algorithm)) fail(`RSA of ${MIN_RSA_BITS}-${MAX_RSA_BITS} bits`);
      const { n, e } = rsaValues(spki.key);
      if (bitLength(n) < MIN_RSA_BITS) fail(`RSA of at least ${MIN_RSA_BITS} bits`);
      if (bitLength(n) > MAX_RSA_BITS) fail(`RSA of at most ${MAX_RSA_BITS} bits`);
      if (e !== RSA_EXPONENT) fail(`RSA with the public exponent ${RSA_EXPONENT}`);
      // an even modulus is no RSA key: OAEP wrapping fails on it, and it factors at once
      if (n % 2n === 0n) fail('RSA with an odd modulus');
    };
    switch (purpose) {
      case 'encryption':
        rsa([OID.rsa]);
        break;
      case 'rsa-pss-sha256':
        rsa([OID.rsa, OID.rsaPss]);
        break;
      case 'dsa-sha256': {
        const { L, N } = DSA_BITS;
        if (spki.algorithm !== OID.dsa) fail(`DSA with L = ${L}, N = ${N}`);
        const problem = dsaDomainProblem(dsaValues(spki));
        if (problem) fail(problem);
        break;
      }
      case 'ed25519':
        if (spki.algorithm !== OID.ed25519 || spki.parameters.length || spki.key.length !== 32)
          fail('Ed25519');
        break;
    }
  } catch (error) {
    if (error instanceof DerError) throw new KeyCheckError(`${purpose} key is not a PEM public key`);
    throw error;
  }
  return der;
}

/**
 * What is wrong with a DSA key's domain parameters and public value, or undefined: L = 2048 and
 * N = 256, 1 < g < p with g^q = 1 (g generates the order-q subgroup), 1 < y < p with y^q = 1. A key
 * with g = 1 would make r = 1 verify for every message. Registration (src/crypto/keys.ts) checks
 * the same, and primality of p and q besides.
 */
export function dsaDomainProblem({ p, q, g, y }: { p: bigint; q: bigint; g: bigint; y: bigint }) {
  const { L, N } = DSA_BITS;
  if (bitLength(p) !== L || bitLength(q) !== N) return `DSA with L = ${L}, N = ${N}`;
  if (!(g > 1n && g < p && modPow(g, q, p) === 1n)) return 'DSA with a generator g of order q (1 < g < p)';
  if (!(y > 1n && y < p && modPow(y, q, p) === 1n)) return 'DSA with a public value y in the subgroup';
  return undefined;
}

/** SHA-256 of the key's SPKI DER, lowercase hex. */
export function fingerprint(spkiDer: Bytes): Promise<string> {
  return sha256Hex(spkiDer);
}

/**
 * One fingerprint for a user's four keys, to compare out of band and give to `trust <user> FP`:
 * SHA-256 (lowercase hex) of the lines `<key>=<fingerprint>` in the order encryption, rsa, dsa, ed25519.
 */
export function keySetFingerprint(fingerprints: Fingerprints): Promise<string> {
  return sha256Hex(FINGERPRINT_KEYS.map((k) => `${k}=${fingerprints[k]}`).join('\n'));
}

export function sameFingerprints(a: Fingerprints, b: Fingerprints): boolean {
  return FINGERPRINT_KEYS.every((k) => a[k] === b[k]);
}
