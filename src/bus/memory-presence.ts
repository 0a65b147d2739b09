import type { PresenceRegistry } from './types.js';

/** The sessions connected to this one process. */
export function createMemoryRegistry(): PresenceRegistry {
  const sessions = new Map<string, Set<string>>();
  return {
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
    async close() {
      sessions.clear();
    },
  };
}
