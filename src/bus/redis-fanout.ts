import type { Redis } from 'ioredis';
import { orderedRelay, type RelayEvents } from './relay.js';
import type { BusMessage, Fanout } from './types.js';

export type RedisLog = {
  warn: (obj: object, msg: string) => void;
  error: (obj: object, msg: string) => void;
};

/** What this server publishes, and nothing else: anyone else writing to the channel is ignored. */
function isBusMessage(value: unknown): value is BusMessage {
  const m = value as Record<string, unknown> | null;
  if (typeof m !== 'object' || m === null) return false;
  if (m.kind === 'close-session') return typeof m.sessionId === 'string' && typeof m.username === 'string';
  if (m.kind === 'user-changed') return typeof m.username === 'string';
  return (
    m.kind === 'event' &&
    typeof m.type === 'string' &&
    typeof m.data === 'string' &&
    (m.id === undefined || Number.isSafeInteger(m.id)) &&
    (m.to === 'everyone' || (Array.isArray(m.to) && m.to.every((u) => typeof u === 'string')))
  );
}

/**
 * Fan-out over one Redis channel: every event goes once to every instance, each delivering to the
 * streams it holds, in id order (the relay reads what Redis lost from the store). `commands` and
 * `subscriber` are connected; the subscription is made here.
 */
export async function openRedisFanout(
  commands: Redis,
  subscriber: Redis,
  options: { prefix: string; events: RelayEvents; log: RedisLog; gapMs?: number },
): Promise<Fanout> {
  const { log } = options;
  const channel = `${options.prefix}bus`;
  const listeners = new Set<(message: BusMessage) => void>();
  const onError = (err: unknown) => log.error({ err }, 'event relay failed');
  const relay = orderedRelay(
    (message) => {
      for (const listener of listeners) listener(message);
    },
    options.events,
    options.gapMs ?? 250,
    onError,
  );
  subscriber.on('message', (_channel, text) => {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      // falls through to the warning below
    }
    if (isBusMessage(message)) relay.push(message);
    else log.warn({ channel }, 'ignored a malformed message on the bus channel');
  });
  await subscriber.subscribe(channel);
  await relay.start();
  // Publications missed while the subscriber was away are read from the store; the rest (ends of
  // sessions) are for the listeners to check again.
  const resumeListeners = new Set<() => void>();
  subscriber.on('ready', () => {
    void relay.catchUp();
    for (const listener of resumeListeners) listener();
  });

  let publishFailures = 0;
  let lastFailureReport = 0;
  // Ends of sessions Redis did not take: sent again once it is back, for the other instances.
  const unsentEnds: BusMessage[] = [];
  const MAX_UNSENT_ENDS = 10_000;
  function send(message: BusMessage): void {
    // Not awaited: the store already holds every stored event, and each instance's relay reads
    // what Redis did not bring (catch-up below), so a slow or absent Redis never fails a request.
    commands.publish(channel, JSON.stringify(message)).catch((err) => {
      if (message.kind !== 'event' && unsentEnds.length < MAX_UNSENT_ENDS) unsentEnds.push(message);
      // One line per ten seconds with a count, not one per message, while Redis is away.
      publishFailures += 1;
      if (Date.now() - lastFailureReport < 10_000) return;
      log.warn({ err: { message: err.message }, failures: publishFailures }, 'redis publish failed');
      publishFailures = 0;
      lastFailureReport = Date.now();
    });
  }
  commands.on('ready', () => {
    for (const message of unsentEnds.splice(0)) send(message);
  });
  // Whatever committed but never came through Redis (lost publication, Redis down) reaches this
  // instance's streams within a second, from the store.
  const catchUp = setInterval(() => void relay.catchUp(), 1000);
  catchUp.unref();

  return {
    async publish(message) {
      // The end of a session reaches this instance's streams at once, whether Redis answers or not
      // (it comes back through Redis too: ending a session twice does nothing).
      if (message.kind !== 'event') relay.push(message);
      send(message);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onResume(listener) {
      resumeListeners.add(listener);
    },
    async close() {
      clearInterval(catchUp);
      relay.close();
      listeners.clear();
      resumeListeners.clear();
    },
  };
}
