import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keyChangeSigningText } from '../../../src/client/key-change.js';
import { toBase64 } from '../../../src/crypto/base64.js';
import { unwrapKey } from '../../../src/crypto/envelope.js';
import { generateKeyPairSet, type KeyPairSet, publicKeysOf } from '../../../src/crypto/keys.js';
import { readKeyStore } from '../../../src/crypto/keystore.js';
import { signSync } from '../../../src/crypto/signatures.js';
import { makeResetCode } from '../../../src/services/account-changes.js';
import type { Chats } from '../../../src/services/chats.js';
import { fingerprintsOf } from '../../../src/services/new-keys.js';
import { Api } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// A key change gives every chat of the user a new epoch. When making one fails (the store away
// for a moment, an instance stopped half-way), the answer is still 200 (the keys did change), and
// the jobs make the missing epochs later: no chat stays on an epoch the old keys open.
let server: TestServer;
let fresh: KeyPairSet[];
let rekey: Chats['rekey'];
beforeAll(async () => {
  server = await startServer({ TOKEN_TTL: '1h' });
  rekey = server.app.chats.rekey;
  fresh = await Promise.all([1, 2, 3].map(() => generateKeyPairSet({ rsaBits: 2048 })));
});
afterEach(() => {
  server.app.chats.rekey = rekey;
});
afterAll(() => server?.close());

const bodyOf = (keys: KeyPairSet) => {
  const pub = publicKeysOf(keys);
  return { encryptionKey: pub.encryption, signingKeys: pub.signing };
};

async function login(username: string): Promise<Api> {
  const api = new Api(server.url);
  const res = await api.call('login', { body: { username, password: PASSWORD } });
  expect(res.status).toBe(200);
  api.token = res.body.token;
  return api;
}

/** Two chats of `owner` with `peer`: the first one's new epoch will fail to be made. */
async function twoChats(owner: Api, peer: string): Promise<[string, string]> {
  const ids: string[] = [];
  for (const _ of [1, 2]) {
    const res = await owner.call('createChat', { body: { invitees: [peer] } });
    expect(res.status).toBe(201);
    ids.push(res.body.chat.id);
  }
  return ids as [string, string];
}

const epochOf = async (chatId: string) => (await server.app.store.getChat(chatId))?.epoch;

/** `chats.rekey` failing for `chatId` (as a store that went away would), the others as usual. */
function failFor(chatId: string, before?: () => Promise<void>) {
  server.app.chats.rekey = async (id, username) => {
    await before?.();
    if (id === chatId) throw new Error('the store went away');
    return rekey(id, username);
  };
}

describe('new epochs after a key change', () => {
  it('a chat whose new epoch failed gets it from the jobs, once the change has settled; no chat gets two', async () => {
    const dave = await login('dave');
    const [failing, fine] = await twoChats(dave, 'erin');
    failFor(failing);
    const old = await readKeyStore(path.join(server.keysDir, 'users', 'dave'));
    const next = fresh[0];
    const issuedAt = new Date().toISOString();
    const text = keyChangeSigningText('dave', fingerprintsOf(publicKeysOf(next)), issuedAt);
    const signature = toBase64(
      signSync('ed25519', old.signing.ed25519.privateKey, Buffer.from(text, 'utf8')),
    );
    const res = await dave.call('replaceKeys', {
      body: {
        currentPassword: PASSWORD,
        ...bodyOf(next),
        continuity: { signatureAlgorithm: 'ed25519', signature, issuedAt },
      },
    });
    expect(res.status).toBe(200);
    expect([await epochOf(failing), await epochOf(fine)]).toEqual([1, 2]);
    server.app.chats.rekey = rekey;

    const changes = server.app.accountChanges;
    // the request that made the change may still be making its epochs: the jobs leave it alone
    expect(await changes.completeRekeys()).toEqual([]);
    expect(await epochOf(failing)).toBe(1);
    expect(await changes.completeRekeys(Date.now() + 60_000)).toEqual(['dave']);
    expect([await epochOf(failing), await epochOf(fine)]).toEqual([2, 2]);
    const envelope = await server.app.store.getEnvelope(failing, 2, 'dave');
    expect(envelope).toBeDefined();
    // done: the mark is gone, and nothing more is made
    expect(await changes.completeRekeys(Date.now() + 60_000)).toEqual([]);
    expect([await epochOf(failing), await epochOf(fine)]).toEqual([2, 2]);
  });

  it('a reset ends every session before the new epochs are made, and a failed one is made later', async () => {
    const erin = await login('erin');
    const [failing, fine] = await twoChats(erin, 'dave');
    const still: boolean[] = [];
    // while the epochs are made, the session that held the old keys is already refused
    failFor(failing, async () => {
      still.push((await erin.call('listChats')).status === 200);
    });
    const { code } = await makeResetCode(server.app.store, 'erin');
    const res = await new Api(server.url).call('resetKeys', {
      params: { username: 'erin' },
      body: { code, ...bodyOf(fresh[1]) },
    });
    expect(res.status).toBe(200);
    // (erin is in dave's two chats too)
    expect(still).toEqual([false, false, false, false]);
    expect([await epochOf(failing), await epochOf(fine)]).toEqual([1, 2]);
    server.app.chats.rekey = rekey;
    expect(await server.app.accountChanges.completeRekeys(Date.now() + 60_000)).toEqual(['erin']);
    expect([await epochOf(failing), await epochOf(fine)]).toEqual([2, 2]);
  });

  it("a change whose new epoch was made but whose history's re-wrap failed gets the re-wrap from the jobs (security review round 3, #3)", async () => {
    const carol = await login('carol');
    const created = await carol.call('createChat', { body: { invitees: ['dave'] } });
    const chatId = created.body.chat.id as string;
    const store = server.app.store as unknown as { putEnvelopes: (...a: unknown[]) => Promise<void> };
    const put = store.putEnvelopes;
    store.putEnvelopes = async () => {
      throw new Error('the store went away');
    };
    const old = await readKeyStore(path.join(server.keysDir, 'users', 'carol'));
    const next = fresh[2];
    const issuedAt = new Date().toISOString();
    const text = keyChangeSigningText('carol', fingerprintsOf(publicKeysOf(next)), issuedAt);
    const signature = toBase64(
      signSync('ed25519', old.signing.ed25519.privateKey, Buffer.from(text, 'utf8')),
    );
    try {
      const res = await carol.call('replaceKeys', {
        body: {
          currentPassword: PASSWORD,
          ...bodyOf(next),
          continuity: { signatureAlgorithm: 'ed25519', signature, issuedAt },
        },
      });
      expect(res.status).toBe(200);
    } finally {
      store.putEnvelopes = put;
    }
    const wrapped = async () =>
      (await server.app.store.getEnvelope(chatId, 1, 'carol'))?.wrappedKey as string;
    const before = await wrapped();
    expect(() => unwrapKey(next.encryption.privateKey, before)).toThrow();
    expect(await server.app.accountChanges.completeRekeys(Date.now() + 60_000)).toContain('carol');
    // carol's history on a device with only the new keys
    expect(unwrapKey(next.encryption.privateKey, await wrapped())).toHaveLength(32);
  });

  it('at most five key replacements an hour per user: the sixth is 429 with Retry-After; a refused one does not count (security review round 3, #4)', async () => {
    const bob = await login('bob');
    let current = await readKeyStore(path.join(server.keysDir, 'users', 'bob'));
    const change = (next: KeyPairSet, signer = current) => {
      const issuedAt = new Date().toISOString();
      const text = keyChangeSigningText('bob', fingerprintsOf(publicKeysOf(next)), issuedAt);
      const signature = toBase64(
        signSync('ed25519', signer.signing.ed25519.privateKey, Buffer.from(text, 'utf8')),
      );
      return bob.call('replaceKeys', {
        body: {
          currentPassword: PASSWORD,
          ...bodyOf(next),
          continuity: { signatureAlgorithm: 'ed25519', signature, issuedAt },
        },
      });
    };
    // signed by the wrong key: refused, and not counted
    expect((await change(fresh[0], fresh[1])).status).toBe(400);
    for (let i = 0; i < 5; i++) {
      const next = fresh[i % 2];
      const res = await change(next);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      current = next;
    }
    // after five changes bob's keys are fresh[0]: a sixth to fresh[1]
    const sixth = await change(fresh[1]);
    expect(sixth.status).toBe(429);
    expect(sixth.body.code).toBe('RATE_LIMITED');
    expect(Number(sixth.headers['retry-after'])).toBeGreaterThan(0);
  });
});
