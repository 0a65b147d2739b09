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

  it("at the cap, the address's oldest connection that serves nothing is closed to make room; other addresses are under their own cap", async () => {
    await withServer(
      { SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS: '3', SECURECHAT_HEADERS_TIMEOUT_MS: '30000' },
      async (server) => {
        const three = accepted(server, 3);
        const held = [0, 1, 2].map(() => new RawConnection(server.url));
        await three;
        // the newest is served; the oldest, which never sent a byte, is the one closed
        const fourth = new RawConnection(server.url);
        fourth.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
        expect((await fourth.response()).status).toBe(200);
        await held[0].closed;
        expect(held[0].received).toBe('');
        // the others still work
        held[1].write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
        expect((await held[1].response()).status).toBe(200);
        // another address (all of 127.0.0.0/8 is this host) is under its own cap
        const elsewhere = new RawConnection(server.url, { localAddress: '127.0.0.2' });
        elsewhere.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
        expect((await elsewhere.response()).status).toBe(200);
        for (const c of [...held, fourth, elsewhere]) c.destroy();
      },
    );
  });

  it('when every connection of an address is serving (streams), a new one from it is closed at once', async () => {
    await withServer(
      { SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS: '3', SECURECHAT_HEADERS_TIMEOUT_MS: '30000' },
      async (server) => {
        const { token } = (await Participant.login(server.url, server.keysDir, 'bob', PASSWORD)).api;
        const streams = [0, 1, 2].map(() => new RawConnection(server.url, { localAddress: '127.0.0.4' }));
        for (const s of streams)
          s.write(`GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
        for (const s of streams) expect((await s.response()).status).toBe(200);
        const fourth = new RawConnection(server.url, { localAddress: '127.0.0.4' });
        await fourth.closed;
        expect(fourth.received).toBe('');
        for (const s of streams) expect(s.socket.destroyed).toBe(false);
        for (const s of streams) s.destroy();
      },
    );
  });

  it('a client holding half-sent requests at the cap does not shut out another client at its address', async () => {
    await withServer(
      { SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS: '4', SECURECHAT_HEADERS_TIMEOUT_MS: '30000' },
      async (server) => {
        let attacking = true;
        const attackers = new Set<RawConnection>();
        const attack = () => {
          if (!attacking) return;
          const c = new RawConnection(server.url);
          attackers.add(c);
          c.write('GET /health HTTP/1.1\r\nHost: x\r\n');
          void c.closed.then(() => {
            attackers.delete(c);
            attack();
          });
        };
        const four = accepted(server, 4);
        for (let i = 0; i < 4; i++) attack();
        await four;
        let served = 0;
        for (let i = 0; i < 10; i++) {
          const mine = new RawConnection(server.url);
          mine.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
          if ((await mine.response().catch(() => undefined))?.status === 200) served += 1;
          mine.destroy();
        }
        attacking = false;
        for (const c of attackers) c.destroy();
        expect(served).toBe(10);
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
