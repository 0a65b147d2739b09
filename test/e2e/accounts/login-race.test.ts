import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeysOf } from '../../../src/crypto/keys.js';
import { readKeyStore } from '../../../src/crypto/keystore.js';
import { makeResetCode } from '../../../src/services/account-changes.js';
import { Api } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// Accounts over time: a login whose password check passed just before a password change, a
// logout everywhere, a reset or a removal gets no token that outlives it.
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TOKEN_TTL: '1h' });
});
afterAll(() => server?.close());

async function login(username: string, password = PASSWORD): Promise<Api> {
  const api = new Api(server.url);
  const res = await api.call('login', { body: { username, password } });
  expect(res.status).toBe(200);
  api.token = res.body.token;
  return api;
}

/**
 * A login of `username` held after its password check, while `during` runs; then let go. Returns
 * what its token is worth: the status of the login if refused, else of a request with the token.
 */
async function raced(username: string, during: () => Promise<unknown>): Promise<number> {
  const store = server.app.store as unknown as { recordSession: (...a: unknown[]) => Promise<unknown> };
  const original = store.recordSession;
  let reached!: () => void;
  let open!: () => void;
  const atGate = new Promise<void>((resolve) => (reached = resolve));
  const gate = new Promise<void>((resolve) => (open = resolve));
  store.recordSession = async (...args) => {
    reached();
    await gate;
    return original(...args);
  };
  try {
    const api = new Api(server.url);
    const answer = api.call('login', { body: { username, password: PASSWORD } });
    await atGate;
    await during();
    open();
    const res = await answer;
    if (res.status !== 200) return res.status;
    api.token = res.body.token;
    return (await api.call('listChats')).status;
  } finally {
    open();
    store.recordSession = original;
  }
}

describe('a login under way', () => {
  it('gets no working token past a password change (accounts review, #2)', async () => {
    const other = await login('alice');
    const status = await raced('alice', () =>
      other.call('changePassword', { body: { currentPassword: PASSWORD, newPassword: PASSWORD } }),
    );
    expect(status).toBe(401);
  });

  it('gets no working token past a logout everywhere (accounts review, #2)', async () => {
    const other = await login('bob');
    const status = await raced('bob', () =>
      other.call('logout', { query: { everywhere: 'true' } }).then((r) => expect(r.status).toBe(204)),
    );
    expect(status).toBe(401);
  });

  it('gets no working token past a reset (accounts review, #2)', async () => {
    const keys = publicKeysOf(await readKeyStore(`${server.keysDir}/users/carol`));
    const status = await raced('carol', async () => {
      const { code } = await makeResetCode(server.app.store, 'carol');
      const res = await new Api(server.url).call('resetKeys', {
        params: { username: 'carol' },
        body: { code, encryptionKey: keys.encryption, signingKeys: keys.signing },
      });
      expect(res.status).toBe(200);
    });
    expect(status).toBe(401);
  });

  it('gets no working token past a removal (accounts review, #2)', async () => {
    const status = await raced('dave', async () => {
      expect(await server.app.store.markRemoved('dave', new Date().toISOString())).toBe(true);
      await server.app.accountChanges.completeRemovals();
    });
    expect(status).toBe(401);
  });
});
