import { beforeAll, describe, expect, it } from 'vitest';
import {
  changeKind,
  type Fingerprints,
  type KeyChangeRecord,
  keyStoreFingerprints,
  type PemKeyPairSet,
} from '../../../src/client/index.js';
import { nodeSignatures } from '../../../src/client/node/index.js';
import { keyStore } from '../../support/library.js';

// What clients show (protocol.md, Accounts over time): which kind of change lies between the
// pinned keys and the current ones.
const provider = nodeSignatures();
let alice: PemKeyPairSet;
let carol: PemKeyPairSet;
let pinned: Fingerprints;
let current: Fingerprints;
beforeAll(async () => {
  [alice, carol] = await Promise.all([keyStore('alice'), keyStore('carol')]);
  [pinned, current] = await Promise.all([keyStoreFingerprints(alice), keyStoreFingerprints(carol)]);
});

const step = (over: Partial<KeyChangeRecord>): KeyChangeRecord => ({
  at: new Date().toISOString(),
  fingerprints: current,
  previous: {
    fingerprints: pinned,
    signingKeys: Object.fromEntries(
      Object.entries(alice.signing).map(([a, p]) => [a, p.publicKey]),
    ) as KeyChangeRecord['previous']['signingKeys'],
  },
  continuity: null,
  by: 'administrator',
  ...over,
});

describe('the kind of a key change', () => {
  it("calls a user's change whose continuity does not verify unexplained, not a reset (accounts review, #6)", async () => {
    const bad = step({
      by: 'user',
      continuity: { signatureAlgorithm: 'ed25519', signature: 'AAAA', issuedAt: new Date().toISOString() },
    });
    expect(await changeKind(provider, 'alice', pinned, current, [bad])).toBe('unexplained');
    expect(await changeKind(provider, 'alice', pinned, current, [step({ by: 'user' })])).toBe('unexplained');
  });

  it("calls an administrator's step without continuity a reset", async () => {
    expect(await changeKind(provider, 'alice', pinned, current, [step({})])).toBe('reset');
  });
});
