import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, it } from 'vitest';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { Store } from '../../../src/store/types.js';
import { tempDir } from '../../support/helper.js';
import { expectCodeHoldsWork } from '../../support/store-code-holds.js';

// Registration-code holds on SQLite (test/postgres/code-holds.test.ts runs the same on PostgreSQL).

let dir: string;
let store: Store;
beforeAll(async () => {
  dir = await tempDir('code-holds-');
  store = openSqliteStore(dir);
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

it('holds a good code for one request at a time, until it lets go or its hold ends (security round 2, #3)', async () => {
  await expectCodeHoldsWork([store], 'sq');
});
