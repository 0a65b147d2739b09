import { WindowCounter } from '../util/window-counter.js';
import type { Counters, SharedCounter } from './types.js';

/** A {@link WindowCounter} behind the shared-counter interface: the count of one process. */
export function localCounter(_name: string, limit: number, windowMs: number): SharedCounter {
  const counter = new WindowCounter(limit, windowMs);
  return {
    blockedFor: async (key) => counter.blockedFor(key),
    hit: async (key) => counter.hit(key),
    take: async (key) => counter.take(key),
    give: async (key) => counter.give(key),
    reset: async (key) => counter.reset(key),
  };
}

/** The counters of one process. */
export const memoryCounters = (): Counters => ({ counter: localCounter });
