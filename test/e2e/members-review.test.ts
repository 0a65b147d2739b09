import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chat } from '../../src/client/index.js';
import { sealEnvelope, wrapKey } from '../../src/crypto/envelope.js';
import { keyStore } from '../client/support.js';
import { startServer, type TestServer } from '../support/helper.js';
import { chatOf, epochOf, forgeEnvelopes, inject, loginEach } from './members-support.js';

// A review of members mode as an attacker: a compromised server that answers what it likes,
// and a member colluding with it. Each case is a way the client once took a key it should not.
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

const { login } = loginEach(() => server);

describe('members mode, reviewed as an attacker', () => {
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
