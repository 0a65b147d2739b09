/** What every bench section measures with: CPU and memory of a process, figures over repeats, CPU pinning. */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';

/** Kernel clock ticks per second (CPU time in /proc is counted in these; 100 on Linux). */
export const TICKS_PER_SECOND = 100;

/** User + system CPU time of a process, in ticks. */
export async function cpuTicks(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

export const rssBytes = (pid: number) =>
  readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+)/.exec(s)?.[1]) * 1024);

export const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;
export const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** A figure measured several times: the median, the spread (largest − smallest) and every run. */
export interface Figure {
  median: number;
  spread: number;
  runs: number[];
}

export function figure(runs: number[], digits = 1): Figure {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)] : (sorted[mid - 1] + sorted[mid]) / 2;
  return {
    median: round(median, digits),
    spread: round(sorted[sorted.length - 1] - sorted[0], digits),
    runs: runs.map((r) => round(r, digits)),
  };
}

/** Runs `measure` `times` times, one after the other. */
export async function repeated<T>(times: number, measure: (run: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < times; i++) out.push(await measure(i));
  return out;
}

/**
 * Pins the server side to CPU 0 and the load (this process and the workers it forks, which
 * inherit it) to CPU 1, with taskset, when there is more than one CPU and taskset exists; every
 * thread of a process is pinned (-a), and threads it starts later inherit it.
 */
export function pinning() {
  let used = false;
  try {
    if (os.cpus().length >= 2) {
      execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
      used = true;
    }
  } catch {
    used = false;
  }
  return {
    used,
    server: used ? 'CPU 0' : 'unpinned',
    load: used ? 'CPU 1' : 'unpinned',
    /** Moves a server-side process (the server, the baseline) to CPU 0. */
    server0(pid: number): void {
      if (used) execFileSync('taskset', ['-a', '-p', '-c', '0', String(pid)], { stdio: 'ignore' });
    },
  };
}
export type Pinning = ReturnType<typeof pinning>;
