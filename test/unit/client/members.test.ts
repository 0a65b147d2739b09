import { describe, expect, it } from 'vitest';
import {
  checkCommitter,
  checkMemberEnvelope,
  commitRefusal,
  describeChange,
  importPublicPem,
  memberEnvelopeSigningText,
  type PendingEpoch,
  verifyMemberSignature,
  webCryptoSignatures,
} from '../../../src/client/index.js';
import { forgeEnvelopes, keyStore } from '../../support/library.js';

// The members-mode rules of the client library, without a server: what the web client and the
// CLI both rely on (protocol.md, "Chats the server cannot read").
const CHAT = '0f8fad5b-d9cb-469f-a165-70867728950e';
const pending = (p: Partial<PendingEpoch>): PendingEpoch => ({
  epoch: 3,
  members: ['alice', 'bob'],
  added: [],
  removed: [],
  reason: 'age',
  ...p,
});

describe('which pending epochs a client commits', () => {
  const asked = new Set(['carol']);
  it('commits additions it asked for, removals and rotations, when the list is its record with the changes', () => {
    expect(commitRefusal(pending({}), 'alice', ['alice', 'bob'], new Set())).toBeUndefined();
    expect(
      commitRefusal(
        pending({ members: ['alice', 'bob', 'carol'], added: ['carol'] }),
        'alice',
        ['alice', 'bob'],
        asked,
      ),
    ).toBeUndefined();
    expect(
      commitRefusal(
        pending({ members: ['alice'], removed: ['bob'], reason: 'leave' }),
        'alice',
        ['alice', 'bob'],
        new Set(),
      ),
    ).toBeUndefined();
    // epoch 1: the creator and the invitees it asked for
    expect(
      commitRefusal(
        pending({ epoch: 1, members: ['alice', 'carol'], added: ['carol'] }),
        'alice',
        ['alice'],
        asked,
      ),
    ).toBeUndefined();
  });

  it('refuses a ghost, named as an addition or hidden in the list, and lists without this user', () => {
    const ghost = pending({ members: ['alice', 'bob', 'mallory'], added: ['mallory'], reason: 'invite' });
    expect(commitRefusal(ghost, 'alice', ['alice', 'bob'], asked)).toMatch(
      /adds mallory, whom you did not invite/,
    );
    const hidden = pending({ members: ['alice', 'bob', 'mallory'] });
    expect(commitRefusal(hidden, 'alice', ['alice', 'bob'], asked)).toMatch(
      /is not your record with its changes/,
    );
    const dropped = pending({ members: ['alice'] });
    expect(commitRefusal(dropped, 'alice', ['alice', 'bob'], asked)).toMatch(/is not your record/);
    expect(commitRefusal(pending({ members: ['bob'] }), 'alice', ['alice', 'bob'], asked)).toMatch(
      /not in its member list/,
    );
    const stranger = pending({ members: ['alice'], removed: ['zed'] });
    expect(commitRefusal(stranger, 'alice', ['alice', 'bob'], asked)).toMatch(/do not match your record/);
    expect(commitRefusal(pending({}), 'alice', undefined, asked)).toMatch(/no verified record/);
  });
});

describe('member-made envelopes', () => {
  async function committed(signer: string, members: string[], committer = signer) {
    const provider = webCryptoSignatures();
    return { ...(await forgeEnvelopes(signer, CHAT, 2, members, committer, provider)), provider };
  }

  it('are built for every member, sorted, and verify under the committer key only', async () => {
    const { body, envelopes, provider } = await committed('alice', ['bob', 'alice']);
    expect(body.members).toEqual(['alice', 'bob']);
    expect(body.envelopes.map((e) => e.recipient)).toEqual(['alice', 'bob']);
    expect(new Set(body.envelopes.map((e) => e.wrappedKey)).size).toBe(2);
    const aliceKey = await importPublicPem(
      provider,
      'ed25519',
      (await keyStore('alice')).signing.ed25519.publicKey,
    );
    const bobKey = await importPublicPem(
      provider,
      'ed25519',
      (await keyStore('bob')).signing.ed25519.publicKey,
    );
    expect(await verifyMemberSignature(provider, aliceKey, envelopes[1])).toBe(true);
    expect(await verifyMemberSignature(provider, bobKey, envelopes[1])).toBe(false);
    // every signed field counts: another member list, another recipient
    expect(
      await verifyMemberSignature(provider, aliceKey, {
        ...envelopes[1],
        members: ['alice', 'bob', 'carol'],
      }),
    ).toBe(false);
    expect(await verifyMemberSignature(provider, aliceKey, { ...envelopes[1], recipient: 'alice' })).toBe(
      false,
    );
    expect(memberEnvelopeSigningText(envelopes[0]).split('\n')).toEqual([
      'securechat/v1/member-key',
      CHAT,
      '2',
      'alice',
      envelopes[0].wrappedKey,
      envelopes[0].issuedAt,
      'alice',
      'alice,bob',
    ]);
  });

  it('are refused for a list without this user, a committer outside the list or the previous epoch', async () => {
    const { envelopes } = await committed('alice', ['alice', 'bob']);
    const [forAlice] = envelopes;
    expect(() => checkMemberEnvelope({ ...forAlice, members: ['bob', 'carol'] }, 'alice')).toThrow(
      /does not include you/,
    );
    expect(() => checkMemberEnvelope({ ...forAlice, committer: 'erin' }, 'alice')).toThrow(
      /erin, who is not a member of it/,
    );
    expect(() => checkMemberEnvelope({ ...forAlice, members: ['bob', 'alice'] }, 'alice')).toThrow(
      /not sorted/,
    );
    expect(() => checkMemberEnvelope(forAlice, 'alice')).not.toThrow();
    const previous = { ...forAlice, epoch: 1, members: ['bob', 'carol'] };
    expect(() => checkCommitter(previous, forAlice)).toThrow(/alice, who was not a member of epoch 1/);
    const change = checkCommitter({ ...forAlice, epoch: 1, members: ['alice', 'carol'] }, forAlice);
    expect(change).toMatchObject({ added: ['bob'], removed: ['carol'], firstSeen: false });
    expect(describeChange(change, 'bob')).toBe(
      'epoch 2: bob added by alice; carol left (new key made by alice)',
    );
    expect(describeChange(checkCommitter(undefined, forAlice), 'bob')).toBe(
      'epoch 2: you were added by alice (members: alice, bob)',
    );
  });
});
