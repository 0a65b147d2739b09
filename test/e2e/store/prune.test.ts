import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRUNE_BATCH, pruneEvents } from '../../../src/store/prune.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

let server: TestServer;
let alice: Participant;
let chatId: string;
beforeAll(async () => {
  server = await startServer({ SECURECHAT_POST_LIMIT: '1000000' });
  alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
  const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
  chatId = created.body.chat.id;
  await alice.acceptEnvelope(created.body.keyEnvelope);
});
afterAll(() => server?.close());

describe('pruning', () => {
  it('deletes a batch at a time, oldest first, yielding to other work between batches', async () => {
    const store = server.app.store;
    for (let i = 0; i < 34; i++) await alice.send(chatId, 1, `m${i}`, 'ed25519');
    const { latest } = await store.eventBounds();
    const calls: number[] = [];
    let turns = 0;
    const original = store.prune;
    const prune = store.prune.bind(store);
    store.prune = async (...args: Parameters<typeof prune>) => {
      const deleted = await prune(...args);
      calls.push(deleted);
      // something else queued now runs before the next batch starts
      setImmediate(() => {
        turns += 1;
      });
      return deleted;
    };
    try {
      const deleted = await pruneEvents(store, new Date(Date.now() + 60_000).toISOString(), Date.now(), 10);
      expect(deleted).toBe(latest);
      expect(calls).toEqual([10, 10, 10, latest - 30]);
      expect(turns).toBeGreaterThanOrEqual(3);
    } finally {
      store.prune = original;
    }
    expect(await store.eventBounds()).toEqual({ prunedThrough: latest, latest });
    // history is kept: only events go
    const history = await alice.api.call('listMessages', { params: { chatId } });
    expect(history.body.messages).toHaveLength(34);
    expect(PRUNE_BATCH).toBeGreaterThan(0);
  });

  it('leaves events newer than the retention alone', async () => {
    const store = server.app.store;
    const { latest } = await store.eventBounds();
    const cutoff = new Date(Date.now() - 1000).toISOString();
    await alice.send(chatId, 1, 'fresh', 'ed25519');
    expect(await pruneEvents(store, cutoff, Date.now())).toBe(0);
    expect((await store.eventBounds()).latest).toBe(latest + 1);
  });
});
