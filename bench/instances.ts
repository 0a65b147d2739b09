/**
 * `npm run bench:instances`: what the PostgreSQL store and the Redis bus cost, and what a second
 * instance brings. The same chat of 10 (half its members listening on each instance) is driven on:
 * SQLite with the in-process bus (one instance), PostgreSQL with Redis (one instance), and
 * PostgreSQL with Redis (two instances, senders and listeners split between them). Prints accepted
 * messages/s, deliveries/s, and post-to-delivery latency for listeners on the sender's instance and
 * on the other one. Runs under scripts/with-backends.sh (which the npm script does), on loopback;
 * the servers, PostgreSQL, Redis and this load process all share this machine's CPUs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Agent, request } from 'undici';
import { startServerProcess } from '../scripts/child.js';
import { openStore } from '../src/bootstrap/backends.js';
import {
  composeMessage,
  importChatKey,
  importEncryptionKey,
  importPrivatePem,
  importServerKey,
  openEnvelope,
  readBlocks,
} from '../src/client/index.js';
import { nodeFetch, nodeSignatures } from '../src/client/node/index.js';
import { loadConfig } from '../src/config.js';
import { generateKeyPairSet, publicKeysOf } from '../src/crypto/keys.js';
import { loginLimits } from '../src/plugins/accounts.js';
import { createAccounts } from '../src/services/accounts.js';
import { caller } from './api.js';
import { serverSideTicks, ticksBetween } from './server-side-cpu.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
/** `--runs N`: each setup N times, interleaved (SQLite, then PostgreSQL, …), medians printed. */
const RUNS = Number(process.argv[process.argv.indexOf('--runs') + 1] ?? 1) || 1;
/** `--one`: PostgreSQL + Redis on one instance only (the two-instance setup skipped). */
const ONE = process.argv.includes('--one');
const CONCURRENCY = 16; // posts in flight per sender
const MEMBERS = 10;
const PASSWORD = 'bench-password';
const log = (text: string) => console.error(`[bench:instances] ${text}`);
const agent = new Agent({ connections: 64, pipelining: 1, keepAliveTimeout: 60_000, bodyTimeout: 0 });

const as = caller(nodeFetch({ connections: 64 }).fetch);

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : Number.NaN;

/** Reads a stream, recording when each message (by id) arrives. */
async function listen(url: string, token: string, arrivals: Map<string, number>[], slot: number) {
  const abort = new AbortController();
  const res = await request(`${url}/events`, {
    dispatcher: agent,
    headers: { authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  const map = new Map<string, number>();
  arrivals[slot] = map;
  void (async () => {
    try {
      await readBlocks(res.body, (block) => {
        if (block.event === 'message' && block.data !== undefined)
          map.set(JSON.parse(block.data).message.id, performance.now());
      });
    } catch {
      // aborted at the end
    }
  })();
  return () => abort.abort();
}

async function run(
  label: string,
  env: Record<string, string>,
  instances: number,
  keys: Awaited<ReturnType<typeof generateKeyPairSet>>,
) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'securechat-bench-instances-'));
  const serverEnv = {
    ...env,
    SECURECHAT_DATA_DIR: path.join(dir, 'data'),
    SECURECHAT_KEYS_DIR: path.join(dir, 'keys'),
    SECURECHAT_DEMO_USERS: 'false',
    LOG_LEVEL: 'warn',
    SECURECHAT_POST_LIMIT: '100000000',
    SECURECHAT_LOGIN_LIMIT: '1000000',
    // the cost the members were registered at: their logins rehash nothing (this measures posts)
    BCRYPT_COST: '4',
    SECURECHAT_ROTATE_MESSAGES: '1000000000',
    PRESENCE_GRACE_MS: '3600000',
    // every client of the bench is on this host: no cap on connections per address
    SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS: '0',
  };
  const names = Array.from({ length: MEMBERS }, (_, i) => `m${i}`);
  {
    const config = loadConfig(serverEnv);
    const store = await openStore(config, { warn: () => {}, error: console.error });
    const accounts = createAccounts({
      store,
      bcryptCost: 4,
      tokenTtlSeconds: 3600,
      signToken: () => '',
      ...loginLimits(config),
    });
    for (const name of names) await accounts.register(name, PASSWORD, publicKeysOf(keys));
    await store.close();
  }
  const servers: Awaited<ReturnType<typeof startServerProcess>>[] = [];
  for (let i = 0; i < instances; i++) servers.push(await startServerProcess(serverEnv));
  try {
    // member i talks to instance i % instances
    const urlOf = (i: number) => servers[i % instances].url;
    const tokens: string[] = [];
    for (let i = 0; i < MEMBERS; i++) tokens.push((await as(urlOf(i)).login(names[i], PASSWORD)).token);
    const arrivals: Map<string, number>[] = [];
    const stops = [];
    for (let i = 2; i < MEMBERS; i++) stops.push(await listen(urlOf(i), tokens[i], arrivals, i));
    const created = await as(urlOf(0), tokens[0]).createChat({ invitees: names.slice(1) });
    const chatId = created.chat.id;
    for (let i = 1; i < MEMBERS; i++) await as(urlOf(i), tokens[i]).joinChat(chatId);
    // after the joins (no key change: joining is not a membership change that rotates)
    const envelope = await as(urlOf(0), tokens[0]).getChatKey(chatId);
    const serverKey = (await as(urlOf(0), tokens[0]).getServerKey()).publicKey;
    // every member registered the same bench key set, so member 1 opens member 0's envelope too
    const provider = nodeSignatures();
    const chatKey = await importChatKey(
      await openEnvelope(
        envelope,
        { chatId },
        {
          highest: 0,
          username: names[0],
          serverKey: (await importServerKey(serverKey)).key,
          encryptionKey: await importEncryptionKey(keys.encryption.privateKey),
        },
      ),
    );
    const signingKey = await importPrivatePem(provider, 'ed25519', keys.signing.ed25519.privateKey);
    const epoch = envelope.epoch as number;

    // members 0 and 1 send (on instances 0 and 1 when there are two), closed loop
    const sentAt = new Map<string, { at: number; instance: number }>();
    let accepted = 0;
    const deadline = performance.now() + SECONDS * 1000;
    const sender = async (i: number) => {
      while (performance.now() < deadline) {
        const body = await composeMessage(provider, {
          chatId,
          epoch,
          sender: names[i],
          key: chatKey,
          text: 'x'.repeat(200),
          alg: 'ed25519',
          signingKey,
        });
        sentAt.set(body.id, { at: performance.now(), instance: i % instances });
        await as(urlOf(i), tokens[i]).postMessage(chatId, body);
        accepted++;
      }
    };
    const postgres = env.SECURECHAT_STORE === 'postgres';
    const serverPids = servers.map((s) => s.child.pid as number);
    const ticksBefore = await serverSideTicks(serverPids, postgres);
    const started = performance.now();
    await Promise.all([0, 1].flatMap((i) => Array.from({ length: CONCURRENCY }, () => sender(i))));
    const elapsed = (performance.now() - started) / 1000;
    const ticks = ticksBetween(ticksBefore, await serverSideTicks(serverPids, postgres));
    // every listener gets every accepted message; wait for the stragglers (bounded)
    const want = accepted * (MEMBERS - 2);
    const count = () => arrivals.reduce((n, m) => n + (m?.size ?? 0), 0);
    for (let waited = 0; count() < want && waited < 30_000; waited += 50)
      await new Promise((r) => setTimeout(r, 50));
    for (const stop of stops) stop();
    const same: number[] = [];
    const other: number[] = [];
    arrivals.forEach((map, slot) => {
      for (const [id, at] of map) {
        const sent = sentAt.get(id);
        if (sent) (sent.instance === slot % instances ? same : other).push(at - sent.at);
      }
    });
    same.sort((a, b) => a - b);
    other.sort((a, b) => a - b);
    const ms = (sorted: number[], p: number) =>
      sorted.length ? `${percentile(sorted, p).toFixed(1)} ms` : '—';
    const row = {
      label,
      instances,
      load: os.loadavg()[0].toFixed(2),
      accepted: Math.round(accepted / elapsed),
      // server-side CPU (ticks of 10 ms) per accepted message: what other load on the machine
      // does not change as much as it changes messages/s
      cpuMicros: Math.round((ticks * 10_000) / Math.max(1, accepted)),
      deliveries: Math.round(count() / elapsed),
      delivered: `${count()}/${want}`,
      sameP50: ms(same, 50),
      sameP99: ms(same, 99),
      otherP50: ms(other, 50),
      otherP99: ms(other, 99),
    };
    log(JSON.stringify(row));
    return row;
  } finally {
    for (const s of servers) s.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

async function newDatabase(): Promise<string> {
  const admin = process.env.DATABASE_URL as string;
  const name = `securechat_bench_${Date.now()}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

async function main() {
  if (!process.env.DATABASE_URL || !process.env.REDIS_URL)
    throw new Error('run me with npm run bench:instances');
  const keys = await generateKeyPairSet({ rsaBits: 2048 });
  const rows: Awaited<ReturnType<typeof run>>[] = [];
  const postgres = async (instances: number, r: number) =>
    run(
      'PostgreSQL + Redis',
      {
        SECURECHAT_STORE: 'postgres',
        DATABASE_URL: await newDatabase(),
        SECURECHAT_BUS: 'redis',
        REDIS_URL: process.env.REDIS_URL as string,
        SECURECHAT_REDIS_PREFIX: `bench${instances}r${r}:`,
      },
      instances,
      keys,
    );
  // interleaved, so that SQLite and PostgreSQL see the same load from the rest of the machine
  for (let r = 0; r < RUNS; r++) {
    rows.push(await run('SQLite, in-process bus', {}, 1, keys));
    for (const instances of ONE ? [1] : [1, 2]) rows.push(await postgres(instances, r));
  }
  console.log(
    `\nChat of ${MEMBERS}, 2 senders × ${CONCURRENCY} in flight, Ed25519, ${SECONDS} s each, ${os.cpus().length} CPUs shared by everything`,
  );
  console.log(
    '| backend | instances | accepted msg/s | server-side CPU µs/msg | deliveries/s | delivered | p50 same instance | p99 same | p50 other instance | p99 other | load average (1 min) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.label} | ${r.instances} | ${r.accepted} | ${r.cpuMicros} | ${r.deliveries} | ${r.delivered} | ${r.sameP50} | ${r.sameP99} | ${r.otherP50} | ${r.otherP99} | ${r.load} |`,
    );
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  // per run, PostgreSQL against the SQLite run just before it (the load of the machine moves)
  const sqliteRuns = rows.filter((r) => r.label.startsWith('SQLite'));
  const pgRuns = rows.filter((r) => r.label.startsWith('PostgreSQL') && r.instances === 1);
  const ratios = (pick: (r: (typeof rows)[number]) => number) =>
    pgRuns.map((r, i) => Math.round((100 * pick(r)) / pick(sqliteRuns[i])));
  const accepted = ratios((r) => r.accepted);
  // SQLite's CPU per message against PostgreSQL's: 100% when PostgreSQL costs as little
  const cpu = pgRuns.map((r, i) => Math.round((100 * sqliteRuns[i].cpuMicros) / r.cpuMicros));
  console.log(
    `\none instance, PostgreSQL + Redis against SQLite in the same run: accepted msg/s ${accepted.join(', ')}% (median ${median(accepted)}%); SQLite's server-side CPU µs/msg is ${cpu.join(', ')}% of PostgreSQL's (median ${median(cpu)}%)`,
  );
  console.log('\nreproduce: npm run bench:instances [-- --runs 3 --one]');
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
