import { unavailable } from '../errors.js';
import { EpochConflictError } from '../store/chat-types.js';
import type { chatQueue } from './chat-queue.js';

/**
 * Attempts at a membership change when another instance's lands first (the chat's epoch moved
 * on); in between, a jittered pause that doubles. On this instance changes to one chat queue.
 */
export const MAX_ATTEMPTS = 5;
const BACKOFF_MS = 25;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type WithRetry = <T>(chatId: string, attempt: () => Promise<T>) => Promise<T>;

/**
 * Runs a change to one chat after the others queued for it on this instance, and recomputes
 * and retries it (after a jittered pause) when another instance moved the epoch first. When
 * that keeps happening, 503 with Retry-After: never a 500.
 */
export function retrying(serialized: ReturnType<typeof chatQueue>): WithRetry {
  return async function withRetry<T>(chatId: string, attempt: () => Promise<T>): Promise<T> {
    return serialized(chatId.toLowerCase(), async () => {
      for (let i = 1; ; i++) {
        try {
          return await attempt();
        } catch (error) {
          if (!(error instanceof EpochConflictError)) throw error;
          if (i >= MAX_ATTEMPTS)
            throw unavailable('The chat kept changing while this change was made; try again.', 1);
          await pause(Math.random() * BACKOFF_MS * 2 ** i);
        }
      }
    });
  };
}
