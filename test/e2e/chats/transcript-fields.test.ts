import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatOf } from '../../support/chats.js';
import { type EventStream, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// protocol.md, "Transcript integrity": what the server checks of `device`, `counter` and `prev`,
// and that it stores and returns them exactly as sent.

let server: TestServer;
let alice: Participant;
let bob: Participant;
let bobEvents: EventStream;
let chatId: string;

const DEVICE = 'AAECAwQFBgcICQoLDA0ODw'; // 16 bytes 00..0f, base64url without padding
const HASH = 'a'.repeat(64);

beforeAll(async () => {
  server = await startServer();
  alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
  bobEvents = await bob.events();
  chatId = await chatOf(alice, bob);
});

afterAll(async () => {
  bobEvents?.close();
  await server?.close();
});

const post = (body: unknown) => alice.api.call('postMessage', { params: { chatId }, body });
const history = async () =>
  (await alice.api.call('listMessages', { params: { chatId }, query: { limit: 1000 } })).body.messages;

describe('a version-2 message (device, counter, prev)', () => {
  it('is stored and returned exactly as sent, in the message event and in history', async () => {
    const first = alice.compose(chatId, 1, 'one', 'ed25519', {
      transcript: { device: DEVICE, counter: 1, prev: null },
    });
    const r1 = await post(first);
    expect(r1.status).toBe(201);
    const second = alice.compose(chatId, 1, 'two', 'rsa-pss-sha256', {
      transcript: { device: DEVICE, counter: 2 ** 53 - 1, prev: { seq: r1.body.seq, hash: HASH } },
    });
    expect((await post(second)).status).toBe(201);

    const events = [
      await bobEvents.next((e) => e.event === 'message' && e.json.message.id === first.id),
      await bobEvents.next((e) => e.event === 'message' && e.json.message.id === second.id),
    ];
    expect(events.map((e) => e.json.message)).toEqual([first, second]);
    const stored = (await history()).filter((m: { message: { id: string } }) =>
      [first.id, second.id].includes(m.message.id),
    );
    expect(stored.map((m: { message: unknown }) => m.message)).toEqual([first, second]);
    expect(await bob.read(stored[1])).toBe('two');
  });

  it('a version-1 message is still accepted and comes back without the fields', async () => {
    const v1 = alice.compose(chatId, 1, 'old', 'ed25519');
    expect((await post(v1)).status).toBe(201);
    const event = await bobEvents.next((e) => e.event === 'message' && e.json.message.id === v1.id);
    expect(event.json.message).toEqual(v1);
    expect(Object.keys(event.json.message)).not.toContain('device');
  });

  it('a bad shape of device, counter or prev is INVALID_BODY, and stores nothing', async () => {
    const before = (await history()).length;
    const good = { device: DEVICE, counter: 1, prev: null };
    const cases: Record<string, unknown>[] = [
      { ...good, device: 'AAECAwQFBgcICQoLDA0ODw==' }, // padded
      { ...good, device: 'AAECAwQFBgcICQoLDA0OD' }, // 21 characters
      { ...good, device: 'AAECAwQFBgcICQoLDA0ODx' }, // not 16 bytes (bits past the 128th)
      { ...good, device: 'AAECAwQFBgcICQoLDA0O+w' }, // standard base64, not base64url
      { ...good, counter: 0 },
      { ...good, counter: 1.5 },
      { ...good, counter: '1' },
      { ...good, counter: 2 ** 53 },
      { ...good, prev: { seq: 0, hash: HASH } },
      { ...good, prev: { seq: 1, hash: 'A'.repeat(64) } }, // upper-case hex
      { ...good, prev: { seq: 1, hash: 'a'.repeat(63) } },
      { ...good, prev: { seq: 1 } },
      { ...good, prev: { seq: 1, hash: HASH, extra: 1 } },
      { ...good, prev: 'none' },
      { device: DEVICE, counter: 1 }, // prev missing: the three come together
      { device: DEVICE },
      { prev: null },
    ];
    for (const fields of cases) {
      // signed over whatever was sent: only the shape is wrong
      const v1 = alice.compose(chatId, 1, 'x', 'ed25519');
      const res = await post({ ...v1, ...fields });
      expect([res.status, res.body.code], JSON.stringify(fields)).toEqual([400, 'INVALID_BODY']);
    }
    expect((await history()).length).toBe(before);
  });

  it('a prev.seq not lower than the seq the message would get is INVALID_PREV, and stores nothing', async () => {
    const before = await history();
    const next = before.length + 1;
    for (const seq of [next, next + 1, 2 ** 53 - 1]) {
      const body = alice.compose(chatId, 1, 'x', 'ed25519', {
        transcript: { device: DEVICE, counter: 7, prev: { seq, hash: HASH } },
      });
      const res = await post(body);
      expect([res.status, res.body.code], String(seq)).toEqual([400, 'INVALID_PREV']);
    }
    expect((await history()).length).toBe(before.length);
    const ok = alice.compose(chatId, 1, 'x', 'ed25519', {
      transcript: { device: DEVICE, counter: 7, prev: { seq: next - 1, hash: HASH } },
    });
    expect((await post(ok)).status).toBe(201);
  });

  it('the signature covers the fields: one changed, dropped or added is BAD_SIGNATURE', async () => {
    const transcript = { device: DEVICE, counter: 9, prev: { seq: 1, hash: HASH } };
    const body = alice.compose(chatId, 1, 'x', 'ed25519', { transcript });
    const { device: _d, counter: _c, prev: _p, ...stripped } = body;
    const v1 = alice.compose(chatId, 1, 'x', 'ed25519');
    const forged = [
      { ...body, counter: 10 },
      { ...body, device: 'AQECAwQFBgcICQoLDA0ODw' },
      { ...body, prev: { seq: 1, hash: 'b'.repeat(64) } },
      { ...body, prev: null },
      stripped, // a version-2 message re-sent without its fields
      { ...v1, ...transcript }, // a version-1 message given fields it was not signed with
    ];
    for (const f of forged) {
      const res = await post(f);
      expect([res.status, res.body.code], JSON.stringify(f)).toEqual([400, 'BAD_SIGNATURE']);
    }
  });
});
