import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Participant } from '../support/client.js';
import { PASSWORD, type TestServer, withServer } from '../support/helper.js';
import { RawConnection, requestHead } from '../support/raw-http.js';

/** Resolves once the server has accepted `count` more connections, with its side of them. */
function accepted(server: TestServer, count: number): Promise<Socket[]> {
  return new Promise((resolve) => {
    const seen: Socket[] = [];
    const onConnection = (socket: Socket) => {
      seen.push(socket);
      if (seen.length < count) return;
      server.app.server.off('connection', onConnection);
      resolve(seen);
    };
    server.app.server.on('connection', onConnection);
  });
}

describe('connections are held only as long as a client needs (security round 2, #6)', () => {
  it('a connection that sends part of a request head, or nothing, is closed at the header timeout', async () => {
    await withServer({ SECURECHAT_HEADERS_TIMEOUT_MS: '500' }, async (server) => {
      const partial = new RawConnection(server.url);
      await partial.connected;
      partial.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      const idle = new RawConnection(server.url);
      const [partialMs, idleMs] = await Promise.all([partial.closed, idle.closed]);
      expect(partial.received).toMatch(/^HTTP\/1\.1 408 /);
      // not before its time; the bound above is loose (the machine is shared), Node's default was 60 s
      for (const ms of [partialMs, idleMs]) {
        expect(ms).toBeGreaterThanOrEqual(450);
        expect(ms).toBeLessThan(10_000);
      }
    });
  });

  it('a request whose body does not arrive within the request timeout is closed', async () => {
    await withServer(
      { SECURECHAT_HEADERS_TIMEOUT_MS: '300', SECURECHAT_REQUEST_TIMEOUT_MS: '600' },
      async (server) => {
        const slow = new RawConnection(server.url);
        slow.write(`${requestHead('POST', '/auth/login', 100)}{"username":`);
        const ms = await slow.closed;
        expect(slow.received).toMatch(/^HTTP\/1\.1 408 /);
        expect(ms).toBeGreaterThanOrEqual(550);
      },
    );
  });

  it('connections from one address beyond the cap are closed; those under it, and other addresses, are served', async () => {
    await withServer(
      { SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS: '3', SECURECHAT_HEADERS_TIMEOUT_MS: '30000' },
      async (server) => {
        const three = accepted(server, 3);
        const held = [0, 1, 2].map(() => new RawConnection(server.url));
        const serverSides = await three;
        const fourth = new RawConnection(server.url);
        await fourth.closed;
        expect(fourth.received).toBe('');
        // another address (all of 127.0.0.0/8 is this host) is under its own cap
        const elsewhere = new RawConnection(server.url, { localAddress: '127.0.0.2' });
        elsewhere.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
        expect((await elsewhere.response()).status).toBe(200);
        elsewhere.destroy();
        // the held ones work
        held[0].write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
        expect((await held[0].response()).status).toBe(200);
        // and once one has closed (on the server's side too), the address may open another
        const mine = serverSides.find((socket) => socket.remotePort === held[1].socket.localPort);
        const serverClosed = once(mine as Socket, 'close');
        held[1].destroy();
        await serverClosed;
        const again = new RawConnection(server.url);
        again.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
        expect((await again.response()).status).toBe(200);
        for (const c of [...held, again]) c.destroy();
      },
    );
  });

  it('an /events stream stays open, and gets events, past the request timeout', async () => {
    await withServer(
      { SECURECHAT_HEADERS_TIMEOUT_MS: '300', SECURECHAT_REQUEST_TIMEOUT_MS: '600' },
      async (server) => {
        const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
        const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
        const stream = await bob.events();
        // a request opened after the stream, cut at the request timeout: the stream is older than that
        const slow = new RawConnection(server.url);
        slow.write(`${requestHead('POST', '/auth/login', 100)}{`);
        await slow.closed;
        expect(slow.received).toMatch(/^HTTP\/1\.1 408 /);
        const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
        const invited = await stream.nextOf('chat.invited');
        expect(invited.json.chat.id).toBe(created.body.chat.id);
        expect(stream.ended).toBe(false);
        stream.close();
      },
    );
  });
});
