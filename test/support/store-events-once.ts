import { expect } from 'vitest';
import type { MessageRecord } from '../../src/store/message-types.js';
import { messageEventData } from '../../src/store/rows.js';
import type { Store } from '../../src/store/types.js';

// What migration 6 must do on either engine, checked the same way on both
// (test/unit/store/migration-6.test.ts, test/postgres/migration-6.test.ts). The old database holds
// chat c1 of alice and bob: event 1 invites bob, events 2-4 are messages 1-3 (2 to alice only),
// and message 3's event was written in another shape (by an older release).

export const AT = '2026-01-03T00:00:00.000Z';
export const OLDER = JSON.stringify({ seq: 3, chatId: 'c1', note: 'older' });

export const message = (seq: number, epoch = 1): MessageRecord => ({
  chatId: 'c1',
  seq,
  sender: 'alice',
  receivedAt: AT,
  message: {
    id: `m${seq}`,
    epoch,
    sentAt: AT,
    iv: 'aXZpdml2aXZpdml2',
    ciphertext: `Y2lwaGVy${'A'.repeat(seq)}`,
    tag: 'dGFndGFndGFndGFndGFn',
    signatureAlgorithm: 'ed25519',
    signature: 'c2ln',
  },
});

/** The old events, as the old database stores them: [type, data, recipients]. */
export const OLD_EVENTS: [string, string, string[]][] = [
  ['chat.invited', JSON.stringify({ chat: { id: 'c1' }, invitedBy: 'alice' }), ['bob']],
  ['message', messageEventData(message(1)), ['alice', 'bob']],
  ['message', messageEventData(message(2)), ['alice']],
  ['message', OLDER, ['alice', 'bob']],
];

/** Every old event replays to exactly its recipients, byte for byte. */
export async function expectOldEventsReplayed(store: Store): Promise<void> {
  const bob = await store.eventsAfter('bob', 0, 100, 1 << 20);
  expect(bob.map((e) => [e.id, e.type, e.data])).toEqual([
    [1, OLD_EVENTS[0][0], OLD_EVENTS[0][1]],
    [2, 'message', messageEventData(message(1))],
    [4, 'message', OLDER],
  ]);
  const alice = await store.eventsAfter('alice', 0, 100, 1 << 20);
  expect(alice.map((e) => e.data)).toEqual([
    messageEventData(message(1)),
    messageEventData(message(2)),
    OLDER,
  ]);
  const between = await store.eventsBetween(1, 4);
  expect(between.map((e) => [e.id, [...e.recipients].sort(), e.data])).toEqual(
    OLD_EVENTS.map(([, data, recipients], i) => [i + 1, recipients, data]),
  );
}

/** The message events' rows after the migration: a copy dropped only where it is made again. */
export const MIGRATED_MESSAGE_ROWS = [
  { id: 2, data: '', seq: 1 },
  { id: 3, data: '', seq: 2 },
  { id: 4, data: OLDER, seq: null },
];

/**
 * After the migration: a message stored once for the members of the time (alice, bob); bob
 * leaves as carol is invited; a message after that reaches alice and carol, never bob.
 */
export async function expectNewEventsStoredOnce(store: Store): Promise<void> {
  const m4 = message(4);
  const appended = await store.appendMessage(m4, (seq) => messageEventData({ ...m4, seq }));
  expect([...appended.event.recipients].sort()).toEqual(['alice', 'bob']);
  await store.changeMembership({
    chatId: 'c1',
    expectedEpoch: 1,
    epoch: 2,
    upsert: [{ username: 'carol', state: 'invited', sinceEpoch: 2 }],
    remove: ['bob'],
    envelopes: [],
    events: [
      {
        type: 'member.left',
        data: '{"chatId":"c1","username":"bob"}',
        recipients: ['alice', 'bob'],
        chatId: 'c1',
        toMembers: true,
      },
    ],
  });
  const m5 = message(5, 2);
  await store.appendMessage(m5, (seq) => messageEventData({ ...m5, seq }));
  const seen = async (u: string) =>
    (await store.eventsAfter(u, 4, 100, 1 << 20)).map(
      (e) => `${e.type}${e.type === 'message' ? JSON.parse(e.data).seq : ''}`,
    );
  expect(await seen('alice')).toEqual(['message4', 'member.left', 'message5']);
  expect(await seen('bob')).toEqual(['message4', 'member.left']);
  expect(await seen('carol')).toEqual(['member.left', 'message5']);
  const between = await store.eventsBetween(5, 7);
  expect(between.map((e) => [...e.recipients].sort())).toEqual([
    ['alice', 'bob'],
    ['alice', 'bob', 'carol'],
    ['alice', 'carol'],
  ]);
  expect(between[0].data).toBe(appended.event.data);
}
