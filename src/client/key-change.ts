/**
 * Accounts over time (protocol.md): the continuity string a user signs with a current signing
 * key when replacing their keys, over the new keys' fingerprints. The server builds the same
 * string from here.
 */

import { fromBase64, utf8 } from './bytes.js';
import {
  checkPublicKey,
  FINGERPRINT_KEYS,
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
 * the pin), "reset" when a step is an administrator's reset (no continuity), "unexplained" when a
 * user's step does not verify or the changes do not lead from the pin to the current keys at all.
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
    if (await continuityVerifies(provider, username, changes[i])) continue;
    // only an administrator's reset goes without continuity; a user's step that fails is unexplained
    if (changes[i].by !== 'administrator' || changes[i].continuity !== null) return 'unexplained';
    kind = 'reset';
  }
  return sameFingerprints(changes[changes.length - 1].fingerprints, current) ? kind : 'unexplained';
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Whether a value from the server is a set of four fingerprints. */
export function isFingerprints(value: unknown): value is Fingerprints {
  return (
    typeof value === 'object' &&
    value !== null &&
    FINGERPRINT_KEYS.every((k) => HEX64.test(String((value as Record<string, unknown>)[k])))
  );
}

/**
 * What a first contact takes on trust, as it takes the keys themselves: the current keys and,
 * walking back through `changes`, each step's previous keys while the chain holds together.
 */
export function chainTo(current: Fingerprints, changes: readonly KeyChangeRecord[]): Fingerprints[] {
  const sets = [current];
  let at = current;
  for (let i = changes.length - 1; i >= 0; i--) {
    const c = changes[i];
    if (!isFingerprints(c?.fingerprints) || !isFingerprints(c.previous?.fingerprints)) break;
    if (!sameFingerprints(c.fingerprints, at)) break;
    at = c.previous.fingerprints;
    sets.push(at);
  }
  return sets;
}

/**
 * The key sets `trusted`, and each that a step of `changes` leads to from one of them with a
 * continuity signature that verifies under the keys before it (the chain followed from what this
 * client trusted, never from keys the server alone vouches for).
 */
export async function reachedByContinuity(
  provider: SignatureProvider,
  username: string,
  trusted: readonly Fingerprints[],
  changes: readonly KeyChangeRecord[],
): Promise<Fingerprints[]> {
  const sets = [...trusted];
  const has = (f: Fingerprints) => sets.some((s) => sameFingerprints(s, f));
  for (const c of changes) {
    if (!isFingerprints(c?.fingerprints) || !isFingerprints(c.previous?.fingerprints)) continue;
    if (
      has(c.previous.fingerprints) &&
      !has(c.fingerprints) &&
      (await continuityVerifies(provider, username, c))
    )
      sets.push(c.fingerprints);
  }
  return sets;
}
