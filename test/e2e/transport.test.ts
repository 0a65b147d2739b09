import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import helmet from '@fastify/helmet';
import Fastify from 'fastify';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../scripts/child.js';
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

  it('sends the very headers @fastify/helmet would, over HTTP and HTTPS, on answers and on 404s', async () => {
    const helmetOnly = async (tls: boolean) => {
      const app = Fastify();
      await app.register(helmet, {
        global: true,
        hsts: tls ? { maxAge: 31_536_000 } : false,
        contentSecurityPolicy: {
          useDefaults: true,
          directives: { 'upgrade-insecure-requests': tls ? [] : null },
        },
      });
      app.get('/health', async () => ({}));
      const res = await app.inject({ url: '/health' });
      await app.close();
      return res.headers;
    };
    const securityHeaders = (headers: Record<string, unknown>, from: Record<string, unknown>) =>
      Object.fromEntries(
        Object.keys(from)
          .filter(
            (name) => !['content-type', 'content-length', 'date', 'connection', 'keep-alive'].includes(name),
          )
          .map((name) => [name, headers[name]]),
      );
    for (const [env, tls] of [
      [{}, false],
      [{ SECURECHAT_TLS: 'self-signed' }, true],
    ] as const) {
      const expected = await helmetOnly(tls);
      expect(Object.keys(securityHeaders(expected, expected)).length).toBeGreaterThan(8);
      await withServer(env, async (server) => {
        const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
        for (const url of ['/health', '/no-such-path']) {
          const res = await request(`${server.url}${url}`, { dispatcher });
          await res.body.dump();
          expect(securityHeaders(res.headers, expected)).toEqual(securityHeaders(expected, expected));
        }
        await dispatcher.close();
      });
    }
  });
});
