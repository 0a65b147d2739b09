import type pg from 'pg';
import { ComposedStore } from './compose.js';
import { PostgresAccounts } from './postgres/accounts.js';
import { PostgresChats } from './postgres/chats.js';
import { PostgresMessages } from './postgres/messages.js';
import { migrate } from './postgres/migrate.js';
import * as db from './postgres/pool.js';
import { PostgresUsers } from './postgres/users.js';
import type { Store } from './types.js';

/**
 * The PostgreSQL adapter, one part per aggregate on one pool: `postgres/users.ts` (users, sessions,
 * registration codes), `postgres/chats.ts` (chats and memberships, their writes in
 * `postgres/writes.ts`) and `postgres/messages.ts` (messages and events). The pool is in
 * postgres/pool.ts, the schema in postgres/migrate.ts.
 */

/** Connects to PostgreSQL, migrates, and returns the store. */
export async function openPostgresStore(options: db.PostgresOptions): Promise<Store> {
  return new PostgresStore(await db.openPool(options, migrate));
}

class PostgresStore extends ComposedStore {
  constructor(private readonly pool: pg.Pool) {
    super({
      users: new PostgresUsers(pool),
      chats: new PostgresChats(pool),
      messages: new PostgresMessages(pool),
      accounts: new PostgresAccounts(pool),
    });
  }

  async ping(): Promise<void> {
    await db.exec(this.pool, 'SELECT 1');
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  async claim(key: string, value: string): Promise<string> {
    await db.exec(this.pool, 'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [
      key,
      value,
    ]);
    const [row] = await db.rows(this.pool, 'SELECT value FROM meta WHERE key = $1', [key]);
    return row.value as string;
  }
}
