import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { dsaPublicKeyValues, fingerprint, type PublicKeySet } from '../../../src/crypto/keys.js';
import { readKeyStore, readPublicKeys } from '../../../src/crypto/keystore.js';
import { hashRegistrationCode, inviteUser } from '../../../src/services/registration.js';
import { backendEnv } from '../../support/backend.js';
import { Api } from '../../support/client.js';
import { dsaPem } from '../../support/forge-keys.js';
import { startServer, type TestServer } from '../../support/helper.js';

const PASSWORD = 'a password of mine';
let server: TestServer;
let api: Api;
let keys: PublicKeySet;

beforeAll(async () => {
  server = await startServer({ SECURECHAT_REGISTER_FAILURES: '1000' });
  api = new Api(server.url);
  keys = await readPublicKeys(path.join(inject('fixtureKeys'), 'users', 'alice'));
});
afterAll(() => server?.close());

const invite = async (username: string, ttlSeconds?: number, now?: number) =>
  (await inviteUser(server.app.store, username, ttlSeconds, now)).code;

const body = (username: string, code: string, overrides: Partial<PublicKeySet['signing']> = {}) => ({
  username,
  password: PASSWORD,
  code,
  encryptionKey: keys.encryption,
  signingKeys: { ...keys.signing, ...overrides },
});

const register = (b: object, target = api) => target.call('registerUser', { body: b, token: null });
const registered = async (username: string) => (await server.app.store.getUser(username)) !== undefined;

describe('POST /users (self-registration with a one-time code)', () => {
  it('registers with a good code, answers the fingerprints, and the user can log in', async () => {
    const code = await invite('newbie');
    const res = await register(body('newbie', code));
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      username: 'newbie',
      fingerprints: {
        encryption: fingerprint(keys.encryption),
        'rsa-pss-sha256': fingerprint(keys.signing['rsa-pss-sha256']),
        'dsa-sha256': fingerprint(keys.signing['dsa-sha256']),
        ed25519: fingerprint(keys.signing.ed25519),
      },
    });
    const login = await api.call('login', { body: { username: 'newbie', password: PASSWORD } });
    expect(login.status).toBe(200);
    const stored = await server.app.store.getRegistrationCode('newbie');
    expect(stored?.usedAt).toMatch(/Z$/);
    expect(stored?.codeHash).toBe(hashRegistrationCode(code));
    expect(JSON.stringify(stored)).not.toContain(code);
  });

  it('gives one answer for a used, expired, other-name, wrong and missing code; nothing registered', async () => {
    const used = await invite('used1');
    expect((await register(body('used1', used))).status).toBe(201);
    const expired = await invite('late1', 60, Date.now() - 61_000);
    const forOther = await invite('other1');
    await invite('wrong1');
    const attempts = [
      await register(body('used1', used)),
      await register(body('late1', expired)),
      await register(body('thief1', forOther)),
      await register(body('wrong1', `${forOther}x`)),
      await register(body('nocode1', forOther)),
    ];
    for (const res of attempts) {
      expect(res.status).toBe(403);
      expect(res.body).toEqual(attempts[0].body);
    }
    expect(attempts[0].body.code).toBe('INVALID_CODE');
    for (const name of ['late1', 'thief1', 'wrong1', 'nocode1']) expect(await registered(name)).toBe(false);
    // the code made for another name still works for that name
    expect((await register(body('other1', forOther))).status).toBe(201);
  });

  it('lets exactly one of two concurrent requests with the same code register', async () => {
    const code = await invite('racer');
    const results = await Promise.all([register(body('racer', code)), register(body('racer', code))]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 403]);
    expect(results.find((r) => r.status === 403)?.body.code).toBe('INVALID_CODE');
  });

  it('answers 409 USERNAME_TAKEN for a registered name with a good code, and keeps the code', async () => {
    const code = await invite('taken1');
    await server.app.accounts.register('taken1', PASSWORD, keys);
    const res = await register(body('taken1', code));
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('USERNAME_TAKEN');
    expect((await server.app.store.getRegistrationCode('taken1'))?.usedAt).toBeNull();
  });

  it('registers nothing when the code expires, is replaced or revoked while its request is in flight', async () => {
    // the store's last word, in the transaction that creates the user (after the service checked the code)
    const { store, accounts } = server.app;
    const user = await accounts.newUser('midway', PASSWORD, keys);
    const issued = await inviteUser(store, 'midway', 3600);
    const hash = issued.record.codeHash;
    const afterExpiry = new Date(Date.parse(issued.record.expiresAt) + 1).toISOString();
    expect(await store.createUserWithCode(user, hash, afterExpiry)).toBe('invalid-code');
    await inviteUser(store, 'midway'); // invited again: the first code is void
    expect(await store.createUserWithCode(user, hash, new Date().toISOString())).toBe('invalid-code');
    const second = await inviteUser(store, 'midway');
    await store.deleteRegistrationCode('midway');
    expect(await store.createUserWithCode(user, second.record.codeHash, new Date().toISOString())).toBe(
      'invalid-code',
    );
    expect(await registered('midway')).toBe(false);
    const third = await inviteUser(store, 'midway');
    expect(await store.createUserWithCode(user, third.record.codeHash, new Date().toISOString())).toBe(
      'created',
    );
    expect(await store.createUserWithCode(user, third.record.codeHash, new Date().toISOString())).toBe(
      'invalid-code',
    );
    expect(await registered('midway')).toBe(true);
  });

  const dsa = () =>
    dsaPublicKeyValues(createPublicKey(keys.signing['dsa-sha256']).export({ type: 'spki', format: 'der' }));
  const rsa1024 = () =>
    generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    }) as string;
  const badKeys: [string, () => Partial<PublicKeySet['signing']>, RegExp][] = [
    ['a DSA key with g = 1', () => ({ 'dsa-sha256': dsaPem({ ...dsa(), g: 1n }) }), /dsa-sha256.*generator/],
    ['an RSA-1024 key', () => ({ 'rsa-pss-sha256': rsa1024() }), /rsa-pss-sha256.*2048/],
    [
      'a PEM that is not a key',
      () => ({ ed25519: '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n' }),
      /ed25519 key is not a PEM public key/,
    ],
  ];
  for (const [name, bad, detail] of badKeys) {
    it(`refuses ${name} with 400 INVALID_KEY, registers nothing and keeps the code`, async () => {
      const username = `badkey${badKeys.findIndex(([n]) => n === name)}`;
      const code = await invite(username);
      const res = await register(body(username, code, bad()));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_KEY');
      expect(res.body.detail).toMatch(detail);
      expect(await registered(username)).toBe(false);
      expect((await register(body(username, code))).status).toBe(201);
    });
  }

  it('holds passwords to user:add rules (400 INVALID_BODY), registering nothing', async () => {
    const code = await invite('shortpw');
    for (const password of ['short', 'x'.repeat(73)]) {
      const res = await register({ ...body('shortpw', code), password });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_BODY');
    }
    expect(await registered('shortpw')).toBe(false);
  });

  it('refuses unknown fields and a missing code as INVALID_BODY', async () => {
    const code = await invite('strict1');
    expect((await register({ ...body('strict1', code), admin: true })).body.code).toBe('INVALID_BODY');
    const { code: _omitted, ...noCode } = body('strict1', code);
    expect((await register(noCode)).body.code).toBe('INVALID_BODY');
    expect(await registered('strict1')).toBe(false);
  });
});

describe('rate limit on wrong codes', () => {
  it('counts wrong codes per address and answers 429 past the limit, even to a good code', async () => {
    const limited = await startServer({ SECURECHAT_REGISTER_FAILURES: '3' });
    try {
      const limitedApi = new Api(limited.url);
      const code = (await inviteUser(limited.app.store, 'patient')).code;
      for (let i = 0; i < 3; i++) {
        const res = await register(body('patient', `guess${i}`), limitedApi);
        expect(res.status).toBe(403);
      }
      const blocked = await register(body('patient', code), limitedApi);
      expect(blocked.status).toBe(429);
      expect(blocked.body.code).toBe('RATE_LIMITED');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect(await limited.app.store.getUser('patient')).toBeUndefined();
    } finally {
      await limited.close();
    }
  });

  it('counts a used, an expired, an other-name and a missing code like a wrong one', async () => {
    const limited = await startServer({ SECURECHAT_REGISTER_FAILURES: '4' });
    try {
      const limitedApi = new Api(limited.url);
      const store = limited.app.store;
      const used = (await inviteUser(store, 'once1')).code;
      expect((await register(body('once1', used), limitedApi)).status).toBe(201);
      const expired = (await inviteUser(store, 'late2', 60, Date.now() - 61_000)).code;
      const good = (await inviteUser(store, 'patient2')).code;
      const bad = [body('once1', used), body('late2', expired), body('thief2', good), body('nocode2', good)];
      for (const b of bad) expect((await register(b, limitedApi)).status).toBe(403);
      expect((await register(body('patient2', good), limitedApi)).status).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('does not count good codes', async () => {
    const limited = await startServer({ SECURECHAT_REGISTER_FAILURES: '1' });
    try {
      const limitedApi = new Api(limited.url);
      for (const name of ['good1', 'good2', 'good3']) {
        const code = (await inviteUser(limited.app.store, name)).code;
        expect((await register(body(name, code), limitedApi)).status).toBe(201);
      }
    } finally {
      await limited.close();
    }
  });
});

describe('logs', () => {
  it('name each refusal and success, and never carry the code, the password or a private key', async () => {
    let text = '';
    const logStream = new Writable({
      write(chunk, _enc, done) {
        text += chunk;
        done();
      },
    });
    const dataDir = path.join(server.dataDir, 'logged');
    const config = loadConfig({
      SECURECHAT_DATA_DIR: dataDir,
      SECURECHAT_KEYS_DIR: server.keysDir,
      SECURECHAT_DEMO_USERS: 'false',
      BCRYPT_COST: '4',
      LOG_LEVEL: 'info',
      ...(await backendEnv(dataDir)),
    });
    const app = await buildApp(config, { keySizes: { rsaBits: 2048 }, logStream });
    let code = '';
    let codeHash = '';
    try {
      const logged = new Api(await app.listen({ port: 0, host: '127.0.0.1' }));
      ({
        code,
        record: { codeHash },
      } = await inviteUser(app.store, 'logme'));
      const privateKey = (await readKeyStore(path.join(inject('fixtureKeys'), 'users', 'alice'))).signing
        .ed25519.privateKey;
      const statuses = [
        (await register(body('logme', `${code}x`), logged)).status,
        (await register(body('logme', code, { ed25519: privateKey }), logged)).status,
        (await register(body('logme', code), logged)).status,
      ];
      expect(statuses).toEqual([403, 400, 201]);
    } finally {
      await app.close();
    }
    const events = text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event?: string; reason?: string });
    expect(events.filter((e) => e.event?.startsWith('register.')).map((e) => [e.event, e.reason])).toEqual([
      ['register.failure', 'INVALID_CODE'],
      ['register.failure', 'INVALID_KEY'],
      ['register.success', undefined],
    ]);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toMatch(/PRIVATE KEY|BEGIN PUBLIC KEY/);
    expect(code).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(text).not.toContain(code.slice(0, 12));
    expect(text).not.toContain(codeHash);
  });
});

describe('npm run user:invite', () => {
  const tsx = path.resolve('node_modules/.bin/tsx');
  const script = path.resolve('src/admin/user-invite.ts');
  const run = async (args: string[]) => {
    const env = {
      ...process.env,
      SECURECHAT_DATA_DIR: server.dataDir,
      SECURECHAT_KEYS_DIR: server.keysDir,
      ...(await backendEnv(server.dataDir)),
    };
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(tsx, [script, ...args], { env }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  };

  // eight runs of the command, each a process that starts tsx: minutes on a slow, busy machine
  it('prints a code once on its last line that registers that name; lists and revokes codes', {
    timeout: 120_000,
  }, async () => {
    const made = await run(['cliuser', '--ttl', '2h']);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const code = made.stdout.trimEnd().split('\n').at(-1) ?? '';
    expect(code).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const stored = await server.app.store.getRegistrationCode('cliuser');
    const ttl = Date.parse(stored?.expiresAt ?? '') - Date.parse(stored?.createdAt ?? '');
    expect(ttl).toBe(2 * 3600_000);

    const revoked = await run(['revoked1']);
    const revokedCode = revoked.stdout.trimEnd().split('\n').at(-1) ?? '';
    expect((await run(['--list'])).stdout).toMatch(/^revoked1 {2}pending, expires /m);
    expect((await run(['--revoke', 'revoked1'])).code).toBe(0);
    expect((await run(['--revoke', 'revoked1'])).stderr).toMatch(/no registration code for revoked1/);
    expect((await register(body('revoked1', revokedCode))).status).toBe(403);

    expect((await register(body('cliuser', code))).status).toBe(201);
    const list = (await run(['--list'])).stdout;
    expect(list).toMatch(/^cliuser {2}used /m);
    expect(list).not.toMatch(/^revoked1/m);
    expect(list).not.toContain(code);

    const existing = await run(['cliuser']);
    expect(existing.code).not.toBe(0);
    expect(existing.stderr).toMatch(/already exists/);
    expect((await run(['x', '--ttl', '5y'])).stderr).toMatch(/--ttl 5y/);
  });
});
