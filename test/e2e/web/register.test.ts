import { execFile } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../../../scripts/child.js';
import { readPublicKeys } from '../../../src/crypto/keystore.js';
import { inviteUser } from '../../../src/services/registration.js';
import { backendEnv } from '../../support/backend.js';
import { PASSWORD, startServer, tempDir } from '../../support/helper.js';
import {
  browser,
  connected,
  entry,
  haveChromium,
  log,
  openPage,
  server,
  useWebFixture,
  type WebUser,
} from '../../support/web.js';

const run = promisify(execFile);
/** Key generation in the page (RSA-3072 twice, DSA-2048 in BigInt) under a loaded machine. */
const KEYGEN_MS = 180_000;

useWebFixture();
let work: string;
beforeAll(async () => {
  work = await tempDir('securechat-webreg-');
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** What an administrator runs on the server's machine: `npm run user:invite -- NAME`; the code is its last line. */
async function invite(username: string): Promise<string> {
  const { stdout } = await run(
    path.resolve('node_modules/.bin/tsx'),
    [path.resolve('src/admin/user-invite.ts'), username],
    {
      env: {
        ...process.env,
        SECURECHAT_DATA_DIR: server.dataDir,
        SECURECHAT_KEYS_DIR: server.keysDir,
        ...(await backendEnv(server.dataDir)),
      },
    },
  );
  return stdout.trimEnd().split('\n').at(-1) ?? '';
}

const mode = async (file: string) => (await stat(file)).mode & 0o777;

describe.skipIf(!haveChromium)('Create account in the web client', { timeout: 300_000 }, () => {
  let wren: WebUser;
  /** Where the downloaded key store is unpacked, as a CLI user's keys folder. */
  let wrenKeys: string;

  it('makes the keys in the page, registers with the code, offers the key store and logs in', async () => {
    const code = await invite('wren');
    wren = await openPage(browser, server);
    const { page } = wren;
    const workers: string[] = [];
    page.on('worker', (worker) => workers.push(worker.url()));
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Your keys are made in this browser and never sent').waitFor();
    const fill = async (password: string, repeat: string, registration: string) => {
      await page.getByLabel('Username').fill('wren');
      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByLabel('Repeat password').fill(repeat);
      await page.getByLabel('Registration code').fill(registration);
      await page.getByRole('button', { name: 'Create account' }).click();
    };
    const alert = page.getByRole('alert');

    // the password rules and a mistyped repeat are said before any key is made
    await fill('short', 'short', code);
    await alert.filter({ hasText: 'The password needs at least 8 characters.' }).waitFor();
    await fill(PASSWORD, `${PASSWORD}!`, code);
    await alert.filter({ hasText: 'The two passwords differ.' }).waitFor();
    expect(workers).toEqual([]);

    // a wrong code: the keys are made (in a worker for DSA), the server's one refusal is said, nothing registered
    await fill(PASSWORD, PASSWORD, 'not-the-code');
    await page.getByRole('status').filter({ hasText: 'Making keys… this can take a minute.' }).waitFor();
    await alert
      .filter({ hasText: /^Registration refused: the code is wrong, used or expired/ })
      .waitFor({ timeout: KEYGEN_MS });
    expect(workers).toHaveLength(1);
    expect(new URL(workers[0]).pathname).toMatch(/^\/assets\/dsa-worker-[A-Z0-9]+\.js$/);
    // a hashed asset of this origin (the CSP's script-src 'self' covers workers), cached for good
    const served = await fetch(workers[0]);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(served.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(new URL(workers[0]).origin).toBe(new URL(server.url).origin);
    expect(await server.app.store.getUser('wren')).toBeUndefined();
    expect((await server.app.store.getRegistrationCode('wren'))?.usedAt).toBeNull();
    // Chromium logs the refused request itself; nothing else went wrong
    expect(wren.problems).toEqual([
      'Failed to load resource: the server responded with a status of 403 (Forbidden)',
    ]);
    wren.problems.length = 0;
    // Trusted Types still hold after the worker: its policy is not made twice, no other policy is
    // allowed, and no worker starts from a plain string
    const attempts = await page.evaluate(() => {
      const types = (
        globalThis as unknown as {
          trustedTypes: { createPolicy(name: string, rules: object): unknown };
        }
      ).trustedTypes;
      const rules = { createScriptURL: (url: string) => url };
      const tries = [
        () => types.createPolicy('securechat-dsa-worker', rules),
        () => types.createPolicy('another', rules),
        () => new Worker('/assets/nope.js'),
      ];
      return tries.map((attempt) => {
        try {
          attempt();
          return 'allowed';
        } catch (error) {
          return `${(error as Error).name}: ${(error as Error).message}`;
        }
      });
    });
    expect(attempts).toEqual([
      expect.stringMatching(/^TypeError: .*Policy with name "securechat-dsa-worker" already exists/),
      expect.stringMatching(/^TypeError: .*Policy "another" disallowed/),
      expect.stringMatching(/^TypeError: .*requires 'TrustedScriptURL' assignment/),
    ]);
    // each refusal is reported as a CSP violation, and nothing else went wrong
    expect(wren.problems).toEqual([
      expect.stringMatching(/^Creating a TrustedTypePolicy named 'securechat-dsa-worker' violates/),
      expect.stringMatching(/^Creating a TrustedTypePolicy named 'another' violates/),
      "This document requires 'TrustedScriptURL' assignment. The action has been blocked.",
    ]);
    wren.problems.length = 0;

    // the right code: registered with the keys already made (no second worker), then logged in
    await fill(PASSWORD, PASSWORD, code);
    const downloadButton = page.getByRole('button', { name: 'Download key store' });
    await downloadButton.waitFor();
    expect(workers).toHaveLength(1);
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    expect(await page.getByLabel('Password', { exact: true }).count()).toBe(0); // no password field left filled

    // going on without the download is warned about once
    await page.getByRole('button', { name: 'Continue' }).click();
    await alert.filter({ hasText: 'You have not downloaded your key store' }).waitFor();

    // one click: a tar of the key store folder, unpacked by tar with the key store's modes
    const [download] = await Promise.all([page.waitForEvent('download'), downloadButton.click()]);
    expect(download.suggestedFilename()).toBe('wren-keystore.tar');
    const archive = path.join(work, 'wren-keystore.tar');
    await download.saveAs(archive);
    wrenKeys = path.join(work, 'wren-cli');
    await run('mkdir', ['-p', wrenKeys]);
    await run('tar', ['-xf', archive, '-C', wrenKeys]);
    const dir = path.join(wrenKeys, 'users', 'wren');
    expect(await mode(dir)).toBe(0o700);
    const { stdout: listed } = await run('tar', ['-tf', archive]);
    expect(listed.split('\n').filter(Boolean).sort()).toEqual(
      [
        'users/wren/',
        ...['encryption', 'signing-rsa', 'signing-dsa', 'signing-ed25519'].flatMap((stem) => [
          `users/wren/${stem}.key.pem`,
          `users/wren/${stem}.pub.pem`,
        ]),
      ].sort(),
    );
    for (const stem of ['encryption', 'signing-rsa', 'signing-dsa', 'signing-ed25519']) {
      expect(await mode(path.join(dir, `${stem}.key.pem`))).toBe(0o600);
      // OpenSSL reads every private key as valid
      const { stdout } = await run('openssl', [
        'pkey',
        '-in',
        path.join(dir, `${stem}.key.pem`),
        '-noout',
        '-check',
      ]);
      expect(stdout).toMatch(/valid/i);
      // and derives the public key beside it: the download holds the pairs that were registered
      const { stdout: derived } = await run('openssl', [
        'pkey',
        '-in',
        path.join(dir, `${stem}.key.pem`),
        '-pubout',
      ]);
      expect(derived).toBe(await readFile(path.join(dir, `${stem}.pub.pem`), 'utf8'));
    }
    // exactly the public keys the server registered for wren
    expect(await readPublicKeys(dir)).toEqual((await server.app.store.getUser('wren'))?.keys);

    // into the chat with the keys kept: non-extractable CryptoKeys, and no DSA key in the page
    await page.getByRole('button', { name: 'Continue' }).click();
    await connected(page);
    const kept = await page.evaluate(
      () =>
        new Promise<Record<string, boolean>>((resolve, reject) => {
          const open = indexedDB.open('securechat');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const get = open.result.transaction('kv').objectStore('kv').get('keys/wren');
            get.onerror = () => reject(get.error);
            get.onsuccess = () => {
              const { encryption, signing } = get.result.keys;
              resolve({
                encryption: encryption.extractable,
                ...Object.fromEntries(
                  Object.entries(signing).map(([alg, key]) => [alg, (key as CryptoKey).extractable]),
                ),
              });
            };
          };
        }),
    );
    expect(kept).toEqual({ encryption: false, 'rsa-pss-sha256': false, ed25519: false });
    expect(wren.problems).toEqual([]);
  });

  it('a CLI user who registered themselves and the browser user chat; the downloaded key store works in the CLI', async () => {
    const cliKeys = path.join(work, 'tess-cli');
    const tessEnv = { SECURECHAT_SERVER: server.url, SECURECHAT_KEYS_DIR: cliKeys };
    const registered = await runCli(
      ['--user', 'tess', 'register', '--password-stdin'],
      { ...tessEnv, SECURECHAT_REGISTER_CODE: await invite('tess') },
      `${PASSWORD}\n`,
    );
    expect(registered.stderr).toBe('');
    expect(registered.stdout).toMatch(/registered tess/);

    const tess = new CliProcess(['--user', 'tess', '--password-stdin'], tessEnv);
    try {
      tess.send(PASSWORD);
      await tess.waitFor(/\* connected$/);
      const { page } = wren;
      await page.getByRole('region', { name: 'Online' }).getByText('tess', { exact: true }).waitFor();
      await page.getByRole('button', { name: 'New chat' }).click();
      await page.getByLabel('Invitees').fill('tess');
      await page.getByRole('button', { name: 'Start chat' }).click();
      // the chat is shown before tess joins it (a join that races the answer is covered by
      // server-answers.test.ts: the page reads the chat again)
      await page.getByText('Epoch 1', { exact: true }).waitFor();
      await tess.waitFor(/wren invited you to chat/);
      tess.send('join');
      await tess.waitFor(/^joined chat/);
      await page.getByText(/^Members: tess, wren$/).waitFor();

      // each verifies the other: Ed25519 signed in the page, DSA in the terminal
      await page.getByLabel('Signature').selectOption('ed25519');
      await page.getByLabel('Message', { exact: true }).fill('hello tess, from the page');
      await page.getByRole('button', { name: 'Send' }).click();
      await tess.waitFor(/wren \(ed25519\): hello tess, from the page$/);
      tess.send('sig dsa');
      await tess.waitFor(/now signing with dsa/);
      tess.send('hello wren, DSA from the terminal');
      expect(await entry(wren, 'DSA from the terminal')).toMatch(
        /tess \(DSA\) hello wren, DSA from the terminal$/,
      );

      // wren in a terminal, with the key store downloaded from the page: reads both, signs with DSA
      const chatId = (await server.app.store.listChats('wren', 1))[0].id;
      const wrenEnv = { SECURECHAT_SERVER: server.url, SECURECHAT_KEYS_DIR: wrenKeys };
      const history = await runCli(
        ['--user', 'wren', '--password-stdin', '--chat', chatId, 'history'],
        wrenEnv,
        `${PASSWORD}\n`,
      );
      expect(history.stderr).toBe('');
      expect(history.stdout).toMatch(/wren \(ed25519\): hello tess, from the page$/m);
      expect(history.stdout).toMatch(/tess \(dsa\): hello wren, DSA from the terminal$/m);
      const sent = await runCli(
        [
          '--user',
          'wren',
          '--password-stdin',
          '--chat',
          chatId,
          '--sig',
          'dsa',
          'send',
          'from the downloaded key store',
        ],
        wrenEnv,
        `${PASSWORD}\n`,
      );
      expect(sent.stderr).toBe('');
      expect(sent.code).toBe(0);
      await tess.waitFor(/wren \(dsa\): from the downloaded key store$/);
      expect(await entry(wren, 'from the downloaded key store')).toMatch(
        /wren \(DSA\) from the downloaded key store$/,
      );
      expect(
        await log(page)
          .getByText(/refused/)
          .count(),
      ).toBe(0);
      expect(wren.problems).toEqual([]);
    } finally {
      tess.kill();
    }
  });
  it('says a taken name and the rate limit on wrong codes as text, registering nothing; Back returns to the login', async () => {
    // two failures an address: the taken name (a good code's request that fails counts) and one wrong code
    const limited = await startServer({ SECURECHAT_REGISTER_FAILURES: '2' });
    try {
      const { store, accounts } = limited.app;
      // a good code for a name that was registered meanwhile (by user:add)
      const code = (await inviteUser(store, 'taken')).code;
      await accounts.register(
        'taken',
        PASSWORD,
        await readPublicKeys(path.join(limited.keysDir, 'users', 'dave')),
      );
      const web = await openPage(browser, limited);
      const { page } = web;
      const alert = page.getByRole('alert');
      await page.getByRole('button', { name: 'Create account' }).click();
      const submit = async (username: string, registration: string) => {
        await page.getByLabel('Username').fill(username);
        await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
        await page.getByLabel('Repeat password').fill(PASSWORD);
        await page.getByLabel('Registration code').fill(registration);
        await page.getByRole('button', { name: 'Create account' }).click();
      };
      await submit('taken', code);
      await alert
        .filter({ hasText: 'Registration refused: that username is taken' })
        .waitFor({ timeout: KEYGEN_MS });
      expect((await store.getRegistrationCode('taken'))?.usedAt).toBeNull();
      // one wrong code is all this server allows the address now; the next try is refused for a while
      await submit('newcomer', 'a-wrong-code');
      await alert.filter({ hasText: /^Registration refused: the code is wrong/ }).waitFor();
      await submit('newcomer', 'another-wrong-code');
      await alert
        .filter({ hasText: /^Registration refused: too many wrong codes; try again in \d+ s$/ })
        .waitFor();
      expect(await store.getUser('newcomer')).toBeUndefined();
      expect(web.problems.map((p) => /status of (\d+)/.exec(p)?.[1])).toEqual(['409', '403', '429']);

      await page.getByRole('button', { name: 'Back to log in' }).click();
      await page.getByRole('button', { name: 'Log in' }).waitFor();
      expect(await page.getByLabel('Registration code').count()).toBe(0);
      await page.context().close();
    } finally {
      await limited.close();
    }
  });
});
