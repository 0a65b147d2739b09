import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventStream, Participant } from './client.js';
import { PASSWORD, startServer, type TestServer } from './helper.js';

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
    await server.app.services.presence.settled();
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
    const hub = server.app.services.hub;
    const presence = (username: string, to: string[] | 'everyone') => ({
      kind: 'event' as const,
      type: 'presence',
      data: JSON.stringify({ username, online: true }),
      to,
    });
    // in one turn: a broadcast (held for the window), then an event for bob alone (not held)
    hub.deliver(presence('carol', 'everyone'));
    hub.deliver(presence('dave', ['bob']));
    await stream.nextOf('presence', (d) => d.username === 'dave');
    const order = stream.events.filter((e) => e.event === 'presence').map((e) => e.json.username);
    expect(order.slice(-2)).toEqual(['carol', 'dave']);
    stream.close();
  });

  it('every idle stream gets its ping', async () => {
    const dave = await Participant.login(server.url, server.keysDir, 'dave', PASSWORD);
    const streams = await Promise.all(Array.from({ length: 40 }, () => dave.events()));
    for (const stream of streams) await stream.next((e) => e.comment === 'ping');
    for (const stream of streams) stream.close();
  });
});
