import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { seedFoldersForProcesses } from '../support/helper.js';

const dirs = seedFoldersForProcesses();
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHUTDOWN_MS = 2000;
/** The machine is shared and slow at times: the exit may come this much after the limit. */
const MARGIN_MS = 5000;
/** Requests enough to fill a pipe's buffer (64 KiB on Linux) with log lines several times over. */
const LINES = 400;

type Exit = { code: number | null; signal: string | null };
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/**
 * The real server (`node --import tsx src/main.ts`, as `npm start` runs it) with its standard
 * output piped into another process, as in `npm start | jq`: the reader passes what it reads on
 * to its standard error, where the test finds the line saying where the server listens.
 */
async function serverIntoReader(env: Record<string, string> = {}) {
  const reader = spawn(process.execPath, ['-e', 'process.stdin.pipe(process.stderr)'], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  children.push(reader);
  const server = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...dirs.env,
      SECURECHAT_KEYS_DIR: dirs.keysDir,
      SECURECHAT_DEMO_USERS: 'false',
      SECURECHAT_SHUTDOWN_MS: String(SHUTDOWN_MS),
      PORT: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', reader.stdin, 'pipe'],
  });
  children.push(server);
  const exit = new Promise<Exit>((resolve) =>
    server.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let text = '';
  let wake = () => {};
  reader.stderr.on('data', (chunk: Buffer) => {
    text += chunk;
    wake();
  });
  /** Waits until the log (as the reader passed it on) says `pattern`. */
  const logSays = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(text);
        if (match) resolve(match);
      };
      wake = check;
      check();
      void exit.then(() => reject(new Error(`the server exited; its log said:\n${text}`)));
    });
  const url = (await logSays(/listening on (https?:\/\/[^\s"]+?) \(API docs/))[1];
  return { server, reader, url, exit, logSays };
}

/** Requests that each put two lines in the server's log. */
async function logLines(url: string, requests: number) {
  for (let i = 0; i < requests; i++) expect((await fetch(`${url}/health`)).status).toBe(200);
}

/** The server's exit, or 'still running' when it has not come within the limit and the margin. */
async function exitAfter(server: ChildProcess, exit: Promise<Exit>, signal: NodeJS.Signals) {
  server.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still running'>((resolve) => {
    timer = setTimeout(() => resolve('still running'), SHUTDOWN_MS + MARGIN_MS);
  });
  const outcome = await Promise.race([exit, late]);
  clearTimeout(timer);
  return outcome;
}

const gone = (child: ChildProcess) => new Promise((resolve) => child.once('exit', resolve));

describe('a server whose standard output is piped into a reader (security round 2, #8)', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`exits on ${signal} within SECURECHAT_SHUTDOWN_MS after its reader fell behind and was killed`, async () => {
      const { server, reader, url, exit } = await serverIntoReader();
      // the reader falls behind while the server logs (its log backs up), then Ctrl-C ends the
      // reader and the server together: what the server still has to write meets a closed pipe
      reader.kill('SIGSTOP');
      await logLines(url, LINES);
      reader.kill('SIGKILL');
      expect(await exitAfter(server, exit, signal)).toEqual({ code: 0, signal: null });
    });
  }

  it('exits on SIGTERM within SECURECHAT_SHUTDOWN_MS while its reader has stopped reading', async () => {
    const { server, reader, url, exit } = await serverIntoReader();
    reader.kill('SIGSTOP');
    await logLines(url, LINES);
    expect(await exitAfter(server, exit, 'SIGTERM')).toEqual({ code: 0, signal: null });
    reader.kill('SIGKILL');
  });

  it('exits on SIGINT within SECURECHAT_SHUTDOWN_MS after its reader was killed', async () => {
    const { server, reader, url, exit } = await serverIntoReader();
    reader.kill('SIGKILL');
    await gone(reader);
    await logLines(url, 3);
    expect(await exitAfter(server, exit, 'SIGINT')).toEqual({ code: 0, signal: null });
  });

  it('exits at once on a second signal while the first one waits for a request in flight', async () => {
    // at debug, the log says when a request begins (at info, only when it is answered)
    const { server, url, exit, logSays } = await serverIntoReader({
      SECURECHAT_SHUTDOWN_MS: '600000',
      LOG_LEVEL: 'debug',
    });
    // a request whose body never ends: the shutdown waits for it (for up to 10 minutes here)
    const { port, hostname } = new URL(url);
    const upload = net.connect(Number(port), hostname);
    upload.on('error', () => {});
    upload.write(
      'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    await logSays(/"route":"\/auth\/login"[^\n]*"msg":"incoming request"/);
    server.kill('SIGTERM');
    await logSays(/"msg":"shutting down"/);
    expect(await exitAfter(server, exit, 'SIGTERM')).toEqual({ code: 1, signal: null });
    upload.destroy();
  });
});
