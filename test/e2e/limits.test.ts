import { describe, expect, it } from 'vitest';
import { chatOf } from '../support/chats.js';
import { Api, Participant } from '../support/client.js';
import { PASSWORD, withServer } from '../support/helper.js';

describe('limits', () => {
  it('slows password guessing per user and address, without locking out the user elsewhere', async () => {
    await withServer({ SECURECHAT_LOGIN_FAILURES_PER_USER_IP: '3' }, async (server) => {
      const api = new Api(server.url);
      for (let i = 0; i < 3; i++) {
        expect((await api.call('login', { body: { username: 'alice', password: 'guess' } })).status).toBe(
          401,
        );
      }
      const limited = await api.call('login', { body: { username: 'alice', password: PASSWORD } });
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // other users from the same address are not affected
      expect((await api.call('login', { body: { username: 'bob', password: PASSWORD } })).status).toBe(200);
    });
  });

  it('limits login attempts per address, posts per user, streams per user, members per chat', async () => {
    await withServer(
      {
        SECURECHAT_LOGIN_LIMIT: '6',
        SECURECHAT_POST_LIMIT: '3',
        SECURECHAT_MAX_STREAMS: '2',
        SECURECHAT_MAX_MEMBERS: '2',
      },
      async (server) => {
        const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
        const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
        const carol = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
        const full = await alice.api.call('createChat', { body: { invitees: ['bob', 'carol'] } });
        expect(full.status).toBe(409);
        expect(full.body.code).toBe('CHAT_FULL');
        const chatId = await chatOf(alice, bob);
        const invite = await alice.api.call('inviteToChat', {
          params: { chatId },
          body: { invitees: ['carol'] },
        });
        expect(invite.body.code).toBe('CHAT_FULL');

        for (let i = 0; i < 3; i++)
          expect((await alice.send(chatId, 1, `m${i}`, 'ed25519')).res.status).toBe(201);
        const over = await alice.send(chatId, 1, 'one too many', 'ed25519');
        expect(over.res.status).toBe(429);
        expect(over.res.body.code).toBe('RATE_LIMITED');
        expect(Number(over.res.headers['retry-after'])).toBeGreaterThan(0);
        expect((await bob.send(chatId, 1, 'bob is fine', 'ed25519')).res.status).toBe(201);

        const s1 = await carol.events();
        const s2 = await carol.events();
        await expect(carol.events()).rejects.toThrow(/429.*TOO_MANY_STREAMS/);
        s1.close();
        await s1.done;
        // the server notices the close asynchronously; a new stream is allowed once it has
        let s3: Awaited<ReturnType<typeof carol.events>> | undefined;
        const tooMany = (error: unknown) => {
          if (!/answered 429\b/.test(String(error))) throw error;
        };
        while (!s3) s3 = (await carol.events().catch(tooMany)) ?? undefined;
        s2.close();
        s3.close();

        // three logins above; three more pass, the seventh from this address is refused
        const api = new Api(server.url);
        for (let i = 0; i < 3; i++)
          await api.call('login', { body: { username: 'dave', password: PASSWORD } });
        const refused = await api.call('login', { body: { username: 'dave', password: PASSWORD } });
        expect(refused.status).toBe(429);
        expect(refused.body.code).toBe('RATE_LIMITED');
      },
    );
  });
});
