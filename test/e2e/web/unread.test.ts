/**
 * A message that came in elsewhere is said (issue 24, item 2): an unread count beside its chat in
 * the list, the sum in the tab's title, and, while the tab is hidden, a desktop notification,
 * only after the user turned them on, and with the message's text only if they chose that.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../support/helper.js';
import { member } from '../../support/members.js';
import { connected, haveChromium, keyFiles, launch, log, logIn, openPage } from '../../support/web.js';

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

type Shown = { title: string; body: string };
type Window = { notes: Shown[]; hidden: boolean };

/**
 * Before the page's own script: the notifications it makes are recorded (not shown), and the
 * tab can be made hidden as a person switching tabs makes it.
 */
function stubBrowser(): void {
  const w = window as unknown as Window;
  w.notes = [];
  w.hidden = false;
  class Recorded {
    static permission = 'granted';
    static requestPermission = async () => 'granted';
    constructor(title: string, options: { body: string }) {
      w.notes.push({ title, body: options.body });
    }
  }
  Object.defineProperty(window, 'Notification', { value: Recorded });
  Object.defineProperty(document, 'visibilityState', { get: () => (w.hidden ? 'hidden' : 'visible') });
  Object.defineProperty(document, 'hidden', { get: () => w.hidden });
}

const hide = (page: Page, hidden: boolean) =>
  page.evaluate((h) => {
    (window as unknown as Window).hidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
const notes = (page: Page) => page.evaluate(() => (window as unknown as Window).notes);

describe.skipIf(!haveChromium)('messages that come in elsewhere', { timeout: 120_000 }, () => {
  it('are counted per chat and in the title, and notified when hidden once turned on', async () => {
    const bob = await openPage(browser, server);
    const page = bob.page;
    await page.addInitScript(stubBrowser);
    await page.reload();
    await logIn(page, 'bob');
    await page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'bob'));
    await connected(page);
    const chats = page.getByRole('region', { name: 'Chats' });
    const alice = await member(server, 'alice');
    const carol = await member(server, 'carol');
    const withAlice = (await alice.client.createChat(['bob'])).chat;
    const withCarol = (await carol.client.createChat(['bob'])).chat;
    await chats.getByRole('button', { name: 'Join the chat with carol' }).click();
    await page.getByRole('button', { name: 'Invite', exact: true }).waitFor();
    await chats.getByRole('button', { name: 'Join the chat with alice' }).click();
    await log(page).waitFor();

    // the chat with alice is open: carol's messages are counted beside hers, and in the title
    await carol.client.send(withCarol.id, 'one', 'ed25519');
    await carol.client.send(withCarol.id, 'two', 'ed25519');
    const carolItem = chats
      .getByRole('listitem')
      .filter({ has: page.getByRole('button', { name: /^carol/ }) });
    await carolItem.getByText('2 unread').waitFor();
    await expect.poll(() => page.title()).toBe('(2) Secure Chat');
    // the open chat's own message is seen at once
    await alice.client.send(withAlice.id, 'seen', 'ed25519');
    await log(page).getByText('seen', { exact: true }).waitFor();
    expect(await page.title()).toBe('(2) Secure Chat');
    // opening carol's chat clears it
    await chats.getByRole('button', { name: /^carol/ }).click();
    await log(page).getByText('two', { exact: true }).waitFor();
    await expect.poll(() => page.title()).toBe('Secure Chat');
    expect(await carolItem.getByText(/unread/).count()).toBe(0);

    // hidden: counted even in the open chat; no notification before the user turned them on
    await hide(page, true);
    await carol.client.send(withCarol.id, 'while hidden', 'ed25519');
    await expect.poll(() => page.title()).toBe('(1) Secure Chat');
    expect(await notes(page)).toEqual([]);
    // turned on: notified, without the text
    await page.getByText('Notifications', { exact: true }).click();
    await page.getByRole('button', { name: 'Turn on desktop notifications' }).click();
    await page.getByRole('button', { name: 'Turn off desktop notifications' }).waitFor();
    await carol.client.send(withCarol.id, 'private words', 'ed25519');
    await expect.poll(() => notes(page)).toEqual([{ title: 'Secure Chat', body: 'New message from carol' }]);
    // the text only when chosen
    await page.getByRole('checkbox', { name: 'Show the message text in notifications' }).check();
    await carol.client.send(withCarol.id, 'now with text', 'ed25519');
    await expect.poll(async () => (await notes(page)).at(-1)?.body).toBe('carol: now with text');
    // shown again: the open chat is seen
    await hide(page, false);
    await expect.poll(() => page.title()).toBe('Secure Chat');
    expect(bob.problems).toEqual([]);
    await Promise.all([alice.close(), carol.close()]);
    await page.context().close();
  });
});
