import { Redis } from 'ioredis';
import { createRedisCounters } from './redis-counters.js';
import { openRedisFanout, type RedisLog } from './redis-fanout.js';
import { createRedisRegistry } from './redis-presence.js';
import type { RelayEvents } from './relay.js';
import type { Bus } from './types.js';

export interface RedisBusOptions {
  url: string;
  /** Prefix of every key and channel: several deployments (or test servers) can share one Redis. */
  prefix: string;
  /** How long a session stays online in Redis without its instance renewing it. */
  leaseMs: number;
  /** The stored events, for gaps in what was published (see {@link orderedRelay}). */
  events: RelayEvents;
  log: RedisLog;
  /** How long a missing event id may stay missing before it is read from the store. */
  gapMs?: number;
}

/** How long a readiness probe waits for Redis to answer. */
const PING_TIMEOUT_MS = 2000;

/**
 * The three ports for several instances, over two connections to one Redis: one for commands (and
 * publishing), one subscribed to the channel.
 */
export async function openRedisBus(options: RedisBusOptions): Promise<Bus> {
  const { prefix, log } = options;
  const redisOptions = { maxRetriesPerRequest: 3, lazyConnect: true };
  const commands = new Redis(options.url, redisOptions);
  const subscriber = new Redis(options.url, redisOptions);
  for (const client of [commands, subscriber]) {
    // ioredis reconnects by itself; an error is logged, never thrown at the process.
    client.on('error', (err) => log.warn({ err: { message: err.message } }, 'redis connection error'));
  }
  const counters = createRedisCounters(commands, prefix);
  let fanout: Bus['fanout'];
  try {
    await Promise.all([commands.connect(), subscriber.connect()]);
    fanout = await openRedisFanout(commands, subscriber, options);
  } catch (error) {
    commands.disconnect();
    subscriber.disconnect();
    throw new Error(`Redis: ${error instanceof Error ? error.message : error}`);
  }
  const registry = createRedisRegistry(commands, prefix, options.leaseMs, log);
  return {
    fanout,
    registry,
    counters,
    async ping() {
      if (subscriber.status !== 'ready') throw new Error('the Redis subscription is not connected');
      // ioredis queues a command while it reconnects: a readiness probe must not wait for that
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('Redis did not answer PING in time')), PING_TIMEOUT_MS);
      });
      try {
        await Promise.race([commands.ping(), late]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await fanout.close();
      await registry.close();
      await Promise.allSettled([subscriber.quit(), commands.quit()]);
    },
  };
}
