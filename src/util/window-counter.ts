/** Keys one in-memory counter holds at most, and how often it may walk them all to drop ended windows. */
export const MAX_COUNTER_KEYS = 100_000;
const SWEEP_INTERVAL_MS = 1000;

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
    private readonly maxKeys = MAX_COUNTER_KEYS,
  ) {}

  /** Windows held, for tests. */
  get size(): number {
    return this.windows.size;
  }

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
    if (w && w.resetAt > now) {
      w.count += 1;
      return;
    }
    if (!w && this.windows.size >= this.maxKeys) this.makeRoom(now);
    this.windows.set(key, { count: 1, resetAt: now + this.windowMs });
  }

  reset(key: string): void {
    this.windows.delete(key);
  }

  /** Full-map sweeps made so far (tests count them). */
  sweeps = 0;
  private lastSweep = Number.NEGATIVE_INFINITY;

  /**
   * Room for one more key: ended windows are swept at most once per second (a sweep walks the
   * whole map), and when the map is still full the oldest window goes — memory stays bounded
   * whatever the number of addresses, at the price of forgetting the oldest count first.
   */
  private makeRoom(now: number): void {
    if (now - this.lastSweep >= SWEEP_INTERVAL_MS) {
      this.lastSweep = now;
      this.sweeps += 1;
      for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
    }
    while (this.windows.size >= this.maxKeys) {
      const oldest = this.windows.keys().next();
      if (oldest.done) break;
      this.windows.delete(oldest.value);
    }
  }
}
