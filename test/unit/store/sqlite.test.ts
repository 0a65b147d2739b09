import { rm } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { MIGRATIONS } from '../../../src/store/migrations.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import { tempDir } from '../../support/helper.js';

/** The `synchronous` level a store opened with `level` runs at (1 = NORMAL, 2 = FULL). */
async function syncLevel(level?: 'normal' | 'full'): Promise<number> {
  const dir = await tempDir();
  try {
    const store = openSqliteStore(dir, level);
    // the pragma is per connection: read it through the store's own (the only writer)
    const db = (store as unknown as { db: Database.Database }).db;
    const value = db.pragma('synchronous', { simple: true }) as number;
    await store.close();
    return value;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('SQLite durability', () => {
  it('runs at synchronous = NORMAL by default and FULL when SECURECHAT_SQLITE_SYNC=full', async () => {
    expect(await syncLevel()).toBe(1);
    expect(await syncLevel('normal')).toBe(1);
    expect(await syncLevel('full')).toBe(2);
    expect(loadConfig({}).sqliteSync).toBe('normal');
    expect(loadConfig({ SECURECHAT_SQLITE_SYNC: 'full' }).sqliteSync).toBe('full');
    expect(() => loadConfig({ SECURECHAT_SQLITE_SYNC: 'off' })).toThrow(ConfigError);
  });

  it('keeps the WAL journal, so a commit is whole after any crash', async () => {
    const dir = await tempDir();
    try {
      await (await openSqliteStore(dir, 'full')).close();
      const db = new Database(path.join(dir, 'securechat.db'), { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      db.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('migration 3', () => {
  it('fills the chat column of events stored before it, so replay need not parse them', async () => {
    const dir = await tempDir();
    try {
      const db = new Database(path.join(dir, 'securechat.db'));
      for (const [i, sql] of MIGRATIONS.slice(0, 2).entries()) {
        db.exec(sql);
        db.pragma(`user_version = ${i + 1}`);
      }
      const insert = db.prepare(
        "INSERT INTO events (type, data, created_at) VALUES (?, ?, '2026-01-01T00:00:00.000Z')",
      );
      insert.run('message', JSON.stringify({ chatId: 'c1', seq: 1 }));
      insert.run('chat.invited', JSON.stringify({ chat: { id: 'c2' } }));
      insert.run('odd', 'not json');
      db.prepare(
        "INSERT INTO event_recipients (username, event_id) VALUES ('bob', 1), ('bob', 2), ('bob', 3)",
      ).run();
      db.close();
      const store = openSqliteStore(dir);
      try {
        const events = await store.eventsAfter('bob', 0, 10, 1 << 20);
        expect(events.map((e) => e.chatId)).toEqual(['c1', 'c2', undefined]);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the SQLite schema', () => {
  it('has the indexes pruning needs (as PostgreSQL does), and the plans use them', async () => {
    const dir = await tempDir();
    await (await openSqliteStore(dir)).close();
    const db = new Database(path.join(dir, 'securechat.db'), { readonly: true });
    try {
      const names = (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all() as { name: string }[]
      ).map((r) => r.name);
      expect(names).toEqual(expect.arrayContaining(['events_by_age', 'event_recipients_by_event']));
      const plan = (sql: string) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(0) as { detail: string }[])
          .map((r) => r.detail)
          .join('; ');
      expect(plan('DELETE FROM event_recipients WHERE event_id <= ?')).toMatch(/event_recipients_by_event/);
    } finally {
      db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
