/**
 * Makes docs/web-client.png: a conversation between two browsers (user1, user2) and a CLI user
 * (user3, signing with DSA), as user1's page shows it. Run: `npx tsx scripts/screenshot.ts`.
 * Needs Chromium (CHROMIUM_PATH, default /usr/bin/chromium); the server runs in a temp folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { buildWeb } from '../web/build.js';
import { CliProcess } from './child.js';

const OUT = path.resolve(import.meta.dirname, '../docs/web-client.png');
const root = await mkdtemp(path.join(tmpdir(), 'securechat-screenshot-'));
const keysDir = path.join(root, 'keys');
await buildWeb();
const app = await buildApp(
  loadConfig({
    SECURECHAT_DATA_DIR: path.join(root, 'data'),
    SECURECHAT_KEYS_DIR: keysDir,
    LOG_LEVEL: 'warn',
  }),
  { keySizes: { rsaBits: 2048 } },
);
const url = await app.listen({ port: 0, host: '127.0.0.1' });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
});
const cli = new CliProcess(['--user', 'user3', '--password-stdin'], {
  SECURECHAT_SERVER: url,
  SECURECHAT_KEYS_DIR: keysDir,
});

async function person(user: string, n: number): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1180, height: 760 } })).newPage();
  await page.goto(url);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(`password${n}`);
  await page.getByRole('button', { name: 'Log in' }).click();
  const dir = path.join(keysDir, 'users', user);
  await page
    .getByLabel('Key store', { exact: true })
    .setInputFiles(
      ['encryption.key.pem', 'signing-rsa.key.pem', 'signing-ed25519.key.pem'].map((f) => path.join(dir, f)),
    );
  await page
    .getByRole('status')
    .filter({ hasText: /^Connected$/ })
    .waitFor();
  return page;
}

async function say(page: Page, text: string, scheme: string) {
  await page.getByLabel('Signature').selectOption(scheme);
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByRole('log').getByText(text).waitFor();
}

try {
  cli.send('password3');
  await cli.waitFor(/\* connected$/);
  const user1 = await person('user1', 1);
  const user2 = await person('user2', 2);
  await user1.getByRole('button', { name: 'New chat' }).click();
  await user1.getByLabel('Invitees').fill('user2 user3');
  await user1.getByRole('button', { name: 'Start chat' }).click();
  await user2.getByRole('button', { name: /invited$/ }).click();
  await user2.getByRole('button', { name: 'Join' }).click();
  await cli.waitFor(/invited you to chat/);
  cli.send('join');
  await cli.waitFor(/^joined chat/);
  await say(user1, 'Hi both! This one is signed with RSA-PSS, in my browser.', 'rsa-pss-sha256');
  await say(user2, 'Hello from the other browser, with Ed25519.', 'ed25519');
  cli.send('sig dsa');
  cli.send('And I am in a terminal, signing with DSA; your pages verify it.');
  await user1.getByRole('log').getByText('signing with DSA').waitFor();
  await say(user1, 'Verified all three. <b>Markup</b> stays text.', 'rsa-pss-sha256');
  await cli.waitFor(/Markup/);
  await user1.getByText('Fingerprints').click();
  await user1.screenshot({ path: OUT, fullPage: true });
  console.error(`wrote ${OUT}`);
} finally {
  cli.send('quit');
  await browser.close();
  await app.close();
  await rm(root, { recursive: true, force: true });
}
