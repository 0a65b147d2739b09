/** The bench's sections that hold rather than post: idle streams, and history pages. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { round, rssBytes } from './measure.js';
import type { BenchServer } from './setup.js';
import { type Worker, worker } from './workers.js';

const run = promisify(execFile);

/** 4: `target` idle streams and the server's memory per stream. */
export async function connections(
  s: BenchServer,
  target: number,
  cleanup: (() => void)[],
  log: (text: string) => void,
) {
  const perWorker = 5000;
  const rss0 = await rssBytes(s.pid);
  const workers: Worker[] = [];
  let held = 0;
  for (let left = target; left > 0; left -= perWorker) {
    const w = await worker();
    workers.push(w);
    cleanup.push(() => w.stop());
    w.send({ op: 'idle', server: s.url, token: s.tokens[0], count: Math.min(perWorker, left) });
  }
  for (const w of workers) held += (await w.next('idling')).opened as number;
  await new Promise((r) => setTimeout(r, 1000));
  const rss1 = await rssBytes(s.pid);
  const out = {
    held,
    target,
    bytesPerStream: Math.round((rss1 - rss0) / held),
    serverRssMiB: round(rss1 / 2 ** 20),
  };
  log(`connections: ${JSON.stringify(out)}`);
  for (const w of workers) w.stop();
  return out;
}

/** 6b: a 100-message history page with few and many stored messages (bench/history.ts, in its own process). */
export async function history(root: string, dir: string, sizes: number[], log: (text: string) => void) {
  const out: Record<string, unknown> = {};
  for (const stored of sizes) {
    const script = path.join(root, 'bench/history.ts');
    const folder = path.join(dir, `history-${stored}`);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', script, String(stored), folder], {
      cwd: root,
      maxBuffer: 1 << 20,
    });
    out[String(stored)] = JSON.parse(stdout.trim().split('\n').pop() as string);
    log(`history ${stored}: ${JSON.stringify(out[String(stored)])}`);
  }
  return out;
}
