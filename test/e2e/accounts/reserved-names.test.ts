import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publicKeysOf } from '../../../src/crypto/keys.js';
import { readKeyStore } from '../../../src/crypto/keystore.js';
import { inviteUser } from '../../../src/services/registration.js';
import { runAdmin } from '../../support/admin.js';
import { Api } from '../../support/client.js';
import { startServer, type TestServer } from '../../support/helper.js';

// `me` names the caller in paths (PUT /users/me/keys): no user may be called that.
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

const admin = (command: string, args: string[], stdin = '') => runAdmin(server, command, args, stdin);

describe('the username me', () => {
  it('is refused by user:add, user:invite and POST /users (accounts review, #9)', {
    timeout: 60_000,
  }, async () => {
    const fixture = path.join(inject('fixtureKeys'), 'users', 'erin');
    const add = await admin(
      'user-add',
      ['me', '--password-stdin', '--public-keys', fixture],
      'a long enough secret\n',
    );
    expect(add.code).not.toBe(0);
    expect(add.stderr).toMatch(/reserved/);
    const invite = await admin('user-invite', ['me']);
    expect(invite.code).not.toBe(0);
    expect(invite.stderr).toMatch(/reserved/);
    // a code slipped into the store by other means does not help either
    const { code } = await inviteUser(server.app.store, 'me');
    const keys = publicKeysOf(await readKeyStore(fixture));
    const res = await new Api(server.url).call('registerUser', {
      body: {
        username: 'me',
        password: 'a long enough secret',
        code,
        encryptionKey: keys.encryption,
        signingKeys: keys.signing,
      },
    });
    expect(res.status).toBe(400);
    expect(await server.app.store.getUser('me')).toBeUndefined();
  });
});
