import { createPublicKey } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { chatOf } from '../../support/chats.js';
import { Api, Participant } from '../../support/client.js';
import { PASSWORD, withServer } from '../../support/helper.js';

describe('the age sweep (issue 15, item 8)', () => {
  it('on a real server, a chat whose rotation throws does not stop the others from rotating', async () => {
    await withServer({ SECURECHAT_ROTATE_SECONDS: '1' }, async (server) => {
      const { chats, fanout: bus } = server.app;
      const first = (await chats.create('alice', ['bob'])).chat.id;
      const second = (await chats.create('carol', ['dave'])).chat.id;
      const rotate = chats.rotate;
      vi.spyOn(chats, 'rotate').mockImplementation(async (chatId, reason, epoch) => {
        if (chatId === first) throw new Error('this chat cannot rotate');
        return rotate(chatId, reason, epoch);
      });
      const rotated = new Promise<void>((resolve) => {
        bus.subscribe((message) => {
          if (message.kind === 'event' && message.type === 'chat.key' && message.data.includes(second))
            resolve();
        });
      });
      await rotated;
      expect((await server.app.store.getChat(second))?.epoch).toBe(2);
      expect((await server.app.store.getChat(first))?.epoch).toBe(1);
    });
  }, 20_000);
});

describe('the signing share (issue 15, item 8)', () => {
  it('a member whose encryption key cannot wrap a key is a 400 naming them, never a 500', async () => {
    await withServer({}, async (server) => {
      const { store, accounts } = server.app;
      const alice = await accounts.publicKeys('alice');
      const n = createPublicKey(alice.encryptionKey).export({ format: 'jwk' });
      const even = Buffer.from(String(n.n), 'base64url');
      even[even.length - 1] = (even.at(-1) ?? 0) & 0xfe;
      const encryption = createPublicKey({
        key: { kty: 'RSA', n: even.toString('base64url'), e: String(n.e) },
        format: 'jwk',
      }).export({ type: 'spki', format: 'pem' }) as string;
      // stored before registration refused such keys
      const user = await store.getUser('alice');
      if (!user) throw new Error('no alice');
      await store.createUser({ ...user, username: 'evenmod', keys: { ...user.keys, encryption } });
      const as = async (username: string) => {
        const api = new Api(server.url);
        api.token = (await api.call('login', { body: { username, password: PASSWORD } })).body.token;
        return api;
      };
      const api = await as('alice');
      await as('bob');
      await as('evenmod');
      const created = await api.call('createChat', { body: { invitees: ['bob', 'evenmod'] } });
      expect(created.status).toBe(400);
      expect(created.body.code).toBe('INVALID_INVITEE');
      expect(created.body.detail).toMatch(/evenmod/);
      const chat = await api.call('createChat', { body: { invitees: ['bob'] } });
      expect(chat.status).toBe(201);
      const invited = await api.call('inviteToChat', {
        params: { chatId: chat.body.chat.id },
        body: { invitees: ['evenmod'] },
      });
      expect(invited.status).toBe(400);
      expect(invited.body.code).toBe('INVALID_INVITEE');
    });
  });
});

describe('keys rotate by use and by age', () => {
  it('after SECURECHAT_ROTATE_MESSAGES messages in an epoch', async () => {
    await withServer({ SECURECHAT_ROTATE_MESSAGES: '3' }, async (server) => {
      const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
      const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
      const stream = await bob.events();
      const chatId = await chatOf(alice, bob);
      for (let i = 0; i < 3; i++) await alice.send(chatId, 1, `m${i}`, 'ed25519');
      const rotated = await stream.nextOf('chat.key', (d) => d.chatId === chatId);
      expect(rotated.json.keyEnvelope.epoch).toBe(2);
      expect((await alice.send(chatId, 1, 'old key', 'ed25519')).res.body.code).toBe('STALE_EPOCH');
      stream.close();
    });
  });

  it('after SECURECHAT_ROTATE_SECONDS in an epoch', async () => {
    await withServer({ SECURECHAT_ROTATE_SECONDS: '1' }, async (server) => {
      const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
      const stream = await alice.events();
      const created = await alice.api.call('createChat', { body: { invitees: ['nobody'] } });
      const rotated = await stream.nextOf('chat.key', (d) => d.chatId === created.body.chat.id);
      expect(rotated.json.keyEnvelope.epoch).toBeGreaterThanOrEqual(2);
      stream.close();
    });
  });
});
