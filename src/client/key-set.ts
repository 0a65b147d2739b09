import type { Api } from './api.js';
import { ClientError, KeyCheckError } from './errors.js';
import {
  checkPublicKey,
  type Fingerprints,
  fingerprint,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
} from './keys.js';
import type { KeyHandle, SignatureProvider } from './signatures.js';
import { escapeControls } from './text.js';
import type { UserKeys } from './user-keys.js';

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

/** The user's own fingerprints, to compare out of band. */
export async function ownFingerprints(provider: SignatureProvider, keys: UserKeys): Promise<Fingerprints> {
  const pub = keys.publicKeys;
  return (await checkedKeySet(provider, pub.encryption, pub.signing)).fingerprints;
}

/**
 * That the key store a client was given is this user's: each of its public keys' fingerprint is
 * the one the server has registered for the user (as the page checks the files picked).
 * Otherwise every message would be refused later, for a reason nobody could see.
 */
export async function checkOwnKeys(
  api: Api,
  provider: SignatureProvider,
  username: string,
  keys: UserKeys,
): Promise<void> {
  const res = await api.getUserKeys(username);
  const registered = (await checkedKeySet(provider, res?.encryptionKey, res?.signingKeys)).fingerprints;
  const mine = await ownFingerprints(provider, keys);
  const differ = (Object.keys(mine) as (keyof Fingerprints)[]).filter((k) => mine[k] !== registered[k]);
  if (differ.length > 0)
    throw new ClientError(
      `these are not ${escapeControls(username)}'s keys: the ${differ.join(', ')} key's fingerprint differs from the one registered on the server`,
    );
}
