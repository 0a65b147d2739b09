import { it } from 'vitest';
import { useSqliteStore } from '../../support/store.js';
import { expectCodeHoldsWork } from '../../support/store-code-holds.js';

// Registration-code holds on SQLite (test/postgres/code-holds.test.ts runs the same on PostgreSQL).

const sqlite = useSqliteStore('code-holds-');

it('holds a good code for one request at a time, until it lets go or its hold ends (security round 2, #3)', async () => {
  await expectCodeHoldsWork([sqlite.store()], 'sq');
});
