import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { BACKEND, backendEnv } from '../../support/backend.js';
import { Api, EventStream } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// Accounts over time: a password change ends every other session (and its streams), logging out
// everywhere ends them all; a wrong current password counts as a failed login.
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TOKEN_TTL: '1h', SECURECHAT_LOGIN_FAILURES_PER_USER_IP: '3' });
});
afterAll(() => server?.close());

async function login(url: string, username: string, password = PASSWORD): Promise<Api> {
  const api = new Api(url);
  const res = await api.call('login', { body: { username, password } });
  expect(res.status).toBe(200);
  api.token = res.body.token;
  return api;
}

const works = async (api: Api) => (await api.call('listChats')).status;

describe('a password change', () => {
  it('ends every other session and closes its stream; the calling session stays; the new password logs in', async () => {
    const laptop = await login(server.url, 'dave');
    const phone = await login(server.url, 'dave');
    const phoneStream = await EventStream.open(server.url, phone.token as string);
    const newPassword = 'a brand new passphrase';
    const changed = await laptop.call('changePassword', {
      body: { currentPassword: PASSWORD, newPassword },
    });
    expect(changed.status).toBe(204);
    await phoneStream.done;
    expect(phoneStream.ended).toBe(true);
    expect((await phone.call('listChats')).body.code).toBe('TOKEN_REVOKED');
    expect(await works(laptop)).toBe(200);
    const old = await new Api(server.url).call('login', { body: { username: 'dave', password: PASSWORD } });
    expect(old.status).toBe(401);
    await login(server.url, 'dave', newPassword);
    // back, for the other tests
    await laptop.call('changePassword', { body: { currentPassword: newPassword, newPassword: PASSWORD } });
  });

  it('refuses a wrong current password with 401, counted like a failed login until 429, and changes nothing', async () => {
    const session = await login(server.url, 'erin');
    const other = await login(server.url, 'erin');
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await session.call('changePassword', {
        body: { currentPassword: 'not the password', newPassword: 'whatever it may be' },
      });
      codes.push(res.status);
      if (res.status === 401) expect(res.body.code).toBe('INVALID_CREDENTIALS');
    }
    // the per-user-and-address limit is 3 here: the fourth attempt is refused before any check
    expect(codes).toEqual([401, 401, 401, 429]);
    // and logins from this address for erin are limited by the same count
    const locked = await new Api(server.url).call('login', {
      body: { username: 'erin', password: PASSWORD },
    });
    expect(locked.status).toBe(429);
    expect(await works(other)).toBe(200);
  });

  it('refuses a weak new password with 400 WEAK_PASSWORD and keeps the old one', async () => {
    const session = await login(server.url, 'alice');
    const other = await login(server.url, 'alice');
    const res = await session.call('changePassword', {
      body: { currentPassword: PASSWORD, newPassword: 'short' },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('WEAK_PASSWORD');
    expect(await works(other)).toBe(200);
    await login(server.url, 'alice');
  });
});

describe('logging out everywhere', () => {
  it('revokes every session of the caller and closes every stream; other users stay', async () => {
    const one = await login(server.url, 'carol');
    const two = await login(server.url, 'carol');
    const bob = await login(server.url, 'bob');
    const streams = await Promise.all([one, two].map((a) => EventStream.open(server.url, a.token as string)));
    const res = await one.call('logout', { query: { everywhere: 'true' } });
    expect(res.status).toBe(204);
    await Promise.all(streams.map((s) => s.done));
    expect((await one.call('listChats')).body.code).toBe('TOKEN_REVOKED');
    expect((await two.call('listChats')).body.code).toBe('TOKEN_REVOKED');
    expect(await works(bob)).toBe(200);
  });

  it('without everywhere=true revokes only the calling session', async () => {
    const one = await login(server.url, 'carol');
    const two = await login(server.url, 'carol');
    expect((await one.call('logout')).status).toBe(204);
    expect(await works(two)).toBe(200);
  });
});

describe.runIf(BACKEND === 'postgres')('a password change on two instances', () => {
  let b: { url: string; close: () => Promise<void> };
  beforeAll(async () => {
    const app = await buildApp(
      loadConfig({
        SECURECHAT_DATA_DIR: server.dataDir,
        SECURECHAT_KEYS_DIR: server.keysDir,
        SECURECHAT_DEMO_USERS: 'false',
        BCRYPT_COST: '4',
        LOG_LEVEL: 'silent',
        TOKEN_TTL: '1h',
        ...(await backendEnv(server.dataDir)),
      }),
      { keySizes: { rsaBits: 2048 } },
    );
    b = { url: await app.listen({ port: 0, host: '127.0.0.1' }), close: () => app.close() };
  });
  afterAll(() => b?.close());

  it('closes the streams of the other sessions held by the other instance, at once', async () => {
    const onA = await login(server.url, 'bob');
    const onB = await login(b.url, 'bob');
    const streamOnB = await EventStream.open(b.url, onB.token as string);
    const changed = await onA.call('changePassword', {
      body: { currentPassword: PASSWORD, newPassword: 'another good passphrase' },
    });
    expect(changed.status).toBe(204);
    await streamOnB.done;
    expect((await onB.call('listChats')).body.code).toBe('TOKEN_REVOKED');
    expect(await works(onA)).toBe(200);
  });
});
