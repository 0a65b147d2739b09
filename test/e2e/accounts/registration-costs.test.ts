import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PublicKeySet } from '../../../src/crypto/keys.js';
import { dsaPublicKeyValues } from '../../../src/crypto/keys.js';
import { readPublicKeys } from '../../../src/crypto/keystore.js';
import { inviteUser } from '../../../src/services/registration.js';
import { Api } from '../../support/client.js';
import { dsaPem } from '../../support/forge-keys.js';
import { startServer, type TestServer } from '../../support/helper.js';

// What a good registration code buys: one request checked at a time, and every failed request
// counted against its address, so a code cannot pay for endless key checks (security round 2, #3).
// The deterministic proof that a held code's rivals are not checked is test/unit/services/registration.test.ts.

const PASSWORD = 'a password of mine';
let server: TestServer;
let api: Api;
let keys: PublicKeySet;

beforeAll(async () => {
  // three failures per address; addresses come from X-Forwarded-For, so a test can be another one
  server = await startServer({ SECURECHAT_REGISTER_FAILURES: '3', SECURECHAT_TRUST_PROXY: 'loopback' });
  api = new Api(server.url);
  keys = await readPublicKeys(path.join(inject('fixtureKeys'), 'users', 'alice'));
});
afterAll(() => server?.close());

const invite = async (username: string) => (await inviteUser(server.app.store, username)).code;

const body = (username: string, code: string, overrides: Partial<PublicKeySet['signing']> = {}) => ({
  username,
  password: PASSWORD,
  code,
  encryptionKey: keys.encryption,
  signingKeys: { ...keys.signing, ...overrides },
});

const register = (b: object, from: string) =>
  api.call('registerUser', { body: b, token: null, headers: { 'x-forwarded-for': from } });

/** Alice's RSA encryption key, in the Ed25519 slot. */
const rsaAsEd25519 = () => ({ ed25519: keys.encryption });

describe('a good registration code with bad keys', () => {
  it('counts as a failure for the address: past the limit even good keys get 429, and the code stays usable', async () => {
    const code = await invite('spender');
    for (let i = 0; i < 3; i++) {
      const res = await register(body('spender', code, rsaAsEd25519()), '198.51.100.1');
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_KEY');
    }
    const limited = await register(body('spender', code), '198.51.100.1');
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(await server.app.store.getUser('spender')).toBeUndefined();
    // nothing used the code up, or left it held: from elsewhere it registers
    expect((await register(body('spender', code), '198.51.100.2')).status).toBe(201);
  });

  it('is refused for an RSA key in the Ed25519 slot before the DSA key is checked, keeping the code', async () => {
    const code = await invite('cheapfirst');
    const dsa = dsaPublicKeyValues(
      createPublicKey(keys.signing['dsa-sha256']).export({ type: 'spki', format: 'der' }),
    );
    // the DSA key's domain check would refuse it too (g = 1): the type of every key comes first
    const res = await register(
      body('cheapfirst', code, { ...rsaAsEd25519(), 'dsa-sha256': dsaPem({ ...dsa, g: 1n }) }),
      '198.51.100.3',
    );
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_KEY');
    expect(res.body.detail).toMatch(/^ed25519 key must be Ed25519/);
    expect((await register(body('cheapfirst', code), '198.51.100.3')).status).toBe(201);
  });
});

describe('many requests at once with one good code', () => {
  it('register one user; the others get 403 INVALID_CODE (or 429 past the address limit), never 5xx', async () => {
    const code = await invite('crowd');
    const results = await Promise.all(
      Array.from({ length: 12 }, () => register(body('crowd', code), '198.51.100.4')),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 201)) {
      expect([403, 429]).toContain(r.status);
      expect(r.body.code).toBe(r.status === 403 ? 'INVALID_CODE' : 'RATE_LIMITED');
    }
    expect((await server.app.store.getRegistrationCode('crowd'))?.usedAt).not.toBeNull();
  });
});
