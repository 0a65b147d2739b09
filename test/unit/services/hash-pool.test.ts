import os from 'node:os';
import bcrypt from 'bcrypt';
import { describe, expect, it } from 'vitest';
import { eventLoopBusy, HASH_NICE, lowPriorityBcrypt } from '../../../src/services/hash-pool.js';

const PASSWORD = 'a long enough secret';

describe('bcrypt on low-priority threads of its own (performance round 3, #5)', () => {
  it('hashes and compares as the bcrypt package does', async () => {
    const pool = lowPriorityBcrypt(1);
    const ours = await pool.hash(PASSWORD, 4);
    expect(pool.getRounds(ours)).toBe(4);
    expect(await bcrypt.compare(PASSWORD, ours)).toBe(true);
    const theirs = await bcrypt.hash(PASSWORD, 4);
    expect(await pool.compare(PASSWORD, theirs)).toBe(true);
    expect(await pool.compare('another secret!', theirs)).toBe(false);
    // a malformed hash fails the comparison, as with the package
    expect(await pool.compare(PASSWORD, 'not a hash')).toBe(await bcrypt.compare(PASSWORD, 'not a hash'));
  });

  it('runs at most its number of threads at once; the others wait their turn and all finish', async () => {
    const pool = lowPriorityBcrypt(2, () => false);
    let most = 0;
    let done = 0;
    const hashes = Array.from({ length: 7 }, (_, i) =>
      pool.hash(`${PASSWORD} ${i}`, 6).finally(() => {
        done += 1;
      }),
    );
    while (done < hashes.length) {
      most = Math.max(most, pool.running());
      await new Promise((r) => setImmediate(r));
    }
    expect(most).toBe(2);
    const results = await Promise.all(hashes);
    for (const [i, hash] of results.entries())
      expect(await bcrypt.compare(`${PASSWORD} ${i}`, hash)).toBe(true);
  });

  it.runIf(process.platform === 'linux')(
    'hashes below the priority of the event loop while the server is busy, at its own while idle',
    async () => {
      let busy = true;
      const pool = lowPriorityBcrypt(2, () => busy, 60_000);
      await Promise.all([pool.hash(PASSWORD, 4), pool.hash(PASSWORD, 4)]);
      expect(pool.priorities()).toEqual([HASH_NICE, HASH_NICE]);
      expect(HASH_NICE).toBeGreaterThan(os.getPriority());
      // the event loop keeps its priority
      expect(os.getPriority()).toBe(os.getPriority(process.pid));
      busy = false;
      await Promise.all([pool.hash(PASSWORD, 4), pool.hash(PASSWORD, 4)]);
      expect(pool.priorities()).toEqual([HASH_NICE, HASH_NICE, os.getPriority(), os.getPriority()]);
    },
  );

  it('hashes again at normal priority when a low-priority hash is starved, the first answer counting', async () => {
    // a rescue at once: every hash also runs on a thread at normal priority
    const pool = lowPriorityBcrypt(1, () => true, 0);
    const hash = await pool.hash(PASSWORD, 4);
    expect(await bcrypt.compare(PASSWORD, hash)).toBe(true);
    expect(await pool.compare(PASSWORD, hash)).toBe(true);
    expect(await pool.compare('another secret!', hash)).toBe(false);
    if (process.platform === 'linux')
      expect(new Set(pool.priorities())).toEqual(new Set([HASH_NICE, os.getPriority()]));
  });

  it('calls the event loop busy while it is kept at work, and not once it idles', async () => {
    eventLoopBusy();
    const spin = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    // (wall-clock spins: the sampler measures the event loop's time at work, not CPU time)
    // busy: the loop works 20 ms of every 25 (no sleeps to wait: the sampler's own turns decide)
    for (let seen = false; !seen; ) {
      spin(20);
      await new Promise((r) => setTimeout(r, 5));
      seen = eventLoopBusy();
    }
    // idle
    for (let seen = true; seen; ) {
      await new Promise((r) => setTimeout(r, 50));
      seen = eventLoopBusy();
    }
  });
});
