import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// GET /chats/{chatId}/key?epoch=n: a member reads the envelope of any epoch since their membership
// began, so a new device decrypts older history; nothing before it, nothing not yet made.
let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

const login = (username: string) => Participant.login(server.url, server.keysDir, username, PASSWORD);

describe('GET /chats/{chatId}/key?epoch=n', () => {
  it('lets a new device read every epoch since its membership began, and nothing else', async () => {
    // one after another: a single address may have only two password checks at once
    const alice = await login('alice');
    const bob = await login('bob');
    const carol = await login('carol');
    const dave = await login('dave');
    const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
    const chatId = created.body.chat.id;
    await alice.acceptEnvelope(created.body.keyEnvelope);
    await bob.api.call('joinChat', { params: { chatId } });
    const first = await alice.send(chatId, 1, 'said at epoch 1', 'ed25519');
    expect(first.res.status).toBe(201);
    // epoch 2: carol invited; epoch 3: bob leaves; epoch 4: bob invited again
    expect(
      (await alice.api.call('inviteToChat', { params: { chatId }, body: { invitees: ['carol'] } })).status,
    ).toBe(200);
    expect((await bob.api.call('leaveChat', { params: { chatId } })).status).toBe(204);
    expect(
      (await alice.api.call('inviteToChat', { params: { chatId }, body: { invitees: ['bob'] } })).status,
    ).toBe(200);

    // alice on a new device: no key in memory, every epoch readable, each the one asked for
    const device = await login('alice');
    for (const epoch of [1, 2, 3, 4]) {
      const res = await device.api.call('getChatKey', { params: { chatId }, query: { epoch } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ chatId, epoch, recipient: 'alice' });
      await device.acceptEnvelope(res.body);
    }
    const history = await device.api.call('listMessages', { params: { chatId } });
    expect(await device.read({ chatId, ...history.body.messages[0] })).toBe('said at epoch 1');

    // carol's membership began at epoch 2; bob's present one at epoch 4
    const notYet = (p: Participant, epoch: number) =>
      p.api.call('getChatKey', { params: { chatId }, query: { epoch } });
    expect((await notYet(carol, 2)).body.epoch).toBe(2);
    for (const [p, epoch] of [
      [carol, 1],
      [bob, 1],
      [bob, 3],
      [alice, 5],
    ] as const) {
      const res = await notYet(p, epoch);
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('KEY_NOT_FOUND');
    }
    expect((await notYet(bob, 4)).body.epoch).toBe(4);
    // without `epoch`: the current one, as before
    expect((await carol.api.call('getChatKey', { params: { chatId } })).body.epoch).toBe(4);

    // not a member: the chat does not exist for them, whatever the epoch
    const outsider = await notYet(dave, 1);
    expect(outsider.status).toBe(404);
    expect(outsider.body.code).toBe('CHAT_NOT_FOUND');

    for (const epoch of ['0', '-1', 'one', '1.5', '9007199254740992']) {
      const res = await alice.api.call('getChatKey', { params: { chatId }, query: { epoch } });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_QUERY');
    }
  });
});
