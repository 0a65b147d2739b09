import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll } from 'vitest';

/**
 * Which store and bus the suite runs against: `sqlite` (SQLite and the in-process bus, the
 * default) or `postgres` (PostgreSQL and Redis, at DATABASE_URL and REDIS_URL; see
 * scripts/with-backends.sh). vitest.config.ts runs the server tests once for each.
 */
export const BACKEND = (process.env.SECURECHAT_TEST_BACKEND ?? 'sqlite') as 'sqlite' | 'postgres';

const made = new Map<string, Promise<Record<string, string>>>();

async function createDatabase(): Promise<Record<string, string>> {
  const { DATABASE_URL: admin, REDIS_URL: redis } = process.env;
  if (!admin || !redis) {
    throw new Error(
      'SECURECHAT_TEST_BACKEND=postgres needs DATABASE_URL and REDIS_URL (scripts/with-backends.sh)',
    );
  }
  const name = `securechat_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    SECURECHAT_STORE: 'postgres',
    DATABASE_URL: url.toString(),
    SECURECHAT_BUS: 'redis',
    REDIS_URL: redis,
    // one Redis for every test server: each has its own keys and channel
    SECURECHAT_REDIS_PREFIX: `${name}:`,
  };
}

/**
 * The environment that points a server at the suite's backend: nothing for SQLite (its data
 * lives in the data folder); for PostgreSQL, a new database and Redis prefix per `key` (a data
 * folder), so a restart on the same folder finds the same data, and servers never share any.
 */
export function backendEnv(key: string): Promise<Record<string, string>> {
  if (BACKEND === 'sqlite') return Promise.resolve({});
  let env = made.get(key);
  if (!env) {
    env = createDatabase();
    made.set(key, env);
  }
  return env;
}

// The throwaway cluster is deleted as a whole; on a developer's own server, drop what we made.
afterAll(async () => {
  if (BACKEND !== 'postgres' || made.size === 0) return;
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    for (const env of made.values()) {
      const name = new URL((await env).DATABASE_URL).pathname.slice(1);
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  } finally {
    await client.end();
    made.clear();
  }
});
