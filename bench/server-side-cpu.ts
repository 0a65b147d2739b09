/** bench:instances' CPU of the server side, read from /proc (Linux): servers, PostgreSQL and Redis. */
import { readdir, readFile } from 'node:fs/promises';

/** utime, stime, cutime, cstime of every process, by pid, with its parent and command line. */
async function processes() {
  const all = new Map<number, { ppid: number; ticks: number; args: string }>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const args = (await readFile(`/proc/${name}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      all.set(Number(name), { ppid: Number(f[1]), ticks, args });
    } catch {
      // gone meanwhile
    }
  }
  return all;
}

/**
 * CPU ticks so far of the server side: the servers, and with PostgreSQL and Redis this run's
 * PostgreSQL (its postmaster, with its ended children, and every backend) and Redis, found by
 * their ports. Other helpers' processes on the machine are not counted.
 */
export async function serverSideTicks(serverPids: number[], postgres: boolean): Promise<Map<number, number>> {
  const all = await processes();
  const pids = new Set(serverPids);
  if (postgres) {
    const pgPort = new URL(process.env.DATABASE_URL as string).port;
    const redisPort = new URL(process.env.REDIS_URL as string).port;
    for (const [pid, p] of all) {
      if (p.args.includes('redis-server') && p.args.includes(`:${redisPort}`)) pids.add(pid);
      if (/postgres /.test(p.args) && p.args.includes(`-p ${pgPort}`)) {
        pids.add(pid);
        for (const [child, c] of all) if (c.ppid === pid) pids.add(child);
      }
    }
  }
  return new Map([...pids].map((pid) => [pid, all.get(pid)?.ticks ?? 0]));
}

export const ticksBetween = (before: Map<number, number>, after: Map<number, number>) =>
  [...after].reduce((sum, [pid, ticks]) => sum + ticks - (before.get(pid) ?? 0), 0);
