import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { unavailable } from '../errors.js';
import { orderedRelay, type RelayEvents } from './relay.js';
import type { Bus, BusMessage, PresenceListener, SharedCounter } from './types.js';

export interface RedisBusOptions {
  url: string;
  /** Prefix of every key and channel: several deployments (or test servers) can share one Redis. */
  prefix: string;
  /** How long a session stays online in Redis without its instance renewing it. */
  leaseMs: number;
  /** The stored events, for gaps in what was published (see {@link orderedRelay}). */
  events: RelayEvents;
  log: { warn: (obj: object, msg: string) => void; error: (obj: object, msg: string) => void };
  /** How long a missing event id may stay missing before it is read from the store. */
  gapMs?: number;
}

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
  presenceConnect(user: string, online: string, ...args: (string | number)[]): Promise<number>;
  presenceDisconnect(user: string, online: string, ...args: (string | number)[]): Promise<number>;
  presenceReap(online: string, ...args: (string | number)[]): Promise<string[]>;
  presenceOnline(online: string, ...args: string[]): Promise<string[]>;
};

/** What this server publishes, and nothing else: anyone else writing to the channel is ignored. */
function isBusMessage(value: unknown): value is BusMessage {
  const m = value as Record<string, unknown> | null;
  if (typeof m !== 'object' || m === null) return false;
  if (m.kind === 'close-session') return typeof m.sessionId === 'string' && typeof m.username === 'string';
  return (
    m.kind === 'event' &&
    typeof m.type === 'string' &&
    typeof m.data === 'string' &&
    (m.id === undefined || Number.isSafeInteger(m.id)) &&
    (m.to === 'everyone' || (Array.isArray(m.to) && m.to.every((u) => typeof u === 'string')))
  );
}

/**
 * The bus for several instances: one Redis channel carries every event once to every instance,
 * each delivering to the streams it holds; presence lives in Redis under leases that each
 * instance renews for its own sessions, so a dead instance's users go offline when their leases end.
 */
export async function openRedisBus(options: RedisBusOptions): Promise<Bus> {
  const { prefix, leaseMs, log } = options;
  const instance = randomUUID();
  const channel = `${prefix}bus`;
  const onlineKey = `${prefix}presence:online`;
  const userPrefix = `${prefix}presence:user:`;
  const redisOptions = { maxRetriesPerRequest: 3, lazyConnect: true };
  const commands = new Redis(options.url, redisOptions) as Scripted;
  const subscriber = new Redis(options.url, redisOptions);
  for (const client of [commands, subscriber]) {
    // ioredis reconnects by itself; an error is logged, never thrown at the process.
    client.on('error', (err) => log.warn({ err: { message: err.message } }, 'redis connection error'));
  }
  commands.defineCommand('presenceConnect', { numberOfKeys: 2, lua: CONNECT });
  commands.defineCommand('presenceDisconnect', { numberOfKeys: 2, lua: DISCONNECT });
  commands.defineCommand('presenceReap', { numberOfKeys: 1, lua: REAP });
  commands.defineCommand('presenceOnline', { numberOfKeys: 1, lua: ONLINE });
  commands.defineCommand('counterHit', { numberOfKeys: 1, lua: COUNTER_HIT });
  commands.defineCommand('counterBlocked', { numberOfKeys: 1, lua: COUNTER_BLOCKED });
  commands.defineCommand('counterTake', { numberOfKeys: 1, lua: COUNTER_TAKE });
  commands.defineCommand('counterGive', { numberOfKeys: 1, lua: COUNTER_GIVE });

  const listeners = new Set<(message: BusMessage) => void>();
  const presenceListeners = new Set<PresenceListener>();
  const onError = (err: unknown) => log.error({ err }, 'event relay failed');
  const relay = orderedRelay(
    (message) => {
      for (const listener of listeners) listener(message);
    },
    options.events,
    options.gapMs ?? 250,
    onError,
  );
  // The sessions this instance holds: their leases are renewed while the instance lives.
  const local = new Map<string, string>(); // member -> username

  try {
    await Promise.all([commands.connect(), subscriber.connect()]);
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
  } catch (error) {
    commands.disconnect();
    subscriber.disconnect();
    throw new Error(`Redis: ${error instanceof Error ? error.message : error}`);
  }
  // Publications missed while the subscriber was away are read from the store; the rest (ends of
  // sessions) are for the listeners to check again.
  const resumeListeners = new Set<() => void>();
  subscriber.on('ready', () => {
    void relay.catchUp();
    for (const listener of resumeListeners) listener();
  });

  const presenceUnavailable = (): never => {
    throw unavailable('Presence is unavailable (Redis does not answer); try again shortly.');
  };
  let publishFailures = 0;
  let lastFailureReport = 0;
  // Ends of sessions Redis did not take: sent again once it is back, for the other instances.
  const unsentEnds: BusMessage[] = [];
  const MAX_UNSENT_ENDS = 10_000;
  function send(message: BusMessage): void {
    // Not awaited: the store already holds every stored event, and each instance's relay reads
    // what Redis did not bring (catch-up below), so a slow or absent Redis never fails a request.
    commands.publish(channel, JSON.stringify(message)).catch((err) => {
      if (message.kind === 'close-session' && unsentEnds.length < MAX_UNSENT_ENDS) unsentEnds.push(message);
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
  // Whatever committed but never came through Redis (lost publication, Redis down) reaches this
  // instance's streams within a second, from the store.
  const catchUp = setInterval(() => void relay.catchUp(), 1000);
  catchUp.unref();

  return {
    async publish(message) {
      // The end of a session reaches this instance's streams at once, whether Redis answers or not
      // (it comes back through Redis too: ending a session twice does nothing).
      if (message.kind === 'close-session') relay.push(message);
      send(message);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onPresenceChange(listener) {
      presenceListeners.add(listener);
    },
    onResume(listener) {
      resumeListeners.add(listener);
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
    counter(name, limit, windowMs): SharedCounter {
      const keyOf = (key: string) => `${prefix}limit:${name}:${key}`;
      // Without Redis the limit cannot be checked: refuse (503) rather than let guesses through.
      const limiterUnavailable = (): never => {
        throw unavailable('Login limits cannot be checked (Redis does not answer); try again shortly.');
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
    async close() {
      clearInterval(renew);
      clearInterval(catchUp);
      relay.close();
      listeners.clear();
      presenceListeners.clear();
      resumeListeners.clear();
      // The leases of this instance's sessions are left to run out: streams told to reconnect
      // elsewhere keep their users online if they come back within the lease.
      local.clear();
      await Promise.allSettled([subscriber.quit(), commands.quit()]);
    },
  };
}
