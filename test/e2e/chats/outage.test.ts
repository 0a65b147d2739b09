import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { unavailable } from '../../../src/errors.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

let server: TestServer;
let alice: Participant;
let bob: Participant;
beforeAll(async () => {
  server = await startServer();
  alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
  await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
});
afterAll(() => server?.close());

/** Presence lives in Redis: while it does not answer, every presence read fails as it would. */
function presenceDown(on: TestServer = server) {
  const { presence } = on.app;
  const down = async (): Promise<never> => {
    throw unavailable('Presence is unavailable (Redis does not answer); try again shortly.');
  };
  const spies = [
    vi.spyOn(presence, 'isOnline').mockImplementation(down),
    vi.spyOn(presence, 'onlineUsers').mockImplementation(down),
  ];
  return () => {
    for (const spy of spies) spy.mockRestore();
  };
}

const state = async (chatId: string) => {
  const chat = await server.app.store.getChat(chatId);
  return { epoch: chat?.epoch, members: chat?.members.map((m) => `${m.username}:${m.state}`) };
};

describe('a 503 means nothing changed', () => {
  it('join, invite and create answer 503 without committing anything while presence is down', async () => {
    const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
    const chatId = created.body.chat.id;
    const before = await state(chatId);
    const chatsBefore = (await alice.api.call('listChats')).body.chats.length;
    const { latest } = await server.app.store.eventBounds();
    const restore = presenceDown();
    try {
      const join = await bob.api.call('joinChat', { params: { chatId } });
      expect(join.status).toBe(503);
      expect(Number(join.headers['retry-after'])).toBeGreaterThan(0);
      const invite = await alice.api.call('inviteToChat', {
        params: { chatId },
        body: { invitees: ['carol'] },
      });
      expect(invite.status).toBe(503);
      const create = await alice.api.call('createChat', { body: { invitees: ['carol'] } });
      expect(create.status).toBe(503);
    } finally {
      restore();
    }
    expect(await state(chatId)).toEqual(before);
    expect((await alice.api.call('listChats')).body.chats).toHaveLength(chatsBefore);
    expect((await server.app.store.eventBounds()).latest).toBe(latest);
    // and once presence is back, the same requests go through
    expect((await bob.api.call('joinChat', { params: { chatId } })).status).toBe(200);
    expect((await state(chatId)).members).toEqual(['alice:joined', 'bob:joined']);
  });
});

describe('a 503 costs no rate budget', () => {
  it('creates and invitations answered 503 while presence is down do not count against their limits', async () => {
    const limited = await startServer({ SECURECHAT_CHAT_LIMIT: '2', SECURECHAT_MEMBERSHIP_LIMIT: '2' });
    try {
      const login = (u: string) => Participant.login(limited.url, limited.keysDir, u, PASSWORD);
      const [dave] = [await login('dave'), await login('erin')];
      const own = await dave.api.call('createChat', { body: { invitees: ['erin'] } });
      expect(own.status).toBe(201);
      const chatId = own.body.chat.id;
      const restore = presenceDown(limited);
      try {
        for (let i = 0; i < 4; i++) {
          expect((await dave.api.call('createChat', { body: { invitees: ['erin'] } })).status).toBe(503);
          const invite = await dave.api.call('inviteToChat', {
            params: { chatId },
            body: { invitees: ['alice'] },
          });
          expect(invite.status).toBe(503);
        }
      } finally {
        restore();
      }
      // the budget is whole: one more create (two a minute), two invitations (two a minute)
      expect((await dave.api.call('createChat', { body: { invitees: ['erin'] } })).status).toBe(201);
      await login('alice');
      await login('carol');
      for (const invitee of ['alice', 'carol'])
        expect(
          (await dave.api.call('inviteToChat', { params: { chatId }, body: { invitees: [invitee] } })).status,
        ).toBe(200);
      expect((await dave.api.call('createChat', { body: { invitees: ['erin'] } })).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
