import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyChangeSigningText } from '../../../src/client/key-change.js';
import { toBase64 } from '../../../src/crypto/base64.js';
import { unwrapKey } from '../../../src/crypto/envelope.js';
import { generateKeyPairSet, publicKeysOf } from '../../../src/crypto/keys.js';
import { signSync } from '../../../src/crypto/signatures.js';
import { fingerprintsOf } from '../../../src/services/new-keys.js';
import { Api } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';
import { forgeEnvelopes, keyStore } from '../../support/library.js';

// A members-mode chat whose removal epoch was already pending when bob replaced his (leaked) keys:
// the server makes no epoch of its own for the change (the pending one's commit wraps for the new
// key), so a commit built before the change (for bob's old key) and delivered after it is refused:
// no epoch after the change is one the replaced key opens (security review round 3, #2).
let server: TestServer;
beforeAll(async () => {
  server = await startServer({});
});
afterAll(async () => {
  await server?.close();
});

async function login(username: string): Promise<Api> {
  const api = new Api(server.url);
  const res = await api.call('login', { body: { username, password: PASSWORD } });
  expect(res.status).toBe(200);
  api.token = res.body.token;
  return api;
}

const opens = (privateKey: string, wrapped: string) => {
  try {
    unwrapKey(privateKey, wrapped);
    return true;
  } catch {
    return false;
  }
};

describe('a key change while a members-mode epoch is pending', () => {
  it('refuses a commit made before the change (409 PENDING_MISMATCH): the epoch stays pending for one made for the new keys', async () => {
    const [alice, bob, carol] = [await login('alice'), await login('bob'), await login('carol')];
    const created = await alice.call('createChat', {
      body: { invitees: ['bob', 'carol'], keyMode: 'members' },
    });
    expect(created.status).toBe(201);
    const chatId = created.body.chat.id as string;
    const first = await forgeEnvelopes('alice', chatId, 1, ['alice', 'bob', 'carol']);
    expect((await alice.call('commitEpoch', { params: { chatId }, body: first.body })).status).toBe(200);
    expect((await bob.call('joinChat', { params: { chatId } })).status).toBe(200);
    expect((await carol.call('joinChat', { params: { chatId } })).status).toBe(200);
    expect((await carol.call('leaveChat', { params: { chatId } })).status).toBe(204);
    expect((await server.app.store.getChat(chatId))?.pending).toMatchObject({ epoch: 2 });

    // alice's client builds its commit of epoch 2 now (bob's keys as they are: the old ones) ...
    const built = await forgeEnvelopes('alice', chatId, 2, ['alice', 'bob']);
    // ... and bob replaces his keys because they leaked, before it arrives
    const old = await keyStore('bob');
    const next = await generateKeyPairSet({ rsaBits: 2048 });
    const pub = publicKeysOf(next);
    const issuedAt = new Date().toISOString();
    const text = keyChangeSigningText('bob', fingerprintsOf(pub), issuedAt);
    const signature = toBase64(
      signSync('ed25519', old.signing.ed25519.privateKey, Buffer.from(text, 'utf8')),
    );
    const changed = await bob.call('replaceKeys', {
      body: {
        currentPassword: PASSWORD,
        encryptionKey: pub.encryption,
        signingKeys: pub.signing,
        continuity: { signatureAlgorithm: 'ed25519', signature, issuedAt },
      },
    });
    expect(changed.status).toBe(200);

    const commit = await alice.call('commitEpoch', { params: { chatId }, body: built.body });
    await server.app.accountChanges.completeRekeys(Date.now() + 60_000);
    expect(commit.status).toBe(409);
    expect(commit.body.code).toBe('PENDING_MISMATCH');
    expect(commit.body.detail).toContain("bob's keys changed after this commit was made");
    const after = await server.app.store.getChat(chatId);
    expect(after?.epoch).toBe(1);
    expect(after?.pending).toMatchObject({ epoch: 2 });
    // nothing of epoch 2 was stored for the old key
    expect(await server.app.store.getEnvelope(chatId, 2, 'bob')).toBeUndefined();
    expect(
      opens(
        old.encryption.privateKey,
        first.envelopes.find((e) => e.recipient === 'bob')?.wrappedKey as string,
      ),
    ).toBe(true);
  });
});
