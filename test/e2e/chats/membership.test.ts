import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { BACKEND, backendEnv } from '../../support/backend.js';
import { moreUsers } from '../../support/chats.js';
import { Api } from '../../support/client.js';
import { startServer, type TestServer } from '../../support/helper.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({
    SECURECHAT_LOGIN_LIMIT: '1000000',
    SECURECHAT_MEMBERSHIP_LIMIT: '1000000',
    SECURECHAT_CHAT_LIMIT: '1000000',
    // thirty users log in at once from this one address
    SECURECHAT_LOGIN_HASHES_PER_IP: '1000',
    SECURECHAT_LOGIN_QUEUE: '1000',
  });
});
afterAll(() => server?.close());

describe('concurrent membership changes', () => {
  it('thirty members of a 31-member chat leaving at once: every one answered 204, none 500', async () => {
    const users = await moreUsers(server, 'leaver', 31);
    const [creator, ...leavers] = users;
    const invitees = leavers.map((_, i) => `leaver${i + 2}`);
    const created = await creator.call('createChat', { body: { invitees } });
    expect(created.status).toBe(201);
    expect(created.body.unavailable).toEqual([]);
    const chatId = created.body.chat.id;

    const answers = await Promise.all(leavers.map((api) => api.call('leaveChat', { params: { chatId } })));
    expect(answers.map((a) => a.status)).toEqual(leavers.map(() => 204));

    const chat = (await creator.call('getChat', { params: { chatId } })).body;
    expect(chat.members.map((m: { username: string }) => m.username)).toEqual(['leaver1']);
    // one new epoch per leave, none lost and none doubled
    expect(chat.epoch).toBe(31);
    const key = await creator.call('getChatKey', { params: { chatId } });
    expect(key.body.epoch).toBe(31);
  });

  it('invitations and re-invitations racing with join and key reads never answer 5xx', async () => {
    const [owner, guest] = await moreUsers(server, 'racer', 2);
    const created = await owner.call('createChat', { body: { invitees: ['racer2'] } });
    const chatId = created.body.chat.id;
    expect((await guest.call('leaveChat', { params: { chatId } })).status).toBe(204);
    const statuses: number[] = [];
    const poll = async (api: Api, rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        const [key, join] = await Promise.all([
          api.call('getChatKey', { params: { chatId } }),
          api.call('joinChat', { params: { chatId } }),
        ]);
        statuses.push(key.status, join.status);
      }
    };
    for (let round = 0; round < 15; round++) {
      // the guest is invited (and reads its key and joins at once, from several requests) and leaves
      const invited = owner.call('inviteToChat', { params: { chatId }, body: { invitees: ['racer2'] } });
      await Promise.all([invited, poll(guest, 3), poll(guest, 3)]);
      expect((await invited).status).toBe(200);
      expect((await guest.call('leaveChat', { params: { chatId } })).status).toBe(204);
    }
    // before and after the invitation: 404; during and after: 200 — nothing else
    expect(statuses.filter((s) => s !== 200 && s !== 404)).toEqual([]);
  });
});

describe('inviting oneself', () => {
  it('is 400 INVALID_INVITEE when creating a chat, and 409 ALREADY_MEMBER to a chat one is in', async () => {
    const [me] = await moreUsers(server, 'selfie', 1);
    const refused = await me.call('createChat', { body: { invitees: ['selfie1'] } });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('INVALID_INVITEE');
    const created = await me.call('createChat', { body: { invitees: ['alice'] } });
    const chatId = created.body.chat.id;
    const again = await me.call('inviteToChat', { params: { chatId }, body: { invitees: ['selfie1'] } });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('ALREADY_MEMBER');
  });
});

describe.skipIf(BACKEND !== 'postgres')('concurrent membership changes on two instances', () => {
  it('leaves split over two instances of one database: 204, or 503 with Retry-After, never 500', async () => {
    // a second instance on the same database, Redis, keys and JWT secret
    const second = await buildApp(
      loadConfig({
        SECURECHAT_DATA_DIR: server.dataDir,
        SECURECHAT_KEYS_DIR: server.keysDir,
        SECURECHAT_DEMO_USERS: 'false',
        BCRYPT_COST: '4',
        LOG_LEVEL: 'silent',
        ...(await backendEnv(server.dataDir)),
        ...server.env,
      }),
      { keySizes: { rsaBits: 2048 } },
    );
    try {
      const url = await second.listen({ port: 0, host: '127.0.0.1' });
      const users = await moreUsers(server, 'twin', 21);
      const [creator, ...leavers] = users;
      const created = await creator.call('createChat', {
        body: { invitees: leavers.map((_, i) => `twin${i + 2}`) },
      });
      const chatId = created.body.chat.id;
      const leave = async (api: Api, i: number): Promise<number[]> => {
        // every other leaver asks the second instance
        const via = i % 2 ? Object.assign(new Api(url), { token: api.token }) : api;
        const statuses: number[] = [];
        for (;;) {
          const res = await via.call('leaveChat', { params: { chatId } });
          statuses.push(res.status);
          if (res.status !== 503) return statuses;
          expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        }
      };
      const statuses = (await Promise.all(leavers.map(leave))).flat();
      expect(statuses.filter((s) => s !== 204 && s !== 503)).toEqual([]);
      const chat = (await creator.call('getChat', { params: { chatId } })).body;
      expect(chat.members.map((m: { username: string }) => m.username)).toEqual(['twin1']);
      expect(chat.epoch).toBe(21);
    } finally {
      await second.close();
    }
  });
});
