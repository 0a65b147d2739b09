import { it } from 'vitest';
import { useSqliteStore } from '../../support/store.js';
import { expectDuplicatesRefused } from '../../support/store-duplicates.js';

// A message id posted twice, on SQLite (test/postgres/duplicates.test.ts: the same on PostgreSQL).

const sqlite = useSqliteStore('duplicates-');

it("refuses a message id used before in the chat as the store's duplicate-message, in one batch too (security round 2, #12)", async () => {
  await expectDuplicatesRefused([sqlite.store()]);
});
