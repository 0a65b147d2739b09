import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  Client,
  type FeedEvent,
  importUserKeys,
  KeyChangedError,
  MemoryStores,
  type MessageData,
  type PemKeyPairSet,
  replaceKeys,
  resetKeys,
} from '../../../src/client/index.js';
import { nodeSignatures } from '../../../src/client/node/index.js';
import { generateKeyPairSet } from '../../../src/crypto/keys.js';
import { makeResetCode } from '../../../src/services/account-changes.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';
import { followed, keyStore } from '../../support/library.js';

// The client library across a key change: peers are warned with the right words, refuse the new
// messages until they accept, and old messages keep verifying (also on a fresh device).
let server: TestServer;
let fresh: PemKeyPairSet[];
const closers: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  server = await startServer({ TOKEN_TTL: '1h' });
  fresh = await Promise.all([1, 2, 3].map(() => generateKeyPairSet({ rsaBits: 2048 })));
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await server?.close();
});

async function user(username: string, pems?: PemKeyPairSet, password = PASSWORD) {
  const provider = nodeSignatures();
  const stores = new MemoryStores();
  const client = await Client.login({
    api: new Api({ server: server.url }),
    username,
    password,
    keys: await importUserKeys(pems ?? (await keyStore(username)), provider),
    provider,
    pins: stores,
    epochs: stores,
  });
  const feed = followed(client.api, (event: FeedEvent) =>
    client.commits.handleKeyEvent(event).then(() => {}),
  );
  feed.done.catch(() => {});
  await feed.open;
  closers.push(
    () => client.close(),
    () => feed.close(),
  );
  return { client, feed, provider };
}

const history = async (client: Client, chatId: string) =>
  (await client.api.listMessages(chatId)).messages as unknown as MessageData[];

describe('a conversation across a key replacement', () => {
  it('warns with the continuity wording, refuses the new messages until accepted, and keeps old ones verifying', {
    timeout: 60_000,
  }, async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const { chat } = await alice.client.createChat(['bob']);
    await bob.feed.next((e) => e.type === 'chat.invited');
    await bob.client.join(chat.id);
    await alice.client.send(chat.id, 'said with the old keys', 'ed25519');
    const [old] = await history(bob.client, chat.id);
    expect(await bob.client.read(old, chat.id)).toBe('said with the old keys');

    const next = fresh[0];
    await replaceKeys(alice.client.api, {
      username: 'alice',
      password: PASSWORD,
      current: alice.client.keys,
      provider: alice.provider,
      next,
    });
    await bob.feed.next((e) => e.type === 'account.keys' && e.data.username === 'alice');
    await bob.feed.next((e) => e.type === 'chat.key' && e.data.chatId === chat.id);

    // alice on a device with only her new keys reads the whole history, her old message included
    const renewed = await user('alice', next);
    expect(await renewed.client.read(old, chat.id)).toBe('said with the old keys');
    await renewed.client.send(chat.id, 'said with the new keys', 'rsa-pss-sha256');
    const [, newer] = await history(bob.client, chat.id);

    // bob: refused, with the words for a replacement signed by the old key
    const refusal = await bob.client.read(newer, chat.id).catch((e) => e);
    expect(refusal).toBeInstanceOf(KeyChangedError);
    expect(refusal.message).toContain('alice replaced their keys, signed with their old key');
    expect(bob.client.trust.changeKinds.get('alice')).toBe('continuity');
    expect(await bob.client.read(old, chat.id)).toBe('said with the old keys');

    // he compares and accepts: both read
    const { current } = await bob.client.trust.fingerprints('alice');
    expect(current.encryption).toBe((await renewed.client.ownFingerprints()).encryption);
    await bob.client.trust.trustUser('alice');
    expect(await bob.client.read(newer, chat.id)).toBe('said with the new keys');
    expect(await bob.client.read(old, chat.id)).toBe('said with the old keys');

    // a brand-new device of bob's reads both too
    const bobAgain = await user('bob');
    expect(await bobAgain.client.read(old, chat.id)).toBe('said with the old keys');
    expect(await bobAgain.client.read(newer, chat.id)).toBe('said with the new keys');
  });

  it("says a reset was the administrator's, and asks to compare fingerprints first", {
    timeout: 60_000,
  }, async () => {
    const carol = await user('carol');
    const dave = await user('dave');
    const { chat } = await carol.client.createChat(['dave']);
    await dave.feed.next((e) => e.type === 'chat.invited');
    await dave.client.join(chat.id);
    await carol.client.send(chat.id, 'before the reset', 'dsa-sha256');
    const [before] = await history(dave.client, chat.id);
    expect(await dave.client.read(before, chat.id)).toBe('before the reset');

    const { code } = await makeResetCode(server.app.store, 'carol');
    const next = fresh[1];
    await resetKeys(new Api({ server: server.url }), {
      username: 'carol',
      code,
      next,
      newPassword: 'carol starts over',
    });
    await dave.feed.next((e) => e.type === 'account.keys' && e.data.username === 'carol');
    const reset = await user('carol', next, 'carol starts over');
    await reset.client.send(chat.id, 'after the reset', 'ed25519');
    const [, after] = await history(dave.client, chat.id);
    const refusal = await dave.client.read(after, chat.id).catch((e) => e);
    expect(refusal).toBeInstanceOf(KeyChangedError);
    expect(refusal.message).toContain(
      "carol's keys were reset by the administrator: compare fingerprints before you trust them",
    );
    // the message from before still verifies under the pinned (old) keys
    expect(await dave.client.read(before, chat.id)).toBe('before the reset');
    await dave.client.trust.fingerprints('carol');
    await dave.client.trust.trustUser('carol');
    expect(await dave.client.read(after, chat.id)).toBe('after the reset');
    expect(await dave.client.read(before, chat.id)).toBe('before the reset');
  });

  it("members mode: the new epoch is committed by a member's client for the new key, and the server holds no key", {
    timeout: 60_000,
  }, async () => {
    const erin = await user('erin');
    const bob = await user('bob');
    const { chat } = await erin.client.createChat(['bob'], { keyMode: 'members' });
    await bob.feed.next((e) => e.type === 'chat.invited' && e.data.chat.id === chat.id);
    await bob.client.join(chat.id);
    await erin.client.send(chat.id, 'members only', 'ed25519');
    const epochBefore = (await bob.client.api.getChat(chat.id)).epoch;

    const next = fresh[2];
    await replaceKeys(erin.client.api, {
      username: 'erin',
      password: PASSWORD,
      current: erin.client.keys,
      provider: erin.provider,
      next,
    });
    await bob.feed.next((e) => e.type === 'account.keys' && e.data.username === 'erin');
    const waiting = (await bob.client.api.getChat(chat.id)).pending;
    expect(waiting?.epoch).toBe(epochBefore + 1);
    // bob's client does not wrap for keys he has not accepted; once he has, it commits
    await bob.client.trust.fingerprints('erin');
    await bob.client.trust.trustUser('erin');
    const outcome = await bob.client.commits.commitPending(chat.id);
    expect(['committed', 'lost']).toContain(outcome.status);
    const renewed = await user('erin', next);
    expect(await renewed.client.chatKeys.chatKey(chat.id, epochBefore + 1)).toBeDefined();
    await renewed.client.send(chat.id, 'members only, new keys', 'ed25519');
    // the server keeps no key of a members-mode chat
    for (let epoch = 1; epoch <= epochBefore + 1; epoch++)
      expect(await server.app.store.getEnvelope(chat.id, epoch, '~server')).toBeUndefined();
  });
});
