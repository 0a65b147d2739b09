/**
 * `node --import tsx bench/fanout.ts`: what fan-out to many idle streams costs the server's event
 * loop. The server runs in this process (so its event loop can be watched with `monitorEventLoopDelay`);
 * the streams are held by separate load processes on loopback. Two phases: heartbeats alone, then
 * a burst of presence changes (logins and logouts). Prints the longest stall and the p99 delay of
 * each. BENCH_STREAMS (default 10,000) sets the number of streams. Never part of `npm test`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { generateKeyPairSet, publicKeysOf } from '../src/crypto/keys.js';
import { loginLimits } from '../src/plugins/accounts.js';
import { createAccounts } from '../src/services/accounts.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { type Worker, worker } from './workers.js';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 10_000);
const PER_WORKER = 5000;
const HEARTBEAT_MS = 2000;
const FLIPPERS = 20;
const ROUNDS = 5;
const PASSWORD = 'bench-password';
const log = (text: string) => console.error(`[fanout] ${text}`);
const ms = (ns: number) => Math.round(ns / 1e5) / 10;

async function post(url: string, p: string, body?: unknown, token?: string) {
  const res = await fetch(url + p, {
    method: 'POST',
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`POST ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/**
 * The event loop's delay while `during` runs (the longest stall and the 99th percentile, in ms),
 * and the CPU time this process used meanwhile: on a loaded machine the delays include time the
 * process waited for a CPU, the CPU time does not.
 */
async function watch(during: () => Promise<void>) {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const started = performance.now();
  const cpu = process.cpuUsage();
  await during();
  const used = process.cpuUsage(cpu);
  histogram.disable();
  return {
    maxStallMs: ms(histogram.max),
    p99Ms: ms(histogram.percentile(99)),
    seconds: Math.round(performance.now() - started) / 1000,
    cpuSeconds: Math.round((used.user + used.system) / 1e4) / 100,
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'securechat-fanout-'));
  const workers: Worker[] = [];
  try {
    const dataDir = path.join(dir, 'data');
    const keys = publicKeysOf(await generateKeyPairSet());
    const users = ['holder', ...Array.from({ length: FLIPPERS }, (_, i) => `flip${i}`)];
    {
      const store = openSqliteStore(dataDir);
      const accounts = createAccounts({
        store,
        bcryptCost: 4,
        tokenTtlSeconds: 3600,
        signToken: () => '',
        ...loginLimits(loadConfig({})),
      });
      for (const username of users) await accounts.register(username, PASSWORD, keys);
      await store.close();
    }
    const config = loadConfig({
      SECURECHAT_DATA_DIR: dataDir,
      SECURECHAT_KEYS_DIR: path.join(dir, 'keys'),
      SECURECHAT_DEMO_USERS: 'false',
      BCRYPT_COST: '4',
      LOG_LEVEL: 'warn',
      SECURECHAT_HEARTBEAT_MS: String(HEARTBEAT_MS),
      SECURECHAT_MAX_STREAMS: '1000000',
      SECURECHAT_STREAM_OPEN_LIMIT: '1000000',
      SECURECHAT_LOGIN_LIMIT: '1000000',
      PRESENCE_GRACE_MS: '0',
      // every client of the bench is on this host: no cap on connections per address
      SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS: '0',
    });
    const app = await buildApp(config, { keySizes: { rsaBits: 2048 } });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const { token } = await post(url, '/auth/login', { username: 'holder', password: PASSWORD });

    log(`opening ${STREAMS} streams`);
    for (let left = STREAMS; left > 0; left -= PER_WORKER) {
      const w = await worker();
      workers.push(w);
      w.send({ op: 'idle', server: url, token, count: Math.min(PER_WORKER, left) });
    }
    let held = 0;
    for (const w of workers) held += (await w.next('idling')).opened as number;
    log(`${held} streams open`);

    // heartbeats alone: three intervals with nothing else going on
    const heartbeat = await watch(() => new Promise((resolve) => setTimeout(resolve, 3 * HEARTBEAT_MS)));
    log(`heartbeats: ${JSON.stringify(heartbeat)}`);

    // presence: each flipper logs in and out ROUNDS times, all at once (2 changes a round each)
    const presence = await watch(async () => {
      await Promise.all(
        Array.from({ length: FLIPPERS }, async (_, i) => {
          for (let r = 0; r < ROUNDS; r++) {
            const session = await post(url, '/auth/login', { username: `flip${i}`, password: PASSWORD });
            await post(url, '/auth/logout', undefined, session.token);
          }
        }),
      );
      await app.presence.settled();
      // the last changes are written within the coalescing window (at most a second)
      await new Promise((resolve) => setTimeout(resolve, 1200));
    });
    log(`presence (${FLIPPERS * ROUNDS * 2} changes): ${JSON.stringify(presence)}`);
    console.log(
      JSON.stringify({
        streams: held,
        heartbeatMs: HEARTBEAT_MS,
        heartbeat,
        presence,
        node: process.version,
      }),
    );
    await app.close();
  } finally {
    for (const w of workers) w.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
