import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeysOf } from '../../../src/crypto/keys.js';
import { readKeyStore } from '../../../src/crypto/keystore.js';
import { makeResetCode } from '../../../src/services/account-changes.js';
import { Api } from '../../support/client.js';
import { startServer, type TestServer } from '../../support/helper.js';

// A reset with the administrator's code spends the code only with the change it makes.
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

describe('a reset that fails after its code was checked', () => {
  it('keeps the code for the next try (accounts review, #8)', async () => {
    const keys = publicKeysOf(await readKeyStore(`${server.keysDir}/users/carol`));
    const { code } = await makeResetCode(server.app.store, 'carol');
    const reset = () =>
      new Api(server.url).call('resetKeys', {
        params: { username: 'carol' },
        body: { code, encryptionKey: keys.encryption, signingKeys: keys.signing },
      });
    const store = server.app.store as unknown as { replaceKeys: (...a: unknown[]) => Promise<unknown> };
    const original = store.replaceKeys;
    store.replaceKeys = async () => {
      throw new Error('the store went away');
    };
    try {
      // (a raw request: the spec-validating caller refuses an undocumented 500)
      const failed = await fetch(`${server.url}/users/carol/keys`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code, encryptionKey: keys.encryption, signingKeys: keys.signing }),
      });
      expect(failed.status).toBeGreaterThanOrEqual(500);
    } finally {
      store.replaceKeys = original;
    }
    expect((await reset()).status).toBe(200);
    expect((await reset()).status).toBe(403);
  });
});
