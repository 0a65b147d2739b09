import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatOf } from '../../support/chats.js';
import { type EventStream, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

let server: TestServer;
let alice: Participant;
let bob: Participant;
let dave: Participant;
let bobEvents: EventStream;
let chatId: string;

beforeAll(async () => {
  server = await startServer();
  alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
  dave = await Participant.login(server.url, server.keysDir, 'dave', PASSWORD);
  bobEvents = await bob.events();
  chatId = await chatOf(alice, bob);
});

afterAll(async () => {
  bobEvents?.close();
  await server?.close();
});

async function post(body: unknown, who = alice, id = chatId) {
  return who.api.call('postMessage', { params: { chatId: id }, body });
}

async function historyLength(): Promise<number> {
  return (await alice.api.call('listMessages', { params: { chatId }, query: { limit: 1000 } })).body.messages
    .length;
}

describe('POST /chats/{id}/messages refuses, with the first failing check, and stores nothing', () => {
  it('schema: missing, unknown, mistyped fields and bad encodings are INVALID_BODY', async () => {
    const good = alice.compose(chatId, 1, 'x', 'rsa-pss-sha256');
    const { signature: _, ...missing } = good;
    const cases: unknown[] = [
      missing,
      { ...good, sender: 'bob' },
      { ...good, epoch: '1' },
      { ...good, epoch: 0 },
      { ...good, id: 'not-a-uuid' },
      { ...good, id: '6f9619ff-8b86-1011-b42d-00c04fc964ff' }, // a v1 uuid
      { ...good, iv: 'AAAAAAAAAAAAAAAA' + 'AAAA' },
      { ...good, tag: 'not base64!' },
      { ...good, ciphertext: 'abc' },
      { ...good, ciphertext: 'QQ=' },
      { ...good, signature: 'QR==' }, // non-canonical padding bits
      { ...good, sentAt: '2026-11-25T21:04:05Z' },
      { ...good, sentAt: '2026-02-30T21:04:05.123Z' },
      { ...good, signatureAlgorithm: 'rsa-pkcs1-sha256' },
      [],
      'text',
      null,
    ];
    for (const body of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('INVALID_BODY');
    }
    expect(await historyLength()).toBe(0);
  });

  it('schema comes before membership: a bad body to a chat one is not in is still INVALID_BODY', async () => {
    const res = await post({ nonsense: true }, dave);
    expect(res.body.code).toBe('INVALID_BODY');
  });

  it('membership: outsiders and unknown chats get CHAT_NOT_FOUND alike', async () => {
    const body = alice.compose(chatId, 1, 'x', 'rsa-pss-sha256');
    const outsider = await post(body, dave);
    expect(outsider.status).toBe(404);
    expect(outsider.body.code).toBe('CHAT_NOT_FOUND');
    const unknown = await post(body, alice, '0b0e3ae0-1a35-4f43-9d0a-2f3b6c1c2d3e');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('CHAT_NOT_FOUND');
    const malformed = await post(body, alice, 'not-a-chat');
    expect(malformed.status).toBe(404);
    expect(malformed.body.code).toBe('CHAT_NOT_FOUND');
  });

  it('membership comes before the epoch', async () => {
    const body = { ...alice.compose(chatId, 1, 'x', 'rsa-pss-sha256'), epoch: 7 };
    expect((await post(body, dave)).body.code).toBe('CHAT_NOT_FOUND');
    expect((await post(body)).body.code).toBe('STALE_EPOCH');
  });

  it('the epoch comes before the clock, the clock before the signature', async () => {
    const old = new Date(Date.now() - 6 * 60_000).toISOString();
    const skewed = alice.compose(chatId, 1, 'x', 'rsa-pss-sha256', { sentAt: old });
    expect((await post({ ...skewed, epoch: 2 })).body.code).toBe('STALE_EPOCH');
    const res = await post(skewed);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('CLOCK_SKEW');
    const future = alice.compose(chatId, 1, 'x', 'rsa-pss-sha256', {
      sentAt: new Date(Date.now() + 6 * 60_000).toISOString(),
    });
    expect(
      (await post({ ...future, signature: future.signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }))
        .body.code,
    ).toBe('CLOCK_SKEW');
  });

  it("signature: tampering with any signed field, or a key not the sender's, is BAD_SIGNATURE", async () => {
    const good = alice.compose(chatId, 1, 'pay bob 10', 'dsa-sha256');
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[bytes.length - 1] ^= 1;
      return bytes.toString('base64');
    };
    const cases = [
      { ...good, ciphertext: flip(good.ciphertext) },
      { ...good, iv: flip(good.iv) },
      { ...good, tag: flip(good.tag) },
      { ...good, signature: flip(good.signature) },
      { ...good, sentAt: new Date(Date.parse(good.sentAt) + 1).toISOString() },
      { ...good, signatureAlgorithm: 'rsa-pss-sha256' },
      { ...good, signatureAlgorithm: 'ed25519' },
      // signed by bob's key, posted by alice
      alice.compose(chatId, 1, 'x', 'ed25519', { signWith: bob.keys.signing.ed25519.privateKey }),
    ];
    for (const body of cases) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('BAD_SIGNATURE');
    }
    // bob's own message under his name is fine; under alice's it is not
    const bobs = bob.compose(chatId, 1, 'mine', 'rsa-pss-sha256');
    expect((await post(bobs, alice)).body.code).toBe('BAD_SIGNATURE');
    expect(await historyLength()).toBe(0);
  });

  it('duplicate: a replayed message is 409 DUPLICATE_MESSAGE and is delivered once', async () => {
    const body = alice.compose(chatId, 1, 'once', 'ed25519');
    const first = await post(body);
    expect(first.status).toBe(201);
    const replay = await post(body);
    expect(replay.status).toBe(409);
    expect(replay.body.code).toBe('DUPLICATE_MESSAGE');
    // same id in another case is the same id
    const upper = alice.compose(chatId, 1, 'again', 'ed25519', { id: body.id.toUpperCase() });
    expect((await post(upper)).body.code).toBe('DUPLICATE_MESSAGE');
    await bobEvents.nextOf('message', (d) => d.message.id === body.id);
    const marker = await post(alice.compose(chatId, 1, 'marker', 'ed25519'));
    await bobEvents.nextOf('message', (d) => d.seq === marker.body.seq);
    expect(
      bobEvents.events.filter((e) => e.event === 'message' && e.json.message.id === body.id),
    ).toHaveLength(1);
    expect(await historyLength()).toBe(2);
  });

  it('duplicate: of two posts of one message at once, one is 201 and the other 409, never 500 (security round 2, #12)', async () => {
    const body = alice.compose(chatId, 1, 'twice at once', 'ed25519');
    const answers = await Promise.all([post(body), post(body)]);
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(answers.find((r) => r.status === 409)?.body.code).toBe('DUPLICATE_MESSAGE');
  });

  it('concurrent posts get distinct, gapless seq numbers', async () => {
    const before = await historyLength();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        post(alice.compose(chatId, 1, `burst ${i}`, i % 2 ? 'ed25519' : 'rsa-pss-sha256')),
      ),
    );
    const seqs = results.map((r) => r.body.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => before + i + 1));
  });
});

describe('GET /chats/{id}/messages', () => {
  it('refuses bad paging with INVALID_QUERY', async () => {
    for (const query of [{ limit: 0 }, { limit: 1001 }, { after: -1 }, { after: 'x' }]) {
      const res = await alice.api.call('listMessages', {
        params: { chatId },
        query: query as unknown as Record<string, string>,
      });
      expect(res.status, JSON.stringify(query)).toBe(400);
      expect(res.body.code).toBe('INVALID_QUERY');
    }
  });

  it('is for members only', async () => {
    const res = await dave.api.call('listMessages', { params: { chatId } });
    expect(res.body.code).toBe('CHAT_NOT_FOUND');
  });
});

describe('chat membership errors', () => {
  it('INVALID_INVITEE for oneself, ALREADY_MEMBER for members, INVALID_BODY for bad lists', async () => {
    expect((await alice.api.call('createChat', { body: { invitees: ['alice'] } })).body.code).toBe(
      'INVALID_INVITEE',
    );
    expect(
      (await alice.api.call('inviteToChat', { params: { chatId }, body: { invitees: ['bob'] } })).body.code,
    ).toBe('ALREADY_MEMBER');
    for (const body of [
      { invitees: [] },
      { invitees: ['bob', 'bob'] },
      { invitees: ['Bob!'] },
      {},
      { invitees: 'bob' },
    ]) {
      const res = await alice.api.call('createChat', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('INVALID_BODY');
    }
    const chat = await alice.api.call('getChat', { params: { chatId } });
    expect(chat.body.epoch).toBe(1);
  });

  it('an invitation where nobody could be added changes nothing', async () => {
    const res = await alice.api.call('inviteToChat', {
      params: { chatId },
      body: { invitees: ['phantom', 'ghost'] },
    });
    expect(res.status).toBe(200);
    expect(res.body.chat.epoch).toBe(1);
    expect(res.body.unavailable).toEqual([
      { username: 'phantom', reason: 'unknown' },
      { username: 'ghost', reason: 'unknown' },
    ]);
  });

  it('only joined members invite', async () => {
    await alice.api.call('inviteToChat', { params: { chatId }, body: { invitees: ['dave'] } });
    const res = await dave.api.call('inviteToChat', { params: { chatId }, body: { invitees: ['erin'] } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('NOT_JOINED');
  });
});

describe('a post from someone who has not joined is NOT_JOINED whatever else is wrong with it', () => {
  it('an invited member is answered 403 NOT_JOINED before the epoch, the clock and the signature are looked at (security round 2, #10)', async () => {
    const carol = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
    const created = await alice.api.call('createChat', { body: { invitees: ['carol'] } });
    const invitedTo = created.body.chat.id;
    expect(created.body.chat.members).toContainEqual({ username: 'carol', state: 'invited', online: true });
    // carol never joins; the server decrypts nothing, so any key makes her bodies
    for (const epoch of [1, 7]) carol.chatKeys.set(`${invitedTo}/${epoch}`, Buffer.alloc(32, 1));
    const skewed = { sentAt: new Date(Date.now() - 6 * 60_000).toISOString() };
    const forged = { signWith: bob.keys.signing.ed25519.privateKey };
    const cases: [string, unknown][] = [
      ['as it should be', carol.compose(invitedTo, 1, 'x', 'ed25519')],
      ['at a stale epoch', carol.compose(invitedTo, 7, 'x', 'ed25519')],
      ['off the clock', carol.compose(invitedTo, 1, 'x', 'ed25519', skewed)],
      ['badly signed', carol.compose(invitedTo, 1, 'x', 'ed25519', forged)],
      ['all three', carol.compose(invitedTo, 7, 'x', 'ed25519', { ...skewed, ...forged })],
    ];
    for (const [name, body] of cases) {
      const res = await post(body, carol, invitedTo);
      expect([name, res.status, res.body.code]).toEqual([name, 403, 'NOT_JOINED']);
    }
    // a member who left is no member at all: 404, before the same checks
    expect((await carol.api.call('joinChat', { params: { chatId: invitedTo } })).status).toBe(200);
    expect((await carol.api.call('leaveChat', { params: { chatId: invitedTo } })).status).toBe(204);
    for (const [name, body] of cases) {
      const res = await post(body, carol, invitedTo);
      expect([name, res.status, res.body.code]).toEqual([name, 404, 'CHAT_NOT_FOUND']);
    }
  });
});
