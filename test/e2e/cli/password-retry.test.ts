import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv } from '../../support/cli.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// A wrong password typed at the interactive client's prompt is asked again, three tries in all,
// as ssh does. The prompt needs a terminal: the CLI runs under script(1), which gives it one.

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

/** The interactive CLI on a pseudo-terminal: what it wrote, and keys typed at it. */
function onTerminal(user: string) {
  const bin = path.resolve('cli/bin.js');
  const child = spawn('script', ['-qfec', `${process.execPath} ${bin} --user ${user}`, '/dev/null'], {
    env: { ...process.env, ...cliEnv(server.url, server.keysDir), TERM: 'dumb' },
    stdio: 'pipe',
  });
  let output = '';
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    wake();
  });
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  void exited.then(wake);
  /** Waits until the output holds `text` `times` times (woken by output and by the exit). */
  const waitFor = async (text: string, times = 1) => {
    while (output.split(text).length - 1 < times) {
      if (child.exitCode !== null)
        throw new Error(`no ${JSON.stringify(text)} ×${times}; the terminal showed:\n${output}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { type: (keys: string) => child.stdin.write(keys), waitFor, exited, output: () => output };
}

describe('the interactive client’s password prompt', { timeout: 90_000 }, () => {
  it('asks again after a wrong password, and logs in with the right one', async () => {
    const term = onTerminal('alice');
    await term.waitFor('Password for alice: ');
    term.type('not the password\r');
    await term.waitFor('wrong password; try again');
    await term.waitFor('Password for alice: ', 2);
    term.type(`${PASSWORD}\r`);
    await term.waitFor('* connected');
    term.type('quit\r');
    expect(await term.exited).toBe(0);
  });

  it('gives up after three wrong passwords, exit code ≠ 0', async () => {
    const term = onTerminal('bob');
    for (let i = 1; i <= 3; i++) {
      await term.waitFor('Password for bob: ', i);
      term.type(`wrong ${i}\r`);
    }
    expect(await term.exited).not.toBe(0);
    expect(term.output().split('Password for bob: ')).toHaveLength(4);
    expect(term.output()).toMatch(/securechat: login failed: unknown user or wrong password\s*$/);
  });
});
