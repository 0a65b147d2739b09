/**
 * Safety numbers (issue 24, item 11): the page shows one for each pinned peer, as digits and as a
 * QR code, with "Mark as verified"; `securechat fingerprint <user>` prints the same digits, and
 * the peer's side the same again.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, cliOf } from '../../support/cli.js';
import { startServer, type TestServer } from '../../support/helper.js';
import { member } from '../../support/members.js';
import { haveChromium, launch, log, start } from '../../support/web.js';

let server: TestServer;
let browser: Browser;
const { cli } = cliOf(() => cliEnv(server.url, server.keysDir));

beforeAll(async () => {
  server = await startServer({ PRESENCE_GRACE_MS: '60000' });
  if (haveChromium) browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const NUMBER = /\b\d{5}(?: \d{5}){11}\b/;

describe('safety numbers', { timeout: 120_000 }, () => {
  it('`securechat fingerprint <user>` prints the same safety number on both sides', async () => {
    const fromAlice = await cli('alice', 'fingerprint', 'bob');
    const fromBob = await cli('bob', 'fingerprint', 'alice');
    expect(fromAlice.code).toBe(0);
    expect(fromAlice.stdout).toMatch(/safety number with bob/);
    const number = NUMBER.exec(fromAlice.stdout)?.[0];
    expect(number).toBeDefined();
    expect(NUMBER.exec(fromBob.stdout)?.[0]).toBe(number);
    // with another user, another number
    expect(NUMBER.exec((await cli('alice', 'fingerprint', 'carol')).stdout)?.[0]).not.toBe(number);
  });

  it.skipIf(!haveChromium)('the page shows it with a QR code and "Mark as verified"', async () => {
    const bob = await start(browser, server, 'bob');
    const page = bob.page;
    const alice = await member(server, 'alice');
    const { chat } = await alice.client.createChat(['bob']);
    await page.getByRole('button', { name: 'Join the chat with alice' }).click();
    await alice.client.send(chat.id, 'compare with me', 'ed25519');
    await log(page).getByText('compare with me').waitFor(); // alice's keys are pinned now

    const fromCli = NUMBER.exec((await cli('alice', 'fingerprint', 'bob')).stdout)?.[0];
    await page.getByText('Fingerprints', { exact: true }).click();
    await page.getByRole('region', { name: 'Fingerprints' }).getByText('alice', { exact: true }).click();
    const shown = page.getByLabel('Safety number with alice');
    await expect.poll(() => shown.textContent()).toBe(fromCli);
    const qr = page.getByRole('img', { name: 'QR code of the safety number with alice' });
    expect(await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 20)).toBe(true);

    await page.getByText('Not verified yet.').waitFor();
    await page.getByRole('button', { name: 'Mark alice as verified' }).click();
    await page.getByText('Verified: you compared this number with alice.').waitFor();
    expect(await page.getByRole('button', { name: 'Mark alice as verified' }).isVisible()).toBe(false);
    // kept: after a reload it is still marked
    await page.reload();
    await page.getByText('Fingerprints', { exact: true }).click();
    await page.getByRole('region', { name: 'Fingerprints' }).getByText('alice', { exact: true }).click();
    await page.getByText('Verified: you compared this number with alice.').waitFor();
    expect(bob.problems).toEqual([]);
    await alice.close();
    await page.context().close();
  });
});
