import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../../src/store/message-types.js';
import { startServer, type TestServer } from '../../support/helper.js';
import { epochOf, type Member, members, say } from '../../support/members.js';

// Issue 12 review: in a members-mode chat (members added when their epoch is committed, a leaver
// removed at once while the next epoch waits), the events stored once reach on replay exactly
// those who were members when each was stored, as they did live.
let server: TestServer;
let all: Member[] = [];
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const m of all) await m.close();
  await server?.close();
});

const shown = (e: StoredEvent) => (e.type === 'message' ? `message ${JSON.parse(e.data).seq}` : e.type);

describe('a members-mode chat stored once', () => {
  it('replays to an invitee only what follows the commit that added them, and to a leaver nothing after the leave', async () => {
    const start = (await server.app.store.eventBounds()).latest;
    all = await members(server, 'alice', 'bob', 'carol');
    const [alice, bob, carol] = all;
    const { chat } = await alice.client.createChat(['bob'], { keyMode: 'members' });
    const chatId = chat.id;
    await bob.next((e) => e.type === 'chat.invited');
    await bob.client.join(chatId);
    await say(alice, [bob], chatId, 'one');
    await say(bob, [alice], chatId, 'two');
    // carol proposed: she is a member from the commit of epoch 2 on
    await alice.client.invite(chatId, ['carol']);
    await carol.next((e) => e.type === 'chat.invited');
    await carol.client.join(chatId);
    await say(carol, [alice, bob], chatId, 'three');
    // bob leaves at once; epoch 3 waits for a commit
    await bob.client.api.call('POST', `/chats/${chatId}/leave`);
    await alice.until(() => epochOf(alice, chatId) === 3);
    await carol.until(() => epochOf(carol, chatId) === 3);
    await say(alice, [carol], chatId, 'four');

    const { store } = server.app;
    const replay = async (username: string) =>
      (await store.eventsAfter(username, start, 1000, 1 << 24)).filter((e) => e.chatId === chatId);
    const bobs = await replay('bob');
    const carols = await replay('carol');
    const alices = await replay('alice');
    expect(bobs.filter((e) => e.type === 'message').map(shown)).toEqual([
      'message 1',
      'message 2',
      'message 3',
    ]);
    expect(bobs.at(-1)?.type).toBe('member.left');
    // nothing of the chat before her invitation: not its messages, not bob's joining
    expect(carols[0].type).toBe('chat.invited');
    expect(carols.filter((e) => e.type === 'message').map(shown)).toEqual(['message 3', 'message 4']);
    const joined = (events: StoredEvent[]) =>
      events.filter((e) => e.type === 'member.joined').map((e) => JSON.parse(e.data).username);
    expect(joined(carols)).toEqual(['carol']);
    expect(joined(bobs)).toEqual(['bob', 'carol']);
    expect(alices.filter((e) => e.type === 'message').map(shown)).toEqual([
      'message 1',
      'message 2',
      'message 3',
      'message 4',
    ]);
    // live (as the bus catches up) and replay agree, event by event
    const live = await store.eventsBetween(start + 1, (await store.eventBounds()).latest);
    for (const username of ['alice', 'bob', 'carol']) {
      const replayed = await store.eventsAfter(username, start, 1000, 1 << 24);
      const delivered = live.filter((e) => e.recipients.includes(username));
      expect(replayed.map((e) => [e.id, e.data])).toEqual(delivered.map((e) => [e.id, e.data]));
    }
  });
});
