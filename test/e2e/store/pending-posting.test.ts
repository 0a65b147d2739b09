import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PendingEpoch } from '../../../src/store/chat-types.js';
import type { AppendRefusedError, NewMessage } from '../../../src/store/message-types.js';
import { messageEventData } from '../../../src/store/rows.js';
import type { Store } from '../../../src/store/types.js';
import { startServer, type TestServer } from '../../support/helper.js';
import { newMessage } from '../../support/store.js';

// protocol.md, "Pending epochs", in the store of either engine (posting re-checks under the chat
// row's lock what services/messages.ts checked before the signature; the rotation sweep picks
// chats in SQL): a pending epoch that only adds members stops no post and holds no rotation back;
// a removal, a rotation or a chat's first epoch does. (Security round 2, #2.)
let server: TestServer;
let store: Store;
beforeAll(async () => {
  server = await startServer();
  store = server.app.store;
});
afterAll(() => server?.close());

const append = (m: NewMessage) =>
  store
    .appendMessage(m, (seq) => messageEventData({ ...m, seq }))
    .then(
      (stored) => stored,
      (error: unknown) => (error as AppendRefusedError).reason,
    );
const addition: PendingEpoch = {
  epoch: 2,
  members: ['alice', 'bob', 'dave'],
  added: ['dave'],
  removed: [],
  reason: 'invite',
  requestedBy: 'bob',
  additionsSince: '2026-01-03T00:00:00.000Z',
};
const rotation: PendingEpoch = {
  epoch: 2,
  members: ['alice', 'bob'],
  added: [],
  removed: [],
  reason: 'messages',
};
const due = async (chatId: string) =>
  (await store.chatsDueForRotation('9999-01-01T00:00:00.000Z', 10_000)).some((c) => c.chatId === chatId);

it('takes posts while the pending epoch only adds, for the members alone; refuses them while a rotation waits', async () => {
  const chatId = randomUUID();
  const members = [
    { username: 'alice', state: 'joined' as const, sinceEpoch: 1 },
    { username: 'bob', state: 'joined' as const, sinceEpoch: 1 },
  ];
  const chat = { id: chatId, epoch: 1, createdBy: 'alice', createdAt: new Date().toISOString(), members };
  await store.createChat({ ...chat, keyMode: 'members', pending: addition }, [], []);
  expect((await store.membership(chatId, 'alice'))?.rekeyPending).toBe(false);
  const stored = await append(newMessage(chatId, 'alice'));
  expect(stored).toMatchObject({ seq: 1, event: { recipients: ['alice', 'bob'] } });
  expect(await due(chatId)).toBe(true);

  await store.changeMembership({
    chatId,
    expectedEpoch: 1,
    epoch: 1,
    upsert: [],
    remove: [],
    envelopes: [],
    events: [],
    pending: { expected: addition, next: rotation },
  });
  expect((await store.membership(chatId, 'alice'))?.rekeyPending).toBe(true);
  expect(await append(newMessage(chatId, 'alice'))).toBe('rekey-pending');
  expect(await due(chatId)).toBe(false);
});

it("refuses posts while a leave waits, or a chat's first epoch", async () => {
  const members = [{ username: 'alice', state: 'joined' as const, sinceEpoch: 1 }];
  const createdAt = new Date().toISOString();
  const leave: PendingEpoch = { epoch: 2, members: ['alice'], added: [], removed: ['bob'], reason: 'leave' };
  const first: PendingEpoch = {
    epoch: 1,
    members: ['alice', 'bob'],
    added: ['bob'],
    removed: [],
    reason: 'create',
  };
  for (const [epoch, pending] of [
    [1, leave],
    [0, first],
  ] as const) {
    const id = randomUUID();
    await store.createChat(
      { id, epoch, createdBy: 'alice', createdAt, members, keyMode: 'members', pending },
      [],
      [],
    );
    expect((await store.membership(id, 'alice'))?.rekeyPending).toBe(true);
    expect(await append(newMessage(id, 'alice', epoch))).toBe('rekey-pending');
    expect(await due(id)).toBe(false);
  }
});
