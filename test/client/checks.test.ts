import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  Client,
  composeMessage,
  EnvelopeRefused,
  importChatKey,
  importServerKey,
  importUserKeys,
  MemoryStores,
  type MessageData,
  SeenMessages,
} from '../../src/client/index.js';
import { nodeSignatures } from '../../src/client/node/index.js';
import { sealEnvelope, wrapKey } from '../../src/crypto/envelope.js';
import { generatePemKeyPair } from '../../src/crypto/keys.js';
import { keyStore, tableFetch } from './support.js';

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
  await client.pinServerKey();
  return { client, fetch, stores };
}

describe('key envelopes (what every client checks, 1)', () => {
  it('unwraps its own envelope of the chat asked for and records the epoch', async () => {
    const { client, stores } = await bobClient();
    await client.accept(await envelope(chatA, 2), { chatId: chatA, epoch: 2 });
    expect(stores.highestEpoch(chatA)).toBe(2);
  });

  it('refuses another chat’s envelope, an older epoch (after a restart too), another recipient, a bad signature', async () => {
    const { client, stores } = await bobClient();
    await client.accept(await envelope(chatA, 3), { chatId: chatA });
    await expect(client.accept(await envelope(chatB, 3), { chatId: chatA })).rejects.toThrow(
      /key envelope refused: it is for chat .{8}, not chat/,
    );
    const restarted = (await bobClient({}, stores)).client;
    await expect(restarted.accept(await envelope(chatA, 2), { chatId: chatA })).rejects.toThrow(
      /epoch 2 is older than epoch 3, already seen/,
    );
    await expect(
      restarted.accept(await envelope(chatA, 4, 'alice', alice.encryption.publicKey), { chatId: chatA }),
    ).rejects.toThrow(/it is for alice, not you/);
    const forged = { ...(await envelope(chatA, 4)), issuedAt: new Date(0).toISOString() };
    await expect(restarted.accept(forged, { chatId: chatA })).rejects.toThrow(
      /server signature does not verify/,
    );
    await expect(
      restarted.accept(await envelope(chatA, 4), { chatId: chatA, epoch: 5 }),
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
    await expect(client.read({ ...m, sender: 'bob' }, chatA)).rejects.toThrow(/CHAT|NOT_FOUND/);
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
    await bobClient({}, stores).then(({ client }) => client.peerKeys('alice'));
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
