import { localCounter } from '../services/limiter.js';
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
