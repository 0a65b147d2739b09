import { createHash, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';

export const SIGNATURE_ALGORITHMS = ['rsa-pss-sha256', 'dsa-sha256', 'ed25519'] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

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
export const MIN_RSA_BITS = 2048;

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

/** Parses a public key and checks it is of the kind and strength its purpose needs. */
export function checkPublicKey(pem: string, purpose: 'encryption' | SignatureAlgorithm): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new KeyCheckError(`${purpose} key is not a PEM public key`);
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  const bits = details.modulusLength ?? 0;
  const fail = (what: string) => {
    throw new KeyCheckError(`${purpose} key must be ${what}`);
  };
  switch (purpose) {
    case 'encryption':
      if (type !== 'rsa' || bits < MIN_RSA_BITS) fail(`RSA of at least ${MIN_RSA_BITS} bits`);
      break;
    case 'rsa-pss-sha256':
      if ((type !== 'rsa' && type !== 'rsa-pss') || bits < MIN_RSA_BITS)
        fail(`RSA of at least ${MIN_RSA_BITS} bits`);
      break;
    case 'dsa-sha256':
      if (type !== 'dsa' || bits < 2048 || (details.divisorLength ?? 0) < 224)
        fail('DSA with L >= 2048, N >= 224');
      break;
    case 'ed25519':
      if (type !== 'ed25519') fail('Ed25519');
      break;
  }
  return key;
}

export function checkPublicKeySet(keys: PublicKeySet): void {
  checkPublicKey(keys.encryption, 'encryption');
  for (const alg of SIGNATURE_ALGORITHMS) checkPublicKey(keys.signing[alg], alg);
}
