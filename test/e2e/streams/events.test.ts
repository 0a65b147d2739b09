import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatOf } from '../../support/chats.js';
import { EventStream, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

let server: TestServer;
let alice: Participant;
let bob: Participant;
let chatId: string;

beforeAll(async () => {
  server = await startServer({ SECURECHAT_HEARTBEAT_MS: '50' });
  alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
  chatId = await chatOf(alice, bob);
});
afterAll(() => server?.close());

const ids = (stream: EventStream) => stream.events.filter((e) => e.id !== undefined).map((e) => Number(e.id));

describe('GET /events', () => {
  it('is an uncached, unbuffered event stream with a ping when idle', async () => {
    const stream = await bob.events();
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(stream.headers['cache-control']).toBe('no-store');
    expect(stream.headers['x-accel-buffering']).toBe('no');
    await stream.next((e) => e.comment === 'ping');
    stream.close();
  });

  it('refuses without a valid token', async () => {
    await expect(EventStream.open(server.url, 'nope')).rejects.toThrow(/401/);
  });

  it('replays every stored event after Last-Event-ID, in order, then goes live', async () => {
    const first = await bob.events();
    const a = await alice.send(chatId, 1, 'one', 'rsa-pss-sha256');
    const seen = await first.nextOf('message', (d) => d.seq === a.res.body.seq);
    first.close();
    await first.done;

    // while bob is away
    const missed = [];
    for (const text of ['two', 'three', 'four'])
      missed.push((await alice.send(chatId, 1, text, 'dsa-sha256')).res.body.seq);

    const resumed = await bob.events(seen.id);
    for (const seq of missed) {
      const e = await resumed.nextOf('message', (d) => d.seq === seq);
      expect(await bob.read(e.json)).toBeTruthy();
    }
    const live = await alice.send(chatId, 1, 'five', 'ed25519');
    await resumed.nextOf('message', (d) => d.seq === live.res.body.seq);
    const got = ids(resumed);
    expect(got).toEqual([...got].sort((x, y) => x - y));
    expect(got[0]).toBeGreaterThan(Number(seen.id));
    expect(new Set(got).size).toBe(got.length);
    resumed.close();
  });

  it("replays only the caller's own events", async () => {
    const carol = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
    const stream = await carol.events('0');
    // a live event after the replay: everything replayed is in by then
    await Participant.login(server.url, server.keysDir, 'dave', PASSWORD);
    await stream.nextOf('presence', (d) => d.username === 'dave');
    expect(stream.events.filter((e) => e.id !== undefined)).toEqual([]);
    // bob, a member, gets the chat's history of events from 0
    const bobs = await bob.events('0');
    await Participant.login(server.url, server.keysDir, 'erin', PASSWORD);
    await bobs.nextOf('presence', (d) => d.username === 'erin');
    expect(bobs.events.filter((e) => e.event === 'chat.invited')).toHaveLength(1);
    stream.close();
    bobs.close();
  });

  it('sends resync for an id it never issued or no longer keeps', async () => {
    for (const lastEventId of ['999999999', 'abc', '-1']) {
      const stream = await bob.events(lastEventId);
      const e = await stream.nextOf('resync');
      expect(e.json.reason).toBe('unknown-event-id');
      expect(e.id).toBeUndefined();
      stream.close();
    }
    const before = (await server.app.store.eventBounds()).latest;
    await server.app.store.prune(new Date(Date.now() + 1000).toISOString(), Date.now(), 1e6);
    const old = await bob.events(String(before - 1));
    expect((await old.nextOf('resync')).json.reason).toBe('history-pruned');
    // after a resync the stream is live as usual
    const live = await alice.send(chatId, 1, 'after prune', 'ed25519');
    await old.nextOf('message', (d) => d.seq === live.res.body.seq);
    old.close();
    // resuming exactly at the pruning point loses nothing, so needs no resync
    const exact = await bob.events(String((await server.app.store.eventBounds()).prunedThrough));
    const e = await exact.nextOf('message', (d) => d.seq === live.res.body.seq);
    expect(e.id).toBeDefined();
    expect(exact.events.some((x) => x.event === 'resync')).toBe(false);
    exact.close();
  });
});
