import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../support/backend.js';
import { type EventStream, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// Every store and bus the configuration accepts: on PostgreSQL, with Redis and with the in-process bus.
const buses = BACKEND === 'postgres' ? ['redis', 'memory'] : ['memory'];

const LIMITS = {
  SECURECHAT_LOGIN_LIMIT: '100000',
  // many logins at once from this one address, the same user's among them
  SECURECHAT_LOGIN_HASHES_PER_IP: '1000',
  SECURECHAT_LOGIN_QUEUE: '1000',
  SECURECHAT_LOGIN_FAILURES_PER_USER_IP: '100000',
  SECURECHAT_LOGIN_FAILURES_PER_USER: '100000',
  SECURECHAT_MAX_STREAMS: '1000',
  SECURECHAT_STREAM_OPEN_LIMIT: '100000',
  // 60 streams and 60 logouts at once, all from this one address
  SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS: '0',
  SECURECHAT_POST_LIMIT: '100000',
};

/** Whether the stream ended before the next event `type` (matching `where`) reached it. */
const endsBefore = (
  stream: EventStream,
  type: string,
  where?: (json: EventStream['events'][0]['json']) => boolean,
) =>
  Promise.race([
    stream.done.then(() => 'ended'),
    stream.nextOf(type, where).then(
      () => 'still reading',
      () => 'ended', // it ended while waiting
    ),
  ]);
const endsBeforeAMessage = (stream: EventStream) => endsBefore(stream, 'message');

/**
 * Holds every call of the `methods` of `target` until `release` is called; `held` resolves when
 * the first one is held.
 */
function holdCalls<T extends object>(target: T, ...methods: (keyof T)[]) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let reached!: () => void;
  const held = new Promise<void>((resolve) => (reached = resolve));
  const originals = methods.map((method) => {
    const original = target[method] as (...args: unknown[]) => Promise<unknown>;
    target[method] = (async (...args: unknown[]) => {
      reached();
      await released;
      return original.apply(target, args);
    }) as T[keyof T];
    return original;
  });
  return {
    held,
    release() {
      methods.forEach((method, i) => {
        target[method] = originals[i] as T[keyof T];
      });
      release();
    },
  };
}

/** Holds every `hub.open` (authenticated, not yet registered in the hub). */
const holdOpens = (server: TestServer) => holdCalls(server.app.hub, 'open');

describe.each(buses)('a stream and the end of its session (%s bus)', (bus) => {
  let server: TestServer;
  let alice: Participant;
  let chatId: string;

  beforeAll(async () => {
    server = await startServer({ ...LIMITS, SECURECHAT_BUS: bus });
    alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
    const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
    chatId = created.body.chat.id;
    await alice.acceptEnvelope(created.body.keyEnvelope);
    const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
    await bob.acceptEnvelope((await bob.api.call('joinChat', { params: { chatId } })).body.keyEnvelope);
  });
  afterAll(() => server?.close());

  it('a logout that comes while the stream is being opened still ends it', async () => {
    const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
    const hold = holdOpens(server);
    const opening = bob.events();
    await hold.held; // authenticated, not yet registered in the hub
    expect((await bob.api.call('logout')).status).toBe(204);
    hold.release();
    const stream = await opening;
    await alice.send(chatId, 1, 'after the logout', 'ed25519');
    expect(await endsBeforeAMessage(stream)).toBe('ended');
    expect(server.app.hub.count('bob')).toBe(0);
  });

  it('a logout that comes before presence counts the stream does not bring the session back online', async () => {
    // erin's only session: offline once it is logged out
    const erin = await Participant.login(server.url, server.keysDir, 'erin', PASSWORD);
    const { presence, accounts } = server.app;
    // held before presence counts the stream (authenticated, stream claimed): at the route's
    // revocation check, or (without it) at streamOpened
    const holds = [holdCalls(presence, 'streamOpened'), holdCalls(accounts, 'isRevoked')];
    const opening = erin.events().then(
      (stream) => stream,
      (error: Error) => error,
    );
    try {
      await Promise.race(holds.map((hold) => hold.held));
      expect((await erin.api.call('logout')).status).toBe(204);
      await presence.settled();
      expect(await presence.isOnline('erin')).toBe(false);
    } finally {
      for (const hold of holds) hold.release();
    }
    const result = await opening;
    if (!(result instanceof Error)) await result.done;
    await presence.settled();
    expect(await presence.isOnline('erin')).toBe(false);
    expect(server.app.hub.count('erin')).toBe(0);
  });

  it('logouts racing stream opens leave no stream open', async () => {
    const sessions = await Promise.all(
      Array.from({ length: 60 }, () => Participant.login(server.url, server.keysDir, 'bob', PASSWORD)),
    );
    const streams = await Promise.all(
      sessions.map(async (bob) => {
        // a logout that comes first refuses the stream with a 401; any other failure fails the test
        const refused = (error: unknown) => {
          if (/answered 401\b/.test(String(error))) return null;
          throw error;
        };
        const [stream, logout] = await Promise.all([bob.events().catch(refused), bob.api.call('logout')]);
        expect(logout.status).toBe(204);
        return stream;
      }),
    );
    await alice.send(chatId, 1, 'after the logouts', 'ed25519');
    for (const stream of streams) if (stream) expect(await endsBeforeAMessage(stream)).toBe('ended');
  });
});

describe.each(buses)('a stream and the expiry of its token (%s bus)', (bus) => {
  it('ends at the expiry even when it was registered after the session ended', async () => {
    const server = await startServer({ ...LIMITS, SECURECHAT_BUS: bus, TOKEN_TTL: '2' });
    try {
      const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
      // the session's end at expiry, as the server announces it
      const expired = new Promise<void>((resolve) =>
        server.app.fanout.subscribe((m) => {
          if (m.kind === 'close-session' && m.username === 'bob') resolve();
        }),
      );
      const hold = holdOpens(server);
      const opening = bob.events();
      await hold.held;
      await expired;
      hold.release();
      const stream = await opening;
      // alice's login is news to every open stream: bob's must have ended before it
      const news = endsBefore(stream, 'presence', (p) => p.username === 'alice');
      await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
      expect(await news).toBe('ended');
      expect(server.app.hub.count('bob')).toBe(0);
    } finally {
      await server.close();
    }
  });
});
