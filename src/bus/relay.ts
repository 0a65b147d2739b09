import type { StoredEvent } from '../store/message-types.js';
import type { BusMessage } from './types.js';

/** The stored events, read for ids that were not published (or not yet). */
export interface RelayEvents {
  latest(): Promise<number>;
  between(fromId: number, toId: number): Promise<StoredEvent[]>;
}

/**
 * Puts stored events back in id order before they reach the hub. Ids are gapless and committed in
 * order (the store's counter row), but publications can cross: two instances' on the way to Redis,
 * and, on PostgreSQL, two requests' in one process (each publishes when its commit is answered).
 * An event after a gap waits for the missing ids; if they do not come within `gapMs` (their
 * instance died between commit and publish, or Redis dropped them) they are read from the store,
 * which has them: a later id cannot commit before an earlier one.
 */
export function orderedRelay(
  deliverTo: (message: BusMessage) => void,
  events: RelayEvents,
  gapMs: number,
  onError: (error: unknown) => void,
) {
  let next = 0; // the next id to deliver; 0 until the store's latest id is known
  const waiting = new Map<number, BusMessage & { kind: 'event' }>();
  // A listener that throws must not stop the relay (nor, from a timer, the process).
  const deliver = (message: BusMessage) => {
    try {
      deliverTo(message);
    } catch (error) {
      onError(error);
    }
  };
  const highestWaiting = () => {
    let highest = 0;
    for (const id of waiting.keys()) if (id > highest) highest = id;
    return highest;
  };
  let timer: NodeJS.Timeout | undefined;
  let filling = false;

  function drain(): void {
    for (let message = waiting.get(next); message; message = waiting.get(next)) {
      waiting.delete(next);
      next += 1;
      deliver(message);
    }
    clearTimeout(timer);
    timer = undefined;
    if (waiting.size > 0) {
      timer = setTimeout(() => void fill(), gapMs);
      timer.unref();
    }
  }

  /** Reads missing events from the store: up to the highest waiting id, or (catchUp) to the latest. */
  async function fill(catchUp = false): Promise<void> {
    if (filling || next === 0) return;
    filling = true;
    try {
      const to = catchUp ? await events.latest() : highestWaiting() - 1;
      while (next <= to) {
        const upto = Math.min(to, next + 999);
        for (const event of await events.between(next, upto)) {
          if (event.id < next) continue; // delivered meanwhile
          waiting.delete(event.id);
          next = event.id + 1;
          deliver({ kind: 'event', type: event.type, data: event.data, id: event.id, to: event.recipients });
        }
        // every id up to `upto` has committed; one the store no longer has was pruned
        next = Math.max(next, upto + 1);
      }
    } catch (error) {
      onError(error);
    } finally {
      filling = false;
      drain();
    }
  }

  return {
    /** Starts after the store's latest id: nothing earlier can concern a stream opened from now. */
    async start(): Promise<void> {
      next = (await events.latest()) + 1;
      for (const id of waiting.keys()) if (id < next) waiting.delete(id);
      drain();
    },
    push(message: BusMessage): void {
      if (message.kind !== 'event' || message.id === undefined) {
        deliver(message);
        return;
      }
      if (next !== 0 && message.id < next) return; // already delivered (or filled from the store)
      waiting.set(message.id, message);
      if (next !== 0) drain();
    },
    /** After a lost connection to Redis, or now and then: deliver whatever committed since. */
    catchUp: () => fill(true),
    close(): void {
      clearTimeout(timer);
      waiting.clear();
    },
  };
}
