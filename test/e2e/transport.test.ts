import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
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
});
