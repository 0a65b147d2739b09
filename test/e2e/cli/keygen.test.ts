import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { lstat, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session } from '../../../cli/session.js';
import { runCli } from '../../../scripts/child.js';
import {
  Api,
  browserDsaKeyGenerator,
  browserSignatures,
  Client,
  generateKeyStore,
  importUserKeys,
  MemoryStores,
  type MessageData,
  register,
} from '../../../src/client/index.js';
import { fingerprint } from '../../../src/crypto/keys.js';
import { readPublicKeys } from '../../../src/crypto/keystore.js';
import { inviteUser } from '../../../src/services/registration.js';
import { startServer, type TestServer, tempDir } from '../../support/helper.js';

const openssl = promisify(execFile);
const PASSWORD = 'my own password';
let server: TestServer;
let keysDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startServer();
  keysDir = await tempDir('securechat-keygen-');
  env = { SECURECHAT_SERVER: server.url, SECURECHAT_KEYS_DIR: keysDir };
});
afterAll(async () => {
  await server?.close();
  if (keysDir) await rm(keysDir, { recursive: true, force: true });
});

const FILES = ['encryption', 'signing-rsa', 'signing-dsa', 'signing-ed25519'];
const mode = async (file: string) => (await stat(file)).mode & 0o777;

// RSA-3072 pairs in a child process and DSA parameters in BigInt take a random, load-bound time
const SLOW = { timeout: 180_000 };

describe('securechat keygen', SLOW, () => {
  it('makes four pairs with the protocol parameters, private files 0600 in a 0700 folder', async () => {
    const out = await runCli(['--user', 'kim', 'keygen'], env);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const dir = path.join(keysDir, 'users', 'kim');
    expect(await mode(dir)).toBe(0o700);
    for (const name of FILES) {
      expect(await mode(path.join(dir, `${name}.key.pem`))).toBe(0o600);
      const priv = createPrivateKey(await readFile(path.join(dir, `${name}.key.pem`), 'utf8'));
      const pubPem = await readFile(path.join(dir, `${name}.pub.pem`), 'utf8');
      expect(createPublicKey(priv).export({ type: 'spki', format: 'pem' })).toBe(pubPem);
      expect(out.stdout).toContain(fingerprint(pubPem));
    }
    const key = async (name: string) =>
      createPublicKey(await readFile(path.join(dir, `${name}.pub.pem`), 'utf8'));
    for (const rsa of ['encryption', 'signing-rsa'])
      expect((await key(rsa)).asymmetricKeyDetails).toEqual({ modulusLength: 3072, publicExponent: 65537n });
    expect((await key('signing-dsa')).asymmetricKeyDetails).toEqual({
      modulusLength: 2048,
      divisorLength: 256,
    });
    expect((await key('signing-ed25519')).asymmetricKeyType).toBe('ed25519');
    // OpenSSL's own key checks pass for all four, and it reads the DSA key as L = 2048, N = 256
    const pkey = (name: string, ...args: string[]) =>
      openssl('openssl', ['pkey', '-in', path.join(dir, `${name}.key.pem`), '-noout', ...args]);
    for (const name of FILES) expect((await pkey(name, '-check')).stdout).toMatch(/valid/i);
    const dsa = (await pkey('signing-dsa', '-text')).stdout;
    expect(dsa).toMatch(/Private-Key: \(2048 bit/);
    const q = /Q:\s*\n((?:\s+[0-9a-f:]+\n)+)/.exec(dsa)?.[1].replace(/[\s:]/g, '').replace(/^00/, '');
    expect(q).toMatch(/^[0-9a-f]{64}$/);
    expect(out.stdout).toContain(`${dir}/*.pub.pem`);
  });

  it('refuses to replace a key store without --force, and warns when forced', async () => {
    const file = path.join(keysDir, 'users', 'kim', 'signing-ed25519.key.pem');
    const before = await readFile(file, 'utf8');
    const refused = await runCli(['--user', 'kim', 'keygen'], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/already holds a key store for kim; --force replaces it/);
    expect(await readFile(file, 'utf8')).toBe(before);
    const forced = await runCli(['--user', 'kim', 'keygen', '--force'], env);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/WARNING: replacing the key store .* becomes unreadable/);
    expect(await readFile(file, 'utf8')).not.toBe(before);
    expect(await mode(file)).toBe(0o600);
  });

  it('--export-public writes the four public halves that user:add --public-keys takes', async () => {
    const target = path.join(keysDir, 'for-admin');
    const out = await runCli(['--user', 'kim', 'keygen', '--export-public', target], env);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('npm run user:add -- kim --public-keys');
    const exported = await readPublicKeys(target);
    expect(exported).toEqual(await readPublicKeys(path.join(keysDir, 'users', 'kim')));
    await server.app.accounts.register('kim', PASSWORD, exported);
    expect((await runCli(['--user', 'kim', 'keygen', '--export-public', target], env)).stderr).toMatch(
      /exists; --force overwrites it/,
    );
  });

  it('--export-public --force replaces a symlink planted in DIR, never the file it points to', async () => {
    const target = path.join(keysDir, 'shared-drop');
    await mkdir(target);
    const victim = path.join(keysDir, 'victim.txt');
    await writeFile(victim, 'mine\n');
    await symlink(victim, path.join(target, 'encryption.pub.pem'));
    const out = await runCli(['--user', 'kim', 'keygen', '--export-public', target, '--force'], env);
    expect(out.code).toBe(0);
    expect(await readFile(victim, 'utf8')).toBe('mine\n');
    expect((await lstat(path.join(target, 'encryption.pub.pem'))).isSymbolicLink()).toBe(false);
    expect((await readPublicKeys(target)).encryption).toBe(
      (await readPublicKeys(path.join(keysDir, 'users', 'kim'))).encryption,
    );
  });
});

describe('securechat register', SLOW, () => {
  it("refuses a bad code with the server's one answer, keeping the key store it made for the retry", async () => {
    const out = await runCli(
      ['--user', 'lee', 'register', '--code', 'nope', '--password-stdin'],
      env,
      `${PASSWORD}\n`,
    );
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/registration refused: the code is wrong, used or expired/);
    expect(out.stderr).toMatch(/the key store stays in/);
    expect(await server.app.store.getUser('lee')).toBeUndefined();
  });

  it('takes the code from SECURECHAT_REGISTER_CODE, off the command line that every local user can read', async () => {
    const { store } = server.app;
    const code = (await inviteUser(store, 'quinn')).code;
    const args = ['--user', 'quinn', 'register', '--password-stdin'];
    const out = await runCli(args, { ...env, SECURECHAT_REGISTER_CODE: code }, `${PASSWORD}\n`);
    expect(out.stderr).toBe('');
    expect(out.stdout).toMatch(/registered quinn/);
    expect(out.stdout).not.toContain(code);
    expect(await store.getUser('quinn')).toBeDefined();
    // with neither, and no terminal to ask on: refused before anything is made or sent
    const none = await runCli(['--user', 'ruth', 'register', '--password-stdin'], env, `${PASSWORD}\n`);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/SECURECHAT_REGISTER_CODE/);
  });

  it('a CLI user and a page user who both registered themselves chat with each other', async () => {
    const { store } = server.app;
    // the CLI user: the key store it made on the failed try is reused
    const before = await readFile(path.join(keysDir, 'users', 'lee', 'encryption.pub.pem'), 'utf8');
    const lee = await runCli(
      ['--user', 'lee', 'register', '--code', (await inviteUser(store, 'lee')).code, '--password-stdin'],
      env,
      `${PASSWORD}\n`,
    );
    expect(lee.stderr).toBe('');
    expect(lee.stdout).toMatch(/registered lee; log in with: securechat --user lee/);
    expect((await store.getUser('lee'))?.keys.encryption).toBe(before);

    // the page user: keys made with only what a browser has (WebCrypto, DSA in BigInt)
    const pageKeys = await generateKeyStore({ dsa: browserDsaKeyGenerator, rsaBits: 2048 });
    const done = await register(new Api({ server: server.url }), {
      username: 'pat',
      password: PASSWORD,
      code: (await inviteUser(store, 'pat')).code,
      keys: pageKeys,
    });
    expect(done.username).toBe('pat');
    const provider = browserSignatures();
    const stores = new MemoryStores();
    const pat = await Client.login({
      api: new Api({ server: server.url }),
      username: 'pat',
      password: PASSWORD,
      keys: await importUserKeys(pageKeys, provider),
      provider,
      pins: stores,
      epochs: stores,
    });
    const cli = await Session.open({ server: server.url, username: 'lee', password: PASSWORD, keysDir });
    try {
      const { chat } = await pat.createChat(['lee']);
      await cli.join(chat.id);
      await cli.send(chat.id, 'hello from the terminal', 'dsa-sha256');
      await pat.send(chat.id, 'hello from the page', 'ed25519');
      const history = await pat.api.call<{ messages: MessageData[] }>('GET', `/chats/${chat.id}/messages`);
      expect(await pat.read(history.messages[0], chat.id)).toBe('hello from the terminal');
    } finally {
      await cli.close();
      await pat.close();
    }
    const shown = await runCli(
      ['--user', 'lee', '--password-stdin', '--chat', (await store.listChats('lee', 1))[0].id, 'history'],
      env,
      `${PASSWORD}\n`,
    );
    expect(shown.stdout).toMatch(/pat \(ed25519\): hello from the page$/m);
    expect(shown.stdout).toMatch(/lee \(dsa\): hello from the terminal$/m);
  });
});
