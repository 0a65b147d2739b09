import { isIPv4, isIPv6 } from 'node:net';
import type { SharedCounter } from '../bus/types.js';
import { Errors, rateLimited } from '../errors.js';

/**
 * Fixed-window counters in memory (one process; the Redis bus shares its own). Counting only
 * failures keeps a real user's successful logins from ever locking them out.
 */
export class WindowCounter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `key` may try again, or 0 when it is under its limit. */
  blockedFor(key: string): number {
    const w = this.windows.get(key);
    if (!w || w.resetAt <= this.now()) return 0;
    return w.count >= this.limit ? (w.resetAt - this.now()) / 1000 : 0;
  }

  /**
   * Counts one attempt and answers whether it may go ahead: 0, or the seconds until the window
   * ends when the attempt is over the limit. Checking and counting at once is what keeps parallel
   * attempts from all passing a check made before any of them was counted.
   */
  take(key: string): number {
    this.hit(key);
    return this.blockedAfter(key);
  }

  /** Gives back an attempt counted by {@link take} (a success, or one that was never evaluated). */
  give(key: string): void {
    const w = this.windows.get(key);
    if (w && w.resetAt > this.now() && w.count > 0) w.count -= 1;
  }

  private blockedAfter(key: string): number {
    const w = this.windows.get(key);
    return w && w.count > this.limit ? (w.resetAt - this.now()) / 1000 : 0;
  }

  hit(key: string): void {
    const now = this.now();
    const w = this.windows.get(key);
    if (!w || w.resetAt <= now) this.windows.set(key, { count: 1, resetAt: now + this.windowMs });
    else w.count += 1;
    if (this.windows.size > 100_000) this.sweep();
  }

  reset(key: string): void {
    this.windows.delete(key);
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
  }
}

/** A {@link WindowCounter} behind the shared-counter interface: the count of one process. */
export function localCounter(_name: string, limit: number, windowMs: number): SharedCounter {
  const counter = new WindowCounter(limit, windowMs);
  return {
    blockedFor: async (key) => counter.blockedFor(key),
    hit: async (key) => counter.hit(key),
    take: async (key) => counter.take(key),
    give: async (key) => counter.give(key),
    reset: async (key) => counter.reset(key),
  };
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
}

/**
 * At most `slots` tasks at once, at most `queue` waiting, at most `perKey` running or waiting for one
 * key (a client address). bcrypt runs on libuv's thread pool, which signature verification shares:
 * capping the hashes in flight keeps a login storm from starving it, bounding the queue keeps a
 * storm from delaying every login without limit, and a task whose client has gone (its signal
 * aborted) leaves the queue instead of being hashed for nobody.
 */
export class WorkQueue {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  private readonly perKeyCount = new Map<string, number>();

  constructor(
    private readonly slots: number,
    private readonly queue = Number.POSITIVE_INFINITY,
    private readonly perKey = Number.POSITIVE_INFINITY,
  ) {}

  /** Tasks running and waiting, for figures and tests. */
  get size(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }

  async run<T>(task: () => Promise<T>, options: { key?: string; signal?: AbortSignal } = {}): Promise<T> {
    const { key, signal } = options;
    if (signal?.aborted) throw new AbandonedError('the client has gone');
    if (key !== undefined && (this.perKeyCount.get(key) ?? 0) >= this.perKey)
      throw rateLimited('Too many logins in progress from this address; try again in a second.', 1);
    if (this.active >= this.slots && this.waiting.length >= this.queue)
      throw Object.assign(
        new Errors.UNAVAILABLE('The server is busy checking passwords; try again shortly.'),
        {
          retryAfter: 1,
        },
      );
    this.count(key, 1);
    try {
      if (this.active >= this.slots) await this.wait(key, signal);
      else this.active += 1;
      try {
        if (signal?.aborted) throw new AbandonedError('the client has gone');
        return await task();
      } finally {
        this.active -= 1;
        const next = this.waiting.shift();
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

  private wait(key: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new AbandonedError('the client has gone'));
      };
      const waiter: Waiter = {
        key,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private count(key: string | undefined, delta: number): void {
    if (key === undefined) return;
    const n = (this.perKeyCount.get(key) ?? 0) + delta;
    if (n > 0) this.perKeyCount.set(key, n);
    else this.perKeyCount.delete(key);
  }
}

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

/**
 * The key a per-address limit counts under: an IPv4 address as it is (IPv4-mapped IPv6 included),
 * an IPv6 address by its /64 — one subscriber usually holds a whole /64 and can pick any address in it.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (mapped && isIPv4(mapped)) return mapped;
  if (!isIPv6(ip)) return ip;
  const prefix = ipv6Groups(ip)
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':');
  return `${prefix}::/64`;
}
