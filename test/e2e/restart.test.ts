import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Participant } from '../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../support/helper.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

describe('a restart on the same data folder', () => {
  it('keeps users, tokens, revocations, chats, history, epochs and the event log', async () => {
    const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
    const revoked = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
    await revoked.api.call('logout');
    const bobEvents = await bob.events();
    const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
    const chatId = created.body.chat.id;
    await alice.acceptEnvelope(created.body.keyEnvelope);
    await bob.acceptEnvelope((await bobEvents.nextOf('chat.invited')).json.keyEnvelope);
    await bob.api.call('joinChat', { params: { chatId } });
    const before = await alice.send(chatId, 1, 'before the restart', 'dsa-sha256');
    const seen = await bobEvents.nextOf('message', (d) => d.seq === before.res.body.seq);
    bobEvents.close();
    const missed = await alice.send(chatId, 1, 'sent while bob was away', 'rsa-pss-sha256');

    server = await server.restart();

    // the same tokens work (the secret was kept) and the revoked one stays revoked
    expect(await alice.api.call('getChat', { params: { chatId } }).then((r) => r.body.epoch)).toBe(1);
    expect((await revoked.api.call('listUsers')).body.code).toBe('TOKEN_REVOKED');
    // the server key was kept, so old envelopes still verify
    const key = await alice.api.call('getChatKey', { params: { chatId } });
    expect(await alice.acceptEnvelope(key.body)).toEqual(alice.chatKeys.get(`${chatId}/1`));

    // bob resumes with Last-Event-ID and gets what he missed, then the seq goes on without a gap
    const resumed = await bob.events(seen.id);
    const replayed = await resumed.nextOf('message', (d) => d.seq === missed.res.body.seq);
    expect(await bob.read(replayed.json)).toBe('sent while bob was away');
    const after = await bob.send(chatId, 1, 'after the restart', 'ed25519');
    expect(after.res.body.seq).toBe(3);
    await resumed.nextOf('message', (d) => d.seq === 3);
    expect(Number(resumed.events.filter((e) => e.id).at(-1)?.id)).toBeGreaterThan(Number(replayed.id));
    resumed.close();

    const history = await bob.api.call('listMessages', { params: { chatId } });
    const texts = [];
    for (const m of history.body.messages) texts.push(await bob.read(m));
    expect(texts).toEqual(['before the restart', 'sent while bob was away', 'after the restart']);

    // membership changes still rotate from where they were
    const left = await bob.api.call('leaveChat', { params: { chatId } });
    expect(left.status).toBe(204);
    expect((await alice.api.call('getChat', { params: { chatId } })).body.epoch).toBe(2);
  });
});
