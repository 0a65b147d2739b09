import type { SseConnection } from './connection.js';

/** The heartbeat visits 1/HEARTBEAT_SLOTS of the streams at a time, so pings spread over the interval. */
const HEARTBEAT_SLOTS = 16;

/**
 * Pings the streams that have been quiet for half of `heartbeatMs`. Each stream belongs to one of
 * HEARTBEAT_SLOTS groups and the timer visits one group per tick: every stream is looked at once
 * per `idle`, and gets a ping only when it has been quiet that long. Streams that went quiet
 * together (after a broadcast) are pinged in different ticks.
 */
export function createHeartbeat(heartbeatMs: number) {
  const idle = Math.max(5, Math.floor(heartbeatMs / 2));
  const slots = Array.from({ length: HEARTBEAT_SLOTS }, () => new Set<SseConnection>());
  const slotOf = new Map<SseConnection, Set<SseConnection>>();
  let opened = 0;
  let tick = 0;
  const heartbeat = setInterval(
    () => {
      const quietSince = Date.now() - idle;
      tick = (tick + 1) % HEARTBEAT_SLOTS;
      for (const connection of slots[tick])
        if (connection.lastWrite <= quietSince) connection.comment('ping');
    },
    Math.max(1, Math.floor(idle / HEARTBEAT_SLOTS)),
  );
  heartbeat.unref();

  return {
    /** Gives a stream just opened the next slot. */
    add(connection: SseConnection): void {
      const slot = slots[opened++ % HEARTBEAT_SLOTS];
      slot.add(connection);
      slotOf.set(connection, slot);
    },

    remove(connection: SseConnection): void {
      slotOf.get(connection)?.delete(connection);
      slotOf.delete(connection);
    },

    stop(): void {
      clearInterval(heartbeat);
    },
  };
}
