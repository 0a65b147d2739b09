import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import { backendEnv } from '../support/backend.js';
import { expectCodeHoldsWork } from '../support/store-code-holds.js';

// Registration-code holds on PostgreSQL, as test/unit/store/code-holds.test.ts checks them on SQLite,
// with two instances (two stores, each with its own pool) on one database.

let stores: Store[] = [];
beforeAll(async () => {
  const url = (await backendEnv(`code-holds-${randomUUID()}`)).DATABASE_URL;
  const open = () => openPostgresStore({ url, poolSize: 5, onError: () => {} });
  stores = [await open(), await open()];
}, 60_000);
afterAll(async () => {
  for (const store of stores) await store.close();
});

it('holds a good code for one request at a time, on any instance, until it lets go or its hold ends (security round 2, #3)', async () => {
  await expectCodeHoldsWork(stores, 'pg');
});
