import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sealEnvelope, wrapKey } from '../../src/crypto/envelope.js';
import { keyStore } from '../client/support.js';
import { startServer, type TestServer } from '../helper.js';
import { forgeEnvelopes, type Member, members } from './members-support.js';

// A review of members mode as an attacker: a compromised server that answers what it likes,
// and a member colluding with it. Each case is a way the client once took a key it should not.
let server: TestServer;
const open: Member[] = [];
beforeAll(async () => {
  server = await startServer();
});
afterEach(async () => {
  for (const m of open.splice(0)) await m.close();
});
afterAll(() => server?.close());

async function login(...names: string[]) {
  const ms = await members(server, ...names);
  open.push(...ms);
  return ms;
}

/** A members-mode chat of `creator` with every one of `others` joined, at epoch 1. */
async function chatOf(creator: Member, ...others: Member[]): Promise<string> {
  const { chat } = await creator.client.createChat(
    others.map((m) => m.username),
    { keyMode: 'members' },
  );
  for (const m of others) {
    await m.next((e) => e.type === 'chat.invited' && e.data.chat.id === chat.id);
    await m.client.join(chat.id);
  }
  return chat.id;
}

const epochOf = (m: Member, chatId: string) => m.stores.highestEpoch(chatId) ?? 0;

describe('members mode, reviewed as an attacker', () => {
  it('refuses a server-made envelope in a chat whose keys its members make (downgrade)', async () => {
    const [alice, bob] = await login('alice', 'bob');
    const chatId = await chatOf(alice, bob);
    const serverKey = await readFile(path.join(server.keysDir, 'server', 'signing.key.pem'), 'utf8');
    const forged = await sealEnvelope(serverKey, {
      chatId,
      epoch: 2,
      recipient: 'alice',
      wrappedKey: wrapKey((await keyStore('alice')).encryption.publicKey, randomBytes(32)),
      issuedAt: new Date().toISOString(),
    });
    await expect(alice.client.accept(forged, { chatId })).rejects.toThrow(/made by the server/);
    expect(epochOf(alice, chatId)).toBe(1);
  });

  it('checks the committer against the latest epoch it holds when the server withholds the one before', async () => {
    const [alice, bob] = await login('alice', 'bob');
    const chatId = await chatOf(alice, bob);
    // erin, never a member, makes epoch 3; the server answers KEY_NOT_FOUND for epoch 2
    const forged = await forgeEnvelopes('erin', chatId, 3, ['alice', 'bob', 'erin']);
    const forAlice = forged.envelopes.find((e) => e.recipient === 'alice');
    await expect(alice.client.accept(forAlice ?? null, { chatId })).rejects.toThrow(
      /erin, who was not a member of epoch 1/,
    );
    expect(epochOf(alice, chatId)).toBe(1);
    expect(alice.changes.some((c) => c.committer === 'erin')).toBe(false);
  });
});
