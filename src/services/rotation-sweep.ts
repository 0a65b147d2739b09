import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Store } from '../store/types.js';

export interface RotationSweepDeps {
  store: Pick<Store, 'chatsDueForRotation'>;
  rotate: (chatId: string, reason: string, fromEpoch: number) => Promise<void>;
  rotateSeconds: number;
  onError: (error: unknown, chatId?: string) => void;
  /** Chats looked at per sweep. */
  batch?: number;
  /** How long a chat whose rotation failed is left out of the sweeps (doubling on each failure). */
  retryMs?: number;
  now?: () => number;
}

/**
 * Rotates the key of chats whose epoch is older than `rotateSeconds`, one chat at a time, yielding
 * to the event loop between chats. A chat whose rotation fails is logged and left out for a while
 * (longer after each failure), so it neither aborts the sweep nor comes first in every sweep.
 */
export function createRotationSweep({
  store,
  rotate,
  rotateSeconds,
  onError,
  batch = 100,
  retryMs = 60_000,
  now = Date.now,
}: RotationSweepDeps) {
  const failing = new Map<string, { until: number; failures: number }>();
  let running = false;

  return async function sweep(): Promise<{ rotated: string[]; failed: string[] }> {
    const rotated: string[] = [];
    const failed: string[] = [];
    if (running) return { rotated, failed };
    running = true;
    try {
      const before = new Date(now() - rotateSeconds * 1000).toISOString();
      const due = await store.chatsDueForRotation(before, batch + failing.size);
      for (const [chatId, f] of failing)
        if (!due.some((d) => d.chatId === chatId) && f.until <= now()) failing.delete(chatId);
      let done = 0;
      for (const { chatId, epoch } of due) {
        if (done >= batch) break;
        const f = failing.get(chatId);
        if (f && f.until > now()) continue;
        done += 1;
        try {
          await rotate(chatId, 'age', epoch);
          failing.delete(chatId);
          rotated.push(chatId);
        } catch (error) {
          const failures = (f?.failures ?? 0) + 1;
          failing.set(chatId, { until: now() + retryMs * 2 ** Math.min(failures - 1, 6), failures });
          failed.push(chatId);
          onError(error, chatId);
        }
        await yieldToLoop();
      }
    } catch (error) {
      onError(error);
    } finally {
      running = false;
    }
    return { rotated, failed };
  };
}
