import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chat } from '../../../src/client/index.js';
import { sealEnvelope, wrapKey } from '../../../src/crypto/envelope.js';
import { startServer, type TestServer } from '../../support/helper.js';
import { forgeEnvelopes, keyStore } from '../../support/library.js';
import { chatOf, epochOf, inject, loginEach, type Member, say, specApi } from '../../support/members.js';

// The keys of a members-mode chat reach its members only: envelopes forged by a non-member or a
// former member, a replayed commit, and a compromised server that answers what it likes (with a
// member colluding). Each case is a way a client could take a key it should not.
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

const { login } = loginEach(() => server);

describe('a members-mode client takes no key a lying server hands it', () => {
  it('refuses a server-made envelope in a chat whose keys its members make (downgrade)', async () => {
    const [alice, bob] = await login('alice', 'bob');
    const chatId = await chatOf(alice, bob);
    const serverKey = await readFile(path.join(server.keysDir, 'server', 'signing.key.pem'), 'utf8');
    const forged = await sealEnvelope(serverKey, {
      chatId,
      epoch: 2,
      recipient: 'alice',
      wrappedKey: wrapKey((await keyStore('alice')).encryption.publicKey, randomBytes(32)),
      issuedAt: new Date().toISOString(),
    });
    await expect(alice.client.chatKeys.accept(forged, { chatId })).rejects.toThrow(/made by the server/);
    expect(epochOf(alice, chatId)).toBe(1);
  });

  it('an invitation answered with another chat vouches for nobody in that chat', async () => {
    const [alice, bob] = await login('alice', 'bob');
    await login('carol'); // online, so invitable
    const asked = await chatOf(alice, bob);
    const other = await chatOf(alice, bob);
    // carol waits to be added to the other chat, which nobody asked for
    await inject(server, other, {
      pending: {
        epoch: 2,
        members: ['alice', 'bob', 'carol'],
        added: ['carol'],
        removed: [],
        reason: 'invite',
        additionsSince: new Date().toISOString(),
      },
    });
    await alice.until(() => alice.refused.some((r) => r.chatId === other));
    // alice invites carol to the first chat; the server answers with the other one
    const api = alice.client.api;
    const call = api.call.bind(api);
    api.call = (async (method: string, path: string, body?: unknown) =>
      path === `/chats/${asked}/invite`
        ? { chat: await call<Chat>('GET', `/chats/${other}`), unavailable: [] }
        : call(method, path, body)) as typeof api.call;
    await expect(alice.client.invite(asked, ['carol'])).rejects.toThrow(
      /answered the invitation to chat .* with chat .*; nothing taken$/,
    );
    api.call = call;
    expect(await alice.client.commits.commitPending(other)).toEqual({
      status: 'refused',
      reason: 'it adds carol, whom you did not invite',
    });
    expect(epochOf(alice, other)).toBe(1);
  });

  it('checks the committer against the latest epoch it holds when the server withholds the one before', async () => {
    const [alice, bob] = await login('alice', 'bob');
    const chatId = await chatOf(alice, bob);
    // erin, never a member, makes epoch 3; the server answers KEY_NOT_FOUND for epoch 2
    const forged = await forgeEnvelopes('erin', chatId, 3, ['alice', 'bob', 'erin']);
    const forAlice = forged.envelopes.find((e) => e.recipient === 'alice');
    await expect(alice.client.chatKeys.accept(forAlice ?? null, { chatId })).rejects.toThrow(
      /erin, who was not a member of epoch 1/,
    );
    expect(epochOf(alice, chatId)).toBe(1);
    expect(alice.changes.some((c) => c.committer === 'erin')).toBe(false);
  });

  it('counts an invitation only for the pending epoch it made, and commits only the epoch after its latest', async () => {
    const [alice, bob, dave] = await login('alice', 'bob', 'dave');
    const chatId = await chatOf(alice, bob);
    // the invitation adds dave only (nobody is no user), and says nobody was not added
    const { unavailable } = await alice.client.invite(chatId, ['dave', 'nobody']);
    expect(unavailable).toEqual([{ username: 'nobody', reason: 'unknown' }]);
    await dave.next((e) => e.type === 'chat.invited' && e.data.chat.id === chatId);
    expect(epochOf(alice, chatId)).toBe(2);
    // later, the server adds carol, whom alice never asked for: refused
    await inject(server, chatId, {
      pending: {
        epoch: 3,
        members: ['alice', 'bob', 'carol', 'dave'],
        added: ['carol'],
        removed: [],
        reason: 'invite',
        additionsSince: new Date().toISOString(),
      },
    });
    const committed = (epoch: number) =>
      alice.outcomes.some((o) => o.status === 'committed' && o.chat.epoch === epoch);
    await alice.until(() => alice.refused.length > 0 || committed(3));
    expect(committed(3)).toBe(false);
    expect(alice.refused[0].reason).toMatch(/adds carol, whom you did not invite/);
    const lost = () => alice.outcomes.filter((o) => o.status === 'lost').length;
    const lostBefore = lost();
    // and an old pending epoch, replayed as a rotation of the roster of epoch 1: no commit for it
    await inject(server, chatId, {
      pending: { epoch: 2, members: ['alice', 'bob'], added: [], removed: [], reason: 'age' },
    });
    await alice.until(() => alice.refused.length > 1 || lost() > lostBefore);
    expect(lost()).toBe(lostBefore);
    expect(alice.refused[1].reason).toMatch(/epoch 2 is not the one after epoch 2, the latest you hold/);
    expect(await server.app.store.getEnvelope(chatId, 3, 'carol')).toBeUndefined();
  });

  it('keeps the key and roster it holds for an epoch: a second one for it, signed by a member, is refused', async () => {
    const [alice, bob] = await login('alice', 'bob');
    const chatId = await chatOf(alice, bob);
    const held = alice.stores.envelope(chatId, 1);
    // bob, a member, with the server: another key of epoch 1, for a roster that adds erin
    const forged = await forgeEnvelopes('bob', chatId, 1, ['alice', 'bob', 'erin']);
    const forAlice = forged.envelopes.find((e) => e.recipient === 'alice');
    await expect(alice.client.chatKeys.accept(forAlice ?? null, { chatId })).rejects.toThrow(
      /another key for epoch 1, which you hold already/,
    );
    expect(alice.stores.envelope(chatId, 1)).toEqual(held);
    // the one it holds, delivered again (a replayed event), is still fine
    await expect(alice.client.chatKeys.accept(held ?? null, { chatId })).resolves.toBeDefined();
  });

  it('refuses a server-made envelope that comes with a chat said to be members-mode, and names the mode it holds', async () => {
    const [alice, bob] = await login('alice', 'bob');
    // a server-mode chat; the server tells bob it is one only its members can read
    const { chat } = await alice.client.createChat(['bob']);
    const invited = await bob.next((e) => e.type === 'chat.invited' && e.data.chat.id === chat.id);
    const claimed = { ...invited.data.chat, keyMode: 'members', pending: null };
    await expect(
      bob.client.commits.handleKeyEvent({ ...invited, data: { ...invited.data, chat: claimed } }),
    ).rejects.toThrow(/made by the server/);
    // holding the server's key (its stream took the true event), the chat is a server-mode one
    expect(bob.client.chatKeys.keyModeOf(claimed)).toBe('server');
    expect(alice.client.chatKeys.keyModeOf({ ...chat, keyMode: 'members' })).toBe('server');
    const members = await chatOf(alice, bob);
    const said = await alice.client.api.call<Chat>('GET', `/chats/${members}`);
    expect(alice.client.chatKeys.keyModeOf({ ...said, keyMode: 'server' })).toBe('members');
  });

  it('pins every member of a roster it accepts, so a later committer is checked under a key pinned before', async () => {
    const [alice, bob, carol] = await login('alice', 'bob', 'carol');
    const chatId = await chatOf(alice, bob, carol);
    // bob never heard from carol: he pinned her keys when he took the roster naming her
    expect(bob.stores.pinnedUser('carol')).toEqual(await carol.client.ownFingerprints());
    // a key "by carol" signed with other keys than those is refused
    const forged = await forgeEnvelopes('erin', chatId, 2, ['alice', 'bob', 'carol', 'erin'], 'carol');
    const forBob = forged.envelopes.find((e) => e.recipient === 'bob');
    await expect(bob.client.chatKeys.accept(forBob ?? null, { chatId })).rejects.toThrow(
      /signature of carol does not verify/,
    );
  });
});

describe('a member-made key reaches only the members of its epoch', () => {
  it('refuses envelopes signed by a non-member, by a member who left, or for a roster without this user', async () => {
    const [alice, bob, carol] = await login('alice', 'bob', 'carol');
    const chatId = await chatOf(alice, bob, carol);
    const cases: [string, Awaited<ReturnType<typeof forgeEnvelopes>>, RegExp][] = [
      // erin was never a member: she names herself in the list
      [
        'non-member',
        await forgeEnvelopes('erin', chatId, 2, ['alice', 'bob', 'carol', 'erin']),
        /erin, who was not a member of epoch 1/,
      ],
      // a member who has left makes the key of the epoch without them
      ['left', await forgeEnvelopes('bob', chatId, 2, ['alice', 'carol']), /bob, who is not a member of it/],
      // a roster without alice, but an envelope for her
      ['roster', await forgeEnvelopes('bob', chatId, 2, ['bob', 'carol']), /does not include you/],
      // a committer's name on someone else's signature
      [
        'signature',
        await forgeEnvelopes('erin', chatId, 2, ['alice', 'bob', 'carol'], 'bob'),
        /signature of bob does not verify/,
      ],
    ];
    for (const [name, forged, why] of cases) {
      const forAlice = forged.envelopes.find((e) => e.recipient === 'alice') ?? {
        ...forged.envelopes[0],
        recipient: 'alice',
      };
      await expect(alice.client.chatKeys.accept(forAlice, { chatId }), name).rejects.toThrow(why);
    }
    // delivered by a compromised server as a real chat.key event: refused, the key not taken
    const ghost = await forgeEnvelopes('erin', chatId, 2, ['alice', 'bob', 'carol', 'erin']);
    await inject(server, chatId, { envelopes: ghost.envelopes });
    await alice.until(() => alice.errors.length > 0);
    expect(alice.errors[0]).toMatch(/erin, who was not a member of epoch 1/);
    expect(epochOf(alice, chatId)).toBe(1);
  });

  it('refuses a replayed commit for an old epoch, on the server and in the client', async () => {
    const [alice, bob, carol] = await login('alice', 'bob', 'carol');
    const chatId = await chatOf(alice, bob);
    const first = await forgeEnvelopes('alice', chatId, 1, ['alice', 'bob']);
    const res = await specApi(server, alice).call('commitEpoch', { params: { chatId }, body: first.body });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('EPOCH_COMMITTED');
    // rotate to epoch 2, then replay epoch 1's envelope to alice as if new
    await alice.client.invite(chatId, ['carol']);
    await alice.until(() => epochOf(alice, chatId) === 2);
    await carol.next((e) => e.type === 'chat.invited');
    const old = alice.stores.envelope(chatId, 1);
    await expect(alice.client.chatKeys.accept(old ?? null, { chatId })).rejects.toThrow(/older than epoch 2/);
  });

  it('a member who left cannot read anything posted after the commit that removed them', async () => {
    const [alice, bob, carol] = await login('alice', 'bob', 'carol');
    const chatId = await chatOf(alice, bob, carol);
    await say(alice, [bob, carol], chatId, 'before bob left');
    await bob.client.api.call('POST', `/chats/${chatId}/leave`);
    await carol.until(() => epochOf(carol, chatId) === 2);
    await alice.until(() => epochOf(alice, chatId) === 2);
    await say(alice, [carol], chatId, 'after bob left');
    const after = (await carol.client.api.call<{ messages: { message: { epoch: number } }[] }>(
      'GET',
      `/chats/${chatId}/messages`,
    )) as { messages: Parameters<Member['client']['read']>[0][] };
    const secret = after.messages.find((m) => m.message.epoch === 2);
    expect(secret).toBeDefined();
    // bob's client, with every key it ever had, cannot read it: no key of epoch 2 exists for him
    await expect(
      bob.client.read(secret as Parameters<Member['client']['read']>[0], chatId),
    ).rejects.toThrow();
    expect(bob.stores.highestEpoch(chatId)).toBe(1);
    expect(await server.app.store.getEnvelope(chatId, 2, 'bob')).toBeUndefined();
    const envelope = await server.app.store.getEnvelope(chatId, 2, 'carol');
    expect(envelope).toMatchObject({ members: ['alice', 'carol'] });
  });
});
