import type { Redis } from 'ioredis';
import { BackendUnavailableError } from '../util/unavailable.js';
import type { Counters, SharedCounter } from './types.js';

// Fixed windows: the first hit starts the window (the key expires with it).
const COUNTER_HIT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;
const COUNTER_TAKE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then return math.max(redis.call('PTTL', KEYS[1]), 1) end
return 0`;
const COUNTER_GIVE = `
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 0`;
const COUNTER_BLOCKED = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return math.max(redis.call('PTTL', KEYS[1]), 1) end
return 0`;

type Scripted = Redis & {
  counterHit(key: string, windowMs: number): Promise<number>;
  counterBlocked(key: string, limit: number): Promise<number>;
  counterTake(key: string, windowMs: number, limit: number): Promise<number>;
  counterGive(key: string): Promise<number>;
};

/** Counters in Redis, shared by every instance under `prefix`. */
export function createRedisCounters(client: Redis, prefix: string): Counters {
  const commands = client as Scripted;
  commands.defineCommand('counterHit', { numberOfKeys: 1, lua: COUNTER_HIT });
  commands.defineCommand('counterBlocked', { numberOfKeys: 1, lua: COUNTER_BLOCKED });
  commands.defineCommand('counterTake', { numberOfKeys: 1, lua: COUNTER_TAKE });
  commands.defineCommand('counterGive', { numberOfKeys: 1, lua: COUNTER_GIVE });
  return {
    counter(name, limit, windowMs): SharedCounter {
      const keyOf = (key: string) => `${prefix}limit:${name}:${key}`;
      // Without Redis the limit cannot be checked: refuse (503) rather than let guesses through.
      const limiterUnavailable = (): never => {
        throw new BackendUnavailableError(
          'Login limits cannot be checked (Redis does not answer); try again shortly.',
        );
      };
      return {
        async blockedFor(key) {
          return (await commands.counterBlocked(keyOf(key), limit).catch(limiterUnavailable)) / 1000;
        },
        async hit(key) {
          await commands.counterHit(keyOf(key), windowMs).catch(limiterUnavailable);
        },
        async take(key) {
          return (await commands.counterTake(keyOf(key), windowMs, limit).catch(limiterUnavailable)) / 1000;
        },
        async give(key) {
          await commands.counterGive(keyOf(key)).catch(limiterUnavailable);
        },
        async reset(key) {
          await commands.del(keyOf(key)).catch(limiterUnavailable);
        },
      };
    },
  };
}
