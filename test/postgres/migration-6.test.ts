import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PG_MIGRATIONS } from '../../src/store/migrations.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import { backendEnv } from '../support/backend.js';
import {
  AT,
  expectNewEventsStoredOnce,
  expectOldEventsReplayed,
  MIGRATED_MESSAGE_ROWS,
  message,
  OLD_EVENTS,
} from '../support/store-events-once.js';

// Migration 6 on PostgreSQL, checked as test/unit/store/migration-6.test.ts checks it on SQLite.

let db: pg.Client;
let store: Store;
beforeAll(async () => {
  const url = (await backendEnv(`migration5-${randomUUID()}`)).DATABASE_URL;
  db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query('CREATE TABLE schema_version (version INTEGER NOT NULL)');
  for (const migration of PG_MIGRATIONS.slice(0, 3)) await db.query(migration);
  await db.query('INSERT INTO schema_version VALUES (3)');
  await db.query(
    `INSERT INTO chats (id, epoch, next_seq, created_by, created_at, epoch_started_at, active_at)
     VALUES ('c1', 1, 4, 'alice', $1, $1, $1)`,
    [AT],
  );
  await db.query(
    "INSERT INTO members (chat_id, username, state, since_epoch) VALUES ('c1', 'alice', 'joined', 1), ('c1', 'bob', 'joined', 1)",
  );
  for (const seq of [1, 2, 3]) {
    const { message: m } = message(seq);
    await db.query(
      `INSERT INTO messages (chat_id, seq, id, id_lower, sender, epoch, sent_at, iv, ciphertext, tag, sig_alg,
         signature, received_at) VALUES ('c1', $1, $2, $2, 'alice', 1, $3, $4, $5, $6, $7, $8, $3)`,
      [seq, m.id, AT, m.iv, m.ciphertext, m.tag, m.signatureAlgorithm, m.signature],
    );
  }
  for (const [i, [type, data, recipients]] of OLD_EVENTS.entries()) {
    await db.query("INSERT INTO events (id, type, data, created_at, chat_id) VALUES ($1, $2, $3, $4, 'c1')", [
      i + 1,
      type,
      data,
      AT,
    ]);
    for (const u of recipients) await db.query('INSERT INTO event_recipients VALUES ($1, $2)', [u, i + 1]);
  }
  const id = OLD_EVENTS.length;
  await db.query("UPDATE counters SET value = $1 WHERE name = 'event_id'", [id]);
  store = await openPostgresStore({ url, poolSize: 2, onError: () => {} });
}, 60_000);
afterAll(async () => {
  await store?.close();
  await db?.end();
});

it('keeps a v3 database replayable to exactly the recipients, and drops only the copies it can make again', async () => {
  await expectOldEventsReplayed(store);
  const rows = await db.query(
    "SELECT id::int, data, seq::int FROM events WHERE type = 'message' ORDER BY id",
  );
  expect(rows.rows).toEqual(MIGRATED_MESSAGE_ROWS);
});

it('stores new events once, for the members at the time', async () => {
  await expectNewEventsStoredOnce(store);
  const recipientRows = await db.query('SELECT count(*)::int AS n FROM event_recipients WHERE event_id > 4');
  expect(recipientRows.rows).toEqual([{ n: 1 }]); // bob, told that he left
});
