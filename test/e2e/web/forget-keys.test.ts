/**
 * "Forget keys" asks first and says that keys not downloaded are gone for good; a user who made
 * their account in the page and skipped the download is reminded, with the download button,
 * before their only copy is deleted (issue 24, item 10).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendEnv } from '../../support/backend.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';
import { connected, haveChromium, launch, logIn, openPage, start } from '../../support/web.js';

const run = promisify(execFile);

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  server = await startServer({ PRESENCE_GRACE_MS: '60000' });
  if (haveChromium) browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** `npm run user:invite -- NAME`, as an administrator runs it; the code is its last line. */
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

describe.skipIf(!haveChromium)('Forget keys', { timeout: 300_000 }, () => {
  it('asks first, saying that keys not downloaded are gone for good; Cancel keeps them', async () => {
    const dave = await start(browser, server, 'dave');
    const page = dave.page;
    await page.getByRole('button', { name: 'Forget keys' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Forget your keys in this browser?' });
    await dialog.getByText(/Keys you have not downloaded or kept elsewhere are gone for good/).waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    // nothing was deleted: still logged in, and the keys are there after a log out and in
    await page.getByRole('button', { name: 'Log out' }).click();
    await logIn(page, 'dave');
    await connected(page);
    await page.getByRole('button', { name: 'Forget keys' }).click();
    await dialog.getByRole('button', { name: 'Forget keys for good' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    await logIn(page, 'dave');
    await page.getByLabel('Key store', { exact: true }).waitFor();
    expect(dave.problems).toEqual([]);
    await page.context().close();
  });

  it('reminds a user who made their account here and skipped the download, with the button', async () => {
    const code = await invite('yara');
    const web = await openPage(browser, server);
    const page = web.page;
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByLabel('Username').fill('yara');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Repeat password').fill(PASSWORD);
    await page.getByLabel('Registration code').fill(code);
    await page.getByRole('button', { name: 'Create account' }).click();
    // skipped: Continue twice
    const next = page.getByRole('button', { name: 'Continue' });
    await next.click({ timeout: 240_000 });
    await page.getByRole('alert').filter({ hasText: 'You have not downloaded your key store' }).waitFor();
    await next.click();
    await connected(page);

    await page.getByRole('button', { name: 'Forget keys' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Forget your keys in this browser?' });
    await dialog.getByText(/have not downloaded your key store: this browser holds the only copy/).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      dialog.getByRole('button', { name: 'Download key store' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('yara-keystore.tar');
    await dialog.getByRole('button', { name: 'Forget keys for good' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(web.problems).toEqual([]);
    await page.context().close();
  });
});
