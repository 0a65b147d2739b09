import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../scripts/child.js';
import { backendEnv } from '../support/backend.js';
import { chatOf } from '../support/chats.js';
import { Api, Participant } from '../support/client.js';
import { PASSWORD, withServer } from '../support/helper.js';

describe('transport', () => {
  it('serves HTTPS with a self-signed certificate for localhost and the loopback addresses', async () => {
    await withServer({ SECURECHAT_TLS: 'self-signed' }, async (server) => {
      expect(server.url).toMatch(/^https:/);
      const certFile = path.join(server.keysDir, 'server', 'tls.cert.pem');
      const pem = await readFile(certFile, 'utf8');
      const cert = new X509Certificate(pem);
      expect(cert.subjectAltName).toContain('DNS:localhost');
      expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
      const trusted = new Agent({ connect: { ca: pem } });
      const ok = await request(`${server.url}/health`, { dispatcher: trusted });
      expect(await ok.body.json()).toEqual({ status: 'ok' });
      expect(ok.headers['strict-transport-security']).toMatch(/max-age=/);
      await expect(request(`${server.url}/health`)).rejects.toThrow(/self.signed|certificate/i);
      await trusted.close();
      const cli = await runCli(
        ['--server', server.url, '--ca', certFile, '--user', 'bob', '--password-stdin', 'status', 'alice'],
        { SECURECHAT_KEYS_DIR: server.keysDir },
        PASSWORD,
      );
      expect(cli.stderr).toBe('');
      expect(cli.stdout).toMatch(/^alice is offline/);
      const untrusted = await runCli(
        ['--server', server.url, '--user', 'bob', '--password-stdin', 'online'],
        { SECURECHAT_KEYS_DIR: server.keysDir },
        PASSWORD,
      );
      expect(untrusted.code).toBe(1);
    });
  });

  it('sends security headers, no HSTS over plain HTTP, and no CORS unless origins are listed', async () => {
    await withServer({}, async (server) => {
      const res = await request(`${server.url}/health`, { headers: { origin: 'https://evil.example' } });
      await res.body.dump();
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
      expect(res.headers['content-security-policy']).not.toMatch(/upgrade-insecure-requests/);
      expect(res.headers['strict-transport-security']).toBeUndefined();
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    });
    await withServer({ SECURECHAT_CORS_ORIGINS: 'https://chat.example' }, async (server) => {
      const good = await request(`${server.url}/health`, { headers: { origin: 'https://chat.example' } });
      await good.body.dump();
      expect(good.headers['access-control-allow-origin']).toBe('https://chat.example');
      const evil = await request(`${server.url}/health`, { headers: { origin: 'https://evil.example' } });
      await evil.body.dump();
      expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    });
  });
});

describe('limits', () => {
  it('slows password guessing per user and address, without locking out the user elsewhere', async () => {
    await withServer({ SECURECHAT_LOGIN_FAILURES_PER_USER_IP: '3' }, async (server) => {
      const api = new Api(server.url);
      for (let i = 0; i < 3; i++) {
        expect((await api.call('login', { body: { username: 'alice', password: 'guess' } })).status).toBe(
          401,
        );
      }
      const limited = await api.call('login', { body: { username: 'alice', password: PASSWORD } });
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // other users from the same address are not affected
      expect((await api.call('login', { body: { username: 'bob', password: PASSWORD } })).status).toBe(200);
    });
  });

  it('limits login attempts per address, posts per user, streams per user, members per chat', async () => {
    await withServer(
      {
        SECURECHAT_LOGIN_LIMIT: '6',
        SECURECHAT_POST_LIMIT: '3',
        SECURECHAT_MAX_STREAMS: '2',
        SECURECHAT_MAX_MEMBERS: '2',
      },
      async (server) => {
        const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
        const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
        const carol = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
        const full = await alice.api.call('createChat', { body: { invitees: ['bob', 'carol'] } });
        expect(full.status).toBe(409);
        expect(full.body.code).toBe('CHAT_FULL');
        const chatId = await chatOf(alice, bob);
        const invite = await alice.api.call('inviteToChat', {
          params: { chatId },
          body: { invitees: ['carol'] },
        });
        expect(invite.body.code).toBe('CHAT_FULL');

        for (let i = 0; i < 3; i++)
          expect((await alice.send(chatId, 1, `m${i}`, 'ed25519')).res.status).toBe(201);
        const over = await alice.send(chatId, 1, 'one too many', 'ed25519');
        expect(over.res.status).toBe(429);
        expect(over.res.body.code).toBe('RATE_LIMITED');
        expect(Number(over.res.headers['retry-after'])).toBeGreaterThan(0);
        expect((await bob.send(chatId, 1, 'bob is fine', 'ed25519')).res.status).toBe(201);

        const s1 = await carol.events();
        const s2 = await carol.events();
        await expect(carol.events()).rejects.toThrow(/429.*TOO_MANY_STREAMS/);
        s1.close();
        await s1.done;
        // the server notices the close asynchronously; a new stream is allowed once it has
        let s3: Awaited<ReturnType<typeof carol.events>> | undefined;
        const tooMany = (error: unknown) => {
          if (!/answered 429\b/.test(String(error))) throw error;
        };
        while (!s3) s3 = (await carol.events().catch(tooMany)) ?? undefined;
        s2.close();
        s3.close();

        // three logins above; three more pass, the seventh from this address is refused
        const api = new Api(server.url);
        for (let i = 0; i < 3; i++)
          await api.call('login', { body: { username: 'dave', password: PASSWORD } });
        const refused = await api.call('login', { body: { username: 'dave', password: PASSWORD } });
        expect(refused.status).toBe(429);
        expect(refused.body.code).toBe('RATE_LIMITED');
      },
    );
  });
});

describe('logs', () => {
  it('record security events and never carry tokens, passwords or keys', async () => {
    let text = '';
    const logStream = new Writable({
      write(chunk, _enc, done) {
        text += chunk;
        done();
      },
    });
    const { buildApp } = await import('../../src/app.js');
    const { loadConfig } = await import('../../src/config.js');
    const { readPublicKeys } = await import('../../src/crypto/keystore.js');
    await withServer({}, async (base) => {
      const config = loadConfig({
        SECURECHAT_DATA_DIR: path.join(base.dataDir, 'logged'),
        SECURECHAT_KEYS_DIR: base.keysDir,
        SECURECHAT_DEMO_USERS: 'false',
        BCRYPT_COST: '4',
        LOG_LEVEL: 'info',
        ...(await backendEnv(path.join(base.dataDir, 'logged'))),
      });
      const app = await buildApp(config, { keySizes: { rsaBits: 2048 }, logStream });
      try {
        for (const u of ['alice', 'bob']) {
          await app.accounts.register(u, PASSWORD, await readPublicKeys(path.join(base.keysDir, 'users', u)));
        }
        const url = await app.listen({ port: 0, host: '127.0.0.1' });
        await new Api(url).call('login', { body: { username: 'alice', password: 'wrong password' } });
        const alice = await Participant.login(url, base.keysDir, 'alice', PASSWORD);
        const bob = await Participant.login(url, base.keysDir, 'bob', PASSWORD);
        const chatId = await chatOf(alice, bob);
        await bob.api.call('leaveChat', { params: { chatId } });
        const events = text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
          .map((l) => l.event)
          .filter(Boolean);
        for (const e of [
          'login.failure',
          'login.success',
          'chat.created',
          'member.joined',
          'member.left',
          'key.rotated',
        ]) {
          expect(events, e).toContain(e);
        }
        expect(text).not.toContain(alice.api.token);
        expect(text).not.toContain(PASSWORD);
        expect(text).not.toContain('wrong password');
        expect(text).not.toContain('PRIVATE KEY');
      } finally {
        await app.close();
      }
    });
  });
});

describe('streams', () => {
  it('replay after Last-Event-ID re-checks membership', async () => {
    await withServer({}, async (server) => {
      const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
      const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
      const chatId = await chatOf(alice, bob);
      await alice.send(chatId, 1, 'while bob was in', 'ed25519');
      await bob.api.call('leaveChat', { params: { chatId } });
      const replay = await bob.events('0');
      await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
      await replay.nextOf('presence', (d) => d.username === 'carol');
      expect(replay.events.filter((e) => e.event === 'message')).toEqual([]);
      expect(replay.events.some((e) => e.event === 'member.left' && e.json.username === 'bob')).toBe(true);
      replay.close();
    });
  });

  it('cuts a reader that does not keep up, without delaying the others; it resumes losing nothing', async () => {
    await withServer(
      { SECURECHAT_STREAM_BUFFER: '131072', SECURECHAT_POST_LIMIT: '100000' },
      async (server) => {
        const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
        const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
        const chatId = await chatOf(alice, bob);
        const marker = await alice.send(chatId, 1, 'before', 'ed25519');
        const fast = await bob.events();
        // bob's second stream: a raw socket that never reads
        const url = new URL(server.url);
        const slow = net.connect(Number(url.port), url.hostname);
        slow.on('error', () => {});
        slow.pause();
        slow.write(`GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${bob.api.token}\r\n\r\n`);
        const hub = server.app.hub;
        // the server holds both of bob's streams once the raw one is open (a live event proves it)
        await alice.send(chatId, 1, 'sync', 'ed25519');
        while (hub.count('bob') < 2) await fast.next(() => true, 2000).catch(() => undefined);
        const text = 'x'.repeat(4_000);
        const seqs: number[] = [];
        for (let i = 0; i < 5000 && hub.count('bob') === 2; i++) {
          seqs.push((await alice.send(chatId, 1, text, 'ed25519')).res.body.seq);
        }
        // cut: the slow stream is gone, the fast one is still there
        expect(hub.count('bob')).toBe(1);
        slow.destroy();
        // the fast reader got every message
        for (const seq of seqs) await fast.nextOf('message', (d) => d.seq === seq);
        fast.close();
        // resuming from before the burst replays all of it
        const firstEvent = fast.events.find((e) => e.event === 'message' && e.json.seq === seqs[0]);
        const resumed = await bob.events(String(Number(firstEvent?.id) - 1));
        for (const seq of seqs) await resumed.nextOf('message', (d) => d.seq === seq);
        resumed.close();
        expect(marker.res.status).toBe(201);
      },
    );
  });
});
