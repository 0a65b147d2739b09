import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLAY_PAGE_BYTES } from '../../../src/sse/replay.js';
import type { StoredEvent } from '../../../src/store/message-types.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

const PAGE_BYTES = 256 * 1024;
const LARGE = 12;

let server: TestServer;
let alice: Participant;
let bob: Participant;
let chatId: string;
beforeAll(async () => {
  server = await startServer({
    SECURECHAT_HISTORY_PAGE_BYTES: String(PAGE_BYTES),
    SECURECHAT_POST_LIMIT: '1000000',
  });
  alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
  const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
  chatId = created.body.chat.id;
  await alice.acceptEnvelope(created.body.keyEnvelope);
  await bob.api.call('joinChat', { params: { chatId } });
  // twelve messages of 48 KiB (64 KiB of base64 each): three-quarters of a MiB
  for (let i = 0; i < LARGE; i++) {
    const { res } = await alice.send(chatId, 1, randomBytes(24 * 1024).toString('hex'), 'ed25519');
    expect(res.status).toBe(201);
  }
});
afterAll(() => server?.close());

describe('history pages are bounded by bytes as well as by count', () => {
  it('a page stops before SECURECHAT_HISTORY_PAGE_BYTES; continuing after the last seq gets the rest', async () => {
    const seqs: number[] = [];
    let after = 0;
    for (;;) {
      const res = await bob.api.call('listMessages', { params: { chatId }, query: { after, limit: 1000 } });
      expect(res.status).toBe(200);
      const { messages } = res.body as { messages: { seq: number }[] };
      if (messages.length === 0) break;
      expect(messages.length).toBeLessThan(LARGE);
      expect(Buffer.byteLength(JSON.stringify(res.body))).toBeLessThanOrEqual(PAGE_BYTES);
      seqs.push(...messages.map((m) => m.seq));
      after = messages[messages.length - 1].seq;
    }
    expect(seqs).toEqual(Array.from({ length: LARGE }, (_, i) => i + 1));
  });

  it('a page holds one message, however large, so history never stalls', async () => {
    const store = server.app.store;
    const page = await store.listMessages(chatId.toLowerCase(), 0, 1000, 1, 1);
    expect(page.map((m) => m.seq)).toEqual([1]);
  });

  it('replay reads stored events in pages bounded by bytes, and delivers every one in order', async () => {
    const store = server.app.store;
    const pages: number[] = [];
    const original = store.eventsAfter;
    const read = store.eventsAfter.bind(store);
    store.eventsAfter = async (...args: Parameters<typeof read>): Promise<StoredEvent[]> => {
      const page = await read(...args);
      pages.push(page.reduce((bytes, e) => bytes + e.data.length, 0));
      return page;
    };
    try {
      const stream = await bob.events('0');
      for (let seq = 1; seq <= LARGE; seq++) await stream.nextOf('message', (d) => d.seq === seq);
      stream.close();
      await stream.done;
    } finally {
      store.eventsAfter = original;
    }
    // every page within its byte budget; never the whole backlog at once
    expect(pages.length).toBeGreaterThan(1);
    for (const bytes of pages) expect(bytes).toBeLessThanOrEqual(REPLAY_PAGE_BYTES);
  });
});

describe('a replay that spans a prune', () => {
  it('sends resync instead of skipping what the prune took between two pages', async () => {
    const carol = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
    const created = await carol.api.call('createChat', { body: { invitees: ['dave'] } });
    const small = created.body.chat.id;
    await carol.acceptEnvelope(created.body.keyEnvelope);
    const from = (await server.app.store.eventBounds()).latest;
    // more than one replay page of events (500), however they are counted
    for (let i = 0; i < 620; i++) await carol.send(small, 1, `m${i}`, 'ed25519');
    const store = server.app.store;
    const original = store.eventsAfter;
    const read = store.eventsAfter.bind(store);
    let pruned = false;
    store.eventsAfter = async (...args: Parameters<typeof read>): Promise<StoredEvent[]> => {
      const page = await read(...args);
      if (!pruned) {
        // the hourly prune runs between the first page and the second
        pruned = true;
        await store.prune(new Date(Date.now() + 60_000).toISOString(), Date.now(), 1_000_000);
      }
      return page;
    };
    try {
      const stream = await carol.events(String(from));
      const resync = await stream.nextOf('resync');
      expect(resync.json.reason).toBe('history-pruned');
      // what came before the resync is a gapless run from the start
      // (live events may follow the resync: with the ordered relay they can come late)
      const before = stream.events.slice(
        0,
        stream.events.findIndex((e) => e.event === 'resync'),
      );
      const seqs = before.filter((e) => e.event === 'message').map((e) => e.json.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      stream.close();
      await stream.done;
    } finally {
      store.eventsAfter = original;
    }
  });
});
