import { createPublicKey, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Api,
  Client,
  checkEvent,
  checkPublicKey,
  composeMessage,
  EnvelopeRefused,
  importChatKey,
  importServerKey,
  importUserKeys,
  listAllChats,
  MemoryStores,
  type MessageData,
  SeenMessages,
} from '../../../src/client/index.js';
import { nodeSignatures } from '../../../src/client/node/index.js';
import { sealEnvelope, wrapKey } from '../../../src/crypto/envelope.js';
import { generatePemKeyPair } from '../../../src/crypto/keys.js';
import { keyStore, tableFetch } from '../../support/library.js';

const SERVER = 'http://chat.test';
const chatA = randomUUID();
const chatB = randomUUID();
const provider = nodeSignatures();
let server: { privateKey: string; publicKey: string };
let alice: Awaited<ReturnType<typeof keyStore>>;
let bob: Awaited<ReturnType<typeof keyStore>>;
const chatKey = Buffer.alloc(32, 5);

const envelope = (chatId: string, epoch: number, recipient = 'bob', key = bob.encryption.publicKey) =>
  sealEnvelope(server.privateKey, {
    chatId,
    epoch,
    recipient,
    wrappedKey: wrapKey(key, chatKey),
    issuedAt: new Date().toISOString(),
  });

beforeAll(async () => {
  [server, alice, bob] = await Promise.all([
    generatePemKeyPair('rsa', { modulusLength: 2048 }),
    keyStore('alice'),
    keyStore('bob'),
  ]);
});

/** Bob's client against a table of answers; `stores` kept across "restarts". */
async function bobClient(routes: Record<string, unknown> = {}, stores = new MemoryStores()) {
  const fetch = tableFetch({
    'GET /server/key': { publicKey: server.publicKey },
    'GET /users/alice/keys': {
      encryptionKey: alice.encryption.publicKey,
      signingKeys: Object.fromEntries(Object.entries(alice.signing).map(([a, p]) => [a, p.publicKey])),
    },
    // this user's own keys as the server has them: their history of changes (Accounts over time)
    'GET /users/bob/keys': {
      encryptionKey: bob.encryption.publicKey,
      signingKeys: Object.fromEntries(Object.entries(bob.signing).map(([a, p]) => [a, p.publicKey])),
    },
    ...routes,
  });
  const client = new Client({
    api: new Api({ server: SERVER, fetch }),
    username: 'bob',
    keys: await importUserKeys(bob, provider),
    provider,
    pins: stores,
    epochs: stores,
  });
  await client.trust.pinServerKey();
  return { client, fetch, stores };
}

describe('key envelopes (what every client checks, 1)', () => {
  it('unwraps its own envelope of the chat asked for and records the epoch', async () => {
    const { client, stores } = await bobClient();
    await client.chatKeys.accept(await envelope(chatA, 2), { chatId: chatA, epoch: 2 });
    expect(stores.highestEpoch(chatA)).toBe(2);
  });

  it('refuses another chat’s envelope, an older epoch (after a restart too), another recipient, a bad signature', async () => {
    const { client, stores } = await bobClient();
    await client.chatKeys.accept(await envelope(chatA, 3), { chatId: chatA });
    await expect(client.chatKeys.accept(await envelope(chatB, 3), { chatId: chatA })).rejects.toThrow(
      /key envelope refused: it is for chat .{8}, not chat/,
    );
    const restarted = (await bobClient({}, stores)).client;
    await expect(restarted.chatKeys.accept(await envelope(chatA, 2), { chatId: chatA })).rejects.toThrow(
      /epoch 2 is older than epoch 3, already seen/,
    );
    await expect(
      restarted.chatKeys.accept(await envelope(chatA, 4, 'alice', alice.encryption.publicKey), {
        chatId: chatA,
      }),
    ).rejects.toThrow(/it is for alice, not you/);
    const forged = { ...(await envelope(chatA, 4)), issuedAt: new Date(0).toISOString() };
    await expect(restarted.chatKeys.accept(forged, { chatId: chatA })).rejects.toThrow(
      /server signature does not verify/,
    );
    await expect(
      restarted.chatKeys.accept(await envelope(chatA, 4), { chatId: chatA, epoch: 5 }),
    ).rejects.toBeInstanceOf(EnvelopeRefused);
    expect(stores.highestEpoch(chatA)).toBe(3);
  });
});

describe('messages (what every client checks, 2)', () => {
  async function aliceSays(chatId: string, text: string, seq = 1): Promise<MessageData> {
    const keys = await importUserKeys(alice, provider);
    const message = await composeMessage(provider, {
      chatId,
      epoch: 1,
      sender: 'alice',
      key: await importChatKey(new Uint8Array(chatKey)),
      text,
      alg: 'ed25519',
      signingKey: keys.signing.ed25519,
    });
    return { chatId, seq, sender: 'alice', receivedAt: new Date().toISOString(), message };
  }

  it('verifies against the pinned key and opens; refuses another chat’s and a tampered field', async () => {
    const e1 = await envelope(chatA, 1);
    const { client } = await bobClient({ [`GET /chats/${chatA}/key?epoch=1`]: e1 });
    const m = await aliceSays(chatA, 'hello');
    expect(await client.read(m, chatA)).toBe('hello');
    await expect(client.read(m, chatB)).rejects.toThrow(/it belongs to chat .{8}, not to chat/);
    const changed = {
      id: randomUUID(),
      sentAt: new Date(0).toISOString(),
      epoch: 2,
      ciphertext: `AAAA${m.message.ciphertext.slice(4)}`,
    };
    for (const [field, value] of Object.entries(changed)) {
      const tampered = { ...m, message: { ...m.message, [field]: value } };
      await expect(client.read(tampered, chatA), field).rejects.toThrow(/ed25519 signature does not verify/);
    }
    // relabelled as this user's own: checked under this user's own key, not one fetched
    await expect(client.read({ ...m, sender: 'bob' }, chatA)).rejects.toThrow(
      /ed25519 signature does not verify against bob's key/,
    );
  });

  it('shows each (chat, id) once however often it arrives', async () => {
    const seen = new SeenMessages();
    const m = await aliceSays(chatA, 'once');
    expect(seen.first(m)).toBe(true);
    expect(seen.first(m)).toBe(false);
    expect(seen.first({ ...m, chatId: chatB })).toBe(true);
  });

  it('refuses a peer whose keys changed since they were pinned', async () => {
    const stores = new MemoryStores();
    await bobClient({}, stores).then(({ client }) => client.trust.peerKeys('alice'));
    const { client } = await bobClient(
      {
        'GET /users/alice/keys': {
          encryptionKey: bob.encryption.publicKey,
          signingKeys: Object.fromEntries(Object.entries(bob.signing).map(([a, p]) => [a, p.publicKey])),
        },
      },
      stores,
    );
    await expect(client.read(await aliceSays(chatA, 'x'), chatA)).rejects.toThrow(/alice's keys CHANGED/);
  });

  it('pins the server key on first use and refuses a changed one', async () => {
    const stores = new MemoryStores();
    await bobClient({}, stores);
    const other = await generatePemKeyPair('rsa', { modulusLength: 2048 });
    await expect(bobClient({ 'GET /server/key': { publicKey: other.publicKey } }, stores)).rejects.toThrow(
      /server's signing key CHANGED/,
    );
    await expect(importServerKey('nonsense')).rejects.toThrow(/not a public key/);
  });
});

describe('the library refuses answers of the wrong shape, replayed, raced or from an impostor (issue 10, A1-A3, A9-A11)', () => {
  const chat = (id: string, epoch: number, createdBy: string) => ({
    id,
    epoch,
    createdBy,
    createdAt: new Date().toISOString(),
    members: [
      { username: 'alice', state: 'joined', online: true },
      { username: 'bob', state: 'joined', online: true },
    ],
  });

  it('createChat refuses a replayed POST /chats answer and accepts a chat just created (A10)', async () => {
    const stores = new MemoryStores();
    const { client } = await bobClient(
      {
        'POST /chats': {
          chat: chat(chatA, 1, 'bob'),
          keyEnvelope: await envelope(chatA, 1),
          unavailable: [],
        },
      },
      stores,
    );
    expect((await client.createChat(['alice'])).chat.id).toBe(chatA);
    expect(stores.highestEpoch(chatA)).toBe(1);
    // the same answer again (the chat is known now), and an existing chat of another creator
    await expect(client.createChat(['alice'])).rejects.toThrow(/not a chat just created by you/);
    const replay = await bobClient({
      'POST /chats': {
        chat: chat(chatB, 3, 'alice'),
        keyEnvelope: await envelope(chatB, 3),
        unavailable: [],
      },
    });
    await expect(replay.client.createChat(['alice'])).rejects.toThrow(/not a chat just created by you/);
    expect(replay.stores.highestEpoch(chatB)).toBeUndefined();
  });

  it('answers, envelopes, messages and names of the wrong shape are refused before use (A1, A2)', async () => {
    const { client, fetch } = await bobClient({
      'POST /chats': { chat: { ...chat(chatA, 1, 'bob'), createdBy: ['bob'] }, unavailable: [] },
      'GET /chats?limit=500': { chats: 'none' },
    });
    await expect(client.createChat(['alice'])).rejects.toThrow(/malformed: chat\.createdBy \["bob"\]/);
    await expect(listAllChats(client.api)).rejects.toThrow(/list of chats that is not a list/);
    const listed = await bobClient({
      'GET /chats?limit=500': { chats: [{ ...chat(chatB, 1, 'alice'), epoch: '1' }] },
    });
    await expect(listAllChats(listed.client.api)).rejects.toThrow(
      /malformed: chat\.epoch "1" is not an integer/,
    );
    const e = await envelope(chatA, 1);
    await expect(
      client.chatKeys.accept({ ...e, recipient: ['bob'] as never }, { chatId: chatA }),
    ).rejects.toThrow(/key envelope refused: chat .{8}: malformed: keyEnvelope\.recipient/);
    await expect(client.trust.peerKeys('alice\u200b')).rejects.toThrow(
      /malformed: username "alice\u200b" is not a username/,
    );
    expect(fetch.asked.filter((a) => a.includes('/users/'))).toEqual([]);
    const m = { chatId: chatA, seq: 1, sender: ['alice'], receivedAt: '', message: {} } as never;
    await expect(client.read(m, chatA)).rejects.toThrow(/malformed: sender \["alice"\]/);
    expect(() => checkEvent('presence', { username: 'a\nb', online: true })).toThrow(/not a username/);
  });

  it('lists a chat that comes again in a later page of GET /chats once, as last seen', async () => {
    const { client } = await bobClient({
      'GET /chats?limit=500': { chats: [chat(chatA, 1, 'bob'), chat(chatB, 1, 'bob')], nextCursor: 'c1' },
      'GET /chats?limit=500&cursor=c1': { chats: [chat(chatA, 2, 'bob')], nextCursor: null },
    });
    const listed = await listAllChats(client.api);
    expect(listed.map((c) => [c.id, c.epoch])).toEqual([
      [chatA, 2],
      [chatB, 1],
    ]);
  });

  it('an accept that finishes after a newer epoch was taken is refused, and the epoch never drops (A9)', async () => {
    const { client, stores } = await bobClient();
    const [e2, e3] = [await envelope(chatA, 2), await envelope(chatA, 3)];
    // e2's unwrap waits until e3 was accepted: both passed the first check at epoch 0
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const subtle = globalThis.crypto.subtle;
    const decrypt = subtle.decrypt.bind(subtle);
    const wrapped2 = Buffer.from(e2.wrappedKey, 'base64');
    const spy = vi.spyOn(subtle, 'decrypt').mockImplementation(async (alg, key, data) => {
      if (Buffer.from(data as Uint8Array).equals(wrapped2)) await held;
      return decrypt(alg, key, data);
    });
    try {
      const older = client.chatKeys.accept(e2, { chatId: chatA });
      await client.chatKeys.accept(e3, { chatId: chatA });
      release();
      await expect(older).rejects.toThrow(/epoch 2 is older than epoch 3, already seen/);
    } finally {
      spy.mockRestore();
    }
    expect(stores.highestEpoch(chatA)).toBe(3);
  });

  it('with inspectServerKey nothing is pinned on first contact; only trustServer(FP) pins (A11)', async () => {
    const stores = new MemoryStores();
    const client = new Client({
      api: new Api({
        server: SERVER,
        fetch: tableFetch({ 'GET /server/key': { publicKey: server.publicKey } }),
      }),
      username: 'bob',
      keys: await importUserKeys(bob, provider),
      provider,
      pins: stores,
      epochs: stores,
      inspectServerKey: true,
    });
    await client.trust.pinServerKey();
    expect(stores.pinnedServer(new URL(SERVER).origin)).toBeUndefined();
    await expect(client.trust.trustServer('00'.repeat(32))).rejects.toThrow(/nothing trusted/);
    expect(stores.servers.size).toBe(0);
    const fp = await client.trust.trustServer(client.trust.serverFingerprint);
    expect(stores.pinnedServer(new URL(SERVER).origin)).toBe(fp);
  });

  it('checks RSA public keys as registration does: 2048-8192 bits, an odd modulus', () => {
    // moduli built from bytes (no primes needed for the check): 8200 bits, and an even 2048-bit one
    const rsa = (bytes: Buffer) =>
      createPublicKey({ key: { kty: 'RSA', n: bytes.toString('base64url'), e: 'AQAB' }, format: 'jwk' })
        .export({ type: 'spki', format: 'pem' })
        .toString();
    const modulus = (bits: number, odd: boolean) => {
      const n = Buffer.alloc(Math.ceil(bits / 8), 0x5a);
      n[0] = 0xff >> (n.length * 8 - bits);
      n[n.length - 1] = odd ? 0x5b : 0x5a;
      return n;
    };
    expect(() => checkPublicKey(rsa(modulus(8200, true)), 'encryption')).toThrow(/RSA of at most 8192 bits/);
    expect(() => checkPublicKey(rsa(modulus(8192, true)), 'encryption')).not.toThrow();
    expect(() => checkPublicKey(rsa(modulus(2048, false)), 'encryption')).toThrow(/RSA with an odd modulus/);
  });
});
