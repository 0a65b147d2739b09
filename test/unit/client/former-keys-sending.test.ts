import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  Client,
  importEncryptionKey,
  importUserKeys,
  type KeyEnvelope,
  MemoryStores,
} from '../../../src/client/index.js';
import { nodeSignatures } from '../../../src/client/node/index.js';
import { sealEnvelope, wrapKey } from '../../../src/crypto/envelope.js';
import { generatePemKeyPair } from '../../../src/crypto/keys.js';
import { keyStore, tableFetch } from '../../support/library.js';

const provider = nodeSignatures();
let server: { privateKey: string; publicKey: string };
let alice: Awaited<ReturnType<typeof keyStore>>;
let bobOld: Awaited<ReturnType<typeof keyStore>>;
let bobNew: Awaited<ReturnType<typeof keyStore>>;

beforeAll(async () => {
  [server, alice, bobOld, bobNew] = await Promise.all([
    generatePemKeyPair('rsa', { modulusLength: 2048 }),
    keyStore('alice'),
    keyStore('bob'),
    keyStore('erin'),
  ]);
});

/** Bob's client after `keys replace`: the new keys current, the old (leaked) one former, replaced at `replacedAt`. */
async function bobAfterChange(routes: Record<string, unknown>, replacedAt: number) {
  const stores = new MemoryStores();
  const client = new Client({
    api: new Api({
      server: 'http://chat.test',
      fetch: tableFetch({
        'GET /server/key': { publicKey: server.publicKey },
        'GET /users/alice/keys': {
          encryptionKey: alice.encryption.publicKey,
          signingKeys: Object.fromEntries(Object.entries(alice.signing).map(([a, p]) => [a, p.publicKey])),
        },
        ...routes,
      }),
    }),
    username: 'bob',
    keys: {
      ...(await importUserKeys(bobNew, provider)),
      former: [{ key: await importEncryptionKey(bobOld.encryption.privateKey), replacedAt }],
    },
    provider,
    pins: stores,
    epochs: stores,
  });
  await client.trust.pinServerKey();
  return client;
}

// Accounts over time: a key set replaced because it leaked must carry nothing written after the
// change. A chat whose current epoch only the replaced key opens (the new epoch not made yet, or
// withheld by the server) is read, never written to (security review round 3, #1).
describe('a chat key only a replaced key opens', () => {
  it('is read with, but no message is sealed under it: the send is refused before anything is posted', async () => {
    const chatId = randomUUID();
    const before = new Date(Date.now() - 60_000).toISOString();
    const stale = (await sealEnvelope(server.privateKey, {
      chatId,
      epoch: 5,
      recipient: 'bob',
      wrappedKey: wrapKey(bobOld.encryption.publicKey, Buffer.alloc(32, 5)),
      issuedAt: before,
    })) as KeyEnvelope;
    const bob = await bobAfterChange({ [`GET /chats/${chatId}/key`]: stale }, Date.now());
    // history under it still opens
    expect((await bob.chatKeys.currentKey(chatId)).epoch).toBe(5);
    await expect(bob.send(chatId, 'for the new keys only', 'ed25519')).rejects.toThrow(
      /epoch 5: its key was made for the keys you replaced, so nothing is sent under it/,
    );
  });

  it('a key the current encryption key opens is sent under as before', async () => {
    const chatId = randomUUID();
    const fresh = (await sealEnvelope(server.privateKey, {
      chatId,
      epoch: 6,
      recipient: 'bob',
      wrappedKey: wrapKey(bobNew.encryption.publicKey, Buffer.alloc(32, 6)),
      issuedAt: new Date().toISOString(),
    })) as KeyEnvelope;
    const bob = await bobAfterChange({ [`GET /chats/${chatId}/key`]: fresh }, Date.now());
    // the post itself reaches the (table) server, which has no route for it: past the check
    await expect(bob.send(chatId, 'hello', 'ed25519')).rejects.not.toThrow(/keys you replaced/);
  });
});
