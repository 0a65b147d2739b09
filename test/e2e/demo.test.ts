import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../support/backend.js';

/**
 * `npm run demo` ends its server and clients and removes its temp folder however it ends. Each run
 * gets its own TMPDIR, so its temp folder is found there and its processes by that variable in
 * their environment (/proc).
 */
const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) {
    // A red run must not leave its servers behind (nor their files, written until they are gone).
    for (
      let left = await leftovers(root), i = 0;
      left.length > 0 && i < 500;
      left = await leftovers(root), i++
    ) {
      for (const line of left) process.kill(Number(line.split(':')[0]), 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await rm(root, { recursive: true, force: true });
  }
});

async function ownTmp(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'securechat-demo-test-'));
  roots.push(dir);
  return dir;
}

/** Live (not zombie) server and client processes started with this TMPDIR. */
async function leftovers(tmp: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    try {
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
      if (!environ.split('\0').includes(`TMPDIR=${tmp}`)) continue;
      const state = /^State:\s+(\S)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      if (state !== 'Z' && /src\/main\.ts|cli\/bin\.js|scripts\/demo\.ts/.test(cmdline))
        found.push(`${pid}: ${cmdline}`);
    } catch {
      // the process ended while we looked, or is not ours to read
    }
  }
  return found;
}

async function demoFolders(tmp: string): Promise<string[]> {
  return (await readdir(tmp)).filter((name) => name.startsWith('securechat-demo-'));
}

/** The demo, once it has printed a line that matches `ready`. */
async function demoRunning(tmp: string, ready = /server at http/) {
  const demo = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const closed = new Promise<number | null>((resolve) => demo.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let text = '';
    demo.stdout.on('data', (chunk) => {
      text += chunk;
      if (ready.test(text)) resolve();
    });
    closed.then(() => reject(new Error(`the demo ended before it said ${ready}:\n${text}`)));
  });
  return { demo, closed };
}

const ON_LINUX = existsSync('/proc/self/environ');

describe.skipIf(BACKEND !== 'sqlite' || !ON_LINUX)('npm run demo ends cleanly', () => {
  it('when its output is closed early (npm run demo | head)', async () => {
    const tmp = await ownTmp();
    const run = spawn('bash', ['-c', 'npm run demo | head'], { env: { ...process.env, TMPDIR: tmp } });
    let output = '';
    run.stdout.on('data', (chunk) => {
      output += chunk;
    });
    run.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const code = await new Promise((resolve) => run.on('close', resolve));
    expect(code).toBe(0);
    expect(output).toMatch(/server at http/); // head closed the pipe with the server running
    expect(output).not.toMatch(/EPIPE|Unhandled/);
    expect(await leftovers(tmp)).toEqual([]);
    expect(await demoFolders(tmp)).toEqual([]);
  }, 120_000);

  // SIGINT and SIGHUP while the server is still making its keys (it was spawned in the same tick as
  // that line), SIGTERM once it listens.
  it.each([
    ['SIGINT', /starting a server/],
    ['SIGHUP', /starting a server/],
    ['SIGTERM', /server at http/],
  ] as const)(
    'when it gets %s',
    async (signal, ready) => {
      const tmp = await ownTmp();
      const { demo, closed } = await demoRunning(tmp, ready);
      expect(await demoFolders(tmp)).toHaveLength(1);
      demo.kill(signal);
      expect(await closed).toBe(128 + constants.signals[signal]);
      expect(await leftovers(tmp)).toEqual([]);
      expect(await demoFolders(tmp)).toEqual([]);
    },
    120_000,
  );

  it('when it is killed with SIGKILL, its server and clients still end (its folder cannot go)', async () => {
    const tmp = await ownTmp();
    const { demo, closed } = await demoRunning(tmp);
    demo.kill('SIGKILL');
    await closed;
    // They are not our children: there is nothing to wait on but /proc. The server stops as on SIGTERM.
    let left = await leftovers(tmp);
    for (
      const until = Date.now() + 60_000;
      left.length > 0 && Date.now() < until;
      left = await leftovers(tmp)
    )
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(left).toEqual([]);
  }, 120_000);
});
