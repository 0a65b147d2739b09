import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AbandonedError, addressKey, threadPoolSize, WorkQueue } from '../../../src/services/limiter.js';
import { WindowCounter } from '../../../src/util/window-counter.js';

/** A task held until `release`, recording when it starts. */
function heldTasks(order: string[]) {
  const releases = new Map<string, () => void>();
  return {
    task: (name: string) => () =>
      new Promise<string>((resolve) => {
        order.push(name);
        releases.set(name, () => resolve(name));
      }),
    release: async (name: string) => {
      releases.get(name)?.();
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe('the password-check queue is fair between addresses (accounts review, finding 6)', () => {
  it('gives a free slot to the addresses in turn, so a newcomer does not wait behind a backlog', async () => {
    const order: string[] = [];
    const { task, release } = heldTasks(order);
    const queue = new WorkQueue(1, 10);
    const runs = ['x1', 'x2', 'x3', 'x4', 'x5'].map((n) => queue.run(task(n), { key: 'x' }));
    runs.push(queue.run(task('y1'), { key: 'y' }));
    for (const name of ['x1', 'x2', 'y1', 'x3', 'x4', 'x5']) await release(name);
    await Promise.all(runs);
    expect(order).toEqual(['x1', 'x2', 'y1', 'x3', 'x4', 'x5']);
  });

  it('when full, a new address takes the last place of the longest line, which gets the 503', async () => {
    const order: string[] = [];
    const { task, release } = heldTasks(order);
    const queue = new WorkQueue(1, 4, 2);
    const run = (name: string, key: string) =>
      queue.run(task(name), { key }).catch((e: { statusCode: number }) => e.statusCode);
    const runs = [run('a1', 'a'), run('b1', 'b'), run('b2', 'b'), run('c1', 'c'), run('c2', 'c')];
    expect(queue.size).toEqual({ active: 1, waiting: 4 });
    // two addresses fill the queue; new ones still get a place, each taking one from the longest line
    const newcomers = [run('d1', 'd'), run('e1', 'e')];
    expect(queue.size).toEqual({ active: 1, waiting: 4 });
    // with no line longer than a newcomer's would be, the next one is refused
    expect(await run('f1', 'f')).toBe(503);
    for (const name of ['a1', 'b1', 'c1', 'd1', 'e1']) await release(name);
    expect(await Promise.all([...runs, ...newcomers])).toEqual(['a1', 'b1', 503, 'c1', 503, 'd1', 'e1']);
    expect(order).toEqual(['a1', 'b1', 'c1', 'd1', 'e1']);
  });
});

describe('tasks waiting under one signal (a rotation: one signature a member)', () => {
  it('hold one abort listener however many wait, and none once they ran or were abandoned', async () => {
    const order: string[] = [];
    const { task, release } = heldTasks(order);
    const queue = new WorkQueue(1);
    const stop = new AbortController();
    const listeners = () => getEventListeners(stop.signal, 'abort').length;
    const blocker = queue.run(task('blocker'));
    const runs = Array.from({ length: 20 }, (_, i) =>
      queue.run(task(`t${i}`), { signal: stop.signal }).catch((e: Error) => e),
    );
    expect(queue.size).toEqual({ active: 1, waiting: 20 });
    expect(listeners()).toBe(1);
    for (const name of ['blocker', 't0', 't1']) await release(name);
    expect(queue.size).toEqual({ active: 1, waiting: 17 });
    expect(listeners()).toBe(1);
    // the rotation stops: every task still waiting leaves the queue, the running one finishes
    stop.abort();
    await release('t2');
    const results = await Promise.all(runs);
    expect(results.slice(0, 3)).toEqual(['t0', 't1', 't2']);
    expect(results.slice(3).every((r) => r instanceof AbandonedError)).toBe(true);
    expect(order).toEqual(['blocker', 't0', 't1', 't2']);
    expect(queue.size).toEqual({ active: 0, waiting: 0 });
    expect(listeners()).toBe(0);
    await blocker;

    const other = new AbortController();
    const more = [
      queue.run(task('a')),
      ...['b', 'c'].map((n) => queue.run(task(n), { signal: other.signal })),
    ];
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(1);
    for (const name of ['a', 'b', 'c']) await release(name);
    expect(await Promise.all(more)).toEqual(['a', 'b', 'c']);
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
  });
});

describe('the in-memory counters (accounts review, finding 7)', () => {
  it('sweep ended windows at most once a second, and never hold more than their cap', () => {
    let now = 0;
    const counter = new WindowCounter(5, 1000, () => now, 100);
    for (let i = 0; i < 100; i++) counter.hit(`k${i}`);
    expect(counter.sweeps).toBe(0);
    for (let i = 100; i < 1100; i++) counter.hit(`k${i}`);
    // full from the 101st key on: one sweep (nothing had ended), then the oldest windows make room
    expect(counter.sweeps).toBe(1);
    expect(counter.size).toBe(100);
    now = 1500;
    for (let i = 0; i < 1000; i++) counter.hit(`n${i}`);
    expect(counter.sweeps).toBe(2);
    expect(counter.size).toBe(100);
    // a key still held keeps counting
    for (let i = 0; i < 6; i++) counter.hit('n999');
    expect(counter.blockedFor('n999')).toBeGreaterThan(0);
  });
});

describe('UV_THREADPOOL_SIZE (accounts review, finding 10)', () => {
  it('is read in one place; anything but a whole number 1-1024 means libuv default of 4', () => {
    expect(threadPoolSize(undefined)).toBe(4);
    expect(threadPoolSize('8')).toBe(8);
    for (const bad of ['', 'abc', '0', '-2', '2.5', '4x', '1e3', '2000']) expect(threadPoolSize(bad)).toBe(4);
  });
});

describe('addressKey (accounts review, finding 11)', () => {
  it('drops ports and brackets, and refuses anything that is not an IP address', () => {
    expect(addressKey('1.2.3.4:5555')).toBe('1.2.3.4');
    expect(addressKey('[2001:db8::1]:443')).toBe('2001:db8:0:0::/64');
    expect(addressKey('[2001:db8::1]')).toBe('2001:db8:0:0::/64');
    expect(addressKey('[::ffff:192.0.2.1]:80')).toBe('192.0.2.1');
    for (const bad of ['', 'alice', '1.2.3.4.5', '999.1.1.1', 'unknown', '1.2.3.4:x', '[alice]:1'])
      expect(() => addressKey(bad)).toThrow(/not an IP address/);
  });
});
