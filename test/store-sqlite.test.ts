import { rm } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { tempDir } from './helper.js';

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
