import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import bcrypt from 'bcrypt';

/**
 * The scheduling priority (nice) of the threads that hash while the server is busy. Linux gives a
 * thread at nice 10 about a tenth of a CPU that a thread at nice 0 (the event loop, libuv's pool)
 * also wants, and all of it when nobody else does: a login storm takes what the server has to
 * spare, not the time that delivery and signature verification need.
 */
export const HASH_NICE = 10;

/**
 * The server is busy when its event loop was at work more than this share of the last moments
 * (`performance.eventLoopUtilization`, sampled every {@link SAMPLE_MS}): hashes then start on the
 * low-priority threads. An idle server hashes at normal priority, so that logins do not wait
 * behind other processes of the machine when there is nothing of the server's own to protect (a
 * thread may lower its priority, never raise it again: the two kinds are kept apart).
 */
export const BUSY_UTILIZATION = 0.2;
const SAMPLE_MS = 100;

/**
 * A hash on a low-priority thread that has not finished after this long is started again at
 * normal priority (the first answer counts): where other processes leave the server little CPU, a
 * low priority must not keep logins waiting without limit. (A cost-12 hash takes about 0.25 s of
 * CPU.)
 */
export const RESCUE_MS = 1000;

let sampler: { busy: boolean } | undefined;

/** Whether this process's event loop is busy (see {@link BUSY_UTILIZATION}); sampled while asked. */
export function eventLoopBusy(): boolean {
  if (!sampler) {
    const state = { busy: false };
    let last = performance.eventLoopUtilization();
    setInterval(() => {
      const now = performance.eventLoopUtilization();
      state.busy = performance.eventLoopUtilization(now, last).utilization > BUSY_UTILIZATION;
      last = now;
    }, SAMPLE_MS).unref();
    sampler = state;
  }
  return sampler.busy;
}

/** The hashing threads' code: bcrypt's synchronous calls, each on the thread that asked for it. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
try {
  // Linux: /proc/thread-self names this thread; a thread may always lower its own priority
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (workerData.nice !== undefined) require('node:os').setPriority(tid, workerData.nice);
  parentPort.postMessage({ nice: require('node:os').getPriority(tid) });
} catch {
  parentPort.postMessage({ nice: require('node:os').getPriority() });
}
const bcrypt = require(workerData.bcrypt);
parentPort.on('message', ({ id, op, password, arg }) => {
  try {
    const value = op === 'hash' ? bcrypt.hashSync(password, arg) : bcrypt.compareSync(password, arg);
    parentPort.postMessage({ id, value });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) });
  }
});
`;

type Job = { op: 'hash'; password: string; arg: number } | { op: 'compare'; password: string; arg: string };

/** What accounts.ts hashes with: the `bcrypt` package, or {@link lowPriorityBcrypt}. */
export interface Hasher {
  hash(password: string, rounds: number): Promise<string>;
  compare(password: string, hash: string): Promise<boolean>;
  getRounds(hash: string): number;
}

interface Call {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  settled?: boolean;
}

interface Thread {
  worker: Worker;
  /** Started to run at {@link HASH_NICE} (else at the process's own priority). */
  low: boolean;
  /** The priority it runs at, once it said (undefined until then). */
  nice?: number;
  busy: boolean;
}

/**
 * bcrypt with the interface of the `bcrypt` package (`hash`, `compare`, `getRounds`), run on threads
 * of its own instead of on libuv's pool, which signature verification and envelope signing use; a
 * hash that starts while the server is `busy` runs at a low priority ({@link HASH_NICE}), and again
 * at normal priority if it has not finished after `rescueMs`. At most
 * `threads` hashes run at once (more wait here, in order); the callers' own queue (limiter.ts
 * `WorkQueue`) decides how many may ask. Threads start when first needed and keep the process
 * alive only while they hash.
 */
export function lowPriorityBcrypt(
  threads: number,
  busy: () => boolean = eventLoopBusy,
  rescueMs = RESCUE_MS,
): Hasher & {
  running: () => number;
  priorities: () => (number | undefined)[];
} {
  const path = createRequire(import.meta.url).resolve('bcrypt');
  const pool: Thread[] = [];
  const waiting: (Call & { job: Job })[] = [];
  const pending = new Map<number, { call: Call; thread: Thread }>();
  let ids = 0;

  function spawn(low: boolean): Thread {
    const nice = low ? HASH_NICE : undefined;
    const worker = new Worker(WORKER, { eval: true, workerData: { nice, bcrypt: path } });
    const thread: Thread = { worker, low, busy: false };
    worker.unref();
    worker.on('message', (m: { id?: number; nice?: number; value?: unknown; error?: string }) => {
      if (m.id === undefined) {
        thread.nice = m.nice;
        return;
      }
      const entry = pending.get(m.id);
      pending.delete(m.id);
      thread.busy = false;
      thread.worker.unref();
      if (entry && !entry.call.settled) {
        entry.call.settled = true;
        if (m.error !== undefined) entry.call.reject(new Error(m.error));
        else entry.call.resolve(m.value);
      }
      next();
    });
    worker.on('error', (error) => {
      // a thread that fails goes; what it was doing fails with it, and the next call starts another
      pool.splice(pool.indexOf(thread), 1);
      for (const [id, entry] of pending) {
        if (entry.thread !== thread) continue;
        pending.delete(id);
        if (!entry.call.settled) {
          entry.call.settled = true;
          entry.call.reject(error);
        }
      }
      next();
    });
    pool.push(thread);
    return thread;
  }

  function start(thread: Thread, job: Job, call: Call): void {
    const id = ++ids;
    thread.busy = true;
    // kept alive while it hashes (a script that awaits only a hash must not end first), not idle
    thread.worker.ref();
    pending.set(id, { call, thread });
    thread.worker.postMessage({ id, ...job });
  }

  function next(): void {
    while (waiting.length > 0 && pool.filter((t) => t.busy).length < threads) {
      const low = busy();
      const thread =
        pool.find((t) => !t.busy && t.low === low) ??
        (pool.filter((t) => t.low === low).length < threads ? spawn(low) : undefined);
      if (!thread) return;
      const { job, ...call } = waiting.shift() as Call & { job: Job };
      start(thread, job, call);
      if (!low) continue;
      // starved (the machine is busy with more than this server): the same work at normal
      // priority too, and the first answer counts
      setTimeout(() => {
        if (call.settled) return;
        start(pool.find((t) => !t.busy && !t.low) ?? spawn(false), job, call);
      }, rescueMs).unref();
    }
  }

  function run<T>(job: Job): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      waiting.push({ job, resolve: resolve as (v: unknown) => void, reject });
      next();
    });
  }

  return {
    hash: (password: string, rounds: number) => run<string>({ op: 'hash', password, arg: rounds }),
    compare: (password: string, hash: string) => run<boolean>({ op: 'compare', password, arg: hash }),
    getRounds: (hash: string) => bcrypt.getRounds(hash),
    /** Hashes running now, and the priority each thread runs at (for tests and figures). */
    running: () => pool.filter((t) => t.busy).length,
    priorities: () => pool.map((t) => t.nice),
  };
}

let shared: Hasher | undefined;

/**
 * The process's one set of hashing threads (as many as CPUs at most: more would only share them),
 * started when first used; every server of the process hashes there.
 */
export function sharedLowPriorityBcrypt(): Hasher {
  shared ??= lowPriorityBcrypt(Math.max(1, availableParallelism()));
  return shared;
}
