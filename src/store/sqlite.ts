import type Database from 'better-sqlite3';
import { ComposedStore } from './compose.js';
import type { Row } from './rows.js';
import { SqliteAccounts } from './sqlite/accounts.js';
import { SqliteChats } from './sqlite/chats.js';
import { SqliteMessages } from './sqlite/messages.js';
import { openSqliteDatabase } from './sqlite/open.js';
import { ChatRecipients } from './sqlite/recipients.js';
import { prepareStatements, type Statements } from './sqlite/statements.js';
import { SqliteUsers } from './sqlite/users.js';
import type { Store } from './types.js';

/**
 * The SQLite adapter, one part per aggregate on one connection and one set of prepared
 * statements: `sqlite/users.ts` (users, sessions, registration codes), `sqlite/chats.ts` (chats and
 * memberships) and `sqlite/messages.ts` (messages and events).
 */

/** Opens (creating and migrating) `securechat.db` in `dataDir`; sqlite/open.ts says with which settings. */
export function openSqliteStore(dataDir: string, synchronous: 'normal' | 'full' = 'normal'): Store {
  return new SqliteStore(openSqliteDatabase(dataDir, synchronous));
}

class SqliteStore extends ComposedStore {
  private readonly q: Statements;

  constructor(private readonly db: Database.Database) {
    const q = prepareStatements(db);
    const recipients = new ChatRecipients(db, q);
    super({
      users: new SqliteUsers(db, q),
      chats: new SqliteChats(db, q, recipients),
      messages: new SqliteMessages(db, q, recipients),
      accounts: new SqliteAccounts(db, q, recipients),
    });
    this.q = q;
  }

  async ping(): Promise<void> {
    this.q.ping.get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async claim(key: string, value: string): Promise<string> {
    this.q.claim.run(key, value);
    return (this.q.meta.get(key) as Row).value as string;
  }
}
