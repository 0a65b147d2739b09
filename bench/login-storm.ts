/**
 * Latency under a login storm (performance round 3, #5): p99 post-to-delivery at 500 msg/s in a
 * chat of 10 (Ed25519, open loop, from the scheduled send), quiet and during 50 concurrent logins
 * of a cost-12 user, on the real server in its own process pinned to CPU 0 with the load on CPU 1
 * (bench/measure.ts `pinning`). `--busy` also runs a process that spins on CPU 0 beside the server
 * all along, so that the server has about half a CPU: where bcrypt's threads and the event loop
 * must share what little there is. `--runs N` (default 3) repeats quiet-then-storm N times and
 * prints each pair and the medians, with the load average beside each. Never part of `npm test`.
 *
 *   node --import tsx bench/login-storm.ts [--busy] [--runs 3]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSet, publicKeysOf } from '../src/crypto/keys.js';
import { percentile, pinning, round } from './measure.js';
import { makeChat, registerUsers, startBenchServer } from './setup.js';
import { load } from './throughput.js';
import { worker } from './workers.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] ?? 3) || 3;
const busy = process.argv.includes('--busy');
const log = (text: string) => console.error(`[bench:login-storm] ${text}`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const pin = pinning();
const dir = await mkdtemp(path.join(os.tmpdir(), 'securechat-bench-storm-'));
const cleanup: (() => void)[] = [];
let hog: ChildProcess | undefined;
try {
  const pairs = await generateKeyPairSet({ rsaBits: 2048 });
  log('registering 10 users (cost 4) and the storm user (cost 12)');
  await registerUsers(path.join(dir, 'data'), 10, publicKeysOf(pairs));
  const s = await startBenchServer(dir, 10, pin, [], cleanup);
  const ten = await makeChat(s, pairs, 10);
  if (busy) {
    hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    pin.server0(hog.pid as number);
    cleanup.push(() => hog?.kill('SIGKILL'));
  }
  const at500 = (seconds: number) =>
    load(
      s,
      pairs,
      s.url,
      ten,
      10,
      { alg: 'ed25519', count: 500 * seconds, seconds, rate: 500, cpuPid: s.pid },
      cleanup,
    );
  const rows: { quiet: number; storm: number; logins: number; load: string }[] = [];
  for (let r = 0; r < runs; r++) {
    const quiet = await at500(3);
    const storm = await worker();
    cleanup.push(() => storm.stop());
    storm.send({
      op: 'logins',
      server: s.url,
      username: 'storm',
      password: 'bench-password',
      concurrency: 50,
      seconds: 4,
    });
    const stormy = await at500(3);
    const logins = await storm.next('logged-in');
    storm.send({ op: 'exit' });
    const row = {
      quiet: round(percentile(quiet.latencies, 99), 2),
      storm: round(percentile(stormy.latencies, 99), 2),
      logins: logins.count as number,
      load: os.loadavg()[0].toFixed(2),
    };
    log(JSON.stringify(row));
    rows.push(row);
  }
  console.log(
    `\nChat of 10, Ed25519, 500 msg/s open loop; storm: 50 concurrent logins at cost 12; server on ${pin.server}, load on ${pin.load}${busy ? ', a spinning process beside the server' : ''}`,
  );
  console.log(
    '| run | p99 quiet | p99 storm | storm ÷ quiet | logins answered in the storm | load average (1 min) |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const [i, r] of rows.entries())
    console.log(
      `| ${i + 1} | ${r.quiet} ms | ${r.storm} ms | ${round(r.storm / r.quiet, 2)} | ${r.logins} | ${r.load} |`,
    );
  const [q, st] = [median(rows.map((r) => r.quiet)), median(rows.map((r) => r.storm))];
  console.log(`\nmedians of ${runs}: p99 quiet ${q} ms, storm ${st} ms, storm ÷ quiet ${round(st / q, 2)}`);
} finally {
  for (const f of cleanup) {
    try {
      f();
    } catch {
      // already gone
    }
  }
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
