import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../../../scripts/child.js';
import { cliEnv } from '../../support/cli.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// A key store that is not the user's is refused at login, checked against the fingerprints the
// server has registered for the user (as the page checks the files picked), with an exit code ≠ 0.

let server: TestServer;
let wrong: string;
beforeAll(async () => {
  server = await startServer({ PRESENCE_GRACE_MS: '0' });
  // alice's folder holds bob's key store
  wrong = await mkdtemp(path.join(tmpdir(), 'securechat-wrong-keys-'));
  await cp(path.join(server.keysDir, 'users', 'bob'), path.join(wrong, 'users', 'alice'), {
    recursive: true,
  });
});
afterAll(async () => {
  await rm(wrong, { recursive: true, force: true });
  await server?.close();
});

describe('a key store that is not the user’s', () => {
  it('is refused by a one-shot command, exit code ≠ 0', async () => {
    const env = cliEnv(server.url, wrong);
    const out = await runCli(['--user', 'alice', '--password-stdin', 'chats'], env, PASSWORD);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(
      /^securechat: these are not alice's keys: the encryption, .* fingerprint differs/,
    );
    expect(out.stdout).toBe('');
    // and by `login`, which keeps nothing
    const login = await runCli(['--user', 'alice', '--password-stdin', 'login'], env, PASSWORD);
    expect(login.code).not.toBe(0);
    expect(login.stderr).toMatch(/these are not alice's keys/);
    // the session it opened to check is logged out again: alice is not online
    await server.app.presence.settled();
    expect(await server.app.presence.isOnline('alice')).toBe(false);
  });

  it('is refused by the interactive client, exit code ≠ 0', async () => {
    const menu = new CliProcess(['--user', 'alice', '--password-stdin'], cliEnv(server.url, wrong));
    menu.send(PASSWORD);
    expect(await menu.exited).not.toBe(0);
    expect(menu.lines.join('\n')).toMatch(/these are not alice's keys/);
  });

  it('its own key store is taken', async () => {
    const out = await runCli(
      ['--user', 'alice', '--password-stdin', 'chats'],
      cliEnv(server.url, server.keysDir),
      PASSWORD,
    );
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
  });
});
