import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { BackendUnavailableError } from '../util/unavailable.js';
import type { RedisLog } from './redis-fanout.js';
import type { PresenceListener, PresenceRegistry } from './types.js';

// Presence in Redis. For each user a sorted set of their sessions (instance:session), scored by
// the lease's end in ms, and expiring as a key with the lease; one sorted set of the users
// announced online, scored by their latest lease. Each script runs atomically, so exactly one
// instance sees each change of a user's state and announces it. Time is Redis's own clock (TIME),
// so the instances' clocks need not agree for one to judge another's leases.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// ARGV: session, lease ms, username
const CONNECT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local announced = redis.call('ZSCORE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[2], 'GT', now + tonumber(ARGV[2]), ARGV[3])
if announced then return 0 end
return 1`;

// ARGV: session, username
const DISCONNECT = `${NOW}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local top = redis.call('ZRANGE', KEYS[1], 0, 0, 'REV', 'WITHSCORES')
if #top == 0 then return redis.call('ZREM', KEYS[2], ARGV[2]) end
redis.call('ZADD', KEYS[2], 'XX', top[2], ARGV[2])
return 0`;

// Users whose every lease has ended (their instance died or lost Redis): taken off the online set.
// ARGV: prefix of the users' session sets
const REAP = `${NOW}
local users = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 500)
local gone = {}
for _, user in ipairs(users) do
  local key = ARGV[1] .. user
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local top = redis.call('ZRANGE', key, 0, 0, 'REV', 'WITHSCORES')
  if #top == 0 then
    redis.call('ZREM', KEYS[1], user)
    table.insert(gone, user)
  else
    redis.call('ZADD', KEYS[1], 'XX', top[2], user)
  end
end
return gone`;

// Users whose lease has not ended: all of them, or (ARGV[1]) one
const ONLINE = `${NOW}
if ARGV[1] then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if score and tonumber(score) > now then return {ARGV[1]} end
  return {}
end
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')`;

type Scripted = Redis & {
  presenceConnect(user: string, online: string, ...args: (string | number)[]): Promise<number>;
  presenceDisconnect(user: string, online: string, ...args: (string | number)[]): Promise<number>;
  presenceReap(online: string, ...args: (string | number)[]): Promise<string[]>;
  presenceOnline(online: string, ...args: string[]): Promise<string[]>;
};

/**
 * Presence in Redis under leases that each instance renews for its own sessions, so a dead
 * instance's users go offline when their leases end. `client` is connected, or connects soon.
 */
export function createRedisRegistry(
  client: Redis,
  prefix: string,
  leaseMs: number,
  log: RedisLog,
): PresenceRegistry {
  const commands = client as Scripted;
  commands.defineCommand('presenceConnect', { numberOfKeys: 2, lua: CONNECT });
  commands.defineCommand('presenceDisconnect', { numberOfKeys: 2, lua: DISCONNECT });
  commands.defineCommand('presenceReap', { numberOfKeys: 1, lua: REAP });
  commands.defineCommand('presenceOnline', { numberOfKeys: 1, lua: ONLINE });
  const instance = randomUUID();
  const onlineKey = `${prefix}presence:online`;
  const userPrefix = `${prefix}presence:user:`;
  const presenceListeners = new Set<PresenceListener>();
  // The sessions this instance holds: their leases are renewed while the instance lives.
  const local = new Map<string, string>(); // member -> username

  const presenceUnavailable = (): never => {
    throw new BackendUnavailableError('Presence is unavailable (Redis does not answer); try again shortly.');
  };
  const member = (sessionId: string) => `${instance}:${sessionId}`;
  /** Starts or renews one session's lease; 1 when its user had not been announced online. */
  const lease = (client: Scripted, m: string, username: string) =>
    client.presenceConnect(userPrefix + username, onlineKey, m, leaseMs, username);
  const announce = (username: string, online: boolean) => {
    for (const listener of presenceListeners) listener(username, online);
  };

  const every = Math.max(50, Math.floor(leaseMs / 3));
  const renew = setInterval(async () => {
    try {
      const sessions = [...local];
      // Pipelined in batches: one round trip renews a thousand sessions.
      for (let i = 0; i < sessions.length; i += 1000) {
        const batch = sessions.slice(i, i + 1000);
        const pipeline = commands.pipeline() as unknown as Scripted;
        for (const [m, username] of batch) void lease(pipeline, m, username);
        const results = (await (pipeline as unknown as ReturnType<Redis['pipeline']>).exec()) ?? [];
        // A lease reaped while this instance was stalled comes back, and its user with it.
        results.forEach(([err, revived], j) => {
          const [m, username] = batch[j];
          if (!err && revived === 1 && local.has(m)) announce(username, true);
        });
      }
      for (const username of await commands.presenceReap(onlineKey, userPrefix)) announce(username, false);
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'presence lease renewal failed');
    }
  }, every);
  renew.unref();

  return {
    onPresenceChange(listener) {
      presenceListeners.add(listener);
    },
    async connect(username, sessionId) {
      const m = member(sessionId);
      local.set(m, username);
      return (await lease(commands, m, username)) === 1;
    },
    async disconnect(username, sessionId) {
      const m = member(sessionId);
      if (!local.delete(m)) return false;
      return (await commands.presenceDisconnect(userPrefix + username, onlineKey, m, username)) === 1;
    },
    async isOnline(username) {
      return (await commands.presenceOnline(onlineKey, username).catch(presenceUnavailable)).length > 0;
    },
    async onlineUsers() {
      return (await commands.presenceOnline(onlineKey).catch(presenceUnavailable)).sort();
    },
    async close() {
      clearInterval(renew);
      presenceListeners.clear();
      // The leases of this instance's sessions are left to run out: streams told to reconnect
      // elsewhere keep their users online if they come back within the lease.
      local.clear();
    },
  };
}
