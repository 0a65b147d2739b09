import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, it } from 'vitest';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { Store } from '../../../src/store/types.js';
import { tempDir } from '../../support/helper.js';
import { expectDuplicatesRefused } from '../../support/store-duplicates.js';

// A message id posted twice, on SQLite (test/postgres/duplicates.test.ts: the same on PostgreSQL).

let dir: string;
let store: Store;
beforeAll(async () => {
  dir = await tempDir('duplicates-');
  store = openSqliteStore(dir);
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

it("refuses a message id used before in the chat as the store's duplicate-message, in one batch too (security round 2, #12)", async () => {
  await expectDuplicatesRefused([store]);
});
