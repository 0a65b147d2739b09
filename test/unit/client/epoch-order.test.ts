/**
 * An envelope offered as a chat's new or current key that is older than the highest epoch this
 * client holds is refused on the cheap checks, before any signature is verified or key unwrapped
 * (security round 2, #11). The spies stand for the expensive work: WebCrypto's verify (the
 * server's signature) and decrypt (RSA-OAEP unwrap), and the provider's verify (a member's).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Api,
  Client,
  type FeedEvent,
  importUserKeys,
  type KeyEnvelope,
  type MemberKeyEnvelope,
  MemoryStores,
} from '../../../src/client/index.js';
import { nodeSignatures } from '../../../src/client/node/index.js';
import { sealEnvelope, wrapKey } from '../../../src/crypto/envelope.js';
import { generatePemKeyPair } from '../../../src/crypto/keys.js';
import { forgeEnvelopes, keyStore, tableFetch } from '../../support/library.js';

const provider = nodeSignatures();
let server: { privateKey: string; publicKey: string };
let alice: Awaited<ReturnType<typeof keyStore>>;
let bob: Awaited<ReturnType<typeof keyStore>>;

beforeAll(async () => {
  [server, alice, bob] = await Promise.all([
    generatePemKeyPair('rsa', { modulusLength: 2048 }),
    keyStore('alice'),
    keyStore('bob'),
  ]);
});
afterEach(() => {
  vi.restoreAllMocks();
});

const envelope = (chatId: string, epoch: number): Promise<KeyEnvelope> =>
  sealEnvelope(server.privateKey, {
    chatId,
    epoch,
    recipient: 'bob',
    wrappedKey: wrapKey(bob.encryption.publicKey, Buffer.alloc(32, epoch)),
    issuedAt: new Date().toISOString(),
  }) as Promise<KeyEnvelope>;

const chat = (id: string, epoch: number, keyMode: 'server' | 'members' = 'server') => ({
  id,
  epoch,
  createdBy: 'alice',
  createdAt: new Date().toISOString(),
  keyMode,
  members: [
    { username: 'alice', state: 'joined', online: true },
    { username: 'bob', state: 'joined', online: true },
  ],
});

/** Bob's client against a table of answers; `before` runs (and may wait) before each is given. */
async function bobClient(routes: Record<string, unknown> = {}, before?: (url: string) => Promise<void>) {
  const stores = new MemoryStores();
  const table = tableFetch({
    'GET /server/key': { publicKey: server.publicKey },
    'GET /users/alice/keys': {
      encryptionKey: alice.encryption.publicKey,
      signingKeys: Object.fromEntries(Object.entries(alice.signing).map(([a, p]) => [a, p.publicKey])),
    },
    ...routes,
  });
  const client = new Client({
    api: new Api({
      server: 'http://chat.test',
      fetch: async (url: string, init: RequestInit) => {
        await before?.(url);
        return table(url, init);
      },
    }),
    username: 'bob',
    keys: await importUserKeys(bob, provider),
    provider,
    pins: stores,
    epochs: stores,
  });
  await client.trust.pinServerKey();
  return { client, stores };
}

/** Spies on every signature check and every unwrap, from here on. */
function spies() {
  const subtle = globalThis.crypto.subtle;
  return {
    serverVerify: vi.spyOn(subtle, 'verify'),
    unwrap: vi.spyOn(subtle, 'decrypt'),
    memberVerify: vi.spyOn(provider, 'verify'),
  };
}

const untouched = (s: ReturnType<typeof spies>) => {
  expect(s.serverVerify).not.toHaveBeenCalled();
  expect(s.unwrap).not.toHaveBeenCalled();
  expect(s.memberVerify).not.toHaveBeenCalled();
};

/** A gate: `wait` holds until `open` is called. */
function gate() {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** The envelopes for bob of members-mode epochs of one chat, committed by `committer`. */
async function memberEnvelope(chatId: string, epoch: number, committer = 'alice') {
  const { envelopes } = await forgeEnvelopes(committer, chatId, epoch, ['alice', 'bob']);
  return envelopes.find((e) => e.recipient === 'bob') as MemberKeyEnvelope;
}

const OLDER = /epoch 2 is older than epoch 3, already seen/;
const keyEvent = (keyEnvelope: unknown): FeedEvent =>
  ({
    id: '1',
    type: 'chat.key',
    data: { chatId: (keyEnvelope as KeyEnvelope).chatId, keyEnvelope },
  }) as FeedEvent;

describe('an envelope older than the highest epoch held (security round 2, #11)', () => {
  it('is refused before its server signature is checked or its key unwrapped, wherever it comes from', async () => {
    const chatId = randomUUID();
    const old = await envelope(chatId, 2);
    const { client, stores } = await bobClient({
      [`POST /chats/${chatId}/join`]: { chat: chat(chatId, 2), keyEnvelope: old },
      [`GET /chats/${chatId}/key`]: old,
    });
    await client.chatKeys.accept(await envelope(chatId, 3), { chatId });
    const s = spies();
    await expect(client.commits.handleKeyEvent(keyEvent(old))).rejects.toThrow(OLDER);
    await expect(client.join(chatId)).rejects.toThrow(OLDER);
    await expect(client.chatKeys.currentKey(chatId)).rejects.toThrow(OLDER);
    await expect(client.chatKeys.accept(old, { chatId, epoch: 2 })).rejects.toThrow(OLDER);
    untouched(s);
    expect(stores.highestEpoch(chatId)).toBe(3);
  });

  it('is refused before its committer’s signature is checked or its key unwrapped (members mode)', async () => {
    const chatId = randomUUID();
    const [e2, e3, e4] = await Promise.all([2, 3, 4].map((n) => memberEnvelope(chatId, n)));
    const { client, stores } = await bobClient();
    await client.chatKeys.accept(e3, { chatId });
    const s = spies();
    await expect(client.commits.handleKeyEvent(keyEvent(e2))).rejects.toThrow(OLDER);
    untouched(s);
    // the next epoch still verifies and unwraps
    await client.commits.handleKeyEvent(keyEvent(e4));
    expect(s.memberVerify).toHaveBeenCalledTimes(1);
    expect(s.unwrap).toHaveBeenCalledTimes(1);
    expect(stores.highestEpoch(chatId)).toBe(4);
  });

  it('of the current or a newer epoch, or asked for by its epoch (history), still verifies and unwraps', async () => {
    const chatId = randomUUID();
    const [e2, e3, e4] = await Promise.all([envelope(chatId, 2), envelope(chatId, 3), envelope(chatId, 4)]);
    const { client, stores } = await bobClient({
      [`GET /chats/${chatId}/key?epoch=2`]: e2,
      [`GET /chats/${chatId}/key`]: e3,
      [`POST /chats/${chatId}/join`]: { chat: chat(chatId, 3), keyEnvelope: e3 },
    });
    await client.chatKeys.accept(e3, { chatId });
    const s = spies();
    // the current epoch again: a join's answer, a current-key fetch
    await client.join(chatId);
    expect((await client.chatKeys.currentKey(chatId)).epoch).toBe(3);
    expect(s.serverVerify).toHaveBeenCalledTimes(2);
    expect(s.unwrap).toHaveBeenCalledTimes(2);
    // an older epoch asked for as such (GET /chats/{id}/key?epoch=2, to read history)
    expect(await client.chatKeys.chatKey(chatId, 2)).toBeDefined();
    expect(s.serverVerify).toHaveBeenCalledTimes(3);
    expect(s.unwrap).toHaveBeenCalledTimes(3);
    // a newer one, as a chat.key event brings it
    await client.commits.handleKeyEvent(keyEvent(e4));
    expect(s.serverVerify).toHaveBeenCalledTimes(4);
    expect(s.unwrap).toHaveBeenCalledTimes(4);
    expect(stores.highestEpoch(chatId)).toBe(4);
  });

  it('that became older while it waited (another accept took a newer epoch) is refused before its unwrap', async () => {
    const chatId = randomUUID();
    const [e2, e3] = await Promise.all([envelope(chatId, 2), envelope(chatId, 3)]);
    const { client, stores } = await bobClient();
    // e2's signature check waits until e3 was taken: e2 passed the first check at epoch 0
    const held = gate();
    const subtle = globalThis.crypto.subtle;
    const verify = subtle.verify.bind(subtle);
    const signature2 = Buffer.from(e2.serverSignature, 'base64');
    vi.spyOn(subtle, 'verify').mockImplementation(async (alg, key, signature, data) => {
      if (Buffer.from(signature as Uint8Array).equals(signature2)) await held.wait;
      return verify(alg, key, signature, data);
    });
    const unwrap = vi.spyOn(subtle, 'decrypt');
    const older = client.chatKeys.accept(e2, { chatId });
    await client.chatKeys.accept(e3, { chatId });
    held.open();
    await expect(older).rejects.toThrow(OLDER);
    expect(unwrap).toHaveBeenCalledTimes(1); // e3's only
    expect(stores.highestEpoch(chatId)).toBe(3);
  });

  it('that became older while its committer’s keys were fetched is refused before its signature is checked (members mode)', async () => {
    const chatId = randomUUID();
    const [e2, e3] = await Promise.all([memberEnvelope(chatId, 2), memberEnvelope(chatId, 3, 'bob')]);
    // the first fetch of alice's keys (e2's committer) waits until e3 (bob's own) was taken
    const held = gate();
    let first = true;
    const { client, stores } = await bobClient({}, async (url) => {
      if (!url.endsWith('/users/alice/keys') || !first) return;
      first = false;
      await held.wait;
    });
    const s = spies();
    const older = client.chatKeys.accept(e2, { chatId });
    await client.chatKeys.accept(e3, { chatId });
    expect(s.memberVerify).toHaveBeenCalledTimes(1); // e3's
    held.open();
    await expect(older).rejects.toThrow(OLDER);
    expect(s.memberVerify).toHaveBeenCalledTimes(1);
    expect(s.unwrap).toHaveBeenCalledTimes(1);
    expect(stores.highestEpoch(chatId)).toBe(3);
  });
});
