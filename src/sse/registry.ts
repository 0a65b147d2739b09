import type { SseConnection } from './connection.js';

/** This instance's open streams, all of them and by user. */
export function createRegistry() {
  const all = new Set<SseConnection>();
  const byUser = new Map<string, Set<SseConnection>>();

  return {
    /** Every open stream. */
    all: all as ReadonlySet<SseConnection>,

    add(connection: SseConnection): void {
      all.add(connection);
      const set = byUser.get(connection.owner.username) ?? new Set<SseConnection>();
      set.add(connection);
      byUser.set(connection.owner.username, set);
    },

    remove(connection: SseConnection): void {
      all.delete(connection);
      const set = byUser.get(connection.owner.username);
      set?.delete(connection);
      if (set?.size === 0) byUser.delete(connection.owner.username);
    },

    /** The streams this user holds. */
    of(username: string): Iterable<SseConnection> {
      return byUser.get(username) ?? [];
    },

    /** Ends the streams of one session of this user (a logout): how many there were. */
    endSession(username: string, sessionId: string): number {
      let ended = 0;
      for (const connection of byUser.get(username) ?? []) {
        if (connection.owner.sessionId === sessionId && !connection.closed) {
          connection.close();
          ended += 1;
        }
      }
      return ended;
    },

    /** Each session holding a stream, with its user. */
    sessions(): Map<string, string> {
      const sessions = new Map<string, string>();
      for (const connection of all) sessions.set(connection.owner.sessionId, connection.owner.username);
      return sessions;
    },

    /** Bytes this user's streams hold in memory (queued to the socket, or pending). */
    queuedBytes(username: string): number {
      let sum = 0;
      for (const connection of byUser.get(username) ?? []) sum += connection.queuedBytes;
      return sum;
    },
  };
}
