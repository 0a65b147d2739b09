import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  canonicalPem,
  fingerprint,
  type PublicKeySet,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
} from '../crypto/keys.js';
import type { KeyChange } from '../store/account-types.js';
import type { Store } from '../store/types.js';

export interface ParsedKeys {
  encryption: KeyObject;
  signing: Record<SignatureAlgorithm, KeyObject>;
  fingerprints: Record<'encryption' | SignatureAlgorithm, string>;
  pems: PublicKeySet;
  removed: boolean;
  changes: KeyChange[];
}

/**
 * Users' public keys, parsed once per change: a change (here or on another instance: the bus
 * says) forgets them, and a read that began before a change is not kept.
 */
export function publicKeyCache(store: Store) {
  const keyCache = new Map<string, ParsedKeys>();
  const forgottenAt = new Map<string, number>();
  let generations = 0;
  let clearedAt = 0;

  function forget(username?: string): void {
    generations += 1;
    if (username === undefined) {
      keyCache.clear();
      clearedAt = generations;
    } else {
      keyCache.delete(username);
      forgottenAt.set(username, generations);
    }
  }

  async function keysOf(username: string): Promise<ParsedKeys | undefined> {
    const cached = keyCache.get(username);
    if (cached) return cached;
    const started = generations;
    const user = await store.getUser(username);
    if (!user) return undefined;
    const signing = Object.fromEntries(
      SIGNATURE_ALGORITHMS.map((alg) => [alg, createPublicKey(user.keys.signing[alg])]),
    ) as Record<SignatureAlgorithm, KeyObject>;
    const encryption = createPublicKey(user.keys.encryption);
    const parsed: ParsedKeys = {
      encryption,
      signing,
      // served as canonical SPKI PEM, also for keys stored before registration re-exported them
      pems: {
        encryption: canonicalPem(encryption),
        signing: {
          'rsa-pss-sha256': canonicalPem(signing['rsa-pss-sha256']),
          'dsa-sha256': canonicalPem(signing['dsa-sha256']),
          ed25519: canonicalPem(signing.ed25519),
        },
      },
      fingerprints: {
        encryption: fingerprint(encryption),
        'rsa-pss-sha256': fingerprint(signing['rsa-pss-sha256']),
        'dsa-sha256': fingerprint(signing['dsa-sha256']),
        ed25519: fingerprint(signing.ed25519),
      },
      removed: !!user.removedAt,
      changes: user.keyChanges ?? [],
    };
    if ((forgottenAt.get(username) ?? 0) <= started && clearedAt <= started) keyCache.set(username, parsed);
    return parsed;
  }
  return { keysOf, forget };
}
