import { createHmac } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readPublicKeys } from '../../../src/crypto/keystore.js';
import { Api } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

let server: TestServer;
let api: Api;

beforeAll(async () => {
  server = await startServer({ TOKEN_TTL: '1h' });
  api = new Api(server.url);
});
afterAll(() => server?.close());

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function secret(): Promise<string> {
  return (await readFile(path.join(server.dataDir, 'jwt.secret'), 'utf8')).trim();
}

/** A token made by hand, to try what the server must refuse. */
function forge(header: object, claims: object, key: string): string {
  const unsigned = `${b64url(header)}.${b64url(claims)}`;
  return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}

describe('a token sent again', () => {
  it('has its signature checked once, and its revocation on every request', async () => {
    const { token } = (await api.call('login', { body: { username: 'alice', password: PASSWORD } })).body;
    const verify = vi.spyOn(server.app.jwt, 'verify');
    try {
      for (let i = 0; i < 3; i++) {
        const res = await api.call('getUserStatus', { params: { username: 'alice' }, token });
        expect(res.status).toBe(200);
      }
      expect(verify).toHaveBeenCalledTimes(1);
      await api.call('logout', { token });
      const after = await api.call('getUserStatus', { params: { username: 'alice' }, token });
      expect(after.status).toBe(401);
      expect(after.body.code).toBe('TOKEN_REVOKED');
    } finally {
      verify.mockRestore();
    }
  });
});

describe('login', () => {
  it('issues a token and marks the user online', async () => {
    const res = await api.call('login', { body: { username: 'alice', password: PASSWORD } });
    expect(res.status).toBe(200);
    expect(res.body.username).toBe('alice');
    expect(Date.parse(res.body.expiresAt) - Date.now()).toBeGreaterThan(3500_000);
    const status = await api.call('getUserStatus', { params: { username: 'alice' }, token: res.body.token });
    expect(status.body.online).toBe(true);
    expect(status.body.lastSeen).toMatch(/Z$/);
  });

  it('answers an unknown user and a wrong password with the same 401', async () => {
    const wrong = await api.call('login', { body: { username: 'alice', password: 'not it at all' } });
    const unknown = await api.call('login', { body: { username: 'mallory', password: PASSWORD } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body.code).toBe('INVALID_CREDENTIALS');
  });

  it('refuses a password over 72 bytes even when its first 72 bytes match', async () => {
    const keys = await readPublicKeys(path.join(server.keysDir, 'users', 'alice'));
    await server.app.accounts.register('longpw', 'x'.repeat(72), keys);
    await expect(server.app.accounts.register('longerpw', 'x'.repeat(73), keys)).rejects.toThrow(/72/);
    expect((await api.call('login', { body: { username: 'longpw', password: 'x'.repeat(72) } })).status).toBe(
      200,
    );
    const res = await api.call('login', { body: { username: 'longpw', password: 'x'.repeat(73) } });
    expect(res.status).toBe(401);
  });

  it('refuses malformed bodies with INVALID_BODY, other media with 415, huge bodies with 413', async () => {
    for (const rawBody of [
      '{"username":',
      '[1,2]',
      '{"username":"alice"}',
      '{"username":"alice","password":"x","admin":true}',
      '{"username":"ALICE","password":"x"}',
      '{"username":"alice","password":""}',
      '{"__proto__":{"x":1},"username":"alice","password":"p"}',
    ]) {
      const res = await api.call('login', { rawBody, headers: { 'content-type': 'application/json' } });
      expect(res.status, rawBody).toBe(400);
      expect(res.body.code).toBe('INVALID_BODY');
    }
    const text = await api.call('login', {
      rawBody: 'username=alice',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect(text.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const huge = await api.call('login', {
      rawBody: JSON.stringify({ username: 'alice', password: 'x'.repeat(2 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('bearer tokens', () => {
  it('UNAUTHENTICATED without a token, with WWW-Authenticate', async () => {
    const res = await api.call('listUsers', { token: null });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('UNAUTHENTICATED');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('INVALID_TOKEN for garbage, alg none, a wrong key, issuer or audience, or a missing jti', async () => {
    const key = await secret();
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      sub: 'alice',
      jti: 'j1',
      iss: 'securechat',
      aud: 'securechat-api',
      iat: now,
      exp: now + 600,
    };
    const { jti: _, ...noJti } = claims;
    const tokens = [
      'garbage',
      `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`,
      `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.e30`,
      forge({ alg: 'HS256', typ: 'JWT' }, claims, 'not the secret at all, not at all'),
      forge({ alg: 'HS512', typ: 'JWT' }, claims, key),
      forge({ alg: 'HS256', typ: 'JWT' }, { ...claims, iss: 'someone-else' }, key),
      forge({ alg: 'HS256', typ: 'JWT' }, { ...claims, aud: 'other' }, key),
      forge({ alg: 'HS256', typ: 'JWT' }, noJti, key),
      forge({ alg: 'HS256', typ: 'JWT' }, { ...claims, sub: 'Not A User!' }, key),
    ];
    for (const token of tokens) {
      const res = await api.call('listUsers', { token });
      expect(res.status, token).toBe(401);
      expect(res.body.code).toBe('INVALID_TOKEN');
    }
    // the same claims, properly signed, pass: the refusals above are for what was wrong
    expect(
      (await api.call('listUsers', { token: forge({ alg: 'HS256', typ: 'JWT' }, claims, key) })).status,
    ).toBe(200);
  });

  it('TOKEN_EXPIRED for an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = forge(
      { alg: 'HS256', typ: 'JWT' },
      { sub: 'alice', jti: 'j2', iss: 'securechat', aud: 'securechat-api', iat: now - 100, exp: now - 10 },
      await secret(),
    );
    const res = await api.call('listUsers', { token });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('TOKEN_EXPIRED');
  });

  it("logout revokes the token (TOKEN_REVOKED) but not the user's other sessions", async () => {
    const one = (await api.call('login', { body: { username: 'bob', password: PASSWORD } })).body.token;
    const two = (await api.call('login', { body: { username: 'bob', password: PASSWORD } })).body.token;
    expect((await api.call('logout', { token: one })).status).toBe(204);
    const res = await api.call('listUsers', { token: one });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('TOKEN_REVOKED');
    expect((await api.call('logout', { token: one })).body.code).toBe('TOKEN_REVOKED');
    expect((await api.call('listUsers', { token: two })).status).toBe(200);
    const status = await api.call('getUserStatus', { params: { username: 'bob' }, token: two });
    expect(status.body.online).toBe(true);
  });
});

describe('public endpoints and files', () => {
  it('serves health, the spec and the docs without a token', async () => {
    expect((await api.call('getHealth', { token: null })).body).toEqual({ status: 'ok' });
    const yaml = await request(`${server.url}/openapi.yaml`);
    expect(yaml.statusCode).toBe(200);
    expect(await yaml.body.text()).toContain('openapi: 3.1.0');
    const docs = await request(`${server.url}/docs/`);
    expect(docs.statusCode).toBe(200);
    expect(await docs.body.text()).toContain('swagger');
  });

  it('answers unknown routes with a problem', async () => {
    const res = await request(`${server.url}/nope`);
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await res.body.json()) as object).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('keeps the JWT secret private to the server (mode 0600)', async () => {
    expect((await stat(path.join(server.dataDir, 'jwt.secret'))).mode & 0o777).toBe(0o600);
  });
});
