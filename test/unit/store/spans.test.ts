import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, it } from 'vitest';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { Store } from '../../../src/store/types.js';
import { tempDir } from '../../support/helper.js';
import { expectSpansHold } from '../../support/store-spans.js';

// The membership spans on SQLite (test/postgres/spans.test.ts runs the same on PostgreSQL).

let dir: string;
let store: Store;
beforeAll(async () => {
  dir = await tempDir('spans-');
  store = openSqliteStore(dir);
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

it('gives each member exactly the chat events of their spans: leave, re-add without an event, remove and re-add at once, prune', async () => {
  await expectSpansHold(store, 'c1');
});
