import { createHmac, createPublicKey, type KeyObject } from 'node:crypto';
import { fingerprint } from '../crypto/keys.js';
import type { Store } from '../store/types.js';

/**
 * Instances that share a database must share the JWT secret (a token from one is checked by
 * another) and the envelope-signing key (clients pin it). The first instance records a check
 * value of each in the database; one that differs refuses to start, saying which and why.
 */
export async function checkSharedIdentity(
  store: Store,
  jwtSecret: string,
  serverKey: KeyObject,
): Promise<void> {
  const secretCheck = createHmac('sha256', jwtSecret)
    .update('securechat: instances share this secret')
    .digest('base64url');
  if ((await store.claim('jwt_secret_check', secretCheck)) !== secretCheck) {
    throw new Error(
      'this instance has a different JWT secret from the instances already using this database: give every instance the same SECURECHAT_JWT_SECRET (or the same data folder)',
    );
  }
  const keyFingerprint = fingerprint(createPublicKey(serverKey));
  if ((await store.claim('server_key_fingerprint', keyFingerprint)) !== keyFingerprint) {
    throw new Error(
      `this instance's server signing key (${keyFingerprint}) is not the one the instances already using this database sign with: copy keys/server/signing.key.pem from them`,
    );
  }
}
