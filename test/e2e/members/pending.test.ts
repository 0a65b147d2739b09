import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStream } from '../../support/client.js';
import { startServer, type TestServer } from '../../support/helper.js';
import { forgeEnvelopes } from '../../support/library.js';
import { chatOf, epochOf, loginEach, type Member, member, say, specApi } from '../../support/members.js';

// protocol.md, "Pending epochs": an addition waiting for its inviter's commit stalls nobody
// (members post under the current epoch; the invitee is not a member until the commit); a member
// has one pending addition at a time; a removal or a rotation that comes meanwhile drops it, and
// the inviter's client invites again once that epoch is committed. (Security round 2, #2.)
let server: TestServer;
const streams: EventStream[] = [];
beforeAll(async () => {
  server = await startServer({ SECURECHAT_ROTATE_MESSAGES: '3' });
});
afterAll(async () => {
  for (const s of streams) s.close();
  await server?.close();
});

const { login, open } = loginEach(() => server);

/** A member whose client commits nothing by itself (no stream followed), online through a raw stream. */
async function quiet(name: string): Promise<{ m: Member; events: EventStream }> {
  const m = await member(server, name, { follow: false });
  open.push(m);
  const events = await EventStream.open(server.url, m.client.api.token as string);
  streams.push(events);
  return { m, events };
}

/** `inviter`'s invitation over the raw API: the server's answer, no client commit. */
async function rawInvite(inviter: Member, chatId: string, invitees: string[]) {
  return specApi(server, inviter).call('inviteToChat', { params: { chatId }, body: { invitees } });
}

/** A raw post of `text` by `m` under `epoch`: the server's status and problem code. */
async function rawPost(m: Member, chatId: string, epoch: number, text: string) {
  const key = (await m.client.chatKeys.chatKey(chatId, epoch)) as CryptoKey;
  const body = await m.client.compose(chatId, epoch, key, text, 'ed25519');
  const res = await specApi(server, m).call('postMessage', { params: { chatId }, body });
  return [res.status, res.body.code];
}

describe('a pending addition in a members-mode chat', () => {
  it('lets members go on posting under the current epoch, and the invitee gets none of it (security round 2, #2)', async () => {
    const [alice, bob, dave] = await login('alice', 'bob', 'dave');
    const chatId = await chatOf(alice, bob);
    const invited = await rawInvite(alice, chatId, ['dave']);
    expect(invited.body.chat.pending).toMatchObject({ epoch: 2, added: ['dave'], reason: 'invite' });

    // nobody commits it yet: posting goes on under epoch 1, both ways
    expect(await rawPost(bob, chatId, 1, 'while dave waits')).toEqual([201, undefined]);
    const posted = await alice.next((e) => e.type === 'message' && e.data.sender === 'bob');
    expect(await alice.client.read(posted.data, chatId)).toBe('while dave waits');
    await say(alice, [bob], chatId, 'still epoch 1');
    expect(epochOf(bob, chatId)).toBe(1);

    // alice's addition committed (her signature): dave is a member from epoch 2 on
    const { body } = await forgeEnvelopes('alice', chatId, 2, ['alice', 'bob', 'dave']);
    const committed = await specApi(server, alice).call('commitEpoch', { params: { chatId }, body });
    expect(committed.status).toBe(200);
    const joined = await dave.next((e) => e.type === 'chat.invited' && e.data.chat.id === chatId);
    expect(joined.data.keyEnvelope).toMatchObject({ epoch: 2, committer: 'alice' });
    await dave.client.join(chatId);
    await bob.until(() => epochOf(bob, chatId) === 2);
    await say(bob, [alice], chatId, 'with dave');
    // the first message dave's stream carries is the one of epoch 2; his history holds no other
    const first = await dave.next((e) => e.type === 'message' && e.data.chatId === chatId);
    expect(first.data.message.epoch).toBe(2);
    expect(await dave.client.read(first.data, chatId)).toBe('with dave');
    const history = await specApi(server, dave).call('listMessages', { params: { chatId } });
    expect(history.body.messages.map((m: { message: { epoch: number } }) => m.message.epoch)).toEqual([2]);
    const old = await specApi(server, dave).call('getChatKey', { params: { chatId }, query: { epoch: 1 } });
    expect([old.status, old.body.code]).toEqual([404, 'KEY_NOT_FOUND']);
  });

  it('is one at a time: another invitation, by its inviter or another member, is 409 REKEY_PENDING', async () => {
    const [alice, bob] = await login('alice', 'bob');
    await login('dave', 'erin'); // online, so invitable
    const chatId = await chatOf(alice, bob);
    expect((await rawInvite(alice, chatId, ['dave'])).status).toBe(200);
    const waiting = await server.app.store.getChat(chatId);
    for (const [who, invitees] of [
      [alice, ['erin']],
      [bob, ['erin']],
      [alice, ['dave']],
    ] as const) {
      const again = await rawInvite(who, chatId, [...invitees]);
      expect([who.username, again.status, again.body.code]).toEqual([who.username, 409, 'REKEY_PENDING']);
    }
    expect(await server.app.store.getChat(chatId)).toEqual(waiting);
  });

  it('is dropped by a leave, whose epoch any joined member commits without the inviter', async () => {
    // alice invites and never commits; bob and carol follow their streams (and commit what they may)
    const { m: alice } = await quiet('alice');
    const [bob, carol] = await login('bob', 'carol');
    const [dave] = await login('dave');
    const chatId = await chatOf(alice, bob, carol);
    expect((await rawInvite(alice, chatId, ['dave'])).status).toBe(200);
    await bob.next((e) => e.type === 'chat.rekey' && e.data.pending?.added.includes('dave'));

    await carol.client.api.call('POST', `/chats/${chatId}/leave`);
    const rekey = await bob.next((e) => e.type === 'chat.rekey' && e.data.pending?.removed.length > 0);
    expect(rekey.data.pending).toEqual({
      epoch: 2,
      members: ['alice', 'bob'],
      added: [],
      removed: ['carol'],
      reason: 'leave',
    });
    await bob.until(() => epochOf(bob, chatId) === 2);
    const chat = await server.app.store.getChat(chatId);
    expect(chat).toMatchObject({ epoch: 2, pending: null });
    expect(chat?.members.map((m) => m.username)).toEqual(['alice', 'bob']);
    expect(await server.app.store.getEnvelope(chatId, 2, 'alice')).toMatchObject({ committer: 'bob' });
    expect(await server.app.store.getEnvelope(chatId, 2, 'dave')).toBeUndefined();
    // dave was never added: the next event of his is not an invitation to this chat
    await say(bob, [], chatId, 'after carol left');
    expect(bob.errors).toEqual([]);
    expect(dave.changes.some((c) => c.chatId === chatId)).toBe(false);
  });

  it('is dropped by the count rotation it lets members reach, and posting then waits for that key', async () => {
    const { m: alice, events: aliceEvents } = await quiet('alice');
    const { m: bob } = await quiet('bob');
    await login('dave');
    const { chat } = await alice.client.createChat(['bob'], { keyMode: 'members' });
    const chatId = chat.id;
    await bob.client.join(chatId);
    expect((await rawInvite(alice, chatId, ['dave'])).status).toBe(200);
    // three messages under epoch 1 (the limit here): the third asks for a rotation
    for (const text of ['one', 'two', 'three'])
      expect(await rawPost(bob, chatId, 1, text)).toEqual([201, undefined]);
    const rotation = await aliceEvents.nextOf('chat.rekey', (d) => d.pending?.reason === 'messages');
    expect(rotation.json.pending).toEqual({
      epoch: 2,
      members: ['alice', 'bob'],
      added: [],
      removed: [],
      reason: 'messages',
    });
    expect(await rawPost(bob, chatId, 1, 'four')).toEqual([409, 'REKEY_PENDING']);
    // bob's client makes the rotation's key when posting meets REKEY_PENDING, and sends under it
    expect(await bob.client.send(chatId, 'four', 'ed25519')).toMatchObject({ epoch: 2 });
    expect(await server.app.store.getEnvelope(chatId, 2, 'dave')).toBeUndefined();
  });
});

describe("the inviter's client, when a removal drops its addition", () => {
  /**
   * `inviter`'s client, whose first commit waits until `meanwhile` has run: the commit of its
   * own invitation meets what a leave did to it.
   */
  function beforeFirstCommit(inviter: Member, meanwhile: () => Promise<void>) {
    const api = inviter.client.api;
    const call = api.call.bind(api);
    let first = true;
    api.call = (async (method: string, path: string, body?: unknown) => {
      if (first && method === 'POST' && path.endsWith('/epochs')) {
        first = false;
        await meanwhile();
      }
      return call(method, path, body);
    }) as typeof api.call;
  }

  it('invites again once another member has committed the removal (security round 2, #2)', async () => {
    const [alice, bob, carol, dave] = await login('alice', 'bob', 'carol', 'dave');
    const chatId = await chatOf(alice, bob, carol);
    beforeFirstCommit(alice, async () => {
      await carol.client.api.call('POST', `/chats/${chatId}/leave`);
      await bob.until(() => epochOf(bob, chatId) === 2);
    });
    await alice.client.invite(chatId, ['dave']);
    const invited = await dave.next((e) => e.type === 'chat.invited' && e.data.chat.id === chatId);
    expect(invited.data).toMatchObject({ invitedBy: 'alice', chat: { epoch: 3 } });
    expect(invited.data.keyEnvelope).toMatchObject({
      epoch: 3,
      committer: 'alice',
      members: ['alice', 'bob', 'dave'],
    });
    expect((await server.app.store.getEnvelope(chatId, 2, 'alice')) as object).toMatchObject({
      committer: 'bob',
      members: ['alice', 'bob'],
    });
    await bob.until(() => epochOf(bob, chatId) === 3);
    expect(bob.changes.at(-1)).toMatchObject({ epoch: 3, added: ['dave'], committer: 'alice' });
    for (const m of [alice, bob]) expect(m.errors).toEqual([]);
  });

  it('invites again after committing the removal itself', async () => {
    const [alice, carol, dave] = await login('alice', 'carol', 'dave');
    const { m: bob } = await quiet('bob'); // joined, but makes no key by itself
    const { chat } = await alice.client.createChat(['bob', 'carol'], { keyMode: 'members' });
    const chatId = chat.id;
    await carol.next((e) => e.type === 'chat.invited' && e.data.chat.id === chatId);
    await carol.client.join(chatId);
    await bob.client.join(chatId);
    // alice's commit meets the leave: the list changed, and she commits the removal herself
    beforeFirstCommit(alice, () => carol.client.api.call('POST', `/chats/${chatId}/leave`));
    await alice.client.invite(chatId, ['dave']);
    const invited = await dave.next((e) => e.type === 'chat.invited' && e.data.chat.id === chatId);
    expect(invited.data.keyEnvelope).toMatchObject({
      epoch: 3,
      committer: 'alice',
      members: ['alice', 'bob', 'dave'],
    });
    expect(await server.app.store.getEnvelope(chatId, 2, 'bob')).toMatchObject({
      committer: 'alice',
      members: ['alice', 'bob'],
    });
    expect(alice.errors).toEqual([]);
  });
});
