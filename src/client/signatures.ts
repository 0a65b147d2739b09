import { type Bytes, pemToDer } from './bytes.js';
import { ClientError } from './errors.js';
import type { SignatureAlgorithm } from './keys.js';

/** A key as the provider that made it holds it (a CryptoKey, or a Node KeyObject for DSA). */
export type KeyHandle = unknown;

/**
 * Signing and verification for one or more schemes. The WebCrypto provider covers RSA-PSS and
 * Ed25519; DSA, which no browser has, comes from another provider (node:crypto, or a verifier).
 */
export interface SignatureProvider {
  importPublic(alg: SignatureAlgorithm, spki: Bytes): Promise<KeyHandle>;
  importPrivate(alg: SignatureAlgorithm, pkcs8: Bytes): Promise<KeyHandle>;
  sign(alg: SignatureAlgorithm, key: KeyHandle, data: Bytes): Promise<Bytes>;
  /** False for a scheme it only verifies (DSA in a browser); absent means it signs all it has. */
  canSign?(alg: SignatureAlgorithm): boolean;
  /** Any malformed signature or key mismatch is `false`, never an exception. */
  verify(alg: SignatureAlgorithm, key: KeyHandle, data: Bytes, signature: Bytes): Promise<boolean>;
}

/** Every parameter pinned: RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt; pure Ed25519. */
const WEB: Partial<
  Record<SignatureAlgorithm, { import: RsaHashedImportParams | Algorithm; sign: RsaPssParams | Algorithm }>
> = {
  'rsa-pss-sha256': {
    import: { name: 'RSA-PSS', hash: 'SHA-256' },
    sign: { name: 'RSA-PSS', saltLength: 32 } as RsaPssParams,
  },
  ed25519: { import: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
};

function web(alg: SignatureAlgorithm) {
  const params = WEB[alg];
  if (!params) throw new ClientError(`${alg} signatures are not available in this client`);
  return params;
}

/**
 * RSA-PSS and Ed25519 on `globalThis.crypto.subtle`; `others` (e.g. a DSA provider) serves the
 * rest. Private keys are imported non-extractable.
 */
export function webCryptoSignatures(others?: SignatureProvider): SignatureProvider {
  const subtle = globalThis.crypto.subtle;
  const route = (alg: SignatureAlgorithm) => (WEB[alg] || !others ? undefined : others);
  return {
    canSign: (alg) => (WEB[alg] ? true : (others?.canSign?.(alg) ?? others !== undefined)),
    async importPublic(alg, spki) {
      const other = route(alg);
      if (other) return other.importPublic(alg, spki);
      return subtle.importKey('spki', spki, web(alg).import, true, ['verify']);
    },
    async importPrivate(alg, pkcs8) {
      const other = route(alg);
      if (other) return other.importPrivate(alg, pkcs8);
      return subtle.importKey('pkcs8', pkcs8, web(alg).import, false, ['sign']);
    },
    async sign(alg, key, data) {
      const other = route(alg);
      if (other) return other.sign(alg, key, data);
      return new Uint8Array(await subtle.sign(web(alg).sign, key as CryptoKey, data));
    },
    async verify(alg, key, data, signature) {
      const other = route(alg);
      if (other) return other.verify(alg, key, data, signature);
      try {
        return await subtle.verify(web(alg).sign, key as CryptoKey, signature, data);
      } catch {
        return false;
      }
    },
  };
}

/** A PEM public key imported for verification (the caller has checked it with checkPublicKey). */
export async function importPublicPem(provider: SignatureProvider, alg: SignatureAlgorithm, pem: string) {
  const der = pemToDer(pem, 'PUBLIC KEY');
  if (!der) throw new ClientError(`the ${alg} key is not a PEM public key`);
  return provider.importPublic(alg, der);
}

/** A PKCS#8 PEM private key imported for signing (non-extractable where the provider can). */
export async function importPrivatePem(provider: SignatureProvider, alg: SignatureAlgorithm, pem: string) {
  const der = pemToDer(pem, 'PRIVATE KEY');
  if (!der) throw new ClientError(`the ${alg} key is not a PKCS#8 PEM private key`);
  return provider.importPrivate(alg, der);
}
