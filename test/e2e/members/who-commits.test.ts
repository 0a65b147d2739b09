import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../support/helper.js';
import { forgeEnvelopes } from '../../support/library.js';
import { chatOf, epochOf, inject, loginEach, member, specApi } from '../../support/members.js';

// Issue 14, "Attacks as tests": what a compromised server, its database or a former member
// tries against a members-mode chat, and the honest clients' (and the server's) answers.
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

const { login, open } = loginEach(() => server);

describe('who commits a pending epoch of a members-mode chat, whatever its database says', () => {
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
    const outcomes = await Promise.all(quiet.map((m) => m.client.commits.commitPending(chatId)));
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
    const outcomes = await back.client.commits.commitAllPending();
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
