import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNATURE_ALGORITHMS } from '../../../src/crypto/keys.js';
import { type EventStream, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

let server: TestServer;
let alice: Participant;
let bob: Participant;
let bobEvents: EventStream;
let aliceEvents: EventStream;

beforeAll(async () => {
  server = await startServer();
  alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
  aliceEvents = await alice.events();
  bobEvents = await bob.events();
});

afterAll(async () => {
  aliceEvents?.close();
  bobEvents?.close();
  await server?.close();
});

describe('a whole conversation', () => {
  let chatId: string;

  it('starts a chat: registered invitees are invited, unknown ones reported', async () => {
    const res = await alice.api.call('createChat', { body: { invitees: ['bob', 'nobody'] } });
    expect(res.status).toBe(201);
    chatId = res.body.chat.id;
    expect(res.body.chat.epoch).toBe(1);
    expect(res.body.chat.members).toEqual([
      { username: 'alice', state: 'joined', online: true },
      { username: 'bob', state: 'invited', online: true },
    ]);
    expect(res.body.unavailable).toEqual([{ username: 'nobody', reason: 'unknown' }]);
    await alice.acceptEnvelope(res.body.keyEnvelope);

    const invited = await bobEvents.nextOf('chat.invited');
    expect(invited.id).toMatch(/^\d+$/);
    expect(invited.json.invitedBy).toBe('alice');
    expect(invited.json.chat.id).toBe(chatId);
    const bobKey = await bob.acceptEnvelope(invited.json.keyEnvelope);
    expect(bobKey).toEqual(alice.chatKeys.get(`${chatId}/1`));
  });

  it('refuses a post from an invited member who has not joined', async () => {
    const { res } = await bob.send(chatId, 1, 'too early', 'rsa-pss-sha256');
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('NOT_JOINED');
  });

  it('joins, and everyone hears of it', async () => {
    const res = await bob.api.call('joinChat', { params: { chatId } });
    expect(res.status).toBe(200);
    expect(res.body.chat.members.find((m: { username: string }) => m.username === 'bob').state).toBe(
      'joined',
    );
    expect((await bob.acceptEnvelope(res.body.keyEnvelope)).length).toBe(32);
    await aliceEvents.nextOf('member.joined', (d) => d.chatId === chatId && d.username === 'bob');
    // joining again changes nothing
    const again = await bob.api.call('joinChat', { params: { chatId } });
    expect(again.status).toBe(200);
    expect(again.body.chat.epoch).toBe(1);
  });

  for (const alg of SIGNATURE_ALGORITHMS) {
    it(`exchanges messages both ways signed with ${alg}`, async () => {
      const sent = await alice.send(chatId, 1, `hello bob, ${alg} here`, alg);
      expect(sent.res.status).toBe(201);
      const atBob = await bobEvents.nextOf('message', (d) => d.message.id === sent.body.id);
      expect(atBob.json.sender).toBe('alice');
      expect(atBob.json.seq).toBe(sent.res.body.seq);
      expect(await bob.read(atBob.json)).toBe(`hello bob, ${alg} here`);
      // the sender gets her own message too, as every member does
      await aliceEvents.nextOf('message', (d) => d.message.id === sent.body.id);

      const reply = await bob.send(chatId, 1, `hi alice — ${alg} back ✓`, alg);
      expect(reply.res.status).toBe(201);
      expect(reply.res.body.seq).toBe(sent.res.body.seq + 1);
      const atAlice = await aliceEvents.nextOf('message', (d) => d.message.id === reply.body.id);
      expect(await alice.read(atAlice.json)).toBe(`hi alice — ${alg} back ✓`);
    });
  }

  it('keeps history with gapless seq, shaped like the events', async () => {
    const res = await alice.api.call('listMessages', { params: { chatId } });
    expect(res.status).toBe(200);
    expect(res.body.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const m of res.body.messages) await alice.read(m);
    const page = await bob.api.call('listMessages', { params: { chatId }, query: { after: 2, limit: 3 } });
    expect(page.body.messages.map((m: { seq: number }) => m.seq)).toEqual([3, 4, 5]);
  });

  it('rotates the key when someone is invited; old-epoch posts are STALE_EPOCH', async () => {
    const carol = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
    const carolEvents = await carol.events();
    try {
      const res = await bob.api.call('inviteToChat', { params: { chatId }, body: { invitees: ['carol'] } });
      expect(res.status).toBe(200);
      expect(res.body.chat.epoch).toBe(2);
      expect(res.body.unavailable).toEqual([]);

      const invited = await carolEvents.nextOf('chat.invited', (d) => d.chat.id === chatId);
      expect(invited.json.invitedBy).toBe('bob');
      const carolKey = await carol.acceptEnvelope(invited.json.keyEnvelope);
      const aliceKey = await alice.acceptEnvelope((await aliceEvents.nextOf('chat.key')).json.keyEnvelope);
      const bobKey = await bob.acceptEnvelope((await bobEvents.nextOf('chat.key')).json.keyEnvelope);
      expect(aliceKey).toEqual(carolKey);
      expect(bobKey).toEqual(carolKey);
      expect(carolKey).not.toEqual(alice.chatKeys.get(`${chatId}/1`));

      const stale = await alice.send(chatId, 1, 'old key', 'dsa-sha256');
      expect(stale.res.status).toBe(409);
      expect(stale.res.body.code).toBe('STALE_EPOCH');

      // carol cannot read what came before her (history starts at her epoch)
      const history = await carol.api.call('listMessages', { params: { chatId } });
      expect(history.body.messages).toEqual([]);

      await carol.api.call('joinChat', { params: { chatId } });
      const fresh = await carol.send(chatId, 2, 'hello all', 'ed25519');
      expect(fresh.res.status).toBe(201);
      const atBob = await bobEvents.nextOf('message', (d) => d.message.id === fresh.body.id);
      expect(await bob.read(atBob.json)).toBe('hello all');
    } finally {
      carolEvents.close();
    }
  });

  it('rotates the key when someone leaves; the leaver is out', async () => {
    const res = await bob.api.call('leaveChat', { params: { chatId } });
    expect(res.status).toBe(204);
    await bobEvents.nextOf('member.left', (d) => d.username === 'bob');
    await aliceEvents.nextOf('member.left', (d) => d.username === 'bob');
    const rotated = await aliceEvents.nextOf('chat.key');
    expect(rotated.json.keyEnvelope.epoch).toBe(3);
    await alice.acceptEnvelope(rotated.json.keyEnvelope);

    for (const op of ['getChat', 'getChatKey', 'listMessages', 'joinChat', 'leaveChat']) {
      const gone = await bob.api.call(op, { params: { chatId } });
      expect(gone.status, op).toBe(404);
      expect(gone.body.code).toBe('CHAT_NOT_FOUND');
    }
    const post = await bob.send(chatId, 2, 'still here?', 'rsa-pss-sha256');
    expect(post.res.status).toBe(404);

    const after = await alice.send(chatId, 3, 'bob is gone', 'rsa-pss-sha256');
    expect(after.res.status).toBe(201);
    // bob's stream carries nothing of the chat after he left
    const current = await alice.api.call('getChatKey', { params: { chatId } });
    expect(current.body.epoch).toBe(3);
    expect(bobEvents.events.some((e) => e.event === 'message' && e.json.message.id === after.body.id)).toBe(
      false,
    );
  });

  it('lists and shows the chat to its members only', async () => {
    const list = await alice.api.call('listChats');
    expect(list.body.chats.map((c: { id: string }) => c.id)).toContain(chatId);
    const bobList = await bob.api.call('listChats');
    expect(bobList.body.chats.map((c: { id: string }) => c.id)).not.toContain(chatId);
    const one = await alice.api.call('getChat', { params: { chatId: chatId.toUpperCase() } });
    expect(one.status).toBe(200);
    expect(one.body.id).toBe(chatId);
  });
});
