import type { AccountStore } from './account-types.js';
import type { ChatStore } from './chat-types.js';
import type { MessageStore } from './message-types.js';
import type { UserStore } from './user-types.js';

/**
 * The storage port. Every method is one atomic step of the domain, so that an adapter over a
 * networked database (PostgreSQL) can run each in one transaction; the SQLite adapter is first.
 * Its methods are grouped by aggregate, each group with its records in a file of its own:
 * users and sessions (`user-types.ts`), chats and memberships (`chat-types.ts`), messages and
 * events (`message-types.ts`). Import each name from that file.
 */
export interface Store extends UserStore, ChatStore, MessageStore, AccountStore {
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Stores `value` under `key` unless a value is there already; returns the stored one. */
  claim(key: string, value: string): Promise<string>;
}
