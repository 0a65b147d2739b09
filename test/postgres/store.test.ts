import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EpochConflictError } from '../../src/store/chat-types.js';
import { AppendRefusedError, type NewMessage } from '../../src/store/message-types.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { backendEnv } from '../support/backend.js';
import { tempDir } from '../support/helper.js';
import { newMessage as message } from '../support/store.js';

// Two stores with their own connection pools on one database: two instances, as far as the
// database can tell.
let url: string;
let stores: Store[];
const poolErrors: unknown[] = [];
beforeAll(async () => {
  url = (await backendEnv(`store-${randomUUID()}`)).DATABASE_URL;
  const open = () => openPostgresStore({ url, poolSize: 10, onError: (e) => poolErrors.push(e) });
  // both open at once: the schema is migrated once, under the lock
  stores = await Promise.all([open(), open()]);
});
afterAll(async () => {
  for (const store of stores ?? []) await store.close();
  expect(poolErrors).toEqual([]);
});

const now = () => new Date().toISOString();

async function chatWith(members: string[]): Promise<string> {
  const id = randomUUID();
  await stores[0].createChat(
    {
      id,
      epoch: 1,
      createdBy: members[0],
      createdAt: now(),
      members: members.map((username) => ({ username, state: 'joined', sinceEpoch: 1 })),
    },
    [],
    [{ type: 'chat.invited', data: JSON.stringify({ chat: { id } }), recipients: members.slice(1) }],
  );
  return id;
}

const eventData = (input: NewMessage) => (seq: number) =>
  JSON.stringify({ chatId: input.chatId, seq, sender: input.sender, message: input.message });

describe('the PostgreSQL store under two instances at once', () => {
  it('gives posts to one chat gapless seq numbers, and events gapless ids in commit order', async () => {
    const chatId = await chatWith(['alice', 'bob']);
    const other = await chatWith(['carol', 'dave']);
    const before = (await stores[0].eventBounds()).latest;
    // 400 posts, 50 at a time on each store, to two chats
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => {
        const input = message(i % 4 === 3 ? other : chatId, i % 4 === 3 ? 'carol' : i % 2 ? 'alice' : 'bob');
        return stores[i % 2].appendMessage(input, eventData(input));
      }),
    );
    const seqs = (id: string) =>
      results
        .filter((r) => JSON.parse(r.event.data).chatId === id)
        .map((r) => r.seq)
        .sort((a, b) => a - b);
    expect(seqs(chatId)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(seqs(other)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    // event ids: exactly the next 400, each once; the event carries the seq it was given
    const ids = results.map((r) => r.event.id).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 400 }, (_, i) => before + i + 1));
    for (const r of results) expect(JSON.parse(r.event.data).seq).toBe(r.seq);
    expect((await stores[1].eventBounds()).latest).toBe(before + 400);
    // what is stored agrees: history in seq order, each event with its recipients
    const history = await stores[1].listMessages(chatId, 0, 1000, 1, 1 << 30);
    expect(history.map((m) => m.seq)).toEqual(seqs(chatId));
    const stored = await stores[0].eventsBetween(before + 1, before + 400);
    expect(stored.map((e) => e.id)).toEqual(ids);
    expect(new Set(stored.flatMap((e) => e.recipients))).toEqual(new Set(['alice', 'bob', 'carol', 'dave']));
  });

  it('lets exactly one of two instances change a chat from the same epoch', async () => {
    const chatId = await chatWith(['alice', 'bob', 'carol']);
    const change = (remove: string) => ({
      chatId,
      expectedEpoch: 1,
      epoch: 2,
      upsert: [],
      remove: [remove],
      envelopes: [],
      events: [],
    });
    const outcomes = await Promise.allSettled([
      stores[0].changeMembership(change('bob')),
      stores[1].changeMembership(change('carol')),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const failed = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(failed.reason).toBeInstanceOf(EpochConflictError);
    const chat = await stores[1].getChat(chatId);
    expect(chat?.epoch).toBe(2);
    expect(chat?.members).toHaveLength(2);
  });

  it('reads a chat with its members in one snapshot while another instance changes it', async () => {
    const chatId = await chatWith(['alice']);
    let changing = true;
    const seen: { epoch: number; members: { sinceEpoch: number }[] }[] = [];
    const read = async () => {
      while (changing) {
        const chat = await stores[1].getChat(chatId);
        if (chat) seen.push(chat);
      }
    };
    const readers = [read(), read(), read(), read()];
    for (let epoch = 1; epoch <= 40; epoch++) {
      await stores[0].changeMembership({
        chatId,
        expectedEpoch: epoch,
        epoch: epoch + 1,
        upsert: [{ username: `user${epoch}`, state: 'invited', sinceEpoch: epoch + 1 }],
        remove: [],
        envelopes: [],
        events: [],
      });
    }
    changing = false;
    await Promise.all(readers);
    expect(seen.length).toBeGreaterThan(40);
    // at epoch n the chat has alice and n - 1 invitees, none added after n
    const torn = seen.filter(
      (chat) => chat.members.length !== chat.epoch || chat.members.some((m) => m.sinceEpoch > chat.epoch),
    );
    expect(torn).toEqual([]);
  });

  it('refuses what the protocol refuses, inside the transaction, changing nothing', async () => {
    const chatId = await chatWith(['alice', 'bob']);
    const first = message(chatId, 'alice');
    await stores[0].appendMessage(first, eventData(first));
    const latest = (await stores[0].eventBounds()).latest;
    // The store says why, in its own terms; the service turns that into the protocol's problem.
    const refusal = async (input: ReturnType<typeof message>) => {
      const error = await stores[1].appendMessage(input, eventData(input)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AppendRefusedError);
      const { reason, epoch } = error as AppendRefusedError;
      return { reason, epoch };
    };
    const again = message(chatId, 'bob', 1, first.message.id.toUpperCase());
    expect(await refusal(again)).toEqual({ reason: 'duplicate-message', epoch: undefined });
    expect(await refusal(message(chatId, 'bob', 7))).toEqual({ reason: 'stale-epoch', epoch: 1 });
    expect(await refusal(message(chatId, 'erin'))).toEqual({ reason: 'chat-not-found', epoch: undefined });
    expect(await refusal(message(randomUUID(), 'alice'))).toEqual({
      reason: 'chat-not-found',
      epoch: undefined,
    });
    expect((await stores[0].eventBounds()).latest).toBe(latest);
    expect((await stores[0].listMessages(chatId, 0, 10, 1, 1 << 30)).map((m) => m.seq)).toEqual([1]);
  });
});

describe('the two schemas', () => {
  it('have the same tables, columns and indexes on SQLite and PostgreSQL', async () => {
    const dir = await tempDir();
    try {
      await (await openSqliteStore(dir)).close();
      const db = new Database(path.join(dir, 'securechat.db'), { readonly: true });
      const sqlite: Record<string, string[]> = {};
      for (const { name } of db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .all() as { name: string }[]) {
        sqlite[name] = (db.prepare(`PRAGMA table_info(${name})`).all() as { name: string }[])
          .map((c) => c.name)
          .sort();
      }
      const sqliteIndexes = (
        db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")
          .all() as { name: string }[]
      )
        .map((r) => r.name)
        .sort();
      db.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'",
      );
      const indexes = await client.query(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' ORDER BY indexname",
      );
      await client.end();
      // the same indexes besides primary keys: pruning and replay find rows the same way on both
      expect(indexes.rows.map((r) => r.indexname).sort()).toEqual(sqliteIndexes);
      const postgres: Record<string, string[]> = {};
      for (const r of rows) {
        postgres[r.table_name] = [...(postgres[r.table_name] ?? []), r.column_name];
      }
      for (const columns of Object.values(postgres)) columns.sort();
      // bookkeeping of each engine's own: PostgreSQL's version table and event-id counter
      delete postgres.schema_version;
      delete postgres.counters;
      expect(postgres).toEqual(sqlite);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
