import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../scripts/child.js';
import { keyStoreFingerprints } from '../../../src/client/index.js';
import { readKeyStore } from '../../../src/crypto/keystore.js';
import { cliEnv } from '../../support/cli.js';
import { Api, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// The terminal client's accounts-over-time commands, as processes against a real server.
let server: TestServer;
beforeAll(async () => {
  server = await startServer({ TOKEN_TTL: '1h' });
});
afterAll(() => server?.close());

const cli = (user: string, stdin: string, ...args: string[]) =>
  runCli(['--user', user, '--password-stdin', ...args], cliEnv(server.url, server.keysDir), stdin);

async function login(username: string, password = PASSWORD): Promise<Api> {
  const api = new Api(server.url);
  const res = await api.call('login', { body: { username, password } });
  expect(res.status).toBe(200);
  api.token = res.body.token;
  return api;
}

describe('securechat accounts commands', () => {
  it('logout --everywhere ends every other session of the user', { timeout: 60_000 }, async () => {
    const other = await login('bob');
    const out = await cli('bob', `${PASSWORD}\n`, 'logout', '--everywhere');
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('logged out everywhere');
    expect((await other.call('listChats')).body.code).toBe('TOKEN_REVOKED');
  });

  it('password changes the password (the next line of standard input) and ends the other sessions', {
    timeout: 60_000,
  }, async () => {
    const other = await login('carol');
    const out = await cli('carol', `${PASSWORD}\ncarol's new passphrase\n`, 'password');
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect((await other.call('listChats')).body.code).toBe('TOKEN_REVOKED');
    await login('carol', "carol's new passphrase");
  });

  it('keys replace registers new keys made on the device and keeps the old key files aside', {
    timeout: 120_000,
  }, async () => {
    const dir = path.join(server.keysDir, 'users', 'dave');
    const before = await keyStoreFingerprints(await readKeyStore(dir));
    const out = await cli('dave', `${PASSWORD}\n`, 'keys', 'replace');
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('replaced your keys');
    const now = await keyStoreFingerprints(await readKeyStore(dir));
    expect(now).not.toEqual(before);
    const served = (await (await login('erin')).call('getUserKeys', { params: { username: 'dave' } })).body;
    expect(served.fingerprints).toEqual(now);
    expect(served.changes[0].previous.fingerprints).toEqual(before);
    const aside = (await readdir(dir)).find((name) => name.startsWith('replaced-')) as string;
    expect(await keyStoreFingerprints(await readKeyStore(path.join(dir, aside)))).toEqual(before);
    // and the CLI goes on with the new store
    const after = await cli('dave', `${PASSWORD}\n`, 'chats');
    expect(after.code).toBe(0);
  });

  it('after keys replace, a chat used before goes on on the same device: its history reads, and a new message is sent', {
    timeout: 180_000,
  }, async () => {
    const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    const created = await alice.api.call('createChat', { body: { invitees: ['erin'] } });
    const chatId = created.body.chat.id as string;
    const joined = await cli('erin', `${PASSWORD}\n`, 'join', chatId);
    expect(joined.code, joined.stderr).toBe(0);
    const before = await cli('erin', `${PASSWORD}\n`, '--chat', chatId, 'send', 'before the change');
    expect(before.code, before.stderr).toBe(0);
    // the state file keeps epoch 1's envelope, wrapped for the key now moved aside
    const replaced = await cli('erin', `${PASSWORD}\n`, 'keys', 'replace');
    expect(replaced.code, replaced.stderr).toBe(0);
    const after = await cli('erin', `${PASSWORD}\n`, '--chat', chatId, 'send', 'after the change');
    expect(after.stderr).toBe('');
    expect(after.code).toBe(0);
    const history = await cli('erin', `${PASSWORD}\n`, '--json', '--chat', chatId, 'history');
    expect(history.code, history.stderr).toBe(0);
    const texts = JSON.parse(history.stdout).messages.map((m: { text?: string }) => m.text);
    expect(texts).toEqual(['before the change', 'after the change']);
  });
});
