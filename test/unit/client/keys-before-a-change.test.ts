import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  Client,
  composeMessage,
  importChatKey,
  importUserKeys,
  type KeyChangeRecord,
  keyChangeSigningText,
  keyStoreFingerprints,
  MemoryStores,
  type MessageData,
  type PemKeyPairSet,
  toBase64,
  utf8,
} from '../../../src/client/index.js';
import { nodeSignatures } from '../../../src/client/node/index.js';
import { sealEnvelope, wrapKey } from '../../../src/crypto/envelope.js';
import { generatePemKeyPair } from '../../../src/crypto/keys.js';
import { keyStore, tableFetch } from '../../support/library.js';

// Accounts over time: a message received before a change of its sender's keys verifies under the
// keys that change replaced, but only when this client itself trusted those keys as the sender's
// (pinned, accepted, or reached from them through continuity signatures), never on the strength
// of what the server says about them.
const SERVER = 'http://chat.test';
const chatId = randomUUID();
const provider = nodeSignatures();
const chatKey = Buffer.alloc(32, 7);
let server: { privateKey: string; publicKey: string };
const pems: Record<string, PemKeyPairSet> = {};

beforeAll(async () => {
  server = await generatePemKeyPair('rsa', { modulusLength: 2048 });
  for (const name of ['alice', 'bob', 'carol']) pems[name] = await keyStore(name);
});

const keysAnswer = (keys: PemKeyPairSet, changes: KeyChangeRecord[] = []) => ({
  encryptionKey: keys.encryption.publicKey,
  signingKeys: Object.fromEntries(Object.entries(keys.signing).map(([a, p]) => [a, p.publicKey])),
  changes,
});

/** Bob's client against a table; the stores are kept across "restarts". */
async function bobClient(routes: Record<string, unknown>, stores: MemoryStores) {
  const envelope = await sealEnvelope(server.privateKey, {
    chatId,
    epoch: 1,
    recipient: 'bob',
    wrappedKey: wrapKey(pems.bob.encryption.publicKey, chatKey),
    issuedAt: new Date().toISOString(),
  });
  const client = new Client({
    api: new Api({
      server: SERVER,
      fetch: tableFetch({
        'GET /server/key': { publicKey: server.publicKey },
        [`GET /chats/${chatId}/key?epoch=1`]: envelope,
        'GET /users/alice/keys': keysAnswer(pems.alice),
        'GET /users/bob/keys': keysAnswer(pems.bob),
        ...routes,
      }),
    }),
    username: 'bob',
    keys: await importUserKeys(pems.bob, provider),
    provider,
    pins: stores,
    epochs: stores,
  });
  await client.trust.pinServerKey();
  return client;
}

/** A message in `sender`'s name, signed with `signer`'s ed25519 key. */
async function says(sender: string, signer: string, text: string): Promise<MessageData> {
  const keys = await importUserKeys(pems[signer], provider);
  const message = await composeMessage(provider, {
    chatId,
    epoch: 1,
    sender,
    key: await importChatKey(new Uint8Array(chatKey)),
    text,
    alg: 'ed25519',
    signingKey: keys.signing.ed25519,
  });
  return { chatId, seq: 1, sender, receivedAt: new Date().toISOString(), message };
}

/** A change, far in the future, from carol's keys to `user`'s real ones: what a hostile server can make. */
async function forgedChange(user: string, signed: boolean): Promise<KeyChangeRecord> {
  const fingerprints = await keyStoreFingerprints(pems[user]);
  const issuedAt = new Date().toISOString();
  const carol = await importUserKeys(pems.carol, provider);
  const signature = await provider.sign(
    'ed25519',
    carol.signing.ed25519,
    utf8(keyChangeSigningText(user, fingerprints, issuedAt)),
  );
  return {
    at: '9999-01-01T00:00:00.000Z',
    fingerprints,
    previous: {
      fingerprints: await keyStoreFingerprints(pems.carol),
      signingKeys: keysAnswer(pems.carol).signingKeys as KeyChangeRecord['previous']['signingKeys'],
    },
    continuity: signed ? { signatureAlgorithm: 'ed25519', signature: toBase64(signature), issuedAt } : null,
    by: signed ? 'user' : 'administrator',
  };
}

describe('keys a change replaced, as the server names them', () => {
  for (const [kind, signed] of [
    ['an administrator’s reset', false],
    ['a change signed by the keys it names as replaced', true],
  ] as const)
    it(`cannot make another key sign for a pinned peer: ${kind} (accounts review, #1)`, async () => {
      const stores = new MemoryStores();
      const first = await bobClient({}, stores);
      expect(await first.read(await says('alice', 'alice', 'honest'), chatId)).toBe('honest');
      const forged = await says('alice', 'carol', 'forged');
      const change = await forgedChange('alice', signed);
      const client = await bobClient({ 'GET /users/alice/keys': keysAnswer(pems.alice, [change]) }, stores);
      await expect(client.read(forged, chatId)).rejects.toThrow(/cannot be confirmed/);
    });

  it('cannot make another key sign for this user’s own name (accounts review, #1)', async () => {
    const stores = new MemoryStores();
    const first = await bobClient({}, stores);
    expect(await first.read(await says('bob', 'bob', 'mine'), chatId)).toBe('mine');
    const change = await forgedChange('bob', false);
    const client = await bobClient({ 'GET /users/bob/keys': keysAnswer(pems.bob, [change]) }, stores);
    await expect(client.read(await says('bob', 'carol', 'forged'), chatId)).rejects.toThrow(
      /cannot be confirmed/,
    );
  });

  it('takes the keys a change replaced when they are the pinned ones, and those reached from them by continuity', async () => {
    // alice: carol's keys (pinned) → alice's (continuity by carol's) → bob's (continuity by alice's)
    const stores = new MemoryStores();
    const viaCarol = { ...keysAnswer(pems.carol) };
    const first = await bobClient({ 'GET /users/alice/keys': viaCarol }, stores);
    await first.trust.peerKeys('alice');
    const toAlice = { ...(await forgedChange('alice', true)), at: '9998-01-01T00:00:00.000Z' };
    const aliceKeys = await importUserKeys(pems.alice, provider);
    const fingerprints = await keyStoreFingerprints(pems.bob);
    const issuedAt = new Date().toISOString();
    const signature = await provider.sign(
      'ed25519',
      aliceKeys.signing.ed25519,
      utf8(keyChangeSigningText('alice', fingerprints, issuedAt)),
    );
    const toBob: KeyChangeRecord = {
      at: '9999-01-01T00:00:00.000Z',
      fingerprints,
      previous: {
        fingerprints: await keyStoreFingerprints(pems.alice),
        signingKeys: keysAnswer(pems.alice).signingKeys as KeyChangeRecord['previous']['signingKeys'],
      },
      continuity: { signatureAlgorithm: 'ed25519', signature: toBase64(signature), issuedAt },
      by: 'user',
    };
    // the messages were received before both changes: under carol's keys, the pinned ones
    const client = await bobClient(
      { 'GET /users/alice/keys': keysAnswer(pems.bob, [toAlice, toBob]) },
      stores,
    );
    expect(await client.read(await says('alice', 'carol', 'pinned'), chatId)).toBe('pinned');
    // received between the two: under alice's, reached from the pin by carol's continuity signature
    const between = { ...(await says('alice', 'alice', 'reached')), receivedAt: '9998-06-01T00:00:00.000Z' };
    expect(await client.read(between, chatId)).toBe('reached');
  });
});
