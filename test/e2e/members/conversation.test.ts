import { constants, createDecipheriv, privateDecrypt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeChange } from '../../../src/client/index.js';
import { assertSchema } from '../../support/client.js';
import { startServer, type TestServer } from '../../support/helper.js';
import {
  epochOf,
  holdsAnyKey,
  type Member,
  members,
  rawKeysOf,
  say,
  storedBytes,
} from '../../support/members.js';

// Issue 14: a members-mode conversation across an invitation, a leave and a count-based rotation,
// every key made by a member's client; afterwards the server's database holds none of them.
let server: TestServer;
let all: Member[] = [];
beforeAll(async () => {
  server = await startServer({ SECURECHAT_ROTATE_MESSAGES: '4' });
});
afterAll(async () => {
  for (const m of all) await m.close();
  await server?.close();
});

describe('a members-mode chat', () => {
  it('holds a conversation across an invitation, a leave and a rotation, with no key on the server', async () => {
    all = await members(server, 'alice', 'bob', 'carol');
    const [alice, bob, carol] = all;

    // created: epoch 1 made by alice's client, for alice and bob
    const { chat } = await alice.client.createChat(['bob'], { keyMode: 'members' });
    assertSchema('Chat', chat);
    expect(chat).toMatchObject({ epoch: 1, keyMode: 'members', pending: null });
    const chatId = chat.id;
    const invited = await bob.next((e) => e.type === 'chat.invited');
    assertSchema('ChatInvitedEvent', invited.data);
    expect(invited.data.keyEnvelope).toMatchObject({ committer: 'alice', members: ['alice', 'bob'] });
    expect(invited.data.keyEnvelope.serverSignature).toBeUndefined();
    expect(bob.changes).toEqual([expect.objectContaining({ epoch: 1, committer: 'alice', firstSeen: true })]);
    expect(describeChange(bob.changes[0], 'bob')).toBe(
      'epoch 1: you were added by alice (members: alice, bob)',
    );
    await bob.client.join(chatId);
    await say(alice, [bob], chatId, 'hello bob, only we can read this');
    await say(bob, [alice], chatId, 'hello alice');

    // an invitation: epoch 2, committed by the inviter's client; everyone sees who added carol
    await alice.client.invite(chatId, ['carol']);
    const carolInvited = await carol.next((e) => e.type === 'chat.invited');
    expect(carolInvited.data.keyEnvelope).toMatchObject({ epoch: 2, committer: 'alice' });
    await bob.until(() => epochOf(bob, chatId) === 2);
    expect(describeChange(bob.changes[1], 'bob')).toBe('epoch 2: carol added by alice');
    expect(carol.changes[0]).toMatchObject({ epoch: 2, committer: 'alice', firstSeen: true });
    await carol.client.join(chatId);
    await say(carol, [alice, bob], chatId, 'hi both');

    // a leave: bob is gone at once; epoch 3 waits, and a remaining member's client commits it
    const left = await bob.client.api.call('POST', `/chats/${chatId}/leave`);
    expect(left).toBeUndefined();
    await alice.until(() => epochOf(alice, chatId) === 3);
    await carol.until(() => epochOf(carol, chatId) === 3);
    const leaveChange = alice.changes.find((c) => c.epoch === 3);
    expect(leaveChange).toMatchObject({ removed: ['bob'], added: [], members: ['alice', 'carol'] });
    await say(alice, [carol], chatId, 'bob has gone');

    // the count rotation (every 4 messages here): epoch 4, same members, made by a member
    await say(carol, [alice], chatId, 'one more');
    await say(alice, [carol], chatId, 'and another');
    await say(carol, [alice], chatId, 'the fourth of epoch 3');
    await alice.until(() => epochOf(alice, chatId) === 4);
    await carol.until(() => epochOf(carol, chatId) === 4);
    expect(carol.changes.find((c) => c.epoch === 4)).toMatchObject({ added: [], removed: [] });
    // posts go under the new key
    const sent = await alice.client.send(chatId, 'after the rotation', 'rsa-pss-sha256');
    expect(sent.epoch).toBe(4);
    const last = await carol.next(
      (e) => e.type === 'message' && e.data.sender === 'alice' && e.data.message.epoch === 4,
    );
    expect(await carol.client.read(last.data, chatId)).toBe('after the rotation');

    // nothing the server stored holds any epoch's key, raw, base64 or hex; the test can find them
    const keys = [...(await rawKeysOf(alice, chatId)), ...(await rawKeysOf(bob, chatId))];
    expect(keys).toHaveLength(4 + 2);
    expect(holdsAnyKey(Buffer.concat(keys), keys)).toBe(true);
    const stored = await storedBytes(server);
    expect(holdsAnyKey(stored, keys)).toBe(false);

    // independently of the client library (node:crypto and protocol.md only): nothing the server
    // stored opens a stored message. Every base64 value in its store, decoded, gives every 32-byte
    // window as a candidate key; the server's own private key unwraps no envelope.
    type Item = {
      chatId: string;
      sender: string;
      message: Record<string, string | number> & { prev?: { seq: number; hash: string } | null };
    };
    // protocol.md's AAD: version 2 when the message carries device, counter and prev, else version 1
    const aadOf = (m: Item) => {
      const { id, epoch, sentAt, device, counter, prev } = m.message;
      const v1 = `${m.chatId}\n${epoch}\n${m.sender}\n${id}\n${sentAt}`;
      if (device === undefined) return `securechat/v1/msg\n${v1}`;
      return `securechat/v2/msg\n${v1}\n${device}\n${counter}\n${prev?.seq ?? ''}\n${prev?.hash ?? ''}`;
    };
    const history = (await alice.client.api.call('GET', `/chats/${chatId}/messages?limit=1000`)) as {
      messages: Item[];
    };
    const opens = (key: Buffer, m: Item) => {
      const { iv, ciphertext, tag } = m.message;
      try {
        const d = createDecipheriv('aes-256-gcm', key, Buffer.from(String(iv), 'base64'));
        d.setAAD(Buffer.from(aadOf(m)));
        d.setAuthTag(Buffer.from(String(tag), 'base64'));
        d.update(Buffer.from(String(ciphertext), 'base64'));
        d.final();
        return true;
      } catch {
        return false;
      }
    };
    const oneOfEachEpoch = [...new Map(history.messages.map((m) => [m.message.epoch, m])).values()];
    expect(oneOfEachEpoch).toHaveLength(4);
    // the check can succeed: each message opens under a key its members hold
    for (const m of oneOfEachEpoch) expect(keys.some((k) => opens(k, m))).toBe(true);
    const candidates = new Set<string>();
    for (const run of stored.toString('latin1').match(/[A-Za-z0-9+/]{43,}={0,2}/g) ?? []) {
      const bytes = Buffer.from(run, 'base64');
      for (let i = 0; i + 32 <= bytes.length; i++) candidates.add(bytes.subarray(i, i + 32).toString('hex'));
    }
    expect(candidates.size).toBeGreaterThan(1000);
    for (const hex of candidates) {
      for (const m of oneOfEachEpoch) expect(opens(Buffer.from(hex, 'hex'), m)).toBe(false);
    }
    const serverKey = await readFile(path.join(server.keysDir, 'server', 'signing.key.pem'));
    for (const e of alice.stores.envelopes.values()) {
      if (e.chatId !== chatId) continue;
      expect(() =>
        privateDecrypt(
          { key: serverKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
          Buffer.from(e.wrappedKey, 'base64'),
        ),
      ).toThrow();
    }
    for (const m of all) expect(m.errors).toEqual([]);
  });

  it('leaves server-mode chats as they were: the server makes the key, and says so', async () => {
    const [dave] = await members(server, 'dave');
    all.push(dave);
    const { chat } = await dave.client.createChat(['alice']);
    expect(chat.keyMode).toBe('server');
    expect(chat.pending).toBeUndefined();
    expect(chat.epoch).toBe(1);
    expect(dave.changes).toEqual([]);
  });
});
