import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import path from 'node:path';
import { CliProcess, startServerProcess } from './child.js';

/**
 * `npm run demo`: a real server on a temp folder and three real clients, scripted, printing what
 * each user sees. Everything is cleaned up at the end.
 */
const COLORS = { user1: '\x1b[36m', user2: '\x1b[33m', user3: '\x1b[35m' } as const;
const color = process.stdout.isTTY;

function narrate(text: string): void {
  console.log(color ? `\n\x1b[1m== ${text}\x1b[0m` : `\n== ${text}`);
}

/**
 * What the demo started, and the one way to end it: the children are stopped and waited for, and
 * the temp folder goes, however the demo ends — at the end of the script, on Ctrl-C, SIGTERM or
 * SIGHUP, when its output is closed early (`npm run demo | head`: EPIPE), or on an error.
 */
const started: { dir?: string; server?: ChildProcess; clients: CliProcess[] } = { clients: [] };
let ending: Promise<void> | undefined;

function cleanUp(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  ending ??= (async () => {
    for (const cli of started.clients) cli.kill();
    const { server } = started;
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill(signal);
      await exited;
    }
    await Promise.all(started.clients.map((cli) => cli.exited));
    if (started.dir) await rm(started.dir, { recursive: true, force: true });
  })();
  return ending;
}

let aborted: number | undefined;

/** Ends the demo early (the first reason decides the exit code): a throwaway server is owed no grace. */
function abort(code: number): void {
  aborted ??= code;
  cleanUp('SIGKILL').finally(() => process.exit(aborted));
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => abort(128 + osConstants.signals[signal]));
}
// A closed pipe (`| head`): stop quietly; writing anything more would only fail again.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (error: NodeJS.ErrnoException) => abort(error.code === 'EPIPE' ? 0 : 1));
process.on('uncaughtException', (error) => {
  console.error(`demo failed: ${error.message}`);
  abort(1);
});
// Last resort, if something calls process.exit before cleanUp finished: what can be done synchronously.
process.on('exit', () => {
  for (const cli of started.clients) cli.kill();
  started.server?.kill('SIGKILL');
  if (started.dir) rmSync(started.dir, { recursive: true, force: true });
});

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'securechat-demo-'));
  started.dir = dir;
  const clients = started.clients;
  try {
    narrate("starting a server on a temp folder (it generates the demo users' keys: a few seconds)");
    const server = await startServerProcess(
      { SECURECHAT_DATA_DIR: path.join(dir, 'data'), SECURECHAT_KEYS_DIR: path.join(dir, 'keys') },
      [],
      {
        endWithParent: true, // even if the demo is killed with SIGKILL
        onSpawn: (child) => {
          started.server = child;
        },
      },
    );
    console.log(`server at ${server.url}`);
    const env = { SECURECHAT_SERVER: server.url, SECURECHAT_KEYS_DIR: path.join(dir, 'keys') };
    const login = async (user: keyof typeof COLORS) => {
      const cli = new CliProcess(['--user', user, '--password-stdin'], env);
      cli.onLine = (raw) => {
        const line = raw.replace(/^ERR /, '');
        console.log(color ? `${COLORS[user]}${user.padEnd(5)} |\x1b[0m ${line}` : `${user} | ${line}`);
      };
      cli.send(`password${user.slice(-1)}`);
      clients.push(cli);
      await cli.waitFor(/\* connected$/);
      return cli;
    };

    narrate('user1 and user2 log in; user3 is not here yet');
    const user1 = await login('user1');
    const user2 = await login('user2');
    await user1.waitFor(/user2 is online/);

    narrate(
      'user1 starts a chat with user2 and user3 — user3 is offline: invited all the same, and user1 is told',
    );
    user1.send('chat user2 user3');
    await user1.waitFor(/user3 is offline/);
    await user2.waitFor(/invited you/);

    narrate('user2 joins; every key is verified and unwrapped by the client, never by hand');
    user2.send('join');
    await user1.waitFor(/user2 joined/);

    narrate('they talk: user1 signs with RSA-PSS, user2 with DSA; each side verifies before showing');
    user1.send('sig rsa');
    user1.send('Hello user2, this is signed with RSA-PSS.');
    await user2.waitFor(/\(rsa\): Hello user2/);
    user2.send('sig dsa');
    user2.send('Hi user1! Signed with DSA.');
    await user1.waitFor(/\(dsa\): Hi user1/);

    narrate('user3 logs in and finds the invitation waiting; joining, user3 reads the chat from its start');
    const user3 = await login('user3');
    user3.send('join');
    await user1.waitFor(/user3 joined/);
    user3.send('sig dsa');
    user3.send('Thanks for having me.');
    await user1.waitFor(/user3 \(dsa\): Thanks/);
    await user2.waitFor(/user3 \(dsa\): Thanks/);

    narrate('user2 leaves: the key rotates again, and user2 cannot read what follows');
    user2.send('leave');
    await user1.waitFor(/user2 left/);
    await user3.waitFor(/key rotated/);
    user1.send('Just the two of us now.');
    await user3.waitFor(/\(rsa\): Just the two of us now/);

    narrate('everyone quits (which logs them out: the others see them go offline)');
    user3.send('quit');
    await user1.waitFor(/user3 is offline/);
    for (const cli of [user1, user2]) cli.send('quit');
    await Promise.all(clients.map((c) => c.exited));
    narrate('done');
  } finally {
    await cleanUp('SIGTERM');
  }
}

main().catch((error) => {
  // After an abort, the clients' deaths make the script fail too: not worth a word.
  if (aborted === undefined) console.error(`demo failed: ${error instanceof Error ? error.message : error}`);
  abort(1);
});
