/**
 * The conversation scrolls as a person expects (issue 24, item 1): a chat opens at its newest
 * message, new messages are followed while the reader is at the end, a reader who scrolled up keeps
 * their place and is shown "New messages" (which jumps down), and one's own message always scrolls
 * into view, looking different from the others'.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../support/helper.js';
import { member } from '../../support/members.js';
import { haveChromium, launch, log, start } from '../../support/web.js';

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

/** Whether the log shows its last line (scrolled to the end). */
const atEnd = (page: Page) =>
  log(page).evaluate(
    (l) => l.scrollHeight - l.scrollTop - l.clientHeight <= 8 && l.scrollHeight > l.clientHeight,
  );

describe.skipIf(!haveChromium)('scrolling the conversation', { timeout: 120_000 }, () => {
  it('opens at the newest, follows at the end, marks new messages when scrolled up, and shows one’s own', async () => {
    const alice = await member(server, 'alice');
    const bobCli = await member(server, 'bob');
    const { chat } = await alice.client.createChat(['bob']);
    await bobCli.client.join(chat.id);
    for (let i = 1; i <= 30; i++) await alice.client.send(chat.id, `line ${i}`, 'ed25519');
    await bobCli.close();

    const bob = await start(browser, server, 'bob');
    const page = bob.page;
    await page
      .getByRole('region', { name: 'Chats' })
      .getByRole('button', { name: /^alice/ })
      .click();
    await log(page).getByText('line 30', { exact: true }).waitFor();
    await expect.poll(() => atEnd(page)).toBe(true);

    // at the end: a new message is followed
    await alice.client.send(chat.id, 'line 31', 'ed25519');
    await log(page).getByText('line 31', { exact: true }).waitFor();
    await expect.poll(() => atEnd(page)).toBe(true);

    // scrolled up: the place is kept and "New messages" appears; it jumps down
    await log(page).evaluate((l) => {
      l.scrollTop = 0;
    });
    await expect.poll(() => log(page).evaluate((l) => l.scrollTop)).toBe(0);
    const jump = page.getByRole('button', { name: 'New messages' });
    await alice.client.send(chat.id, 'line 32', 'ed25519');
    await log(page).getByText('line 32', { exact: true }).waitFor();
    await jump.waitFor();
    expect(await log(page).evaluate((l) => l.scrollTop)).toBe(0);
    await jump.click();
    await expect.poll(() => atEnd(page)).toBe(true);
    await jump.waitFor({ state: 'hidden' });

    // scrolled up again, the user sends: their own message scrolls into view
    await log(page).evaluate((l) => {
      l.scrollTop = 0;
    });
    await page.getByRole('textbox', { name: 'Message' }).fill('my own line');
    await page.getByRole('button', { name: 'Send' }).click();
    const own = log(page).getByRole('listitem').filter({ hasText: 'my own line' });
    await own.waitFor();
    await expect.poll(() => atEnd(page)).toBe(true);

    // one's own messages look different from the others'
    const background = (item: typeof own) => item.evaluate((li) => getComputedStyle(li).backgroundColor);
    const other = log(page).getByRole('listitem').filter({ hasText: 'line 32' });
    expect(await background(own)).not.toBe(await background(other));
    expect(bob.problems).toEqual([]);
    await alice.close();
    await page.context().close();
  });
});
