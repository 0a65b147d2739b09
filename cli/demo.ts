import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'securechat-demo-'));
  let server: ChildProcess | undefined;
  const clients: CliProcess[] = [];
  try {
    narrate("starting a server on a temp folder (it generates the demo users' keys: a few seconds)");
    const started = await startServerProcess({
      SECURECHAT_DATA_DIR: path.join(dir, 'data'),
      SECURECHAT_KEYS_DIR: path.join(dir, 'keys'),
    });
    server = started.child;
    console.log(`server at ${started.url}`);
    const env = { SECURECHAT_SERVER: started.url, SECURECHAT_KEYS_DIR: path.join(dir, 'keys') };
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

    narrate('user1 starts a chat with user2 and user3 — user3 is offline, and user1 is told');
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

    narrate('user3 logs in and is invited: the chat key rotates for everyone');
    const user3 = await login('user3');
    user1.send('invite user3');
    await user3.waitFor(/invited you/);
    await user2.waitFor(/key rotated/);
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
    for (const cli of clients) cli.kill();
    server?.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
