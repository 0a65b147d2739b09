import type { Answer, RequestBody } from '../contract/index.js';
import type { Api } from './api.js';
import { ApiError, ClientError } from './errors.js';
import { keyStoreFingerprints } from './keygen.js';
import { FINGERPRINT_KEYS, type PemKeyPairSet } from './keys.js';

export interface SelfRegistration {
  username: string;
  password: string;
  /** The one-time code an administrator made for this username (`npm run user:invite`). */
  code: string;
  /** The key store made on this device: only its public halves are sent. */
  keys: PemKeyPairSet;
}

const REFUSED: Record<string, string> = {
  INVALID_CODE: 'the code is wrong, used or expired, or was made for another username',
  USERNAME_TAKEN: 'that username is taken',
};

/**
 * POST /users. The answer is checked against what was asked: the same username, and fingerprints
 * of exactly the keys sent (a server that registered other keys would be caught here).
 */
export async function register(api: Api, { username, password, code, keys }: SelfRegistration) {
  const body: RequestBody<'registerUser'> = {
    username,
    password,
    code,
    encryptionKey: keys.encryption.publicKey,
    signingKeys: {
      'rsa-pss-sha256': keys.signing['rsa-pss-sha256'].publicKey,
      'dsa-sha256': keys.signing['dsa-sha256'].publicKey,
      ed25519: keys.signing.ed25519.publicKey,
    },
  };
  let answer: Answer<'registerUser'>;
  try {
    answer = await api.registerUser(body);
  } catch (error) {
    // the code is the server's data: only our own entries, never what Object.prototype holds
    if (error instanceof ApiError && Object.hasOwn(REFUSED, error.code))
      throw new ClientError(`registration refused: ${REFUSED[error.code]}`);
    if (error instanceof ApiError && error.status === 429) {
      const wait = error.retryAfter === undefined ? 'later' : `in ${error.retryAfter} s`;
      throw new ClientError(`registration refused: too many wrong codes; try again ${wait}`);
    }
    throw error;
  }
  const expected = await keyStoreFingerprints(keys);
  const fingerprints = (answer as { fingerprints?: Record<string, unknown> } | undefined)?.fingerprints;
  if (answer?.username !== username || !FINGERPRINT_KEYS.every((k) => fingerprints?.[k] === expected[k]))
    throw new ClientError('the server answered the registration for other keys or another user');
  return { username, fingerprints: expected };
}
