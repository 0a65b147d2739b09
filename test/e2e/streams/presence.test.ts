import { setTimeout } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type EventStream, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

let server: TestServer;
let watcher: Participant;
let watch: EventStream;

beforeAll(async () => {
  server = await startServer({ PRESENCE_GRACE_MS: '200' });
  watcher = await Participant.login(server.url, server.keysDir, 'erin', PASSWORD);
  watch = await watcher.events();
});
afterAll(async () => {
  watch?.close();
  await server?.close();
});

const presence = (username: string, online: boolean) =>
  watch.nextOf('presence', (d) => d.username === username && d.online === online);

async function status(username: string) {
  return (await watcher.api.call('getUserStatus', { params: { username } })).body;
}

describe('presence', () => {
  it('login makes a user online for the grace period, then offline without a stream', async () => {
    const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    await presence('alice', true);
    expect((await watcher.api.call('listOnlineUsers')).body.users).toEqual(['alice', 'erin']);
    await presence('alice', false);
    const s = await status('alice');
    expect(s.online).toBe(false);
    expect(Date.parse(s.lastSeen)).toBeLessThanOrEqual(Date.now());
    // the token still works: being offline is not being logged out
    expect((await alice.api.call('listUsers')).status).toBe(200);
  });

  it('an open stream keeps a user online past the grace period; closing it starts the grace', async () => {
    const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
    await presence('bob', true);
    const stream = await bob.events();
    // carol logs in after bob's stream opened; when her grace ends, bob's login grace has ended too
    await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
    await presence('carol', true);
    await presence('carol', false);
    expect((await status('bob')).online).toBe(true);
    expect(
      watch.events.some((e) => e.event === 'presence' && e.json.username === 'bob' && !e.json.online),
    ).toBe(false);
    stream.close();
    await presence('bob', false);
  });

  it("logout makes the user offline at once and ends that session's streams", async () => {
    const dave = await Participant.login(server.url, server.keysDir, 'dave', PASSWORD);
    const stream = await dave.events();
    await presence('dave', true);
    expect((await dave.api.call('logout')).status).toBe(204);
    await presence('dave', false);
    await stream.done;
    expect(stream.ended).toBe(true);
    await expect(dave.events()).rejects.toThrow(/401/);
  });

  it('a user with two sessions stays online until both are gone', async () => {
    const one = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    await presence('alice', true);
    const two = new Api(server.url);
    two.token = (await two.call('login', { body: { username: 'alice', password: PASSWORD } })).body.token;
    const stream = await one.events();
    await two.call('logout');
    expect((await status('alice')).online).toBe(true);
    await one.api.call('logout');
    await presence('alice', false);
    await stream.done;
  });

  it('lists every user with presence, sorted', async () => {
    const res = await watcher.api.call('listUsers');
    expect(res.body.map((u: { username: string }) => u.username)).toEqual([
      'alice',
      'bob',
      'carol',
      'dave',
      'erin',
    ]);
    expect(res.body.find((u: { username: string }) => u.username === 'erin').online).toBe(true);
  });

  it('USER_NOT_FOUND for an unknown or malformed username', async () => {
    for (const username of ['mallory', 'NOT-VALID', 'a'.repeat(40)]) {
      for (const op of ['getUserStatus', 'getUserKeys']) {
        const res = await watcher.api.call(op, { params: { username } });
        expect(res.status).toBe(404);
        expect(res.body.code).toBe('USER_NOT_FOUND');
      }
    }
  });
});

describe('token expiry', () => {
  /** When a participant's token expires (ms since the epoch), from its `exp` claim. */
  const expiry = (p: Participant) =>
    JSON.parse(Buffer.from(String(p.api.token).split('.')[1], 'base64url').toString()).exp * 1000;

  it('ends the stream and the session when the token expires, well within the grace period', async () => {
    const short = await startServer({ TOKEN_TTL: '4', PRESENCE_GRACE_MS: '60000' });
    try {
      const alice = await Participant.login(short.url, short.keysDir, 'alice', PASSWORD);
      const stream = await alice.events();
      expect((await alice.api.call('getUserStatus', { params: { username: 'alice' } })).body.online).toBe(
        true,
      );
      // Tokens expire on whole seconds: bob, logged in two seconds after alice, outlives her token
      // by two seconds. (A timer arranges the expiries; what follows waits for events.)
      await setTimeout(Math.max(0, expiry(alice) - 2000 - Date.now()));
      const observer = await Participant.login(short.url, short.keysDir, 'bob', PASSWORD);
      expect(expiry(observer)).toBeGreaterThanOrEqual(expiry(alice) + 2000);
      const watching = await observer.events();
      await stream.done; // the server ends it at expiry
      // alice's 60 s grace has not passed: she is offline because her session ended
      await watching.nextOf('presence', (d) => d.username === 'alice' && !d.online);
      const res = await observer.api.call('getUserStatus', { params: { username: 'alice' } });
      expect(res.status).toBe(200);
      expect(res.body.online).toBe(false);
      expect(watching.ended).toBe(false);
      expect((await alice.api.call('listUsers')).body.code).toBe('TOKEN_EXPIRED');
      watching.close();
      await watching.done;
    } finally {
      await short.close();
    }
  });
});
