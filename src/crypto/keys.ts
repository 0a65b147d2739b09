import {
  checkPrime,
  createHash,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { DerError, dsaValues, parseSpki } from '../client/der.js';
import {
  DSA_BITS,
  dsaDomainProblem,
  MAX_RSA_BITS,
  MIN_RSA_BITS,
  RSA_EXPONENT,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
} from '../client/keys.js';
import { wrapKey } from './envelope.js';

// The protocol's key rules are the client library's (src/client/keys.ts); the server adds what
// needs node:crypto (parsing any PEM, primality of p and q).
export { DSA_BITS, MAX_RSA_BITS, MIN_RSA_BITS, RSA_EXPONENT, SIGNATURE_ALGORITHMS, type SignatureAlgorithm };

/** The four public keys a user registers, as SPKI PEM. */
export interface PublicKeySet {
  encryption: string;
  signing: Record<SignatureAlgorithm, string>;
}

/** A user's whole key store: PKCS#8 PEM private keys beside SPKI PEM public keys. */
export interface KeyPairSet {
  encryption: { privateKey: string; publicKey: string };
  signing: Record<SignatureAlgorithm, { privateKey: string; publicKey: string }>;
}

export interface KeySizes {
  /** RSA modulus bits for the wrapping and RSA-PSS keys (protocol: 3072). */
  rsaBits: number;
}

export const PRODUCTION_KEY_SIZES: KeySizes = { rsaBits: 3072 };
/** Miller-Rabin rounds for p and q: a composite passes with probability at most 4^-64. */
const PRIME_CHECKS = 64;

const PEM = {
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
} as const;

type PemPair = { privateKey: string; publicKey: string };

/** One key pair as PEM (SPKI public, PKCS#8 private), generated off the event loop. */
export function generatePemKeyPair(
  type: 'rsa' | 'dsa' | 'ed25519',
  options: { modulusLength?: number; divisorLength?: number } = {},
): Promise<PemPair> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      // biome-ignore lint/suspicious/noExplicitAny: node's overloads cannot take the union of key types
      type as any,
      { ...options, ...PEM },
      (error: Error | null, publicKey: string, privateKey: string) =>
        error ? reject(error) : resolve({ publicKey, privateKey }),
    );
  });
}

/** Generates a user's four key pairs on libuv's thread pool (DSA parameters and RSA primes are slow). */
export async function generateKeyPairSet(sizes: KeySizes = PRODUCTION_KEY_SIZES): Promise<KeyPairSet> {
  const [encryption, rsa, dsa, ed] = await Promise.all([
    generatePemKeyPair('rsa', { modulusLength: sizes.rsaBits }),
    generatePemKeyPair('rsa', { modulusLength: sizes.rsaBits }),
    generatePemKeyPair('dsa', { modulusLength: 2048, divisorLength: 256 }),
    generatePemKeyPair('ed25519'),
  ]);
  return { encryption, signing: { 'rsa-pss-sha256': rsa, 'dsa-sha256': dsa, ed25519: ed } };
}

export function publicKeysOf(pairs: KeyPairSet): PublicKeySet {
  return {
    encryption: pairs.encryption.publicKey,
    signing: {
      'rsa-pss-sha256': pairs.signing['rsa-pss-sha256'].publicKey,
      'dsa-sha256': pairs.signing['dsa-sha256'].publicKey,
      ed25519: pairs.signing.ed25519.publicKey,
    },
  };
}

/** SHA-256 of the key's SPKI DER, lowercase hex. */
export function fingerprint(key: KeyObject | string): string {
  const object = typeof key === 'string' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(object.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

export class KeyCheckError extends Error {}

/**
 * p, q, g and y of a DSA key's SPKI DER (the algorithm OID is checked by node:crypto first): node
 * parses DSA keys but exposes only the sizes of p and q, and the domain parameters must be checked.
 * The DER is read by the client library's strict reader (src/client/der.ts), the one DER reader of
 * client and server.
 * @see RFC 3279 section 2.3.2 (DSA public keys), ITU-T X.690 (DER)
 */
export function dsaPublicKeyValues(spki: Uint8Array): { p: bigint; q: bigint; g: bigint; y: bigint } {
  return dsaValues(parseSpki(new Uint8Array(spki)));
}

const failure =
  (purpose: string) =>
  (what: string): never => {
    throw new KeyCheckError(`${purpose} key must be ${what}`);
  };

/**
 * The DSA key's domain parameters and public value, checked as the client library checks them
 * (modular exponentiations on the event loop: not free).
 */
function checkDsaDomain(key: KeyObject) {
  const fail = failure('dsa-sha256');
  let values: ReturnType<typeof dsaPublicKeyValues>;
  try {
    values = dsaPublicKeyValues(key.export({ type: 'spki', format: 'der' }));
  } catch (error) {
    if (error instanceof DerError) fail('DSA with readable domain parameters');
    throw error;
  }
  const problem = dsaDomainProblem(values);
  if (problem) fail(problem);
  return values;
}

const isPrime = (n: bigint) =>
  new Promise<boolean>((resolve, reject) =>
    checkPrime(n, { checks: PRIME_CHECKS }, (error, prime) => (error ? reject(error) : resolve(prime))),
  );

/** Exactly one SPKI PEM block, nothing around it but whitespace: no private key, no second block. */
const PUBLIC_KEY_PEM = /^\s*-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----\s*$/;

/** The RSA-PSS parameters the protocol signs with; a key restricted to others is refused. */
const PSS = { hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 32 } as const;

/** The key's SPKI PEM as the server stores and serves it, whatever line breaks it came with. */
export function canonicalPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }) as string;
}

/**
 * Parses a public key and checks it is of the kind and strength its purpose needs (protocol.md,
 * "Keys"): RSA 2048-8192 bits with an odd modulus with e = 65537; DSA with L = 2048, N = 256 and valid domain
 * parameters (primality of p and q is checked by {@link checkPublicKeySet}, off the event loop).
 */
export function checkPublicKey(pem: string, purpose: 'encryption' | SignatureAlgorithm): KeyObject {
  const key = checkKeyShape(pem, purpose);
  if (purpose === 'dsa-sha256') checkDsaDomain(key);
  return key;
}

/**
 * What {@link checkPublicKey} checks that costs next to nothing: one PEM block, a public key of the
 * purpose's type, its size, exponent and parameters. Everything but the DSA domain check.
 */
function checkKeyShape(pem: string, purpose: 'encryption' | SignatureAlgorithm): KeyObject {
  let key: KeyObject;
  if (typeof pem !== 'string' || !PUBLIC_KEY_PEM.test(pem))
    throw new KeyCheckError(`${purpose} key is not a PEM public key (one BEGIN PUBLIC KEY block)`);
  try {
    key = createPublicKey({ key: pem.trim(), format: 'pem' });
  } catch {
    throw new KeyCheckError(`${purpose} key is not a PEM public key`);
  }
  if (key.type !== 'public') throw new KeyCheckError(`${purpose} key is not a PEM public key`);
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  const bits = details.modulusLength ?? 0;
  const fail = failure(purpose);
  const rsa = (types: string[]) => {
    if (!types.includes(type ?? '') || bits < MIN_RSA_BITS || bits > MAX_RSA_BITS)
      fail(`RSA of ${MIN_RSA_BITS}-${MAX_RSA_BITS} bits`);
    if (details.publicExponent !== RSA_EXPONENT) fail(`RSA with the public exponent ${RSA_EXPONENT}`);
    // an even modulus is no RSA key: OAEP wrapping fails on it, and it factors at once
    // (the SPKI DER ends with the modulus, then e = 65537 as 02 03 01 00 01)
    const spki = key.export({ type: 'spki', format: 'der' });
    if (((spki.at(-6) ?? 0) & 1) === 0) fail('RSA with an odd modulus');
    // an RSA-PSS key restricted to parameters of its own would refuse (or not mean) ours
    if (type === 'rsa-pss' && details.hashAlgorithm !== undefined) {
      const { hashAlgorithm, mgf1HashAlgorithm, saltLength } = details;
      if (
        hashAlgorithm !== PSS.hashAlgorithm ||
        mgf1HashAlgorithm !== PSS.mgf1HashAlgorithm ||
        saltLength !== PSS.saltLength
      )
        fail('RSA-PSS with SHA-256, MGF1-SHA-256 and salt length 32 (or unrestricted)');
    }
  };
  switch (purpose) {
    case 'encryption':
      rsa(['rsa']);
      break;
    case 'rsa-pss-sha256':
      rsa(['rsa', 'rsa-pss']);
      break;
    case 'dsa-sha256':
      if (type !== 'dsa') fail(`DSA with L = ${DSA_BITS.L}, N = ${DSA_BITS.N}`);
      break;
    case 'ed25519':
      if (type !== 'ed25519') fail('Ed25519');
      break;
  }
  return key;
}

/**
 * Checks all four keys, that the encryption key wraps a key (a trial RSA-OAEP wrap), and that the
 * DSA key's p and q are prime (on libuv's thread pool). Cheapest first: the shape of all four keys
 * before any wrap or modular arithmetic, so a key of the wrong type costs no DSA check. Answers the
 * keys as canonical SPKI PEM: what is stored and served, so its SHA-256 is the fingerprint.
 */
export async function checkPublicKeySet(keys: PublicKeySet): Promise<PublicKeySet> {
  const encryption = checkKeyShape(keys.encryption, 'encryption');
  const signing = SIGNATURE_ALGORITHMS.map((alg) => [alg, checkKeyShape(keys.signing[alg], alg)] as const);
  try {
    wrapKey(encryption, randomBytes(32));
  } catch {
    throw new KeyCheckError('encryption key cannot wrap a key with RSA-OAEP-SHA256');
  }
  const dsa = signing.find(([alg]) => alg === 'dsa-sha256')?.[1] as KeyObject;
  const { p, q } = checkDsaDomain(dsa);
  const [pPrime, qPrime] = await Promise.all([isPrime(p), isPrime(q)]);
  if (!pPrime || !qPrime) throw new KeyCheckError('dsa-sha256 key must have prime p and q');
  return {
    encryption: canonicalPem(encryption),
    signing: Object.fromEntries(
      signing.map(([alg, key]) => [alg, canonicalPem(key)]),
    ) as PublicKeySet['signing'],
  };
}
