import { constants, type KeyObject, sign, verify } from 'node:crypto';
import type { SignatureAlgorithm } from '../client/keys.js';

type KeyInput = KeyObject | string;

/**
 * Every parameter pinned: RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt; DSA with SHA-256
 * and a DER Dss-Sig-Value; pure Ed25519 (no digest).
 */
function params(alg: SignatureAlgorithm, key: KeyInput): { digest: string | null; key: object } {
  switch (alg) {
    case 'rsa-pss-sha256':
      return { digest: 'sha256', key: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } };
    case 'dsa-sha256':
      return { digest: 'sha256', key: { key, dsaEncoding: 'der' } };
    case 'ed25519':
      return { digest: null, key: { key } };
  }
}

/** Signs on libuv's thread pool, so a burst of signing never blocks the event loop. */
export function signAsync(alg: SignatureAlgorithm, privateKey: KeyInput, data: Buffer): Promise<Buffer> {
  const p = params(alg, privateKey);
  return new Promise((resolve, reject) => {
    // biome-ignore lint/suspicious/noExplicitAny: node's overloads do not accept the union of key forms
    sign(p.digest, data, p.key as any, (error, signature) => (error ? reject(error) : resolve(signature)));
  });
}

export function signSync(alg: SignatureAlgorithm, privateKey: KeyInput, data: Buffer): Buffer {
  const p = params(alg, privateKey);
  // biome-ignore lint/suspicious/noExplicitAny: as above
  return sign(p.digest, data, p.key as any);
}

/** Verifies on the thread pool; any malformed signature or key mismatch is simply `false`. */
export function verifyAsync(
  alg: SignatureAlgorithm,
  publicKey: KeyInput,
  data: Buffer,
  signature: Buffer,
): Promise<boolean> {
  const p = params(alg, publicKey);
  return new Promise((resolve) => {
    try {
      // biome-ignore lint/suspicious/noExplicitAny: as above
      verify(p.digest, data, p.key as any, signature, (error, ok) => resolve(!error && ok));
    } catch {
      resolve(false);
    }
  });
}
