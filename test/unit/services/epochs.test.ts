import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Fanout } from '../../../src/bus/types.js';
import { createEpochs } from '../../../src/services/epochs.js';
import { WorkQueue } from '../../../src/services/limiter.js';
import type { ChatRecord } from '../../../src/store/chat-types.js';
import type { Store } from '../../../src/store/types.js';

// The costly part of a members-mode commit, its signature checks, with a store that holds one chat
// whose epoch 2 waits for a commit, and a verifier that counts (security round 2, #4).

const MEMBERS = Array.from({ length: 40 }, (_, i) => `m${String(i).padStart(2, '0')}`);
const chat: ChatRecord = {
  id: 'c1',
  epoch: 1,
  createdBy: 'm00',
  createdAt: '2026-01-01T00:00:00.000Z',
  members: MEMBERS.map((username) => ({ username, state: 'joined', sinceEpoch: 1 })),
  keyMode: 'members',
  pending: { epoch: 2, members: MEMBERS, added: [], removed: [], reason: 'messages' },
};
const store = { getChat: async () => chat } as unknown as Store;
const bus = {} as Fanout;
const key = generateKeyPairSync('ed25519').publicKey;

const commit = () => ({
  epoch: 2,
  members: MEMBERS,
  issuedAt: '2026-01-01T00:00:01.000Z',
  envelopes: MEMBERS.map((recipient) => ({
    recipient,
    wrappedKey: 'AAAA',
    signatureAlgorithm: 'ed25519' as const,
    signature: 'AAAA',
  })),
});

/** Epochs whose verifier answers `valid(n)` for its n-th call, noting the share's tasks running then. */
function epochsWith(valid: (n: number) => boolean) {
  const signing = new WorkQueue(1);
  const calls: number[] = [];
  const epochs = createEpochs({
    store,
    bus,
    accounts: { signingKey: async () => key, publicKeys: async () => ({ changes: [] }) as never },
    view: async () => ({}) as never,
    signing,
    verify: async () => {
      calls.push(signing.size.active);
      return valid(calls.length);
    },
  });
  return { epochs, calls };
}

const codeOf = (error: unknown) => (error as { code?: string }).code;

describe('a commit’s signature checks', () => {
  it('stop at the first bad signature: a bad first one costs one verification, not one per member', async () => {
    const { epochs, calls } = epochsWith(() => false);
    const error = await epochs.commit('c1', 'm00', commit()).catch((e) => e);
    expect(codeOf(error)).toBe('BAD_SIGNATURE');
    expect(error.message).toMatch(/m00/);
    expect(calls).toHaveLength(1);
  });

  it('run one at a time, inside the signing share of the thread pool', async () => {
    const { epochs, calls } = epochsWith((n) => n < 10);
    const error = await epochs.commit('c1', 'm00', commit()).catch((e) => e);
    expect(codeOf(error)).toBe('BAD_SIGNATURE');
    expect(error.message).toMatch(/m09/);
    // each verification ran as the share's one task (not beside another of its own commit)
    expect(calls).toEqual(new Array(10).fill(1));
  });
});
