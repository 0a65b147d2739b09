import { expect } from 'vitest';
import type { MessageRecord, NewEvent } from '../../src/store/message-types.js';
import { messageEventData } from '../../src/store/rows.js';
import type { Store } from '../../src/store/types.js';
import { AT, message } from './store-events-once.js';

// Who receives a chat's events once they are stored once (migration 6): the review's attacks on
// the membership spans (since_id, until_id], run the same way on both engines
// (test/unit/store/spans.test.ts, test/postgres/spans.test.ts).

const FAR = '2999-01-01T00:00:00.000Z';

const left = (chatId: string, username: string, remaining: string[]): NewEvent => ({
  type: 'member.left',
  data: JSON.stringify({ chatId, username }),
  recipients: [...remaining, username],
  chatId,
  toMembers: true,
});

const key = (chatId: string, username: string): NewEvent => ({
  type: 'chat.key',
  data: JSON.stringify({ chatId, to: username }),
  recipients: [username],
  chatId,
});

/** Messages seen, and other events as their type, from `after` on: what a replay gives `username`. */
async function seen(store: Store, username: string, after = 0): Promise<string[]> {
  const events = await store.eventsAfter(username, after, 1000, 1 << 20);
  return events.map((e) => (e.type === 'message' ? `m${JSON.parse(e.data).seq}` : e.type));
}

/** Each event's recipients as the live catch-up reads them, by id. */
async function recipientsById(store: Store, from: number, to: number): Promise<Map<number, string[]>> {
  const between = await store.eventsBetween(from, to);
  return new Map(between.map((e) => [e.id, [...e.recipients].sort()]));
}

/**
 * A chat of alice; bob invited, leaves, is re-added by a change that stores no event; carol is
 * removed and re-added in one change; dave is removed by a change that stores no event. Each must
 * get exactly the chat's events of their own spans, on replay and live, byte for byte, and keep
 * them through a prune of the events before.
 */
export async function expectSpansHold(store: Store, chatId: string): Promise<void> {
  const post = async (seq: number, epoch: number) => {
    const record: MessageRecord = { ...message(seq, epoch), chatId };
    const appended = await store.appendMessage(record, (s) => messageEventData({ ...record, seq: s }));
    expect(appended.seq).toBe(seq);
    return appended.event;
  };
  let epoch = 1;
  const change = async (upsert: string[], remove: string[], events: NewEvent[]) => {
    const stored = await store.changeMembership({
      chatId,
      expectedEpoch: epoch,
      epoch: epoch + 1,
      upsert: upsert.map((username) => ({ username, state: 'joined', sinceEpoch: epoch + 1 })),
      remove,
      envelopes: [],
      events,
    });
    epoch += 1;
    return stored;
  };

  const created = await store.createChat(
    {
      id: chatId,
      epoch: 1,
      createdBy: 'alice',
      createdAt: AT,
      members: ['alice', 'carol', 'dave'].map((username) => ({ username, state: 'joined', sinceEpoch: 1 })),
    },
    [],
    [],
  );
  expect(created).toEqual([]);
  const first = await post(1, 1);
  // bob invited: the invitation is his (addressed), the message before it is not
  await change(['bob'], [], [key(chatId, 'alice'), { ...key(chatId, 'bob'), type: 'chat.invited' }]);
  const m2 = await post(2, epoch);
  // bob leaves: he learns it (the leave event itself), and nothing after it
  await change([], ['bob'], [left(chatId, 'bob', ['alice', 'carol', 'dave'])]);
  await post(3, epoch);
  // bob re-added by a change that stores no event: m3, in his gap, is never his
  await change(['bob'], [], []);
  await post(4, epoch);
  // carol removed and re-added in one change: she stays a member throughout
  await change(['carol'], ['carol'], [key(chatId, 'carol')]);
  await post(5, epoch);
  // dave removed by a change that stores no event: m6 is not his
  await change([], ['dave'], []);
  const m6 = await post(6, epoch);

  expect(await seen(store, 'alice', first.id - 1)).toEqual([
    'm1',
    'chat.key',
    'm2',
    'member.left',
    'm3',
    'm4',
    'm5',
    'm6',
  ]);
  expect(await seen(store, 'bob', first.id - 1)).toEqual([
    'chat.invited',
    'm2',
    'member.left',
    'm4',
    'm5',
    'm6',
  ]);
  expect(await seen(store, 'carol', first.id - 1)).toEqual([
    'm1',
    'm2',
    'member.left',
    'm3',
    'm4',
    'chat.key',
    'm5',
    'm6',
  ]);
  expect(await seen(store, 'dave', first.id - 1)).toEqual(['m1', 'm2', 'member.left', 'm3', 'm4', 'm5']);
  expect(await seen(store, 'eve', first.id - 1)).toEqual([]);

  // live (the bus's catch-up) and replay agree on every event's recipients
  const live = await recipientsById(store, first.id, m6.id);
  for (const username of ['alice', 'bob', 'carol', 'dave']) {
    const replayed = (await store.eventsAfter(username, first.id - 1, 1000, 1 << 20)).map((e) => e.id);
    const delivered = [...live].filter(([, to]) => to.includes(username)).map(([id]) => id);
    expect(replayed).toEqual(delivered);
  }
  // no one twice (a span that overlaps another would list its user twice)
  for (const to of live.values()) expect(new Set(to).size).toBe(to.length);

  // a message replays byte for byte as it was sent live
  const replayedM2 = (await store.eventsAfter('bob', m2.id - 1, 1, 1 << 20))[0];
  expect(replayedM2.id).toBe(m2.id);
  expect(replayedM2.data).toBe(m2.data);

  // a prune of everything up to m2 keeps the spans still open or ending later
  const before = (await store.eventBounds()).prunedThrough;
  expect(await store.prune(FAR, 0, m2.id - before)).toBe(m2.id - before);
  expect((await store.eventBounds()).prunedThrough).toBe(m2.id);
  expect(await seen(store, 'bob', m2.id)).toEqual(['member.left', 'm4', 'm5', 'm6']);
  expect(await seen(store, 'dave', m2.id)).toEqual(['member.left', 'm3', 'm4', 'm5']);
  expect(await seen(store, 'carol', m2.id)).toEqual(['member.left', 'm3', 'm4', 'chat.key', 'm5', 'm6']);
}
