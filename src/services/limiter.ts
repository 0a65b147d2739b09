import type { SharedCounter } from '../bus/types.js';

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
    reset: async (key) => counter.reset(key),
  };
}

/**
 * At most `slots` tasks at once; the rest wait in order. bcrypt runs on libuv's thread pool, which
 * signature verification shares: capping the hashes in flight keeps a login storm from starving it.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly slots: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.slots) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}
