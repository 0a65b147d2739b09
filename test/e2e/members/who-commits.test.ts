import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../support/helper.js';
import { forgeEnvelopes } from '../../support/library.js';
import {
  chatOf,
  epochOf,
  inject,
  loginEach,
  type Member,
  member,
  say,
  specApi,
} from '../../support/members.js';

// Issue 14, "Attacks as tests": what a compromised server, its database or a former member
// tries against a members-mode chat, and the honest clients' (and the server's) answers.
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

const { login, open } = loginEach(() => server);

describe('members mode under attack', () => {
  it('a ghost member the database adds to a pending list gets no commit from an honest client', async () => {
    const [alice, bob] = await login('alice', 'bob');
    const chatId = await chatOf(alice, bob);
    const since = new Date().toISOString();
    // dave is slipped in as an addition nobody asked for
    await inject(server, chatId, {
      pending: {
        epoch: 2,
        members: ['alice', 'bob', 'dave'],
        added: ['dave'],
        removed: [],
        reason: 'invite',
        additionsSince: since,
      },
    });
    await alice.until(() => alice.refused.length > 0);
    await bob.until(() => bob.refused.length > 0);
    expect(alice.refused[0].reason).toMatch(/adds dave, whom you did not invite/);
    expect(bob.refused[0].reason).toMatch(/adds dave/);
    // then hidden in the list of a "rotation" that names no addition
    await inject(server, chatId, {
      pending: { epoch: 2, members: ['alice', 'bob', 'dave'], added: [], removed: [], reason: 'age' },
    });
    await alice.until(() => alice.refused.length > 1);
    expect(alice.refused[1].reason).toMatch(/is not your record with its changes/);
    const chat = await server.app.store.getChat(chatId);
    expect(chat?.epoch).toBe(1);
    expect(await server.app.store.getEnvelope(chatId, 2, 'dave')).toBeUndefined();
    expect(epochOf(alice, chatId)).toBe(1);
  });

  it('lets only the creator commit epoch 1, even with another member joined in the database', async () => {
    const [alice, bob] = await login('alice', 'bob');
    const created = await specApi(server, alice).call('createChat', {
      body: { invitees: ['bob'], keyMode: 'members' },
    });
    const chatId = created.body.chat.id;
    expect(created.body.chat.pending).toMatchObject({ epoch: 1, members: ['alice', 'bob'] });
    // bob, only proposed, is made a joined member of the chat still at epoch 0
    const store = server.app.store;
    await store.changeMembership({
      chatId,
      expectedEpoch: 0,
      epoch: 0,
      upsert: [{ username: 'bob', state: 'joined', sinceEpoch: 1 }],
      remove: [],
      envelopes: [],
      events: [],
    });
    const waiting = await store.getChat(chatId);
    const byBob = await forgeEnvelopes('bob', chatId, 1, ['alice', 'bob']);
    const res = await specApi(server, bob).call('commitEpoch', { params: { chatId }, body: byBob.body });
    expect([res.status, res.body.code]).toEqual([403, 'NOT_COMMITTER']);
    expect(await store.getChat(chatId)).toEqual(waiting);
    const byAlice = await forgeEnvelopes('alice', chatId, 1, ['alice', 'bob']);
    const ok = await specApi(server, alice).call('commitEpoch', { params: { chatId }, body: byAlice.body });
    expect(ok.status).toBe(200);
  });

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
      await expect(alice.client.accept(forAlice, { chatId }), name).rejects.toThrow(why);
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
    await expect(alice.client.accept(old ?? null, { chatId })).rejects.toThrow(/older than epoch 2/);
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

  it('two members committing the same pending epoch at once leave exactly one epoch', async () => {
    const [alice, carol] = await Promise.all([]).then(() => login('alice', 'carol'));
    const bob = await member(server, 'bob');
    open.push(bob);
    const chatId = await chatOf(alice, bob, carol);
    // alice and carol do not follow their streams here: both commit by hand, at once
    const quiet = [
      await member(server, 'alice', { follow: false, stores: alice.stores }),
      await member(server, 'carol', { follow: false, stores: carol.stores }),
    ];
    open.push(...quiet);
    await alice.close();
    await carol.close();
    await bob.client.api.call('POST', `/chats/${chatId}/leave`);
    const outcomes = await Promise.all(quiet.map((m) => m.client.commitPending(chatId)));
    expect(outcomes.map((o) => o.status).sort()).toEqual(['committed', 'lost']);
    const chat = await server.app.store.getChat(chatId);
    expect(chat).toMatchObject({ epoch: 2, pending: null });
    const committers = new Set(
      await Promise.all(
        ['alice', 'carol'].map(
          async (u) =>
            ((await server.app.store.getEnvelope(chatId, 2, u)) as { committer: string }).committer,
        ),
      ),
    );
    expect(committers.size).toBe(1);
  });

  it('a pending removal with nobody online is committed by the first member who comes back', async () => {
    const [alice, bob] = await login('alice', 'bob');
    const chatId = await chatOf(alice, bob);
    const kept = alice.stores;
    await alice.close();
    await bob.client.api.call('POST', `/chats/${chatId}/leave`);
    expect((await server.app.store.getChat(chatId))?.pending).toMatchObject({
      epoch: 2,
      removed: ['bob'],
    });
    // alice comes back (her client's own record kept) and commits what waited on connecting
    const back = await member(server, 'alice', { stores: kept, follow: false });
    open.push(back);
    const outcomes = await back.client.commitAllPending();
    expect(outcomes.get(chatId)?.status).toBe('committed');
    expect(back.changes.filter((c) => c.chatId === chatId).at(-1)).toMatchObject({
      epoch: 2,
      removed: ['bob'],
      committer: 'alice',
    });
  });

  it('a removal that waits with only invited members left is committed by the first who joins', async () => {
    const [alice, bob] = await login('alice', 'bob');
    const { chat } = await alice.client.createChat(['bob'], { keyMode: 'members' });
    await bob.next((e) => e.type === 'chat.invited' && e.data.chat.id === chat.id);
    await alice.client.api.call('POST', `/chats/${chat.id}/leave`);
    expect((await server.app.store.getChat(chat.id))?.pending).toMatchObject({
      epoch: 2,
      members: ['bob'],
    });
    const joined = await bob.client.join(chat.id);
    expect(joined.pending).toMatchObject({ epoch: 2 });
    expect(await server.app.store.getChat(chat.id)).toMatchObject({ epoch: 2, pending: null });
    expect(bob.changes.filter((c) => c.chatId === chat.id).at(-1)).toMatchObject({
      epoch: 2,
      removed: ['alice'],
    });
  });
});
