import { memoryCounters } from './memory-counters.js';
import { createMemoryRegistry } from './memory-presence.js';
import { orderedRelay, type RelayEvents } from './relay.js';
import type { Bus, BusMessage, Fanout } from './types.js';

/** In-process fan-out: one server, no network. */
export function createMemoryFanout(): Fanout {
  const listeners = new Set<(message: BusMessage) => void>();
  return {
    async publish(message) {
      for (const listener of listeners) listener(message);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onResume() {
      // in process: never away
    },
    async close() {
      listeners.clear();
    },
  };
}

/**
 * In-process fan-out for a store whose commits can be answered out of id order (PostgreSQL: two
 * requests' transactions commit in id order, but their continuations may run the other way round).
 * Stored events pass through the {@link orderedRelay}, so streams get them in id order, each once.
 */
export async function openOrderedMemoryFanout(
  events: RelayEvents,
  onError: (error: unknown) => void,
  gapMs = 250,
): Promise<Fanout> {
  const fanout = createMemoryFanout();
  const relay = orderedRelay((message) => void fanout.publish(message), events, gapMs, onError);
  await relay.start();
  // An event whose publication never came (its request failed after the commit) and no later one
  // came either: read from the store within a second.
  const catchUp = setInterval(() => void relay.catchUp(), 1000);
  catchUp.unref();
  return {
    ...fanout,
    async publish(message) {
      relay.push(message);
    },
    async close() {
      clearInterval(catchUp);
      relay.close();
      await fanout.close();
    },
  };
}

/** The three ports in process, over `fanout` (the ordered one on PostgreSQL). */
export function createMemoryBus(fanout: Fanout = createMemoryFanout()): Bus {
  const registry = createMemoryRegistry();
  return {
    fanout,
    registry,
    counters: memoryCounters(),
    async ping() {},
    async close() {
      await fanout.close();
      await registry.close();
    },
  };
}
