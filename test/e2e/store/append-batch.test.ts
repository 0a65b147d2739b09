import { afterAll, beforeAll, expect, it } from 'vitest';
import { AppendRefusedError, type NewMessage } from '../../../src/store/message-types.js';
import { messageEventData } from '../../../src/store/rows.js';
import type { Store } from '../../../src/store/types.js';
import { startServer, type TestServer } from '../../support/helper.js';

// Posts that arrive together are stored in one transaction (group commit) on either engine: each
// still succeeds or fails on its own, in the order they came, with gapless seq and event ids.

let server: TestServer;
let store: Store;
beforeAll(async () => {
  server = await startServer();
  store = server.app.store;
});
afterAll(() => server?.close());

const AT = '2026-01-03T00:00:00.000Z';
const post = (chatId: string, id: string, epoch = 1, sender = 'alice'): NewMessage => ({
  chatId,
  sender,
  receivedAt: AT,
  message: {
    id,
    epoch,
    sentAt: AT,
    iv: 'aXZpdml2aXZpdml2',
    ciphertext: 'Y2lwaGVy',
    tag: 'dGFndGFndGFndGFndGFn',
    signatureAlgorithm: 'ed25519',
    signature: 'c2ln',
  },
});

it('stores a burst of posts to two chats together; the refused ones alone fail, each with its own error', async () => {
  const chats = ['batch-a', 'batch-b'];
  for (const id of chats) {
    const members = [
      { username: 'alice', state: 'joined' as const, sinceEpoch: 1 },
      { username: 'bob', state: 'invited' as const, sinceEpoch: 1 },
    ];
    await store.createChat({ id, epoch: 1, createdBy: 'alice', createdAt: AT, members }, [], []);
  }
  const before = (await store.eventBounds()).latest;
  const inputs = Array.from({ length: 40 }, (_, i) => post(chats[i % 2], `m${i}`));
  inputs[7] = post(chats[1], 'm1'); // m1 is posted to chat b just before
  inputs[12] = post(chats[0], 'm12', 2); // not the chat's epoch
  inputs[20] = post(chats[0], 'm20', 1, 'bob'); // invited, not joined
  inputs[25] = post('batch-none', 'm25');
  const results = await Promise.allSettled(
    inputs.map((m) => store.appendMessage(m, (seq) => messageEventData({ ...m, seq }))),
  );
  const codes = results.map((r) =>
    r.status === 'fulfilled' ? r.value.seq : (r.reason as AppendRefusedError).reason,
  );
  expect(codes.filter((c) => typeof c === 'string')).toEqual([
    'duplicate-message',
    'stale-epoch',
    'not-joined',
    'chat-not-found',
  ]);
  for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(AppendRefusedError);
  // every chat's seq is gapless in the order the posts came, and so are the event ids
  const stored = results.flatMap((r, i) =>
    r.status === 'fulfilled' ? [{ chat: inputs[i].chatId, ...r.value }] : [],
  );
  for (const chat of chats) {
    const seqs = stored.filter((s) => s.chat === chat).map((s) => s.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  }
  expect(stored.map((s) => s.event.id)).toEqual(stored.map((_, i) => before + 1 + i));
  expect((await store.eventBounds()).latest).toBe(before + stored.length);
  // and each is stored as answered
  const page = await store.listMessages(chats[1], 0, 100, 1, 1 << 20);
  expect(page.map((m) => m.message.id)).toEqual(
    stored.filter((s) => s.chat === chats[1]).map((s) => JSON.parse(s.event.data).message.id),
  );
});
