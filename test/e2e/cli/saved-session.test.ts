import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../scripts/child.js';
import { cliEnv } from '../../support/cli.js';
import { Api, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// `securechat login` keeps the session (0600, in the user's own folder) for one-shot commands,
// until it expires or `securechat logout`: a script's many commands log in once, so the login
// limits (a bcrypt check per login, a few at once per address) are not tripped.

let server: TestServer;
let env: Record<string, string>;
beforeAll(async () => {
  // the server's default login limits
  server = await startServer();
  env = cliEnv(server.url, server.keysDir);
});
afterAll(() => server?.close());

const cli = (...args: string[]) => runCli(['--user', 'alice', ...args], env);

describe('a kept session', { timeout: 180_000 }, () => {
  it('lets twelve parallel sends run without a login each; logout ends it', async () => {
    const login = await runCli(['--user', 'alice', '--password-stdin', 'login'], env, PASSWORD);
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    expect(login.stdout).toMatch(/^logged in as alice until \d{4}-\d\d-\d\dT/);
    const file = path.join(server.keysDir, 'users', 'alice', 'session.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const owner = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    const chatId = (await owner.api.call('createChat', { body: { invitees: ['bob'] } })).body.chat.id;
    // no password anywhere: each carries on the kept session
    const sends = await Promise.all(
      Array.from({ length: 12 }, (_, i) => cli('--chat', chatId, 'send', `parallel ${i}`)),
    );
    for (const sent of sends) {
      expect(sent.stderr).toBe('');
      expect(sent.stdout).toMatch(/^sent as #\d+ in chat/);
      expect(sent.code).toBe(0);
    }
    const history = await owner.api.call('listMessages', { params: { chatId } });
    expect(history.body.messages).toHaveLength(12);
    // the kept session is still good after them
    const { token } = JSON.parse(await readFile(file, 'utf8'));
    const api = new Api(server.url);
    api.token = token;
    expect((await api.call('listChats')).status).toBe(200);

    const logout = await cli('logout');
    expect(logout.code).toBe(0);
    expect(logout.stdout).toBe('logged out: the saved session of alice is ended');
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    expect((await api.call('listChats')).status).toBe(401);
    // without it, a command asks for the password again (here: no terminal to ask on)
    const after = await cli('--chat', chatId, 'send', 'too late');
    expect(after.code).not.toBe(0);
    expect(after.stderr).toMatch(/use --password-stdin/);
  });
});
