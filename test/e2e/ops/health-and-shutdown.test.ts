import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { chatOf } from '../../support/chats.js';
import { Api, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

/** A gate a test holds a server's method at: `reached` once a call came, `open()` lets it on. */
function gate() {
  let reach!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const opened = new Promise<void>((resolve) => (open = resolve));
  const wait = () => {
    reach();
    return opened;
  };
  return { reached, open, wait };
}

/** Holds `obj[name]` at a gate until it is opened; gives the method back after. */
function holdAt<T extends object>(obj: T, name: keyof T) {
  const g = gate();
  const own = obj[name] as (...args: unknown[]) => Promise<unknown>;
  (obj as Record<keyof T, unknown>)[name] = async (...args: unknown[]) => {
    await g.wait();
    return own.apply(obj, args);
  };
  return { ...g, restore: () => ((obj as Record<keyof T, unknown>)[name] = own) };
}

/** The whole body of an event stream, read until the server ends it. */
async function streamBody(url: string, token: string): Promise<{ status: number; text: Promise<string> }> {
  const res = await request(`${url}/events`, {
    headers: { authorization: `Bearer ${token}` },
    bodyTimeout: 0,
  });
  return { status: res.statusCode, text: res.body.text() };
}

async function twoInAChat(server: TestServer) {
  const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
  const chatId = await chatOf(alice, bob);
  return { alice, bob, chatId };
}

describe('liveness and readiness probes', () => {
  it('GET /health/live and GET /health/ready answer 200 while the store and the bus answer', async () => {
    const server = await startServer();
    try {
      const api = new Api(server.url);
      expect((await api.call('getLiveness')).body).toEqual({ status: 'ok' });
      expect((await api.call('getReadiness')).body).toEqual({ status: 'ok' });
      expect((await api.call('getHealth')).body).toEqual({ status: 'ok' });
    } finally {
      await server.close();
    }
  });
});

describe('a shutdown (SIGTERM closes the app)', () => {
  it('turns readiness 503 at once, refuses new streams, finishes the post in flight and tells open streams to reconnect', async () => {
    const server = await startServer({ SECURECHAT_SHUTDOWN_MS: '20000' });
    const { alice, bob, chatId } = await twoInAChat(server);
    const stream = await streamBody(server.url, bob.api.token as string);
    expect(stream.status).toBe(200);
    const held = holdAt(server.app.messages, 'post');
    const posting = alice.send(chatId, 1, 'in flight at the shutdown', 'rsa-pss-sha256');
    await held.reached;

    const closing = server.close();
    const api = new Api(server.url);
    const ready = await api.call('getReadiness');
    expect(ready.status).toBe(503);
    expect(ready.headers['retry-after']).toBe('1');
    expect(ready.body.code).toBe('UNAVAILABLE');
    // the process still answers while it drains
    expect((await api.call('getLiveness')).status).toBe(200);
    const refused = await request(`${server.url}/events`, {
      headers: { authorization: `Bearer ${bob.api.token}` },
    });
    expect(refused.statusCode).toBe(503);
    await refused.body.dump();
    // the open stream was told when to reconnect, then ended
    expect(await stream.text).toMatch(/\nretry: \d+\n\n$/);

    held.open();
    const { res } = await posting;
    expect(res.status).toBe(201);
    await closing;
    held.restore();
  });

  it('tells a stream admitted as the shutdown began to reconnect at once, instead of holding the drain', async () => {
    const server = await startServer({ SECURECHAT_SHUTDOWN_MS: '30000' });
    const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    // the stream is past its admission (the token and the caps checked) when the shutdown begins
    const held = holdAt(server.app.presence, 'streamOpened');
    const opening = streamBody(server.url, alice.api.token as string);
    await held.reached;
    const started = performance.now();
    const closing = server.close();
    // readiness is 503 once the drain began, after the open streams were closed
    expect((await new Api(server.url).call('getReadiness')).status).toBe(503);
    held.open();
    const stream = await opening;
    expect(stream.status).toBe(200);
    expect(await stream.text).toMatch(/retry: \d+\n\n$/);
    await closing;
    // without the stream ended, the drain waits for it up to four fifths of the 30 s limit
    expect(performance.now() - started).toBeLessThan(10_000);
    held.restore();
  });
});
