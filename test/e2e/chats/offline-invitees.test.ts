import { describe, expect, it } from 'vitest';
import { listAllChats } from '../../../src/client/index.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, type TestServer, withServer } from '../../support/helper.js';
import { member, say } from '../../support/members.js';

// protocol.md, `POST /chats` and `POST /chats/{chatId}/invite`: registered invitees are invited
// whether they are online or not; the offline ones are reported (reason `offline`) so the
// requester is told, and find the invitation when they connect.

const login = (server: TestServer, username: string) =>
  Participant.login(server.url, server.keysDir, username, PASSWORD);

const stateOf = (chat: { members: { username: string; state: string }[] }, username: string) =>
  chat.members.find((m) => m.username === username)?.state;

describe('offline invitees (server mode)', () => {
  it('a new chat invites an offline user, reports them offline, and they find it when they connect', () =>
    withServer({}, async (server) => {
      const alice = await login(server, 'alice');
      const res = await alice.api.call('createChat', { body: { invitees: ['carol', 'nobody'] } });
      expect(res.status).toBe(201);
      expect(res.body.unavailable).toEqual([
        { username: 'carol', reason: 'offline' },
        { username: 'nobody', reason: 'unknown' },
      ]);
      expect(res.body.chat.members).toEqual([
        { username: 'alice', state: 'joined', online: true },
        { username: 'carol', state: 'invited', online: false },
      ]);
      const chatId = res.body.chat.id;
      await alice.acceptEnvelope(res.body.keyEnvelope);

      // carol connects later: the chat is in her list, her key is there, and she can join and read
      const carol = await login(server, 'carol');
      const listed = await carol.api.call('listChats');
      expect(listed.status).toBe(200);
      const chat = listed.body.chats.find((c: { id: string }) => c.id === chatId);
      expect(stateOf(chat, 'carol')).toBe('invited');
      const key = await carol.api.call('getChatKey', { params: { chatId } });
      expect(key.status).toBe(200);
      expect(await carol.acceptEnvelope(key.body)).toEqual(alice.chatKeys.get(`${chatId}/1`));
      const joined = await carol.api.call('joinChat', { params: { chatId } });
      expect(joined.status).toBe(200);
      const sent = await alice.send(chatId, 1, 'welcome, carol', 'ed25519');
      expect(sent.res.status).toBe(201);
      const history = await carol.api.call('listMessages', { params: { chatId } });
      expect(await carol.read(history.body.messages[0])).toBe('welcome, carol');
    }));

  it('an invitation adds an offline user (a new epoch) and reports them offline', () =>
    withServer({}, async (server) => {
      const alice = await login(server, 'alice');
      const created = await alice.api.call('createChat', { body: { invitees: ['nobody'] } });
      const chatId = created.body.chat.id;
      const res = await alice.api.call('inviteToChat', { params: { chatId }, body: { invitees: ['dave'] } });
      expect(res.status).toBe(200);
      expect(res.body.unavailable).toEqual([{ username: 'dave', reason: 'offline' }]);
      expect(res.body.chat.epoch).toBe(2);
      expect(stateOf(res.body.chat, 'dave')).toBe('invited');

      const dave = await login(server, 'dave');
      const chat = await dave.api.call('getChat', { params: { chatId } });
      expect(chat.status).toBe(200);
      expect(stateOf(chat.body, 'dave')).toBe('invited');
      // the stored invitation is replayed to a stream that resumes from before it
      const stream = await dave.events('0');
      const invited = await stream.nextOf('chat.invited', (d) => d.chat.id === chatId);
      expect(invited.json.invitedBy).toBe('alice');
      stream.close();
    }));

  it('inviting only unknown users changes nothing', () =>
    withServer({}, async (server) => {
      const alice = await login(server, 'alice');
      const created = await alice.api.call('createChat', { body: { invitees: ['nobody'] } });
      const chatId = created.body.chat.id;
      const res = await alice.api.call('inviteToChat', {
        params: { chatId },
        body: { invitees: ['nobody'] },
      });
      expect(res.status).toBe(200);
      expect(res.body.unavailable).toEqual([{ username: 'nobody', reason: 'unknown' }]);
      expect(res.body.chat.epoch).toBe(1);
      expect(res.body.chat.members.map((m: { username: string }) => m.username)).toEqual(['alice']);
    }));
});

describe('offline invitees (members mode): the inviter’s client commits for the offline member’s key', () => {
  it('at creation and on invitation; the offline members read what was sent once they connect', () =>
    withServer({}, async (server) => {
      const alice = await member(server, 'alice');
      try {
        const created = await alice.client.createChat(['bob'], { keyMode: 'members' });
        expect(created.unavailable).toEqual([{ username: 'bob', reason: 'offline' }]);
        const chatId = created.chat.id;
        expect(created.chat.epoch).toBe(1);
        expect(stateOf(created.chat, 'bob')).toBe('invited');
        const invited = await alice.client.invite(chatId, ['carol']);
        expect(invited.unavailable).toEqual([{ username: 'carol', reason: 'offline' }]);
        expect(invited.chat.epoch).toBe(2);
        expect(invited.chat.pending ?? null).toBeNull();
        expect(stateOf(invited.chat, 'carol')).toBe('invited');
        await alice.client.send(chatId, 'for bob and carol', 'ed25519');

        for (const name of ['bob', 'carol']) {
          const m = await member(server, name);
          try {
            const chats = await listAllChats(m.client.api);
            expect(stateOf(chats.find((c) => c.id === chatId) ?? { members: [] }, name)).toBe('invited');
            await m.client.join(chatId);
            const history = await m.client.api.listMessages(chatId, {});
            expect(await m.client.read(history.messages[0], chatId)).toBe('for bob and carol');
            await say(alice, [m], chatId, `hello ${name}`);
          } finally {
            await m.close();
          }
        }
      } finally {
        await alice.close();
      }
    }));
});
