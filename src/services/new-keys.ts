import { createPublicKey } from 'node:crypto';
import { checkPublicKeySet, fingerprint, KeyCheckError, type PublicKeySet } from '../crypto/keys.js';
import { Errors } from '../errors.js';
import type { Fingerprints } from '../store/account-types.js';
import { checkNewPassword, RegistrationError } from './accounts.js';

// What a key replacement or a reset brings (new keys, a new password), checked as registration
// checks it and answered with the protocol's problems (400 INVALID_KEY, 400 WEAK_PASSWORD).

export interface NewKeys {
  encryptionKey: string;
  signingKeys: PublicKeySet['signing'];
}

export function fingerprintsOf(keys: PublicKeySet): Fingerprints {
  return {
    encryption: fingerprint(createPublicKey(keys.encryption)),
    'rsa-pss-sha256': fingerprint(createPublicKey(keys.signing['rsa-pss-sha256'])),
    'dsa-sha256': fingerprint(createPublicKey(keys.signing['dsa-sha256'])),
    ed25519: fingerprint(createPublicKey(keys.signing.ed25519)),
  };
}

/** Keys checked as registration checks them (400 INVALID_KEY), in their canonical form. */
export async function checkedKeys(input: NewKeys): Promise<PublicKeySet> {
  try {
    return await checkPublicKeySet({ encryption: input.encryptionKey, signing: input.signingKeys });
  } catch (error) {
    if (error instanceof KeyCheckError) throw new Errors.INVALID_KEY(error.message);
    throw error;
  }
}

export function checkPassword(password: string): void {
  try {
    checkNewPassword(password);
  } catch (error) {
    if (error instanceof RegistrationError) throw new Errors.WEAK_PASSWORD(error.message);
    throw error;
  }
}
