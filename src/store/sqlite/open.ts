import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../migrations.js';

/** Takes the database to the current schema (its user_version), one migration per transaction. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema v${current} is newer than this server (v${MIGRATIONS.length})`);
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

/**
 * Opens (creating and migrating) `securechat.db` in `dataDir`: WAL, foreign keys, a busy timeout.
 * `synchronous`: with `normal` (WAL) a commit survives the process crashing (kill -9) but the last
 * ones before a power loss or OS crash may be lost (never half-written); `full` syncs the log at
 * every commit, so an answered request survives power loss too, at about a millisecond of this
 * thread's time per commit (bench/sqlite-sync.ts).
 */
export function openSqliteDatabase(
  dataDir: string,
  synchronous: 'normal' | 'full' = 'normal',
): Database.Database {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // The database holds password hashes: keep the folder to its owner.
  chmodSync(dataDir, 0o700);
  const db = new Database(path.join(dataDir, 'securechat.db'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}
