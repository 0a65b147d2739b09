import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import { backendEnv } from '../support/backend.js';
import { expectDuplicatesRefused } from '../support/store-duplicates.js';

// A message id posted twice, on PostgreSQL with two instances (two stores with their own pools) on
// one database, as test/unit/store/duplicates.test.ts checks it on SQLite.

let stores: Store[] = [];
beforeAll(async () => {
  const url = (await backendEnv(`duplicates-${randomUUID()}`)).DATABASE_URL;
  const open = () => openPostgresStore({ url, poolSize: 5, onError: () => {} });
  stores = [await open(), await open()];
}, 60_000);
afterAll(async () => {
  for (const store of stores) await store.close();
});

it("refuses a message id used before in the chat as the store's duplicate-message, in one batch and across instances (security round 2, #12)", async () => {
  await expectDuplicatesRefused(stores);
});
