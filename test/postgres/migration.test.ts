import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PG_MIGRATIONS } from '../../src/store/migrations.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { backendEnv } from '../support/backend.js';

// An upgrade on a modest database (1,000 chats, 100k messages and events at schema v2) must
// finish: migration 3 once scanned `messages` per chat, and ran under the pool's 15 s timeout.
const CHATS = 1_000;
const MESSAGES = 100_000;
let url: string;
let db: pg.Client;
beforeAll(async () => {
  url = (await backendEnv(`migration-${randomUUID()}`)).DATABASE_URL;
  db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query('CREATE TABLE schema_version (version INTEGER NOT NULL)');
  for (const migration of PG_MIGRATIONS.slice(0, 2)) await db.query(migration);
  await db.query('INSERT INTO schema_version VALUES (2)');
  // chat i's messages arrive at minute (i % 60); chat 1000 has none
  await db.query(
    `INSERT INTO chats (id, epoch, next_seq, created_by, created_at, epoch_started_at)
     SELECT 'chat' || i, 1, 1, 'alice', '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z'
     FROM generate_series(1, $1::int) i`,
    [CHATS],
  );
  await db.query(
    `INSERT INTO messages
     SELECT 'chat' || (i % ($2::int - 1) + 1), i, 'id' || i, 'id' || i, 'alice', 1, '2026-01-03T00:00:00.000Z',
       'iv', repeat('A', 600), 'tag', 'ed25519', repeat('S', 88),
       '2026-01-03T00:' || lpad(((i % ($2::int - 1) + 1) % 60)::text, 2, '0') || ':00.000Z'
     FROM generate_series(1, $1::int) i`,
    [MESSAGES, CHATS],
  );
  await db.query(
    `INSERT INTO events SELECT i, 'message', '{"chatId":"chat' || (i % $2::int + 1) || '","seq":' || i || '}',
       '2026-01-03T00:00:00.000Z' FROM generate_series(1, $1::int) i`,
    [MESSAGES, CHATS],
  );
  await db.query(
    `INSERT INTO events VALUES ($1::int + 1, 'chat.invited', '{"chat":{"id":"chat7"}}', '2026-01-03T00:00:00.000Z')`,
    [MESSAGES],
  );
  await db.query('ANALYZE');
}, 60_000);
afterAll(() => db?.end());

it('migrates a v2 database with 100k messages over 1,000 chats', async () => {
  const store = await openPostgresStore({ url, poolSize: 2, onError: () => {} });
  await store.close();
  expect((await db.query('SELECT version FROM schema_version')).rows).toEqual([
    { version: PG_MIGRATIONS.length },
  ]);
  const active = await db.query(
    "SELECT id, active_at FROM chats WHERE id IN ('chat1', 'chat59', 'chat60', 'chat999', 'chat1000') ORDER BY id",
  );
  expect(active.rows).toEqual([
    { id: 'chat1', active_at: '2026-01-03T00:01:00.000Z' },
    { id: 'chat1000', active_at: '2026-01-02T00:00:00.000Z' }, // no messages: the epoch's start
    { id: 'chat59', active_at: '2026-01-03T00:59:00.000Z' },
    { id: 'chat60', active_at: '2026-01-03T00:00:00.000Z' },
    { id: 'chat999', active_at: '2026-01-03T00:39:00.000Z' },
  ]);
  const unfilled = await db.query('SELECT count(*)::int AS n FROM chats WHERE active_at IS NULL');
  expect(unfilled.rows[0].n).toBe(0);
  const events = await db.query(
    "SELECT count(*)::int AS n FROM events WHERE chat_id = 'chat' || (id % $1::int + 1)",
    [CHATS],
  );
  expect(events.rows[0].n).toBe(MESSAGES);
  const invited = await db.query('SELECT chat_id FROM events WHERE id = $1', [MESSAGES + 1]);
  expect(invited.rows).toEqual([{ chat_id: 'chat7' }]);
  const seq = await db.query(
    "SELECT data_type FROM information_schema.columns WHERE table_name = 'messages' AND column_name = 'seq'",
  );
  expect(seq.rows).toEqual([{ data_type: 'bigint' }]);
}, 60_000);
