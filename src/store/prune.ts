import type { Store } from './types.js';

/** Events deleted per transaction: small enough that no request waits long behind one. */
export const PRUNE_BATCH = 500;

/**
 * Deletes events older than `before` a batch at a time, yielding to the event loop between
 * batches (SQLite runs in this thread) so that requests are served while a backlog is cleared.
 * Returns the events deleted.
 */
export async function pruneEvents(store: Store, before: string, now: number, batch = PRUNE_BATCH) {
  let total = 0;
  for (;;) {
    const deleted = await store.prune(before, now, batch);
    total += deleted;
    if (deleted < batch) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
