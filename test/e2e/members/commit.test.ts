import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../support/helper.js';
import { forgeEnvelopes } from '../../support/library.js';
import { type Member, member, specApi } from '../../support/members.js';

// POST /chats/{chatId}/epochs: every check protocol.md lists, each answered with its own problem
// and changing nothing; posting and inviting while an epoch is pending; the drop of additions
// nobody committed in time (1 s here).
let server: TestServer;
const open: Member[] = [];
beforeAll(async () => {
  server = await startServer({ SECURECHAT_PENDING_SECONDS: '1' });
});
afterAll(async () => {
  for (const m of open) await m.close();
  await server?.close();
});

async function login(name: string, follow = false) {
  const m = await member(server, name, { follow });
  open.push(m);
  return m;
}

describe('POST /chats/{chatId}/epochs', () => {
  it('checks the commit in the documented order, changing nothing until one passes', async () => {
    const alice = await login('alice');
    const bob = await login('bob');
    const carol = await login('carol');
    await login('dave');
    const { chat } = await alice.client.createChat(['bob', 'carol'], { keyMode: 'members' });
    const chatId = chat.id;
    await bob.client.join(chatId);
    const key1 = await alice.client.chatKeys.chatKey(chatId, 1);
    await bob.client.api.call('POST', `/chats/${chatId}/leave`);
    const pendingChat = await server.app.store.getChat(chatId);
    expect(pendingChat?.pending).toMatchObject({ epoch: 2, members: ['alice', 'carol'], removed: ['bob'] });
    const api = specApi(server, alice);

    // posting and inviting wait for the key
    const body = await alice.client.compose(chatId, 1, key1 as CryptoKey, 'too early', 'ed25519');
    const post = await api.call('postMessage', { params: { chatId }, body });
    expect([post.status, post.body.code]).toEqual([409, 'REKEY_PENDING']);
    const invite = await api.call('inviteToChat', { params: { chatId }, body: { invitees: ['dave'] } });
    expect([invite.status, invite.body.code]).toEqual([409, 'REKEY_PENDING']);

    const good = await forgeEnvelopes('alice', chatId, 2, ['alice', 'carol']);
    const commit = (m: Member, b: unknown) =>
      specApi(server, m).call('commitEpoch', { params: { chatId }, body: b });
    const answers: [string, Member, unknown, number, string][] = [
      ['a former member', bob, good.body, 404, 'CHAT_NOT_FOUND'],
      [
        'an invited member',
        carol,
        (await forgeEnvelopes('carol', chatId, 2, ['alice', 'carol'])).body,
        403,
        'NOT_JOINED',
      ],
      [
        'another list',
        alice,
        (await forgeEnvelopes('alice', chatId, 2, ['alice', 'bob', 'carol'])).body,
        409,
        'PENDING_MISMATCH',
      ],
      [
        'an envelope missing',
        alice,
        { ...good.body, envelopes: good.body.envelopes.slice(0, 1) },
        400,
        'INVALID_BODY',
      ],
      [
        'an envelope twice',
        alice,
        { ...good.body, envelopes: [good.body.envelopes[0], good.body.envelopes[0]] },
        400,
        'INVALID_BODY',
      ],
      [
        'an impossible time',
        alice,
        { ...good.body, issuedAt: '2026-02-30T00:00:00.000Z' },
        400,
        'INVALID_BODY',
      ],
      ['an epoch not pending', alice, { ...good.body, epoch: 3 }, 409, 'NO_PENDING_EPOCH'],
      ['an epoch committed', alice, { ...good.body, epoch: 1 }, 409, 'EPOCH_COMMITTED'],
      [
        "another's signature",
        alice,
        (await forgeEnvelopes('erin', chatId, 2, ['alice', 'carol'], 'alice')).body,
        400,
        'BAD_SIGNATURE',
      ],
      ['no body', alice, {}, 400, 'INVALID_BODY'],
    ];
    for (const [name, who, b, status, code] of answers) {
      const res = await commit(who, b);
      expect([name, res.status, res.body.code]).toEqual([name, status, code]);
    }
    expect(await server.app.store.getChat(chatId)).toEqual(pendingChat);

    // the valid one wins; its replay is EPOCH_COMMITTED
    const ok = await commit(alice, good.body);
    expect(ok.status).toBe(200);
    expect(ok.body.chat).toMatchObject({ epoch: 2, pending: null });
    expect(ok.body.keyEnvelope).toMatchObject({ epoch: 2, committer: 'alice', members: ['alice', 'carol'] });
    const again = await commit(alice, good.body);
    expect([again.status, again.body.code]).toEqual([409, 'EPOCH_COMMITTED']);
    // GET .../key serves the member-made shape, as committed
    const key = await specApi(server, carol).call('getChatKey', { params: { chatId }, query: { epoch: 2 } });
    expect(key.body).toMatchObject({
      recipient: 'carol',
      committer: 'alice',
      signature: good.envelopes[1].signature,
    });
  });

  it('has nothing to commit in a server-mode chat, and no key before the first commit', async () => {
    const alice = await login('alice');
    const api = specApi(server, alice);
    const server1 = await api.call('createChat', { body: { invitees: ['bob'] } });
    expect(server1.body.chat.keyMode).toBe('server');
    const forged = await forgeEnvelopes('alice', server1.body.chat.id, 2, ['alice', 'bob']);
    const res = await api.call('commitEpoch', {
      params: { chatId: server1.body.chat.id },
      body: forged.body,
    });
    expect([res.status, res.body.code]).toEqual([409, 'NO_PENDING_EPOCH']);

    const members = await api.call('createChat', { body: { invitees: ['bob'], keyMode: 'members' } });
    expect(members.status).toBe(201);
    expect(members.body).toMatchObject({ keyEnvelope: null, chat: { epoch: 0, keyMode: 'members' } });
    expect(members.body.chat.pending).toEqual({
      epoch: 1,
      members: ['alice', 'bob'],
      added: ['bob'],
      removed: [],
      reason: 'create',
    });
    const none = await api.call('getChatKey', { params: { chatId: members.body.chat.id } });
    expect([none.status, none.body.code]).toEqual([404, 'KEY_NOT_FOUND']);
    const bad = await api.call('createChat', { body: { invitees: ['bob'], keyMode: 'nobody' } });
    expect([bad.status, bad.body.code]).toEqual([400, 'INVALID_BODY']);
  });

  it('drops additions nobody committed in time: the invitation fails, the members stay as they were', async () => {
    const alice = await login('alice');
    const bob = await login('bob', true);
    const { chat } = await alice.client.createChat(['bob'], { keyMode: 'members' });
    await bob.next((e) => e.type === 'chat.invited');
    await bob.client.join(chat.id);
    // the invitation is asked for over the raw API: no client commits it
    const invited = await specApi(server, alice).call('inviteToChat', {
      params: { chatId: chat.id },
      body: { invitees: ['carol'] },
    });
    expect(invited.body.chat.pending).toMatchObject({ epoch: 2, added: ['carol'] });
    const proposed = await bob.next((e) => e.type === 'chat.rekey' && e.data.pending !== null);
    expect(proposed.data.pending.added).toEqual(['carol']);
    expect(bob.refused.at(-1)?.reason).toMatch(/adds carol, whom you did not invite/);
    const dropped = await bob.next((e) => e.type === 'chat.rekey' && e.data.pending === null);
    expect(dropped.data.chatId).toBe(chat.id);
    const after = await specApi(server, alice).call('getChat', { params: { chatId: chat.id } });
    expect(after.body).toMatchObject({ epoch: 1, pending: null });
    expect(after.body.members.map((m: { username: string }) => m.username)).toEqual(['alice', 'bob']);
  });
});
