import { createMemoryBus, openOrderedMemoryFanout } from '../bus/memory.js';
import { openRedisBus } from '../bus/redis.js';
import type { Bus } from '../bus/types.js';
import type { Config } from '../config.js';
import { openPostgresStore } from '../store/postgres.js';
import { openSqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/types.js';
import { type Metrics, NO_METRICS } from '../util/metrics.js';

type Log = { warn: (obj: object, msg: string) => void; error: (obj: object, msg: string) => void };

/** How long a session's presence outlives its instance in Redis: the grace period, at least a second. */
export const leaseMs = (config: Config) => Math.max(1000, config.presenceGraceMs);

/** Opens (and migrates) the store the config names: SQLite in the data folder by default. */
export async function openStore(config: Config, log: Log): Promise<Store> {
  return config.store.kind === 'postgres'
    ? openPostgresStore({
        url: config.store.url,
        poolSize: config.store.poolSize,
        onError: (err) => log.warn({ err }, 'postgresql connection error'),
      })
    : openSqliteStore(config.dataDir, config.sqliteSync);
}

/** Opens the store and the bus the config names (SQLite and in-process by default). */
export async function openBackends(
  config: Config,
  log: Log,
  metrics: Metrics = NO_METRICS,
): Promise<{ store: Store; bus: Bus }> {
  const store = await openStore(config, log);
  // What committed, for buses that put publications back in id order; what the relay reads here
  // is what the bus did not bring in time (a gap filled from the store).
  const events = {
    latest: async () => (await store.eventBounds()).latest,
    between: async (from: number, to: number) => {
      const filled = await store.eventsBetween(from, to);
      if (filled.length > 0) metrics.relayGapFills(filled.length);
      return filled;
    },
  };
  try {
    const bus =
      config.bus.kind === 'redis'
        ? await openRedisBus({
            url: config.bus.url,
            prefix: config.bus.prefix,
            leaseMs: leaseMs(config),
            events,
            log,
          })
        : config.store.kind === 'postgres'
          ? createMemoryBus(
              await openOrderedMemoryFanout(events, (err) => log.error({ err }, 'event relay failed')),
            )
          : createMemoryBus(); // SQLite: each event is published in the turn of its commit, so in id order
    return { store, bus };
  } catch (error) {
    await store.close();
    throw error;
  }
}
