import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SseConnection } from '../../../src/sse/connection.js';
import { type EventStream, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({
    SECURECHAT_HEARTBEAT_MS: '100',
    PRESENCE_GRACE_MS: '0',
    SECURECHAT_MAX_STREAMS: '100',
    SECURECHAT_STREAM_OPEN_LIMIT: '1000',
    SECURECHAT_LOGIN_LIMIT: '1000',
    // many logins at once from this one address, the same user's among them
    SECURECHAT_LOGIN_HASHES_PER_IP: '1000',
    SECURECHAT_LOGIN_QUEUE: '1000',
    SECURECHAT_LOGIN_FAILURES_PER_USER_IP: '100000',
    SECURECHAT_LOGIN_FAILURES_PER_USER: '100000',
  });
});
afterAll(() => server?.close());

const changes = (stream: EventStream, username: string) =>
  stream.events
    .filter((e) => e.event === 'presence' && e.json.username === username)
    .map((e) => e.json.online);

const presence = (username: string, to: string[] | 'everyone', online = true) => ({
  kind: 'event' as const,
  type: 'presence',
  data: JSON.stringify({ username, online }),
  to,
});
const original = SseConnection.prototype.deliver;

describe('fan-out to many streams', () => {
  it('every presence change reaches every stream, in order, however close together', async () => {
    const erin = await Participant.login(server.url, server.keysDir, 'erin', PASSWORD);
    const streams = await Promise.all(Array.from({ length: 3 }, () => erin.events()));
    const flippers = ['alice', 'bob', 'carol', 'dave'];
    // each logs in and out three times, all at once: many changes within one coalescing window
    await Promise.all(
      flippers.map(async (u) => {
        for (let round = 0; round < 3; round++) {
          const p = await Participant.login(server.url, server.keysDir, u, PASSWORD);
          expect((await p.api.call('logout')).status).toBe(204);
        }
      }),
    );
    await server.app.presence.settled();
    for (const stream of streams) {
      for (const u of flippers) {
        for (let round = 0; round < 3; round++) {
          await stream.nextOf('presence', (d) => d.username === u && d.online === true);
          await stream.nextOf('presence', (d) => d.username === u && d.online === false);
        }
        expect(changes(stream, u)).toEqual([true, false, true, false, true, false]);
      }
      stream.close();
    }
  });

  it('a broadcast held for its window still goes out before any later event', async () => {
    const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
    const stream = await bob.events();
    const hub = server.app.hub;
    // in one turn: a broadcast (held for the window), then an event for bob alone (not held)
    hub.deliver(presence('carol', 'everyone'));
    hub.deliver(presence('dave', ['bob']));
    await stream.nextOf('presence', (d) => d.username === 'dave');
    const order = stream.events.filter((e) => e.event === 'presence').map((e) => e.json.username);
    expect(order.slice(-2)).toEqual(['carol', 'dave']);
    stream.close();
  });

  it('events to a few users cost writes to their streams only: everyone else gets the window in one write', async () => {
    const erin = await Participant.login(server.url, server.keysDir, 'erin', PASSWORD);
    const streams = await Promise.all(Array.from({ length: 20 }, () => erin.events()));
    const carol = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
    const own = await carol.events();
    const hub = server.app.hub;
    const presenceWrites = new Map<SseConnection, number>();
    const deliver = vi.spyOn(SseConnection.prototype, 'deliver').mockImplementation(function (
      this: SseConnection,
      event,
    ) {
      if (event.id === undefined && event.chunk.includes('"window-'))
        presenceWrites.set(this, (presenceWrites.get(this) ?? 0) + 1);
      return original.call(this, event);
    });
    try {
      // in one turn: 100 presence changes, each followed by an event for one user (carol), and
      // by one for a user with no stream here
      for (let i = 0; i < 100; i++) {
        hub.deliver(presence(`window-${i}`, 'everyone'));
        hub.deliver(presence(`to-carol-${i}`, ['carol']));
        hub.deliver(presence(`to-nobody-${i}`, ['nobody']));
      }
      for (const stream of [...streams, own])
        await stream.nextOf('presence', (d) => d.username === 'window-99');
    } finally {
      deliver.mockRestore();
    }
    // erin's streams: the whole window in one write each; carol's: one before each of her events
    const counts = [...presenceWrites.values()].sort((a, b) => a - b);
    expect(counts).toEqual([...Array(20).fill(1), 100]);
    // and carol had every change gathered before each of her events, before it
    const order = own.events.filter((e) => e.event === 'presence').map((e) => e.json.username);
    const mine = order.filter((u) => u.startsWith('window-') || u.startsWith('to-carol-'));
    expect(mine).toEqual(Array.from({ length: 100 }, (_, i) => [`window-${i}`, `to-carol-${i}`]).flat());
    for (const stream of [...streams, own]) stream.close();
  });

  it('a window larger than a stream buffer does not cut the readers that keep up', async () => {
    const buffered = await startServer({
      SECURECHAT_STREAM_BUFFER: '131072',
      SECURECHAT_MAX_STREAMS: '100',
      SECURECHAT_STREAM_OPEN_LIMIT: '1000',
    });
    try {
      const erin = await Participant.login(buffered.url, buffered.keysDir, 'erin', PASSWORD);
      const streams = await Promise.all(Array.from({ length: 10 }, () => erin.events()));
      const hub = buffered.app.hub;
      // live first: what arrives while a stream is still opening (its revocation check) counts
      // against its buffer as pending, by design
      hub.deliver(presence('ready', 'everyone'));
      for (const stream of streams) await stream.nextOf('presence', (d) => d.username === 'ready');
      // ~60 bytes each: 4,000 changes in one turn are ~240 KB, nearly two buffers. (The readers
      // run in this same process: a much larger burst also tests whether this process gets the
      // CPU to read in time on a busy machine, which is not what this test is about.)
      for (let i = 0; i < 4_000; i++) hub.deliver(presence(`user${i}`, 'everyone', false));
      for (const stream of streams) await stream.nextOf('presence', (d) => d.username === 'user3999');
      expect(hub.size).toBe(10);
      for (const stream of streams) {
        expect(
          stream.events.filter((e) => e.event === 'presence' && e.json.username.startsWith('user')),
        ).toHaveLength(4_000);
        stream.close();
      }
    } finally {
      await buffered.close();
    }
  });

  it('every idle stream gets its ping', async () => {
    const dave = await Participant.login(server.url, server.keysDir, 'dave', PASSWORD);
    const streams = await Promise.all(Array.from({ length: 40 }, () => dave.events()));
    for (const stream of streams) await stream.next((e) => e.comment === 'ping');
    for (const stream of streams) stream.close();
  });
});
