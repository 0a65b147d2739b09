/** Closed- and open-loop load against a server, and the figures per scheme and per chat size. */
import os from 'node:os';
import type { KeyPairSet, SignatureAlgorithm } from '../src/crypto/keys.js';
import { type BaselineProcess, verifyMicros } from './baselines.js';
import { cpuTicks, type Figure, figure, repeated, TICKS_PER_SECOND } from './measure.js';
import { type AgainstRelay, againstRelay, type Overheads, overheads } from './ratios.js';
import { type BenchChat, type BenchServer, databaseBytes, name } from './setup.js';
import { worker } from './workers.js';

const log = (text: string) => console.error(`[bench] ${text}`);
/** Says when a counted window held fewer ticks than asked (its figure is noisier than it should be). */
const warnShort = (what: string, ticks: number[], minTicks: number) => {
  if (ticks.some((t) => t < minTicks))
    log(`  ${what}: windows of ${ticks.join(', ')} ticks, fewer than ${minTicks}`);
};

export interface LoadOptions {
  alg: SignatureAlgorithm;
  /** Messages prepared (signed) before the window; the window ends early if they run out. */
  count: number;
  seconds: number;
  /** Open loop at this rate/s; closed loop (64 in flight) without it. */
  rate?: number;
  /** The process whose CPU time is counted over the window. */
  cpuPid: number;
}

/** Posts prepared messages from one worker while another holds `size` streams; returns the figures. */
export async function load(
  s: BenchServer,
  pairs: KeyPairSet,
  url: string,
  chat: BenchChat,
  size: number,
  o: LoadOptions,
  cleanup: (() => void)[],
) {
  const listener = await worker();
  const sender = await worker();
  cleanup.push(
    () => listener.stop(),
    () => sender.stop(),
  );
  sender.send({
    op: 'prepare',
    chatId: chat.chatId,
    epoch: chat.epoch,
    sender: name(0),
    key: chat.key,
    signingKey: pairs.signing[o.alg].privateKey,
    alg: o.alg,
    count: o.count,
    bytes: 200,
  });
  listener.send({
    op: 'listen',
    server: url,
    tokens: s.tokens.slice(0, size),
    expect: Number.MAX_SAFE_INTEGER,
  });
  await Promise.all([sender.next('prepared'), listener.next('listening')]);
  const ticks0 = await cpuTicks(o.cpuPid);
  sender.send({
    op: 'send',
    server: url,
    token: s.tokens[0],
    chatId: chat.chatId,
    concurrency: 64,
    rate: o.rate,
    seconds: o.seconds,
  });
  const sent = await sender.next('sent');
  const ticks = (await cpuTicks(o.cpuPid)) - ticks0;
  // let the last deliveries land, then collect
  await new Promise((r) => setTimeout(r, 500));
  listener.send({ op: 'exit' });
  const heard = await listener.next('listened');
  sender.send({ op: 'exit' });
  const elapsed = sent.seconds as number;
  const accepted = sent.accepted as number;
  const arrivals = new Map(heard.arrivals as [string, number][]);
  const latencies = (sent.sentAt as [string, number][])
    .map(([id, t]) => (arrivals.get(id) ?? NaN) - t)
    .filter((x) => !Number.isNaN(x))
    .sort((a, b) => a - b);
  return {
    accepted,
    acceptedPerSec: accepted / elapsed,
    deliveries: heard.deliveries as number,
    deliveriesPerSec: (heard.deliveries as number) / elapsed,
    ticks,
    /** CPU µs of the counted process per accepted message. */
    cpuMicrosPerMessage: (ticks * (1e6 / TICKS_PER_SECOND)) / Math.max(1, accepted),
    deliveriesPerCpuSec:
      (heard.deliveries as number) / Math.max(1 / TICKS_PER_SECOND, ticks / TICKS_PER_SECOND),
    bodyBytes: sent.bodyBytes as number,
    /** The window ended because the prepared messages ran out (not at its deadline). */
    ranOut: (sent.left as number) === 0,
    latencies,
  };
}

/** A window: the messages prepared for it, and its deadline. */
export interface Window {
  count: number;
  seconds: number;
}

/**
 * A window long enough for `minTicks` of the counted process's CPU: one run (not counted) gives the
 * CPU the process gets per message and per second (on a shared machine it may get less than its
 * CPU), and both are scaled up, twice over: CPU per message also moves with how much arrives
 * together (batches). Signing the messages is the load side's work.
 */
export async function calibrated(
  first: Window,
  minTicks: number,
  run: (w: Window) => Promise<{ ticks: number; accepted: number; ranOut: boolean }>,
): Promise<Window> {
  const r = await run(first);
  if (r.ticks >= 2 * minTicks) return first;
  const wanted = (2 * minTicks) / Math.max(1, r.ticks);
  // the deadline at most ten times: a first run starved of CPU must not ask for hours; the count
  // up to forty (a relay that ran out of messages in a few ticks needs many more)
  const scale = Math.min(10, wanted);
  return {
    count: r.ranOut ? Math.max(first.count, Math.ceil(r.accepted * Math.min(40, wanted))) : first.count,
    // the deadline grows as much: more messages take longer, and a server short of CPU too
    seconds: first.seconds * scale,
  };
}

export interface SchemeFigures extends AgainstRelay, Overheads {
  acceptedPerSec: Figure;
  deliveriesPerCpuSec: Figure;
  cpuMicrosPerMessage: Figure;
  verifyMicros: Figure;
  relayPerSec: Figure;
  /** The naive relay's CPU µs per message (bench/naive-relay.ts), with `--naive` only. */
  naiveCpuMicrosPerMessage?: Figure;
  serverTicks: number[];
  relayTicks: number[];
}

/** How long a figure's windows are and how often it is taken. */
export interface Windows {
  /** The calibration run's window. */
  count: number;
  seconds: number;
  repeats: number;
  minTicks: number;
}

/** The baselines a figure is measured against: the coalescing relay, and the naive one if asked for. */
export interface Baselines {
  relay: BaselineProcess;
  naive?: BaselineProcess;
}

const loadAverage = () => os.loadavg()[0];

/**
 * One scheme in a chat of 10, closed loop, `repeats` times: ours, the relay and one verification,
 * each run measured back to back, so `overhead = ours − relay − verify` per run.
 */
export async function schemeFigures(
  s: BenchServer,
  pairs: KeyPairSet,
  baselines: Baselines,
  chat: BenchChat,
  alg: SignatureAlgorithm,
  o: Windows,
  cleanup: (() => void)[],
): Promise<SchemeFigures> {
  const on = (url: string, cpuPid: number) => (w: Window) =>
    load(s, pairs, url, chat, 10, { alg, ...w, cpuPid }, cleanup);
  const { relay, naive } = baselines;
  const first = { count: o.count, seconds: o.seconds };
  const ourCount = await calibrated(first, o.minTicks, on(s.url, s.pid));
  const relayCount = await calibrated(first, o.minTicks, on(relay.url, relay.pid));
  const naiveCount = naive && (await calibrated(first, o.minTicks, on(naive.url, naive.pid)));
  const runs = await repeated(o.repeats, async () => {
    const la = loadAverage();
    const ours = await on(s.url, s.pid)(ourCount);
    const base = await on(relay.url, relay.pid)(relayCount);
    const naiveRun = naive && naiveCount && (await on(naive.url, naive.pid)(naiveCount));
    return { ours, relay: base, naive: naiveRun, verifyUs: verifyMicros(pairs, alg), loadAverage: la };
  });
  warnShort(
    `${alg} server`,
    runs.map((r) => r.ours.ticks),
    o.minTicks,
  );
  warnShort(
    `${alg} relay`,
    runs.map((r) => r.relay.ticks),
    o.minTicks,
  );
  return {
    acceptedPerSec: figure(runs.map((r) => r.ours.acceptedPerSec)),
    deliveriesPerCpuSec: figure(
      runs.map((r) => r.ours.deliveriesPerCpuSec),
      0,
    ),
    cpuMicrosPerMessage: figure(runs.map((r) => r.ours.cpuMicrosPerMessage)),
    verifyMicros: figure(runs.map((r) => r.verifyUs)),
    ...againstRelay(runs),
    ...overheads(runs),
    relayPerSec: figure(runs.map((r) => r.relay.acceptedPerSec)),
    ...(naive && {
      naiveCpuMicrosPerMessage: figure(runs.map((r) => (r.naive ? r.naive.cpuMicrosPerMessage : NaN))),
    }),
    serverTicks: runs.map((r) => r.ours.ticks),
    relayTicks: runs.map((r) => r.relay.ticks),
  };
}

export interface GrowthFigures extends AgainstRelay {
  acceptedPerSec: Figure;
  deliveriesPerSec: Figure;
  deliveriesPerCpuSec: Figure;
  cpuMicrosPerMessage: Figure;
  dbBytesPerMessage: Figure;
  postedJsonBytes: number;
  serverTicks: number[];
  relayTicks: number[];
}

/**
 * One chat size, Ed25519, closed loop, `repeats` times, with the database's growth per message,
 * and the relay with as many streams measured right after each run.
 */
export async function growthFigures(
  s: BenchServer,
  pairs: KeyPairSet,
  relay: BaselineProcess,
  chat: BenchChat,
  size: number,
  o: Windows,
  cleanup: (() => void)[],
): Promise<GrowthFigures> {
  const on = (url: string, cpuPid: number) => (w: Window) =>
    load(s, pairs, url, chat, size, { alg: 'ed25519', ...w, cpuPid }, cleanup);
  const first = { count: o.count, seconds: o.seconds };
  const count = await calibrated(first, o.minTicks, on(s.url, s.pid));
  const relayCount = await calibrated(first, o.minTicks, on(relay.url, relay.pid));
  const runs = await repeated(o.repeats, async () => {
    const la = loadAverage();
    const before = databaseBytes(s.dbFile);
    const r = await on(s.url, s.pid)(count);
    const dbBytesPerMessage = (databaseBytes(s.dbFile) - before) / Math.max(1, r.accepted);
    const base = await on(relay.url, relay.pid)(relayCount);
    return { ...r, ours: r, relay: base, dbBytesPerMessage, loadAverage: la };
  });
  warnShort(
    `chat of ${size}`,
    runs.map((r) => r.ticks),
    o.minTicks,
  );
  warnShort(
    `relay, ${size} streams`,
    runs.map((r) => r.relay.ticks),
    o.minTicks,
  );
  return {
    acceptedPerSec: figure(runs.map((r) => r.acceptedPerSec)),
    deliveriesPerSec: figure(
      runs.map((r) => r.deliveriesPerSec),
      0,
    ),
    deliveriesPerCpuSec: figure(
      runs.map((r) => r.deliveriesPerCpuSec),
      0,
    ),
    cpuMicrosPerMessage: figure(runs.map((r) => r.cpuMicrosPerMessage)),
    ...againstRelay(runs),
    dbBytesPerMessage: figure(
      runs.map((r) => r.dbBytesPerMessage),
      0,
    ),
    postedJsonBytes: runs[0].bodyBytes,
    serverTicks: runs.map((r) => r.ticks),
    relayTicks: runs.map((r) => r.relay.ticks),
  };
}
