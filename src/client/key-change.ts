/**
 * Accounts over time (protocol.md): the continuity string a user signs with a current signing
 * key when replacing their keys, over the new keys' fingerprints. The server builds the same
 * string from here.
 */

import { fromBase64, utf8 } from './bytes.js';
import {
  checkPublicKey,
  type Fingerprints,
  fingerprint,
  isSignatureAlgorithm,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
  sameFingerprints,
} from './keys.js';
import type { KeyHandle, SignatureProvider } from './signatures.js';

export interface KeyFingerprints {
  encryption: string;
  'rsa-pss-sha256': string;
  'dsa-sha256': string;
  ed25519: string;
}

/** `securechat/v1/key-change\n{username}\n{encryption}\n{rsa-pss-sha256}\n{dsa-sha256}\n{ed25519}\n{issuedAt}`. */
export function keyChangeSigningText(
  username: string,
  fingerprints: KeyFingerprints,
  issuedAt: string,
): string {
  return [
    'securechat/v1/key-change',
    username,
    fingerprints.encryption,
    fingerprints['rsa-pss-sha256'],
    fingerprints['dsa-sha256'],
    fingerprints.ed25519,
    issuedAt,
  ].join('\n');
}

/** One step of `changes` in `GET /users/{username}/keys`, as the server sends it (checked before use). */
export interface KeyChangeRecord {
  at: string;
  fingerprints: Fingerprints;
  previous: { fingerprints: Fingerprints; signingKeys: Record<SignatureAlgorithm, string> };
  continuity: { signatureAlgorithm: string; signature: string; issuedAt: string } | null;
  by: 'user' | 'administrator';
}

/** What kind of change lies between the pinned keys and the current ones (protocol.md, "What clients show"). */
export type ChangeKind = 'continuity' | 'reset' | 'unexplained';

/** The signing keys a step replaced, when their fingerprints are the ones the step names; else undefined. */
export async function previousKeys(
  provider: SignatureProvider,
  change: KeyChangeRecord,
): Promise<Record<SignatureAlgorithm, KeyHandle> | undefined> {
  const keys = {} as Record<SignatureAlgorithm, KeyHandle>;
  try {
    for (const alg of SIGNATURE_ALGORITHMS) {
      const der = checkPublicKey(change.previous?.signingKeys?.[alg], alg);
      if ((await fingerprint(der)) !== change.previous.fingerprints[alg]) return undefined;
      keys[alg] = await provider.importPublic(alg, der);
    }
  } catch {
    return undefined;
  }
  return keys;
}

/** Whether a step's continuity signature verifies under the signing keys it replaced, over its new fingerprints. */
export async function continuityVerifies(
  provider: SignatureProvider,
  username: string,
  change: KeyChangeRecord,
): Promise<boolean> {
  const c = change.continuity;
  if (!c || !isSignatureAlgorithm(c.signatureAlgorithm) || typeof c.issuedAt !== 'string') return false;
  const keys = await previousKeys(provider, change);
  const signature = typeof c.signature === 'string' ? fromBase64(c.signature) : undefined;
  if (!keys || !signature) return false;
  const text = keyChangeSigningText(username, change.fingerprints, c.issuedAt);
  return provider.verify(c.signatureAlgorithm, keys[c.signatureAlgorithm], utf8(text), signature);
}

/**
 * How the keys went from `pinned` to `current`: "continuity" when every step from the pinned keys
 * carries a continuity signature that verifies under the keys before it (the chain followed from
 * the pin), "reset" when a step does not (an administrator's reset), "unexplained" when the
 * changes do not lead from the pin to the current keys at all.
 */
export async function changeKind(
  provider: SignatureProvider,
  username: string,
  pinned: Fingerprints,
  current: Fingerprints,
  changes: readonly KeyChangeRecord[],
): Promise<ChangeKind> {
  const start = changes.findIndex((c) =>
    sameFingerprints(c.previous?.fingerprints ?? ({} as Fingerprints), pinned),
  );
  if (start < 0) return 'unexplained';
  let kind: ChangeKind = 'continuity';
  for (let i = start; i < changes.length; i++) {
    if (i > start && !sameFingerprints(changes[i].previous.fingerprints, changes[i - 1].fingerprints))
      return 'unexplained';
    if (!(await continuityVerifies(provider, username, changes[i]))) kind = 'reset';
  }
  return sameFingerprints(changes[changes.length - 1].fingerprints, current) ? kind : 'unexplained';
}
