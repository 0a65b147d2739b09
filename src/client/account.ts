import type { Answer, RequestBody } from '../contract/index.js';
import type { Api } from './api.js';
import { toBase64, utf8 } from './bytes.js';
import { ApiError, ClientError } from './errors.js';
import { keyChangeSigningText } from './key-change.js';
import { keyStoreFingerprints } from './keygen.js';
import { FINGERPRINT_KEYS, type PemKeyPairSet, type SignatureAlgorithm } from './keys.js';
import type { SignatureProvider } from './signatures.js';
import type { UserKeys } from './user-keys.js';

/** Accounts over time (protocol.md): new keys with a continuity signature, or a reset with a code. */

const publicBody = (keys: PemKeyPairSet) => ({
  encryptionKey: keys.encryption.publicKey,
  signingKeys: {
    'rsa-pss-sha256': keys.signing['rsa-pss-sha256'].publicKey,
    'dsa-sha256': keys.signing['dsa-sha256'].publicKey,
    ed25519: keys.signing.ed25519.publicKey,
  },
});

/** The server's answer must name exactly the keys sent. */
async function checkAnswer(answer: Answer<'replaceKeys'> | undefined, username: string, keys: PemKeyPairSet) {
  const expected = await keyStoreFingerprints(keys);
  const fingerprints = (answer as { fingerprints?: Record<string, unknown> } | undefined)?.fingerprints;
  if (answer?.username !== username || !FINGERPRINT_KEYS.every((k) => fingerprints?.[k] === expected[k]))
    throw new ClientError('the server answered the key change for other keys or another user');
  return { username, fingerprints: expected };
}

const REFUSED: Record<string, string> = {
  INVALID_CREDENTIALS: 'the password is wrong',
  INVALID_CODE: 'the code is wrong, used or expired',
  INVALID_KEY: 'the server refused the new keys',
  BAD_SIGNATURE: 'the server did not accept the signature by your current key',
  WEAK_PASSWORD: 'the new password is too short or too long',
};

function refused(error: unknown): never {
  if (error instanceof ApiError && Object.hasOwn(REFUSED, error.code))
    throw new ClientError(`refused: ${REFUSED[error.code]} (${error.detail})`);
  throw error;
}

/**
 * PUT /users/me/keys: registers `next` (made on this device) in place of the current keys, with a
 * continuity signature by the current `alg` key over the new fingerprints.
 */
export async function replaceKeys(
  api: Api,
  input: {
    username: string;
    password: string;
    current: UserKeys;
    provider: SignatureProvider;
    next: PemKeyPairSet;
    alg?: SignatureAlgorithm;
  },
) {
  const alg = input.alg ?? 'ed25519';
  const signer = input.current.signing[alg];
  if (signer === undefined) throw new ClientError(`this client cannot sign with ${alg}`);
  const issuedAt = new Date().toISOString();
  const text = keyChangeSigningText(input.username, await keyStoreFingerprints(input.next), issuedAt);
  const signature = toBase64(await input.provider.sign(alg, signer, utf8(text)));
  const body: RequestBody<'replaceKeys'> = {
    currentPassword: input.password,
    ...publicBody(input.next),
    continuity: { signatureAlgorithm: alg, signature, issuedAt },
  };
  const answer = await api.replaceKeys(body).catch(refused);
  return checkAnswer(answer, input.username, input.next);
}

/** PUT /users/{username}/keys with the administrator's one-time reset code (no token). */
export async function resetKeys(
  api: Api,
  input: { username: string; code: string; next: PemKeyPairSet; newPassword?: string },
) {
  const body: RequestBody<'resetKeys'> = {
    code: input.code,
    ...publicBody(input.next),
    ...(input.newPassword !== undefined && { newPassword: input.newPassword }),
  };
  const answer = await api.resetKeys(input.username, body).catch(refused);
  return checkAnswer(answer, input.username, input.next);
}
