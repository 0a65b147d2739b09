import pg from 'pg';
import { BackendUnavailableError } from '../../util/unavailable.js';
import type { Row } from '../rows.js';

/** The pool's connections and how PostgreSQL's failures map to results: the store's plumbing. */

export type Client = pg.PoolClient;

// BIGINT (event ids, expiry times in ms) as a JS number: every value we store is below 2^53.
const INT8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface PostgresOptions {
  url: string;
  /** Connections this instance may hold. */
  poolSize: number;
  onError: (error: unknown) => void;
}

export const UNIQUE_VIOLATION = '23505';

/**
 * The database did not answer (refused, dropped, timed out, shutting down, out of connections),
 * as opposed to answering with an error about the data: the first is a 503 to retry, not a 500.
 */
export function connectivity(error: unknown): Error {
  const { code = '', message = '' } = error as { code?: string; message?: string };
  const down =
    /^(08|57P|53300)/.test(code) || // connection exception, shutting down, too many connections
    /^E[A-Z]+$/.test(code) || // ECONNREFUSED, ECONNRESET, ETIMEDOUT, ... from the socket
    /connection terminated|timeout exceeded when trying to connect|encountered a connection error|query read timeout/i.test(
      message,
    );
  return down
    ? new BackendUnavailableError('The database does not answer; try again shortly.')
    : (error as Error);
}

// Lock order is always chat row, then the event counter, so these are not expected; retried if they come.
const RETRYABLE = new Set(['40001', '40P01']);

/** Every statement outside a transaction goes through here (and every transaction through the next). */
export async function exec(client: pg.Pool | Client, sql: string | pg.QueryConfig, params: unknown[] = []) {
  try {
    // a named statement (a QueryConfig with a name) is parsed and planned once per connection
    return await (typeof sql === 'string' ? client.query(sql, params) : client.query(sql));
  } catch (error) {
    throw connectivity(error);
  }
}

export async function rows(client: pg.Pool | Client, sql: string | pg.QueryConfig, params: unknown[] = []) {
  return (await exec(client, sql, params)).rows as Row[];
}

/** Runs `work` in one READ COMMITTED transaction; domain errors roll it back and pass through. */
export async function transaction<T>(pool: pg.Pool, work: (client: Client) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect().catch((error) => {
      throw connectivity(error);
    });
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      if (attempt < 3 && RETRYABLE.has((error as { code?: string }).code ?? '')) continue;
      const reported = connectivity(error);
      // a connection that failed goes, rather than back to the pool
      if (reported !== error) broken = error as Error;
      throw reported;
    } finally {
      client.release(broken);
    }
  }
}

/**
 * Opens the pool, then runs `prepare` (the migration) on a connection of its own; the URL (it
 * may hold a password) is never logged.
 */
export async function openPool(
  { url, poolSize, onError }: PostgresOptions,
  prepare: (client: pg.Client) => Promise<void>,
): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    types,
    connectionTimeoutMillis: 10_000,
    // a database that stops answering without closing the connection fails the request, not hangs it
    query_timeout: 15_000,
    keepAlive: true,
  });
  // An idle connection that breaks (the database restarted) must not end the process.
  pool.on('error', onError);
  try {
    // its own connection, without the pool's query_timeout: an upgrade may take longer than any
    // request should
    const client = new pg.Client({
      connectionString: url,
      types,
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
    });
    client.on('error', onError);
    await client.connect();
    try {
      await prepare(client);
    } finally {
      await client.end().catch(() => {});
    }
  } catch (error) {
    await pool.end().catch(() => {});
    throw new Error(`PostgreSQL: ${error instanceof Error ? error.message : error}`);
  }
  return pool;
}

/** What each part of the PostgreSQL adapter queries through: the pool, its statements and transactions. */
export abstract class PoolQueries {
  constructor(protected readonly pool: pg.Pool) {}

  protected exec(sql: string, params: unknown[] = [], client: pg.Pool | Client = this.pool) {
    return exec(client, sql, params);
  }

  protected rows(sql: string, params: unknown[] = [], client: pg.Pool | Client = this.pool) {
    return rows(client, sql, params);
  }

  protected transaction<T>(work: (client: Client) => Promise<T>): Promise<T> {
    return transaction(this.pool, work);
  }
}
