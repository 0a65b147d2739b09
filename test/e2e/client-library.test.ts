import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Api,
  browserSignatures,
  Client,
  importUserKeys,
  MemoryStores,
  SeenMessages,
} from '../../src/client/index.js';
import type { Answer } from '../../src/contract/index.js';
import { PASSWORD, startServer, type TestServer } from '../support/helper.js';
import { followed, keyStore } from '../support/library.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

/** A client as a browser has it: the platform's fetch, WebCrypto, DSA verified in BigInt. */
async function browserClient(username: string) {
  const provider = browserSignatures();
  // a browser never signs with DSA: that key is left out, and the other two are imported
  const keys = await importUserKeys(await keyStore(username), provider);
  expect(Object.keys(keys.signing).sort()).toEqual(['ed25519', 'rsa-pss-sha256']);
  const stores = new MemoryStores();
  const client = await Client.login({
    api: new Api({ server: server.url }),
    username,
    password: PASSWORD,
    keys,
    provider,
    pins: stores,
    epochs: stores,
  });
  return { client, stores };
}

describe('the client library against a real server, with only what a browser has', () => {
  it('two users chat: envelopes verified and unwrapped, messages signed, verified and opened', async () => {
    const alice = await browserClient('alice');
    const bob = await browserClient('bob');
    const bobs = followed(bob.client.api);
    await bobs.open;
    try {
      const created = await alice.client.api.call<Answer<'createChat'>>('POST', '/chats', {
        invitees: ['bob'],
      });
      const chatId = created.chat.id;
      await alice.client.chatKeys.accept(created.keyEnvelope, { chatId, epoch: created.chat.epoch });
      const invited = await bobs.next((e) => e.type === 'chat.invited');
      await bob.client.chatKeys.accept(invited.data.keyEnvelope, {
        chatId: invited.data.chat.id,
        epoch: invited.data.chat.epoch,
      });
      await bob.client.api.call('POST', `/chats/${chatId}/join`);

      const sent = await alice.client.send(chatId, 'hello from the page', 'ed25519');
      expect(sent).toMatchObject({ seq: 1, epoch: 1 });
      await alice.client.send(chatId, 'and with RSA-PSS', 'rsa-pss-sha256');
      const seen = new SeenMessages();
      const texts: string[] = [];
      for (let i = 0; i < 2; i++) {
        const event = await bobs.next((e) => e.type === 'message');
        expect(seen.first(event.data)).toBe(true);
        texts.push(await bob.client.read(event.data, chatId));
      }
      expect(texts).toEqual(['hello from the page', 'and with RSA-PSS']);
      expect(bob.stores.pinnedUser('alice')?.ed25519).toMatch(/^[0-9a-f]{64}$/);

      // a DSA message (as the CLI sends it) is verified by the BigInt verifier
      const { Session } = await import('../../cli/session.js');
      const cli = await Session.open({
        server: server.url,
        username: 'alice',
        password: PASSWORD,
        keysDir: server.keysDir,
      });
      try {
        await cli.send(chatId, 'signed with DSA by the CLI', 'dsa-sha256');
      } finally {
        await cli.close();
      }
      const dsa = await bobs.next((e) => e.type === 'message');
      expect(dsa.data.message.signatureAlgorithm).toBe('dsa-sha256');
      expect(await bob.client.read(dsa.data, chatId)).toBe('signed with DSA by the CLI');
      const forged = { ...dsa.data, message: { ...dsa.data.message, sentAt: new Date().toISOString() } };
      await expect(bob.client.read(forged, chatId)).rejects.toThrow(/dsa-sha256 signature does not verify/);
      await expect(bob.client.send(chatId, 'never', 'dsa-sha256')).rejects.toThrow(
        /this client does not sign with dsa-sha256/,
      );
    } finally {
      await bobs.close();
      await alice.client.close();
      await bob.client.close();
    }
  });
});
