/**
 * What a deeply nested JSON body costs the server, and what a flood of them does to everyone else
 * (security round 2, #1). Starts the real server in its own process on a temp folder, then prints:
 * the time of one 1 MiB body `[[[…]]]` (and of a flat one of the same size) on `POST /nope`,
 * `POST /auth/login` and `POST /users` (median of 5, with their statuses); `/health` latency while
 * quiet; and `/health` latency while two senders post the nested body to `/nope` back to back for
 * 10 s (asked every 50 ms), with what the senders got. Never part of `npm test`.
 *
 *   node --import tsx bench/nested-json.ts
 *   SENDER_RATE=3 node --import tsx bench/nested-json.ts    (each sender at most 3 requests a second)
 *
 * The server's settings may be given in the environment (e.g. a higher SECURECHAT_NOT_FOUND_LIMIT
 * to see the cost of unknown paths without their limit).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { startServerProcess } from '../scripts/child.js';
import { percentile, round } from './measure.js';
import { stopProcess } from './setup.js';

const MiB = 1024 * 1024;
const nested = Buffer.from(`${'['.repeat(MiB / 2)}${']'.repeat(MiB / 2)}`);
const flat = Buffer.from(JSON.stringify({ data: 'x'.repeat(MiB - 11) }));
const FLOOD_MS = Number(process.env.FLOOD_MS ?? 10_000);
/** Requests a second each sender starts at most; 0 (the default) sends back to back, as the review did. */
const SENDER_RATE = Number(process.env.SENDER_RATE ?? 0);

const root = await mkdtemp(path.join(tmpdir(), 'securechat-bench-nested-'));
const server = await startServerProcess(
  {
    SECURECHAT_DATA_DIR: path.join(root, 'data'),
    SECURECHAT_KEYS_DIR: path.join(root, 'keys'),
    SECURECHAT_DEMO_USERS: 'false',
    LOG_LEVEL: 'error',
  },
  [],
  { endWithParent: true },
);
const { url } = server;

/** One POST of `body`; resolves with the status (or the error's code) and the time to the answer. */
async function post(
  route: string,
  body: Buffer,
  dispatcher?: Agent,
): Promise<{ ms: number; status: string }> {
  const start = performance.now();
  try {
    const res = await request(`${url}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      dispatcher,
    });
    await res.body.dump();
    return { ms: performance.now() - start, status: String(res.statusCode) };
  } catch (error) {
    return { ms: performance.now() - start, status: (error as { code?: string }).code ?? 'error' };
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const counts = (xs: string[]) =>
  Object.fromEntries([...new Set(xs)].map((x) => [x, xs.filter((y) => y === x).length]));

async function cost(route: string, body: Buffer) {
  const runs = [];
  for (let i = 0; i < 5; i++) runs.push(await post(route, body));
  return { medianMs: round(median(runs.map((r) => r.ms))), statuses: counts(runs.map((r) => r.status)) };
}

const healthAgent = new Agent({ connections: 1 });
async function health(): Promise<number> {
  const start = performance.now();
  const res = await request(`${url}/health`, { dispatcher: healthAgent });
  await res.body.dump();
  return performance.now() - start;
}

/** /health asked every 50 ms until `until` resolves: p50, p99 and max in ms. */
async function healthWhile(until: Promise<unknown>) {
  let done = false;
  until.then(() => {
    done = true;
  });
  const times: number[] = [];
  while (!done) {
    const tick = performance.now();
    times.push(await health());
    const rest = 50 - (performance.now() - tick);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
  const sorted = times.sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1]),
  };
}

try {
  for (let i = 0; i < 20; i++) await health(); // warm up
  const costs = {
    nopeNested: await cost('/nope', nested),
    nopeFlat: await cost('/nope', flat),
    loginNested: await cost('/auth/login', nested),
    loginFlat: await cost('/auth/login', flat),
    usersNested: await cost('/users', nested),
    usersFlat: await cost('/users', flat),
  };
  const quiet = await healthWhile(new Promise((r) => setTimeout(r, 3000)));
  const statuses: string[] = [];
  const sender = async (deadline: number) => {
    const agent = new Agent({ connections: 1 });
    while (performance.now() < deadline) {
      const start = performance.now();
      statuses.push((await post('/nope', nested, agent)).status);
      const rest = SENDER_RATE > 0 ? 1000 / SENDER_RATE - (performance.now() - start) : 0;
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    }
    await agent.close();
  };
  const deadline = performance.now() + FLOOD_MS;
  const flood = Promise.all([sender(deadline), sender(deadline)]);
  const during = await healthWhile(flood);
  await flood;
  console.log(
    JSON.stringify(
      {
        costs,
        healthQuiet: quiet,
        healthDuringFlood: during,
        flood: {
          seconds: FLOOD_MS / 1000,
          requests: statuses.length,
          perSecond: round(statuses.length / (FLOOD_MS / 1000)),
          statuses: counts(statuses),
        },
      },
      null,
      2,
    ),
  );
} finally {
  await healthAgent.close();
  await stopProcess(server.child);
  await rm(root, { recursive: true, force: true });
}
