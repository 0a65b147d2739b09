import type { Bytes } from './bytes.js';
import { unwrapChatKeyBytes } from './envelope.js';
import type { UserKeys } from './user-keys.js';

/**
 * Accounts over time: a user who replaced their keys keeps the old private keys aside, so that
 * what was wrapped for them (the key envelopes this device kept from before the change; in a
 * members-mode chat, every earlier epoch) still opens, if it was issued before the key was
 * replaced. The current key is tried first.
 */
export function decryptionKeys(keys: UserKeys, issuedAt: unknown): readonly CryptoKey[] {
  const issued = typeof issuedAt === 'string' ? Date.parse(issuedAt) : Number.NaN;
  // an envelope issued after a key was replaced is not opened with it (see FormerKey)
  const former = Number.isNaN(issued) ? [] : (keys.former ?? []).filter((f) => issued < f.replacedAt);
  return [keys.encryption, ...former.map((f) => f.key)];
}

/** A wrapped chat key opened by the first of `keys` that opens it; the first key's failure otherwise. */
export async function unwrapWithAny(
  keys: readonly CryptoKey[],
  wrappedKey: unknown,
  onOpened?: (index: number) => void,
): Promise<Bytes> {
  let first: unknown;
  for (const [i, key] of keys.entries()) {
    try {
      const bytes = await unwrapChatKeyBytes(key, wrappedKey);
      onOpened?.(i);
      return bytes;
    } catch (error) {
      if (i === 0) first = error;
    }
  }
  throw first ?? new Error('no key to unwrap with');
}
