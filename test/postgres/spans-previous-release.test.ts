import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres.js';
import { messageEventData } from '../../src/store/rows.js';
import type { Store } from '../../src/store/types.js';
import { backendEnv } from '../support/backend.js';
import { AT, message } from '../support/store-events-once.js';

// Migration 6 lets instances of the previous release run on meanwhile (rolling upgrade). Their
// membership changes touch `members` only, as that release did (no spans): who receives the
// chat's events stored once must still follow them.

let db: pg.Client;
let store: Store;
beforeAll(async () => {
  const url = (await backendEnv(`spans-previous-${randomUUID()}`)).DATABASE_URL;
  store = await openPostgresStore({ url, poolSize: 2, onError: () => {} });
  db = new pg.Client({ connectionString: url });
  await db.connect();
}, 60_000);
afterAll(async () => {
  await store?.close();
  await db?.end();
});

/** A membership change as the previous release's changeMembership made it (no events: they are addressed). */
async function previousRelease(sql: string, params: unknown[]): Promise<void> {
  await db.query('BEGIN');
  await db.query('UPDATE chats SET epoch = epoch + 1 WHERE id = $1', [params[0]]);
  await db.query(sql, params);
  await db.query('COMMIT');
}

const post = async (seq: number, epoch: number) => {
  const record = message(seq, epoch);
  return (await store.appendMessage(record, (s) => messageEventData({ ...record, seq: s }))).event;
};
const seen = async (username: string) =>
  (await store.eventsAfter(username, 0, 100, 1 << 20)).map((e) => JSON.parse(e.data).seq);

it('follows the members that an instance of the previous release adds and removes', async () => {
  await store.createChat(
    {
      id: 'c1',
      epoch: 1,
      createdBy: 'alice',
      createdAt: AT,
      members: ['alice', 'bob'].map((username) => ({ username, state: 'joined', sinceEpoch: 1 })),
    },
    [],
    [],
  );
  await post(1, 1);
  // the previous release: bob leaves, carol is invited
  await previousRelease("DELETE FROM members WHERE chat_id = $1 AND username = 'bob'", ['c1']);
  await previousRelease(
    "INSERT INTO members (chat_id, username, state, since_epoch) VALUES ($1, 'carol', 'invited', 3)",
    ['c1'],
  );
  const m2 = await post(2, 3);
  expect([...m2.recipients].sort()).toEqual(['alice', 'carol']);
  const [between] = await store.eventsBetween(m2.id, m2.id);
  expect([...between.recipients].sort()).toEqual(['alice', 'carol']);
  // bob back (by the previous release): the message of his absence is not his
  await previousRelease(
    "INSERT INTO members (chat_id, username, state, since_epoch) VALUES ($1, 'bob', 'invited', 4)",
    ['c1'],
  );
  await post(3, 4);
  expect(await seen('bob')).toEqual([1, 3]);
  expect(await seen('carol')).toEqual([2, 3]);
  expect(await seen('alice')).toEqual([1, 2, 3]);
});
