/**
 * The layout at a phone's width and the smaller points of issue 24, item 12: at 390 px the chat is
 * above the lists and nothing is wider than the screen; the headings inside Fingerprints are no
 * larger than the panels' titles; the Invitees field says that commas and spaces both separate.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../support/helper.js';
import { member } from '../../support/members.js';
import { haveChromium, launch, start } from '../../support/web.js';

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

const top = async (page: Page, name: string) =>
  (await page.getByRole('region', { name }).boundingBox())?.y ?? Number.NaN;
const fontSize = (page: Page, selector: string) =>
  page
    .locator(selector)
    .first()
    .evaluate((el) => Number.parseFloat(getComputedStyle(el).fontSize));

describe.skipIf(!haveChromium)('layout', { timeout: 120_000 }, () => {
  it('fits 390 px with the chat above the lists; Fingerprints headings stay small; Invitees says how to separate', async () => {
    const bob = await start(browser, server, 'bob', { viewport: { width: 390, height: 844 } });
    const page = bob.page;
    const alice = await member(server, 'alice');
    await alice.client.createChat(['bob']);
    await page.getByRole('button', { name: 'Join the chat with alice' }).click();
    await page.getByRole('button', { name: 'Invite', exact: true }).waitFor();

    const chatTop = (await page.locator('section.chat').boundingBox())?.y ?? Number.NaN;
    expect(chatTop).toBeLessThan(await top(page, 'Chats'));
    expect(chatTop).toBeLessThan(await top(page, 'Online'));
    // nothing wider than the screen: the header fits, the page does not scroll sideways
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const header = await page.getByRole('banner').boundingBox();
    expect((header?.x ?? 0) + (header?.width ?? 0)).toBeLessThanOrEqual(390);
    await page.getByRole('button', { name: 'Log out' }).scrollIntoViewIfNeeded();
    const logOut = await page.getByRole('button', { name: 'Log out' }).boundingBox();
    expect((logOut?.x ?? 0) + (logOut?.width ?? 0)).toBeLessThanOrEqual(390);

    await page.getByText('Fingerprints', { exact: true }).click();
    await page.getByRole('heading', { name: 'Server' }).waitFor();
    expect(await fontSize(page, '.panel h3')).toBeLessThanOrEqual(await fontSize(page, '.panel h2'));

    await page.getByRole('button', { name: 'New chat' }).click();
    const invitees = page.getByRole('textbox', { name: 'Invitees' });
    const described = await invitees.evaluate(
      (el) => document.getElementById(el.getAttribute('aria-describedby') ?? '')?.textContent ?? '',
    );
    expect(described).toMatch(/commas or spaces/);
    expect(bob.problems).toEqual([]);
    await alice.close();
    await page.context().close();
  });
});
