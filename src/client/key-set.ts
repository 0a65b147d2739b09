import { KeyCheckError } from './errors.js';
import {
  checkPublicKey,
  type Fingerprints,
  fingerprint,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
} from './keys.js';
import type { KeyHandle, SignatureProvider } from './signatures.js';

/** A user's four public keys (SPKI PEM), checked as registration checks them, with their fingerprints. */
export async function checkedKeySet(
  provider: SignatureProvider,
  encryptionKey: unknown,
  signingKeys: Partial<Record<SignatureAlgorithm, unknown>> | undefined,
): Promise<{ keys: Record<SignatureAlgorithm, KeyHandle>; fingerprints: Fingerprints }> {
  const fingerprints = {
    encryption: await fingerprint(checkPublicKey(encryptionKey, 'encryption')),
  } as Fingerprints;
  const keys = {} as Record<SignatureAlgorithm, KeyHandle>;
  for (const alg of SIGNATURE_ALGORITHMS) {
    const der = checkPublicKey(signingKeys?.[alg], alg);
    fingerprints[alg] = await fingerprint(der);
    try {
      keys[alg] = await provider.importPublic(alg, der);
    } catch {
      throw new KeyCheckError(`${alg} key is not a PEM public key`);
    }
  }
  return { keys, fingerprints };
}
