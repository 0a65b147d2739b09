import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { PASSWORD, startServer, type TestServer } from './helper.js';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`CI must provide Chromium at ${CHROMIUM}`);

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * The server and the browser of the web test file that calls {@link useWebFixture}. Imported from
 * here, they hold what its `beforeAll` made (module bindings are live, and vitest gives each test
 * file modules of its own).
 */
export let server: TestServer;
export let browser: Browser;

/**
 * One server (a user stays online a minute without a stream, so presence follows the streams,
 * not a timer, while a test runs; `env` over that) and one Chromium
 * for the tests of the calling file: started before them, closed after.
 */
export function useWebFixture(env: Record<string, string> = {}): void {
  beforeAll(async () => {
    server = await startServer({ PRESENCE_GRACE_MS: '60000', ...env });
    if (haveChromium) browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
}

/** Restarts the fixture's server on the same folders and port; `server` is then the new one. */
export async function restartServer(): Promise<void> {
  server = await server.restart();
}

/** The private-key files of a user's key store that the page asks for. */
export function keyFiles(server: TestServer, user: string): string[] {
  const dir = path.join(server.keysDir, 'users', user);
  return ['encryption.key.pem', 'signing-rsa.key.pem', 'signing-ed25519.key.pem'].map((f) =>
    path.join(dir, f),
  );
}

/** One person in one browser context, with every console error and page error it had. */
export interface WebUser {
  page: Page;
  problems: string[];
}

export async function openPage(
  browser: Browser,
  server: TestServer,
  options?: BrowserContextOptions,
): Promise<WebUser> {
  const context = await browser.newContext(options);
  // a step that waits in vain fails on its own, naming what it waited for, within the test's time
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(server.url);
  return { page, problems };
}

/**
 * Logs in; on a page that kept its session over a reload (web/src/kept-session.ts) there is no
 * login, and nothing to do.
 */
export async function logIn(page: Page, user: string, password = PASSWORD): Promise<void> {
  const logOut = page.getByRole('button', { name: 'Log out' });
  await page.getByLabel('Username').or(logOut).first().waitFor();
  if (await logOut.isVisible()) return;
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

/**
 * A new page of `context` (whose routes and scripts a test set up first), logged in as `user`
 * with the user's key store picked; not waited on to connect (a test may have cut its stream).
 */
export async function pageWithKeys(context: BrowserContext, server: TestServer, user: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(server.url);
  await logIn(page, user);
  await page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, user));
  return page;
}

/** Logs in, picks the key store, and waits for the stream to be connected. */
export async function start(
  browser: Browser,
  server: TestServer,
  user: string,
  options?: BrowserContextOptions,
): Promise<WebUser> {
  const web = await openPage(browser, server, options);
  await logIn(web.page, user);
  await web.page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, user));
  await connected(web.page);
  return web;
}

export async function connected(page: Page): Promise<void> {
  await page
    .getByRole('status')
    .filter({ hasText: /^Connected$/ })
    .waitFor();
}

/** The open chat's message log. */
export const log = (page: Page) => page.getByRole('log');

/** The entry of the open chat's log that holds `text`, once it is there. */
export function entry(web: WebUser, text: string | RegExp): Promise<string> {
  const li = log(web.page).getByRole('listitem').filter({ hasText: text });
  return li.waitFor().then(async () => (await li.textContent()) ?? '');
}

/** A message typed and sent in a page, signed with the scheme picked in its Signature select. */
export async function send(web: WebUser, text: string, scheme: 'rsa-pss-sha256' | 'ed25519'): Promise<void> {
  await web.page.getByLabel('Signature').selectOption(scheme);
  await web.page.getByLabel('Message', { exact: true }).fill(text);
  await web.page.getByRole('button', { name: 'Send' }).click();
}
