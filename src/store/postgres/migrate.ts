import type pg from 'pg';
import { PG_MIGRATIONS } from '../migrations.js';
import { APPEND_MESSAGE, APPEND_MESSAGES } from './append.js';

/** Any fixed 64-bit number: instances starting together take turns to migrate. */
const MIGRATION_LOCK = 0x5ec0c4a7;

/** Takes the database to the current schema, once, however many instances start at the same time. */
export async function migrate(client: pg.Client): Promise<void> {
  await client.query('BEGIN');
  try {
    // a migration may rewrite a large table: no server-side limit either (the pool's 15 s
    // query_timeout does not apply: migrate runs on its own connection)
    await client.query('SET LOCAL statement_timeout = 0');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const { rows } = await client.query('SELECT version FROM schema_version');
    if (rows.length === 0) await client.query('INSERT INTO schema_version (version) VALUES (0)');
    const current = (rows[0]?.version as number | undefined) ?? 0;
    if (current > PG_MIGRATIONS.length) {
      throw new Error(`database schema v${current} is newer than this server (v${PG_MIGRATIONS.length})`);
    }
    for (let version = current; version < PG_MIGRATIONS.length; version++) {
      await client.query(PG_MIGRATIONS[version]);
    }
    await client.query('UPDATE schema_version SET version = $1', [PG_MIGRATIONS.length]);
    await client.query(APPEND_MESSAGE);
    await client.query(APPEND_MESSAGES);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
