import { localCounter } from '../services/limiter.js';
import { orderedRelay, type RelayEvents } from './relay.js';
import type { Bus, BusMessage } from './types.js';

/** The in-process bus: one server, no network. */
export function createMemoryBus(): Bus {
  const listeners = new Set<(message: BusMessage) => void>();
  const sessions = new Map<string, Set<string>>();

  return {
    async publish(message) {
      for (const listener of listeners) listener(message);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onPresenceChange() {
      // one process: every change comes through connect and disconnect
    },
    onResume() {
      // in process: never away
    },
    async connect(username, sessionId) {
      const set = sessions.get(username) ?? new Set<string>();
      const wasOffline = set.size === 0;
      set.add(sessionId);
      sessions.set(username, set);
      return wasOffline;
    },
    async disconnect(username, sessionId) {
      const set = sessions.get(username);
      if (!set?.delete(sessionId)) return false;
      if (set.size > 0) return false;
      sessions.delete(username);
      return true;
    },
    async isOnline(username) {
      return (sessions.get(username)?.size ?? 0) > 0;
    },
    async onlineUsers() {
      return [...sessions.keys()].sort();
    },
    counter: localCounter,
    async close() {
      listeners.clear();
      sessions.clear();
    },
  };
}

/**
 * The in-process bus for a store whose commits can be answered out of id order (PostgreSQL: two
 * requests' transactions commit in id order, but their continuations may run the other way round).
 * Stored events pass through the {@link orderedRelay}, so streams get them in id order, each once.
 */
export async function openOrderedMemoryBus(
  events: RelayEvents,
  onError: (error: unknown) => void,
  gapMs = 250,
): Promise<Bus> {
  const bus = createMemoryBus();
  const relay = orderedRelay((message) => void bus.publish(message), events, gapMs, onError);
  await relay.start();
  // An event whose publication never came (its request failed after the commit) and no later one
  // came either: read from the store within a second.
  const catchUp = setInterval(() => void relay.catchUp(), 1000);
  catchUp.unref();
  return {
    ...bus,
    async publish(message) {
      relay.push(message);
    },
    async close() {
      clearInterval(catchUp);
      relay.close();
      await bus.close();
    },
  };
}
