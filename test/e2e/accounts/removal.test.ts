import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publicKeysOf } from '../../../src/crypto/keys.js';
import { readKeyStore } from '../../../src/crypto/keystore.js';
import { inviteUser } from '../../../src/services/registration.js';
import { runAdmin } from '../../support/admin.js';
import { Api, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// Accounts over time: the administrator removes a user (npm run user:remove).
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TOKEN_TTL: '1h' });
});
afterAll(() => server?.close());

const admin = (command: string, args: string[], stdin = '') => runAdmin(server, command, args, stdin);

describe('removing a user', () => {
  it('ends their sessions, takes them out of every chat with a new epoch, refuses their logins, and keeps history verifiable', {
    timeout: 60_000,
  }, async () => {
    const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    const erin = await Participant.login(server.url, server.keysDir, 'erin', PASSWORD);
    const aliceStream = await alice.events();
    const erinStream = await erin.events();
    const chats: string[] = [];
    for (let i = 0; i < 2; i++) {
      const created = await alice.api.call('createChat', { body: { invitees: ['erin'] } });
      chats.push(created.body.chat.id);
    }
    const [serverChat, otherChat] = chats;
    await erinStream.nextOf('chat.invited', (e) => e.chat.id === serverChat);
    const joined = await erin.api.call('joinChat', { params: { chatId: serverChat } });
    await erin.acceptEnvelope(joined.body.keyEnvelope);
    const said = await erin.send(serverChat, 1, 'goodbye, everyone', 'dsa-sha256');
    expect(said.res.status).toBe(201);

    const removed = await admin('user-remove', ['erin']);
    expect(removed.stderr).toBe('');
    expect(removed.code).toBe(0);
    // logins are refused at once, as for an unknown user
    const login = await new Api(server.url).call('login', { body: { username: 'erin', password: PASSWORD } });
    expect(login.status).toBe(401);
    expect(login.body.code).toBe('INVALID_CREDENTIALS');

    // the stream ends: closed by the server, which may cut the socket rather than end the body
    const ended = await erinStream.done.then(
      () => 'ended',
      (error: { code?: string }) => (error?.code === 'UND_ERR_SOCKET' ? 'ended' : Promise.reject(error)),
    );
    expect(ended).toBe('ended');
    expect((await erin.api.call('listChats')).body.code).toBe('TOKEN_REVOKED');
    await aliceStream.nextOf('member.left', (e) => e.chatId === serverChat && e.username === 'erin');
    const rotated = await aliceStream.nextOf('chat.key', (e) => e.chatId === serverChat);
    expect(rotated.json.keyEnvelope.epoch).toBe(2);
    await aliceStream.nextOf('member.left', (e) => e.chatId === otherChat && e.username === 'erin');
    await aliceStream.nextOf('chat.key', (e) => e.chatId === otherChat && e.keyEnvelope.epoch === 2);
    for (const chatId of chats) {
      const chat = (await alice.api.call('getChat', { params: { chatId } })).body;
      expect(chat.members.map((m: { username: string }) => m.username)).toEqual(['alice']);
    }

    // history still verifies: the keys stay, marked removed
    const keys = (await alice.api.call('getUserKeys', { params: { username: 'erin' } })).body;
    expect(keys.removed).toBe(true);
    expect({ encryption: keys.encryptionKey, signing: keys.signingKeys }).toEqual(
      publicKeysOf(await readKeyStore(path.join(server.keysDir, 'users', 'erin'))),
    );
    await alice.acceptEnvelope(
      created1(await alice.api.call('getChatKey', { params: { chatId: serverChat }, query: { epoch: 1 } })),
    );
    const history = (await alice.api.call('listMessages', { params: { chatId: serverChat } })).body.messages;
    expect(await alice.read(history[0])).toBe('goodbye, everyone');

    // and nobody can invite them any more
    const invite = await alice.api.call('inviteToChat', {
      params: { chatId: serverChat },
      body: { invitees: ['erin'] },
    });
    expect(invite.body.unavailable).toEqual([{ username: 'erin', reason: 'unknown' }]);
    aliceStream.close();
  });

  it('never lets the name be registered again: user:add, user:invite and POST /users refuse it', {
    timeout: 60_000,
  }, async () => {
    // erin was removed by the test above; make sure, in case it ran alone
    if (!(await server.app.store.getUser('erin'))?.removedAt)
      expect((await admin('user-remove', ['erin'])).code).toBe(0);
    const fixture = path.join(inject('fixtureKeys'), 'users', 'erin');
    const add = await admin(
      'user-add',
      ['erin', '--password-stdin', '--public-keys', fixture],
      'a long enough secret\n',
    );
    expect(add.code).not.toBe(0);
    expect(add.stderr).toMatch(/erin/);
    const invite = await admin('user-invite', ['erin']);
    expect(invite.code).not.toBe(0);
    expect(invite.stderr).toMatch(/erin/);
    // a code slipped into the store by other means does not help either
    const { code } = await inviteUser(server.app.store, 'erin');
    const keys = publicKeysOf(await readKeyStore(fixture));
    const res = await new Api(server.url).call('registerUser', {
      body: {
        username: 'erin',
        password: 'a long enough secret',
        code,
        encryptionKey: keys.encryption,
        signingKeys: keys.signing,
      },
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('USERNAME_TAKEN');
  });
});

const created1 = (res: { body: Parameters<Participant['acceptEnvelope']>[0] }) => res.body;
