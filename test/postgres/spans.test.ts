import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import { backendEnv } from '../support/backend.js';
import { expectSpansHold } from '../support/store-spans.js';

// The membership spans on PostgreSQL, as test/unit/store/spans.test.ts checks them on SQLite.

let store: Store;
beforeAll(async () => {
  const url = (await backendEnv(`spans-${randomUUID()}`)).DATABASE_URL;
  store = await openPostgresStore({ url, poolSize: 2, onError: () => {} });
}, 60_000);
afterAll(async () => {
  await store?.close();
});

it('gives each member exactly the chat events of their spans: leave, re-add without an event, remove and re-add at once, prune', async () => {
  await expectSpansHold(store, 'c1');
});
