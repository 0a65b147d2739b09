import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, follow, type MessageData, type WarningChange } from '../../../src/client/index.js';
import { startServer, type TestServer } from '../../support/helper.js';
import { catchUp, libraryClient, texts } from '../../support/transcript.js';

// protocol.md "Transcript integrity": an honest server's conversation gives no warning at all,
// through everything a conversation goes through.

const MESSAGES = 500;
let server: TestServer;

beforeAll(async () => {
  // the key rotates every 60 messages: several rotations, posts answered STALE_EPOCH and sent again
  server = await startServer({ SECURECHAT_ROTATE_MESSAGES: '60', SECURECHAT_HISTORY_LIMIT: '100000' });
});
afterAll(() => server?.close());

/** bob's event stream, each message checked as it arrives; `until(seq)` waits for that seq. */
function streamOf(client: Client, chatId: string, lastEventId?: string) {
  const stop = new AbortController();
  const changes: WarningChange[] = [];
  let last = 0;
  let eventId = lastEventId;
  const waiting: { seq: number; resolve: () => void }[] = [];
  const done = follow(
    client.api,
    {
      onEvent: async (event) => {
        if (event.id !== undefined) eventId = event.id;
        if (event.type !== 'message' || event.data?.chatId !== chatId) return;
        const data = event.data as MessageData;
        const r = await client.transcript.receive(data, await client.verify(data, chatId));
        changes.push(...r.changes);
        last = Math.max(last, data.seq, ...r.recovered.map((m) => m.seq));
        for (const w of waiting.filter((x) => x.seq <= last)) w.resolve();
      },
    },
    stop.signal,
    { lastEventId },
  );
  return {
    changes,
    until: (seq: number) =>
      seq <= last ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ seq, resolve })),
    async close() {
      stop.abort();
      await done;
      return eventId;
    },
  };
}

describe('no false alarm', () => {
  it(`a ${MESSAGES}-message conversation of concurrent senders, rotations, an invitation, a leave, a reconnect and a restart warns of nothing`, async () => {
    const alice = (await libraryClient(server.url, 'alice')).client;
    const bob = (await libraryClient(server.url, 'bob')).client;
    const carolStores = await libraryClient(server.url, 'carol');
    let carol = carolStores.client;
    const { chat } = await alice.createChat(['bob', 'carol']);
    await bob.join(chat.id);
    await carol.join(chat.id);
    const changes: WarningChange[] = [];

    let stream = streamOf(bob, chat.id);
    let dave: Client | undefined;
    let carolIn = true;
    let sent = 0;
    let highest = 0;
    const post = async (c: Client) => {
      const { seq } = await c.send(chat.id, `message ${++sent}`, 'ed25519');
      highest = Math.max(highest, seq);
    };
    while (sent < MESSAGES) {
      // concurrent senders: a round of everyone at once
      const senders = [alice, bob, ...(carolIn ? [carol] : []), ...(dave ? [dave] : [])];
      await Promise.all(senders.slice(0, MESSAGES - sent).map(post));

      if (sent >= 100 && sent < 104) {
        // bob's stream is cut and resumed with Last-Event-ID
        const lastId = await stream.close();
        changes.push(...stream.changes);
        stream = streamOf(bob, chat.id, lastId);
      }
      if (sent >= 150 && sent < 154 && carolIn) {
        // carol's client is restarted over the state it kept, and catches up from history
        changes.push(...(await catchUp(carol, chat.id)));
        await carol.close();
        carol = (await libraryClient(server.url, 'carol', carolStores.stores)).client;
        changes.push(...(await catchUp(carol, chat.id)));
      }
      if (sent >= 200 && sent < 204 && !dave) {
        // an invitation: dave's checks begin where his membership does
        dave = (await libraryClient(server.url, 'dave')).client; // online, so invited at once
        await alice.invite(chat.id, ['dave']);
        await dave.join(chat.id);
        changes.push(...(await catchUp(dave, chat.id)));
      }
      if (sent >= 350 && carolIn) {
        changes.push(...(await catchUp(carol, chat.id)));
        await carol.api.leaveChat(chat.id);
        carolIn = false;
      }
      // every now and then the others catch up from history (and read their own messages back)
      if (sent % 60 < 4) {
        changes.push(...(await catchUp(alice, chat.id)));
        if (dave) changes.push(...(await catchUp(dave, chat.id)));
      }
    }
    await stream.until(highest);
    await stream.close();
    changes.push(...stream.changes);
    for (const c of [alice, bob, dave as Client]) changes.push(...(await catchUp(c, chat.id)));

    expect(texts(changes)).toEqual([]);
    for (const c of [alice, bob, carol, dave as Client]) expect(c.transcript.warnings(chat.id)).toEqual([]);
    expect(sent).toBe(MESSAGES);
    // the checks ran to the end: each client's next prev is the newest message
    for (const c of [alice, bob, dave as Client])
      expect((await c.transcript.next(chat.id)).prev?.seq).toBe(highest);
    for (const c of [alice, bob, carol, dave as Client]) await c.close();
  }, 240_000);

  it('a member who leaves and is invited back after a rotation starts a new baseline: no warning', async () => {
    const alice = (await libraryClient(server.url, 'alice')).client;
    const carol = (await libraryClient(server.url, 'carol')).client;
    try {
      const { chat } = await alice.createChat(['carol']);
      await carol.join(chat.id);
      await alice.send(chat.id, 'one', 'ed25519');
      await carol.send(chat.id, 'two', 'ed25519');
      expect(await catchUp(carol, chat.id)).toEqual([]);
      await carol.api.leaveChat(chat.id); // a new epoch: carol cannot read what follows
      await alice.send(chat.id, 'while carol is away', 'ed25519');
      await alice.invite(chat.id, ['carol']);
      await carol.join(chat.id);
      await alice.send(chat.id, 'welcome back', 'ed25519');
      await carol.send(chat.id, 'thanks', 'ed25519');
      const changes = await catchUp(carol, chat.id);
      changes.push(...(await catchUp(alice, chat.id)));
      expect(texts(changes)).toEqual([]);
      expect(carol.transcript.warnings(chat.id)).toEqual([]);
    } finally {
      await alice.close();
      await carol.close();
    }
  });
});
