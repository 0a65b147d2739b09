import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { AppendRefusedError, type NewMessage } from '../../src/store/message-types.js';
import type { Store } from '../../src/store/types.js';
import { newMessage } from '../support/store.js';

// A message id posted twice to one chat, as the store alone sees it (no service check before it):
// on either engine the unique key's refusal is the store's own `duplicate-message`, never a raw
// database error (which would be a 500), also inside one group commit and across instances
// (test/unit/store/duplicates.test.ts, test/postgres/duplicates.test.ts).

const eventData = (input: NewMessage) => (seq: number) => JSON.stringify({ chatId: input.chatId, seq });

/** What each append came to: its seq, or the refusal's reason (anything else fails the test). */
async function outcomes(stores: Store[], inputs: NewMessage[]): Promise<(number | string)[]> {
  const settled = await Promise.allSettled(
    inputs.map((m, i) => stores[i % stores.length].appendMessage(m, eventData(m))),
  );
  return settled.map((s) => {
    if (s.status === 'fulfilled') return s.value.seq;
    expect(s.reason).toBeInstanceOf(AppendRefusedError);
    return (s.reason as AppendRefusedError).reason;
  });
}

export async function expectDuplicatesRefused(stores: Store[]): Promise<void> {
  const chatId = randomUUID();
  const members = ['alice', 'bob'].map((username) => ({ username, state: 'joined' as const, sinceEpoch: 1 }));
  await stores[0].createChat(
    { id: chatId, epoch: 1, createdBy: 'alice', createdAt: new Date().toISOString(), members },
    [],
    [],
  );
  const id = randomUUID();
  // arriving together, so written in one batch (one per instance): the same id three times (once
  // in capitals, from the other member), between two other posts
  const burst = [
    newMessage(chatId, 'alice'),
    newMessage(chatId, 'alice', 1, id),
    newMessage(chatId, 'bob', 1, id.toUpperCase()),
    newMessage(chatId, 'alice', 1, id),
    newMessage(chatId, 'bob'),
  ];
  const answers = await outcomes(stores, burst);
  const sameId = answers.slice(1, 4);
  expect(sameId.filter((a) => typeof a === 'number')).toHaveLength(1);
  expect(sameId.filter((a) => a === 'duplicate-message')).toHaveLength(2);
  // the others of the burst are stored, and the chat's seq has no gap
  const seqs = answers.filter((a) => typeof a === 'number').sort((a, b) => Number(a) - Number(b));
  expect(seqs).toEqual([1, 2, 3]);
  expect(typeof answers[0]).toBe('number');
  expect(typeof answers[4]).toBe('number');
  // and later, alone, from either instance
  for (const store of stores)
    expect(await outcomes([store], [newMessage(chatId, 'bob', 1, id)])).toEqual(['duplicate-message']);
  expect(await outcomes(stores, [newMessage(chatId, 'alice')])).toEqual([4]);
  const stored = await stores[0].listMessages(chatId, 0, 100, 1, 1 << 20);
  expect(stored.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
}
