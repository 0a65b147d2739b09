import { isIPv4, isIPv6 } from 'node:net';
import { Errors, rateLimited } from '../errors.js';

/**
 * libuv's thread pool size: UV_THREADPOOL_SIZE when it is a whole number 1-1024 (libuv's own
 * bounds), else libuv's default of 4 — a typo must not turn every slot count into NaN.
 */
export function threadPoolSize(raw = process.env.UV_THREADPOOL_SIZE): number {
  const n = Number(raw);
  return raw !== undefined && /^\s*\d+\s*$/.test(raw) && n >= 1 && n <= 1024 ? n : 4;
}

/**
 * The client went away before its turn: the work is skipped. It answers as a 503 (to nobody: the
 * connection is gone) so the error handler treats it as a domain error, not a server failure.
 */
export class AbandonedError extends Error {
  readonly code = 'UNAVAILABLE';
  readonly statusCode = 503;
  readonly retryAfter = 1;
}

interface Waiter {
  key: string | undefined;
  start: () => void;
  /** Turned away to make room for an address with a smaller share of the queue. */
  evict: () => void;
}

/**
 * At most `slots` tasks at once, at most `queue` waiting, at most `perKey` running or waiting for one
 * key (a client address). bcrypt runs on libuv's thread pool, which signature verification shares:
 * capping the hashes in flight keeps a login storm from starving it, bounding the queue keeps a
 * storm from delaying every login without limit, and a task whose client has gone (its signal
 * aborted) leaves the queue instead of being hashed for nobody.
 *
 * The queue is fair between keys: each key waits in its own line, a free slot goes to the lines in
 * turn, and when the queue is full a key with fewer waiting than the longest line takes the last
 * place of that line (which gets the 503) — a few addresses' backlog cannot starve a new one.
 */
export class WorkQueue {
  private active = 0;
  private waitingCount = 0;
  /** One line per key, in the order their turns come (a served line moves to the back). */
  private readonly lines = new Map<string | undefined, Waiter[]>();
  private readonly perKeyCount = new Map<string, number>();
  /**
   * What each signal abandons when it aborts: one 'abort' listener a signal however many of its
   * tasks wait (a rotation queues one signature a member under one signal), removed with the last.
   */
  private readonly watches = new Map<AbortSignal, { waiters: Set<() => void>; fire: () => void }>();

  constructor(
    private readonly slots: number,
    private readonly queue = Number.POSITIVE_INFINITY,
    private readonly perKey = Number.POSITIVE_INFINITY,
  ) {}

  /** Tasks running and waiting, for figures and tests. */
  get size(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waitingCount };
  }

  async run<T>(task: () => Promise<T>, options: { key?: string; signal?: AbortSignal } = {}): Promise<T> {
    const { key, signal } = options;
    if (signal?.aborted) throw new AbandonedError('the client has gone');
    if (key !== undefined && (this.perKeyCount.get(key) ?? 0) >= this.perKey)
      throw rateLimited('Too many logins in progress from this address; try again in a second.', 1);
    if (this.active >= this.slots && this.waitingCount >= this.queue && !this.evictFor(key)) throw busy();
    this.count(key, 1);
    try {
      if (this.active >= this.slots) await this.wait(key, signal);
      else this.active += 1;
      try {
        if (signal?.aborted) throw new AbandonedError('the client has gone');
        return await task();
      } finally {
        this.active -= 1;
        const next = this.nextWaiter();
        if (next) {
          // the slot passes straight to the next in line, so a newcomer cannot take it meanwhile
          this.active += 1;
          next.start();
        }
      }
    } finally {
      this.count(key, -1);
    }
  }

  /** Turns away the last waiter of the longest line when it is longer than `key`'s would become. */
  private evictFor(key: string | undefined): boolean {
    let longest: Waiter[] | undefined;
    for (const line of this.lines.values()) if (!longest || line.length > longest.length) longest = line;
    const mine = this.lines.get(key)?.length ?? 0;
    const victim = longest && longest.length > mine + 1 ? longest.at(-1) : undefined;
    if (!victim) return false;
    this.remove(victim);
    victim.evict();
    return true;
  }

  private nextWaiter(): Waiter | undefined {
    const first = this.lines.entries().next();
    if (first.done) return undefined;
    const [key, line] = first.value;
    const waiter = line.shift();
    this.lines.delete(key);
    if (line.length > 0) this.lines.set(key, line);
    if (waiter) this.waitingCount -= 1;
    return waiter;
  }

  private remove(waiter: Waiter): void {
    const line = this.lines.get(waiter.key);
    const at = line?.indexOf(waiter) ?? -1;
    if (!line || at < 0) return;
    line.splice(at, 1);
    this.waitingCount -= 1;
    if (line.length === 0) this.lines.delete(waiter.key);
  }

  private wait(key: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        key,
        start: () => {
          unwatch();
          resolve();
        },
        evict: () => {
          unwatch();
          reject(busy());
        },
      };
      const unwatch = this.watch(signal, () => {
        this.remove(waiter);
        reject(new AbandonedError('the client has gone'));
      });
      const line = this.lines.get(key);
      if (line) line.push(waiter);
      else this.lines.set(key, [waiter]);
      this.waitingCount += 1;
    });
  }

  /** Calls `onAbort` when `signal` aborts, unless the returned function was called first. */
  private watch(signal: AbortSignal | undefined, onAbort: () => void): () => void {
    if (!signal) return () => {};
    let watch = this.watches.get(signal);
    if (!watch) {
      const waiters = new Set<() => void>();
      const fire = () => {
        this.watches.delete(signal);
        for (const abandon of waiters) abandon();
      };
      watch = { waiters, fire };
      this.watches.set(signal, watch);
      signal.addEventListener('abort', fire, { once: true });
    }
    const { waiters, fire } = watch;
    waiters.add(onAbort);
    return () => {
      waiters.delete(onAbort);
      if (waiters.size > 0 || this.watches.get(signal)?.fire !== fire) return;
      this.watches.delete(signal);
      signal.removeEventListener('abort', fire);
    };
  }

  private count(key: string | undefined, delta: number): void {
    if (key === undefined) return;
    const n = (this.perKeyCount.get(key) ?? 0) + delta;
    if (n > 0) this.perKeyCount.set(key, n);
    else this.perKeyCount.delete(key);
  }
}

const busy = () =>
  Object.assign(new Errors.UNAVAILABLE('The server is busy checking passwords; try again shortly.'), {
    retryAfter: 1,
  });

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted quad converted). */
function ipv6Groups(ip: string): number[] {
  let text = ip.replace(/%.*$/, '');
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (quad) {
    const [a, b, c, d] = quad.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -quad.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part ? part.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [...front, ...new Array(8 - front.length - back.length).fill(0), ...back];
}

/** An address as a proxy may write it: `1.2.3.4:5555` and `[2001:db8::1]:443` lose their port. */
function bareAddress(ip: string): string {
  const text = ip.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(text)?.[1];
  if (bracketed !== undefined) return bracketed;
  const v4 = /^(\d+\.\d+\.\d+\.\d+):\d{1,5}$/.exec(text)?.[1];
  return v4 ?? text;
}

/**
 * The key a per-address limit counts under: an IPv4 address as it is (IPv4-mapped IPv6 included),
 * an IPv6 address by its /64 — one subscriber usually holds a whole /64 and can pick any address in
 * it. A port is dropped; anything that is not an IP address (a forged forwarding header passed on
 * by a trusted proxy) is refused with a 400, never counted under a key of the client's choosing.
 */
export function addressKey(ip: string): string {
  const bare = bareAddress(ip);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1];
  if (mapped && isIPv4(mapped)) return mapped;
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) throw new Errors.INVALID_BODY('The client address is not an IP address.');
  const prefix = ipv6Groups(bare)
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':');
  return `${prefix}::/64`;
}
