import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../../src/app.js';
import { ensureJwtSecret } from '../../../src/bootstrap/jwt-secret.js';
import { loadConfig } from '../../../src/config.js';
import { fingerprint } from '../../../src/crypto/keys.js';
import { readPublicKeys } from '../../../src/crypto/keystore.js';
import { checkNewPassword } from '../../../src/services/accounts.js';
import { backendEnv } from '../../support/backend.js';
import { Api, Participant } from '../../support/client.js';
import { tempDir } from '../../support/helper.js';

const execFileAsync = promisify(execFile);
const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

async function demoServer(root: string) {
  const config = loadConfig({
    SECURECHAT_DATA_DIR: path.join(root, 'data'),
    SECURECHAT_KEYS_DIR: path.join(root, 'keys'),
    BCRYPT_COST: '4',
    LOG_LEVEL: 'silent',
    ...(await backendEnv(root)),
  });
  const app = await buildApp(config, { keySizes: { rsaBits: 2048 } });
  return { app, url: await app.listen({ port: 0, host: '127.0.0.1' }) };
}

describe('first start', () => {
  it('registers user1..user5 with key stores on disk, once', async () => {
    const root = await tempDir();
    roots.push(root);
    const { app, url } = await demoServer(root);
    try {
      const keysDir = path.join(root, 'keys');
      expect((await readdir(path.join(keysDir, 'users'))).sort()).toEqual([
        'user1',
        'user2',
        'user3',
        'user4',
        'user5',
      ]);
      const dir = path.join(keysDir, 'users', 'user3');
      expect((await readdir(dir)).sort()).toEqual([
        'encryption.key.pem',
        'encryption.pub.pem',
        'signing-dsa.key.pem',
        'signing-dsa.pub.pem',
        'signing-ed25519.key.pem',
        'signing-ed25519.pub.pem',
        'signing-rsa.key.pem',
        'signing-rsa.pub.pem',
      ]);
      expect((await stat(path.join(dir, 'signing-dsa.key.pem'))).mode & 0o777).toBe(0o600);
      expect((await stat(path.join(keysDir, 'server', 'signing.key.pem'))).mode & 0o777).toBe(0o600);

      // the registered keys are the ones in the key store, and the demo users can chat
      const user3 = await Participant.login(url, keysDir, 'user3', 'password3');
      const keys = await user3.api.call('getUserKeys', { params: { username: 'user3' } });
      const onDisk = await readPublicKeys(dir);
      expect(keys.body.fingerprints.encryption).toBe(fingerprint(onDisk.encryption));
      expect(keys.body.fingerprints['dsa-sha256']).toBe(fingerprint(onDisk.signing['dsa-sha256']));
      const created = await user3.api.call('createChat', { body: { invitees: ['user1'] } });
      expect((await user3.acceptEnvelope(created.body.keyEnvelope)).length).toBe(32);
      const server = await user3.api.call('getServerKey');
      expect(server.body.fingerprint).toBe(fingerprint(server.body.publicKey));
    } finally {
      await app.close();
    }

    // a second start keeps everything: same server key, same users, nothing regenerated
    const before = (await stat(path.join(root, 'keys', 'users', 'user1', 'encryption.key.pem'))).mtimeMs;
    const again = await demoServer(root);
    try {
      const api = new Api(again.url);
      const login = await api.call('login', { body: { username: 'user1', password: 'password1' } });
      expect(login.status).toBe(200);
      expect((await stat(path.join(root, 'keys', 'users', 'user1', 'encryption.key.pem'))).mtimeMs).toBe(
        before,
      );
    } finally {
      await again.app.close();
    }
  });
});

describe('npm run user:add', () => {
  const tsx = path.resolve('node_modules/.bin/tsx');
  const script = path.resolve('src/admin/user-add.ts');

  async function userAdd(root: string, args: string[], password: string) {
    const backend = await backendEnv(root);
    const child = execFile(tsx, [script, ...args], {
      env: {
        ...process.env,
        SECURECHAT_DATA_DIR: path.join(root, 'data'),
        SECURECHAT_KEYS_DIR: path.join(root, 'keys'),
        BCRYPT_COST: '4',
        ...backend,
      },
    });
    child.stdin?.end(`${password}\n`);
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d) => (stdout += d));
      child.stderr?.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }

  it('registers a user from an existing key store, refuses bad passwords and duplicates', {
    timeout: 120_000,
  }, async () => {
    const root = await tempDir();
    roots.push(root);
    const fixture = path.join(inject('fixtureKeys'), 'users', 'alice');
    const ok = await userAdd(
      root,
      ['alice', '--password-stdin', '--public-keys', fixture],
      'a long enough secret',
    );
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const again = await userAdd(
      root,
      ['alice', '--password-stdin', '--public-keys', fixture],
      'a long enough secret',
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    const long = await userAdd(root, ['bob', '--password-stdin', '--public-keys', fixture], 'é'.repeat(37));
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(/72/);
    const noTty = await userAdd(root, ['carol', '--public-keys', fixture], 'whatever1');
    expect(noTty.code).toBe(1);
    expect(noTty.stderr).toMatch(/password-stdin/);

    // the server sees the new user
    const config = loadConfig({
      SECURECHAT_DATA_DIR: path.join(root, 'data'),
      SECURECHAT_KEYS_DIR: path.join(root, 'keys'),
      SECURECHAT_DEMO_USERS: 'false',
      LOG_LEVEL: 'silent',
      BCRYPT_COST: '4',
      ...(await backendEnv(root)),
    });
    const app = await buildApp(config, { keySizes: { rsaBits: 2048 } });
    try {
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const api = new Api(url);
      expect(
        (await api.call('login', { body: { username: 'alice', password: 'a long enough secret' } })).status,
      ).toBe(200);
      expect((await api.call('login', { body: { username: 'bob', password: 'é'.repeat(37) } })).status).toBe(
        401,
      );
    } finally {
      await app.close();
    }
  });

  it('checks --public-keys before asking for a password, takes both layouts, names missing files', async () => {
    const root = await tempDir();
    roots.push(root);
    const keysFolder = inject('fixtureKeys');
    // No --password-stdin and no terminal: a prompt would fail with "use --password-stdin".
    const nowhere = await userAdd(root, ['carol', '--public-keys', path.join(root, 'carol-keys')], '');
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toMatch(/carol-keys: no such folder/);
    expect(nowhere.stderr).not.toMatch(/password/);

    const partial = path.join(root, 'partial');
    await mkdir(partial);
    for (const file of ['encryption.pub.pem', 'signing-rsa.pub.pem', 'signing-ed25519.pub.pem'])
      await copyFile(path.join(keysFolder, 'users', 'alice', file), path.join(partial, file));
    const lacking = await userAdd(root, ['dave', '--public-keys', partial], '');
    expect(lacking.code).toBe(1);
    expect(lacking.stderr).toMatch(/partial lacks signing-dsa\.pub\.pem$/m);
    expect(lacking.stderr).not.toMatch(/password/);

    const empty = path.join(root, 'empty');
    await mkdir(empty);
    const none = await userAdd(root, ['dave', '--public-keys', empty], '');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(
      /no public keys found; expected encryption\.pub\.pem, .* or in .*users\/dave/,
    );

    // A keys folder, as the CLI lays it out: DIR/users/NAME/.
    const ok = await userAdd(
      root,
      ['alice', '--password-stdin', '--public-keys', keysFolder],
      'a long enough secret',
    );
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(path.join(keysFolder, 'users', 'alice'));
    const registered = await userAdd(root, ['alice', '--public-keys', keysFolder], '');
    expect(registered.code).toBe(1);
    expect(registered.stderr).toMatch(/user alice already exists/);
  });

  it("registers a key store made with docs/protocol.md's OpenSSL commands", async () => {
    const root = await tempDir();
    roots.push(root);
    const doc = await readFile(path.resolve('docs/protocol.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### Making a key store with OpenSSL'));
    const commands = /```sh\n([\s\S]*?)\n```/.exec(section)?.[1];
    expect(commands).toContain('openssl genpkey');
    const made = await execFileAsync('bash', ['-euo', 'pipefail', '-c', commands ?? 'false'], { cwd: root });
    expect(made.stderr).not.toMatch(/error/i);
    const files = (await readdir(path.join(root, 'carol-keys'))).sort();
    expect(files).toHaveLength(8);
    const added = await userAdd(
      root,
      ['carol', '--password-stdin', '--public-keys', path.join(root, 'carol-keys')],
      'a long enough secret',
    );
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^registered carol/);
  });
});

describe('the data folder (issue 15, docs that said more)', () => {
  it('is made mode 0700 by every store that uses it, even when it existed with another mode', async () => {
    const root = await tempDir();
    roots.push(root);
    const dataDir = path.join(root, 'data');
    await mkdir(dataDir, { mode: 0o755 });
    await chmod(dataDir, 0o755);
    // the JWT secret is what the folder holds with PostgreSQL; SQLite's store does the same itself
    await ensureJwtSecret(dataDir);
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(dataDir, 'jwt.secret'))).mode & 0o777).toBe(0o600);
  });
});

describe('passwords (issue 15, docs that said more)', () => {
  it('need at least 8 characters (not bytes) and at most 72 UTF-8 bytes', () => {
    expect(() => checkNewPassword('éééé')).toThrow(/at least 8 characters/); // 8 bytes, 4 characters
    expect(() => checkNewPassword('éééééééé')).not.toThrow();
    expect(() => checkNewPassword('é'.repeat(37))).toThrow(/72/);
    expect(() => checkNewPassword('a'.repeat(72))).not.toThrow();
  });
});
